/* stream_cuda.cu: the device STREAM kernels and their extern "C"
 * launchers (stream_cuda.h).  Only kernels; the batches, timing and check
 * logic are host C in stream_cuda.c.
 */
#include <cuda_runtime.h>

#include "kernels/cuda/stream_cuda.h"
#include "kernels/gpu/stream_gpu_pattern.h"

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

extern "C" int strata_streamk_blocks_per_sm(int *per_sm)
{
	return static_cast<int>(
		cudaOccupancyMaxActiveBlocksPerMultiprocessor(per_sm, triad_kernel, kThreads, 0));
}

extern "C" int strata_streamk_init(double *a, double *b, double *c, size_t n, int blocks,
				   void *stream)
{
	init_kernel<<<blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(a, b, c, n);
	return static_cast<int>(cudaGetLastError());
}

extern "C" int strata_streamk_launch(int kernel, double *a_, double *b_, double *c_,
				     double *partial, size_t n, int blocks, void *stream)
{
	const size_t n2 = n / 2;
	cudaStream_t st = static_cast<cudaStream_t>(stream);
	double2 *a = reinterpret_cast<double2 *>(a_), *b = reinterpret_cast<double2 *>(b_),
		*c = reinterpret_cast<double2 *>(c_);
	const double q = STRATA_STREAM_GPU_SCALAR;
	switch (kernel) {
	case STRATA_STREAM_GPU_COPY:
		copy_kernel<<<blocks, kThreads, 0, st>>>(c, a, n2);
		break;
	case STRATA_STREAM_GPU_SCALE:
		scale_kernel<<<blocks, kThreads, 0, st>>>(b, c, q, n2);
		break;
	case STRATA_STREAM_GPU_ADD:
		add_kernel<<<blocks, kThreads, 0, st>>>(c, a, b, n2);
		break;
	case STRATA_STREAM_GPU_TRIAD:
		triad_kernel<<<blocks, kThreads, 0, st>>>(a, b, c, q, n2);
		break;
	case STRATA_STREAM_GPU_DOT:
		dot_kernel<<<blocks, kThreads, 0, st>>>(a, b, partial, n2);
		break;
	default:
		return static_cast<int>(cudaErrorInvalidValue);
	}
	return static_cast<int>(cudaGetLastError());
}

extern "C" int strata_streamk_check(const double *a, const double *b, const double *c, size_t n,
				    int kernel, unsigned long long *count,
				    unsigned long long *first, int blocks, void *stream)
{
	check_kernel<<<blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
		a, b, c, n, kernel, count, first);
	return static_cast<int>(cudaGetLastError());
}
