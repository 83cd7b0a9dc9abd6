/* loadgen_verdict.c: judging a LoadGen-style run (loadgen.h): the three
 * measures (e2e, TTFT, TPOT), the run rules and early stopping while the run
 * goes (when to stop issuing, when a bound is already proven violated), and
 * after it the verdict on every bound, the distributions, LoadGen's
 * throughputs and the one line saying why.  Not the run loop (loadgen.c) or
 * the statistics it calls (loadgen_stats.c).
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness/stats.h"
#include "kernels/nn/loadgen_internal.h"

/* ---- the measures ------------------------------------------------------------------ */

const char *strata_loadgen_measure_name(enum strata_loadgen_measure m)
{
	switch (m) {
	case STRATA_LOADGEN_E2E:
		return "e2e";
	case STRATA_LOADGEN_TTFT:
		return "ttft";
	case STRATA_LOADGEN_TPOT:
		return "tpot";
	case STRATA_LOADGEN_NMEASURES:
		break;
	}
	return "?";
}

int strata_loadgen_record_value(const struct strata_loadgen_record *x,
                                enum strata_loadgen_measure m, double *v)
{
	switch (m) {
	case STRATA_LOADGEN_E2E:
		if (x->done_ns < 0)
			return 0;
		*v = (double)(x->done_ns - x->arrival_ns) / NS_PER_S;
		return 1;
	case STRATA_LOADGEN_TTFT:
		if (x->first_ns < 0)
			return 0;
		*v = (double)(x->first_ns - x->arrival_ns) / NS_PER_S;
		return 1;
	case STRATA_LOADGEN_TPOT:
		if (x->done_ns < 0 || x->first_ns < 0 || x->output_tokens < 2)
			return 0;
		*v = (double)(x->done_ns - x->first_ns) / NS_PER_S / (double)(x->output_tokens - 1);
		return 1;
	case STRATA_LOADGEN_NMEASURES:
		break;
	}
	return 0;
}

size_t strata_loadgen_values(const struct strata_loadgen_result *r, enum strata_loadgen_measure m,
                             double *out)
{
	size_t n = 0;
	for (int64_t i = 0; i < r->issued; i++) {
		double v;
		if (r->records[i].state == REC_DONE &&
		    strata_loadgen_record_value(&r->records[i], m, &v))
			out[n++] = v;
	}
	return n;
}

/* ---- while the run goes: the run rules and early stopping ---------------------------- */

/* Requests in flight (held or queued) already known to be over the bound of
 * measure m: their final value can only be larger. */
static int64_t inflight_over(const struct loadgen_run *r, int m, int64_t now)
{
	int64_t bound_ns = (int64_t)(r->s.bound_s[m] * NS_PER_S), over = 0;
	for (int i = 0; i < r->nheld; i++) {
		const struct strata_loadgen_record *x = &r->rec[r->held[i]];
		if (m == STRATA_LOADGEN_E2E) {
			over += now - x->arrival_ns > bound_ns;
		} else if (m == STRATA_LOADGEN_TTFT) {
			int64_t waited =
			    x->first_ns >= 0 ? x->first_ns - x->arrival_ns : now - x->arrival_ns;
			over += waited > bound_ns;
		} else if (x->output_tokens >= 2 && x->first_ns >= 0) {
			/* The final TPOT is at least (now - first) / (n - 1). */
			over += (double)(now - x->first_ns) / (double)(x->output_tokens - 1) >
			        (double)bound_ns;
		}
	}
	if (m != STRATA_LOADGEN_TPOT) {
		/* Queued requests arrived in order: those waiting too long are a prefix. */
		for (int64_t i = r->admit_next; i < r->n && now - r->rec[i].arrival_ns > bound_ns;
		     i++)
			over++;
	}
	return over;
}

/* Early stopping as the run goes (see loadgen.h), at scheduled looks.
 *   violated: looks at 16, 32, 64, ... requests issued; look k asks whether
 *     the known-over count among every request issued (the others counted as
 *     under, which favours the SUT) has probability <= (1 - c) / 2^(k+1)
 *     under a system exactly at the percentile, so that a false "violated"
 *     over the whole run has probability <= 1 - c (Bonferroni over looks);
 *   met: the rules appendix's procedure: the first look once the minimum
 *     duration and query count are met; with q processed and t over, the run
 *     passes when q >= h(t) + t, else the next look comes after h(t) + t - q
 *     more have been processed.  Since h(t) + t grows with t and t never
 *     falls, no q between two looks can pass: the procedure stops at the
 *     first q that passes, exactly as a test after every completion would
 *     (the looks only save work).  Its confidence c holds per look, not for
 *     the whole sequence, and it takes requests as independent while
 *     queueing delays are correlated, so a run a little above the true limit
 *     can pass; the criterion is kept as LoadGen's so verdicts compare.
 *     Known-over requests in flight count as processed and over.  The
 *     requests still in flight are then drained and the verdict is taken
 *     again on all of them (as results.cc does at the end of every run), so
 *     a drained request that ends over can still make the run invalid, as in
 *     LoadGen; counting every request in flight as over instead would be
 *     sound but costs about 1/(1 - p) more queries per request in flight
 *     (~100 at p99), a high price for batched servers. */
static int look_violated(struct loadgen_run *r, int64_t now)
{
	if (r->n < r->viol_next_n)
		return 0;
	double alpha = (1 - r->c) / ldexp(1.0, r->viol_look + 1);
	r->viol_look++;
	r->viol_next_n *= 2;
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++) {
		if (r->s.bound_s[m] <= 0)
			continue;
		int64_t issued = m == STRATA_LOADGEN_TPOT ? r->issued_tpot : r->n;
		int64_t known = r->over_done[m] + inflight_over(r, m, now);
		if (strata_loadgen_es_violated(r->p, 1 - alpha, known, issued)) {
			r->viol_m = m;
			r->viol_known = known;
			r->viol_issued = issued;
			return 1;
		}
	}
	return 0;
}

static int look_met(struct loadgen_run *r, int64_t now)
{
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++)
		if (r->s.bound_s[m] > 0 && r->pop_done[m] < r->es_next_q[m])
			return 0; /* not yet at the next look */
	int met = 1;
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++) {
		if (r->s.bound_s[m] <= 0)
			continue;
		int64_t extra = inflight_over(r, m, now);
		int64_t t = r->over_done[m] + extra, q = r->pop_done[m] + extra;
		int64_t h = strata_loadgen_es_min_passing(&r->es, t);
		if (h < 0 || q < h + t) {
			met = 0;
			r->es_next_q[m] = h < 0 ? INT64_MAX : h + t - extra;
		}
	}
	return met;
}

int strata_loadgen_decide(struct loadgen_run *r, int64_t now)
{
	const struct strata_loadgen_settings *s = &r->s;
	if (s->scenario == STRATA_LOADGEN_SERVER && s->max_outstanding > 0 &&
	    r->n - r->completed - r->abandoned > s->max_outstanding) {
		strata_loadgen_set_stop(r, STRATA_LOADGEN_STOP_OVERLOADED);
		return 1;
	}
	if (!r->issuing || s->scenario == STRATA_LOADGEN_OFFLINE)
		return 0;
	if (r->bounded && look_violated(r, now)) {
		strata_loadgen_set_stop(r, STRATA_LOADGEN_STOP_VIOLATED);
		return 1;
	}
	int rules;
	if (s->scenario == STRATA_LOADGEN_SERVER) {
		rules = r->res->last_scheduled_s >= s->min_duration_s && r->n >= s->min_queries;
	} else {
		rules = r->res->last_issued_s >= s->min_duration_s && r->n >= s->min_queries;
		/* LoadGen's SingleStream estimate needs h(1) + 1 queries (rules appendix). */
		int64_t h1 = strata_loadgen_es_min_passing(&r->es, 1);
		if (h1 < 0 || r->completed < h1 + 1)
			rules = 0;
	}
	if (rules && (!r->bounded || look_met(r, now)))
		strata_loadgen_set_stop(r, STRATA_LOADGEN_STOP_RULES);
	return 0;
}

/* ---- after the run: the verdict and the figures ------------------------------------ */

/* Hand the records to the result; tokens and duration of the completed. */
static void finish_totals(struct loadgen_run *r)
{
	struct strata_loadgen_result *res = r->res;
	res->issued = r->n;
	res->completed = r->completed;
	res->incomplete = r->n - r->completed;
	res->records = r->rec;
	r->rec = NULL;
	int64_t last_done = 0;
	for (int64_t i = 0; i < res->issued; i++) {
		const struct strata_loadgen_record *x = &res->records[i];
		if (x->state != REC_DONE)
			continue;
		res->prompt_tokens += x->prompt_tokens;
		res->output_tokens += x->output_tokens;
		if (x->done_ns > last_done)
			last_done = x->done_ns;
	}
	res->duration_s = (double)last_done / NS_PER_S;
}

/* The distribution of every measure, the verdict on every bound and
 * SingleStream's early-stopping estimate; v has room for res->issued.
 * 0, or -1 when out of memory. */
static int finish_verdicts(struct loadgen_run *r, double *v)
{
	struct strata_loadgen_result *res = r->res;
	const struct strata_loadgen_settings *s = &r->s;
	res->constraints_met = 1;
	res->early_stopping_met = 1;
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++) {
		size_t n = strata_loadgen_values(res, (enum strata_loadgen_measure)m, v);
		if (strata_loadgen_dist_compute(v, n, &res->dist[m]) != 0)
			return -1;
		struct strata_loadgen_verdict *vd = &res->verdict[m];
		if (s->bound_s[m] <= 0)
			continue;
		qsort(v, n, sizeof(*v), strata_cmp_double);
		vd->bounded = 1;
		vd->bound_s = s->bound_s[m];
		vd->population = (int64_t)n;
		for (size_t i = 0; i < n; i++)
			vd->overlatency += v[i] > vd->bound_s;
		vd->percentile_s = strata_loadgen_percentile_loadgen(v, n, r->p);
		vd->constraint_met = n > 0 && vd->percentile_s <= vd->bound_s;
		int64_t h = strata_loadgen_es_min_passing(&r->es, vd->overlatency);
		vd->early_stopping_needed = h < 0 ? INT64_MAX : h + vd->overlatency;
		vd->early_stopping_met = n > 0 && vd->population >= vd->early_stopping_needed;
		res->constraints_met &= vd->constraint_met;
		res->early_stopping_met &= vd->early_stopping_met;
	}
	if (s->scenario == STRATA_LOADGEN_SINGLE_STREAM) {
		size_t n = strata_loadgen_values(res, STRATA_LOADGEN_E2E, v);
		qsort(v, n, sizeof(*v), strata_cmp_double);
		res->es_estimate_s = strata_loadgen_es_estimate(&r->es, v, (int64_t)n);
		if (res->es_estimate_s <= 0)
			res->early_stopping_met = 0;
	}
	return 0;
}

/* LoadGen's throughputs and run rules (results.cc, LogSummary and
 * MinDurationMet), and the validity of the run. */
static void finish_rules(struct strata_loadgen_result *res, const struct strata_loadgen_settings *s)
{
	int64_t n = res->completed;
	switch (s->scenario) {
	case STRATA_LOADGEN_OFFLINE:
		res->min_duration_met = res->duration_s >= s->min_duration_s;
		res->queries_per_s = res->duration_s > 0 ? (double)n / res->duration_s : 0;
		res->tokens_per_s =
		    res->duration_s > 0 ? (double)res->output_tokens / res->duration_s : 0;
		break;
	case STRATA_LOADGEN_SERVER:
		res->min_duration_met = res->last_scheduled_s >= s->min_duration_s;
		res->queries_per_s =
		    res->duration_s > 0 && n > 1 ? (double)(n - 1) / res->duration_s : 0;
		res->tokens_per_s =
		    res->duration_s > 0 ? (double)res->output_tokens / res->duration_s : 0;
		break;
	case STRATA_LOADGEN_SINGLE_STREAM:
		res->min_duration_met = res->last_issued_s >= s->min_duration_s;
		res->queries_per_s =
		    res->last_issued_s > 0 && n > 1 ? (double)(n - 1) / res->last_issued_s : 0;
		res->tokens_per_s =
		    res->last_issued_s > 0 ? (double)res->output_tokens / res->last_issued_s : 0;
		break;
	}
	res->min_queries_met = res->issued >= s->min_queries;
	res->valid = res->min_duration_met && res->min_queries_met && res->constraints_met &&
	             res->early_stopping_met && res->incomplete == 0;
}

/* One line saying why. */
static void finish_why(const struct loadgen_run *r)
{
	struct strata_loadgen_result *res = r->res;
	const struct strata_loadgen_settings *s = &r->s;
	const double p = r->p;
	char *w = res->why;
	size_t left = sizeof(res->why);
	int k = snprintf(w, left, "%s (%s)", res->valid ? "valid" : "invalid",
	                 strata_loadgen_stop_name(res->stop));
	/* The counts below are of completed requests; the stop also counted
	 * those in flight or queued that had already passed the bound. */
	if (res->stop == STRATA_LOADGEN_STOP_VIOLATED && k > 0 && (size_t)k < left)
		k += snprintf(w + k, left - (size_t)k,
		              ": %lld of %lld issued already over the %s bound, in flight or "
		              "queued included",
		              (long long)r->viol_known, (long long)r->viol_issued,
		              strata_loadgen_measure_name((enum strata_loadgen_measure)r->viol_m));
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES && k > 0 && (size_t)k < left; m++) {
		const struct strata_loadgen_verdict *vd = &res->verdict[m];
		if (!vd->bounded)
			continue;
		k += snprintf(
		    w + k, left - (size_t)k,
		    "; %s p%g %.6g s vs bound %.6g s, %lld of %lld over, early stopping needs %lld",
		    strata_loadgen_measure_name((enum strata_loadgen_measure)m), p * 100,
		    vd->percentile_s, vd->bound_s, (long long)vd->overlatency,
		    (long long)vd->population, (long long)vd->early_stopping_needed);
	}
	if (k > 0 && (size_t)k < left && !res->min_duration_met)
		k += snprintf(w + k, left - (size_t)k, "; min duration %.6g s not met",
		              s->min_duration_s);
	if (k > 0 && (size_t)k < left && !res->min_queries_met)
		k += snprintf(w + k, left - (size_t)k, "; min queries %lld not met",
		              (long long)s->min_queries);
	if (k > 0 && (size_t)k < left && res->incomplete)
		snprintf(w + k, left - (size_t)k, "; %lld requests abandoned",
		         (long long)res->incomplete);
}

int strata_loadgen_finish(struct loadgen_run *r)
{
	finish_totals(r);
	struct strata_loadgen_result *res = r->res;
	double *v = malloc((size_t)(res->issued > 0 ? res->issued : 1) * sizeof(*v));
	if (!v) {
		strata_loadgen_run_fail(r, "loadgen: out of memory for the figures");
		return -1;
	}
	if (finish_verdicts(r, v) != 0) {
		free(v);
		strata_loadgen_run_fail(r, "loadgen: out of memory for the figures");
		return -1;
	}
	free(v);
	finish_rules(res, &r->s);
	finish_why(r);
	return 0;
}
