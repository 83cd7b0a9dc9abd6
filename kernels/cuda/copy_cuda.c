/* copy_cuda.c: the copy-engine measurements (see copy_cuda.h).  Host C
 * against the CUDA runtime and hwloc (through kernels/gpu/gpu_locality.h).
 */
#include "kernels/cuda/copy_cuda.h"

#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/gpu/gemm_gpu_input.h" /* strata_gemm_gpu_mix64: the pattern hash */
#include "kernels/gpu/gpu_locality.h"

#define SEED_SRC 0x436f707953726301ull /* "CopySrc" */
#define SEED_BACK 0x436f70794261636bull /* "CopyBack": bidir's d2h source */

struct host_buf {
	void *p;
	size_t bytes;
	int how; /* 0 none, 1 numa+registered, 2 cudaMallocHost, 3 numa pageable, 4 malloc */
};

struct strata_copy_cuda {
	struct strata_copy_cuda_config cfg;
	size_t words;
	struct host_buf src, dst; /* host source (h2d, bidir) and destination (d2h, bidir) */
	void *dev0, *dev1;        /* device buffers */
	cudaStream_t s0, s1;
	cudaEvent_t ev0, ev1, ev_mid;
};

static void pattern(uint64_t *w, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		w[i] = strata_gemm_gpu_mix64(seed + i);
}

static int host_alloc(const struct strata_copy_cuda_config *cfg, size_t bytes,
		      struct host_buf *h, char *err, size_t err_len)
{
	char why[256];
	h->bytes = bytes;
	if (cfg->numa >= 0) {
		h->p = strata_numa_alloc(cfg->numa, bytes, why, sizeof(why));
		if (!h->p) {
			snprintf(err, err_len, "%s: skipped", why);
			return 1;
		}
		h->how = 3;
		if (cfg->pinned) {
			STRATA_CUDA_CHECK(cudaHostRegister(h->p, bytes, cudaHostRegisterPortable));
			h->how = 1;
		}
		return 0;
	}
	if (cfg->pinned) {
		STRATA_CUDA_CHECK(cudaMallocHost(&h->p, bytes));
		h->how = 2;
		return 0;
	}
	h->p = malloc(bytes);
	if (!h->p) {
		snprintf(err, err_len, "%s:%d: out of memory (%zu bytes)", __FILE__, __LINE__, bytes);
		return -1;
	}
	memset(h->p, 0, bytes);
	h->how = 4;
	return 0;
fail:
	return -1;
}

static void host_free(struct host_buf *h)
{
	switch (h->how) {
	case 1:
		cudaHostUnregister(h->p);
		strata_numa_free(h->p, h->bytes);
		break;
	case 2:
		cudaFreeHost(h->p);
		break;
	case 3:
		strata_numa_free(h->p, h->bytes);
		break;
	case 4:
		free(h->p);
		break;
	}
	h->p = NULL;
	h->how = 0;
}

int strata_copy_cuda_create(const struct strata_copy_cuda_config *cfg,
			    struct strata_copy_cuda **out, char *err, size_t err_len)
{
	int rc = -1;
	*out = NULL;
	struct strata_copy_cuda *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
		return -1;
	}
	c->cfg = *cfg;
	c->words = cfg->bytes / 8;
	c->cfg.bytes = c->words * 8;
	if (c->words == 0) {
		snprintf(err, err_len, "copy of %zu bytes: need at least 8", cfg->bytes);
		goto fail;
	}
	const size_t bytes = c->cfg.bytes;
	const enum strata_copy_dir d = cfg->dir;
	STRATA_CUDA_CHECK(cudaStreamCreateWithFlags(&c->s0, cudaStreamNonBlocking));
	STRATA_CUDA_CHECK(cudaStreamCreateWithFlags(&c->s1, cudaStreamNonBlocking));
	STRATA_CUDA_CHECK(cudaEventCreate(&c->ev0));
	STRATA_CUDA_CHECK(cudaEventCreate(&c->ev1));
	STRATA_CUDA_CHECK(cudaEventCreateWithFlags(&c->ev_mid, cudaEventDisableTiming));
	STRATA_CUDA_CHECK(cudaMalloc(&c->dev0, bytes));
	if (d == STRATA_COPY_D2D || d == STRATA_COPY_BIDIR)
		STRATA_CUDA_CHECK(cudaMalloc(&c->dev1, bytes));
	if (d == STRATA_COPY_H2D || d == STRATA_COPY_BIDIR) {
		if ((rc = host_alloc(cfg, bytes, &c->src, err, err_len)) != 0)
			goto fail_rc;
		pattern(c->src.p, c->words, SEED_SRC);
		STRATA_CUDA_CHECK(cudaMemset(c->dev0, 0, bytes));
	}
	if (d == STRATA_COPY_D2H || d == STRATA_COPY_BIDIR) {
		if ((rc = host_alloc(cfg, bytes, &c->dst, err, err_len)) != 0)
			goto fail_rc;
		memset(c->dst.p, 0, bytes);
		/* The device source: dev0 (d2h) or dev1 (bidir), from a pageable
		 * staging copy of the pattern. */
		uint64_t *stage = malloc(bytes);
		if (!stage) {
			snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
			goto fail;
		}
		pattern(stage, c->words, d == STRATA_COPY_BIDIR ? SEED_BACK : SEED_SRC);
		cudaError_t e = cudaMemcpy(d == STRATA_COPY_BIDIR ? c->dev1 : c->dev0, stage, bytes,
					   cudaMemcpyHostToDevice);
		free(stage);
		STRATA_CUDA_CHECK(e);
	}
	if (d == STRATA_COPY_D2D) {
		uint64_t *stage = malloc(bytes);
		if (!stage) {
			snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
			goto fail;
		}
		pattern(stage, c->words, SEED_SRC);
		cudaError_t e = cudaMemcpy(c->dev0, stage, bytes, cudaMemcpyHostToDevice);
		free(stage);
		STRATA_CUDA_CHECK(e);
		STRATA_CUDA_CHECK(cudaMemset(c->dev1, 0, bytes));
	}
	STRATA_CUDA_CHECK(cudaDeviceSynchronize());
	*out = c;
	return 0;
fail:
	rc = -1;
fail_rc:
	strata_copy_cuda_destroy(c);
	return rc;
}

void strata_copy_cuda_destroy(struct strata_copy_cuda *c)
{
	if (!c)
		return;
	if (c->s0)
		cudaStreamSynchronize(c->s0);
	if (c->s1)
		cudaStreamSynchronize(c->s1);
	host_free(&c->src);
	host_free(&c->dst);
	cudaFree(c->dev0);
	cudaFree(c->dev1);
	if (c->ev0)
		cudaEventDestroy(c->ev0);
	if (c->ev1)
		cudaEventDestroy(c->ev1);
	if (c->ev_mid)
		cudaEventDestroy(c->ev_mid);
	if (c->s0)
		cudaStreamDestroy(c->s0);
	if (c->s1)
		cudaStreamDestroy(c->s1);
	free(c);
}

size_t strata_copy_cuda_bytes_per_launch(const struct strata_copy_cuda *c)
{
	return c->cfg.dir == STRATA_COPY_BIDIR ? 2 * c->cfg.bytes : c->cfg.bytes;
}

int strata_copy_cuda_run(struct strata_copy_cuda *c, int launches, double *event_s, char *err,
			 size_t err_len)
{
	const size_t bytes = c->cfg.bytes;
	float ms = 0;
	STRATA_CUDA_CHECK(cudaEventRecord(c->ev0, c->s0));
	if (c->cfg.dir == STRATA_COPY_BIDIR) /* both streams start at ev0 */
		STRATA_CUDA_CHECK(cudaStreamWaitEvent(c->s1, c->ev0, 0));
	for (int i = 0; i < launches; i++) {
		switch (c->cfg.dir) {
		case STRATA_COPY_H2D:
			STRATA_CUDA_CHECK(cudaMemcpyAsync(c->dev0, c->src.p, bytes,
							  cudaMemcpyHostToDevice, c->s0));
			break;
		case STRATA_COPY_D2H:
			STRATA_CUDA_CHECK(cudaMemcpyAsync(c->dst.p, c->dev0, bytes,
							  cudaMemcpyDeviceToHost, c->s0));
			break;
		case STRATA_COPY_D2D:
			STRATA_CUDA_CHECK(cudaMemcpyAsync(c->dev1, c->dev0, bytes,
							  cudaMemcpyDeviceToDevice, c->s0));
			break;
		case STRATA_COPY_BIDIR:
			STRATA_CUDA_CHECK(cudaMemcpyAsync(c->dev0, c->src.p, bytes,
							  cudaMemcpyHostToDevice, c->s0));
			STRATA_CUDA_CHECK(cudaMemcpyAsync(c->dst.p, c->dev1, bytes,
							  cudaMemcpyDeviceToHost, c->s1));
			break;
		}
	}
	if (c->cfg.dir == STRATA_COPY_BIDIR) { /* the end waits for both directions */
		STRATA_CUDA_CHECK(cudaEventRecord(c->ev_mid, c->s1));
		STRATA_CUDA_CHECK(cudaStreamWaitEvent(c->s0, c->ev_mid, 0));
	}
	STRATA_CUDA_CHECK(cudaEventRecord(c->ev1, c->s0));
	STRATA_CUDA_CHECK(cudaEventSynchronize(c->ev1));
	STRATA_CUDA_CHECK(cudaEventElapsedTime(&ms, c->ev0, c->ev1));
	*event_s = (double)ms * 1e-3;
	return 0;
fail:
	cudaDeviceSynchronize();
	return -1;
}

/* Wrong words of n against the pattern of seed; the lowest goes to *first
 * unless an earlier buffer had one. */
static int64_t compare(const uint64_t *w, size_t n, uint64_t seed, const char *buffer,
		       struct strata_copy_cuda_error *first)
{
	int64_t wrong = 0;
	for (size_t i = 0; i < n; i++) {
		const uint64_t e = strata_gemm_gpu_mix64(seed + i);
		if (w[i] == e)
			continue;
		if (first->word < 0) {
			*first = (struct strata_copy_cuda_error){ .buffer = buffer,
								  .word = (int64_t)i,
								  .expected = e,
								  .actual = w[i] };
		}
		wrong++;
	}
	return wrong;
}

int64_t strata_copy_cuda_check(struct strata_copy_cuda *c, struct strata_copy_cuda_error *first,
			       char *err, size_t err_len)
{
	const size_t bytes = c->cfg.bytes;
	int64_t wrong = 0;
	uint64_t *back = NULL;
	*first = (struct strata_copy_cuda_error){ .buffer = NULL, .word = -1 };
	STRATA_CUDA_CHECK(cudaDeviceSynchronize());
	if (c->cfg.dir == STRATA_COPY_D2H || c->cfg.dir == STRATA_COPY_BIDIR)
		wrong += compare(c->dst.p, c->words,
				 c->cfg.dir == STRATA_COPY_BIDIR ? SEED_BACK : SEED_SRC,
				 "host destination", first);
	if (c->cfg.dir != STRATA_COPY_D2H) {
		back = malloc(bytes);
		if (!back) {
			snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
			return -1;
		}
		STRATA_CUDA_CHECK(cudaMemcpy(back, c->cfg.dir == STRATA_COPY_D2D ? c->dev1 : c->dev0,
					     bytes, cudaMemcpyDeviceToHost));
		wrong += compare(back, c->words, SEED_SRC, "device destination", first);
		free(back);
	}
	return wrong;
fail:
	free(back);
	return -1;
}
