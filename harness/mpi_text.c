/* mpi_text.c: text between ranks (see mpi_text.h). */
#define _GNU_SOURCE
#include "harness/mpi_text.h"

#include <stdlib.h>
#include <string.h>

char **strata_mpi_gather_text(MPI_Comm comm, int root, const char *mine)
{
	int rank, n;
	MPI_Comm_rank(comm, &rank);
	MPI_Comm_size(comm, &n);
	size_t mine_len = strlen(mine ? mine : "") + 1;
	int len = mine_len > (size_t)(1 << 30) ? 1 : (int)mine_len; /* > 1 GiB: sent empty */
	int *lens = NULL, *displ = NULL;
	char *buf = NULL;
	if (rank == root) {
		lens = calloc((size_t)n, sizeof(*lens));
		displ = calloc((size_t)n, sizeof(*displ));
	}
	MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, root, comm);
	long long total = 0;
	if (rank == root && lens && displ) {
		for (int r = 0; r < n; r++) {
			displ[r] = (int)total;
			total += lens[r];
		}
		buf = total < (1LL << 31) ? malloc((size_t)total) : NULL;
	}
	/* Every rank must take part even when root could not allocate: send to a
	 * zero-length receive then (MPI needs matching counts, so shrink them). */
	if (rank == root && !buf && lens)
		for (int r = 0; r < n; r++)
			lens[r] = 0, displ[r] = 0;
	int ok = rank != root || buf;
	MPI_Bcast(&ok, 1, MPI_INT, root, comm);
	MPI_Gatherv(mine ? mine : "", ok ? len : 0, MPI_CHAR, buf, lens, displ, MPI_CHAR, root,
	            comm);
	char **out = NULL;
	if (rank == root && buf) {
		out = calloc((size_t)n, sizeof(*out));
		for (int r = 0; out && r < n; r++) {
			out[r] = malloc((size_t)lens[r] + 1);
			if (out[r]) {
				memcpy(out[r], buf + displ[r], (size_t)lens[r]);
				out[r][lens[r]] = '\0';
			}
		}
	}
	free(buf);
	free(lens);
	free(displ);
	return out;
}

void strata_mpi_text_free(char **v, int n)
{
	if (!v)
		return;
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

char *strata_mpi_bcast_text(MPI_Comm comm, int root, const char *s)
{
	int rank;
	MPI_Comm_rank(comm, &rank);
	long long len = rank == root ? (long long)(s ? strlen(s) : 0) : 0;
	MPI_Bcast(&len, 1, MPI_LONG_LONG, root, comm);
	char *buf = malloc((size_t)len + 1);
	int ok = buf != NULL, all_ok = 0;
	MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm);
	if (!all_ok) {
		free(buf);
		return NULL;
	}
	if (rank == root && len)
		memcpy(buf, s, (size_t)len);
	MPI_Bcast(buf, (int)len, MPI_CHAR, root, comm);
	buf[len] = '\0';
	return buf;
}
