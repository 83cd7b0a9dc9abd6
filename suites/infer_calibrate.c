/* infer_calibrate.c: what the infer suite (suites/infer.c) measures in
 * setup, before the timed runs: the Offline calibration (the throughput that
 * sizes Offline's query and starts the rate search) and the search for the
 * highest Server rate valid on every rank, plus the ranks' agreement on
 * failure.  Not the timed runs (infer.c) or the search's bracketing and
 * bisection (kernels/nn/loadgen_search.c).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <mpi.h>

#include "suites/infer_internal.h"

#define CALIBRATION_MIN_REQUESTS 8
#define CALIBRATION_SHARE 0.25
#define CALIBRATION_MIN_S 0.05
#define CALIBRATION_MAX_S 5.0
#define CALIBRATION_MAX_DOUBLINGS 16

/* The lowest rate a Server run can be shown valid at within max_duration_s:
 * the fewest valid requests (loadgen.h, strata_loadgen_min_valid_queries:
 * 459 for a p99 bound) over that time.  The search looks no lower, so no
 * probe is invalid only for want of time. */
static double server_min_rate(const struct strata_loadgen_settings *ls)
{
	return (double)strata_loadgen_min_valid_queries(ls) / ls->max_duration_s;
}

/* Every rank agrees on failure: returns STRATA_ERROR everywhere if any rank failed. */
int strata_infer_suite_agree(const struct strata_case *c, int rc)
{
	int bad = rc != STRATA_OK;
	MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, c->comm);
	if (bad && rc == STRATA_OK)
		strata_case_errorf(c, "infer: another rank failed in setup");
	return bad ? STRATA_ERROR : STRATA_OK;
}

/* Offline runs of 2 x max_batch requests, doubled until one lasts
 * CALIBRATION_SHARE of min_duration_s (at least CALIBRATION_MIN_S), then
 * once more at that size: the throughput of that last run sizes Offline's
 * query (LoadGen leaves that to the user's offline_expected_qps) and starts
 * the rate search.  The ranks take the smallest. */
int strata_infer_suite_calibrate(struct infer_state *s, const struct strata_case *c)
{
	struct strata_loadgen_settings cal = s->ls;
	cal.scenario = STRATA_LOADGEN_OFFLINE;
	cal.min_duration_s = 0;
	cal.min_queries = 2 * s->max_batch > CALIBRATION_MIN_REQUESTS ? 2 * s->max_batch
	                                                              : CALIBRATION_MIN_REQUESTS;
	cal.offline_expected_qps = 0;
	memset(cal.bound_s, 0, sizeof(cal.bound_s));
	double target_s = fmin(CALIBRATION_MAX_S,
	                       fmax(CALIBRATION_MIN_S, CALIBRATION_SHARE * s->ls.min_duration_s));
	double qps = 0;
	int long_runs =
	    0; /* the first long-enough run may still carry first-touch costs: run it twice */
	for (int i = 0; i < CALIBRATION_MAX_DOUBLINGS; i++) {
		struct strata_loadgen_result r;
		char err[512] = "";
		int rc = strata_loadgen_run(&cal, &s->lsut, &s->clk, &r, err, sizeof(err));
		double dur = rc == 0 ? r.duration_s : 0;
		qps = rc == 0 ? r.queries_per_s : 0;
		strata_loadgen_result_release(&r);
		if (rc != 0)
			strata_case_errorf(c, "infer: calibration run: %s", err);
		if (strata_infer_suite_agree(c, rc == 0 ? STRATA_OK : STRATA_ERROR) != STRATA_OK)
			return STRATA_ERROR;
		int long_enough = dur >= target_s; /* every rank must agree */
		MPI_Allreduce(MPI_IN_PLACE, &long_enough, 1, MPI_INT, MPI_MIN, c->comm);
		if (long_enough && ++long_runs == 2)
			break;
		if (!long_enough)
			cal.min_queries *= 2;
	}
	MPI_Allreduce(MPI_IN_PLACE, &qps, 1, MPI_DOUBLE, MPI_MIN, c->comm);
	if (!(qps > 0)) {
		strata_case_errorf(c, "infer: calibration measured no throughput");
		return STRATA_ERROR;
	}
	s->expected_qps = qps;
	return STRATA_OK;
}

/* One Server run at rate on every rank, started together, valid only if
 * valid everywhere; logged in s->probes. */
static int run_probe(struct infer_state *s, const struct strata_case *c, double rate, int confirm,
                     int *valid)
{
	struct strata_loadgen_settings probe = s->ls;
	struct strata_loadgen_result r;
	char err[512] = "";
	probe.rate_qps = rate;
	MPI_Barrier(c->comm);
	int rc = strata_loadgen_run(&probe, &s->lsut, &s->clk, &r, err, sizeof(err));
	if (rc != 0)
		strata_case_errorf(c, "infer: %s run at %.6g q/s: %s",
		                   confirm ? "confirmation" : "search probe", rate, err);
	if (strata_infer_suite_agree(c, rc == 0 ? STRATA_OK : STRATA_ERROR) != STRATA_OK) {
		strata_loadgen_result_release(&r);
		return STRATA_ERROR;
	}
	*valid = r.valid;
	MPI_Allreduce(MPI_IN_PLACE, valid, 1, MPI_INT, MPI_MIN, c->comm);
	if (s->nprobes < MAX_PROBES) {
		struct probe_log *pl = &s->probes[s->nprobes++];
		*pl = (struct probe_log){.rate_qps = rate,
		                         .valid = *valid,
		                         .valid_here = r.valid,
		                         .e2e_p99_s = r.dist[STRATA_LOADGEN_E2E].q_s[3],
		                         .ttft_p99_s = r.dist[STRATA_LOADGEN_TTFT].q_s[3],
		                         .tpot_p99_s = r.dist[STRATA_LOADGEN_TPOT].q_s[3],
		                         .issued = r.issued,
		                         .confirm = confirm};
		snprintf(pl->why, sizeof(pl->why), "%s", r.why);
	}
	strata_loadgen_result_release(&r);
	return STRATA_OK;
}

/* Confirmation, as a LoadGen submission's PerformanceOnly run at the rate
 * its peak search found: near capacity the queue's tail varies from run to
 * run, so a probe can be valid by luck.  The found rate is run again; while
 * that is invalid the rate steps down by the tolerance (at most
 * CONFIRM_STEPS runs).  The timed runs go at the confirmed rate. */
static int confirm_rate(struct infer_state *s, const struct strata_case *c, double tol)
{
	double rate = s->search.lo_qps;
	for (int i = 0; i < CONFIRM_STEPS && rate >= s->search.min_qps; i++) {
		int valid = 0;
		if (run_probe(s, c, rate, 1, &valid) != STRATA_OK)
			return STRATA_ERROR;
		if (valid) {
			s->confirmed_qps = rate;
			return STRATA_OK;
		}
		rate /= 1 + tol;
	}
	return STRATA_OK;
}

/* The rate search (loadgen.h): every probe a full Server run at the same
 * rate on every rank, started together, valid only if valid everywhere. */
int strata_infer_suite_search_rate(struct infer_state *s, const struct strata_case *c, double tol)
{
	double t0 = MPI_Wtime();
	double min_qps = server_min_rate(&s->ls);
	strata_loadgen_search_init(&s->search, fmax(0.5 * s->expected_qps, min_qps), tol, min_qps,
	                           fmax(4 * s->expected_qps, 2 * min_qps), MAX_PROBES - CONFIRM_STEPS);
	double rate;
	while (strata_loadgen_search_next(&s->search, &rate)) {
		int valid = 0;
		if (run_probe(s, c, rate, 0, &valid) != STRATA_OK)
			return STRATA_ERROR;
		strata_loadgen_search_report(&s->search, rate, valid);
	}
	if (s->search.lo_qps > 0 && confirm_rate(s, c, tol) != STRATA_OK)
		return STRATA_ERROR;
	s->searched = 1;
	s->search_s = MPI_Wtime() - t0;
	/* Nothing valid or confirmed: the timed runs go at the lowest rate
	 * probed, so the record still shows the latencies there (INVALID). */
	s->ls.rate_qps = s->confirmed_qps > 0 ? s->confirmed_qps
	                 : s->search.lo_qps > 0 ? s->search.lo_qps / pow(1 + tol, CONFIRM_STEPS)
	                                        : s->search.hi_qps;
	return STRATA_OK;
}
