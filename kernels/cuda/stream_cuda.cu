/* stream_cuda.cu: the device STREAM kernels, their event-timed batches and
 * the device-side check (see stream_cuda.h).
 *
 * Byte counts (for the suite, as STREAM and BabelStream count them): copy
 * and scale 2 arrays, add and triad 3, dot 2; write-allocate not counted.
 */
#include <cuda_runtime.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/stream_cuda.h"
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

namespace {

const int kThreads = STRATA_STREAM_CUDA_THREADS;

/* n2 = n / 2 double2 vectors per array; grid-stride loops. */
__global__ void init_kernel(double *a, double *b, double *c, size_t n)
{
	for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < n;
	     j += (size_t)gridDim.x * blockDim.x) {
		a[j] = strata_stream_gpu_initial(0, j);
		b[j] = strata_stream_gpu_initial(1, j);
		c[j] = strata_stream_gpu_initial(2, j);
	}
}

__global__ void copy_kernel(double2 *__restrict__ c, const double2 *__restrict__ a, size_t n2)
{
	for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < n2;
	     j += (size_t)gridDim.x * blockDim.x)
		c[j] = a[j];
}

__global__ void scale_kernel(double2 *__restrict__ b, const double2 *__restrict__ c, double q,
			     size_t n2)
{
	for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < n2;
	     j += (size_t)gridDim.x * blockDim.x) {
		double2 x = c[j];
		b[j] = make_double2(q * x.x, q * x.y);
	}
}

__global__ void add_kernel(double2 *__restrict__ c, const double2 *__restrict__ a,
			   const double2 *__restrict__ b, size_t n2)
{
	for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < n2;
	     j += (size_t)gridDim.x * blockDim.x) {
		double2 x = a[j], y = b[j];
		c[j] = make_double2(x.x + y.x, x.y + y.y);
	}
}

__global__ void triad_kernel(double2 *__restrict__ a, const double2 *__restrict__ b,
			     const double2 *__restrict__ c, double q, size_t n2)
{
	for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < n2;
	     j += (size_t)gridDim.x * blockDim.x) {
		double2 x = b[j], y = c[j];
		a[j] = make_double2(x.x + q * y.x, x.y + q * y.y);
	}
}

/* Per-block partial sums of a . b (tree reduction in shared memory). */
__global__ void dot_kernel(const double2 *__restrict__ a, const double2 *__restrict__ b,
			   double *__restrict__ partial, size_t n2)
{
	__shared__ double tb[kThreads];
	double s = 0;
	for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < n2;
	     j += (size_t)gridDim.x * blockDim.x) {
		double2 x = a[j], y = b[j];
		s += x.x * y.x + x.y * y.y;
	}
	tb[threadIdx.x] = s;
	for (int off = blockDim.x / 2; off > 0; off /= 2) {
		__syncthreads();
		if (threadIdx.x < off)
			tb[threadIdx.x] += tb[threadIdx.x + off];
	}
	if (threadIdx.x == 0)
		partial[blockIdx.x] = tb[0];
}

/* Count wrong elements; d_first gets min over wrong of index * 4 + array. */
__global__ void check_kernel(const double *a, const double *b, const double *c, size_t n,
			     int kernel, unsigned long long *count, unsigned long long *first)
{
	const double *arr[3] = { a, b, c };
	unsigned long long mine = 0;
	for (size_t j = blockIdx.x * (size_t)blockDim.x + threadIdx.x; j < n;
	     j += (size_t)gridDim.x * blockDim.x) {
		for (int k = 0; k < 3; k++) {
			double e = strata_stream_gpu_expected(kernel, k, j);
			if (!strata_stream_gpu_element_ok(arr[k][j], e)) {
				mine++;
				atomicMin(first, (unsigned long long)j * 4 + (unsigned long long)k);
			}
		}
	}
	if (mine)
		atomicAdd(count, mine);
}

} // namespace

extern "C" int strata_stream_cuda_create(size_t n, struct strata_stream_cuda **out, char *err,
					 size_t err_len)
{
	struct strata_stream_cuda *s = NULL;
	int dev = 0, per_sm = 0;
	*out = NULL;
	if (n < 2 || n % 2) {
		snprintf(err, err_len, "%s:%d: n = %zu must be even and >= 2", __FILE__, __LINE__, n);
		return -1;
	}
	s = static_cast<struct strata_stream_cuda *>(calloc(1, sizeof(*s)));
	if (!s) {
		snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
		return -1;
	}
	s->n = n;
	STRATA_CUDA_CHECK(cudaGetDevice(&dev));
	STRATA_CUDA_CHECK(cudaDeviceGetAttribute(&s->sms, cudaDevAttrMultiProcessorCount, dev));
	/* The densest grid whose blocks are all resident at once; every kernel
	 * has the same shape, so the triad's occupancy stands for all. */
	STRATA_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, triad_kernel,
									 kThreads, 0));
	s->blocks_per_sm = per_sm > 0 ? per_sm : 1;
	s->blocks = s->sms * s->blocks_per_sm;
	STRATA_CUDA_CHECK(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking));
	STRATA_CUDA_CHECK(cudaEventCreate(&s->ev0));
	STRATA_CUDA_CHECK(cudaEventCreate(&s->ev1));
	STRATA_CUDA_CHECK(cudaMalloc(&s->a, n * sizeof(double)));
	STRATA_CUDA_CHECK(cudaMalloc(&s->b, n * sizeof(double)));
	STRATA_CUDA_CHECK(cudaMalloc(&s->c, n * sizeof(double)));
	STRATA_CUDA_CHECK(cudaMalloc(&s->partial, (size_t)s->blocks * sizeof(double)));
	STRATA_CUDA_CHECK(cudaMalloc(&s->d_count, sizeof(unsigned long long)));
	STRATA_CUDA_CHECK(cudaMalloc(&s->d_first, sizeof(unsigned long long)));
	init_kernel<<<s->blocks, kThreads, 0, s->stream>>>(s->a, s->b, s->c, n);
	STRATA_CUDA_CHECK_LAUNCH("init_kernel");
	STRATA_CUDA_CHECK(cudaStreamSynchronize(s->stream));
	*out = s;
	return 0;
fail:
	strata_stream_cuda_destroy(s);
	return -1;
}

extern "C" void strata_stream_cuda_destroy(struct strata_stream_cuda *s)
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

extern "C" void strata_stream_cuda_grid(const struct strata_stream_cuda *s, int *blocks,
					int *threads, int *blocks_per_sm)
{
	*blocks = s->blocks;
	*threads = kThreads;
	*blocks_per_sm = s->blocks_per_sm;
}

static void launch(struct strata_stream_cuda *s, int kernel)
{
	const size_t n2 = s->n / 2;
	double2 *a = reinterpret_cast<double2 *>(s->a), *b = reinterpret_cast<double2 *>(s->b),
		*c = reinterpret_cast<double2 *>(s->c);
	const double q = STRATA_STREAM_GPU_SCALAR;
	switch (kernel) {
	case STRATA_STREAM_GPU_COPY:
		copy_kernel<<<s->blocks, kThreads, 0, s->stream>>>(c, a, n2);
		break;
	case STRATA_STREAM_GPU_SCALE:
		scale_kernel<<<s->blocks, kThreads, 0, s->stream>>>(b, c, q, n2);
		break;
	case STRATA_STREAM_GPU_ADD:
		add_kernel<<<s->blocks, kThreads, 0, s->stream>>>(c, a, b, n2);
		break;
	case STRATA_STREAM_GPU_TRIAD:
		triad_kernel<<<s->blocks, kThreads, 0, s->stream>>>(a, b, c, q, n2);
		break;
	case STRATA_STREAM_GPU_DOT:
		dot_kernel<<<s->blocks, kThreads, 0, s->stream>>>(a, b, s->partial, n2);
		break;
	}
}

extern "C" int strata_stream_cuda_run(struct strata_stream_cuda *s, int kernel, int launches,
				      double *event_s, char *err, size_t err_len)
{
	float ms = 0;
	if (kernel < 0 || kernel >= STRATA_STREAM_GPU_NKERNELS) {
		snprintf(err, err_len, "%s:%d: invalid kernel %d", __FILE__, __LINE__, kernel);
		return -1;
	}
	STRATA_CUDA_CHECK(cudaEventRecord(s->ev0, s->stream));
	for (int i = 0; i < launches; i++) {
		launch(s, kernel);
		STRATA_CUDA_CHECK_LAUNCH("stream kernel");
	}
	STRATA_CUDA_CHECK(cudaEventRecord(s->ev1, s->stream));
	STRATA_CUDA_CHECK(cudaEventSynchronize(s->ev1));
	STRATA_CUDA_CHECK(cudaEventElapsedTime(&ms, s->ev0, s->ev1));
	*event_s = (double)ms * 1e-3;
	return 0;
fail:
	cudaStreamSynchronize(s->stream);
	return -1;
}

extern "C" int64_t strata_stream_cuda_check(struct strata_stream_cuda *s, int kernel,
					    struct strata_stream_cuda_error *first, char *err,
					    size_t err_len)
{
	unsigned long long count = 0, key = ~0ull;
	double *partial = NULL;
	int64_t wrong = 0;
	memset(first, 0, sizeof(*first));
	STRATA_CUDA_CHECK(cudaMemcpyAsync(s->d_count, &count, sizeof(count), cudaMemcpyHostToDevice,
					  s->stream));
	STRATA_CUDA_CHECK(cudaMemcpyAsync(s->d_first, &key, sizeof(key), cudaMemcpyHostToDevice,
					  s->stream));
	check_kernel<<<s->blocks, kThreads, 0, s->stream>>>(s->a, s->b, s->c, s->n, kernel,
							     s->d_count, s->d_first);
	STRATA_CUDA_CHECK_LAUNCH("check_kernel");
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
		partial = static_cast<double *>(malloc((size_t)s->blocks * sizeof(double)));
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
