/* gemm_cpu.h: the measured OpenBLAS GEMM calls of the gemm suite, their
 * deterministic inputs and the check of their output.
 *
 * What it is: one C = alpha * op(A) * op(B) + beta * C call through cblas
 * (cblas_dgemm, cblas_sgemm, or cblas_sbgemm when the loaded OpenBLAS has it),
 * column-major, alpha = 1, beta = 0 (so any number of calls leaves the same,
 * checkable C); inputs from a seeded counter-based generator; and a check of
 * C against a double-precision reference.  What it is not: a timer, a driver
 * or a BLAS; no function here prints.
 *
 * Dimension letters, used in every shape comment:
 *   M rows of op(A) and C, N columns of op(B) and C, K the inner dimension.
 * Storage (column-major, as the reference BLAS):
 *   a: (M, K), lda = M; or (K, M), lda = K when transa (op(A) = A^T)
 *   b: (K, N), ldb = K; or (N, K), ldb = N when transb
 *   c: (M, N), ldc = M
 * Element types: float64 -> a, b, c double; float32 -> a, b, c float;
 * bfloat16 -> a, b uint16_t (bf16 bits), c float (cblas_sbgemm's output).
 *
 * Inputs: op(A)(i, l) and op(B)(l, j) are multiples of 1/256 in [-1, 1],
 * hashed from (seed, matrix, row, column), so they are exact in bf16, float
 * and double alike, every product is exact in double, and a K-term sum of
 * them is exact in double while K * 2^16 < 2^53: the double reference is
 * exact for any size this suite accepts.
 */
#ifndef STRATA_KERNELS_CPU_GEMM_CPU_H
#define STRATA_KERNELS_CPU_GEMM_CPU_H

#include <stddef.h>
#include <stdint.h>

enum strata_gemm_dtype {
	STRATA_GEMM_FLOAT64 = 0,
	STRATA_GEMM_FLOAT32,
	STRATA_GEMM_BFLOAT16,
	STRATA_GEMM_NDTYPES,
};

/* Elements checked one by one besides the four corners of C. */
#define STRATA_GEMM_SAMPLES 256
/* At most this many (row, column) intersections of failing checksums are
 * checked one by one to locate wrong elements. */
#define STRATA_GEMM_LOCATE_BUDGET 4096
/* Page alignment of every matrix (first touch places whole pages). */
#define STRATA_GEMM_ALIGN_BYTES 4096

/* cblas_sbgemm's signature (OpenBLAS cblas.h, BUILD_BFLOAT16), with its
 * bfloat16 type spelled uint16_t. */
typedef void (*strata_sbgemm_fn)(int order, int transa, int transb, int m, int n, int k,
				 float alpha, const uint16_t *a, int lda, const uint16_t *b,
				 int ldb, float beta, float *c, int ldc);

struct strata_gemm_cpu {
	enum strata_gemm_dtype dtype;
	int64_t m, n, k;
	int transa, transb; /* 1: op(X) = X^T */
	int64_t lda, ldb, ldc;
	void *a; /* see the storage table above */
	void *b;
	void *c;
	size_t a_bytes, b_bytes, c_bytes;
	uint64_t seed;
	strata_sbgemm_fn sbgemm; /* bfloat16 only */
};

/* What the check found. */
struct strata_gemm_check {
	int64_t checked;       /* elements compared one by one */
	int64_t wrong;         /* wrong elements found (see strata_gemm_cpu_check) */
	int64_t rows_failing;  /* row checksums off by more than their bound */
	int64_t cols_failing;  /* column checksums off by more than their bound */
	/* The first wrong element in column-major order, when wrong > 0 and one
	 * was located (first_i < 0 otherwise): */
	int64_t first_i, first_j;
	double first_expected, first_actual, first_tolerance;
	/* The first failing row checksum (row_i < 0 if none). */
	int64_t row_i;
	double row_expected, row_actual, row_tolerance;
};

/* "float64", "float32", "bfloat16"; NULL when out of range. */
const char *strata_gemm_dtype_name(enum strata_gemm_dtype t);
/* The cblas routine of t: "cblas_dgemm", ... */
const char *strata_gemm_routine_name(enum strata_gemm_dtype t);
/* Parse a dtype name.  Returns 0 or -1. */
int strata_gemm_dtype_parse(const char *name, enum strata_gemm_dtype *out);

/* cblas_sbgemm of the loaded OpenBLAS (dlsym(RTLD_DEFAULT)), or NULL. */
strata_sbgemm_fn strata_gemm_cpu_find_sbgemm(void);

/* FLOPs of one GEMM: 2 * M * N * K (LAWN 41: FMULS_GEMM = FADDS_GEMM = MNK;
 * the beta * C term is not counted, and is zero here). */
double strata_gemm_flops(int64_t m, int64_t n, int64_t k);

/* Unit roundoff of the arithmetic t's GEMM accumulates in: 2^-53 for
 * float64, 2^-24 for float32 and bfloat16 (fp32 accumulation). */
double strata_gemm_unit_roundoff(enum strata_gemm_dtype t);

/* Higham's gamma_k = k u / (1 - k u) (Accuracy and Stability of Numerical
 * Algorithms, 2nd ed., Lemma 3.1 and eq. 3.13: |C - fl(AB)| <= gamma_k |A||B|
 * for any order of summation).  INFINITY when k u >= 1. */
double strata_gemm_gamma(int64_t k, double u);

/* The generator: element (row, col) of op(A) (matrix 'a', M x K) or op(B)
 * ('b', K x N), a multiple of 1/256 in [-1, 1]. */
double strata_gemm_cpu_input(uint64_t seed, char matrix, int64_t row, int64_t col);

/* Allocate (page-aligned) and fill a, b from the generator and c with NaN,
 * in OpenMP loops of init_threads threads (first touch).  For bfloat16,
 * sbgemm must be non-NULL.  Returns 0, or -1 with a message in err. */
int strata_gemm_cpu_init(struct strata_gemm_cpu *g, enum strata_gemm_dtype dtype, int64_t m,
			 int64_t n, int64_t k, int transa, int transb, uint64_t seed,
			 strata_sbgemm_fn sbgemm, int init_threads, char *err, size_t err_len);

/* Free the matrices; g may be partly initialised or already released. */
void strata_gemm_cpu_release(struct strata_gemm_cpu *g);

/* One C = 1 * op(A) * op(B) + 0 * C through cblas.  Returns 0, or -1 when
 * the dtype has no routine (bfloat16 without sbgemm). */
int strata_gemm_cpu_run(struct strata_gemm_cpu *g);

/* C(i, j) as a double, and a setter (tests corrupt elements with it). */
double strata_gemm_cpu_get_c(const struct strata_gemm_cpu *g, int64_t i, int64_t j);
void strata_gemm_cpu_set_c(struct strata_gemm_cpu *g, int64_t i, int64_t j, double v);

/* Check C after at least one run.  Two parts:
 * 1. Element by element, against a reference computed in double from the
 *    generator (so it also catches inputs overwritten in memory): the four
 *    corners and STRATA_GEMM_SAMPLES seeded (i, j), or every element when
 *    M * N is no larger than that.  An element is wrong unless
 *        |c - ref| <= (gamma_K(u) + gamma_K(2^-53)) * sum_l |a_il| |b_lj|,
 *    Higham's bound for the GEMM plus the same for the double reference
 *    (which is exact for the generator's inputs), NaN always wrong.
 * 2. Every row and column at once, Freivalds-style: C x against A (B x) for
 *    a seeded x of +-1 (and y^T C against (y^T A) B), in double, each against
 *    the sum of the element bounds of its row (column) plus the rounding of
 *    the double sums.  A failing checksum proves its row (column) holds a
 *    wrong element; the intersections of failing rows and columns (up to
 *    STRATA_GEMM_LOCATE_BUDGET) are then checked one by one as in 1.
 * Part 2 catches gross errors anywhere (NaN, Inf, stale or misplaced data,
 * any error larger than the row's summed bound); part 1 catches small ones
 * at the sampled places.  wrong = max(elements found wrong, failing rows,
 * failing columns): a lower bound on the wrong elements of C.
 * Returns wrong, or -1 on allocation failure. */
int64_t strata_gemm_cpu_check(const struct strata_gemm_cpu *g, struct strata_gemm_check *out);

#endif
