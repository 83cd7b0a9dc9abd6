/* gemm_gpu.c: the gemm suite with device cuda: cuBLASLt matmul (see
 * kernels/cuda/gemm_cuda.h), timed with CUDA events.
 *
 * What it is: the experiment around the cuBLASLt call.  Setup opens the
 * rank's GPU (kernels/gpu/gpu_case.h), fills A and B on the device, lets
 * cuBLASLt's heuristic propose `algos` algorithms and keeps the fastest; one
 * run_once is a batch of back-to-back launches of it (about
 * STRATA_GPU_BATCH_TARGET_S of GPU time) between two CUDA events, whose
 * elapsed time becomes the repetition's sample (suite.h device_seconds);
 * metrics divide it by the launches.  GFLOP/s = 2 M N K / t (LAWN 41), the
 * fraction of the GPU's dense peak for the type from the table in
 * kernels/gpu/gpu_peak.c (or peak_gflops from the plan).  Verify checks
 * sampled elements, a whole row and a whole column against an FP64 host
 * reference within a bound scaled by K and the type, and every element for
 * NaN/Inf.  What it is not: a timer of host launch overhead, or multi-GPU.
 * Without the CUDA backend every case skips.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gpu/gemm_gpu.h"
#include "kernels/gpu/gpu_case.h"
#include "strata_config.h"
#include "suites/gpu_backends.h"
#if STRATA_HAVE_CUDA
#include "kernels/cuda/gemm_cuda.h"
#endif

#define GEMM_GPU_SEED 0x5374726174614d4dull /* "StrataMM", as the CPU backend */

struct strata_gemm_gpu_state {
	struct strata_gpu_case gc;
	enum strata_gemm_gpu_dtype dtype;
	const struct strata_gemm_gpu_numerics *nm;
	int64_t m, n, k;
	int transa, transb, top_k;
	struct strata_gemm_cuda *g;
	int launches;            /* per run_once */
	double last_event_s;     /* the last run_once's batch, CUDA events */
	double peak_gflops;      /* per GPU; 0 unknown */
	char peak_source[640];
	int64_t runs;
	struct strata_gemm_cuda_check_summary {
		int done;
		int64_t checked, wrong, nonfinite;
		double max_rel_err;
	} chk;
};

static double flops(const struct strata_gemm_gpu_state *s)
{
	return 2.0 * (double)s->m * (double)s->n * (double)s->k;
}

int strata_gemm_gpu_setup(const struct strata_case *c, struct strata_gemm_gpu_state **out)
{
	const struct strata_params *p = c->params;
	struct strata_gemm_gpu_state *s = calloc(1, sizeof(*s));
	*out = NULL;
	if (!s) {
		strata_case_errorf(c, "gemm: out of memory");
		return STRATA_ERROR;
	}
	if (strata_gemm_gpu_dtype_parse(strata_params_str(p, "dtype"), &s->dtype) != 0) {
		strata_case_errorf(c, "gemm: unknown dtype '%s'", strata_params_str(p, "dtype"));
		free(s);
		return STRATA_ERROR;
	}
	s->nm = strata_gemm_gpu_numerics(s->dtype);
	s->m = strata_params_int(p, "m");
	s->n = strata_params_int(p, "n");
	s->k = strata_params_int(p, "k");
	s->transa = (int)strata_params_int(p, "transa");
	s->transb = (int)strata_params_int(p, "transb");
	s->top_k = (int)strata_params_int(p, "algos");
	int rc = strata_gpu_case_open(&s->gc, c, strata_params_int(p, "gpu"), "gemm");
	if (rc != STRATA_OK) {
		free(s);
		return rc;
	}
#if STRATA_HAVE_CUDA
	double bytes = (double)s->nm->ab_bytes * ((double)s->m * (double)s->k +
						  (double)s->k * (double)s->n) +
		       (double)s->nm->c_bytes * (double)s->m * (double)s->n +
		       STRATA_GEMM_CUDA_WORKSPACE_BYTES;
	rc = strata_gpu_case_check_memory(&s->gc, c, bytes, "gemm");
	if (rc != STRATA_OK)
		goto fail;
	struct strata_gemm_cuda_config cfg = {
		.dtype = s->dtype, .m = s->m, .n = s->n, .k = s->k, .transa = s->transa,
		.transb = s->transb, .seed = GEMM_GPU_SEED, .top_k = s->top_k,
		.workspace_bytes = STRATA_GEMM_CUDA_WORKSPACE_BYTES,
	};
	char why[1024];
	int cr = strata_gemm_cuda_create(&cfg, &s->g, why, sizeof(why));
	if (cr != 0) {
		strata_case_errorf(c, "gemm %s on GPU %d: %s", s->nm->name, s->gc.device, why);
		rc = cr > 0 ? STRATA_SKIP : STRATA_ERROR;
		goto fail;
	}
	const struct strata_gemm_algo *best = strata_gemm_cuda_chosen(s->g);
	s->launches = strata_gpu_batch_size(best->ms * 1e-3, STRATA_GPU_BATCH_TARGET_S,
					    STRATA_GPU_BATCH_MAX);
	double planned = strata_params_double(p, "peak_gflops");
	if (planned > 0) {
		s->peak_gflops = planned;
		snprintf(s->peak_source, sizeof(s->peak_source), "plan (peak_gflops)");
	} else if (s->gc.model && s->gc.model->tflops[s->nm->prec] > 0) {
		s->peak_gflops = s->gc.model->tflops[s->nm->prec] * 1e3;
		snprintf(s->peak_source, sizeof(s->peak_source), "table: %s, %s dense peak (%s)",
			 s->gc.model->model, strata_gpu_prec_name(s->nm->prec), s->gc.model->source);
	} else {
		snprintf(s->peak_source, sizeof(s->peak_source),
			 "unknown: %s (cc %d.%d) has no %s entry in kernels/gpu/gpu_peak.c; set "
			 "peak_gflops in the plan", s->gc.info.name, s->gc.info.cc_major,
			 s->gc.info.cc_minor, strata_gpu_prec_name(s->nm->prec));
	}
	*out = s;
	return STRATA_OK;
fail:
	strata_gemm_gpu_teardown(s);
	return rc;
#else
	strata_gpu_case_close(&s->gc);
	free(s);
	strata_case_errorf(c, "gemm: %s", STRATA_GPU_NOT_BUILT);
	return STRATA_SKIP;
#endif
}

int strata_gemm_gpu_run_once(struct strata_gemm_gpu_state *s, const struct strata_case *c)
{
#if STRATA_HAVE_CUDA
	char why[512];
	strata_gpu_case_before_run(&s->gc, c);
	if (strata_gemm_cuda_run(s->g, s->launches, &s->last_event_s, why, sizeof(why)) != 0) {
		strata_case_errorf(c, "gemm on GPU %d: %s", s->gc.device, why);
		return STRATA_ERROR;
	}
	strata_gpu_case_after_run(&s->gc, c, s->launches);
	s->runs++;
	return STRATA_OK;
#else
	(void)s;
	strata_case_errorf(c, "gemm: %s", STRATA_GPU_NOT_BUILT);
	return STRATA_ERROR;
#endif
}

int64_t strata_gemm_gpu_verify(struct strata_gemm_gpu_state *s, const struct strata_case *c)
{
	strata_gpu_case_stop(&s->gc);
#if STRATA_HAVE_CUDA
	struct strata_gemm_cuda_check chk;
	char why[512];
	int64_t wrong = strata_gemm_cuda_check(s->g, &chk, why, sizeof(why));
	if (wrong < 0) {
		strata_case_errorf(c, "gemm check on GPU %d: %s", s->gc.device, why);
		return -1;
	}
	s->chk.done = 1;
	s->chk.checked = chk.checked;
	s->chk.wrong = chk.wrong;
	s->chk.nonfinite = chk.nonfinite;
	s->chk.max_rel_err = chk.max_rel_err;
	if (wrong > 0) {
		char first[256] = "no sampled element wrong";
		if (chk.first_i >= 0)
			snprintf(first, sizeof(first),
				 "first C[%lld,%lld] = %.9g, expected %.9g (|diff| %.3g > tolerance %.3g)",
				 (long long)chk.first_i, (long long)chk.first_j, chk.first_actual,
				 chk.first_expected, fabs(chk.first_actual - chk.first_expected),
				 chk.first_tolerance);
		strata_case_errorf(c, "gemm %s %lldx%lldx%lld on GPU %d, rank %d: %lld of %lld checked "
				   "elements wrong, %lld NaN/Inf in C%s; %s",
				   s->nm->name, (long long)s->m, (long long)s->n, (long long)s->k,
				   s->gc.device, c->rank, (long long)chk.wrong, (long long)chk.checked,
				   (long long)chk.nonfinite, s->runs == 0 ? " (the GEMM never ran)" : "",
				   first);
	}
	return wrong;
#else
	(void)c;
	return 0;
#endif
}

void strata_gemm_gpu_teardown(struct strata_gemm_gpu_state *s)
{
	if (!s)
		return;
#if STRATA_HAVE_CUDA
	strata_gemm_cuda_destroy(s->g);
#endif
	strata_gpu_case_close(&s->gc);
	free(s);
}

double strata_gemm_gpu_device_seconds(const struct strata_gemm_gpu_state *s)
{
	return s->last_event_s;
}

/* seconds: one run_once, s->launches GEMMs (CUDA events). */
size_t strata_gemm_gpu_metrics(const struct strata_gemm_gpu_state *s, const struct strata_case *c,
			       double seconds, struct strata_metric *out, size_t max)
{
	size_t n = 0;
	if (seconds <= 0 || s->launches < 1)
		return 0;
	const double t = seconds / s->launches;
	const double gflops = flops(s) / t / 1e9;
	const int nranks = c->nranks > 0 ? c->nranks : 1;
	if (n < max)
		out[n++] = (struct strata_metric){ "gflops", "GFLOP/s", gflops, 1 };
	if (n < max)
		out[n++] = (struct strata_metric){ "tflops", "TFLOP/s", gflops / 1e3, 1 };
	if (n < max)
		out[n++] = (struct strata_metric){ "aggregate_gflops", "GFLOP/s",
						   (double)nranks * gflops, 1 };
	if (s->peak_gflops > 0 && n < max)
		out[n++] = (struct strata_metric){ "peak_fraction", "fraction",
						   gflops / s->peak_gflops, 1 };
	if (n < max)
		out[n++] = (struct strata_metric){ "time", "ms", t * 1e3, 0 };
	return n;
}

#if STRATA_HAVE_CUDA
static json_t *algo_json(const struct strata_gemm_algo *a)
{
	char text[320];
	strata_gemm_algo_format(a, text, sizeof(text));
	json_t *o = json_pack("{s:s,s:i,s:i,s:s,s:i,s:s,s:i,s:i,s:i,s:i,s:i,s:s,s:I,s:f,s:i}",
			      "summary", text, "algo_id", a->algo_id, "tile_id", a->tile_id, "tile",
			      a->tile, "stages_id", a->stages_id, "stages", a->stages, "splitk",
			      a->splitk, "reduction_scheme", a->reduction, "cta_swizzling",
			      a->swizzle, "custom_option", a->custom, "cluster_shape_id",
			      a->cluster_id, "cluster_shape", a->cluster,
			      "workspace_bytes", (json_int_t)a->workspace_bytes, "waves",
			      (double)a->waves, "heuristic_rank", a->heuristic_rank);
	json_object_set_new(o, "mean_ms", a->ms >= 0 ? json_real(a->ms) : json_null());
	if (a->failed)
		json_object_set_new(o, "failed", json_string(a->note));
	return o;
}
#endif

void strata_gemm_gpu_describe(const struct strata_gemm_gpu_state *s, const struct strata_case *c,
			      json_t *details)
{
	(void)c;
	char text[512];
	json_object_set_new(details, "backend", json_string("cuda: cuBLASLt (cublasLtMatmul)"));
	json_object_set_new(details, "dtype", json_string(s->nm->name));
	json_object_set_new(details, "types",
			    json_pack("{s:s,s:s,s:s,s:s}", "a_b", s->nm->a_type, "c_d",
				      s->nm->c_type, "compute", s->nm->compute, "scale",
				      s->dtype == STRATA_GEMM_GPU_FLOAT64 ? "CUDA_R_64F" : "CUDA_R_32F"));
	json_object_set_new(details, "m", json_integer(s->m));
	json_object_set_new(details, "n", json_integer(s->n));
	json_object_set_new(details, "k", json_integer(s->k));
	json_object_set_new(details, "transa", json_string(s->transa ? "yes" : "no"));
	json_object_set_new(details, "transb", json_string(s->transb ? "yes" : "no"));
	snprintf(text, sizeof(text),
		 "column-major, lda %lld, ldb %lld, ldc %lld, alpha 1, beta 0, C = D (zeroed "
		 "before the first call and again once the algorithm is chosen)",
		 (long long)(s->transa ? s->k : s->m), (long long)(s->transb ? s->n : s->k),
		 (long long)s->m);
	json_object_set_new(details, "call", json_string(text));
	json_object_set_new(details, "flops_per_call", json_real(flops(s)));
	json_object_set_new(details, "flops_rule",
			    json_string("2 M N K per call (LAWN 41); GFLOP = 1e9 FLOP"));
	json_object_set_new(details, "launches_per_repetition", json_integer(s->launches));
	json_object_set_new(details, "timing",
			    json_string("each repetition launches the chosen algorithm "
					"launches_per_repetition times back to back on one stream "
					"between two CUDA events; the sample is the events' elapsed "
					"time; figures use sample / launches_per_repetition"));
	json_object_set_new(details, "peak_gflops", json_real(s->peak_gflops));
	json_object_set_new(details, "peak_source", json_string(s->peak_source));
#if STRATA_HAVE_CUDA
	if (s->g) {
		const struct strata_gemm_algo *list;
		size_t nc = strata_gemm_cuda_candidates(s->g, &list);
		json_t *cands = json_array();
		for (size_t i = 0; i < nc; i++)
			json_array_append_new(cands, algo_json(&list[i]));
		json_object_set_new(details, "algorithm", algo_json(strata_gemm_cuda_chosen(s->g)));
		json_object_set_new(details, "algorithm_candidates", cands);
		snprintf(text, sizeof(text),
			 "cublasLtMatmulAlgoGetHeuristic top %d (asked) with %u B of workspace; each "
			 "run %d times, then %d launches timed with CUDA events; the lowest mean wins",
			 s->top_k, (unsigned)STRATA_GEMM_CUDA_WORKSPACE_BYTES,
			 STRATA_GEMM_CUDA_ALGO_WARMUP, STRATA_GEMM_CUDA_ALGO_TIMED);
		json_object_set_new(details, "algorithm_selection", json_string(text));
		json_object_set_new(details, "bytes_allocated",
				    json_integer((json_int_t)strata_gemm_cuda_bytes(s->g)));
	}
	snprintf(text, sizeof(text),
		 "4 corners + %d seeded elements + one whole row and column against an FP64 host "
		 "reference: |c - ref| <= gamma_K(u_acc) S + u_out (|ref| + gamma_K(u_acc) S) + "
		 "gamma_K(2^-53) S, S = sum |a||b|, u_acc = 2^%d, u_out = 2^%d (Higham; tensor-core "
		 "accumulation per Fasi et al. 2021); every element of C scanned for NaN/Inf",
		 STRATA_GEMM_CUDA_SAMPLES, (int)log2(s->nm->u_acc), (int)log2(s->nm->u_out));
	json_object_set_new(details, "validation", json_string(text));
#endif
	snprintf(text, sizeof(text),
		 "inputs: multiples of 1/%d in [-1, 1] from splitmix64(seed 0x%llx, matrix, row, "
		 "col), exact in the input type, written on the GPU (kernels/gpu/gemm_gpu_input.h)",
		 s->nm->input_steps, (unsigned long long)GEMM_GPU_SEED);
	json_object_set_new(details, "init", json_string(text));
	if (s->chk.done)
		json_object_set_new(details, "check",
				    json_pack("{s:I,s:I,s:I,s:f}", "checked", (json_int_t)s->chk.checked,
					      "wrong", (json_int_t)s->chk.wrong, "nonfinite",
					      (json_int_t)s->chk.nonfinite, "max_error_over_tolerance",
					      s->chk.max_rel_err));
	strata_gpu_case_describe(&s->gc, details, flops(s) / 1e9, "GFLOP");
}
