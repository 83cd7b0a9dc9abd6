/* test_gpu.c: the CPU-side arithmetic of the CUDA backends and their skip
 * path, which CI (no GPU) can check: the peak table and link peaks, the GEMM
 * tolerance, reference, inputs and element decoding, the algorithm record,
 * telemetry statistics on synthetic samples, NCCL's exact-check moduli, the
 * collectives' busbw with batched launches, the runner's device_seconds
 * hook, and every GPU suite's setup answering STRATA_SKIP with the reason
 * when there is no usable GPU (on a machine with one those are skipped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>
#include <mpi.h>

#include "harness/measure.h"
#include "harness/plan.h"
#include "harness/suite.h"
#include "kernels/cpu/mpi_coll.h"
#include "kernels/gpu/gemm_gpu.h"
#include "kernels/gpu/gemm_gpu_input.h"
#include "kernels/gpu/gpu_peak.h"
#include "kernels/gpu/nvml.h"
#include "strata_config.h"
#if STRATA_HAVE_CUDA
#include "kernels/cuda/cuda_device.h"
#endif
#if STRATA_HAVE_CUDA && STRATA_HAVE_NCCL
#include "kernels/cuda/nccl_coll.h"
#endif

extern const struct strata_suite strata_suite_gemm, strata_suite_membw, strata_suite_allreduce,
	strata_suite_allgather, strata_suite_reduce_scatter, strata_suite_broadcast,
	strata_suite_alltoall, strata_suite_null;

static int gpu_present(void)
{
#if STRATA_HAVE_CUDA
	char why[512];
	int n = 0;
	return strata_cuda_device_count(&n, why, sizeof(why)) == 0 && n > 0;
#else
	return 0;
#endif
}

/* ---- peaks ------------------------------------------------------------------ */

static void test_peak_table_lookup(void **unused)
{
	(void)unused;
	const struct strata_gpu_model *m = strata_gpu_peak_lookup("NVIDIA H100 80GB HBM3", 9, 0);
	assert_non_null(m);
	assert_string_equal(m->model, "H100 SXM5 80GB");
	assert_true(m->tflops[STRATA_GPU_BF16] == 989.5);
	assert_true(m->tflops[STRATA_GPU_FP8] == 1979.0);
	assert_true(m->hbm_gbps == 3350);
	m = strata_gpu_peak_lookup("NVIDIA H100 PCIe", 9, 0);
	assert_non_null(m);
	assert_string_equal(m->model, "H100 PCIe 80GB");
	m = strata_gpu_peak_lookup("NVIDIA H100 NVL", 9, 0);
	assert_string_equal(m->model, "H100 NVL 94GB");
	m = strata_gpu_peak_lookup("NVIDIA GH200 480GB", 9, 0); /* not taken for an H200 */
	assert_string_equal(m->model, "GH200 (H100 96GB HBM3)");
	m = strata_gpu_peak_lookup("NVIDIA H200", 9, 0);
	assert_string_equal(m->model, "H200 SXM 141GB");
	assert_true(m->hbm_gbps == 4800);
	m = strata_gpu_peak_lookup("nvidia a100-sxm4-80gb", 8, 0); /* case-insensitive */
	assert_non_null(m);
	assert_true(m->hbm_gbps == 2039);
	assert_true(m->tflops[STRATA_GPU_FP8] == 0); /* no FP8 on Ampere */
	assert_null(strata_gpu_peak_lookup("NVIDIA A100-SXM4-80GB", 9, 0)); /* capability must match */
	assert_non_null(strata_gpu_peak_lookup("NVIDIA A100-SXM4-80GB", 0, 0)); /* or be skipped */
	assert_null(strata_gpu_peak_lookup("Tesla T4", 7, 5));
	assert_null(strata_gpu_peak_lookup(NULL, 9, 0));
	for (size_t i = 0; strata_gpu_peak_row(i); i++) {
		const struct strata_gpu_model *r = strata_gpu_peak_row(i);
		assert_true(r->hbm_gbps > 0);
		assert_non_null(r->source);
		/* every row is found by its own match string */
		assert_ptr_equal(strata_gpu_peak_lookup(r->match, r->cc_major, r->cc_minor), r);
	}
	assert_string_equal(strata_gpu_prec_name(STRATA_GPU_TF32), "tf32");
	assert_null(strata_gpu_prec_name(STRATA_GPU_NPREC));
}

static void test_link_peaks(void **unused)
{
	(void)unused;
	/* 16 lanes x 16 GT/s x 128/130 / 8 */
	assert_true(fabs(strata_gpu_pcie_gbps(4, 16) - 16 * 16.0 * 128 / 130 / 8) < 1e-12);
	assert_true(fabs(strata_gpu_pcie_gbps(5, 16) - 63.0153846) < 1e-6);
	assert_true(fabs(strata_gpu_pcie_gbps(1, 1) - 0.25) < 1e-12);
	assert_true(strata_gpu_pcie_gbps(0, 16) == 0 && strata_gpu_pcie_gbps(7, 16) == 0 &&
		    strata_gpu_pcie_gbps(4, 0) == 0);
	assert_true(strata_gpu_nvlink_gbps_per_link(9, 0) == 25);
	assert_true(strata_gpu_nvlink_gbps_per_link(10, 0) == 50);
	assert_true(strata_gpu_nvlink_gbps_per_link(8, 6) == 0); /* consumer Ampere: none */
}

/* The copy-engine peak's link: the maximum (an idle GPU reports gen1), else
 * the current one, else none. */
static void test_pcie_peak_link(void **unused)
{
	(void)unused;
	struct strata_nvml_facts f;
	int gen = 0, width = 0;
	memset(&f, 0, sizeof(f));
	f.pcie_gen = 1;
	f.pcie_width = 16;
	f.pcie_gen_max = 5;
	f.pcie_width_max = 16;
	assert_string_equal(strata_nvml_pcie_peak_link(&f, &gen, &width), "max");
	assert_int_equal(gen, 5);
	assert_int_equal(width, 16);
	f.pcie_gen_max = f.pcie_width_max = -1;
	assert_string_equal(strata_nvml_pcie_peak_link(&f, &gen, &width), "current");
	assert_int_equal(gen, 1);
	f.pcie_gen = f.pcie_width = -1;
	assert_null(strata_nvml_pcie_peak_link(&f, &gen, &width));
	assert_int_equal(gen, -1);
	assert_int_equal(width, -1);
}

/* ---- GEMM numerics -------------------------------------------------------------- */

static void test_gemm_dtypes(void **unused)
{
	(void)unused;
	enum strata_gemm_gpu_dtype t;
	assert_int_equal(strata_gemm_gpu_dtype_parse("float8_e4m3", &t), 0);
	assert_int_equal(t, STRATA_GEMM_GPU_FLOAT8_E4M3);
	assert_int_equal(strata_gemm_gpu_dtype_parse("int8", &t), -1);
	const struct strata_gemm_gpu_numerics *nm = strata_gemm_gpu_numerics(t);
	assert_int_equal(nm->ab_bytes, 1);
	assert_int_equal(nm->c_bytes, 2);
	assert_int_equal(nm->min_cc_major * 10 + nm->min_cc_minor, 89);
	assert_int_equal(nm->prec, STRATA_GPU_FP8);
	assert_string_equal(strata_gemm_gpu_numerics(STRATA_GEMM_GPU_TFLOAT32)->compute,
			    "CUBLAS_COMPUTE_32F_FAST_TF32");
	assert_null(strata_gemm_gpu_numerics(STRATA_GEMM_GPU_NDTYPES));
}

static void test_gemm_tolerance_scales_with_k_and_type(void **unused)
{
	(void)unused;
	assert_true(fabs(strata_gemm_gpu_gamma(1000, 0x1p-24) - 1000 * 0x1p-24 / (1 - 1000 * 0x1p-24)) <
		    1e-18);
	assert_true(isinf(strata_gemm_gpu_gamma(1 << 24, 0x1p-24)));
	const double ref = 10.0, abs_sum = 100.0;
	double t64 = strata_gemm_gpu_tolerance(STRATA_GEMM_GPU_FLOAT64, 4096, ref, abs_sum);
	double t32 = strata_gemm_gpu_tolerance(STRATA_GEMM_GPU_FLOAT32, 4096, ref, abs_sum);
	double t16 = strata_gemm_gpu_tolerance(STRATA_GEMM_GPU_FLOAT16, 4096, ref, abs_sum);
	double tbf = strata_gemm_gpu_tolerance(STRATA_GEMM_GPU_BFLOAT16, 4096, ref, abs_sum);
	double tf8 = strata_gemm_gpu_tolerance(STRATA_GEMM_GPU_FLOAT8_E4M3, 4096, ref, abs_sum);
	assert_true(t64 < t32 && t32 < t16 && t16 < tbf);
	assert_true(tf8 == tbf); /* fp8 writes bf16 and accumulates like the other tensor types */
	assert_true(strata_gemm_gpu_tolerance(STRATA_GEMM_GPU_BFLOAT16, 8192, ref, abs_sum) > tbf);
	/* The formula, for bfloat16: */
	double acc = strata_gemm_gpu_gamma(4096, 0x1p-22) * abs_sum;
	double want = acc + 0x1p-8 * (ref + acc) + strata_gemm_gpu_gamma(4096, 0x1p-53) * abs_sum;
	assert_true(fabs(tbf - want) <= 1e-15 * want);
	/* A bf16 result one unit in the last place off is inside; a wrong
	 * element (10% off) is outside. */
	assert_true(fabs(ref * (1 + 0x1p-8) - ref) <= tbf);
	assert_false(fabs(ref * 1.1 - ref) <= tbf);
}

static void test_gemm_inputs_and_reference(void **unused)
{
	(void)unused;
	const uint64_t seed = 42;
	int distinct = 0;
	double prev = 2;
	for (int64_t r = 0; r < 50; r++) {
		for (int64_t c = 0; c < 50; c++) {
			double v = strata_gemm_gpu_input(seed, 0, r, c, 256);
			assert_true(v >= -1 && v <= 1);
			assert_true(v * 256 == floor(v * 256)); /* multiple of 1/256 */
			float f = (float)v; /* exact in bf16: the low 16 bits of the float are 0 */
			uint32_t bits;
			memcpy(&bits, &f, sizeof(bits));
			assert_int_equal(bits & 0xffff, 0);
			double w = strata_gemm_gpu_input(seed, 1, r, c, 16);
			assert_true(w * 16 == floor(w * 16) && fabs(w) <= 1); /* exact in fp8 e4m3 */
			distinct += v != prev;
			prev = v;
		}
	}
	assert_true(distinct > 2000); /* not constant */
	assert_true(strata_gemm_gpu_input(seed, 0, 3, 4, 256) != strata_gemm_gpu_input(seed, 1, 3, 4, 256) ||
		    strata_gemm_gpu_input(seed, 0, 5, 6, 256) != strata_gemm_gpu_input(seed, 1, 5, 6, 256));
	double abs_sum = 0, s = 0, sa = 0;
	double ref = strata_gemm_gpu_reference(STRATA_GEMM_GPU_BFLOAT16, seed, 7, 9, 33, &abs_sum);
	for (int64_t l = 0; l < 33; l++) {
		double p = strata_gemm_gpu_input(seed, 0, 7, l, 256) * strata_gemm_gpu_input(seed, 1, l, 9, 256);
		s += p;
		sa += fabs(p);
	}
	assert_true(ref == s && abs_sum == sa);
}

static void test_element_decoding(void **unused)
{
	(void)unused;
	assert_true(strata_half_to_double(0x3c00) == 1.0);
	assert_true(strata_half_to_double(0xc000) == -2.0);
	assert_true(strata_half_to_double(0x0001) == 0x1p-24);
	assert_true(strata_half_to_double(0x7bff) == 65504.0);
	assert_true(isinf(strata_half_to_double(0x7c00)));
	assert_true(isnan(strata_half_to_double(0x7e00)));
	assert_true(strata_bf16_to_double(0x3f80) == 1.0);
	assert_true(strata_bf16_to_double(0xc0a0) == -5.0);
	uint16_t bf = 0x4040; /* 3.0 */
	assert_true(strata_gemm_gpu_c_value(STRATA_GEMM_GPU_FLOAT8_E4M3, &bf) == 3.0);
	float f = 1.5f;
	assert_true(strata_gemm_gpu_c_value(STRATA_GEMM_GPU_TFLOAT32, &f) == 1.5);
	double d = -0.25;
	assert_true(strata_gemm_gpu_c_value(STRATA_GEMM_GPU_FLOAT64, &d) == -0.25);
}

static void test_algo_record(void **unused)
{
	(void)unused;
	struct strata_gemm_algo a = { .algo_id = 31, .splitk = 1, .swizzle = 1, .cluster_id = 2,
				      .workspace_bytes = 4194304, .heuristic_rank = 0 };
	snprintf(a.tile, sizeof(a.tile), "128x256");
	snprintf(a.stages, sizeof(a.stages), "64x3");
	snprintf(a.cluster, sizeof(a.cluster), "2x1x1");
	char buf[320];
	strata_gemm_algo_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "algo 31, tile 128x256, stages 64x3, split-k 1, reduction 0, "
				 "swizzle 1, custom 0, cluster 2x1x1, workspace 4194304 B, heuristic #0");
	a.cluster_id = -1; /* pre-Hopper: no cluster attribute */
	strata_gemm_algo_format(&a, buf, sizeof(buf));
	assert_non_null(strstr(buf, "cluster n/a"));
	static const struct strata_lt_name table[] = { { 0, "UNDEFINED" }, { 24, "128x256" },
						       { -1, NULL } };
	strata_lt_name_lookup(table, 24, buf, sizeof(buf));
	assert_string_equal(buf, "128x256");
	strata_lt_name_lookup(table, 7, buf, sizeof(buf));
	assert_string_equal(buf, "id 7");
}

/* ---- telemetry statistics -------------------------------------------------------- */

static void test_telemetry_summary(void **unused)
{
	(void)unused;
	struct strata_gpu_sample s[5] = {
		{ 0.0, 1980, 2619, 40, 100, 0, 0, 0x1 },   /* idle */
		{ 0.1, 1980, 2619, 55, 300, 100, 80, 0 },
		{ 0.2, 1755, 2619, 70, 700, 100, 90, 0x4 }, /* power cap */
		{ 0.3, 1600, 2619, 80, NAN, 100, 95, 0x44 }, /* + hw thermal, power unknown */
		{ 0.4, 1980, 2619, 60, 500, 50, 40, 0 },
	};
	struct strata_gpu_telemetry_summary sum;
	strata_gpu_telemetry_summarise(s, 5, &sum);
	assert_int_equal(sum.samples, 5);
	assert_true(fabs(sum.span_s - 0.4) < 1e-12);
	assert_true(sum.sm_mhz.min == 1600 && sum.sm_mhz.median == 1980 && sum.sm_mhz.max == 1980);
	assert_true(sum.temp_c.median == 60);
	assert_int_equal(sum.power_w.n, 4);
	assert_true(sum.power_w.min == 100 && sum.power_w.max == 700);
	assert_true(sum.power_w.median == 400); /* even count: mean of 300 and 500 */
	assert_int_equal(sum.throttled_samples, 2);
	assert_true(sum.throttled);
	assert_true(sum.reasons_seen == 0x45);
	/* Trapezoids where both ends know the power: (100+300)/2*0.1 + (300+700)/2*0.1 */
	assert_true(fabs(sum.energy_from_power_j - 70.0) < 1e-9);
	char buf[128];
	strata_gpu_reasons_format(sum.reasons_seen, buf, sizeof(buf));
	assert_string_equal(buf, "gpu_idle,sw_power_cap,hw_thermal");
	strata_gpu_reasons_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "none");
	strata_gpu_reasons_format(0x10000, buf, sizeof(buf));
	assert_string_equal(buf, "other_0x10000");
	json_t *j = strata_gpu_telemetry_json(&sum, 100);
	assert_true(json_is_true(json_object_get(j, "throttled")));
	assert_true(json_real_value(json_object_get(json_object_get(j, "power"), "median")) == 400);
	json_decref(j);
	strata_gpu_telemetry_summarise(NULL, 0, &sum);
	assert_int_equal(sum.samples, 0);
	assert_false(sum.throttled);
	assert_true(isnan(sum.temp_c.median));
}

/* NVML without a driver: a reason, never a crash; samples unknown. */
static void test_nvml_absent_is_reported(void **unused)
{
	(void)unused;
	char why[256] = "";
	if (strata_nvml_load(why, sizeof(why)) == 0)
		skip(); /* a driver is installed here */
	assert_true(strlen(why) > 0);
	struct strata_gpu_sample smp;
	strata_nvml_sample(NULL, &smp);
	assert_true(isnan(smp.temp_c) && isnan(smp.power_w));
	unsigned long long mj;
	assert_int_equal(strata_nvml_energy_mj(NULL, &mj), -1);
}

/* ---- collectives: busbw with batches, NCCL moduli ------------------------------ */

static void test_coll_metrics_per_launch(void **unused)
{
	(void)unused;
	struct strata_coll cl;
	memset(&cl, 0, sizeof(cl));
	cl.kind = STRATA_COLL_ALLREDUCE;
	cl.nranks = 8;
	cl.launches = 20; /* NCCL: one run_once is 20 collectives */
	strata_coll_counts_get(STRATA_COLL_ALLREDUCE, 1 << 20, 2, 8, &cl.n); /* bf16 */
	assert_int_equal(cl.n.count, 1 << 19);
	assert_int_equal(cl.n.bytes, 1 << 20);
	struct strata_metric m[8];
	size_t n = strata_coll_suite_metrics(&cl, NULL, 20e-3, m, 8); /* 1 ms per collective */
	assert_int_equal(n, 3);
	assert_string_equal(m[0].name, "latency");
	assert_true(fabs(m[0].value - 1000.0) < 1e-9);
	assert_true(fabs(m[1].value - (1 << 20) / 1e-3 / 1e9) < 1e-9);
	assert_true(fabs(m[2].value - m[1].value * 2.0 * 7 / 8) < 1e-9); /* nccl-tests 2(n-1)/n */
	/* allgather of half: per-rank block rounded to 16 bytes = 8 elements */
	struct strata_coll_counts ag;
	strata_coll_counts_get(STRATA_COLL_ALLGATHER, 1000, 2, 3, &ag);
	assert_int_equal(ag.count, 160); /* 500/3 = 166 -> 160 */
	assert_int_equal(ag.recv_count, 480);
}

static void test_nccl_moduli(void **unused)
{
	(void)unused;
#if STRATA_HAVE_CUDA && STRATA_HAVE_NCCL
	assert_int_equal(strata_nccl_red_mod(STRATA_NCCL_FLOAT, 8), 251);
	assert_int_equal(strata_nccl_red_mod(STRATA_NCCL_BFLOAT16, 8), 33);  /* 32 * 8 = 256 */
	assert_int_equal(strata_nccl_red_mod(STRATA_NCCL_HALF, 8), 251);
	assert_int_equal(strata_nccl_red_mod(STRATA_NCCL_HALF, 64), 33);     /* 32 * 64 = 2048 */
	assert_int_equal(strata_nccl_red_mod(STRATA_NCCL_BFLOAT16, 256), 2);
	assert_int_equal(strata_nccl_red_mod(STRATA_NCCL_BFLOAT16, 257), 0); /* cannot be exact */
	for (int n = 1; n < 700; n += 37) {
		int m = strata_nccl_red_mod(STRATA_NCCL_BFLOAT16, n);
		if (m == 0)
			continue;
		double table[251];
		strata_nccl_red_table(table, m, n);
		for (int t = 0; t < m; t++) {
			double s = 0;
			for (int r = 0; r < n; r++)
				s += (r + t) % m;
			assert_true(table[t] == s);
			assert_true(s <= strata_nccl_exact_limit(STRATA_NCCL_BFLOAT16));
		}
	}
#else
	skip();
#endif
}

/* ---- the runner's device_seconds hook ---------------------------------------------- */

static double fixed_device_seconds(const void *state)
{
	(void)state;
	return 0.25e-3;
}

static double no_device_seconds(const void *state)
{
	(void)state;
	return 0.0;
}

static void run_fake(double (*dev)(const void *), json_t **rec)
{
	char text[] = "name: t\nrun: {warmup: {iterations: 1}, repetitions: {count: 4}}\n"
		      "cases:\n  - {suite: null, sleep_us: 2000}\n";
	char err[1024];
	struct strata_plan plan;
	if (strata_plan_parse(text, strlen(text), "t.yaml", &plan, err, sizeof(err)) != 0)
		fail_msg("plan: %s", err);
	struct strata_suite fake = strata_suite_null;
	fake.device_seconds = dev;
	plan.cases[0].suite = &fake;
	plan.cases[0].params.suite = &fake;
	static char *host[1] = { "testhost" };
	struct strata_rank_info ri = { .comm = MPI_COMM_WORLD, .rank = 0, .nranks = 1,
				       .local_rank = 0, .local_size = 1, .hostnames = host };
	assert_int_equal(strata_measure_case(&ri, &plan.cases[0], "v", rec), STRATA_PASSED);
	strata_plan_release(&plan);
}

static void test_device_seconds_become_the_samples(void **unused)
{
	(void)unused;
	json_t *rec;
	run_fake(fixed_device_seconds, &rec);
	json_t *samples = json_object_get(rec, "samples_s");
	assert_int_equal(json_array_size(samples), 4);
	for (size_t i = 0; i < 4; i++) /* not the 2 ms the null suite slept */
		assert_true(json_real_value(json_array_get(samples, i)) == 0.25e-3);
	const char *timer = json_string_value(json_object_get(json_object_get(rec, "method"), "timer"));
	assert_non_null(strstr(timer, "CUDA events"));
	json_decref(rec);

	run_fake(no_device_seconds, &rec); /* 0: the host clock, as before */
	samples = json_object_get(rec, "samples_s");
	assert_true(json_real_value(json_array_get(samples, 0)) >= 2e-3);
	timer = json_string_value(json_object_get(json_object_get(rec, "method"), "timer"));
	assert_null(strstr(timer, "CUDA events"));
	json_decref(rec);
}

/* ---- the skip path ------------------------------------------------------------------ */

struct test_case {
	struct strata_params params;
	struct strata_case c;
	char err[1024];
};

static void make_case(struct test_case *tc, const struct strata_suite *suite,
		      const char *const *overrides)
{
	memset(tc, 0, sizeof(*tc));
	tc->params.suite = suite;
	for (size_t i = 0; i < suite->n_params; i++) {
		const struct strata_param_def *def = &suite->params[i];
		const char *text = def->def;
		for (const char *const *o = overrides; o && o[0]; o += 2)
			if (strcmp(o[0], def->name) == 0)
				text = o[1];
		if (text[0] == '[' || text[0] == '{') /* a sweeping default: take one value */
			text = strcmp(def->name, "kernel") == 0 ? "triad" : "1024";
		char why[256];
		if (strata_value_parse(def, text, &tc->params.v[i], why, sizeof(why)) != 0)
			fail_msg("parse %s = %s: %s", def->name, text, why);
	}
	tc->c = (struct strata_case){ .comm = MPI_COMM_WORLD, .rank = 0, .nranks = 1,
				      .local_rank = 0, .local_size = 1, .params = &tc->params,
				      .err = tc->err, .err_len = sizeof(tc->err) };
}

static void expect_skip(const struct strata_suite *suite, const char *const *overrides,
			const char *reason)
{
	struct test_case tc;
	void *state = NULL;
	make_case(&tc, suite, overrides);
	int rc = suite->setup(&tc.c, &state);
	if (rc != STRATA_SKIP)
		fail_msg("%s: setup returned %d, not STRATA_SKIP: %s", suite->name, rc, tc.err);
	assert_null(state);
	if (!strstr(tc.err, reason))
		fail_msg("%s: reason '%s' lacks '%s'", suite->name, tc.err, reason);
}

/* What a machine without a usable GPU says: no driver, no device, or a build
 * without CUDA. */
static const char *no_gpu_reason(void)
{
	return STRATA_HAVE_CUDA ? "no CUDA " : "built without CUDA";
}

static void test_cuda_cases_skip_without_gpu(void **unused)
{
	(void)unused;
	if (gpu_present())
		skip();
	const char *cuda[] = { "device", "cuda", NULL };
	expect_skip(&strata_suite_gemm, cuda, no_gpu_reason());
	const char *fp8[] = { "device", "cuda", "dtype", "float8_e4m3", "transa", "yes", NULL };
	expect_skip(&strata_suite_gemm, fp8, no_gpu_reason());
	expect_skip(&strata_suite_membw, cuda, no_gpu_reason());
	const char *copy[] = { "device", "cuda", "kernel", "h2d", "numa", "0", NULL };
	expect_skip(&strata_suite_membw, copy, no_gpu_reason());
	const char *const *coll_cases[] = { cuda,
					    (const char *[]){ "device", "cuda", "dtype", "bfloat16",
							      NULL } };
	const struct strata_suite *colls[] = { &strata_suite_allreduce, &strata_suite_allgather,
					       &strata_suite_reduce_scatter, &strata_suite_broadcast,
					       &strata_suite_alltoall };
	for (size_t i = 0; i < sizeof(colls) / sizeof(colls[0]); i++)
		for (size_t j = 0; j < 2; j++)
			expect_skip(colls[i], coll_cases[j], no_gpu_reason());
}

/* GPU-only choices on device cpu skip with the reason (never run as something else). */
static void test_gpu_only_choices_skip_on_cpu(void **unused)
{
	(void)unused;
	const char *tf32[] = { "dtype", "tfloat32", NULL };
	expect_skip(&strata_suite_gemm, tf32, "needs device: cuda");
	const char *dot[] = { "kernel", "dot", NULL };
	expect_skip(&strata_suite_membw, dot, "needs device: cuda");
	const char *h2d[] = { "kernel", "h2d", NULL };
	expect_skip(&strata_suite_membw, h2d, "needs device: cuda");
	const char *bf16[] = { "dtype", "bfloat16", NULL };
	expect_skip(&strata_suite_allreduce, bf16, "needs device: cuda");
	const char *half[] = { "dtype", "half", NULL };
	expect_skip(&strata_suite_alltoall, half, "needs device: cuda");
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peak_table_lookup),
		cmocka_unit_test(test_link_peaks),
		cmocka_unit_test(test_pcie_peak_link),
		cmocka_unit_test(test_gemm_dtypes),
		cmocka_unit_test(test_gemm_tolerance_scales_with_k_and_type),
		cmocka_unit_test(test_gemm_inputs_and_reference),
		cmocka_unit_test(test_element_decoding),
		cmocka_unit_test(test_algo_record),
		cmocka_unit_test(test_telemetry_summary),
		cmocka_unit_test(test_nvml_absent_is_reported),
		cmocka_unit_test(test_coll_metrics_per_launch),
		cmocka_unit_test(test_nccl_moduli),
		cmocka_unit_test(test_device_seconds_become_the_samples),
		cmocka_unit_test(test_cuda_cases_skip_without_gpu),
		cmocka_unit_test(test_gpu_only_choices_skip_on_cpu),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	MPI_Finalize();
	return rc;
}
