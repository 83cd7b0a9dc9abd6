/* stream.c: the STREAM Copy/Scale/Add/Triad kernels on the CPU (double, OpenMP),
 * their first-touch initialisation and their element-by-element check.
 *
 * Written after McCalpin's STREAM v5.10 (github.com/jeffhammond/STREAM,
 * stream.c), not copied from it: the loops, the scalar 3.0, the byte counts and
 * the 1e-13 tolerance are STREAM's; the initial values are our own (they vary
 * with the index so a misplaced element is caught, where STREAM's constant
 * a=1, b=2, c=0 would not catch one).  This file is not a driver: it neither
 * times nor prints.  See stream.h for the array and kernel notation.
 */
#include "kernels/cpu/stream.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

/* Period of the initial pattern: a prime, so the pattern does not line up
 * with power-of-two thread chunks, pages or cache lines. */
#define PATTERN_PERIOD 11

const char *strata_stream_kernel_name(enum strata_stream_kernel k)
{
	static const char *const names[STRATA_STREAM_NKERNELS] = { "copy", "scale", "add",
								    "triad" };
	return (unsigned)k < STRATA_STREAM_NKERNELS ? names[k] : NULL;
}

/* STREAM's byte counting (stream.c, bytes[4]):
 *   Copy  2 * sizeof(STREAM_TYPE) * STREAM_ARRAY_SIZE   (read a, write c)
 *   Scale 2 * sizeof(STREAM_TYPE) * STREAM_ARRAY_SIZE   (read c, write b)
 *   Add   3 * sizeof(STREAM_TYPE) * STREAM_ARRAY_SIZE   (read a, b, write c)
 *   Triad 3 * sizeof(STREAM_TYPE) * STREAM_ARRAY_SIZE   (read b, c, write a)
 * Like STREAM we count each array once.  The write-allocate read that a
 * normal (non-streaming) store causes -- the line of the destination is read
 * into the cache before it is overwritten -- is NOT counted, so the memory
 * traffic really moved is up to 3/2 (copy, scale) or 4/3 (add, triad) of this
 * figure on write-allocate caches. */
uint64_t strata_stream_bytes(enum strata_stream_kernel k, size_t n)
{
	switch (k) {
	case STRATA_STREAM_COPY:
	case STRATA_STREAM_SCALE:
		return 2ull * sizeof(double) * (uint64_t)n;
	case STRATA_STREAM_ADD:
	case STRATA_STREAM_TRIAD:
		return 3ull * sizeof(double) * (uint64_t)n;
	case STRATA_STREAM_NKERNELS:
		break;
	}
	return 0;
}

/* Initial values: small integers and halves, exact in binary, distinct per
 * array, and such that every kernel's result differs from the initial value
 * of the array it writes (so a kernel that did not run is caught):
 *   a0 = 1 + p, b0 = 2 + p, c0 = 0.5 + p,  p = j mod 11
 *   copy  c = a0          = 1 + p      (c0 = 0.5 + p)
 *   scale b = 3 * c0      = 1.5 + 3p   (b0 = 2 + p)
 *   add   c = a0 + b0     = 3 + 2p     (c0 = 0.5 + p)
 *   triad a = b0 + 3 * c0 = 3.5 + 4p   (a0 = 1 + p)                      */
double strata_stream_initial(char array, size_t j)
{
	double p = (double)(j % PATTERN_PERIOD);
	switch (array) {
	case 'a': return 1.0 + p;
	case 'b': return 2.0 + p;
	case 'c': return 0.5 + p;
	}
	return NAN;
}

double strata_stream_expected(enum strata_stream_kernel k, char array, size_t j)
{
	const double q = STRATA_STREAM_SCALAR;
	switch (k) {
	case STRATA_STREAM_COPY:
		if (array == 'c')
			return strata_stream_initial('a', j);
		break;
	case STRATA_STREAM_SCALE:
		if (array == 'b')
			return q * strata_stream_initial('c', j);
		break;
	case STRATA_STREAM_ADD:
		if (array == 'c')
			return strata_stream_initial('a', j) + strata_stream_initial('b', j);
		break;
	case STRATA_STREAM_TRIAD:
		if (array == 'a')
			return strata_stream_initial('b', j) + q * strata_stream_initial('c', j);
		break;
	case STRATA_STREAM_NKERNELS:
		return NAN;
	}
	return strata_stream_initial(array, j); /* an input or untouched array */
}

int strata_stream_init(struct strata_stream *s, size_t n, int threads, char *err,
		       size_t err_len)
{
	*s = (struct strata_stream){ 0 };
	if (n == 0 || threads < 1) {
		snprintf(err, err_len, "stream: need n >= 1 and threads >= 1 (n=%zu, threads=%d)",
			 n, threads);
		return -1;
	}
	if (n > SIZE_MAX / sizeof(double)) {
		snprintf(err, err_len, "stream: %zu elements overflow size_t", n);
		return -1;
	}
	size_t bytes = n * sizeof(double);
	double **arrays[3] = { &s->a, &s->b, &s->c };
	for (int i = 0; i < 3; i++) {
		void *p = NULL;
		int rc = posix_memalign(&p, STRATA_STREAM_ALIGN_BYTES, bytes);
		if (rc != 0) {
			snprintf(err, err_len, "stream: posix_memalign of %zu bytes for array %c failed: %s",
				 bytes, "abc"[i], strerror(rc));
			strata_stream_release(s);
			return -1;
		}
		*arrays[i] = p;
	}
	s->n = n;
	s->threads = threads;

	/* First touch: the same team size and static schedule as the kernels, so
	 * the thread that writes a page here is the thread that streams it later
	 * and the OS places the page on that thread's NUMA node. */
	double *restrict a = s->a, *restrict b = s->b, *restrict c = s->c;
#pragma omp parallel for schedule(static) num_threads(threads)
	for (size_t j = 0; j < n; j++) {
		a[j] = strata_stream_initial('a', j);
		b[j] = strata_stream_initial('b', j);
		c[j] = strata_stream_initial('c', j);
	}
	return 0;
}

void strata_stream_release(struct strata_stream *s)
{
	free(s->a);
	free(s->b);
	free(s->c);
	*s = (struct strata_stream){ 0 };
}

/* The kernels.  schedule(static) is libgomp's default and what STREAM gets
 * from its bare `omp parallel for`; we name it so first touch and kernels
 * provably share one element-to-thread mapping. */
void strata_stream_copy(double *restrict c, const double *restrict a, size_t n, int threads)
{
#pragma omp parallel for schedule(static) num_threads(threads)
	for (size_t j = 0; j < n; j++)
		c[j] = a[j];
}

void strata_stream_scale(double *restrict b, const double *restrict c, double scalar,
			 size_t n, int threads)
{
#pragma omp parallel for schedule(static) num_threads(threads)
	for (size_t j = 0; j < n; j++)
		b[j] = scalar * c[j];
}

void strata_stream_add(double *restrict c, const double *restrict a,
		       const double *restrict b, size_t n, int threads)
{
#pragma omp parallel for schedule(static) num_threads(threads)
	for (size_t j = 0; j < n; j++)
		c[j] = a[j] + b[j];
}

void strata_stream_triad(double *restrict a, const double *restrict b,
			 const double *restrict c, double scalar, size_t n, int threads)
{
#pragma omp parallel for schedule(static) num_threads(threads)
	for (size_t j = 0; j < n; j++)
		a[j] = b[j] + scalar * c[j];
}

int strata_stream_run(struct strata_stream *s, enum strata_stream_kernel k)
{
	const double q = STRATA_STREAM_SCALAR;
	switch (k) {
	case STRATA_STREAM_COPY:
		strata_stream_copy(s->c, s->a, s->n, s->threads);
		return 0;
	case STRATA_STREAM_SCALE:
		strata_stream_scale(s->b, s->c, q, s->n, s->threads);
		return 0;
	case STRATA_STREAM_ADD:
		strata_stream_add(s->c, s->a, s->b, s->n, s->threads);
		return 0;
	case STRATA_STREAM_TRIAD:
		strata_stream_triad(s->a, s->b, s->c, q, s->n, s->threads);
		return 0;
	case STRATA_STREAM_NKERNELS:
		break;
	}
	return -1;
}

/* STREAM's test per element (checkSTREAMresults, the VERBOSE loop):
 * |x / expected - 1| > epsilon.  Written as a product so expected values near
 * zero do not divide, and negated so a NaN (which compares false) is wrong. */
static inline int is_wrong(double actual, double expected)
{
	return !(fabs(actual - expected) <= STRATA_STREAM_EPSILON * fabs(expected));
}

int64_t strata_stream_check(const struct strata_stream *s, enum strata_stream_kernel k,
			    struct strata_stream_error *first)
{
	if ((unsigned)k >= STRATA_STREAM_NKERNELS || s->n == 0)
		return -1;
	/* Expected values depend only on j mod PATTERN_PERIOD: tabulate them. */
	double want[3][PATTERN_PERIOD];
	for (int i = 0; i < 3; i++)
		for (size_t p = 0; p < PATTERN_PERIOD; p++)
			want[i][p] = strata_stream_expected(k, "abc"[i], p);

	const double *restrict a = s->a, *restrict b = s->b, *restrict c = s->c;
	const size_t n = s->n;
	int64_t wrong = 0;
	size_t first_j = SIZE_MAX;
#pragma omp parallel for schedule(static) num_threads(s->threads) \
	reduction(+ : wrong) reduction(min : first_j)
	for (size_t j = 0; j < n; j++) {
		size_t p = j % PATTERN_PERIOD;
		int bad = is_wrong(a[j], want[0][p]) + is_wrong(b[j], want[1][p]) +
			  is_wrong(c[j], want[2][p]);
		if (bad) {
			wrong += bad;
			if (j < first_j)
				first_j = j;
		}
	}
	if (wrong > 0 && first) {
		/* At the lowest wrong index, report the first of a, b, c that is wrong. */
		const double *arr[3] = { a, b, c };
		size_t p = first_j % PATTERN_PERIOD;
		for (int i = 0; i < 3; i++) {
			if (is_wrong(arr[i][first_j], want[i][p])) {
				*first = (struct strata_stream_error){ .array = "abc"[i],
								       .index = first_j,
								       .expected = want[i][p],
								       .actual = arr[i][first_j] };
				break;
			}
		}
	}
	return wrong;
}
