/* gpu_locality.h: where a PCI device (a GPU) sits in the host's topology, from
 * hwloc: the NUMA node(s) and CPUs nearest to it, and NUMA-bound host memory.
 *
 * What it is: hwloc with PCI discovery on, the device found by its bus id
 * ("0000:3b:00.0", as CUDA gives it), and its first non-I/O ancestor's
 * nodeset and cpuset (hwloc's definition of "local").  What it is not: CUDA
 * or NVML; plain C, built with or without the CUDA backend; nothing prints.
 */
#ifndef STRATA_KERNELS_GPU_GPU_LOCALITY_H
#define STRATA_KERNELS_GPU_GPU_LOCALITY_H

#include <stddef.h>

struct strata_gpu_locality {
	int found;            /* hwloc knows the PCI device */
	int numa_node;        /* os_index of the first local NUMA node, -1 unknown */
	char numa_nodes[64];  /* all local NUMA nodes, list form "0" or "0-1" */
	char cpus[256];       /* local CPUs, list form "0-31,64-95" */
	int numa_count;       /* NUMA nodes on this host (>= 1 when hwloc loads) */
	char why[160];        /* when !found */
};

/* Locality of the PCI device bus_id.  Always fills numa_count when hwloc
 * loads.  Returns 0 when found, -1 with out->why. */
int strata_gpu_locality_get(const char *bus_id, struct strata_gpu_locality *out);

/* Host memory of len bytes bound to NUMA node os_index (hwloc_alloc_membind,
 * HWLOC_MEMBIND_BIND, strict) and touched page by page so it is placed now.
 * Returns NULL with why when the node does not exist or binding fails.
 * Free with strata_numa_free(p, len). */
void *strata_numa_alloc(int os_index, size_t len, char *why, size_t why_len);
void strata_numa_free(void *p, size_t len);
/* NUMA nodes of this host (os_index values), how many written. */
int strata_numa_nodes(int *os_index, int max);

#endif
