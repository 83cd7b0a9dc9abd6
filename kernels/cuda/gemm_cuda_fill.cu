/* gemm_cuda_fill.cu: device kernels of the GPU GEMM: fill A and B from the
 * shared generator (kernels/gpu/gemm_gpu_input.h, the same code the host
 * reference runs) and count non-finite elements of C.  Only kernels and
 * their extern "C" launchers; the GEMM and its logic are in gemm_cuda.c.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include "kernels/cuda/gemm_cuda.h"
#include "kernels/gpu/gemm_gpu_input.h"

namespace {

const int kThreads = 256;

/* Store v (exact in every type, see gemm_gpu.h) as element type dtype. */
__device__ void store(void *x, int dtype, int64_t i, double v)
{
	switch (dtype) {
	case STRATA_GEMM_GPU_FLOAT64:
		static_cast<double *>(x)[i] = v;
		break;
	case STRATA_GEMM_GPU_FLOAT32:
	case STRATA_GEMM_GPU_TFLOAT32:
		static_cast<float *>(x)[i] = static_cast<float>(v);
		break;
	case STRATA_GEMM_GPU_FLOAT16:
		static_cast<__half *>(x)[i] = __float2half_rn(static_cast<float>(v));
		break;
	case STRATA_GEMM_GPU_BFLOAT16:
		static_cast<__nv_bfloat16 *>(x)[i] = __float2bfloat16_rn(static_cast<float>(v));
		break;
	case STRATA_GEMM_GPU_FLOAT8_E4M3:
		static_cast<__nv_fp8_e4m3 *>(x)[i] = __nv_fp8_e4m3(static_cast<float>(v));
		break;
	}
}

/* op(X) is rows x cols; stored column-major as (rows, cols), or as
 * (cols, rows) when trans. */
__global__ void fill_kernel(void *x, int dtype, int matrix, int64_t rows, int64_t cols, int trans,
			    uint64_t seed, int steps)
{
	const int64_t total = rows * cols;
	for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < total;
	     idx += (int64_t)gridDim.x * blockDim.x) {
		int64_t r, c;
		if (!trans) {
			r = idx % rows;
			c = idx / rows;
		} else {
			c = idx % cols;
			r = idx / cols;
		}
		store(x, dtype, idx, strata_gemm_gpu_input(seed, matrix, r, c, steps));
	}
}

/* C's element type: fp8 GEMMs write bf16. */
__device__ float load_c(const void *c, int dtype, int64_t i)
{
	switch (dtype) {
	case STRATA_GEMM_GPU_FLOAT64:
		return static_cast<float>(static_cast<const double *>(c)[i]);
	case STRATA_GEMM_GPU_FLOAT32:
	case STRATA_GEMM_GPU_TFLOAT32:
		return static_cast<const float *>(c)[i];
	case STRATA_GEMM_GPU_FLOAT16:
		return __half2float(static_cast<const __half *>(c)[i]);
	default:
		return __bfloat162float(static_cast<const __nv_bfloat16 *>(c)[i]);
	}
}

__global__ void nonfinite_kernel(const void *c, int dtype, int64_t n, unsigned long long *count)
{
	unsigned long long mine = 0;
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
	     i += (int64_t)gridDim.x * blockDim.x) {
		if (dtype == STRATA_GEMM_GPU_FLOAT64) {
			if (!isfinite(static_cast<const double *>(c)[i]))
				mine++;
		} else if (!isfinite(load_c(c, dtype, i))) {
			mine++;
		}
	}
	if (mine)
		atomicAdd(count, mine);
}

int blocks_for(int64_t n)
{
	int64_t b = (n + kThreads - 1) / kThreads;
	return static_cast<int>(b < 65536 ? (b > 0 ? b : 1) : 65536);
}

} // namespace

extern "C" int strata_gemm_cuda_fill(void *x, int dtype, int matrix, int64_t rows, int64_t cols,
				     int trans, uint64_t seed, int steps, void *stream)
{
	fill_kernel<<<blocks_for(rows * cols), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
		x, dtype, matrix, rows, cols, trans, seed, steps);
	return static_cast<int>(cudaGetLastError());
}

extern "C" int strata_gemm_cuda_count_nonfinite(const void *c, int dtype, int64_t n,
						unsigned long long *d_count, void *stream)
{
	nonfinite_kernel<<<blocks_for(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
		c, dtype, n, d_count);
	return static_cast<int>(cudaGetLastError());
}
