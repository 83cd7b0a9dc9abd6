/* storage_phase.c: per-phase times and their reduction (storage_phase.h). */
#include "kernels/cpu/storage_phase.h"

#include <stdlib.h>
#include <string.h>

#include "harness/stats.h"

void strata_phase_log_init(struct strata_phase_log *log, int nphases)
{
	memset(log, 0, sizeof(*log));
	log->nphases = nphases;
}

int strata_phase_log_push(struct strata_phase_log *log, const double *seconds)
{
	if (log->n == log->cap) {
		size_t cap = log->cap ? 2 * log->cap : 64;
		double *p = realloc(log->s, cap * (size_t)log->nphases * sizeof(*p));
		if (!p)
			return -1;
		log->s = p;
		log->cap = cap;
	}
	memcpy(log->s + log->n * (size_t)log->nphases, seconds,
	       (size_t)log->nphases * sizeof(double));
	log->n++;
	return 0;
}

void strata_phase_log_release(struct strata_phase_log *log)
{
	free(log->s);
	memset(log, 0, sizeof(*log));
}

/* Median of phase p's column of v (n rows of np), 0 when n == 0. */
static double column_median(const double *v, int n, int np, int p)
{
	if (n <= 0)
		return 0.0;
	double *col = malloc((size_t)n * sizeof(*col));
	if (!col)
		return 0.0;
	for (int i = 0; i < n; i++)
		col[i] = v[(size_t)i * np + p];
	struct strata_stats st;
	double m = strata_stats_compute(col, (size_t)n, &st) == 0 ? st.median : 0.0;
	free(col);
	return m;
}

int strata_phase_log_reduce(const struct strata_phase_log *log, MPI_Comm comm, int rank, int nranks,
                            double *median_s, double *per_rank_s)
{
	int np = log->nphases, n = (int)log->n;
	MPI_Allreduce(MPI_IN_PLACE, &n, 1, MPI_INT, MPI_MIN, comm);
	double own[STRATA_PHASE_MAX] = {0};
	for (int p = 0; p < np && p < STRATA_PHASE_MAX; p++)
		own[p] = column_median(log->s, (int)log->n, np, p);
	double *maxed = NULL;
	int ok = 1;
	if (rank == 0 && n > 0)
		ok = (maxed = malloc((size_t)n * (size_t)np * sizeof(*maxed))) != NULL;
	MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
	if (ok && n > 0)
		MPI_Reduce(log->s, maxed, n * np, MPI_DOUBLE, MPI_MAX, 0, comm);
	/* every rank sends STRATA_PHASE_MAX values; rank 0 keeps np of each */
	double *recv = NULL;
	if (rank == 0)
		recv = calloc((size_t)nranks * STRATA_PHASE_MAX, sizeof(double));
	MPI_Gather(own, STRATA_PHASE_MAX, MPI_DOUBLE, recv, STRATA_PHASE_MAX, MPI_DOUBLE, 0, comm);
	if (rank == 0) {
		for (int p = 0; p < np; p++)
			median_s[p] = ok && n > 0 ? column_median(maxed, n, np, p) : 0.0;
		if (recv && per_rank_s)
			for (int r = 0; r < nranks; r++)
				for (int p = 0; p < np; p++)
					per_rank_s[(size_t)r * np + p] =
					    recv[(size_t)r * STRATA_PHASE_MAX + p];
	}
	free(recv);
	free(maxed);
	return ok ? n : 0;
}
