/* report_e2e.c: the end-to-end sections of `strata report` (see
 * report_e2e.h): for training, where a step's time went and the MLPerf
 * time-to-train score; for inference, a LoadGen-style summary per scenario.
 * They read the records' details (docs/results-schema.md, train and infer)
 * and add nothing the records do not hold.  Not the per-suite results table
 * (report.c), which lists every figure with its interval. */
#include "reports/report_e2e.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/report.h"
#include "reports/run.h"

#define str strata_json_str
#define num strata_json_num

static const json_t *at(const json_t *o, const char *a, const char *b)
{
	return json_object_get(json_object_get(o, a), b);
}

/* A metric's median, or NAN. */
static double median(const json_t *rec, const char *metric)
{
	return num(at(rec, "metrics", metric), "median");
}

/* Percent of the step, or "-" when the step time is not there. */
static void share(char *buf, size_t len, double part, double step)
{
	if (isnan(part) || !(step > 0))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f%%", 100.0 * part / step);
}

static int is_passed(const json_t *rec, const char *suite)
{
	return !strcmp(str(rec, "suite"), suite) && !strcmp(str(rec, "status"), "passed");
}

/* ---- train -------------------------------------------------------------------- */

static void train_throughput(const json_t *recs, struct strata_doc *d)
{
	struct strata_table *t = NULL;
	size_t i;
	json_t *r;
	json_array_foreach(recs, i, r) {
		const json_t *det = json_object_get(r, "details");
		const json_t *br = json_object_get(det, "step_breakdown_s");
		if (!is_passed(r, "train") || !br)
			continue;
		if (!t) {
			strata_doc_para(d, "Where a training step's time goes (each rank's median "
			                   "step, the slowest rank per phase; shares of the step). "
			                   "All-reduce: the part the step waited for, and the part "
			                   "hidden behind the backward pass.");
			t = strata_doc_table(d, 12, "case", "model", "ranks x batch x seq",
			                     "tokens/s", "MFU (peak/rank)", "step ms", "data wait",
			                     "host-to-device", "forward", "backward",
			                     "all-reduce exposed (hidden ms)", "optimizer");
		}
		char lb[160], sh[6][16];
		strata_report_case_label(recs, r, lb, sizeof(lb));
		const json_t *m = json_object_get(det, "model"), *b = json_object_get(det, "batch");
		const json_t *ar = json_object_get(det, "allreduce");
		double step = num(br, "step");
		const char *ph[6] = {"data_wait", "host_to_device",    "forward",
		                     "backward",  "allreduce_exposed", "optimizer"};
		for (int k = 0; k < 6; k++)
			share(sh[k], sizeof(sh[k]), num(br, ph[k]), step);
		if (!json_object_get(det, "gpu")) /* no copy to a device on the CPU */
			snprintf(sh[1], sizeof(sh[1]), "-");
		strata_table_row(t);
		strata_table_cell(t, "%s", lb);
		strata_table_cell(t, "L%.0f C%.0f H%.0f, %.3g M params, %s", num(m, "layers"),
		                  num(m, "d_model"), num(m, "heads"), num(m, "parameters") / 1e6,
		                  str(m, "precision"));
		strata_table_cell(t, "%.0f x %.0f x %.0f", num(b, "ranks"), num(b, "micro_batch"),
		                  num(b, "seq"));
		strata_table_cell(t, "%.4g", median(r, "tokens_per_s"));
		double mfu = median(r, "mfu");
		if (isnan(mfu))
			strata_table_cell(t, "-");
		else
			strata_table_cell(t, "%.1f%% (%.4g GFLOP/s)", mfu,
			                  num(json_object_get(det, "mfu_peak"), "gflops_per_rank"));
		strata_table_cell(t, "%.3g", step * 1e3);
		for (int k = 0; k < 4; k++)
			strata_table_cell(t, "%s", sh[k]);
		strata_table_cell(t, "%s (%.3g)", sh[4], num(ar, "hidden_s") * 1e3);
		strata_table_cell(t, "%s", sh[5]);
	}
	/* Scaling against the 1-rank case of the same run, where there is one. */
	json_array_foreach(recs, i, r) {
		double eff = median(r, "scaling_efficiency");
		if (!is_passed(r, "train") || isnan(eff))
			continue;
		char lb[160];
		strata_report_case_label(recs, r, lb, sizeof(lb));
		strata_doc_item(d, "%s: scaling efficiency %.1f%% over %.0f ranks (%s)", lb, eff,
		                num(at(r, "details", "scaling"), "ranks"),
		                str(at(r, "details", "scaling"), "how"));
	}
}

static void train_ttt(const json_t *recs, struct strata_doc *d)
{
	struct strata_table *t = NULL;
	size_t i;
	json_t *r;
	json_array_foreach(recs, i, r) {
		const json_t *det = json_object_get(r, "details");
		const json_t *ttt = json_object_get(det, "time_to_train");
		if (strcmp(str(r, "suite"), "train") || !ttt)
			continue;
		if (!t) {
			strata_doc_para(d,
			                "Time to train, scored as MLPerf training does: drop the "
			                "fastest and slowest runs, mean of the rest; a run that "
			                "missed the target is not converged, never a time.");
			t = strata_doc_table(d, 7, "case", "status", "target loss (floor + margin)",
			                     "runs", "converged", "score s", "run times s");
		}
		const json_t *sc = json_object_get(ttt, "mlperf_score");
		const json_t *corpus = json_object_get(det, "corpus");
		struct strata_sb times = {0};
		size_t k;
		json_t *run;
		json_array_foreach(json_object_get(ttt, "runs"), k, run) {
			if (json_is_true(json_object_get(run, "converged")))
				strata_sb_printf(&times, "%s%.3g", times.len ? ", " : "",
				                 num(run, "seconds"));
			else
				strata_sb_printf(&times, "%snot converged", times.len ? ", " : "");
		}
		char *tx = strata_sb_take(&times);
		strata_table_row(t);
		strata_table_cell(t, "%s", str(r, "variant"));
		strata_table_cell(t, "%s", str(r, "status"));
		strata_table_cell(t, "%.4f (%.4f + %.3g) nats", num(corpus, "target_loss_nats"),
		                  num(corpus, "loss_floor_nats"),
		                  num(corpus, "target_loss_nats") - num(corpus, "loss_floor_nats"));
		strata_table_cell(t, "%.0f", num(sc, "runs"));
		strata_table_cell(t, "%.0f", num(sc, "converged"));
		if (json_is_true(json_object_get(sc, "valid")))
			strata_table_cell(t, "%.4g", num(sc, "score_s"));
		else
			strata_table_cell(t, "invalid: %s", str(sc, "why"));
		strata_table_cell(t, "%s", tx ? tx : "-");
		free(tx);
	}
}

/* ---- infer -------------------------------------------------------------------- */

static void infer_summary(const json_t *recs, struct strata_doc *d)
{
	struct strata_table *t = NULL;
	size_t i;
	json_t *r;
	json_array_foreach(recs, i, r) {
		const json_t *det = json_object_get(r, "details");
		const json_t *tot = json_object_get(det, "totals");
		if (strcmp(str(r, "suite"), "infer") || !tot)
			continue;
		if (!t) {
			strata_doc_para(
			    d, "LoadGen-style summary per scenario (latencies in ms: the "
			       "largest over ranks; throughput: the sum over ranks, each "
			       "rank an independent replica). Result: VALID when every "
			       "timed run met the scenario's run rules and latency bounds.");
			t = strata_doc_table(d, 10, "case", "scenario", "batching", "result",
			                     "headline", "e2e p50 / p90 / p99", "TTFT p99",
			                     "TPOT p99", "tokens/s", "output check");
		}
		const json_t *sv = json_object_get(det, "serving"),
		             *runs = json_object_get(det, "runs");
		const json_t *lat = json_object_get(tot, "latency");
		const json_t *e2e = json_object_get(lat, "e2e");
		const char *scen = str(sv, "scenario");
		char lb[160], head[128];
		strata_report_case_label(recs, r, lb, sizeof(lb));
		if (!strcmp(scen, "server") && !isnan(median(r, "max_valid_rate")))
			snprintf(head, sizeof(head), "max valid rate %.4g queries/s",
			         median(r, "max_valid_rate"));
		else if (!strcmp(scen, "server"))
			snprintf(head, sizeof(head), "%.4g queries/s at the set rate",
			         median(r, "queries_per_s"));
		else if (!strcmp(scen, "offline"))
			snprintf(head, sizeof(head), "%.4g samples/s", median(r, "samples_per_s"));
		else
			snprintf(head, sizeof(head), "p90 latency %.4g ms", median(r, "e2e_p90"));
		int valid = !strcmp(str(r, "status"), "passed") &&
		            num(runs, "valid") == num(runs, "timed") && num(runs, "timed") > 0;
		const json_t *oc = json_object_get(det, "output_check");
		strata_table_row(t);
		strata_table_cell(t, "%s", lb);
		strata_table_cell(t, "%s", scen);
		strata_table_cell(t, "%s", str(sv, "batching"));
		strata_table_cell(t, "%s (%.0f of %.0f runs)", valid ? "VALID" : "INVALID",
		                  num(runs, "valid"), num(runs, "timed"));
		strata_table_cell(t, "%s", head);
		strata_table_cell(t, "%.3g / %.3g / %.3g", num(e2e, "p50"), num(e2e, "p90"),
		                  num(e2e, "p99"));
		strata_table_cell(t, "%.3g", num(json_object_get(lat, "ttft"), "p99"));
		strata_table_cell(t, "%.3g", num(json_object_get(lat, "tpot"), "p99"));
		strata_table_cell(t, "%.4g", num(tot, "tokens_per_s"));
		strata_table_cell(t, "%.0f mismatches", num(oc, "mismatches"));
	}
}

void strata_report_e2e_section(const json_t *recs, const char *suite, struct strata_doc *d)
{
	if (!strcmp(suite, "train")) {
		train_throughput(recs, d);
		train_ttt(recs, d);
	} else if (!strcmp(suite, "infer")) {
		infer_summary(recs, d);
	}
}
