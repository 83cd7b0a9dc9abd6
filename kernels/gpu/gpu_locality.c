/* gpu_locality.c: hwloc queries for GPU locality and NUMA-bound memory (see
 * gpu_locality.h).  Each call loads its own topology: they run in setup,
 * never while timing.
 */
#include "kernels/gpu/gpu_locality.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hwloc.h>

static int load(hwloc_topology_t *topo, int io)
{
	if (hwloc_topology_init(topo) != 0)
		return -1;
	if (io)
		hwloc_topology_set_io_types_filter(*topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
	if (hwloc_topology_load(*topo) != 0) {
		hwloc_topology_destroy(*topo);
		return -1;
	}
	return 0;
}

int strata_gpu_locality_get(const char *bus_id, struct strata_gpu_locality *out)
{
	memset(out, 0, sizeof(*out));
	out->numa_node = -1;
	hwloc_topology_t topo;
	if (load(&topo, 1) != 0) {
		snprintf(out->why, sizeof(out->why), "hwloc could not load the topology");
		return -1;
	}
	out->numa_count = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
	hwloc_obj_t pci = hwloc_get_pcidev_by_busidstring(topo, bus_id);
	if (!pci) {
		snprintf(out->why, sizeof(out->why), "hwloc does not see PCI device %s", bus_id);
		hwloc_topology_destroy(topo);
		return -1;
	}
	hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(topo, pci);
	if (anc && anc->nodeset) {
		hwloc_bitmap_list_snprintf(out->numa_nodes, sizeof(out->numa_nodes), anc->nodeset);
		out->numa_node = hwloc_bitmap_first(anc->nodeset);
	}
	if (anc && anc->cpuset)
		hwloc_bitmap_list_snprintf(out->cpus, sizeof(out->cpus), anc->cpuset);
	out->found = 1;
	hwloc_topology_destroy(topo);
	return 0;
}

int strata_numa_nodes(int *os_index, int max)
{
	hwloc_topology_t topo;
	if (load(&topo, 0) != 0)
		return 0;
	int n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE), w = 0;
	for (int i = 0; i < n && w < max; i++)
		os_index[w++] = (int)hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, (unsigned)i)->os_index;
	hwloc_topology_destroy(topo);
	return w;
}

void *strata_numa_alloc(int os_index, size_t len, char *why, size_t why_len)
{
	hwloc_topology_t topo;
	void *p = NULL;
	if (load(&topo, 0) != 0) {
		snprintf(why, why_len, "hwloc could not load the topology");
		return NULL;
	}
	hwloc_obj_t node = hwloc_get_numanode_obj_by_os_index(topo, (unsigned)os_index);
	if (!node) {
		snprintf(why, why_len, "NUMA node %d does not exist on this host (%d node(s))",
			 os_index, hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE));
		goto out;
	}
	p = hwloc_alloc_membind(topo, len, node->nodeset, HWLOC_MEMBIND_BIND,
				HWLOC_MEMBIND_BYNODESET | HWLOC_MEMBIND_STRICT);
	if (!p) {
		snprintf(why, why_len, "hwloc_alloc_membind of %zu bytes on NUMA node %d failed",
			 len, os_index);
		goto out;
	}
	/* Fault every page in now, on the bound node. */
	long page = sysconf(_SC_PAGESIZE);
	for (size_t off = 0; off < len; off += (size_t)(page > 0 ? page : 4096))
		((volatile char *)p)[off] = 0;
out:
	hwloc_topology_destroy(topo);
	return p;
}

void strata_numa_free(void *p, size_t len)
{
	hwloc_topology_t topo;
	if (!p)
		return;
	if (load(&topo, 0) != 0)
		return; /* cannot happen after a successful alloc; leak rather than crash */
	hwloc_free(topo, p, len);
	hwloc_topology_destroy(topo);
}
