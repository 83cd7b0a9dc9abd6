/* stream_gpu_pattern.h: initial and expected values of the GPU STREAM arrays,
 * compiled by nvcc into the device init/check kernels and by the C compiler
 * into the host side (messages, the dot product's exact value), so they
 * cannot disagree; that is why these functions have bodies in a header.
 *
 * Arrays a, b, c of n doubles; p = j mod STRATA_STREAM_GPU_PERIOD;
 * a = 1 + p, b = 2 + p, c = 0.5 + p (as kernels/cpu/stream.c).  Kernels, as
 * STREAM with q = 3 (each idempotent given its inputs, so one kernel repeats):
 *   copy c = a;  scale b = q c;  add c = a + b;  triad a = b + q c;
 *   dot  s = sum_j a_j b_j (BabelStream's fifth kernel; writes nothing).
 */
#ifndef STRATA_KERNELS_GPU_STREAM_GPU_PATTERN_H
#define STRATA_KERNELS_GPU_STREAM_GPU_PATTERN_H

#include <stdint.h>

#ifdef __CUDACC__
#define STRATA_HD __host__ __device__
#else
#define STRATA_HD
#endif

#define STRATA_STREAM_GPU_PERIOD 1024
#define STRATA_STREAM_GPU_SCALAR 3.0

enum strata_stream_gpu_kernel {
	STRATA_STREAM_GPU_COPY = 0,
	STRATA_STREAM_GPU_SCALE,
	STRATA_STREAM_GPU_ADD,
	STRATA_STREAM_GPU_TRIAD,
	STRATA_STREAM_GPU_DOT,
	STRATA_STREAM_GPU_NKERNELS,
};

/* array: 0 = a, 1 = b, 2 = c */
static inline STRATA_HD double strata_stream_gpu_initial(int array, uint64_t j)
{
	double p = (double)(j % STRATA_STREAM_GPU_PERIOD);
	return (array == 0 ? 1.0 : array == 1 ? 2.0 : 0.5) + p;
}

static inline STRATA_HD double strata_stream_gpu_expected(int kernel, int array, uint64_t j)
{
	const double q = STRATA_STREAM_GPU_SCALAR;
	if (kernel == STRATA_STREAM_GPU_COPY && array == 2)
		return strata_stream_gpu_initial(0, j);
	if (kernel == STRATA_STREAM_GPU_SCALE && array == 1)
		return q * strata_stream_gpu_initial(2, j);
	if (kernel == STRATA_STREAM_GPU_ADD && array == 2)
		return strata_stream_gpu_initial(0, j) + strata_stream_gpu_initial(1, j);
	if (kernel == STRATA_STREAM_GPU_TRIAD && array == 0)
		return strata_stream_gpu_initial(1, j) + q * strata_stream_gpu_initial(2, j);
	return strata_stream_gpu_initial(array, j); /* an input, or dot */
}

#endif
