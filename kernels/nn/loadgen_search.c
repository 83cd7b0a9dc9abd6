/* loadgen_search.c: the search for the highest valid Server rate
 * (loadgen.h, after LoadGen's FindPeakPerformance mode): bracketing by
 * doubling or halving, then bisection, one full run per probe.  Not the
 * runs themselves (loadgen.c) or their verdict (loadgen_verdict.c).
 */
#include <math.h>
#include <string.h>

#include "kernels/nn/loadgen.h"

void strata_loadgen_search_init(struct strata_loadgen_search *s, double start_qps, double tol_rel,
                                double min_qps, double max_qps, int max_probes)
{
	memset(s, 0, sizeof(*s));
	s->start_qps = start_qps;
	s->tol_rel = tol_rel > 0 ? tol_rel : 0.05;
	s->min_qps = min_qps > 0 ? min_qps : start_qps / 1024;
	s->max_qps = max_qps > 0 ? max_qps : start_qps * 1024;
	s->max_probes = max_probes > 0 && max_probes <= STRATA_LOADGEN_MAX_PROBES
	                    ? max_probes
	                    : STRATA_LOADGEN_MAX_PROBES;
}

int strata_loadgen_search_next(struct strata_loadgen_search *s, double *rate_qps)
{
	if (s->stopped)
		return 0;
	if (s->nprobes >= s->max_probes) {
		s->stopped = "max probes reached";
		return 0;
	}
	double next;
	if (s->nprobes == 0) {
		next = s->start_qps;
	} else if (s->hi_qps <= 0) { /* every probe valid: widen upwards */
		if (s->lo_qps >= s->max_qps) {
			s->stopped = "max rate reached with every probe valid";
			return 0;
		}
		next = fmin(2 * s->lo_qps, s->max_qps);
	} else if (s->lo_qps <= 0) { /* every probe invalid: widen downwards */
		next = s->hi_qps / 2;
		if (next < s->min_qps) {
			s->stopped = "no valid rate at or above the minimum rate";
			return 0;
		}
	} else {
		if (s->hi_qps - s->lo_qps <= s->tol_rel * s->lo_qps) {
			s->stopped = "bracketed within the tolerance";
			return 0;
		}
		next = s->lo_qps + (s->hi_qps - s->lo_qps) / 2;
	}
	*rate_qps = next;
	return 1;
}

void strata_loadgen_search_report(struct strata_loadgen_search *s, double rate_qps, int valid)
{
	if (s->nprobes < STRATA_LOADGEN_MAX_PROBES)
		s->probes[s->nprobes++] = (struct strata_loadgen_probe){rate_qps, valid};
	if (valid) {
		if (rate_qps > s->lo_qps)
			s->lo_qps = rate_qps;
		/* A valid probe above an invalid one (noise): trust the newest. */
		if (s->hi_qps > 0 && s->hi_qps <= rate_qps)
			s->hi_qps = 0;
	} else {
		if (s->hi_qps <= 0 || rate_qps < s->hi_qps)
			s->hi_qps = rate_qps;
		if (s->lo_qps >= rate_qps)
			s->lo_qps = 0;
	}
}

int strata_loadgen_find_max_rate(const struct strata_loadgen_settings *s,
                                 const struct strata_loadgen_sut *sut,
                                 const struct strata_loadgen_clock *clk,
                                 struct strata_loadgen_search *search,
                                 struct strata_loadgen_result *best, char *err, size_t err_len)
{
	memset(best, 0, sizeof(*best));
	struct strata_loadgen_settings probe = *s;
	probe.scenario = STRATA_LOADGEN_SERVER;
	double rate;
	while (strata_loadgen_search_next(search, &rate)) {
		struct strata_loadgen_result r;
		probe.rate_qps = rate;
		if (strata_loadgen_run(&probe, sut, clk, &r, err, err_len) != 0) {
			strata_loadgen_result_release(&r);
			return -1;
		}
		strata_loadgen_search_report(search, rate, r.valid);
		if (r.valid && rate >= search->lo_qps) {
			strata_loadgen_result_release(best);
			*best = r;
		} else {
			strata_loadgen_result_release(&r);
		}
	}
	return 0;
}
