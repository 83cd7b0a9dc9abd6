/* infer.c: end-to-end inference of a GPT-style transformer under load, in the
 * scenarios of MLPerf Inference's LoadGen: how many requests a replica serves
 * within a latency bound, and at what latency, not just its peak throughput.
 *
 * What it is: the experiment around kernels/nn/loadgen.h (the scenario
 * driver: SingleStream, Server with its rate search, Offline; run rules and
 * early stopping) and kernels/nn/infer_sut.h (greedy generation with the
 * key/value cache of gpt_infer.h, in static or continuous batches of up to
 * max_batch requests).  Weights are random from `seed` (a preset of gpt.h,
 * shape fields overridable) or read from a checkpoint the train suite wrote.
 * Each rank is an independent replica serving its own request stream (its
 * schedule seeded by seed and rank); the ranks only meet in setup (agreeing
 * on calibration and on each probe of the rate search) and in verify
 * (totals).
 *
 * How a scenario maps onto the runner's repetitions: one run_once is one
 * whole scenario run on the real clock (strata_loadgen_run: from the first
 * arrival until the run rules and early stopping end it and the requests in
 * flight are drained).  The runner's per-repetition seconds are then that
 * run's wall time (the slowest rank's); the figures a scenario is judged by
 * are the suite's own, pooled over the timed repetitions:
 *   single_stream  e2e_p50/p90/p99 (ms), ttft_p90, tpot_p90, queries_per_s
 *                  and tokens_per_s (LoadGen's "with loadgen overhead", sum
 *                  over ranks), cost_per_1k; LoadGen's early-stopping
 *                  estimate of the percentile in details.
 *   server         rate (q/s, sum over ranks of the rate each replica ran:
 *                  with `rate: 0` max_valid_rate, the highest valid rate
 *                  found in setup by the search, each probe a full run at
 *                  the same rate on every rank, valid only when valid on
 *                  every rank, then confirmed by another run there, or
 *                  stepped down until one is valid; 0 when none is),
 *                  e2e/ttft/tpot p99 (ms), queries_per_s, tokens_per_s,
 *                  cost_per_1k; every repetition is judged again (valid runs
 *                  in details).
 *   offline        samples_per_s and tokens_per_s from the runner's seconds
 *                  (every repetition issues the same N requests: N = max(
 *                  min_queries, 1.1 x expected x min_duration_s), LoadGen's
 *                  sizing, with the expected rate measured in setup), the
 *                  per-rank rate, cost_per_1k.
 * Latency figures (e2e, TTFT, TPOT; type-7 percentiles p50/p90/p95/p99/p99.9)
 * are pooled per rank over the timed repetitions; the total of a latency
 * figure is the largest over ranks (the worst replica), of a throughput the
 * sum; per-rank values are in details.  These figures do not depend on the
 * runner's seconds, so their best/mean columns equal the median.
 * Cost per 1000 inferences = (price_node_hour x nodes + price_accelerator_hour
 * x accelerators) / 3600 / throughput x 1000, the throughput being the
 * scenario's total (Server: the rate; MLPerf-style price-performance).
 * Validation: greedy decoding of a fixed prompt gives the same tokens at
 * batch size 1 and inside a full batch of max_batch slots at other lengths
 * (checked in setup, judged in verify: any difference fails the case); every
 * timed run completed requests; Offline's repetitions generate the same
 * tokens (the sum of per-request hashes).
 * Devices: cpu (gpt_infer.h, FP32, OpenBLAS + OpenMP) or cuda (kernels/cuda/
 * gpt_cuda.h's BF16 cache on the rank's GPU, local rank modulo the devices;
 * skipped with the reason where there is no GPU or no CUDA build; the output
 * check's tolerances are BF16's there).
 * What it is not: a serving framework, a tokenizer, or an accuracy
 * benchmark.
 *
 * This file: the parameters, setup, one scenario run, teardown and the
 * suite's registration.  Not the model and its device (infer_model.c), the
 * calibration and rate search setup runs (infer_calibrate.c), or what the
 * suite reports (infer_report.c); infer_internal.h has the state they share.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "harness/suite.h"
#include "suites/gpt_shape.h"
#include "suites/infer_internal.h"

/* The SUT's cache is at least this long, so the output check always fits. */
#define MIN_CACHE_LEN 8
#define OFFLINE_RESIZE_BELOW 1.25
#define OFFLINE_MARGIN 1.5

static const struct strata_param_def infer_params[] = {
    {.name = "device",
     .type = STRATA_PT_ENUM,
     .def = "cpu",
     .choices = "cpu|cuda",
     .help = "cpu: FP32, OpenBLAS + OpenMP; cuda: BF16 on the rank's GPU (skipped without one)"},
    STRATA_GPT_SHAPE_PARAMS,
    {.name = "checkpoint",
     .type = STRATA_PT_STRING,
     .def = "\"\"",
     .help = "weights written by the train suite (its `checkpoint`); the file's shape wins "
             "over model and the shape fields"},
    {.name = "seed",
     .type = STRATA_PT_INT,
     .def = "1",
     .min = 0,
     .max = 1e15,
     .help = "weights (without a checkpoint), prompts, and each rank's schedule (seed, rank)"},
    {.name = "threads",
     .type = STRATA_PT_INT,
     .def = "0",
     .min = 0,
     .max = 65536,
     .help = "OpenMP and OpenBLAS threads per rank; 0 = as they are"},
    {.name = "scenario",
     .type = STRATA_PT_ENUM,
     .def = "offline",
     .choices = "single_stream|server|offline",
     .help = "LoadGen scenario: one request at a time; Poisson arrivals under a latency "
             "bound; everything at once"},
    {.name = "batching",
     .type = STRATA_PT_ENUM,
     .def = "continuous",
     .choices = "continuous|static",
     .help = "continuous: a finished request's slot takes the next one at once; static: a "
             "batch runs to its end before any request joins"},
    {.name = "max_batch",
     .type = STRATA_PT_INT,
     .def = "8",
     .min = 1,
     .max = 4096,
     .help = "requests a replica holds at once (key/value cache slots)"},
    {.name = "prompt_len",
     .type = STRATA_PT_STRING,
     .def = "16",
     .help = "prompt tokens per request: N, a list N,N,... (cycled), uniform:N,N,... or LO..HI"},
    {.name = "output_len",
     .type = STRATA_PT_STRING,
     .def = "16",
     .help = "output tokens per request (the first from the prefill), same forms"},
    {.name = "rate",
     .type = STRATA_PT_DOUBLE,
     .def = "0",
     .min = 0,
     .max = 1e9,
     .help = "server: Poisson rate per replica, queries/s; 0 = search for the highest valid"},
    {.name = "latency_bound_ms",
     .type = STRATA_PT_DOUBLE,
     .def = "0",
     .min = 0,
     .max = 1e9,
     .help = "server: bound on the percentile of end-to-end latency; 0 = none"},
    {.name = "ttft_bound_ms",
     .type = STRATA_PT_DOUBLE,
     .def = "0",
     .min = 0,
     .max = 1e9,
     .help = "server: bound on the percentile of time to first token; 0 = none"},
    {.name = "tpot_bound_ms",
     .type = STRATA_PT_DOUBLE,
     .def = "0",
     .min = 0,
     .max = 1e9,
     .help = "server: bound on the percentile of time per output token; 0 = none"},
    {.name = "percentile",
     .type = STRATA_PT_DOUBLE,
     .def = "0",
     .min = 0,
     .max = 0.9999,
     .help = "of the bounds and of single_stream's figure; 0 = LoadGen's: 0.99 server, 0.90 "
             "single_stream"},
    {.name = "confidence",
     .type = STRATA_PT_DOUBLE,
     .def = "0.99",
     .min = 0.5,
     .max = 0.9999,
     .help = "of early stopping (LoadGen: 0.99)"},
    {.name = "search_tolerance",
     .type = STRATA_PT_DOUBLE,
     .def = "0.05",
     .min = 0.001,
     .max = 1,
     .help = "server search: stop when (invalid - valid) <= this x valid"},
    {.name = "min_duration_s",
     .type = STRATA_PT_DOUBLE,
     .def = "1",
     .min = 0,
     .max = 1e6,
     .help = "run rule: a run lasts at least this (LoadGen's min_duration; MLPerf: 600)"},
    {.name = "min_queries",
     .type = STRATA_PT_INT,
     .def = "100",
     .min = 1,
     .max = 1e9,
     .help = "run rule: and at least this many requests (LoadGen's min_query_count)"},
    {.name = "max_duration_s",
     .type = STRATA_PT_DOUBLE,
     .def = "30",
     .min = 0.01,
     .max = 1e6,
     .help = "nothing is issued after this; what still runs at twice it is abandoned (server: "
             "the search looks no lower than the rate that fits a valid run into it)"},
    {.name = "price_node_hour",
     .type = STRATA_PT_DOUBLE,
     .def = "0",
     .min = 0,
     .max = 1e9,
     .help = "price of one node for an hour, for cost_per_1k; 0 = no cost figure"},
    {.name = "price_accelerator_hour",
     .type = STRATA_PT_DOUBLE,
     .def = "0",
     .min = 0,
     .max = 1e9,
     .help = "price of one accelerator for an hour (added to the nodes')"},
};

static int pool_push(struct pool *p, double x)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 1024;
		double *nv = realloc(p->v, cap * sizeof(*nv));
		if (!nv)
			return -1;
		p->v = nv;
		p->cap = cap;
	}
	p->v[p->n++] = x;
	return 0;
}

/* ---- setup ----------------------------------------------------------------------- */

static int settings_from_params(struct infer_state *s, const struct strata_case *c)
{
	const struct strata_params *p = c->params;
	struct strata_loadgen_settings *ls = &s->ls;
	char err[256];
	strata_loadgen_settings_default(ls);
	ls->scenario = s->scenario;
	/* Each rank an independent replica: its own schedule and request sizes. */
	ls->seed = (uint64_t)strata_params_int(p, "seed") * 1000003ULL + (uint64_t)c->rank;
	ls->min_duration_s = strata_params_double(p, "min_duration_s");
	ls->min_queries = strata_params_int(p, "min_queries");
	ls->max_duration_s = strata_params_double(p, "max_duration_s");
	if (ls->max_duration_s < ls->min_duration_s) {
		strata_case_errorf(c, "infer: max_duration_s %g is below min_duration_s %g",
		                   ls->max_duration_s, ls->min_duration_s);
		return STRATA_ERROR;
	}
	ls->percentile = strata_params_double(p, "percentile");
	ls->confidence = strata_params_double(p, "confidence");
	if (s->scenario == STRATA_LOADGEN_SERVER) {
		ls->bound_s[STRATA_LOADGEN_E2E] = strata_params_double(p, "latency_bound_ms") / 1e3;
		ls->bound_s[STRATA_LOADGEN_TTFT] = strata_params_double(p, "ttft_bound_ms") / 1e3;
		ls->bound_s[STRATA_LOADGEN_TPOT] = strata_params_double(p, "tpot_bound_ms") / 1e3;
		if (ls->bound_s[0] <= 0 && ls->bound_s[1] <= 0 && ls->bound_s[2] <= 0) {
			strata_case_errorf(
			    c, "infer: scenario server needs a bound: latency_bound_ms, "
			       "or ttft_bound_ms and/or tpot_bound_ms");
			return STRATA_ERROR;
		}
	}
	if (strata_loadgen_lengths_parse(strata_params_str(p, "prompt_len"), &ls->prompt, err,
	                                 sizeof(err)) != 0 ||
	    strata_loadgen_lengths_parse(strata_params_str(p, "output_len"), &ls->output, err,
	                                 sizeof(err)) != 0) {
		strata_case_errorf(c, "infer: %s", err);
		return STRATA_ERROR;
	}
	return STRATA_OK;
}

/* The case's plain fields: device (STRATA_SKIP where cuda has no GPU),
 * scenario, batching, prices, threads, node count, the clock. */
static int setup_case(struct infer_state *s, const struct strata_case *c)
{
	const struct strata_params *p = c->params;
	s->rank = c->rank;
	s->nranks = c->nranks;
	s->cuda = strcmp(strata_params_str(p, "device"), "cuda") == 0;
	if (s->cuda) {
		int rc = strata_infer_suite_cuda_open(s, c);
		if (rc != STRATA_OK)
			return rc;
		s->accelerators = c->nranks;
	} else {
		snprintf(s->device_name, sizeof(s->device_name), "cpu");
	}
	strata_loadgen_scenario_parse(strata_params_str(p, "scenario"), &s->scenario);
	s->continuous = strcmp(strata_params_str(p, "batching"), "continuous") == 0;
	s->max_batch = (int)strata_params_int(p, "max_batch");
	s->price_node_hour = strata_params_double(p, "price_node_hour");
	s->price_accel_hour = strata_params_double(p, "price_accelerator_hour");
	s->threads_before = omp_get_max_threads();
	s->threads = (int)strata_params_int(p, "threads");
	if (s->threads > 0) {
		omp_set_num_threads(s->threads);
		openblas_set_num_threads(s->threads);
	}
	int nodes = c->local_rank == 0;
	MPI_Allreduce(&nodes, &s->nodes, 1, MPI_INT, MPI_SUM, c->comm);
	strata_loadgen_clock_real(&s->clk);
	return STRATA_OK;
}

/* The replica: settings, model, backends, SUT, output check.  This rank's
 * result; the caller has the ranks agree. */
static int setup_replica(struct infer_state *s, const struct strata_case *c)
{
	const struct strata_params *p = c->params;
	int rc = settings_from_params(s, c);
	int need_len = s->ls.prompt.hi + s->ls.output.hi - 1;
	s->cache_len = need_len > MIN_CACHE_LEN ? need_len : MIN_CACHE_LEN;
	if (rc == STRATA_OK)
		rc = strata_infer_suite_build_model(s, c, s->cache_len);
	int np = 0, no = 0;
	strata_infer_suite_check_sizes(s, &np, &no);
	if (rc == STRATA_OK)
		rc = strata_infer_suite_make_backends(s, c, np + no);
	if (rc == STRATA_OK) {
		char err[512] = "";
		if (strata_infer_sut_init(&s->sut, &s->be, s->continuous,
		                          (uint64_t)strata_params_int(p, "seed"), err,
		                          sizeof(err)) != 0) {
			strata_case_errorf(c, "infer: %s", err);
			rc = STRATA_ERROR;
		} else {
			s->have_sut = 1;
			strata_infer_sut_loadgen(&s->sut, &s->lsut);
		}
	}
	if (rc == STRATA_OK)
		rc = strata_infer_suite_output_check(s, c, np, no);
	return rc;
}

/* What setup measures: the calibration (server, offline), Offline's query
 * size, the Server rate (given, or searched). */
static int setup_scenario(struct infer_state *s, const struct strata_case *c)
{
	const struct strata_params *p = c->params;
	if (s->scenario != STRATA_LOADGEN_SINGLE_STREAM &&
	    strata_infer_suite_calibrate(s, c) != STRATA_OK)
		return STRATA_ERROR;
	if (s->scenario == STRATA_LOADGEN_OFFLINE) {
		/* LoadGen's sizing, fixed here so every repetition and rank does the same work. */
		double want = floor(1.1 * s->expected_qps * s->ls.min_duration_s);
		s->offline_n =
		    s->ls.min_queries > (int64_t)want ? s->ls.min_queries : (int64_t)want;
		s->ls.min_queries = s->offline_n;
		s->ls.offline_expected_qps = 0;
	}
	if (s->scenario == STRATA_LOADGEN_SERVER) {
		s->ls.rate_qps = strata_params_double(p, "rate");
		if (s->ls.rate_qps <= 0 &&
		    strata_infer_suite_search_rate(
		        s, c, strata_params_double(p, "search_tolerance")) != STRATA_OK)
			return STRATA_ERROR;
	}
	return STRATA_OK;
}

static int infer_setup(const struct strata_case *c, void **state)
{
	struct infer_state *s = calloc(1, sizeof(*s));
	if (!s) {
		strata_case_errorf(c, "infer: out of memory");
		return STRATA_ERROR;
	}
	*state = s;
	int rc = setup_case(s, c);
	if (rc != STRATA_OK)
		return rc;
	if (strata_infer_suite_agree(c, setup_replica(s, c)) != STRATA_OK)
		return STRATA_ERROR;
	return setup_scenario(s, c);
}

/* ---- one scenario run -------------------------------------------------------------- */

/* Offline warm-up: a run shorter than min_duration_s means the calibration
 * was low; grow the query as LoadGen's summary advises ("increase expected
 * QPS"), by the same factor on every rank, before the timed runs, which all
 * issue the same N. */
static void warmup_resize(struct infer_state *s, const struct strata_case *c, double duration_s)
{
	/* A warm-up run that came within OFFLINE_RESIZE_BELOW of min_duration_s
	 * grows the query to OFFLINE_MARGIN x it: a timed run somewhat faster
	 * than the warm-up (caches, a quieter machine) still meets the rule,
	 * where LoadGen's 1.1 alone leaves such runs INVALID. */
	double scale = 1;
	if (s->scenario == STRATA_LOADGEN_OFFLINE && duration_s > 0 &&
	    duration_s < OFFLINE_RESIZE_BELOW * s->ls.min_duration_s)
		scale = OFFLINE_MARGIN * s->ls.min_duration_s / duration_s;
	if (s->scenario == STRATA_LOADGEN_OFFLINE) {
		MPI_Allreduce(MPI_IN_PLACE, &scale, 1, MPI_DOUBLE, MPI_MAX, c->comm);
		if (scale > 1) {
			s->offline_n = (int64_t)ceil((double)s->offline_n * scale);
			s->ls.min_queries = s->offline_n;
			s->offline_resized++;
		}
	}
}

/* A timed run's counts, and the check that Offline's repetitions generate
 * the same tokens. */
static void tally_run(struct infer_state *s, const struct strata_loadgen_result *r)
{
	s->runs++;
	s->valid_runs += r->valid;
	/* A run stopped because a bound was already violated (or the system
	 * overloaded, or out of time) may end before its first completion;
	 * any other run that completed nothing did not work. */
	s->runs_empty += r->completed == 0 && r->stop != STRATA_LOADGEN_STOP_VIOLATED &&
	                 r->stop != STRATA_LOADGEN_STOP_OVERLOADED &&
	                 r->stop != STRATA_LOADGEN_STOP_MAX_DURATION;
	s->completed += r->completed;
	s->tokens += r->output_tokens;
	s->qps_sum += r->queries_per_s;
	s->tps_sum += r->tokens_per_s;
	s->prefills += s->sut.prefills;
	s->decode_steps += s->sut.decode_steps;
	s->decode_rows += s->sut.decode_rows;
	if (s->scenario == STRATA_LOADGEN_OFFLINE && r->incomplete == 0) {
		if (!s->hash_set) {
			s->offline_hash = s->sut.output_hash_sum;
			s->hash_set = 1;
		} else if (s->sut.output_hash_sum != s->offline_hash) {
			s->hash_mismatch++;
		}
	}
}

/* A timed run's latencies into the per-rank pools. */
static int pool_latencies(struct infer_state *s, const struct strata_case *c,
                          const struct strata_loadgen_result *r)
{
	int rc = STRATA_OK;
	double *v = malloc((size_t)(r->issued > 0 ? r->issued : 1) * sizeof(*v));
	for (int m = 0; v && m < STRATA_LOADGEN_NMEASURES; m++) {
		size_t n = strata_loadgen_values(r, (enum strata_loadgen_measure)m, v);
		for (size_t i = 0; i < n; i++)
			if (pool_push(&s->lat[m], v[i]) != 0)
				rc = STRATA_ERROR;
	}
	if (!v || rc != STRATA_OK) {
		strata_case_errorf(c, "infer: out of memory keeping latencies");
		rc = STRATA_ERROR;
	}
	free(v);
	return rc;
}

static int infer_run_once(void *state, const struct strata_case *c)
{
	struct infer_state *s = state;
	struct strata_loadgen_result r;
	char err[512] = "";
	strata_infer_sut_counters_reset(&s->sut);
	if (strata_loadgen_run(&s->ls, &s->lsut, &s->clk, &r, err, sizeof(err)) != 0) {
		strata_case_errorf(c, "infer: %s", err);
		strata_loadgen_result_release(&r);
		return STRATA_ERROR;
	}
	snprintf(s->last_why, sizeof(s->last_why), "%s", r.why);
	if (!c->timed) {
		double duration_s = r.duration_s;
		strata_loadgen_result_release(&r);
		warmup_resize(s, c, duration_s);
		return STRATA_OK;
	}
	tally_run(s, &r);
	int rc = pool_latencies(s, c, &r);
	strata_loadgen_result_release(&r);
	return rc;
}

/* ---- teardown ---------------------------------------------------------------------- */

static void infer_teardown(void *state)
{
	struct infer_state *s = state;
	if (!s)
		return;
	if (s->have_sut)
		strata_infer_sut_release(&s->sut);
	if (s->have_kv)
		strata_gpt_kv_release(&s->kv);
	if (s->have_kv_one)
		strata_gpt_kv_release(&s->kv_one);
#if STRATA_HAVE_CUDA
	/* Caches before the model (gpt_cuda.h). */
	if (s->ckv)
		strata_gpt_cuda_kv_destroy(s->ckv);
	if (s->ckv_one)
		strata_gpt_cuda_kv_destroy(s->ckv_one);
	if (s->cg)
		strata_gpt_cuda_destroy(s->cg);
#endif
	if (s->have_g)
		strata_gpt_release(&s->g);
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++)
		free(s->lat[m].v);
	if (s->threads > 0) {
		omp_set_num_threads(s->threads_before);
		openblas_set_num_threads(s->threads_before);
	}
	free(s->all);
	free(s);
}

const struct strata_suite strata_suite_infer = {
    .name = "infer",
    .summary = "LLM inference under load: LoadGen scenarios (single_stream, server with the "
               "highest valid rate, offline) over the transformer with a KV cache",
    .params = infer_params,
    .n_params = sizeof(infer_params) / sizeof(infer_params[0]),
    .setup = infer_setup,
    .run_once = infer_run_once,
    .verify = strata_infer_suite_verify,
    .teardown = infer_teardown,
    .metrics = strata_infer_suite_metrics,
    .describe = strata_infer_suite_describe,
};
