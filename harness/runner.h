/* runner.h: `strata run`: the generic MPI driver every suite runs under.
 *
 * All ranks call strata_runner_run().  Rank 0 reads and validates the plan
 * and broadcasts its text; every rank parses the same text, so every rank
 * agrees on the case list.  For each variant and case: setup, warm-up,
 * synchronised timed repetitions, verify, teardown.  Before each repetition
 * the ranks take a stop vote (one MPI_Allreduce carrying "enough samples",
 * "a signal arrived", "an iteration failed", "timeout") and then meet at an
 * MPI_Barrier; each rank then times its own iteration with the monotonic
 * clock.  A repetition's figure is the slowest rank's time (a synchronised
 * step ends when its last rank ends; nccl-tests -a 3 and OSU's Max column
 * report the same, their defaults average over ranks).  Raw samples of every
 * rank are summarised per rank.
 */
#ifndef STRATA_RUNNER_H
#define STRATA_RUNNER_H

/* Exit codes: a documented taxonomy (README.md), never 0 when anything failed. */
enum strata_exit {
	STRATA_EXIT_OK = 0,          /* all cases passed (skips listed, not failing) */
	STRATA_EXIT_VALIDATION = 1,  /* a benchmark produced a wrong answer */
	STRATA_EXIT_BAD_INPUT = 2,   /* bad command line or plan */
	STRATA_EXIT_RUNTIME = 3,     /* runtime/infrastructure error, interrupted,
					timed out, or a required case skipped */
	STRATA_EXIT_THRESHOLD = 4,   /* a performance threshold was not met */
};

struct strata_run_options {
	const char *plan_path;
	const char *out_dir;      /* explicit results directory, or NULL */
	const char *results_base; /* parent of generated run directories */
	int argc;                 /* the command line, recorded in the manifest */
	char **argv;
};

/* Run a plan.  Called by every rank after MPI_Init.  Returns an exit code. */
int strata_runner_run(const struct strata_run_options *opt);

/* Signal bookkeeping (SIGINT/SIGTERM stop after the current repetition). */
void strata_runner_install_signals(void);
int strata_runner_signal(void); /* 0, or the signal that arrived */

#endif
