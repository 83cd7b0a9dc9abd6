/* gemm_gpu_input.h: the GPU GEMM's input generator, compiled twice: by nvcc
 * into the device fill kernel (kernels/cuda/gemm_cuda.cu) and by the C
 * compiler into the host reference (kernels/gpu/gemm_gpu.c), so the two can
 * never disagree.  That is why these few functions have bodies in a header.
 *
 * op(A)(i, l) and op(B)(l, j) are multiples of 1/steps in [-1, 1], hashed
 * from (seed, matrix, row, column) with splitmix64's finaliser (Steele, Lea,
 * Flood, OOPSLA 2014), counter-based so any element is regenerated alone.
 * Rows and columns stay below 2^24 (the suite caps them at 2^20).
 */
#ifndef STRATA_KERNELS_GPU_GEMM_GPU_INPUT_H
#define STRATA_KERNELS_GPU_GEMM_GPU_INPUT_H

#include <stdint.h>

#ifdef __CUDACC__
#define STRATA_HD __host__ __device__
#else
#define STRATA_HD
#endif

static inline STRATA_HD uint64_t strata_gemm_gpu_mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* matrix: 0 for op(A) (M x K), 1 for op(B) (K x N). */
static inline STRATA_HD double strata_gemm_gpu_input(uint64_t seed, int matrix, int64_t row,
						     int64_t col, int steps)
{
	uint64_t key = ((uint64_t)(matrix & 1) << 62) ^ ((uint64_t)row << 24) ^ (uint64_t)col;
	uint64_t h = strata_gemm_gpu_mix64(seed ^ strata_gemm_gpu_mix64(key));
	return (double)((int64_t)(h % (uint64_t)(2 * steps + 1)) - steps) / (double)steps;
}

#endif
