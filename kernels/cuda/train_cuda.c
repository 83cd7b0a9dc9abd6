/* train_cuda.c: bucketed NCCL gradient all-reduce on a communication stream
 * and the deterministic gradient norm (see train_cuda.h).  Host C against
 * the CUDA runtime and NCCL (without NCCL it only counts buckets).
 */
#include "kernels/cuda/train_cuda.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "harness/timer.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/nccl_coll.h"
#include "strata_config.h"
#if STRATA_HAVE_NCCL
#include <nccl.h>
#endif

struct strata_train_cuda {
	cudaStream_t model;     /* the model's stream (not owned) */
	cudaStream_t comm_st;   /* where the all-reduces run */
	cudaEvent_t ready_ev;   /* recorded on model, waited for by comm_st */
	cudaEvent_t done_ev;    /* recorded on comm_st at wait */
#if STRATA_HAVE_NCCL
	ncclComm_t comm;        /* NULL: nothing is sent */
#else
	void *comm;
#endif
	size_t bucket_floats;
	float *grads;           /* this step's gradient (device) */
	size_t n;
	int overlap;
	size_t lo, hi;          /* pending range [lo, hi); lo == hi: none */
	size_t nbuckets;        /* sent since begin */
	double *partial, *sum;  /* device: l2norm's partial sums and total */
	double *h_sum;          /* pinned */
	int failed;             /* a failure inside the callback */
	char why[512];
};

int strata_train_cuda_create(struct strata_train_cuda **out, void *model_stream,
			     struct strata_nccl_comm *comm, size_t bucket_bytes, char *err,
			     size_t err_len)
{
	*out = NULL;
	if (bucket_bytes < sizeof(float) || !model_stream) {
		snprintf(err, err_len, "%s:%d: bucket_bytes %zu (need >= 4) or no model stream",
			 __FILE__, __LINE__, bucket_bytes);
		return -1;
	}
	struct strata_train_cuda *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
		return -1;
	}
	t->model = (cudaStream_t)model_stream;
#if STRATA_HAVE_NCCL
	t->comm = (ncclComm_t)strata_nccl_comm_handle(comm);
#else
	(void)comm;
	t->comm = NULL;
#endif
	t->bucket_floats = bucket_bytes / sizeof(float);
	STRATA_CUDA_CHECK(cudaStreamCreateWithFlags(&t->comm_st, cudaStreamNonBlocking));
	STRATA_CUDA_CHECK(cudaEventCreateWithFlags(&t->ready_ev, cudaEventDisableTiming));
	STRATA_CUDA_CHECK(cudaEventCreateWithFlags(&t->done_ev, cudaEventDisableTiming));
	STRATA_CUDA_CHECK(cudaMalloc((void **)&t->partial,
				     STRATA_TRAINK_SUMSQ_BLOCKS * sizeof(*t->partial)));
	STRATA_CUDA_CHECK(cudaMalloc((void **)&t->sum, sizeof(*t->sum)));
	STRATA_CUDA_CHECK(cudaMallocHost((void **)&t->h_sum, sizeof(*t->h_sum)));
	*out = t;
	return 0;
fail:
	strata_train_cuda_destroy(t);
	return -1;
}

void strata_train_cuda_destroy(struct strata_train_cuda *t)
{
	if (!t)
		return;
	if (t->comm_st)
		cudaStreamSynchronize(t->comm_st);
	cudaFree(t->partial);
	cudaFree(t->sum);
	cudaFreeHost(t->h_sum);
	if (t->ready_ev)
		cudaEventDestroy(t->ready_ev);
	if (t->done_ev)
		cudaEventDestroy(t->done_ev);
	if (t->comm_st)
		cudaStreamDestroy(t->comm_st);
	free(t);
}

void strata_train_cuda_begin(struct strata_train_cuda *t, float *grads, size_t n, int overlap)
{
	t->grads = grads;
	t->n = n;
	t->overlap = overlap;
	t->lo = t->hi = 0;
	t->nbuckets = 0;
	t->failed = 0;
	t->why[0] = '\0';
}

/* All-reduce [lo, hi) of the gradient on the communication stream, after
 * what the model's stream holds now. */
static int send_range(struct strata_train_cuda *t, size_t lo, size_t hi, char *err,
		      size_t err_len)
{
	if (hi <= lo)
		return 0;
	t->nbuckets++;
	if (!t->comm)
		return 0;
#if STRATA_HAVE_NCCL
	STRATA_CUDA_CHECK(cudaEventRecord(t->ready_ev, t->model));
	STRATA_CUDA_CHECK(cudaStreamWaitEvent(t->comm_st, t->ready_ev, 0));
	STRATA_NCCL_CHECK(ncclAllReduce(t->grads + lo, t->grads + lo, hi - lo, ncclFloat32, ncclSum,
					t->comm, t->comm_st),
			  t->comm);
	return 0;
fail:
	return -1;
#else
	(void)err;
	(void)err_len;
	return 0;
#endif
}

static int send_pending(struct strata_train_cuda *t, char *err, size_t err_len)
{
	size_t lo = t->lo, hi = t->hi;
	t->lo = t->hi = 0;
	return send_range(t, lo, hi, err, err_len);
}

void strata_train_cuda_ready(void *ctx, float *grads, size_t offset, size_t count, void *stream)
{
	struct strata_train_cuda *t = ctx;
	(void)stream; /* the model's, which t->model is */
	if (t->failed || !t->overlap || count == 0)
		return; /* without overlap, flush sends the whole array */
	if (grads != t->grads || offset + count > t->n) {
		t->failed = 1;
		snprintf(t->why, sizeof(t->why),
			 "%s:%d: grads-ready range [%zu, %zu) outside the gradient of %zu floats "
			 "given to begin",
			 __FILE__, __LINE__, offset, offset + count, t->n);
		return;
	}
	if (t->lo == t->hi) {
		t->lo = offset;
		t->hi = offset + count;
	} else if (offset + count == t->lo) {
		t->lo = offset;
	} else {
		/* Not adjacent: what is pending goes as it is. */
		if (send_pending(t, t->why, sizeof(t->why)) != 0) {
			t->failed = 1;
			return;
		}
		t->lo = offset;
		t->hi = offset + count;
	}
	if (t->hi - t->lo >= t->bucket_floats && send_pending(t, t->why, sizeof(t->why)) != 0)
		t->failed = 1;
}

int strata_train_cuda_flush(struct strata_train_cuda *t, char *err, size_t err_len)
{
	if (t->failed) {
		snprintf(err, err_len, "%s", t->why);
		return -1;
	}
	if (t->overlap)
		return send_pending(t, err, err_len);
	/* The whole array in buckets from its end, as backward would have
	 * announced it (grad_buckets.c does the same without overlap). */
	for (size_t hi = t->n; hi > 0;) {
		size_t take = hi < t->bucket_floats ? hi : t->bucket_floats;
		if (send_range(t, hi - take, hi, err, err_len) != 0)
			return -1;
		hi -= take;
	}
	return 0;
}

int strata_train_cuda_wait(struct strata_train_cuda *t, double *seconds, char *err,
			   size_t err_len)
{
	*seconds = 0;
	if (t->failed) {
		snprintf(err, err_len, "%s", t->why);
		return -1;
	}
	if (!t->comm || t->nbuckets == 0)
		return 0;
#if STRATA_HAVE_NCCL
	const strata_monotime_ns t0 = strata_now_ns();
	STRATA_CUDA_CHECK(cudaEventRecord(t->done_ev, t->comm_st));
	/* Poll rather than block, so that a peer's failure reported by NCCL
	 * ends the wait with its reason (nccl-tests' testStreamSynchronize). */
	for (;;) {
		cudaError_t e = cudaEventQuery(t->done_ev);
		if (e == cudaSuccess)
			break;
		if (e != cudaErrorNotReady)
			STRATA_CUDA_CHECK(e);
		ncclResult_t async = ncclSuccess;
		STRATA_NCCL_CHECK(ncclCommGetAsyncError(t->comm, &async), t->comm);
		STRATA_NCCL_CHECK(async, t->comm);
	}
	*seconds = (double)(strata_now_ns() - t0) * 1e-9;
	STRATA_CUDA_CHECK(cudaStreamWaitEvent(t->model, t->done_ev, 0));
	return 0;
fail:
	return -1;
#else
	(void)err;
	(void)err_len;
	return 0;
#endif
}

size_t strata_train_cuda_buckets(const struct strata_train_cuda *t)
{
	return t->nbuckets;
}

int strata_train_cuda_l2norm(struct strata_train_cuda *t, const float *x, size_t n,
			     double *norm, char *err, size_t err_len)
{
	*norm = 0;
	STRATA_CUDA_CHECK((cudaError_t)strata_traink_sumsq(x, n, t->partial, t->sum, t->model));
	STRATA_CUDA_CHECK(cudaMemcpyAsync(t->h_sum, t->sum, sizeof(*t->sum), cudaMemcpyDeviceToHost,
					  t->model));
	STRATA_CUDA_CHECK(cudaStreamSynchronize(t->model));
	*norm = sqrt(*t->h_sum);
	return 0;
fail:
	return -1;
}
