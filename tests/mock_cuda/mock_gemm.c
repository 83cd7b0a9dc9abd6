/* mock_gemm.c: C copies of the launchers of kernels/cuda/gemm_cuda_fill.cu
 * (strata_gemm_cuda_fill, strata_gemm_cuda_count_nonfinite) for the host
 * stand-in of CUDA (strata_mock_cuda), so the gemm suite's device-cuda path
 * (kernels/cuda/gemm_cuda.c) runs on host memory.
 *
 * What it is: the same index arithmetic and the same generator
 * (kernels/gpu/gemm_gpu_input.h) as the kernels, each element stored through
 * mock_cuda.c's conversions (double for FP64, else through float, rounded to
 * nearest even, FP8 saturating) as the kernel's store() does.  Both replace
 * every extern "C" function of gemm_cuda_fill.cu, so its object is never
 * linked.  What it is not: a test of the CUDA kernels themselves; a GPU run
 * of the gemm suite is.
 */
#include <math.h>
#include <stdint.h>

#include <cuda_runtime_api.h>
#include <library_types.h>

#include "kernels/cuda/gemm_cuda.h"
#include "kernels/gpu/gemm_gpu_input.h"

/* mock_cuda.c's element conversions. */
double mock_gemm_load(const void *p, cudaDataType t, long i);
void mock_gemm_store(void *p, cudaDataType t, long i, double v);

/* Storage of A and B (which) or of C, as gemm_cuda.c's ab_type / c_type;
 * -1 for a dtype out of range. */
static int storage_type(int dtype, int of_c)
{
	switch (dtype) {
	case STRATA_GEMM_GPU_FLOAT64: return CUDA_R_64F;
	case STRATA_GEMM_GPU_FLOAT32:
	case STRATA_GEMM_GPU_TFLOAT32: return CUDA_R_32F;
	case STRATA_GEMM_GPU_FLOAT16: return CUDA_R_16F;
	case STRATA_GEMM_GPU_BFLOAT16: return CUDA_R_16BF;
	case STRATA_GEMM_GPU_FLOAT8_E4M3: return of_c ? CUDA_R_16BF : CUDA_R_8F_E4M3;
	default: return -1;
	}
}

/* fill_kernel: op(X) is rows x cols, stored column-major as (rows, cols), or
 * as (cols, rows) when trans. */
int strata_gemm_cuda_fill(void *x, int dtype, int matrix, int64_t rows, int64_t cols, int trans,
			  uint64_t seed, int steps, void *stream)
{
	(void)stream;
	const int t = storage_type(dtype, 0);
	if (t < 0 || !x || rows < 0 || cols < 0 || steps < 1)
		return cudaErrorInvalidValue;
	for (int64_t idx = 0; idx < rows * cols; idx++) {
		int64_t r, c;
		if (!trans) {
			r = idx % rows;
			c = idx / rows;
		} else {
			c = idx % cols;
			r = idx / cols;
		}
		mock_gemm_store(x, (cudaDataType)t, (long)idx,
				strata_gemm_gpu_input(seed, matrix, r, c, steps));
	}
	return cudaSuccess;
}

/* nonfinite_kernel: adds (atomicAdd) the NaN/Inf elements of C to *d_count. */
int strata_gemm_cuda_count_nonfinite(const void *c, int dtype, int64_t n,
				     unsigned long long *d_count, void *stream)
{
	(void)stream;
	const int t = storage_type(dtype, 1);
	if (t < 0 || !c || !d_count)
		return cudaErrorInvalidValue;
	unsigned long long found = 0;
	for (int64_t i = 0; i < n; i++)
		if (!isfinite(mock_gemm_load(c, (cudaDataType)t, (long)i)))
			found++;
	*d_count += found;
	return cudaSuccess;
}
