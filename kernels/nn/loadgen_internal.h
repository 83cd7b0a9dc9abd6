/* loadgen_internal.h: private to the LoadGen-style driver (kernels/nn/
 * loadgen*.c): the state of one run and the functions its files share.  Not
 * an interface for anything else; what the driver is, and where it follows or
 * departs from MLPerf's LoadGen, is in loadgen.h.
 *   loadgen.c           the scenario driver: settings, requests, the SUT's
 *                       sink, the run loop
 *   loadgen_verdict.c   judging a run: the measures, the run rules and early
 *                       stopping as it goes, the verdict and figures after it
 *   loadgen_stats.c     percentiles, the incomplete beta function, early
 *                       stopping's h(t) and SingleStream estimate
 *   loadgen_search.c    the search for the highest valid Server rate
 *   loadgen_arrivals.c  random numbers, Poisson arrivals, request sizes
 *   loadgen_clock.c     the real and the virtual clock */
#ifndef STRATA_KERNELS_NN_LOADGEN_INTERNAL_H
#define STRATA_KERNELS_NN_LOADGEN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/nn/loadgen.h"

#define NS_PER_S 1e9

/* strata_loadgen_record.state */
enum { REC_QUEUED, REC_HELD, REC_DONE, REC_ABANDONED };

/* One run of strata_loadgen_run (loadgen.c), on its caller's stack. */
struct loadgen_run {
	struct strata_loadgen_settings s;
	const struct strata_loadgen_sut *sut;
	const struct strata_loadgen_clock *clk;
	struct strata_loadgen_result *res;
	int64_t t0_ns;
	double p, c;
	int bounded; /* any bound given */
	struct strata_loadgen_rng rng_prompt, rng_output;
	struct strata_loadgen_arrivals arr;
	int64_t next_arrival_ns; /* Server */
	int64_t n_offline;
	/* Requests: records[0..n), created in arrival order, admitted in order. */
	struct strata_loadgen_record *rec;
	int64_t n, cap;
	int64_t admit_next; /* first queued (not yet admitted) record */
	int64_t *held;      /* ids held by the SUT, (capacity) */
	int nheld;
	int64_t completed, abandoned;
	int64_t issued_tpot; /* requests with a TPOT (output >= 2) */
	int64_t pop_done[STRATA_LOADGEN_NMEASURES], over_done[STRATA_LOADGEN_NMEASURES];
	struct strata_loadgen_es es;
	int issuing;
	int stop_set;
	/* Early-stopping looks (strata_loadgen_decide()). */
	int viol_look;
	int64_t viol_next_n;
	/* The look that proved a bound violated: its measure and counts. */
	int viol_m;
	int64_t viol_known, viol_issued;
	int64_t es_next_q[STRATA_LOADGEN_NMEASURES];
	char *err;
	size_t err_len;
	int failed; /* a sink call saw a SUT error */
};

/* loadgen.c */
/* A message into err[0..len) (nothing when err is NULL or len 0). */
void strata_loadgen_errorf(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Mark the run failed with a message; the first failure's message is kept. */
void strata_loadgen_run_fail(struct loadgen_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Stop issuing; the first reason given is the one recorded. */
void strata_loadgen_set_stop(struct loadgen_run *r, enum strata_loadgen_stop why);

/* loadgen_verdict.c */
/* A measure's value for a record: 1 with *v, or 0 when it has none (yet). */
int strata_loadgen_record_value(const struct strata_loadgen_record *x,
                                enum strata_loadgen_measure m, double *v);
/* Step 3 of the run loop: the run rules and early stopping.  Returns 1 when
 * the run is to be abandoned now. */
int strata_loadgen_decide(struct loadgen_run *r, int64_t now);
/* The verdict and the figures, after the loop (moves r->rec into r->res).
 * 0, or -1 when out of memory (r failed with a message). */
int strata_loadgen_finish(struct loadgen_run *r);

#endif
