/* topo_run.h: topology and binding during `strata run` (the MPI half of
 * harness/topo.h).
 *
 * Once per run: every host's hwloc topology is exported as XML into the
 * results directory (topology-<host>.xml, exported by the first rank of each
 * host and written by rank 0, the only rank that writes), and each host's
 * summary goes into the manifest.  Per case: the case's binding policy is
 * applied with hwloc at the start of its setup (so the suite's first-touch
 * allocations land where the rank runs), read back, and recorded per rank;
 * a rank whose binding read back differs from the one asked for makes the
 * record carry a warning.  Why per case and not once per run: `binding` is a
 * run setting that a case may override, so membw can run with `numa` and
 * gemm with `core` in one plan; applying costs a few system calls per case,
 * outside every timed region.
 *
 * Threads: while a policy other than none is in force, OpenMP's and
 * OpenBLAS's thread counts are set to the PUs of the rank's set divided by
 * the local ranks sharing it, unless the user set OMP_NUM_THREADS (or
 * OPENBLAS_NUM_THREADS) in the environment; policy none restores the
 * launcher's binding and the counts the run started with.
 */
#ifndef STRATA_TOPO_RUN_H
#define STRATA_TOPO_RUN_H

#include <jansson.h>
#include <mpi.h>

#include "harness/measure.h"
#include "harness/topo.h"

/* Load this host's topology and remember the launcher's binding and thread
 * counts.  Cheap to call again (loads once).  Returns 0 or -1 with err. */
int strata_topo_run_init(char *err, size_t err_len);

/* This host's summary (strata_topo_summary) plus "xml_file", the name the
 * host's XML gets in the results directory; an object with "error" when
 * hwloc failed. */
json_t *strata_topo_run_summary(void);

/* "topology-<host>.xml" with the host name made safe for a file name. */
void strata_topo_xml_name(const char *host, char *buf, size_t len);

/* Collective: the first rank of each host (local_rank 0) exports its XML,
 * rank 0 gathers and writes dir/topology-<host>.xml.  dir matters on rank
 * 0 only.  Returns 0, or -1 on rank 0 when a file could not be written (err
 * says which); the run goes on either way. */
int strata_topo_run_write_xml(const struct strata_rank_info *ri, const char *dir, char *err,
                              size_t err_len);

/* Collective: apply policy to this rank, read it back, gather every rank's
 * facts to rank 0.  Returns the record's "binding" object on rank 0 (NULL
 * elsewhere): {policy, ok, mismatched_ranks, ranks: [{rank, asked, actual,
 * ok, threads, note, error?, gpu?, nic?}], warning?}. */
json_t *strata_topo_run_bind(const struct strata_rank_info *ri, enum strata_bind_policy policy);

/* The record's "binding" object from every rank's facts (ranks is stolen):
 * ok when every rank's is, mismatched_ranks, and a warning naming the first
 * rank whose binding read back differs from the one asked for. */
json_t *strata_topo_binding_record(enum strata_bind_policy policy, json_t *ranks);

/* Put back the launcher's binding and thread counts; free the topology. */
void strata_topo_run_end(void);

#endif
