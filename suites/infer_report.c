/* infer_report.c: what the infer suite (suites/infer.c) reports: the
 * end-of-case verification (the output check, empty runs, Offline's token
 * hashes), the per-rank figures and their reduction over ranks, the figures
 * of merit (with the cost per 1000 inferences) and the details of the
 * record.  Not the measurement (infer.c, infer_calibrate.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>
#include <omp.h>

#include "harness/stats.h"
#include "suites/infer_internal.h"

/* ---- verify: the output check, and the totals ----------------------------------------- */

static void own_figures(struct infer_state *s)
{
	double *f = s->mine;
	memset(f, 0, sizeof(s->mine));
	f[F_RUNS] = (double)s->runs;
	f[F_VALID_RUNS] = (double)s->valid_runs;
	f[F_QPS] = s->runs ? s->qps_sum / (double)s->runs : 0;
	f[F_TPS] = s->runs ? s->tps_sum / (double)s->runs : 0;
	/* A searched rate counts only once confirmed valid (infer_calibrate.c). */
	f[F_RATE] = s->scenario != STRATA_LOADGEN_SERVER            ? 0
	            : s->searched && !(s->confirmed_qps > 0) ? 0
	                                                     : s->ls.rate_qps;
	f[F_COMPLETED] = (double)s->completed;
	f[F_TOKENS] = (double)s->tokens;
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++) {
		struct pool *p = &s->lat[m];
		double *g = f + F_DIST + m * F_PER_MEASURE;
		if (p->n == 0)
			continue;
		qsort(p->v, p->n, sizeof(double), strata_cmp_double);
		for (int q = 0; q < STRATA_LOADGEN_NQ; q++)
			g[q] = strata_quantile_sorted(p->v, p->n, strata_loadgen_quantiles[q]);
		double sum = 0;
		for (size_t i = 0; i < p->n; i++)
			sum += p->v[i];
		g[STRATA_LOADGEN_NQ] = sum / (double)p->n;
		g[STRATA_LOADGEN_NQ + 1] = p->v[p->n - 1];
	}
	if (s->scenario == STRATA_LOADGEN_SINGLE_STREAM && s->lat[0].n > 0) {
		struct strata_loadgen_es es;
		double pct = s->ls.percentile > 0 ? s->ls.percentile : 0.90;
		strata_loadgen_es_init(&es, pct, s->ls.confidence > 0 ? s->ls.confidence : 0.99);
		f[F_ES_ESTIMATE] =
		    strata_loadgen_es_estimate(&es, s->lat[0].v, (int64_t)s->lat[0].n);
		strata_loadgen_es_release(&es);
	}
}

int64_t strata_infer_suite_verify(void *state, const struct strata_case *c)
{
	struct infer_state *s = state;
	own_figures(s);
	MPI_Allreduce(s->mine, s->tot_sum, NF, MPI_DOUBLE, MPI_SUM, c->comm);
	MPI_Allreduce(s->mine, s->tot_max, NF, MPI_DOUBLE, MPI_MAX, c->comm);
	if (c->rank == 0)
		s->all = malloc((size_t)c->nranks * NF * sizeof(double));
	MPI_Gather(s->mine, NF, MPI_DOUBLE, s->all, NF, MPI_DOUBLE, 0, c->comm);
	s->reduced = 1;
	const struct strata_infer_check *k = &s->check;
	if (k->mismatches > 0) {
		int j = k->first_mismatch;
		strata_case_errorf(
		    c,
		    "greedy tokens differ between batch size 1 and a batch of %d from "
		    "position %d of %d (alone %d, batched %d; not a near-tie within %g)",
		    k->slots, j, k->n_out, k->alone[j], k->batched[j], k->tie_tol);
		return k->mismatches;
	}
	if (s->check_wrong > 0) {
		strata_case_errorf(c,
		                   "logits differ between batch size 1 and a batch of %d by %.3g "
		                   "(tolerance %g) while the tokens agree",
		                   k->slots, k->max_logit_diff, s->logit_tol);
		return s->check_wrong;
	}
	if (s->runs_empty > 0) {
		strata_case_errorf(c, "%lld timed run(s) completed no request",
		                   (long long)s->runs_empty);
		return s->runs_empty;
	}
	if (s->hash_mismatch > 0) {
		strata_case_errorf(
		    c,
		    "offline: %d timed repetition(s) generated other tokens than the "
		    "first (same requests, greedy decoding)",
		    s->hash_mismatch);
		return s->hash_mismatch;
	}
	return 0;
}

/* ---- figures ------------------------------------------------------------------------- */

static double cost_per_1k(const struct infer_state *s, double throughput_total)
{
	double per_hour = s->price_node_hour * s->nodes + s->price_accel_hour * s->accelerators;
	if (per_hour <= 0 || !(throughput_total > 0))
		return -1;
	/* (price per hour / 3600 s) / (inferences per s) x 1000 */
	return per_hour / 3600.0 / throughput_total * 1000.0;
}

static double dist_total(const struct infer_state *s, int m, int q)
{
	return s->tot_max[F_DIST + m * F_PER_MEASURE + q];
}

size_t strata_infer_suite_metrics(const void *state, const struct strata_case *c, double seconds,
                                  struct strata_metric *out, size_t max)
{
	const struct infer_state *s = state;
	(void)c;
	size_t n = 0;
#define PUT(nm, un, val, hib)                                                                      \
	do {                                                                                       \
		if (n < max)                                                                       \
			out[n++] = (struct strata_metric){nm, un, (val), (hib)};                   \
	} while (0)
	double basis = 0;
	switch (s->scenario) {
	case STRATA_LOADGEN_OFFLINE: {
		/* Every repetition issues the same requests: fixed work per run. */
		double per_rank = seconds > 0 ? (double)s->offline_n / seconds : 0;
		double tokens_per_run = s->runs ? s->tot_sum[F_TOKENS] / (double)s->runs : 0;
		basis = per_rank * s->nranks;
		PUT("samples_per_s", "samples/s", basis, 1);
		PUT("tokens_per_s", "tokens/s", seconds > 0 ? tokens_per_run / seconds : 0, 1);
		PUT("samples_per_s_per_rank", "samples/s", per_rank, 1);
		break;
	}
	case STRATA_LOADGEN_SERVER:
		basis = s->tot_sum[F_RATE];
		PUT(s->searched ? "max_valid_rate" : "rate", "queries/s", basis, 1);
		PUT("e2e_p99", "ms", dist_total(s, STRATA_LOADGEN_E2E, 3) * 1e3, 0);
		PUT("ttft_p99", "ms", dist_total(s, STRATA_LOADGEN_TTFT, 3) * 1e3, 0);
		PUT("tpot_p99", "ms", dist_total(s, STRATA_LOADGEN_TPOT, 3) * 1e3, 0);
		PUT("queries_per_s", "queries/s", s->tot_sum[F_QPS], 1);
		PUT("tokens_per_s", "tokens/s", s->tot_sum[F_TPS], 1);
		break;
	case STRATA_LOADGEN_SINGLE_STREAM:
		basis = s->tot_sum[F_QPS];
		PUT("e2e_p90", "ms", dist_total(s, STRATA_LOADGEN_E2E, 1) * 1e3, 0);
		PUT("e2e_p50", "ms", dist_total(s, STRATA_LOADGEN_E2E, 0) * 1e3, 0);
		PUT("e2e_p99", "ms", dist_total(s, STRATA_LOADGEN_E2E, 3) * 1e3, 0);
		PUT("ttft_p90", "ms", dist_total(s, STRATA_LOADGEN_TTFT, 1) * 1e3, 0);
		PUT("tpot_p90", "ms", dist_total(s, STRATA_LOADGEN_TPOT, 1) * 1e3, 0);
		PUT("queries_per_s", "queries/s", s->tot_sum[F_QPS], 1);
		PUT("tokens_per_s", "tokens/s", s->tot_sum[F_TPS], 1);
		break;
	}
	double cost = cost_per_1k(s, basis);
	if (cost >= 0)
		PUT("cost_per_1k", "price units per 1000 inferences", cost, 0);
#undef PUT
	return n;
}

static json_t *dist_json(const double *g)
{
	json_t *o = json_object();
	static const char *const names[STRATA_LOADGEN_NQ] = {"p50", "p90", "p95", "p99", "p99_9"};
	for (int q = 0; q < STRATA_LOADGEN_NQ; q++)
		json_object_set_new(o, names[q], json_real(g[q] * 1e3));
	json_object_set_new(o, "mean", json_real(g[STRATA_LOADGEN_NQ] * 1e3));
	json_object_set_new(o, "max", json_real(g[STRATA_LOADGEN_NQ + 1] * 1e3));
	return o;
}

static json_t *latency_json(const double *f)
{
	json_t *o = json_object();
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++)
		json_object_set_new(o, strata_loadgen_measure_name((enum strata_loadgen_measure)m),
		                    dist_json(f + F_DIST + m * F_PER_MEASURE));
	json_object_set_new(o, "unit", json_string("ms"));
	return o;
}

static json_t *lengths_json(const struct strata_loadgen_lengths *l, const char *text)
{
	return json_pack("{s:s,s:i,s:i,s:f}", "spec", text, "min", l->lo, "max", l->hi, "mean",
	                 strata_loadgen_lengths_mean(l));
}

/* details.model */
static json_t *model_json(const struct infer_state *s)
{
	const struct strata_gpt_config *g = &s->g.cfg;
	const struct strata_loadgen_settings *ls = &s->ls;
	return json_pack("{s:s,s:i,s:i,s:i,s:i,s:i,s:I,s:f}", "source", s->source, "vocab",
	                 g->vocab, "max_seq", g->max_seq, "layers", g->layers, "heads", g->heads,
	                 "d_model", g->d_model, "parameters", (json_int_t)s->g.n_params,
	                 "forward_flops_per_token",
	                 strata_gpt_forward_flops_per_token(g, ls->prompt.hi));
}

/* details.serving */
static json_t *serving_json(const struct infer_state *s, const struct strata_params *p)
{
	const struct strata_loadgen_settings *ls = &s->ls;
	return json_pack(
	    "{s:s,s:i,s:s,s:i,s:o,s:o}", "scenario", strata_loadgen_scenario_name(s->scenario),
	    "max_batch", s->max_batch, "batching", s->continuous ? "continuous" : "static",
	    "threads", omp_get_max_threads(), "prompt_len",
	    lengths_json(&ls->prompt, strata_params_str(p, "prompt_len")), "output_len",
	    lengths_json(&ls->output, strata_params_str(p, "output_len")));
}

/* details.run_rules */
static json_t *rules_json(const struct infer_state *s)
{
	const struct strata_loadgen_settings *ls = &s->ls;
	double pct = ls->percentile > 0 ? ls->percentile
	                                : (s->scenario == STRATA_LOADGEN_SERVER ? 0.99 : 0.90);
	json_t *rules = json_pack(
	    "{s:f,s:I,s:f,s:f,s:f,s:s}", "min_duration_s", ls->min_duration_s, "min_queries",
	    (json_int_t)ls->min_queries, "max_duration_s", ls->max_duration_s, "percentile", pct,
	    "confidence", ls->confidence > 0 ? ls->confidence : 0.99, "early_stopping",
	    "MLPerf inference rules, appendix Early Stopping Criterion (d = 0); "
	    "kernels/nn/loadgen.h");
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++) {
		if (ls->bound_s[m] > 0) {
			char key[32];
			snprintf(key, sizeof(key), "%s_bound_ms",
			         strata_loadgen_measure_name((enum strata_loadgen_measure)m));
			json_object_set_new(rules, key, json_real(ls->bound_s[m] * 1e3));
		}
	}
	return rules;
}

/* details.output_check */
static json_t *check_json(const struct infer_state *s)
{
	const struct strata_infer_check *k = &s->check;
	json_t *oc = json_pack(
	    "{s:i,s:i,s:i,s:i,s:i,s:f,s:f,s:f,s:i,s:s}", "prompt_tokens", k->n_prompt,
	    "output_tokens", k->n_out, "batch", k->slots, "compared", k->compared, "mismatches",
	    k->mismatches, "max_logit_diff", k->max_logit_diff, "logit_tolerance", s->logit_tol,
	    "tie_tolerance", k->tie_tol, "near_tie_at", k->tie_at, "method",
	    "greedy decoding of one prompt alone (1 slot) and in slot S/2 of a full "
	    "batch whose other slots hold prompts of other lengths; a differing "
	    "token the batch-1 run scored within tie_tolerance of its own ends the "
	    "comparison (a near-tie), any other fails the case, as do logits that "
	    "differ by more than logit_tolerance while the tokens agree");
	json_t *tok_a = json_array(), *tok_b = json_array();
	for (int j = 0; j < k->n_out; j++) {
		json_array_append_new(tok_a, json_integer(k->alone[j]));
		json_array_append_new(tok_b, json_integer(k->batched[j]));
	}
	json_object_set_new(oc, "tokens_alone", tok_a);
	json_object_set_new(oc, "tokens_batched", tok_b);
	return oc;
}

/* details.server.search */
static json_t *search_json(const struct infer_state *s)
{
	json_t *pr = json_array();
	for (int i = 0; i < s->nprobes; i++) {
		const struct probe_log *q = &s->probes[i];
		json_array_append_new(pr, json_pack("{s:f,s:b,s:b,s:I,s:f,s:f,s:f,s:s}", "rate_qps",
		                                    q->rate_qps, "valid", q->valid, "confirmation",
		                                    q->confirm, "issued_rank0",
		                                    (json_int_t)q->issued, "e2e_p99_ms_rank0",
		                                    q->e2e_p99_s * 1e3, "ttft_p99_ms_rank0",
		                                    q->ttft_p99_s * 1e3, "tpot_p99_ms_rank0",
		                                    q->tpot_p99_s * 1e3, "verdict_rank0", q->why));
	}
	return json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:s,s:o,s:f,s:s}", "max_valid_rate_qps",
	                 s->search.lo_qps, "confirmed_rate_qps", s->confirmed_qps,
	                 "lowest_invalid_rate_qps", s->search.hi_qps, "start_qps",
	                 s->search.start_qps, "min_qps", s->search.min_qps, "tolerance",
	                 s->search.tol_rel, "stopped", s->search.stopped ? s->search.stopped : "",
	                 "probes", pr, "seconds", s->search_s, "method",
	                 "double from half the calibration throughput until a probe is "
	                 "invalid (halve while the first fails, down to min_qps: the "
	                 "fewest valid requests over max_duration_s), then bisect (LoadGen "
	                 "FindPeakPerformance); a probe is one full Server run at the "
	                 "same rate on every rank, valid only if valid on every rank; then "
	                 "confirmation runs at the found rate, stepping down by the tolerance "
	                 "while invalid (at most 6): the timed runs go at the confirmed rate, "
	                 "which max_valid_rate reports");
}

/* details.calibration_qps, details.offline, details.server */
static void describe_scenario(const struct infer_state *s, json_t *details)
{
	const struct strata_loadgen_settings *ls = &s->ls;
	if (s->expected_qps > 0)
		json_object_set_new(details, "calibration_qps", json_real(s->expected_qps));
	if (s->scenario == STRATA_LOADGEN_OFFLINE)
		json_object_set_new(
		    details, "offline",
		    json_pack("{s:I,s:i,s:s}", "queries", (json_int_t)s->offline_n,
		              "resized_in_warmup", s->offline_resized, "sizing",
		              "max(min_queries, 1.1 x calibration_qps x min_duration_s) "
		              "(LoadGen), grown to 1.5 x min_duration_s after a warm-up "
		              "run shorter than 1.25 x min_duration_s"));
	if (s->scenario == STRATA_LOADGEN_SERVER) {
		json_t *srv =
		    json_pack("{s:f,s:f,s:b}", "rate_per_replica_qps", ls->rate_qps,
		              "rate_total_qps", ls->rate_qps * s->nranks, "searched", s->searched);
		if (s->searched)
			json_object_set_new(srv, "search", search_json(s));
		json_object_set_new(details, "server", srv);
	}
}

/* details.runs and details.sut */
static void describe_runs(const struct infer_state *s, json_t *details)
{
	json_object_set_new(details, "runs",
	                    json_pack("{s:I,s:I,s:s}", "timed", (json_int_t)s->runs, "valid",
	                              (json_int_t)s->valid_runs, "last_verdict_rank0",
	                              s->last_why));
	json_object_set_new(
	    details, "sut",
	    json_pack("{s:I,s:I,s:f}", "prefills", (json_int_t)s->prefills, "decode_steps",
	              (json_int_t)s->decode_steps, "mean_rows_per_decode_step",
	              s->decode_steps ? (double)s->decode_rows / (double)s->decode_steps : 0.0));
}

/* After verify's reductions: details.totals, details.per_rank (rank 0),
 * details.cost. */
static void describe_totals(const struct infer_state *s, json_t *details)
{
	json_t *totals = json_pack(
	    "{s:f,s:f,s:f,s:f,s:o,s:s}", "queries_per_s", s->tot_sum[F_QPS], "tokens_per_s",
	    s->tot_sum[F_TPS], "completed", s->tot_sum[F_COMPLETED], "valid_runs",
	    s->tot_sum[F_VALID_RUNS], "latency", latency_json(s->tot_max), "method",
	    "throughputs: sum over ranks of each rank's mean over timed runs (LoadGen's per-run "
	    "figure); latencies: per rank pooled over timed runs, the largest over ranks");
	if (s->scenario == STRATA_LOADGEN_SINGLE_STREAM)
		json_object_set_new(totals, "early_stopping_estimate_ms",
		                    json_real(s->tot_max[F_ES_ESTIMATE] * 1e3));
	json_object_set_new(details, "totals", totals);
	if (s->all) {
		json_t *pr = json_array();
		for (int r = 0; r < s->nranks; r++) {
			const double *f = s->all + (size_t)r * NF;
			json_t *o = json_pack("{s:i,s:f,s:f,s:f,s:f,s:o}", "rank", r,
			                      "queries_per_s", f[F_QPS], "tokens_per_s", f[F_TPS],
			                      "valid_runs", f[F_VALID_RUNS], "completed",
			                      f[F_COMPLETED], "latency", latency_json(f));
			if (s->scenario == STRATA_LOADGEN_SINGLE_STREAM)
				json_object_set_new(o, "early_stopping_estimate_ms",
				                    json_real(f[F_ES_ESTIMATE] * 1e3));
			json_array_append_new(pr, o);
		}
		json_object_set_new(details, "per_rank", pr);
	}
	double basis =
	    s->scenario == STRATA_LOADGEN_SERVER ? s->tot_sum[F_RATE] : s->tot_sum[F_QPS];
	double cost = cost_per_1k(s, basis);
	if (cost >= 0)
		json_object_set_new(
		    details, "cost",
		    json_pack("{s:f,s:f,s:i,s:i,s:f,s:f,s:s}", "price_node_hour",
		              s->price_node_hour, "price_accelerator_hour", s->price_accel_hour,
		              "nodes", s->nodes, "accelerators", s->accelerators,
		              "throughput_basis_per_s", basis, "per_1000_inferences", cost,
		              "formula",
		              "(node price x nodes + accelerator price x accelerators) "
		              "/ 3600 / throughput x 1000"));
}

void strata_infer_suite_describe(const void *state, const struct strata_case *c, json_t *details)
{
	const struct infer_state *s = state;
	json_object_set_new(details, "model", model_json(s));
	json_object_set_new(details, "serving", serving_json(s, c->params));
	json_object_set_new(details, "run_rules", rules_json(s));
	json_object_set_new(details, "output_check", check_json(s));
	json_object_set_new(details, "device", json_string(s->device_name));
	describe_scenario(s, details);
	describe_runs(s, details);
	if (s->reduced)
		describe_totals(s, details);
}
