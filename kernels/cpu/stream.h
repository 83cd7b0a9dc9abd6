/* stream.h: the four STREAM kernels (Copy, Scale, Add, Triad) on the CPU, in
 * double precision with OpenMP, plus the first-touch initialisation and the
 * element-by-element check that go with them.
 *
 * What this is: the measured code of the membw suite, after John McCalpin's
 * STREAM (stream.c v5.10, github.com/jeffhammond/STREAM): the same loops, the
 * same byte counts, the same relative tolerance (1e-13 for double).  What it is
 * not: a copy of stream.c, a timer or a driver; the runner times, the suite
 * decides sizes.  No function here prints.
 *
 * Arrays (each of n doubles, the same n for all three):
 *   a (n)  b (n)  c (n)
 * Kernels, q = STRATA_STREAM_SCALAR:
 *   copy   c = a           reads a,    writes c
 *   scale  b = q * c       reads c,    writes b
 *   add    c = a + b       reads a, b, writes c
 *   triad  a = b + q * c   reads b, c, writes a
 * Each kernel alone is idempotent given its inputs (it never reads what it
 * writes), so one kernel can be repeated any number of times and still be
 * checked against values computed from the initial arrays.
 */
#ifndef STRATA_KERNELS_CPU_STREAM_H
#define STRATA_KERNELS_CPU_STREAM_H

#include <stddef.h>
#include <stdint.h>

/* STREAM's scalar (stream.c: scalar = 3.0). */
#define STRATA_STREAM_SCALAR 3.0
/* STREAM's validation tolerance for 8-byte types (checkSTREAMresults:
 * epsilon = 1.e-13 when sizeof(STREAM_TYPE) == 8). */
#define STRATA_STREAM_EPSILON 1e-13
/* Alignment of every array: one page, so the arrays start on a page like
 * STREAM's static arrays and so first touch places whole pages. */
#define STRATA_STREAM_ALIGN_BYTES 4096

enum strata_stream_kernel {
	STRATA_STREAM_COPY = 0,
	STRATA_STREAM_SCALE,
	STRATA_STREAM_ADD,
	STRATA_STREAM_TRIAD,
	STRATA_STREAM_NKERNELS,
};

/* The three arrays of one rank and the OpenMP team that touches them. */
struct strata_stream {
	double *a; /* (n) */
	double *b; /* (n) */
	double *c; /* (n) */
	size_t n;  /* elements per array */
	int threads; /* OpenMP threads of every parallel loop, >= 1 */
};

/* One wrong element, as verify reports it. */
struct strata_stream_error {
	char array;       /* 'a', 'b' or 'c' */
	size_t index;     /* element index */
	double expected;
	double actual;
};

/* "copy", "scale", "add", "triad" (NULL for an out-of-range kernel). */
const char *strata_stream_kernel_name(enum strata_stream_kernel k);

/* Bytes one iteration of kernel k is counted as moving over n elements,
 * STREAM's rule: copy and scale 2 * 8 * n, add and triad 3 * 8 * n.
 * Write-allocate traffic is not counted (see stream.c). 0 if k is invalid. */
uint64_t strata_stream_bytes(enum strata_stream_kernel k, size_t n);

/* Allocate the three arrays (page-aligned) and first-touch initialise them in
 * an OpenMP parallel for with the kernels' static schedule and team size, so
 * each page lands on the NUMA node of the thread that will stream it.
 * Returns 0, or -1 with a message in err.  threads must be >= 1. */
int strata_stream_init(struct strata_stream *s, size_t n, int threads, char *err,
		       size_t err_len);

/* Free the arrays; s may be partly initialised or already released. */
void strata_stream_release(struct strata_stream *s);

/* The kernels themselves: OpenMP parallel for, schedule(static), `threads`
 * threads.  Pointers must not overlap. */
void strata_stream_copy(double *restrict c, const double *restrict a, size_t n, int threads);
void strata_stream_scale(double *restrict b, const double *restrict c, double scalar,
			 size_t n, int threads);
void strata_stream_add(double *restrict c, const double *restrict a,
		       const double *restrict b, size_t n, int threads);
void strata_stream_triad(double *restrict a, const double *restrict b,
			 const double *restrict c, double scalar, size_t n, int threads);

/* Run kernel k once on s (scalar STRATA_STREAM_SCALAR).  Returns 0 or -1 for
 * an invalid kernel. */
int strata_stream_run(struct strata_stream *s, enum strata_stream_kernel k);

/* Initial value of element j of array 'a', 'b' or 'c'. */
double strata_stream_initial(char array, size_t j);
/* Value element j of each array must hold after kernel k ran at least once. */
double strata_stream_expected(enum strata_stream_kernel k, char array, size_t j);

/* Check every element of all three arrays after kernel k ran at least once:
 * the written array against its expected value, the two others against their
 * initial values (a kernel must not touch its inputs).  An element is wrong
 * when |actual - expected| > STRATA_STREAM_EPSILON * |expected|, or when it is
 * NaN.  Returns the number of wrong elements (-1 for an invalid kernel); when
 * there are any and first is not NULL, *first gets the lowest wrong index and,
 * at that index, the first wrong array of a, b, c. */
int64_t strata_stream_check(const struct strata_stream *s, enum strata_stream_kernel k,
			    struct strata_stream_error *first);

#endif
