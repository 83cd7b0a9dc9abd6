/* gemm_cpu.c: OpenBLAS GEMM calls (cblas_dgemm / cblas_sgemm / cblas_sbgemm),
 * their seeded inputs and the check of C.  See gemm_cpu.h for the storage
 * layout, the generator and the two-part check.  Not a timer or a driver;
 * nothing here prints.
 */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include "kernels/cpu/gemm_cpu.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

/* Generator: values (h mod 513 - 256) / 256, i.e. multiples of 1/256 in
 * [-1, 1], which need at most 8 significant bits (bf16 has 8). */
#define GEN_STEPS 256
/* Matrix ids in the generator key. */
enum { GEN_A = 1, GEN_B = 2, GEN_X = 3, GEN_Y = 4, GEN_SAMPLE = 5 };
/* Unit roundoff of the double reference sums. */
#define U_DOUBLE 0x1p-53

/* How elements of one matrix are stored. */
enum store { ST_F64, ST_F32, ST_BF16 };

const char *strata_gemm_dtype_name(enum strata_gemm_dtype t)
{
	static const char *const names[STRATA_GEMM_NDTYPES] = { "float64", "float32", "bfloat16" };
	return (unsigned)t < STRATA_GEMM_NDTYPES ? names[t] : NULL;
}

const char *strata_gemm_routine_name(enum strata_gemm_dtype t)
{
	static const char *const names[STRATA_GEMM_NDTYPES] = { "cblas_dgemm", "cblas_sgemm",
								 "cblas_sbgemm" };
	return (unsigned)t < STRATA_GEMM_NDTYPES ? names[t] : NULL;
}

int strata_gemm_dtype_parse(const char *name, enum strata_gemm_dtype *out)
{
	for (int t = 0; t < STRATA_GEMM_NDTYPES; t++) {
		if (strcmp(name, strata_gemm_dtype_name((enum strata_gemm_dtype)t)) == 0) {
			*out = (enum strata_gemm_dtype)t;
			return 0;
		}
	}
	return -1;
}

strata_sbgemm_fn strata_gemm_cpu_find_sbgemm(void)
{
	void *sym = dlsym(RTLD_DEFAULT, "cblas_sbgemm");
	strata_sbgemm_fn fn = NULL;
	if (sym)
		memcpy(&fn, &sym, sizeof(fn)); /* POSIX: object to function pointer */
	return fn;
}

double strata_gemm_flops(int64_t m, int64_t n, int64_t k)
{
	return 2.0 * (double)m * (double)n * (double)k;
}

double strata_gemm_unit_roundoff(enum strata_gemm_dtype t)
{
	return t == STRATA_GEMM_FLOAT64 ? 0x1p-53 : 0x1p-24;
}

double strata_gemm_gamma(int64_t k, double u)
{
	double ku = (double)k * u;
	return ku < 1 ? ku / (1 - ku) : INFINITY;
}

/* splitmix64's finaliser (Steele, Lea, Flood, "Fast splittable pseudorandom
 * number generators", OOPSLA 2014): a counter-based hash, so any element can
 * be regenerated alone, in any order, by any thread. */
static uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Rows and columns are < 2^28 (the suite caps them at 2^20), so the key
 * fields never overlap. */
static uint64_t gen_key(uint64_t seed, unsigned id, int64_t row, int64_t col)
{
	return mix64(seed ^ mix64(((uint64_t)id << 56) ^ ((uint64_t)row << 28) ^ (uint64_t)col));
}

double strata_gemm_cpu_input(uint64_t seed, char matrix, int64_t row, int64_t col)
{
	uint64_t h = gen_key(seed, matrix == 'a' ? GEN_A : GEN_B, row, col);
	return (double)((int)(h % (2 * GEN_STEPS + 1)) - GEN_STEPS) / GEN_STEPS;
}

/* +1 or -1, the checksum weights. */
static double gen_sign(uint64_t seed, unsigned id, int64_t idx)
{
	return (gen_key(seed, id, idx, 0) & 1) ? 1.0 : -1.0;
}

/* float -> bf16 bits, round to nearest even (exact for the generator's
 * values, whose low 16 bits are zero). */
static uint16_t float_to_bf16(float f)
{
	uint32_t bits;
	memcpy(&bits, &f, sizeof(bits));
	bits += 0x7fffu + ((bits >> 16) & 1u);
	return (uint16_t)(bits >> 16);
}

static double bf16_to_double(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, sizeof(f));
	return f;
}

static enum store input_store(enum strata_gemm_dtype t)
{
	return t == STRATA_GEMM_FLOAT64 ? ST_F64 : t == STRATA_GEMM_FLOAT32 ? ST_F32 : ST_BF16;
}

static enum store output_store(enum strata_gemm_dtype t)
{
	return t == STRATA_GEMM_FLOAT64 ? ST_F64 : ST_F32;
}

static size_t store_bytes(enum store st)
{
	return st == ST_F64 ? sizeof(double) : st == ST_F32 ? sizeof(float) : sizeof(uint16_t);
}

static void store_put(void *x, enum store st, size_t idx, double v)
{
	switch (st) {
	case ST_F64: ((double *)x)[idx] = v; break;
	case ST_F32: ((float *)x)[idx] = (float)v; break;
	case ST_BF16: ((uint16_t *)x)[idx] = float_to_bf16((float)v); break;
	}
}

/* dst[r] = stored element (r, col), r < len, as double. */
static void load_col(const void *x, enum store st, int64_t ld, int64_t col, int64_t len,
		     double *dst)
{
	size_t base = (size_t)col * (size_t)ld;
	switch (st) {
	case ST_F64: {
		const double *p = (const double *)x + base;
		for (int64_t r = 0; r < len; r++)
			dst[r] = p[r];
		break;
	}
	case ST_F32: {
		const float *p = (const float *)x + base;
		for (int64_t r = 0; r < len; r++)
			dst[r] = p[r];
		break;
	}
	case ST_BF16: {
		const uint16_t *p = (const uint16_t *)x + base;
		for (int64_t r = 0; r < len; r++)
			dst[r] = bf16_to_double(p[r]);
		break;
	}
	}
}

static void *alloc_aligned(size_t bytes)
{
	size_t rounded = (bytes + STRATA_GEMM_ALIGN_BYTES - 1) / STRATA_GEMM_ALIGN_BYTES *
			 STRATA_GEMM_ALIGN_BYTES;
	return aligned_alloc(STRATA_GEMM_ALIGN_BYTES, rounded ? rounded : STRATA_GEMM_ALIGN_BYTES);
}

/* Fill a stored (sr, sc) matrix, leading dimension ld, from the generator:
 * stored (r, c) is op(X)(r, c), or op(X)(c, r) when trans. */
static void fill_input(void *x, enum store st, int64_t sr, int64_t sc, int64_t ld, int trans,
		       uint64_t seed, char matrix, int threads)
{
#pragma omp parallel for schedule(static) num_threads(threads)
	for (int64_t c = 0; c < sc; c++)
		for (int64_t r = 0; r < sr; r++)
			store_put(x, st, (size_t)c * (size_t)ld + (size_t)r,
				  trans ? strata_gemm_cpu_input(seed, matrix, c, r)
					: strata_gemm_cpu_input(seed, matrix, r, c));
}

static void fill_nan(void *x, enum store st, int64_t sr, int64_t sc, int64_t ld, int threads)
{
#pragma omp parallel for schedule(static) num_threads(threads)
	for (int64_t c = 0; c < sc; c++)
		for (int64_t r = 0; r < sr; r++)
			store_put(x, st, (size_t)c * (size_t)ld + (size_t)r, NAN);
}

int strata_gemm_cpu_init(struct strata_gemm_cpu *g, enum strata_gemm_dtype dtype, int64_t m,
			 int64_t n, int64_t k, int transa, int transb, uint64_t seed,
			 strata_sbgemm_fn sbgemm, int init_threads, char *err, size_t err_len)
{
	memset(g, 0, sizeof(*g));
	if ((unsigned)dtype >= STRATA_GEMM_NDTYPES || m < 1 || n < 1 || k < 1 ||
	    m >= (1 << 28) || n >= (1 << 28) || k >= (1 << 28)) {
		snprintf(err, err_len, "invalid GEMM: dtype %d, %lld x %lld x %lld", (int)dtype,
			 (long long)m, (long long)n, (long long)k);
		return -1;
	}
	if (dtype == STRATA_GEMM_BFLOAT16 && !sbgemm) {
		snprintf(err, err_len, "bfloat16 GEMM needs cblas_sbgemm");
		return -1;
	}
	const enum store in = input_store(dtype), out = output_store(dtype);
	g->dtype = dtype;
	g->m = m;
	g->n = n;
	g->k = k;
	g->transa = transa != 0;
	g->transb = transb != 0;
	g->lda = g->transa ? k : m;
	g->ldb = g->transb ? n : k;
	g->ldc = m;
	g->seed = seed;
	g->sbgemm = sbgemm;
	g->a_bytes = (size_t)m * (size_t)k * store_bytes(in);
	g->b_bytes = (size_t)k * (size_t)n * store_bytes(in);
	g->c_bytes = (size_t)m * (size_t)n * store_bytes(out);
	g->a = alloc_aligned(g->a_bytes);
	g->b = alloc_aligned(g->b_bytes);
	g->c = alloc_aligned(g->c_bytes);
	if (!g->a || !g->b || !g->c) {
		snprintf(err, err_len, "cannot allocate A, B, C (%zu + %zu + %zu bytes)", g->a_bytes,
			 g->b_bytes, g->c_bytes);
		strata_gemm_cpu_release(g);
		return -1;
	}
	if (init_threads < 1)
		init_threads = 1;
	/* a: (M, K) or (K, M) stored; b: (K, N) or (N, K) stored; c: (M, N). */
	fill_input(g->a, in, g->transa ? k : m, g->transa ? m : k, g->lda, g->transa, seed, 'a',
		   init_threads);
	fill_input(g->b, in, g->transb ? n : k, g->transb ? k : n, g->ldb, g->transb, seed, 'b',
		   init_threads);
	/* NaN, so a C that no GEMM wrote fails the check (beta = 0: BLAS does
	 * not read C). */
	fill_nan(g->c, out, m, n, g->ldc, init_threads);
	return 0;
}

void strata_gemm_cpu_release(struct strata_gemm_cpu *g)
{
	free(g->a);
	free(g->b);
	free(g->c);
	g->a = g->b = g->c = NULL;
}

int strata_gemm_cpu_run(struct strata_gemm_cpu *g)
{
	const enum CBLAS_TRANSPOSE ta = g->transa ? CblasTrans : CblasNoTrans;
	const enum CBLAS_TRANSPOSE tb = g->transb ? CblasTrans : CblasNoTrans;
	const int m = (int)g->m, n = (int)g->n, k = (int)g->k;
	const int lda = (int)g->lda, ldb = (int)g->ldb, ldc = (int)g->ldc;
	switch (g->dtype) {
	case STRATA_GEMM_FLOAT64:
		cblas_dgemm(CblasColMajor, ta, tb, m, n, k, 1.0, g->a, lda, g->b, ldb, 0.0, g->c,
			    ldc);
		return 0;
	case STRATA_GEMM_FLOAT32:
		cblas_sgemm(CblasColMajor, ta, tb, m, n, k, 1.0f, g->a, lda, g->b, ldb, 0.0f, g->c,
			    ldc);
		return 0;
	case STRATA_GEMM_BFLOAT16:
		if (!g->sbgemm)
			return -1;
		g->sbgemm(CblasColMajor, ta, tb, m, n, k, 1.0f, g->a, lda, g->b, ldb, 0.0f, g->c,
			  ldc);
		return 0;
	case STRATA_GEMM_NDTYPES:
		break;
	}
	return -1;
}

double strata_gemm_cpu_get_c(const struct strata_gemm_cpu *g, int64_t i, int64_t j)
{
	size_t idx = (size_t)j * (size_t)g->ldc + (size_t)i;
	return output_store(g->dtype) == ST_F64 ? ((const double *)g->c)[idx]
						: ((const float *)g->c)[idx];
}

void strata_gemm_cpu_set_c(struct strata_gemm_cpu *g, int64_t i, int64_t j, double v)
{
	store_put(g->c, output_store(g->dtype), (size_t)j * (size_t)g->ldc + (size_t)i, v);
}

/* ---- check, part 1: elements one by one ------------------------------------ */

struct ij {
	int64_t i, j;
};

static int ij_cmp(const void *pa, const void *pb)
{
	const struct ij *a = pa, *b = pb;
	if (a->j != b->j)
		return a->j < b->j ? -1 : 1;
	if (a->i != b->i)
		return a->i < b->i ? -1 : 1;
	return 0;
}

/* Reference C(i, j) = sum_l op(A)(i, l) op(B)(l, j) in double from the
 * generator (exact: see gemm_cpu.h), and sum_l |op(A)(i, l)| |op(B)(l, j)|. */
static double reference(const struct strata_gemm_cpu *g, int64_t i, int64_t j, double *abs_sum)
{
	double s = 0, sa = 0;
	for (int64_t l = 0; l < g->k; l++) {
		double p = strata_gemm_cpu_input(g->seed, 'a', i, l) *
			   strata_gemm_cpu_input(g->seed, 'b', l, j);
		s += p;
		sa += fabs(p);
	}
	*abs_sum = sa;
	return s;
}

/* Check the listed elements (sorted, duplicates removed here); record the
 * first wrong one.  Returns the number wrong. */
static int64_t check_elements(const struct strata_gemm_cpu *g, struct ij *list, size_t count,
			      struct strata_gemm_check *out)
{
	const double factor = strata_gemm_gamma(g->k, strata_gemm_unit_roundoff(g->dtype)) +
			      strata_gemm_gamma(g->k, U_DOUBLE);
	qsort(list, count, sizeof(*list), ij_cmp);
	int64_t wrong = 0;
	for (size_t s = 0; s < count; s++) {
		if (s > 0 && ij_cmp(&list[s], &list[s - 1]) == 0)
			continue;
		double abs_sum, ref = reference(g, list[s].i, list[s].j, &abs_sum);
		double c = strata_gemm_cpu_get_c(g, list[s].i, list[s].j);
		double tol = factor * abs_sum;
		out->checked++;
		if (fabs(c - ref) <= tol) /* false for NaN */
			continue;
		if (wrong++ == 0) {
			out->first_i = list[s].i;
			out->first_j = list[s].j;
			out->first_expected = ref;
			out->first_actual = c;
			out->first_tolerance = tol;
		}
	}
	return wrong;
}

/* ---- check, part 2: row and column checksums ------------------------------- */

/* Inputs and outputs of one pass over a logical (R, Cn) matrix V = op(X):
 *   racc1[r] += sum_c V(r,c) cw1[c]      racc2[r] += sum_c |V(r,c)| cw2[c]
 *   cacc1[c] += sum_r rw1[r] V(r,c)      cacc2[c] += sum_r rw2[r] |V(r,c)|
 * Any output may be NULL (with its weights). */
struct sweep_io {
	const double *cw1, *cw2, *rw1, *rw2;
	double *racc1, *racc2, *cacc1, *cacc2;
};

/* One pass in storage order: X is stored column-major with leading
 * dimension ld, as (R, Cn), or as (Cn, R) when trans.  tmp holds
 * max(R, Cn) doubles. */
static void sweep(const void *x, enum store st, int64_t ld, int trans, int64_t R, int64_t Cn,
		  const struct sweep_io *io, double *tmp)
{
	if (!trans) {
		for (int64_t c = 0; c < Cn; c++) {
			load_col(x, st, ld, c, R, tmp); /* tmp[r] = V(r, c) */
			double s1 = 0, s2 = 0;
			for (int64_t r = 0; r < R; r++) {
				double v = tmp[r], av = fabs(v);
				if (io->racc1)
					io->racc1[r] += v * io->cw1[c];
				if (io->racc2)
					io->racc2[r] += av * io->cw2[c];
				if (io->cacc1)
					s1 += io->rw1[r] * v;
				if (io->cacc2)
					s2 += io->rw2[r] * av;
			}
			if (io->cacc1)
				io->cacc1[c] += s1;
			if (io->cacc2)
				io->cacc2[c] += s2;
		}
		return;
	}
	for (int64_t r = 0; r < R; r++) {
		load_col(x, st, ld, r, Cn, tmp); /* tmp[c] = V(r, c) */
		double s1 = 0, s2 = 0;
		for (int64_t c = 0; c < Cn; c++) {
			double v = tmp[c], av = fabs(v);
			if (io->racc1)
				s1 += v * io->cw1[c];
			if (io->racc2)
				s2 += av * io->cw2[c];
			if (io->cacc1)
				io->cacc1[c] += io->rw1[r] * v;
			if (io->cacc2)
				io->cacc2[c] += io->rw2[r] * av;
		}
		if (io->racc1)
			io->racc1[r] += s1;
		if (io->racc2)
			io->racc2[r] += s2;
	}
}

/* Doubles of scratch the checksums need; named offsets into one block. */
enum {
	V_X, V_Y, V_ONES, V_BX, V_BABS, V_RREF, V_WROW, V_T, V_SABS,
	V_CREF, V_WCOL, V_RC, V_CROW, V_CC, V_CCOL, V_TMP, V_COUNT
};

struct checksums {
	double *v[V_COUNT];
	double *block;
};

/* Returns 0, or -1 on allocation failure.  Fills the failing row and
 * column lists (caller frees) and the counts in out. */
static int run_checksums(const struct strata_gemm_cpu *g, struct strata_gemm_check *out,
			 int64_t **rows, int64_t **cols)
{
	const int64_t m = g->m, n = g->n, k = g->k;
	const int64_t big = m > n ? (m > k ? m : k) : (n > k ? n : k);
	/* Length of each vector (x: N, y: M, ones: max, ... see the uses). */
	const int64_t len[V_COUNT] = { [V_X] = n,    [V_Y] = m,    [V_ONES] = big, [V_BX] = k,
				       [V_BABS] = k, [V_RREF] = m, [V_WROW] = m,  [V_T] = k,
				       [V_SABS] = k, [V_CREF] = n, [V_WCOL] = n,  [V_RC] = m,
				       [V_CROW] = m, [V_CC] = n,   [V_CCOL] = n,  [V_TMP] = big };
	size_t total = 0;
	for (int i = 0; i < V_COUNT; i++)
		total += (size_t)len[i];
	struct checksums cs;
	cs.block = calloc(total, sizeof(double));
	*rows = malloc((size_t)m * sizeof(int64_t));
	*cols = malloc((size_t)n * sizeof(int64_t));
	if (!cs.block || !*rows || !*cols) {
		free(cs.block);
		free(*rows);
		free(*cols);
		*rows = *cols = NULL;
		return -1;
	}
	size_t off = 0;
	for (int i = 0; i < V_COUNT; i++) {
		cs.v[i] = cs.block + off;
		off += (size_t)len[i];
	}
	double **v = cs.v;
	for (int64_t j = 0; j < n; j++)
		v[V_X][j] = gen_sign(g->seed, GEN_X, j);
	for (int64_t i = 0; i < m; i++)
		v[V_Y][i] = gen_sign(g->seed, GEN_Y, i);
	for (int64_t i = 0; i < big; i++)
		v[V_ONES][i] = 1.0;

	const enum store in = input_store(g->dtype);
	/* op(B) (K, N): bx = op(B) x, babs = |op(B)| 1. */
	sweep(g->b, in, g->ldb, g->transb, k, n,
	      &(struct sweep_io){ .cw1 = v[V_X], .cw2 = v[V_ONES], .racc1 = v[V_BX],
				  .racc2 = v[V_BABS] },
	      v[V_TMP]);
	/* op(A) (M, K): rref = op(A) bx, wrow = |op(A)| babs = (|A||B| 1),
	 * t = y^T op(A), sabs = 1^T |op(A)|. */
	sweep(g->a, in, g->lda, g->transa, m, k,
	      &(struct sweep_io){ .cw1 = v[V_BX], .cw2 = v[V_BABS], .racc1 = v[V_RREF],
				  .racc2 = v[V_WROW], .rw1 = v[V_Y], .rw2 = v[V_ONES],
				  .cacc1 = v[V_T], .cacc2 = v[V_SABS] },
	      v[V_TMP]);
	/* op(B) again: cref = t^T op(B), wcol = sabs^T |op(B)| = (1^T |A||B|). */
	sweep(g->b, in, g->ldb, g->transb, k, n,
	      &(struct sweep_io){ .rw1 = v[V_T], .rw2 = v[V_SABS], .cacc1 = v[V_CREF],
				  .cacc2 = v[V_WCOL] },
	      v[V_TMP]);
	/* C (M, N): rc = C x, crow = |C| 1, cc = y^T C, ccol = 1^T |C|. */
	sweep(g->c, output_store(g->dtype), g->ldc, 0, m, n,
	      &(struct sweep_io){ .cw1 = v[V_X], .cw2 = v[V_ONES], .racc1 = v[V_RC],
				  .racc2 = v[V_CROW], .rw1 = v[V_Y], .rw2 = v[V_ONES],
				  .cacc1 = v[V_CC], .cacc2 = v[V_CCOL] },
	      v[V_TMP]);

	/* |sum_j x_j (C - AB)_ij| <= sum_j |C - AB|_ij <= gamma_K(u) (|A||B| 1)_i;
	 * the double reference op(A)(op(B)x) is off by at most
	 * gamma_{K+N}(2^-53) (|A||B| 1)_i, C x by gamma_N(2^-53) (|C| 1)_i; the
	 * weight sum itself is rounded, covered by doubling the double term. */
	const double g_k = strata_gemm_gamma(k, strata_gemm_unit_roundoff(g->dtype));
	const double row_ref = g_k + 2 * strata_gemm_gamma(k + n + 2, U_DOUBLE);
	const double row_c = strata_gemm_gamma(n + 1, U_DOUBLE);
	const double col_ref = g_k + 2 * strata_gemm_gamma(k + m + 2, U_DOUBLE);
	const double col_c = strata_gemm_gamma(m + 1, U_DOUBLE);
	for (int64_t i = 0; i < m; i++) {
		double tol = row_ref * v[V_WROW][i] + row_c * v[V_CROW][i];
		double diff = fabs(v[V_RC][i] - v[V_RREF][i]);
		if (diff <= tol)
			continue;
		if (out->rows_failing == 0) {
			out->row_i = i;
			out->row_expected = v[V_RREF][i];
			out->row_actual = v[V_RC][i];
			out->row_tolerance = tol;
		}
		(*rows)[out->rows_failing++] = i;
	}
	for (int64_t j = 0; j < n; j++) {
		double tol = col_ref * v[V_WCOL][j] + col_c * v[V_CCOL][j];
		if (fabs(v[V_CC][j] - v[V_CREF][j]) <= tol)
			continue;
		(*cols)[out->cols_failing++] = j;
	}
	free(cs.block);
	return 0;
}

int64_t strata_gemm_cpu_check(const struct strata_gemm_cpu *g, struct strata_gemm_check *out)
{
	memset(out, 0, sizeof(*out));
	out->first_i = out->first_j = out->row_i = -1;
	const int64_t m = g->m, n = g->n;

	int64_t *rows = NULL, *cols = NULL;
	if (run_checksums(g, out, &rows, &cols) != 0)
		return -1;

	/* Part 1's samples, then the intersections of failing rows and columns
	 * (all rows, or all columns, when only the other kind fails). */
	const int64_t all = m * n;
	const int exhaustive = all <= STRATA_GEMM_SAMPLES + 4;
	size_t cap = (exhaustive ? (size_t)all : STRATA_GEMM_SAMPLES + 4) +
		     STRATA_GEMM_LOCATE_BUDGET;
	struct ij *list = malloc(cap * sizeof(*list));
	if (!list) {
		free(rows);
		free(cols);
		return -1;
	}
	size_t count = 0;
	if (exhaustive) {
		for (int64_t j = 0; j < n; j++)
			for (int64_t i = 0; i < m; i++)
				list[count++] = (struct ij){ i, j };
	} else {
		list[count++] = (struct ij){ 0, 0 };
		list[count++] = (struct ij){ m - 1, 0 };
		list[count++] = (struct ij){ 0, n - 1 };
		list[count++] = (struct ij){ m - 1, n - 1 };
		for (int64_t s = 0; s < STRATA_GEMM_SAMPLES; s++) {
			uint64_t h = gen_key(g->seed, GEN_SAMPLE, s, 0);
			list[count++] = (struct ij){ (int64_t)((h >> 32) % (uint64_t)m),
						     (int64_t)((h & 0xffffffffu) % (uint64_t)n) };
		}
	}
	if (out->rows_failing > 0 || out->cols_failing > 0) {
		const int64_t nr = out->rows_failing > 0 ? out->rows_failing : m;
		const int64_t nc = out->cols_failing > 0 ? out->cols_failing : n;
		size_t budget = STRATA_GEMM_LOCATE_BUDGET;
		for (int64_t b = 0; b < nc && budget > 0; b++)
			for (int64_t a = 0; a < nr && budget > 0; a++, budget--)
				list[count++] = (struct ij){
					out->rows_failing > 0 ? rows[a] : a,
					out->cols_failing > 0 ? cols[b] : b,
				};
	}
	int64_t found = check_elements(g, list, count, out);
	free(list);
	free(rows);
	free(cols);

	int64_t wrong = found;
	if (out->rows_failing > wrong)
		wrong = out->rows_failing;
	if (out->cols_failing > wrong)
		wrong = out->cols_failing;
	out->wrong = wrong;
	return wrong;
}
