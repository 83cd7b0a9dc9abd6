/* sysinfo.h: facts about the machine, the software and the environment that
 * change results, for the manifest.  Reads only; never changes binding. */
#ifndef STRATA_SYSINFO_H
#define STRATA_SYSINFO_H

#include <jansson.h>

/* This host: hostname, CPU model, packages/cores/PUs, NUMA nodes with
 * memory, cache sizes, kernel (uname) — from hwloc and /proc; and "gpus"
 * (kernels/gpu/gpu_manifest.h) only where CUDA is built and a GPU usable. */
json_t *strata_sysinfo_host(void);

/* strata version, git commit, compiled backends, compiler, and the versions
 * of Open MPI, OpenBLAS, hwloc, libyaml and jansson actually linked. */
json_t *strata_sysinfo_versions(void);

/* Every environment variable whose name starts with one of the prefixes that
 * change results: OMP_, OPENBLAS_, NCCL_, UCX_, OMPI_, PMIX_, CUDA_, SLURM_,
 * GOMP_, KMP_, MKL_, HWLOC_, I_MPI_, FI_ — less the launcher's own plumbing
 * (URIs, pids, session directories, rank numbers), which differs on every
 * run and changes nothing measured. */
json_t *strata_sysinfo_env(void);

/* How this process was started, from the launcher's environment (rank 0's
 * view, the same for every rank of a step): {"kind": "srun"|"mpirun"|"pmi"|
 * "singleton", ...} and, inside a Slurm job, "slurm": {job_id, step_id,
 * nodelist, ntasks, nnodes, tasks_per_node, cluster, partition, mpi, ...}
 * as Slurm's SLURM_* output environment variables give them (sbatch(1),
 * srun(1) "OUTPUT ENVIRONMENT VARIABLES"). */
json_t *strata_sysinfo_launcher(void);

/* The CPUs this process is bound to, as a list string ("0-3,8"); the caller
 * frees it.  "unbound" when bound to every PU of the machine. */
char *strata_sysinfo_binding(void);

/* The backends compiled in, e.g. "cpu,cuda". */
const char *strata_sysinfo_backends(void);

#endif
