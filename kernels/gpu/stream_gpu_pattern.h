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

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define STRATA_HD __host__ __device__
#else
#define STRATA_HD
#endif

#define STRATA_STREAM_GPU_PERIOD 1024
#define STRATA_STREAM_GPU_SCALAR 3.0
/* STREAM's relative tolerance for double (stream.c v5.10, checkSTREAMresults). */
#define STRATA_STREAM_GPU_EPSILON 1e-13

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

/* One element's check: |x - e| <= 1e-13 |e|; a NaN is wrong. */
static inline STRATA_HD int strata_stream_gpu_element_ok(double x, double e)
{
	return fabs(x - e) <= STRATA_STREAM_GPU_EPSILON * fabs(e);
}

/* Host side only from here. */

/* The exact a . b of the initial arrays of n elements: every product and
 * partial sum is an integer below 2^53 (for n below about 2.5e10), so the
 * sum is exact in double. */
static inline double strata_stream_gpu_dot_exact(uint64_t n)
{
	const uint64_t period = STRATA_STREAM_GPU_PERIOD;
	double whole = 0, rest = 0;
	for (uint64_t p = 0; p < period; p++) {
		double t = strata_stream_gpu_initial(0, p) * strata_stream_gpu_initial(1, p);
		whole += t;
		if (p < n % period)
			rest += t;
	}
	return (double)(n / period) * whole + rest;
}

/* Whether a dot product of n positive terms summed in any order is within
 * gamma_n(u) |exact| of exact, u = 2^-53 (Higham, Accuracy and Stability of
 * Numerical Algorithms, 2nd ed., eq. 4.4). */
static inline int strata_stream_gpu_dot_ok(double sum, uint64_t n)
{
	const double exact = strata_stream_gpu_dot_exact(n);
	const double nu = (double)n * 0x1p-53;
	return fabs(sum - exact) <= nu / (1 - nu) * fabs(exact);
}

#endif
