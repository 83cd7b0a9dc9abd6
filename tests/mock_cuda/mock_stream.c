/* mock_stream.c: C copies of kernels/cuda/stream_cuda.cu's extern "C"
 * functions (every one: the archive member would otherwise be pulled in and
 * collide), for strata_mock_cuda.
 *
 * What it is: the same API on "device" memory that is host memory
 * (mock_cuda.c's cudaMalloc, NaN-filled), with the .cu's semantics: arrays
 * initialised from kernels/gpu/stream_gpu_pattern.h, the kernels' arithmetic
 * on double pairs, a grid of SMs x resident blocks per SM (the occupancy of a
 * 256-thread block with no limit but threads per SM), dot's per-block partial
 * sums as the grid-stride loop assigns elements to blocks, the every-element
 * check with the pattern header's tolerance and the dot's exact value.
 * Events are mock_device.c's host-clock events, so a batch's time is the
 * host time of the C loops.  Fault injection (tests only):
 *   MOCK_STREAM_CORRUPT=1  after every launch, the element n/2 + 1 of the
 *                          array the kernel writes (dot: a, its input) is
 *                          made wrong by +1, so the check must name it.
 *   MOCK_STREAM_CORRUPT=2  dot only: block 0's partial sum is doubled, the
 *                          arrays stay right, so only the dot is wrong.
 * What it is not: a model of a GPU's speed, or of its summation order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "kernels/cuda/stream_cuda.h"
#include "kernels/gpu/stream_gpu_pattern.h"

struct strata_stream_cuda {
	size_t n;             /* doubles per array (even) */
	double *a, *b, *c;    /* (n) each */
	double *partial;      /* (blocks) dot partial sums */
	cudaStream_t stream;
	cudaEvent_t ev0, ev1;
	int blocks, blocks_per_sm, sms;
};

#define CHECK(call)                                                                          \
	do {                                                                                 \
		cudaError_t e_ = (call);                                                     \
		if (e_ != cudaSuccess) {                                                     \
			snprintf(err, err_len, "%s:%d: %s failed (%d)", __FILE__, __LINE__,   \
				 #call, (int)e_);                                            \
			goto fail;                                                           \
		}                                                                            \
	} while (0)

static const int threads = STRATA_STREAM_CUDA_THREADS;

int strata_stream_cuda_create(size_t n, struct strata_stream_cuda **out, char *err,
			      size_t err_len)
{
	struct strata_stream_cuda *s = NULL;
	int dev = 0, per_sm_threads = 0;
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
	CHECK(cudaGetDevice(&dev));
	CHECK(cudaDeviceGetAttribute(&s->sms, cudaDevAttrMultiProcessorCount, dev));
	/* The occupancy call's answer for a kernel limited only by threads. */
	CHECK(cudaDeviceGetAttribute(&per_sm_threads, cudaDevAttrMaxThreadsPerMultiProcessor, dev));
	s->blocks_per_sm = per_sm_threads / threads > 0 ? per_sm_threads / threads : 1;
	s->blocks = s->sms * s->blocks_per_sm;
	CHECK(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking));
	CHECK(cudaEventCreate(&s->ev0));
	CHECK(cudaEventCreate(&s->ev1));
	CHECK(cudaMalloc((void **)&s->a, n * sizeof(double)));
	CHECK(cudaMalloc((void **)&s->b, n * sizeof(double)));
	CHECK(cudaMalloc((void **)&s->c, n * sizeof(double)));
	CHECK(cudaMalloc((void **)&s->partial, (size_t)s->blocks * sizeof(double)));
	for (size_t j = 0; j < n; j++) { /* init_kernel */
		s->a[j] = strata_stream_gpu_initial(0, j);
		s->b[j] = strata_stream_gpu_initial(1, j);
		s->c[j] = strata_stream_gpu_initial(2, j);
	}
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
	cudaFree(s->a);
	cudaFree(s->b);
	cudaFree(s->c);
	cudaFree(s->partial);
	if (s->ev0)
		cudaEventDestroy(s->ev0);
	if (s->ev1)
		cudaEventDestroy(s->ev1);
	if (s->stream)
		cudaStreamDestroy(s->stream);
	free(s);
}

void strata_stream_cuda_grid(const struct strata_stream_cuda *s, int *blocks, int *threads_out,
			     int *blocks_per_sm)
{
	*blocks = s->blocks;
	*threads_out = threads;
	*blocks_per_sm = s->blocks_per_sm;
}

/* One launch of kernel over n doubles (the .cu's n / 2 double2 pairs). */
static void launch(struct strata_stream_cuda *s, int kernel)
{
	double *restrict a = s->a, *restrict b = s->b, *restrict c = s->c;
	const double q = STRATA_STREAM_GPU_SCALAR;
	const size_t n = s->n;
	switch (kernel) {
	case STRATA_STREAM_GPU_COPY:
		for (size_t j = 0; j < n; j++)
			c[j] = a[j];
		break;
	case STRATA_STREAM_GPU_SCALE:
		for (size_t j = 0; j < n; j++)
			b[j] = q * c[j];
		break;
	case STRATA_STREAM_GPU_ADD:
		for (size_t j = 0; j < n; j++)
			c[j] = a[j] + b[j];
		break;
	case STRATA_STREAM_GPU_TRIAD:
		for (size_t j = 0; j < n; j++)
			a[j] = b[j] + q * c[j];
		break;
	case STRATA_STREAM_GPU_DOT: {
		/* Pair j2 goes to thread j2 mod (blocks x threads), hence to
		 * block (j2 / threads) mod blocks. */
		const size_t stride = (size_t)s->blocks * (size_t)threads;
		for (int i = 0; i < s->blocks; i++)
			s->partial[i] = 0;
		for (size_t j2 = 0; j2 < n / 2; j2++)
			s->partial[(j2 % stride) / (size_t)threads] +=
				a[2 * j2] * b[2 * j2] + a[2 * j2 + 1] * b[2 * j2 + 1];
		break;
	}
	}
	const char *fault = getenv("MOCK_STREAM_CORRUPT");
	if (fault && atoi(fault) == 2 && kernel == STRATA_STREAM_GPU_DOT)
		s->partial[0] *= 2; /* > 0: block 0 always holds pair 0 */
	if (fault && atoi(fault) == 1) {
		double *out = kernel == STRATA_STREAM_GPU_SCALE ? b
			      : kernel == STRATA_STREAM_GPU_COPY || kernel == STRATA_STREAM_GPU_ADD
				      ? c
				      : a;
		out[n / 2 + 1] = strata_stream_gpu_expected(kernel, out == a ? 0 : out == b ? 1 : 2,
							    n / 2 + 1) + 1;
	}
}

int strata_stream_cuda_run(struct strata_stream_cuda *s, int kernel, int launches,
			   double *event_s, char *err, size_t err_len)
{
	float ms = 0;
	if (kernel < 0 || kernel >= STRATA_STREAM_GPU_NKERNELS) {
		snprintf(err, err_len, "%s:%d: invalid kernel %d", __FILE__, __LINE__, kernel);
		return -1;
	}
	CHECK(cudaEventRecord(s->ev0, s->stream));
	for (int i = 0; i < launches; i++)
		launch(s, kernel);
	CHECK(cudaEventRecord(s->ev1, s->stream));
	CHECK(cudaEventSynchronize(s->ev1));
	CHECK(cudaEventElapsedTime(&ms, s->ev0, s->ev1));
	*event_s = (double)ms * 1e-3;
	return 0;
fail:
	return -1;
}

int64_t strata_stream_cuda_check(struct strata_stream_cuda *s, int kernel,
				 struct strata_stream_cuda_error *first, char *err, size_t err_len)
{
	const double *arr[3] = { s->a, s->b, s->c };
	unsigned long long count = 0, key = ~0ull;
	int64_t wrong;
	memset(first, 0, sizeof(*first));
	for (size_t j = 0; j < s->n; j++) { /* check_kernel: key = index * 4 + array */
		for (int k = 0; k < 3; k++) {
			if (!strata_stream_gpu_element_ok(arr[k][j],
							  strata_stream_gpu_expected(kernel, k, j))) {
				count++;
				if ((unsigned long long)j * 4 + (unsigned long long)k < key)
					key = (unsigned long long)j * 4 + (unsigned long long)k;
			}
		}
	}
	wrong = (int64_t)count;
	if (count) {
		first->array = (int)(key % 4);
		first->index = key / 4;
		first->expected = strata_stream_gpu_expected(kernel, first->array, first->index);
		CHECK(cudaMemcpy(&first->actual, arr[first->array] + first->index, sizeof(double),
				 cudaMemcpyDeviceToHost));
	}
	if (kernel == STRATA_STREAM_GPU_DOT) {
		double sum = 0;
		for (int i = 0; i < s->blocks; i++)
			sum += s->partial[i];
		if (!strata_stream_gpu_dot_ok(sum, s->n)) {
			if (wrong == 0) {
				first->array = 3;
				first->index = 0;
				first->expected = strata_stream_gpu_dot_exact(s->n);
				first->actual = sum;
			}
			wrong++;
		}
	}
	return wrong;
fail:
	return -1;
}
