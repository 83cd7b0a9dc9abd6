/* measure.h: one case, measured: setup, warm-up, synchronised timed
 * repetitions, verify, teardown, and the record that describes it.
 *
 * Every rank calls strata_measure_case() for every case; only rank 0 gets a
 * record.  Nothing here prints or writes files.
 */
#ifndef STRATA_MEASURE_H
#define STRATA_MEASURE_H

#include <mpi.h>
#include <jansson.h>

#include "harness/plan.h"

enum strata_outcome {
	STRATA_PASSED,
	STRATA_FAILED,      /* ran, but validation found wrong answers */
	STRATA_SKIPPED,     /* cannot run here (reason recorded) */
	STRATA_ERRORED,     /* setup or an iteration failed */
	STRATA_INTERRUPTED, /* SIGINT/SIGTERM: stopped after a repetition */
	STRATA_TIMED_OUT,   /* the case's timeout_s was reached */
};

const char *strata_outcome_name(enum strata_outcome o);

struct strata_rank_info {
	MPI_Comm comm;
	int rank, nranks;
	int local_rank, local_size;
	char **hostnames; /* rank 0 only: nranks names */
	json_t *records;  /* rank 0 only: summaries of the finished cases
			     (strata_case.run_records), or NULL */
};

/* Measure one case.  On rank 0, *record receives the result record (the
 * caller adds run-level fields and writes it); NULL elsewhere. */
enum strata_outcome strata_measure_case(const struct strata_rank_info *ri,
					const struct strata_case_spec *spec,
					const char *variant, json_t **record);

/* The same, in steps, so that the runner can interleave the variants of a
 * case: begin (setup) every variant, warm each up, then alternate blocks of
 * timed repetitions between them, then end each (verify, record, teardown).
 * All are collective over ri->comm.  params are the effective parameters
 * (the case's, with a variant's overrides); the deadline is timeout_s x
 * timeout_scale from begin (interleaving n variants stretches a case's wall
 * time n-fold). */
struct strata_trial;
struct strata_trial *strata_trial_begin(const struct strata_rank_info *ri,
					const struct strata_case_spec *spec,
					const struct strata_params *params, const char *variant,
					double timeout_scale);
int strata_trial_live(const struct strata_trial *t); /* set up and not yet stopped */
void strata_trial_warmup(struct strata_trial *t);
/* Up to block timed repetitions (<= 0: until done).  Returns whether the
 * trial wants more. */
int strata_trial_measure(struct strata_trial *t, int64_t block);
/* Verify, describe, teardown; frees t.  Record as for strata_measure_case. */
enum strata_outcome strata_trial_end(struct strata_trial *t, json_t **record);

/* Dead and hung ranks, and the per-case deadline: harness/watchdog.h. */

#endif
