/* mpi_text.h: moving text between ranks (per-rank facts to rank 0, a
 * string from rank 0 to all).  What it is not: a general serialisation layer;
 * callers send JSON or plain text and parse it themselves. */
#ifndef STRATA_MPI_TEXT_H
#define STRATA_MPI_TEXT_H

#include <mpi.h>

/* Gather one NUL-terminated string per rank on root: returns an array of
 * nranks strings on root (free with strata_mpi_text_free), NULL elsewhere
 * (and on root when out of memory).  Collective over comm. */
char **strata_mpi_gather_text(MPI_Comm comm, int root, const char *mine);
void strata_mpi_text_free(char **v, int n);

/* Broadcast root's string (NULL on root means ""); every rank gets its own
 * copy to free.  Collective over comm. */
char *strata_mpi_bcast_text(MPI_Comm comm, int root, const char *s);

#endif
