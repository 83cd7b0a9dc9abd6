/* suite.h: the one interface every benchmark suite implements.
 *
 * A suite is the experiment (what to set up, what one timed iteration is, how
 * to check the answer, how a time becomes a figure of merit); the runner owns
 * everything else (warm-up, synchronised repetitions, timing, statistics,
 * results).  A suite never prints, never times itself and never touches the
 * results directory.  It is one `const struct strata_suite` with designated
 * initialisers, registered in harness/registry.c.
 *
 * Lifecycle of one case, on every rank of the case's communicator:
 *   setup -> run_once (warm-up) ... -> run_once (timed) ... -> verify -> teardown
 * verify runs after the timed repetitions, like STREAM's checkSTREAMresults and
 * nccl-tests' #wrong column: a wrong answer fails the case, never a fast one.
 */
#ifndef STRATA_SUITE_H
#define STRATA_SUITE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <mpi.h>

#include "harness/params.h"

/* Capabilities the runner may ask about ("is it collective?", never "is it
 * allreduce?"). */
enum strata_suite_flags {
	STRATA_SUITE_COLLECTIVE = 1u << 0, /* ranks cooperate inside run_once */
	STRATA_SUITE_NEEDS_GPU = 1u << 1,  /* only meaningful with device: cuda */
	STRATA_SUITE_IO = 1u << 2,         /* touches a file system */
};

/* Return codes of setup / run_once. */
enum strata_status {
	STRATA_OK = 0,
	STRATA_SKIP = 1,     /* setup only: case cannot run here; err says why */
	STRATA_ERROR = -1,   /* runtime or infrastructure error; err says why */
	STRATA_DISCARD = 2,  /* run_once only: the iteration ran but has no valid
				time (a time-to-train run that did not converge:
				MLPerf reports such a run as not converged, never
				as a time).  The runner keeps no sample for it and
				counts it in method.discarded_repetitions; every
				rank must return it for the same repetition. */
};

/* What a suite sees of the case it runs.  Read-only but for err. */
struct strata_case {
	MPI_Comm comm;   /* communicator of all ranks of the run */
	int rank;        /* rank in comm */
	int nranks;      /* size of comm */
	int local_rank;  /* rank among the ranks on the same host */
	int local_size;  /* ranks on the same host */
	const struct strata_params *params; /* validated, one value per param */
	int timed;       /* 0 during setup and warm-up; 1 from the first timed
			    repetition on (for suites that keep their own
			    per-iteration figures, like p2p's pair matrix) */
	const json_t *run_records; /* rank 0: the cases of this run finished so far,
				      each {suite, backend, params, outcome,
				      metrics} (e.g. the train suite's MFU
				      against the gemm suite's measured peak);
				      NULL on other ranks */
	char *err;       /* message buffer for STRATA_SKIP / STRATA_ERROR / verify */
	size_t err_len;
};

/* One figure of merit.  name and unit are static strings. */
struct strata_metric {
	const char *name;  /* e.g. "gflops", "busbw", "latency" */
	const char *unit;  /* e.g. "GFLOP/s", "GB/s", "us" */
	double value;
	int higher_is_better; /* 1 for rates, 0 for latencies */
};

#define STRATA_MAX_METRICS 8

struct strata_suite {
	const char *name;
	const char *summary; /* one line for `strata list` */
	unsigned flags;      /* enum strata_suite_flags */
	const struct strata_param_def *params; /* drives validation and `list` */
	size_t n_params;

	/* Allocate and initialise.  *state is owned by the suite until teardown.
	 * Returns STRATA_OK, STRATA_SKIP (with reason in c->err) or STRATA_ERROR. */
	int (*setup)(const struct strata_case *c, void **state);
	/* One measured iteration.  Must leave buffers verifiable. */
	int (*run_once)(void *state, const struct strata_case *c);
	/* Check this rank's output.  Returns the number of wrong elements (0 is a
	 * pass), or a negative value on error; writes a reason into c->err when
	 * anything is wrong (first bad index, expected and actual values). */
	int64_t (*verify)(void *state, const struct strata_case *c);
	void (*teardown)(void *state);
	/* Turn one iteration time (seconds, slowest rank for synchronised steps)
	 * into figures of merit.  Returns how many were written into out. */
	size_t (*metrics)(const void *state, const struct strata_case *c,
			  double seconds, struct strata_metric *out, size_t max);
	/* Optional: add case facts to the record (sizes actually used, peak and
	 * its source, pair matrices ...).  Called on every rank after verify; only
	 * rank 0's object is written, so collective gathers belong in verify. */
	void (*describe)(const void *state, const struct strata_case *c,
			 json_t *details);
	/* Optional: called on every rank before every repetition (warm-up and
	 * timed), after the stop vote and before the barrier, outside the timed
	 * region: e.g. the storage suite drops the page cache before a read.
	 * Returns STRATA_OK or STRATA_ERROR (reason in c->err); the ranks agree
	 * on failure (one MPI_Allreduce), which ends the case as an error. */
	int (*prepare)(void *state, const struct strata_case *c);
	/* Optional: the device's own time of the last run_once, in seconds (the
	 * GPU suites: CUDA events around the batch of launches one run_once
	 * makes), or 0 when it has none (a CPU case).  When it returns > 0 the
	 * runner keeps that as the repetition's sample instead of its host-clock
	 * time (which then only brackets it), and method.timer says so. */
	double (*device_seconds)(const void *state);
};

/* Registry (harness/registry.c). */
size_t strata_suite_count(void);
const struct strata_suite *strata_suite_at(size_t i);
const struct strata_suite *strata_suite_find(const char *name);

/* Helper for suites: format into c->err. */
void strata_case_errorf(const struct strata_case *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
