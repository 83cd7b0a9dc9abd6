/* stream_cuda.c: STREAM on device memory (see stream_cuda.h): the arrays,
 * the grid, event-timed batches of launches and the check; the kernels are
 * stream_cuda.cu's, reached through its strata_streamk_* launchers.
 *
 * Byte counts (for the suite, as STREAM and BabelStream count them): copy
 * and scale 2 arrays, add and triad 3, dot 2; write-allocate not counted.
 */
#include "kernels/cuda/stream_cuda.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/gpu/stream_gpu_pattern.h"

struct strata_stream_cuda {
	size_t n;                 /* doubles per array (even) */
	double *a, *b, *c;        /* (n) each */
	double *partial;          /* (blocks) dot partial sums */
	unsigned long long *d_count, *d_first;
	cudaStream_t stream;
	cudaEvent_t ev0, ev1;
	int blocks, blocks_per_sm, sms;
};

int strata_stream_cuda_create(size_t n, struct strata_stream_cuda **out, char *err,
			      size_t err_len)
{
	struct strata_stream_cuda *s = NULL;
	int dev = 0, per_sm = 0;
	*out = NULL;
	if (n < 2 || n % 2) {
		snprintf(err, err_len, "%s:%d: n = %zu must be even and >= 2", __FILE__, __LINE__, n);
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
		return -1;
	}
	s->n = n;
	STRATA_CUDA_CHECK(cudaGetDevice(&dev));
	STRATA_CUDA_CHECK(cudaDeviceGetAttribute(&s->sms, cudaDevAttrMultiProcessorCount, dev));
	/* The densest grid whose blocks are all resident at once. */
	STRATA_CUDA_CHECK((cudaError_t)strata_streamk_blocks_per_sm(&per_sm));
	s->blocks_per_sm = per_sm > 0 ? per_sm : 1;
	s->blocks = s->sms * s->blocks_per_sm;
	STRATA_CUDA_CHECK(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking));
	STRATA_CUDA_CHECK(cudaEventCreate(&s->ev0));
	STRATA_CUDA_CHECK(cudaEventCreate(&s->ev1));
	STRATA_CUDA_CHECK(cudaMalloc((void **)&s->a, n * sizeof(double)));
	STRATA_CUDA_CHECK(cudaMalloc((void **)&s->b, n * sizeof(double)));
	STRATA_CUDA_CHECK(cudaMalloc((void **)&s->c, n * sizeof(double)));
	STRATA_CUDA_CHECK(cudaMalloc((void **)&s->partial, (size_t)s->blocks * sizeof(double)));
	STRATA_CUDA_CHECK(cudaMalloc((void **)&s->d_count, sizeof(unsigned long long)));
	STRATA_CUDA_CHECK(cudaMalloc((void **)&s->d_first, sizeof(unsigned long long)));
	STRATA_CUDA_CHECK((cudaError_t)strata_streamk_init(s->a, s->b, s->c, n, s->blocks,
							   s->stream));
	STRATA_CUDA_CHECK(cudaStreamSynchronize(s->stream));
	*out = s;
	return 0;
fail:
	strata_stream_cuda_destroy(s);
	return -1;
}

void strata_stream_cuda_destroy(struct strata_stream_cuda *s)
{
	if (!s)
		return;
	if (s->stream)
		cudaStreamSynchronize(s->stream);
	cudaFree(s->a);
	cudaFree(s->b);
	cudaFree(s->c);
	cudaFree(s->partial);
	cudaFree(s->d_count);
	cudaFree(s->d_first);
	if (s->ev0)
		cudaEventDestroy(s->ev0);
	if (s->ev1)
		cudaEventDestroy(s->ev1);
	if (s->stream)
		cudaStreamDestroy(s->stream);
	free(s);
}

void strata_stream_cuda_grid(const struct strata_stream_cuda *s, int *blocks, int *threads,
			     int *blocks_per_sm)
{
	*blocks = s->blocks;
	*threads = STRATA_STREAM_CUDA_THREADS;
	*blocks_per_sm = s->blocks_per_sm;
}

int strata_stream_cuda_run(struct strata_stream_cuda *s, int kernel, int launches,
			   double *event_s, char *err, size_t err_len)
{
	float ms = 0;
	if (kernel < 0 || kernel >= STRATA_STREAM_GPU_NKERNELS) {
		snprintf(err, err_len, "%s:%d: invalid kernel %d", __FILE__, __LINE__, kernel);
		return -1;
	}
	STRATA_CUDA_CHECK(cudaEventRecord(s->ev0, s->stream));
	for (int i = 0; i < launches; i++)
		STRATA_CUDA_CHECK((cudaError_t)strata_streamk_launch(
			kernel, s->a, s->b, s->c, s->partial, s->n, s->blocks, s->stream));
	STRATA_CUDA_CHECK(cudaEventRecord(s->ev1, s->stream));
	STRATA_CUDA_CHECK(cudaEventSynchronize(s->ev1));
	STRATA_CUDA_CHECK(cudaEventElapsedTime(&ms, s->ev0, s->ev1));
	*event_s = (double)ms * 1e-3;
	return 0;
fail:
	cudaStreamSynchronize(s->stream);
	return -1;
}

int64_t strata_stream_cuda_check(struct strata_stream_cuda *s, int kernel,
				 struct strata_stream_cuda_error *first, char *err, size_t err_len)
{
	unsigned long long count = 0, key = ~0ull;
	double *partial = NULL;
	int64_t wrong = 0;
	memset(first, 0, sizeof(*first));
	STRATA_CUDA_CHECK(cudaMemcpyAsync(s->d_count, &count, sizeof(count), cudaMemcpyHostToDevice,
					  s->stream));
	STRATA_CUDA_CHECK(cudaMemcpyAsync(s->d_first, &key, sizeof(key), cudaMemcpyHostToDevice,
					  s->stream));
	STRATA_CUDA_CHECK((cudaError_t)strata_streamk_check(s->a, s->b, s->c, s->n, kernel,
							    s->d_count, s->d_first, s->blocks,
							    s->stream));
	STRATA_CUDA_CHECK(cudaMemcpyAsync(&count, s->d_count, sizeof(count), cudaMemcpyDeviceToHost,
					  s->stream));
	STRATA_CUDA_CHECK(cudaMemcpyAsync(&key, s->d_first, sizeof(key), cudaMemcpyDeviceToHost,
					  s->stream));
	STRATA_CUDA_CHECK(cudaStreamSynchronize(s->stream));
	wrong = (int64_t)count;
	if (count) {
		const double *arr[3] = { s->a, s->b, s->c };
		first->array = (int)(key % 4);
		first->index = key / 4;
		first->expected = strata_stream_gpu_expected(kernel, first->array, first->index);
		STRATA_CUDA_CHECK(cudaMemcpy(&first->actual, arr[first->array] + first->index,
					     sizeof(double), cudaMemcpyDeviceToHost));
	}
	if (kernel == STRATA_STREAM_GPU_DOT) {
		partial = malloc((size_t)s->blocks * sizeof(double));
		if (!partial) {
			snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
			return -1;
		}
		STRATA_CUDA_CHECK(cudaMemcpy(partial, s->partial, (size_t)s->blocks * sizeof(double),
					     cudaMemcpyDeviceToHost));
		double sum = 0;
		for (int i = 0; i < s->blocks; i++)
			sum += partial[i];
		if (!strata_stream_gpu_dot_ok(sum, s->n)) {
			if (wrong == 0) {
				first->array = 3;
				first->index = 0;
				first->expected = strata_stream_gpu_dot_exact(s->n);
				first->actual = sum;
			}
			wrong++;
		}
		free(partial);
	}
	return wrong;
fail:
	free(partial);
	return -1;
}
