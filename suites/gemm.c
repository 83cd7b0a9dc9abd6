/* gemm.c: the dense matrix-multiply suite: OpenBLAS sgemm / dgemm / sbgemm on
 * device cpu (this file), cuBLASLt on device cuda (suites/gemm_gpu.c, to
 * which every hook forwards when the case's device is cuda).
 *
 * What it is: the experiment around kernels/cpu/gemm_cpu.c.  Every rank
 * builds its own seeded A, B and multiplies them: one run_once is one
 * C = 1 * op(A) op(B) + 0 * C call through cblas (beta = 0, so repeating the
 * call leaves the same C, which verify checks after the timed repetitions).
 * A time becomes GFLOP/s by the standard count 2 M N K (LAWN 41:
 * FMULS_GEMM = FADDS_GEMM = M N K), and a fraction of the theoretical peak
 * of the cores the rank uses (kernels/cpu/cpu_peak.c, or peak_gflops from
 * the plan).  bfloat16 needs cblas_sbgemm, looked up at run time, since
 * distribution builds of OpenBLAS (Debian 12's 0.3.21) leave it out; the
 * case is skipped, with the reason, where it is missing.
 * What it is not: a timer (the runner times run_once), a tuned HPL, or a
 * multi-rank GEMM: ranks never talk; the aggregate is nranks x one rank's
 * FLOPs over the slowest rank's time, which the runner passes to metrics().
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "harness/suite.h"
#include "kernels/cpu/cpu_peak.h"
#include "kernels/cpu/gemm_cpu.h"
#include "suites/gpu_backends.h"

/* One seed for every rank and run: the same inputs everywhere, so results
 * and any wrong element are reproducible. */
#define GEMM_SEED 0x5374726174614d4dull /* "StrataMM" */
/* Skip a case whose matrices on this host would need more than this share
 * of physical memory (as membw). */
#define MAX_MEMORY_SHARE 0.8

struct gemm_state {
	/* First member, so a test may reach C through the state pointer (C11
	 * 6.7.2.1p15) to corrupt an element on purpose. */
	struct strata_gemm_cpu gemm;
	int threads_requested; /* as planned; 0 = OpenBLAS default */
	int threads;           /* openblas_get_num_threads() during the case */
	int threads_before;    /* restored in teardown */
	int cores_bound;       /* physical cores in this rank's CPU binding */
	int cpus_bound;        /* logical CPUs in it */
	int cores;             /* cores the peak counts: min(threads, cores_bound) */
	double peak_gflops;    /* per rank; 0 when unknown */
	int peak_from_plan;
	struct strata_cpu_peak peak; /* the derivation (also when the plan overrides) */
	int64_t runs;          /* run_once calls, so verify can tell "never ran" */
	struct strata_gemm_gpu_state *gpu; /* device cuda: suites/gemm_gpu.c; NULL on cpu */
};

static const struct strata_param_def gemm_params[] = {
	{ .name = "device", .type = STRATA_PT_ENUM, .def = "cpu", .choices = "cpu|cuda",
	  .help = "backend: cpu (OpenBLAS) or cuda (cuBLASLt on the rank's GPU; skipped, with "
		  "the reason, where there is none)" },
	{ .name = "dtype", .type = STRATA_PT_ENUM, .def = "float64",
	  .choices = "float64|float32|bfloat16|tfloat32|float16|float8_e4m3",
	  .help = "element type: float64 = cblas_dgemm, float32 = cblas_sgemm, bfloat16 = "
		  "cblas_sbgemm (bf16 in, fp32 out; skipped if OpenBLAS lacks it); cuda also "
		  "tfloat32 (fp32 data, TF32 tensor cores), float16, and float8_e4m3 (fp8 in, "
		  "bf16 out; sm_89+; TN layout before Blackwell); on cuda bfloat16 and float16 "
		  "write their own type" },
	{ .name = "m", .type = STRATA_PT_INT, .def = "1024", .min = 1, .max = 1048576,
	  .help = "rows of op(A) and C" },
	{ .name = "n", .type = STRATA_PT_INT, .def = "1024", .min = 1, .max = 1048576,
	  .help = "columns of op(B) and C" },
	{ .name = "k", .type = STRATA_PT_INT, .def = "1024", .min = 1, .max = 1048576,
	  .help = "inner dimension: columns of op(A), rows of op(B)" },
	{ .name = "transa", .type = STRATA_PT_ENUM, .def = "no", .choices = "no|yes",
	  .help = "yes: op(A) = A^T (A stored K x M)" },
	{ .name = "transb", .type = STRATA_PT_ENUM, .def = "no", .choices = "no|yes",
	  .help = "yes: op(B) = B^T (B stored N x K)" },
	{ .name = "threads", .type = STRATA_PT_INT, .def = "0", .min = 0, .max = 65536,
	  .help = "OpenBLAS threads per rank (openblas_set_num_threads); 0 = OpenBLAS's "
		  "default: OPENBLAS_NUM_THREADS, else the CPUs of the rank's affinity mask" },
	{ .name = "peak_gflops", .type = STRATA_PT_DOUBLE, .def = "0", .min = 0, .max = 1e12,
	  .help = "theoretical peak per rank, GFLOP/s; 0 = derive: cpu: cores x GHz x FLOP/cycle "
		  "from /proc/cpuinfo flags (2 FMA units per core assumed); cuda: the dense peak "
		  "of the type from the table of known GPUs" },
	{ .name = "gpu", .type = STRATA_PT_INT, .def = "-1", .min = -1, .max = 1024,
	  .help = "cuda: device ordinal to use; -1 = local rank modulo the visible devices" },
	{ .name = "algos", .type = STRATA_PT_INT, .def = "8", .min = 1, .max = 64,
	  .help = "cuda: algorithms asked of cuBLASLt's heuristic; each is timed and the "
		  "fastest kept (recorded with its tile, stages, split-k, workspace)" },
};

static enum strata_cpu_prec prec_of(enum strata_gemm_dtype t)
{
	return t == STRATA_GEMM_FLOAT64 ? STRATA_CPU_FP64
	       : t == STRATA_GEMM_FLOAT32 ? STRATA_CPU_FP32 : STRATA_CPU_BF16;
}

/* "0.3.21" out of openblas_get_config()'s "OpenBLAS 0.3.21 DYNAMIC_ARCH ...". */
static void openblas_version(char *buf, size_t len)
{
	const char *cfg = openblas_get_config();
	const char *p = cfg ? strchr(cfg, ' ') : NULL;
	if (!p) {
		snprintf(buf, len, "(unknown version)");
		return;
	}
	p++;
	size_t n = strcspn(p, " ");
	snprintf(buf, len, "%.*s", (int)n, p);
}

static int memory_fits(const struct strata_case *c, enum strata_gemm_dtype t, int64_t m,
		       int64_t n, int64_t k)
{
	const double in = t == STRATA_GEMM_FLOAT64 ? 8 : t == STRATA_GEMM_FLOAT32 ? 4 : 2;
	const double out = t == STRATA_GEMM_FLOAT64 ? 8 : 4;
	const double rank_bytes = in * ((double)m * (double)k + (double)k * (double)n) +
				  out * (double)m * (double)n;
	const double host_bytes = rank_bytes * (c->local_size > 0 ? c->local_size : 1);
	const double phys_bytes = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
	if (phys_bytes > 0 && host_bytes > MAX_MEMORY_SHARE * phys_bytes) {
		strata_case_errorf(c, "gemm: A, B, C of %lld x %lld x %lld %s x %d ranks on this "
				   "host = %.3g GB exceed %.0f%% of physical memory (%.3g GB)",
				   (long long)m, (long long)n, (long long)k, strata_gemm_dtype_name(t),
				   c->local_size, host_bytes / 1e9, MAX_MEMORY_SHARE * 100,
				   phys_bytes / 1e9);
		return 0;
	}
	return 1;
}

/* device cuda: the state only carries the GPU half (suites/gemm_gpu.c). */
static int gemm_setup_gpu(const struct strata_case *c, void **state)
{
	struct gemm_state *s = calloc(1, sizeof(*s));
	if (!s) {
		strata_case_errorf(c, "gemm: out of memory");
		return STRATA_ERROR;
	}
	int rc = strata_gemm_gpu_setup(c, &s->gpu);
	if (rc != STRATA_OK) {
		free(s);
		return rc;
	}
	*state = s;
	return STRATA_OK;
}

static int gemm_setup(const struct strata_case *c, void **state)
{
	const struct strata_params *p = c->params;
	enum strata_gemm_dtype dtype;
	if (strcmp(strata_params_str(p, "device"), "cuda") == 0)
		return gemm_setup_gpu(c, state);
	if (strata_gemm_dtype_parse(strata_params_str(p, "dtype"), &dtype) != 0) {
		strata_case_errorf(c, "gemm: dtype %s needs device: cuda (OpenBLAS has no such "
				   "GEMM): skipped", strata_params_str(p, "dtype"));
		return STRATA_SKIP;
	}
	const int64_t m = strata_params_int(p, "m"), n = strata_params_int(p, "n"),
		      k = strata_params_int(p, "k");
	strata_sbgemm_fn sbgemm = NULL;
	if (dtype == STRATA_GEMM_BFLOAT16) {
		sbgemm = strata_gemm_cpu_find_sbgemm();
		if (!sbgemm) {
			char version[64];
			openblas_version(version, sizeof(version));
			strata_case_errorf(c, "installed OpenBLAS %s has no cblas_sbgemm (built "
					   "without BUILD_BFLOAT16): skipped", version);
			return STRATA_SKIP;
		}
	}
	if (!memory_fits(c, dtype, m, n, k))
		return STRATA_SKIP;

	struct gemm_state *s = calloc(1, sizeof(*s));
	if (!s) {
		strata_case_errorf(c, "gemm: out of memory");
		return STRATA_ERROR;
	}
	s->threads_requested = (int)strata_params_int(p, "threads");
	s->threads_before = openblas_get_num_threads();
	if (s->threads_requested > 0)
		openblas_set_num_threads(s->threads_requested);
	s->threads = openblas_get_num_threads();
	if (s->threads < 1)
		s->threads = 1;

	s->cores_bound = strata_cpu_peak_bound_cores(&s->cpus_bound);
	s->cores = s->threads < s->cores_bound ? s->threads : s->cores_bound;
	strata_cpu_peak_host(s->cores, prec_of(dtype), &s->peak);
	const double planned = strata_params_double(p, "peak_gflops");
	s->peak_from_plan = planned > 0;
	s->peak_gflops = s->peak_from_plan ? planned : s->peak.gflops;

	char why[256];
	if (strata_gemm_cpu_init(&s->gemm, dtype, m, n, k,
				 (int)strata_params_int(p, "transa"),
				 (int)strata_params_int(p, "transb"), GEMM_SEED, sbgemm, s->threads,
				 why, sizeof(why)) != 0) {
		strata_case_errorf(c, "gemm: %s", why);
		openblas_set_num_threads(s->threads_before);
		free(s);
		return STRATA_ERROR;
	}
	*state = s;
	return STRATA_OK;
}

static int gemm_run_once(void *state, const struct strata_case *c)
{
	struct gemm_state *s = state;
	if (s->gpu)
		return strata_gemm_gpu_run_once(s->gpu, c);
	if (strata_gemm_cpu_run(&s->gemm) != 0) {
		strata_case_errorf(c, "gemm: no routine for dtype %s",
				   strata_gemm_dtype_name(s->gemm.dtype));
		return STRATA_ERROR;
	}
	s->runs++;
	return STRATA_OK;
}

/* See strata_gemm_cpu_check: sampled elements against a double reference
 * with Higham's bound, plus row and column checksums over all of C. */
static int64_t gemm_verify(void *state, const struct strata_case *c)
{
	struct gemm_state *s = state;
	if (s->gpu)
		return strata_gemm_gpu_verify(s->gpu, c);
	const struct strata_gemm_cpu *g = &s->gemm;
	struct strata_gemm_check chk;
	int64_t wrong = strata_gemm_cpu_check(g, &chk);
	if (wrong < 0) {
		strata_case_errorf(c, "gemm: out of memory in the check");
		return wrong;
	}
	if (wrong == 0)
		return 0;
	char first[256];
	if (chk.first_i >= 0)
		snprintf(first, sizeof(first),
			 "first C[%lld,%lld] = %.9g, expected %.9g (|diff| %.3g > tolerance %.3g)",
			 (long long)chk.first_i, (long long)chk.first_j, chk.first_actual,
			 chk.first_expected, fabs(chk.first_actual - chk.first_expected),
			 chk.first_tolerance);
	else
		snprintf(first, sizeof(first),
			 "first failing row checksum: row %lld = %.9g, expected %.9g (tolerance "
			 "%.3g)",
			 (long long)chk.row_i, chk.row_actual, chk.row_expected, chk.row_tolerance);
	strata_case_errorf(c, "gemm %s %lldx%lldx%lld, rank %d: %lld wrong elements%s; %s; "
			   "%lld of %lld rows and %lld of %lld columns fail their checksum, "
			   "%lld elements checked one by one",
			   strata_gemm_dtype_name(g->dtype), (long long)g->m, (long long)g->n,
			   (long long)g->k, c->rank, (long long)wrong,
			   s->runs == 0 ? " (the GEMM never ran)" : "", first,
			   (long long)chk.rows_failing, (long long)g->m, (long long)chk.cols_failing,
			   (long long)g->n, (long long)chk.checked);
	return wrong;
}

static void gemm_teardown(void *state)
{
	struct gemm_state *s = state;
	if (!s)
		return;
	if (s->gpu) {
		strata_gemm_gpu_teardown(s->gpu);
		free(s);
		return;
	}
	strata_gemm_cpu_release(&s->gemm);
	/* openblas_set_num_threads is process-wide: leave it as we found it. */
	if (s->threads != s->threads_before)
		openblas_set_num_threads(s->threads_before);
	free(s);
}

/* GFLOP/s = 2 M N K / t / 1e9 (LAWN 41's count, see the top of the file).
 * The aggregate is nranks x that over the slowest rank's time (every rank
 * multiplies the same sizes).  peak_fraction is against this rank's peak. */
static size_t gemm_metrics(const void *state, const struct strata_case *c, double seconds,
			   struct strata_metric *out, size_t max)
{
	const struct gemm_state *s = state;
	size_t n = 0;
	if (s->gpu)
		return strata_gemm_gpu_metrics(s->gpu, c, seconds, out, max);
	if (seconds <= 0)
		return 0;
	const double gflops = strata_gemm_flops(s->gemm.m, s->gemm.n, s->gemm.k) / seconds / 1e9;
	const int nranks = c->nranks > 0 ? c->nranks : 1;
	if (n < max)
		out[n++] = (struct strata_metric){ "gflops", "GFLOP/s", gflops, 1 };
	if (n < max)
		out[n++] = (struct strata_metric){ "aggregate_gflops", "GFLOP/s",
						   (double)nranks * gflops, 1 };
	if (s->peak_gflops > 0 && n < max)
		out[n++] = (struct strata_metric){ "peak_fraction", "fraction",
						   gflops / s->peak_gflops, 1 };
	if (n < max)
		out[n++] = (struct strata_metric){ "time", "ms", seconds * 1e3, 0 };
	return n;
}

static void gemm_describe(const void *state, const struct strata_case *c, json_t *details)
{
	const struct gemm_state *s = state;
	if (s->gpu) {
		strata_gemm_gpu_describe(s->gpu, c, details);
		return;
	}
	const struct strata_gemm_cpu *g = &s->gemm;
	char text[512];

	json_object_set_new(details, "dtype", json_string(strata_gemm_dtype_name(g->dtype)));
	json_object_set_new(details, "routine", json_string(strata_gemm_routine_name(g->dtype)));
	json_object_set_new(details, "m", json_integer(g->m));
	json_object_set_new(details, "n", json_integer(g->n));
	json_object_set_new(details, "k", json_integer(g->k));
	json_object_set_new(details, "transa", json_string(g->transa ? "yes" : "no"));
	json_object_set_new(details, "transb", json_string(g->transb ? "yes" : "no"));
	snprintf(text, sizeof(text), "column-major, lda %lld, ldb %lld, ldc %lld, alpha 1, beta 0",
		 (long long)g->lda, (long long)g->ldb, (long long)g->ldc);
	json_object_set_new(details, "call", json_string(text));
	json_object_set_new(details, "bytes_allocated",
			    json_integer((json_int_t)(g->a_bytes + g->b_bytes + g->c_bytes)));
	json_object_set_new(details, "flops_per_call",
			    json_real(strata_gemm_flops(g->m, g->n, g->k)));
	json_object_set_new(details, "flops_rule",
			    json_string("2 M N K per call (LAWN 41: FMULS_GEMM = FADDS_GEMM = MNK; "
					"beta = 0, its term not counted); GFLOP = 1e9 FLOP"));

	json_object_set_new(details, "threads", json_integer(s->threads));
	json_object_set_new(details, "threads_requested", json_integer(s->threads_requested));
	json_object_set_new(details, "cpus_bound", json_integer(s->cpus_bound));
	json_object_set_new(details, "cores_bound", json_integer(s->cores_bound));

	json_object_set_new(details, "peak_gflops", json_real(s->peak_gflops));
	if (s->peak_from_plan) {
		json_object_set_new(details, "peak_source", json_string("plan"));
		json_object_set_new(details, "peak_derived", json_string(s->peak.source));
	} else {
		json_object_set_new(details, "peak_source", json_string(s->peak.source));
	}

	const char *cfg = openblas_get_config();
	const char *core = openblas_get_corename();
	json_t *ob = json_object();
	json_object_set_new(ob, "config", json_string(cfg ? cfg : "unknown"));
	json_object_set_new(ob, "corename", json_string(core ? core : "unknown"));
	const int par = openblas_get_parallel();
	json_object_set_new(ob, "parallel", json_string(par == 0 ? "sequential"
							: par == 1 ? "pthreads"
							: par == 2 ? "openmp" : "unknown"));
	json_object_set_new(ob, "has_sbgemm", json_boolean(strata_gemm_cpu_find_sbgemm() != NULL));
	const char *env = getenv("OPENBLAS_NUM_THREADS");
	json_object_set_new(ob, "OPENBLAS_NUM_THREADS", json_string(env ? env : "unset"));
	json_object_set_new(details, "openblas", ob);

	snprintf(text, sizeof(text),
		 "inputs: multiples of 1/256 in [-1, 1] from splitmix64(seed 0x%llx, matrix, row, "
		 "col), exact in every dtype; C filled with NaN before the first call",
		 (unsigned long long)g->seed);
	json_object_set_new(details, "init", json_string(text));
	snprintf(text, sizeof(text),
		 "%d sampled elements + 4 corners (all elements when M N <= %d) against a double "
		 "reference: |c - ref| <= (gamma_K(u) + gamma_K(2^-53)) sum|a||b| (Higham, "
		 "u = 2^-%d); plus Freivalds row and column checksums C x vs A (B x) over all of "
		 "C with the summed bound",
		 STRATA_GEMM_SAMPLES, STRATA_GEMM_SAMPLES + 4, g->dtype == STRATA_GEMM_FLOAT64 ? 53 : 24);
	json_object_set_new(details, "validation", json_string(text));
}

/* CUDA events of the last batch (device cuda); 0 on cpu: the host clock. */
static double gemm_device_seconds(const void *state)
{
	const struct gemm_state *s = state;
	return s->gpu ? strata_gemm_gpu_device_seconds(s->gpu) : 0.0;
}

const struct strata_suite strata_suite_gemm = {
	.name = "gemm",
	.summary = "dense matrix multiply: OpenBLAS (cpu) or cuBLASLt (cuda), GFLOP/s and "
		   "fraction of peak",
	.flags = 0,
	.params = gemm_params,
	.n_params = sizeof(gemm_params) / sizeof(gemm_params[0]),
	.setup = gemm_setup,
	.run_once = gemm_run_once,
	.verify = gemm_verify,
	.teardown = gemm_teardown,
	.metrics = gemm_metrics,
	.describe = gemm_describe,
	.device_seconds = gemm_device_seconds,
};
