/* nccl_coll.c: NCCL communicators and collectives with exact checks (see
 * nccl_coll.h).  Host C against NCCL and the CUDA runtime.
 */
#include "kernels/cuda/nccl_coll.h"

#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>
#include <nccl.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/nccl_pattern.h"
#include "kernels/gpu/gemm_gpu.h" /* strata_half_to_double, strata_bf16_to_double */

#define SALT 0x4e43434c436f6c6cull /* "NCCLColl" */

struct strata_nccl_comm {
	ncclComm_t comm;
};

struct strata_nccl_coll {
	struct strata_nccl_config cfg;
	ncclComm_t comm;
	ncclDataType_t type;
	size_t elt;
	void *send, *recv;      /* device; send NULL when in place */
	size_t recv_alloc;      /* elements in recv */
	void *in;               /* where inputs are written */
	const void *out;        /* where the checked output lies */
	size_t out_n;
	int mod;
	double *table, *d_table;
	uint64_t salt;
	unsigned long long *d_count, *d_first;
	cudaStream_t stream;
	cudaEvent_t ev0, ev1;
	int64_t runs_since_fill;
};

size_t strata_nccl_dtype_bytes(enum strata_nccl_dtype t)
{
	return t == STRATA_NCCL_DOUBLE ? 8 : t == STRATA_NCCL_FLOAT ? 4 : 2;
}

double strata_nccl_exact_limit(enum strata_nccl_dtype t)
{
	/* 2^(significand bits): every integer up to it is representable. */
	switch (t) {
	case STRATA_NCCL_FLOAT: return 16777216.0;         /* 2^24 */
	case STRATA_NCCL_DOUBLE: return 9007199254740992.0; /* 2^53 */
	case STRATA_NCCL_BFLOAT16: return 256.0;           /* 2^8 */
	case STRATA_NCCL_HALF: return 2048.0;              /* 2^11 */
	}
	return 0.0;
}

int strata_nccl_red_mod(enum strata_nccl_dtype t, int nranks)
{
	double limit = strata_nccl_exact_limit(t);
	if (nranks < 1 || (double)nranks > limit)
		return 0;
	double m = (double)(long long)(limit / nranks) + 1; /* (m - 1) * n <= limit */
	return m > 251 ? 251 : (int)m;
}

void strata_nccl_red_table(double *table, int m, int nranks)
{
	/* Whole cycles of m ranks add 0 + ... + (m-1) each; the rest directly. */
	long long cycles = nranks / m, rest = nranks % m;
	for (int t = 0; t < m; t++) {
		double s = (double)(cycles * ((long long)m * (m - 1) / 2));
		for (long long r = 0; r < rest; r++)
			s += (double)((t + r) % m);
		table[t] = s;
	}
}

int strata_nccl_version(void)
{
	int v = 0;
	return ncclGetVersion(&v) == ncclSuccess ? v : 0;
}

int strata_nccl_unique_id(unsigned char id[STRATA_NCCL_UNIQUE_ID_BYTES], char *err,
			  size_t err_len)
{
	ncclUniqueId uid;
	_Static_assert(sizeof(uid) == STRATA_NCCL_UNIQUE_ID_BYTES, "ncclUniqueId size");
	STRATA_NCCL_CHECK(ncclGetUniqueId(&uid), NULL);
	memcpy(id, &uid, sizeof(uid));
	return 0;
fail:
	return -1;
}

int strata_nccl_comm_init(struct strata_nccl_comm **out,
			  const unsigned char id[STRATA_NCCL_UNIQUE_ID_BYTES], int nranks, int rank,
			  char *err, size_t err_len)
{
	ncclUniqueId uid;
	struct strata_nccl_comm *c = calloc(1, sizeof(*c));
	*out = NULL;
	if (!c) {
		snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
		return -1;
	}
	memcpy(&uid, id, sizeof(uid));
	STRATA_NCCL_CHECK(ncclCommInitRank(&c->comm, nranks, uid, rank), NULL);
	*out = c;
	return 0;
fail:
	free(c);
	return -1;
}

void strata_nccl_comm_destroy(struct strata_nccl_comm *c)
{
	if (!c)
		return;
	if (c->comm)
		ncclCommDestroy(c->comm);
	free(c);
}

void *strata_nccl_comm_handle(struct strata_nccl_comm *c)
{
	return c ? (void *)c->comm : NULL;
}

static ncclDataType_t nccl_type(enum strata_nccl_dtype t)
{
	switch (t) {
	case STRATA_NCCL_DOUBLE: return ncclFloat64;
	case STRATA_NCCL_BFLOAT16: return ncclBfloat16;
	case STRATA_NCCL_HALF: return ncclFloat16;
	default: return ncclFloat32;
	}
}

static int reduction(const struct strata_nccl_config *cfg)
{
	return cfg->kind == STRATA_NCCL_ALLREDUCE || cfg->kind == STRATA_NCCL_REDUCE_SCATTER;
}

int strata_nccl_coll_verify_reruns(const struct strata_nccl_coll *c)
{
	/* In-place allreduce and reduce_scatter feed each result to the next
	 * call (alltoall in place is not run). */
	return c->cfg.inplace && reduction(&c->cfg);
}

static int fill(struct strata_nccl_coll *c, char *err, size_t err_len)
{
	STRATA_CUDA_CHECK((cudaError_t)strata_nccl_fill(c->in, c->recv, &c->cfg, c->recv_alloc, c->mod,
							c->salt, c->stream));
	STRATA_CUDA_CHECK(cudaStreamSynchronize(c->stream));
	c->runs_since_fill = 0;
	return 0;
fail:
	return -1;
}

int strata_nccl_coll_create(const struct strata_nccl_config *cfg, struct strata_nccl_comm *comm,
			    struct strata_nccl_coll **out, char *err, size_t err_len)
{
	*out = NULL;
	if (cfg->kind == STRATA_NCCL_ALLTOALL && cfg->inplace) {
		snprintf(err, err_len, "in-place all-to-all: grouped ncclSend/ncclRecv on one buffer "
			 "would overwrite blocks not yet sent; not run: skipped");
		return 1;
	}
	struct strata_nccl_coll *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
		return -1;
	}
	c->cfg = *cfg;
	c->comm = comm->comm;
	c->type = nccl_type(cfg->dtype);
	c->elt = strata_nccl_dtype_bytes(cfg->dtype);
	c->salt = SALT ^ ((uint64_t)cfg->root << 40);
	c->mod = 1;
	if (reduction(cfg)) {
		c->mod = strata_nccl_red_mod(cfg->dtype, cfg->nranks);
		if (c->mod < 2) {
			snprintf(err, err_len, "%d ranks: sums of the check pattern would not be exact "
				 "in this type; use a wider dtype: skipped", cfg->nranks);
			free(c);
			return 1;
		}
	}
	c->table = malloc((size_t)c->mod * sizeof(double));
	if (!c->table) {
		snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
		goto fail;
	}
	strata_nccl_red_table(c->table, c->mod, cfg->nranks);

	/* Buffers (NCCL in-place conventions, nccl.h): allgather's input is the
	 * rank's block of recv; reduce_scatter's input is recv (n blocks) and
	 * its output the rank's block; allreduce in place shares one buffer;
	 * broadcast always runs in place on recv (as MPI_Bcast). */
	c->recv_alloc = cfg->recv_count;
	if (cfg->inplace && cfg->kind == STRATA_NCCL_REDUCE_SCATTER)
		c->recv_alloc = cfg->send_count;
	STRATA_CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
	STRATA_CUDA_CHECK(cudaEventCreate(&c->ev0));
	STRATA_CUDA_CHECK(cudaEventCreate(&c->ev1));
	STRATA_CUDA_CHECK(cudaMalloc(&c->recv, (c->recv_alloc ? c->recv_alloc : 1) * c->elt));
	if (!cfg->inplace && cfg->kind != STRATA_NCCL_BROADCAST)
		STRATA_CUDA_CHECK(cudaMalloc(&c->send, (cfg->send_count ? cfg->send_count : 1) * c->elt));
	STRATA_CUDA_CHECK(cudaMalloc((void **)&c->d_table, (size_t)c->mod * sizeof(double)));
	STRATA_CUDA_CHECK(cudaMemcpy(c->d_table, c->table, (size_t)c->mod * sizeof(double),
				     cudaMemcpyHostToDevice));
	STRATA_CUDA_CHECK(cudaMalloc((void **)&c->d_count, sizeof(*c->d_count)));
	STRATA_CUDA_CHECK(cudaMalloc((void **)&c->d_first, sizeof(*c->d_first)));

	c->out = c->recv;
	c->out_n = cfg->recv_count;
	if (cfg->kind == STRATA_NCCL_BROADCAST || cfg->inplace)
		c->in = c->recv;
	else
		c->in = c->send;
	if (cfg->inplace && cfg->kind == STRATA_NCCL_ALLGATHER)
		c->in = (char *)c->recv + (size_t)cfg->rank * cfg->count * c->elt;
	if (cfg->inplace && cfg->kind == STRATA_NCCL_REDUCE_SCATTER)
		c->out = (char *)c->recv + (size_t)cfg->rank * cfg->count * c->elt;
	if (fill(c, err, err_len) != 0)
		goto fail;
	*out = c;
	return 0;
fail:
	strata_nccl_coll_destroy(c);
	return -1;
}

void strata_nccl_coll_destroy(struct strata_nccl_coll *c)
{
	if (!c)
		return;
	if (c->stream)
		cudaStreamSynchronize(c->stream);
	cudaFree(c->send);
	cudaFree(c->recv);
	cudaFree(c->d_table);
	cudaFree(c->d_count);
	cudaFree(c->d_first);
	if (c->ev0)
		cudaEventDestroy(c->ev0);
	if (c->ev1)
		cudaEventDestroy(c->ev1);
	if (c->stream)
		cudaStreamDestroy(c->stream);
	free(c->table);
	free(c);
}

size_t strata_nccl_coll_bytes(const struct strata_nccl_coll *c)
{
	return (c->recv_alloc + (c->send ? c->cfg.send_count : 0)) * c->elt;
}

/* One collective, enqueued on the stream. */
static int enqueue(struct strata_nccl_coll *c, char *err, size_t err_len)
{
	const struct strata_nccl_config *cfg = &c->cfg;
	const size_t count = cfg->count;
	switch (cfg->kind) {
	case STRATA_NCCL_ALLREDUCE:
		STRATA_NCCL_CHECK(ncclAllReduce(cfg->inplace ? c->recv : c->send, c->recv, count,
						c->type, ncclSum, c->comm, c->stream), c->comm);
		break;
	case STRATA_NCCL_ALLGATHER:
		STRATA_NCCL_CHECK(ncclAllGather(c->in, c->recv, count, c->type, c->comm, c->stream),
				  c->comm);
		break;
	case STRATA_NCCL_REDUCE_SCATTER:
		STRATA_NCCL_CHECK(ncclReduceScatter(cfg->inplace ? c->recv : c->send,
						    (void *)c->out, count, c->type, ncclSum, c->comm,
						    c->stream), c->comm);
		break;
	case STRATA_NCCL_BROADCAST:
		STRATA_NCCL_CHECK(ncclBroadcast(c->recv, c->recv, count, c->type, cfg->root, c->comm,
						c->stream), c->comm);
		break;
	case STRATA_NCCL_ALLTOALL: /* nccl-tests src/alltoall.cu: grouped send/recv */
		STRATA_NCCL_CHECK(ncclGroupStart(), c->comm);
		for (int p = 0; p < cfg->nranks; p++) {
			size_t off = (size_t)p * count * c->elt;
			STRATA_NCCL_CHECK(ncclSend((char *)c->send + off, count, c->type, p, c->comm,
						   c->stream), c->comm);
			STRATA_NCCL_CHECK(ncclRecv((char *)c->recv + off, count, c->type, p, c->comm,
						   c->stream), c->comm);
		}
		STRATA_NCCL_CHECK(ncclGroupEnd(), c->comm);
		break;
	}
	c->runs_since_fill++;
	return 0;
fail:
	return -1;
}

int strata_nccl_coll_run(struct strata_nccl_coll *c, int launches, double *event_s, char *err,
			 size_t err_len)
{
	float ms = 0;
	ncclResult_t async = ncclSuccess;
	STRATA_CUDA_CHECK(cudaEventRecord(c->ev0, c->stream));
	for (int i = 0; i < launches; i++)
		if (enqueue(c, err, err_len) != 0)
			goto fail;
	STRATA_CUDA_CHECK(cudaEventRecord(c->ev1, c->stream));
	STRATA_CUDA_CHECK(cudaStreamSynchronize(c->stream));
	STRATA_NCCL_CHECK(ncclCommGetAsyncError(c->comm, &async), c->comm);
	STRATA_NCCL_CHECK(async, c->comm);
	STRATA_CUDA_CHECK(cudaEventElapsedTime(&ms, c->ev0, c->ev1));
	*event_s = (double)ms * 1e-3;
	return 0;
fail:
	return -1;
}

double strata_nccl_expected_host(const struct strata_nccl_config *cfg, size_t i, int mod,
				 const double *table, uint64_t salt)
{
	if (strata_nccl_is_reduction(cfg->kind))
		return strata_nccl_expected_value(cfg, i, mod, table);
	return (double)strata_nccl_expected_code(cfg, i, salt);
}

static double element_value(const struct strata_nccl_coll *c, const unsigned char *bits)
{
	uint64_t b = 0;
	uint16_t h = 0;
	float f = 0;
	double d = 0;
	int red = reduction(&c->cfg);
	switch (c->elt) {
	case 8:
		if (red) {
			memcpy(&d, bits, 8);
			return d;
		}
		memcpy(&b, bits, 8);
		return (double)b;
	case 4:
		if (red) {
			memcpy(&f, bits, 4);
			return f;
		}
		memcpy(&b, bits, 4); /* little-endian: the low 4 bytes */
		return (double)(b & 0xffffffffu);
	default:
		memcpy(&h, bits, 2);
		if (!red)
			return (double)h;
		return c->cfg.dtype == STRATA_NCCL_HALF ? strata_half_to_double(h)
							: strata_bf16_to_double(h);
	}
}

int64_t strata_nccl_coll_verify(struct strata_nccl_coll *c, int64_t *first_index,
				double *first_expected, double *first_actual, char *err,
				size_t err_len)
{
	unsigned long long count = 0, first = ~0ull;
	unsigned char bits[8] = { 0 };
	double ignore = 0;
	*first_index = -1;
	if (strata_nccl_coll_verify_reruns(c) || c->runs_since_fill == 0) {
		/* nccl-tests BenchTime(): initData, one collective, CheckData. */
		if (fill(c, err, err_len) != 0 || strata_nccl_coll_run(c, 1, &ignore, err, err_len) != 0)
			return -1;
	}
	STRATA_CUDA_CHECK(cudaMemcpyAsync(c->d_count, &count, sizeof(count), cudaMemcpyHostToDevice,
					  c->stream));
	STRATA_CUDA_CHECK(cudaMemcpyAsync(c->d_first, &first, sizeof(first), cudaMemcpyHostToDevice,
					  c->stream));
	STRATA_CUDA_CHECK((cudaError_t)strata_nccl_check(c->out, c->out_n, &c->cfg, c->mod,
							 c->d_table, c->salt, c->d_count,
							 c->d_first, c->stream));
	STRATA_CUDA_CHECK(cudaMemcpyAsync(&count, c->d_count, sizeof(count), cudaMemcpyDeviceToHost,
					  c->stream));
	STRATA_CUDA_CHECK(cudaMemcpyAsync(&first, c->d_first, sizeof(first), cudaMemcpyDeviceToHost,
					  c->stream));
	STRATA_CUDA_CHECK(cudaStreamSynchronize(c->stream));
	if (count) {
		*first_index = (int64_t)first;
		*first_expected = strata_nccl_expected_host(&c->cfg, (size_t)first, c->mod, c->table,
							   c->salt);
		STRATA_CUDA_CHECK(cudaMemcpy(bits, (const char *)c->out + (size_t)first * c->elt,
					     c->elt, cudaMemcpyDeviceToHost));
		*first_actual = element_value(c, bits);
	}
	return (int64_t)count;
fail:
	return -1;
}
