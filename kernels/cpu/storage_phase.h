/* storage_phase.h: per-phase times inside one repetition, for the storage
 * figures that need their own inner timing (a checkpoint's write burst and
 * read-back; mdtest's create, stat, open/close and unlink phases).
 *
 * What it is: a log of each timed repetition's phase durations on one rank,
 * and their reduction: each phase of a repetition starts right after a
 * barrier, so the phase's aggregate time is the slowest rank's (IOR's
 * "latest end - earliest start" across ranks, ior.c; mdtest's phase time
 * between barriers); the figure is the median over repetitions of that.
 * What it is not: the runner's timing (which covers the whole repetition).
 */
#ifndef STRATA_STORAGE_PHASE_H
#define STRATA_STORAGE_PHASE_H

#include <stddef.h>

#include <mpi.h>

#define STRATA_PHASE_MAX 8

struct strata_phase_log {
	int nphases;
	double *s;     /* (n, nphases) seconds */
	size_t n, cap; /* repetitions logged */
};

void strata_phase_log_init(struct strata_phase_log *log, int nphases);
int strata_phase_log_push(struct strata_phase_log *log, const double *seconds);
void strata_phase_log_release(struct strata_phase_log *log);

/* Collective over comm.  Over the repetitions every rank logged: per
 * repetition and phase the maximum over ranks, then the median over
 * repetitions into median_s[nphases] (rank 0); and each rank's own median
 * per phase into per_rank_s[nranks x nphases] (rank 0, may be NULL).
 * Returns the repetitions used (0: none; the medians are then 0). */
int strata_phase_log_reduce(const struct strata_phase_log *log, MPI_Comm comm, int rank, int nranks,
                            double *median_s, double *per_rank_s);

#endif
