/* topo.h: what hwloc sees of a node, and where each rank of it should run.
 *
 * What it is: a thin layer over hwloc 2 that loads a topology (this machine,
 * an XML file or a synthetic description such as "pack:2 numa:2 core:8 pu:2"),
 * lists the I/O devices that matter for benchmarks (GPUs, NICs, NVMe and other
 * storage, each with its PCI bus id and local NUMA nodes), summarises it all
 * as JSON for the manifest, prints it as a readable tree, computes the CPU set
 * a local rank gets under a binding policy, recommends the NIC closest to each
 * GPU in the PCI tree, and applies and reads back a binding.
 * What it is not: MPI-aware (harness/topo_run.c gathers and records across
 * ranks) or a memory-binding policy (placement follows first touch from the
 * bound threads; the numa_matrix suite binds memory itself).
 *
 * Binding policies, for local rank i of k ranks on a host:
 *   none       leave the binding the launcher gave (restored if a case changed it)
 *   core       the cores in hwloc's logical order split into k contiguous
 *              blocks of floor/ceil(ncores / k) whole cores (every PU of a
 *              core); with more ranks than cores, core i mod ncores
 *   numa       the NUMA nodes that have CPUs, split into k contiguous blocks;
 *              with more ranks than nodes, node floor(i * nnodes / k), so
 *              neighbouring ranks share a node
 *   gpu-local  GPU i mod ngpus (GPUs in PCI bus id order, the order of
 *              CUDA_DEVICE_ORDER=PCI_BUS_ID and nvidia-smi), bound to the CPUs
 *              of the non-I/O object the GPU hangs off (its NUMA node, or its
 *              package where the package holds several)
 * Threads: a bound rank should run as many threads as its CPU set has PUs,
 * divided among the local ranks given the same set (at least 1).
 *
 * NIC choice: for each GPU, the NIC whose path to it in hwloc's tree is
 * shortest by class, then by hops, then the one fewer GPUs were given so far,
 * then by PCI bus id.  Classes, after NCCL's and `nvidia-smi topo -m`'s
 * path types (PIX/PXB, PHB, NODE, SYS):
 *   pcie-switch   the common ancestor is a PCI-to-PCI bridge (same switch)
 *   host-bridge   the common ancestor is a host bridge (same root complex)
 *   numa          the common ancestor is a CPU-side object below the machine
 *   system        only the machine is common (the path crosses sockets)
 */
#ifndef STRATA_TOPO_H
#define STRATA_TOPO_H

#include <stddef.h>
#include <stdio.h>

#include <hwloc.h>
#include <jansson.h>

enum strata_bind_policy {
	STRATA_BIND_NONE = 0,
	STRATA_BIND_CORE,
	STRATA_BIND_NUMA,
	STRATA_BIND_GPU_LOCAL,
};

/* "none", "core", "numa", "gpu-local". */
const char *strata_bind_policy_name(enum strata_bind_policy p);
/* Parse a policy name.  Returns 0, or -1 for an unknown name. */
int strata_bind_policy_parse(const char *name, enum strata_bind_policy *out);

enum strata_topo_dev_kind {
	STRATA_DEV_GPU,
	STRATA_DEV_NIC,
	STRATA_DEV_NVME,
	STRATA_DEV_STORAGE, /* other mass-storage controllers (SATA, SAS, virtio) */
};

/* One PCI device of interest. */
struct strata_topo_dev {
	enum strata_topo_dev_kind kind;
	hwloc_obj_t pci; /* the PCI device object */
	char bus_id[32]; /* "0000:07:00.0" */
	unsigned class_id, vendor_id, device_id;
	char names[256];      /* its OS devices, comma-separated ("mlx5_0,ib0", "cuda0,nvml0") */
	char kind_detail[32]; /* NIC: "infiniband", "ethernet", "network"; GPU: "3d", "vga" */
	hwloc_obj_t locality; /* the non-I/O ancestor (package, NUMA group, machine) */
};

#define STRATA_TOPO_MAX_DEVS 256

/* A loaded topology and its device lists.  Lifecycle: strata_topo_load,
 * then strata_topo_release. */
struct strata_topo {
	hwloc_topology_t topo;
	char source[512];   /* "this system", "xml:FILE", "synthetic:DESC" */
	int is_this_system; /* bindings can be applied */
	struct strata_topo_dev devs[STRATA_TOPO_MAX_DEVS];
	int n_devs;
	int gpu_idx[STRATA_TOPO_MAX_DEVS]; /* devs index of GPU g, in PCI bus id order */
	int n_gpus;
	int nic_idx[STRATA_TOPO_MAX_DEVS]; /* devs index of NIC n, in PCI bus id order */
	int n_nics;
};

/* Load a topology with I/O devices (hwloc's "important" I/O filter: GPUs,
 * NICs, storage and the bridges above them).  xml_path and synthetic are
 * mutually exclusive; both NULL: this machine.  Returns 0, or -1 with a
 * message in err. */
int strata_topo_load(struct strata_topo *t, const char *xml_path, const char *synthetic, char *err,
                     size_t err_len);
void strata_topo_release(struct strata_topo *t);

/* The manifest summary: packages, NUMA nodes (memory, CPUs), cores, PUs,
 * caches, gpus, nics, nvme, storage (PCI bus id, local NUMA nodes, CPUs),
 * gpu_nic (the recommended NIC per GPU) and numa_distances (null when hwloc
 * has no distance matrix). */
json_t *strata_topo_summary(const struct strata_topo *t);

/* Pieces of the summary that the manifest's host facts (harness/sysinfo.c)
 * share: cache levels ({"L3": {bytes_each, count}, ...}) and NUMA nodes
 * ([{os_index, memory_bytes, cpus, pus}, ...]) of a loaded topology. */
json_t *strata_topo_caches_json(hwloc_topology_t topo);
json_t *strata_topo_numa_json(hwloc_topology_t topo);

/* The topology as hwloc XML (hwloc_topology_export_xmlbuffer); the caller
 * frees it with free().  NULL on failure. */
char *strata_topo_xml(const struct strata_topo *t);

/* A readable tree (packages, NUMA nodes, caches folded per core, I/O
 * devices with their names and PCI ids). */
void strata_topo_print_tree(const struct strata_topo *t, FILE *f);

/* How a rank should be bound. */
struct strata_bind_plan {
	enum strata_bind_policy policy;
	hwloc_bitmap_t cpuset; /* allocated by strata_bind_plan_compute; NULL for none */
	int threads;           /* suggested threads (0 for none) */
	int sharers;           /* local ranks given the same set */
	int gpu;               /* gpu-local: GPU index (PCI order), else -1 */
	int nic;               /* gpu-local: recommended NIC index, else -1 */
	char note[256];        /* what was chosen, e.g. "cores 4-7 of 16", "numa 1" */
};

/* Compute the binding of local rank local_rank of local_size under policy.
 * Returns 0, or -1 with a message in err (gpu-local on a node without GPUs,
 * a topology without cores).  For STRATA_BIND_NONE, plan->cpuset is NULL.
 * Release with strata_bind_plan_release. */
int strata_bind_plan_compute(const struct strata_topo *t, enum strata_bind_policy policy,
                             int local_rank, int local_size, struct strata_bind_plan *plan,
                             char *err, size_t err_len);
void strata_bind_plan_release(struct strata_bind_plan *plan);

/* The recommended NIC (index into the NIC list) for GPU g, its path class
 * ("pcie-switch", "host-bridge", "numa", "system") and hop count; computed
 * for all GPUs at once so that ties are balanced.  -1 when there is no NIC. */
struct strata_gpu_nic {
	int nic;
	const char *path;
	int hops;
};
/* out must hold t->n_gpus entries.  */
void strata_topo_gpu_nics(const struct strata_topo *t, struct strata_gpu_nic *out);

/* Bind this process (every thread) to cpuset and read back what the kernel
 * set.  Returns 0 when the bind call succeeded, -1 with err otherwise; in both
 * cases *actual (caller frees) holds the binding read back as a list
 * ("0-3,8"). */
int strata_topo_bind_apply(const struct strata_topo *t, hwloc_const_cpuset_t cpuset, char **actual,
                           char *err, size_t err_len);

/* This process's current CPU binding as a list string (caller frees); NULL
 * on failure.  into, when not NULL, receives it as a bitmap. */
char *strata_topo_binding_get(const struct strata_topo *t, hwloc_bitmap_t into);

/* A bitmap as a list string ("0-3,8"); caller frees. */
char *strata_topo_set_string(hwloc_const_bitmap_t set);

/* The NUMA nodes (os indexes) local to a device, as a JSON array. */
json_t *strata_topo_dev_numa(const struct strata_topo *t, const struct strata_topo_dev *d);

/* `strata topo [--policy P] [--ranks-per-node N] [--xml FILE | --synthetic
 * DESC] [--json]` (harness/topo_cmd.c): argv[1] is "topo".  Prints the
 * tree, the devices, the NIC per GPU and the binding each local rank would
 * get; needs no MPI.  Returns an exit code (runner.h). */
int strata_topo_main(int argc, char **argv);

#endif
