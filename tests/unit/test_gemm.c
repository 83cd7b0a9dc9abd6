/* test_gemm.c: unit tests of the gemm suite (suites/gemm.c), its OpenBLAS
 * kernel and check (kernels/cpu/gemm_cpu.c) and the CPU peak derivation
 * (kernels/cpu/cpu_peak.c), run as one MPI singleton rank.
 *
 * Covers: small real GEMMs of every dtype and transpose through the suite's
 * setup / run_once / verify, passing; the check catching a corrupted element
 * outside the samples (checksums), a small error at a sampled corner, a NaN,
 * and a C that no GEMM wrote; the bfloat16 skip when OpenBLAS has no
 * cblas_sbgemm, and the bfloat16 storage and check driven by a plain
 * stand-in sbgemm; the GFLOP/s formula and metrics; threads restored after a
 * case; peak parsing on fixed /proc/cpuinfo texts (AVX-512 Intel, AVX2 AMD,
 * Zen 4, AVX-only, no flags).  Not a benchmark: nothing here is timed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cblas.h>
#include <math.h>
#include <mpi.h>

#include "harness/suite.h"
#include "kernels/cpu/cpu_peak.h"
#include "kernels/cpu/gemm_cpu.h"

extern const struct strata_suite strata_suite_gemm;

/* ---- helpers --------------------------------------------------------------- */

struct test_case {
	struct strata_params params;
	struct strata_case c;
	char err[1024];
};

/* Fill tc with one value per gemm parameter, each parsed by
 * strata_value_parse() as the plan loader would: the row's default unless
 * overrides (NULL-terminated name, value pairs) names it. */
static void make_case(struct test_case *tc, const char *const *overrides)
{
	const struct strata_suite *suite = &strata_suite_gemm;
	memset(tc, 0, sizeof(*tc));
	tc->params.suite = suite;
	for (size_t i = 0; i < suite->n_params; i++) {
		const struct strata_param_def *def = &suite->params[i];
		const char *text = def->def;
		for (const char *const *o = overrides; o && o[0]; o += 2)
			if (strcmp(o[0], def->name) == 0)
				text = o[1];
		char why[256];
		if (strata_value_parse(def, text, &tc->params.v[i], why, sizeof(why)) != 0)
			fail_msg("parse %s = %s: %s", def->name, text, why);
	}
	tc->c = (struct strata_case){ .comm = MPI_COMM_WORLD, .rank = 0, .nranks = 1,
				      .local_rank = 0, .local_size = 1, .params = &tc->params,
				      .err = tc->err, .err_len = sizeof(tc->err) };
}

/* setup + one run_once; returns the state. */
static void *setup_and_run(struct test_case *tc)
{
	void *state = NULL;
	int rc = strata_suite_gemm.setup(&tc->c, &state);
	if (rc != STRATA_OK)
		fail_msg("setup returned %d: %s", rc, tc->err);
	assert_int_equal(strata_suite_gemm.run_once(state, &tc->c), STRATA_OK);
	return state;
}

/* The suite's state begins with struct strata_gemm_cpu (see gemm.c). */
static struct strata_gemm_cpu *gemm_of(void *state)
{
	return (struct strata_gemm_cpu *)state;
}

static int sbgemm_available(void)
{
	return strata_gemm_cpu_find_sbgemm() != NULL;
}

/* ---- real GEMMs through the suite pass -------------------------------------- */

static void run_and_pass(const char *dtype, const char *m, const char *n, const char *k,
			 const char *ta, const char *tb)
{
	struct test_case tc;
	const char *const ov[] = { "dtype", dtype, "m", m, "n", n, "k", k, "transa", ta,
				   "transb", tb, "threads", "2", NULL };
	make_case(&tc, ov);
	void *state = setup_and_run(&tc);
	int64_t wrong = strata_suite_gemm.verify(state, &tc.c);
	if (wrong != 0)
		fail_msg("%s %sx%sx%s transa=%s transb=%s: %lld wrong: %s", dtype, m, n, k, ta, tb,
			 (long long)wrong, tc.err);
	strata_suite_gemm.teardown(state);
}

static void test_float64_passes(void **unused)
{
	(void)unused;
	run_and_pass("float64", "37", "29", "53", "no", "no");
	run_and_pass("float64", "64", "48", "40", "yes", "no");
	run_and_pass("float64", "64", "48", "40", "no", "yes");
	run_and_pass("float64", "96", "80", "200", "yes", "yes");
	run_and_pass("float64", "1", "1", "1", "no", "no");
	run_and_pass("float64", "10", "20", "7", "no", "no"); /* M N <= 260: every element */
}

static void test_float32_passes(void **unused)
{
	(void)unused;
	run_and_pass("float32", "37", "29", "53", "no", "no");
	run_and_pass("float32", "64", "48", "40", "yes", "yes");
	run_and_pass("float32", "128", "96", "1000", "no", "yes");
}

/* bfloat16 runs and passes where OpenBLAS has cblas_sbgemm, and is skipped
 * with a reason naming it where it has not (Debian 12's 0.3.21). */
static void test_bfloat16_runs_or_skips(void **unused)
{
	(void)unused;
	struct test_case tc;
	const char *const ov[] = { "dtype", "bfloat16", "m", "40", "n", "24", "k", "72", NULL };
	make_case(&tc, ov);
	void *state = NULL;
	int rc = strata_suite_gemm.setup(&tc.c, &state);
	if (!sbgemm_available()) {
		assert_int_equal(rc, STRATA_SKIP);
		assert_null(state);
		assert_non_null(strstr(tc.err, "has no cblas_sbgemm"));
		assert_non_null(strstr(tc.err, "skipped"));
		return;
	}
	assert_int_equal(rc, STRATA_OK);
	assert_int_equal(strata_suite_gemm.run_once(state, &tc.c), STRATA_OK);
	int64_t wrong = strata_suite_gemm.verify(state, &tc.c);
	if (wrong != 0)
		fail_msg("bfloat16: %lld wrong: %s", (long long)wrong, tc.err);
	strata_suite_gemm.teardown(state);
}

/* A plain cblas_sbgemm stand-in (column-major, fp32 accumulation), so the
 * bfloat16 storage, call and check are exercised where OpenBLAS has none. */
static float bf16_value(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;
	memcpy(&f, &bits, sizeof(f));
	return f;
}

static void naive_sbgemm(int order, int transa, int transb, int m, int n, int k, float alpha,
			 const uint16_t *a, int lda, const uint16_t *b, int ldb, float beta,
			 float *c, int ldc)
{
	assert_int_equal(order, CblasColMajor);
	for (int j = 0; j < n; j++)
		for (int i = 0; i < m; i++) {
			float s = 0;
			for (int l = 0; l < k; l++) {
				float x = bf16_value(transa == CblasTrans ? a[l + i * lda]
									  : a[i + l * lda]);
				float y = bf16_value(transb == CblasTrans ? b[j + l * ldb]
									  : b[l + j * ldb]);
				s += x * y;
			}
			c[i + j * ldc] = alpha * s + (beta != 0 ? beta * c[i + j * ldc] : 0);
		}
}

static void test_bfloat16_path_with_stand_in(void **unused)
{
	(void)unused;
	struct strata_gemm_cpu g;
	struct strata_gemm_check chk;
	char why[256];
	for (int t = 0; t < 4; t++) {
		assert_int_equal(strata_gemm_cpu_init(&g, STRATA_GEMM_BFLOAT16, 45, 31, 200, t & 1,
						      t >> 1, 9, naive_sbgemm, 1, why, sizeof(why)),
				 0);
		assert_int_equal(strata_gemm_cpu_check(&g, &chk), 45 * 31); /* NaN: never ran */
		assert_int_equal(strata_gemm_cpu_run(&g), 0);
		if (strata_gemm_cpu_check(&g, &chk) != 0)
			fail_msg("bf16 transa=%d transb=%d: %lld wrong, first C[%lld,%lld] = %g "
				 "expected %g", t & 1, t >> 1, (long long)chk.wrong,
				 (long long)chk.first_i, (long long)chk.first_j, chk.first_actual,
				 chk.first_expected);
		strata_gemm_cpu_set_c(&g, 30, 12, strata_gemm_cpu_get_c(&g, 30, 12) - 50.0);
		assert_int_equal(strata_gemm_cpu_check(&g, &chk), 1);
		assert_int_equal(chk.first_i, 30);
		assert_int_equal(chk.first_j, 12);
		strata_gemm_cpu_release(&g);
	}
	/* Without a routine, init refuses bfloat16. */
	assert_int_equal(strata_gemm_cpu_init(&g, STRATA_GEMM_BFLOAT16, 4, 4, 4, 0, 0, 9, NULL, 1,
					      why, sizeof(why)),
			 -1);
}

/* For float64 the generator's inputs make the GEMM exact: C equals the
 * double reference bit for bit (gemm_cpu.h). */
static void test_float64_is_exact(void **unused)
{
	(void)unused;
	struct strata_gemm_cpu g;
	char why[256];
	assert_int_equal(strata_gemm_cpu_init(&g, STRATA_GEMM_FLOAT64, 33, 17, 300, 0, 1, 42, NULL,
					      1, why, sizeof(why)),
			 0);
	assert_int_equal(strata_gemm_cpu_run(&g), 0);
	for (int64_t i = 0; i < g.m; i += 8)
		for (int64_t j = 0; j < g.n; j += 4) {
			double ref = 0;
			for (int64_t l = 0; l < g.k; l++)
				ref += strata_gemm_cpu_input(42, 'a', i, l) *
				       strata_gemm_cpu_input(42, 'b', l, j);
			assert_true(strata_gemm_cpu_get_c(&g, i, j) == ref);
		}
	/* Inputs: multiples of 1/256 in [-1, 1]. */
	for (int64_t l = 0; l < 1000; l++) {
		double v = strata_gemm_cpu_input(7, 'a', l % 13, l);
		assert_true(v >= -1 && v <= 1);
		assert_true(v * 256 == floor(v * 256));
	}
	strata_gemm_cpu_release(&g);
}

/* ---- the check catches wrong answers ---------------------------------------- */

/* An element the samples are unlikely to hold: caught by the checksums and
 * located at the intersection of its failing row and column. */
static void test_verify_catches_corrupted_element(void **unused)
{
	(void)unused;
	const char *dtypes[] = { "float64", "float32" };
	for (size_t d = 0; d < 2; d++) {
		struct test_case tc;
		const char *const ov[] = { "dtype", dtypes[d], "m", "64", "n", "48", "k", "40",
					   NULL };
		make_case(&tc, ov);
		void *state = setup_and_run(&tc);
		struct strata_gemm_cpu *g = gemm_of(state);
		assert_int_equal(strata_suite_gemm.verify(state, &tc.c), 0);

		double good = strata_gemm_cpu_get_c(g, 17, 23);
		strata_gemm_cpu_set_c(g, 17, 23, good + 100.0);
		int64_t wrong = strata_suite_gemm.verify(state, &tc.c);
		if (wrong != 1)
			fail_msg("%s: expected 1 wrong element, got %lld: %s", dtypes[d],
				 (long long)wrong, tc.err);
		assert_non_null(strstr(tc.err, "C[17,23]"));

		/* Put it back: passes again (the check has no memory). */
		strata_gemm_cpu_set_c(g, 17, 23, good);
		assert_int_equal(strata_suite_gemm.verify(state, &tc.c), 0);

		/* A NaN anywhere. */
		strata_gemm_cpu_set_c(g, 63, 5, NAN);
		assert_true(strata_suite_gemm.verify(state, &tc.c) >= 1);
		assert_non_null(strstr(tc.err, "C[63,5]"));
		strata_suite_gemm.teardown(state);
	}
}

/* An error just above the element bound at a sampled place (the corner):
 * too small for the row checksum, caught by the samples; just below the
 * bound it passes. */
static void test_verify_tolerance_edge(void **unused)
{
	(void)unused;
	struct test_case tc;
	const char *const ov[] = { "dtype", "float64", "m", "64", "n", "48", "k", "40", NULL };
	make_case(&tc, ov);
	void *state = setup_and_run(&tc);
	struct strata_gemm_cpu *g = gemm_of(state);
	const int64_t i = g->m - 1, j = g->n - 1, k = g->k;
	double ref = 0, abs_sum = 0;
	for (int64_t l = 0; l < k; l++) {
		double p = strata_gemm_cpu_input(g->seed, 'a', i, l) *
			   strata_gemm_cpu_input(g->seed, 'b', l, j);
		ref += p;
		abs_sum += fabs(p);
	}
	const double tol = (strata_gemm_gamma(k, 0x1p-53) * 2) * abs_sum;
	strata_gemm_cpu_set_c(g, i, j, ref + 0.5 * tol);
	assert_int_equal(strata_suite_gemm.verify(state, &tc.c), 0);
	strata_gemm_cpu_set_c(g, i, j, ref + 2.0 * tol);
	assert_int_equal(strata_suite_gemm.verify(state, &tc.c), 1);
	assert_non_null(strstr(tc.err, "C[63,47]"));
	strata_suite_gemm.teardown(state);
}

/* verify before any run_once: C is still NaN. */
static void test_never_ran_is_caught(void **unused)
{
	(void)unused;
	struct test_case tc;
	const char *const ov[] = { "m", "20", "n", "30", "k", "10", NULL };
	make_case(&tc, ov);
	void *state = NULL;
	assert_int_equal(strata_suite_gemm.setup(&tc.c, &state), STRATA_OK);
	assert_int_equal(strata_suite_gemm.verify(state, &tc.c), 20 * 30);
	assert_non_null(strstr(tc.err, "never ran"));
	strata_suite_gemm.teardown(state);
}

/* ---- metrics, details, threads ---------------------------------------------- */

static const struct strata_metric *find_metric(const struct strata_metric *m, size_t n,
					       const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(m[i].name, name) == 0)
			return &m[i];
	return NULL;
}

static void test_gflops_formula(void **unused)
{
	(void)unused;
	assert_true(strata_gemm_flops(2, 3, 4) == 48.0);
	assert_true(strata_gemm_flops(4096, 4096, 4096) == 2.0 * 4096.0 * 4096.0 * 4096.0);
	assert_true(strata_gemm_gamma(10, 0x1p-24) == 10 * 0x1p-24 / (1 - 10 * 0x1p-24));
	assert_true(isinf(strata_gemm_gamma(1LL << 24, 0x1p-24)));

	struct test_case tc;
	const char *const ov[] = { "m", "100", "n", "200", "k", "300", "peak_gflops", "60", NULL };
	make_case(&tc, ov);
	tc.c.nranks = 4;
	void *state = NULL;
	assert_int_equal(strata_suite_gemm.setup(&tc.c, &state), STRATA_OK);
	struct strata_metric m[STRATA_MAX_METRICS];
	size_t n = strata_suite_gemm.metrics(state, &tc.c, 0.002, m, STRATA_MAX_METRICS);
	assert_int_equal(n, 4);
	/* 2 * 100 * 200 * 300 = 12e6 FLOP in 2 ms = 6 GFLOP/s. */
	const struct strata_metric *gf = find_metric(m, n, "gflops");
	assert_non_null(gf);
	assert_string_equal(gf->unit, "GFLOP/s");
	assert_true(fabs(gf->value - 6.0) < 1e-12);
	assert_int_equal(gf->higher_is_better, 1);
	assert_true(fabs(find_metric(m, n, "aggregate_gflops")->value - 24.0) < 1e-12);
	assert_true(fabs(find_metric(m, n, "peak_fraction")->value - 0.1) < 1e-12);
	const struct strata_metric *t = find_metric(m, n, "time");
	assert_true(fabs(t->value - 2.0) < 1e-12);
	assert_int_equal(t->higher_is_better, 0);
	assert_int_equal(strata_suite_gemm.metrics(state, &tc.c, 0, m, STRATA_MAX_METRICS), 0);

	json_t *d = json_object();
	strata_suite_gemm.describe(state, &tc.c, d);
	assert_string_equal(json_string_value(json_object_get(d, "peak_source")), "plan");
	assert_true(json_real_value(json_object_get(d, "peak_gflops")) == 60.0);
	assert_string_equal(json_string_value(json_object_get(d, "dtype")), "float64");
	assert_int_equal(json_integer_value(json_object_get(d, "k")), 300);
	json_t *ob = json_object_get(d, "openblas");
	assert_non_null(strstr(json_string_value(json_object_get(ob, "config")), "OpenBLAS"));
	assert_true(json_integer_value(json_object_get(d, "threads")) >= 1);
	json_decref(d);
	strata_suite_gemm.teardown(state);
}

/* threads: N sets OpenBLAS's count for the case, teardown restores it. */
static void test_threads_restored(void **unused)
{
	(void)unused;
	const int before = openblas_get_num_threads();
	const char *want = before == 1 ? "2" : "1";
	struct test_case tc;
	const char *const ov[] = { "m", "8", "n", "8", "k", "8", "threads", want, NULL };
	make_case(&tc, ov);
	void *state = NULL;
	assert_int_equal(strata_suite_gemm.setup(&tc.c, &state), STRATA_OK);
	assert_int_equal(openblas_get_num_threads(), atoi(want));
	json_t *d = json_object();
	strata_suite_gemm.describe(state, &tc.c, d);
	assert_int_equal(json_integer_value(json_object_get(d, "threads")), atoi(want));
	/* Derived peak: its source names the derivation, or says it is unknown. */
	const char *src = json_string_value(json_object_get(d, "peak_source"));
	assert_true(strncmp(src, "derived: ", 9) == 0 || strncmp(src, "unknown", 7) == 0);
	json_decref(d);
	strata_suite_gemm.teardown(state);
	assert_int_equal(openblas_get_num_threads(), before);
}

/* ---- peak from fixed /proc/cpuinfo texts ------------------------------------ */

static const char cpuinfo_avx512[] =
	"processor\t: 0\n"
	"vendor_id\t: GenuineIntel\n"
	"cpu family\t: 6\n"
	"model\t\t: 85\n"
	"model name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\n"
	"stepping\t: 7\n"
	"cpu MHz\t\t: 1000.152\n"
	"flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr sse sse2 ss ht syscall "
	"nx pdpe1gb rdtscp lm pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 x2apic movbe popcnt "
	"aes xsave avx f16c rdrand lahf_lm abm avx2 smep bmi2 erms invpcid avx512f avx512dq "
	"rdseed adx smap clflushopt clwb avx512cd avx512bw avx512vl xsaveopt avx512_vnni\n"
	"bogomips\t: 5000.00\n"
	"\n"
	"processor\t: 1\n"
	"vendor_id\t: GenuineIntel\n"
	"flags\t\t: fpu sse2\n"
	"\n";

static const char cpuinfo_avx2[] =
	"processor\t: 0\n"
	"vendor_id\t: AuthenticAMD\n"
	"cpu family\t: 25\n"
	"model\t\t: 1\n"
	"model name\t: AMD EPYC 7763 64-Core Processor\n"
	"cpu MHz\t\t: 2450.000\n"
	"flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov sse sse2 "
	"ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc pni pclmulqdq ssse3 fma "
	"cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand lahf_lm avx2 bmi2 sha_ni\n"
	"\n";

/* Zen 4: family 25 with AVX-512 and AVX512_BF16. */
static const char cpuinfo_zen4[] =
	"vendor_id\t: AuthenticAMD\n"
	"cpu family\t: 25\n"
	"model name\t: AMD EPYC 9654 96-Core Processor\n"
	"cpu MHz\t\t: 2400.000\n"
	"flags\t\t: sse2 avx fma avx2 avx512f avx512_bf16 avx512vl\n";

static const char cpuinfo_spr[] =
	"vendor_id\t: GenuineIntel\n"
	"cpu family\t: 6\n"
	"model name\t: Intel(R) Xeon(R) Platinum 8480+\n"
	"cpu MHz\t\t: 2000.000\n"
	"flags\t\t: sse2 avx fma avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n";

static const char cpuinfo_avx_only[] =
	"vendor_id\t: GenuineIntel\n"
	"cpu family\t: 6\n"
	"model name\t: Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz\n"
	"flags\t\t: fpu sse sse2 avx avx512 xavx\n"; /* look-alike words must not count */

static const char cpuinfo_arm[] =
	"processor\t: 0\n"
	"BogoMIPS\t: 50.00\n"
	"Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics sve\n"
	"CPU implementer\t: 0x41\n";

static void test_parse_cpuinfo(void **unused)
{
	(void)unused;
	struct strata_cpu_info ci;
	assert_int_equal(strata_cpu_peak_parse_cpuinfo(cpuinfo_avx512, &ci), 0);
	assert_string_equal(ci.vendor, "GenuineIntel");
	assert_int_equal(ci.family, 6);
	assert_string_equal(ci.model_name, "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz");
	assert_true(fabs(ci.cpu_mhz - 1000.152) < 1e-9);
	assert_true(ci.isa & STRATA_ISA_AVX512F);
	assert_true(ci.isa & STRATA_ISA_FMA);
	assert_false(ci.isa & STRATA_ISA_AVX512_BF16);

	assert_int_equal(strata_cpu_peak_parse_cpuinfo(cpuinfo_avx_only, &ci), 0);
	assert_int_equal(ci.isa, STRATA_ISA_SSE2 | STRATA_ISA_AVX);

	assert_int_equal(strata_cpu_peak_parse_cpuinfo(cpuinfo_arm, &ci), -1);
	assert_int_equal(strata_cpu_peak_parse_cpuinfo("", &ci), -1);

	assert_true(strata_cpu_peak_model_ghz("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz") == 2.5);
	assert_true(strata_cpu_peak_model_ghz("Intel(R) Pentium(R) III CPU @ 800MHz") == 0.8);
	assert_true(strata_cpu_peak_model_ghz("AMD EPYC 7763 64-Core Processor") == 0);
	assert_true(strata_cpu_peak_model_ghz("Weird @ fast") == 0);
}

static void test_peak_avx512(void **unused)
{
	(void)unused;
	struct strata_cpu_peak pk;
	/* cpufreq maximum wins over the model name and cpu MHz. */
	assert_int_equal(strata_cpu_peak_derive(cpuinfo_avx512, "3900000\n", 20, STRATA_CPU_FP64,
						&pk),
			 0);
	assert_int_equal(pk.flops_per_cycle, 32);
	assert_true(fabs(pk.ghz - 3.9) < 1e-12);
	assert_true(fabs(pk.gflops - 20 * 3.9 * 32) < 1e-9);
	assert_string_equal(pk.isa, "avx512f");
	assert_non_null(strstr(pk.source, "derived: 20 cores x 3.900 GHz x 32 FLOP/cycle"));
	assert_non_null(strstr(pk.source, "2 FMA units assumed"));
	assert_non_null(strstr(pk.source, "cpuinfo_max_freq"));

	/* No cpufreq: the model name's "@ 2.50GHz". */
	assert_int_equal(strata_cpu_peak_derive(cpuinfo_avx512, NULL, 2, STRATA_CPU_FP32, &pk), 0);
	assert_int_equal(pk.flops_per_cycle, 64);
	assert_true(fabs(pk.gflops - 2 * 2.5 * 64) < 1e-9);
	assert_non_null(strstr(pk.source, "model name"));

	/* bf16 without AVX512_BF16 or AMX: the fp32 rate. */
	assert_int_equal(strata_cpu_peak_derive(cpuinfo_avx512, NULL, 1, STRATA_CPU_BF16, &pk), 0);
	assert_int_equal(pk.flops_per_cycle, 64);
}

static void test_peak_avx2(void **unused)
{
	(void)unused;
	struct strata_cpu_peak pk;
	/* No cpufreq, no "@" in the name: cpu MHz. */
	assert_int_equal(strata_cpu_peak_derive(cpuinfo_avx2, NULL, 64, STRATA_CPU_FP64, &pk), 0);
	assert_int_equal(pk.flops_per_cycle, 16);
	assert_string_equal(pk.isa, "avx2+fma");
	assert_true(fabs(pk.ghz - 2.45) < 1e-12);
	assert_true(fabs(pk.gflops - 64 * 2.45 * 16) < 1e-9);
	assert_non_null(strstr(pk.source, "cpu MHz"));
	assert_int_equal(strata_cpu_peak_derive(cpuinfo_avx2, "", 1, STRATA_CPU_FP32, &pk), 0);
	assert_int_equal(pk.flops_per_cycle, 32);
}

static void test_peak_other_cpus(void **unused)
{
	(void)unused;
	struct strata_cpu_peak pk;
	/* Zen 4: AVX-512 at the AVX2 rate. */
	assert_int_equal(strata_cpu_peak_derive(cpuinfo_zen4, NULL, 1, STRATA_CPU_FP64, &pk), 0);
	assert_int_equal(pk.flops_per_cycle, 16);
	assert_int_equal(strata_cpu_peak_derive(cpuinfo_zen4, NULL, 1, STRATA_CPU_BF16, &pk), 0);
	assert_int_equal(pk.flops_per_cycle, 64);
	/* Sapphire Rapids: AMX for bf16, AVX-512 for fp64. */
	assert_int_equal(strata_cpu_peak_derive(cpuinfo_spr, NULL, 1, STRATA_CPU_BF16, &pk), 0);
	assert_int_equal(pk.flops_per_cycle, 1024);
	assert_string_equal(pk.isa, "amx_bf16");
	assert_int_equal(strata_cpu_peak_derive(cpuinfo_spr, NULL, 1, STRATA_CPU_FP64, &pk), 0);
	assert_int_equal(pk.flops_per_cycle, 32);
	/* AVX without FMA: 8 fp64. */
	assert_int_equal(strata_cpu_peak_derive(cpuinfo_avx_only, NULL, 8, STRATA_CPU_FP64, &pk), 0);
	assert_int_equal(pk.flops_per_cycle, 8);
	assert_true(fabs(pk.gflops - 8 * 2.6 * 8) < 1e-9);
	assert_non_null(strstr(pk.source, "1 add + 1 multiply port"));
	/* Not x86: unknown, with a reason. */
	assert_int_equal(strata_cpu_peak_derive(cpuinfo_arm, NULL, 8, STRATA_CPU_FP64, &pk), -1);
	assert_true(pk.gflops == 0);
	assert_non_null(strstr(pk.source, "peak_gflops"));
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_float64_passes),
		cmocka_unit_test(test_float32_passes),
		cmocka_unit_test(test_bfloat16_runs_or_skips),
		cmocka_unit_test(test_bfloat16_path_with_stand_in),
		cmocka_unit_test(test_float64_is_exact),
		cmocka_unit_test(test_verify_catches_corrupted_element),
		cmocka_unit_test(test_verify_tolerance_edge),
		cmocka_unit_test(test_never_ran_is_caught),
		cmocka_unit_test(test_gflops_formula),
		cmocka_unit_test(test_threads_restored),
		cmocka_unit_test(test_parse_cpuinfo),
		cmocka_unit_test(test_peak_avx512),
		cmocka_unit_test(test_peak_avx2),
		cmocka_unit_test(test_peak_other_cpus),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	MPI_Finalize();
	return failed;
}
