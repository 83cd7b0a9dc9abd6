/* topo.c: topology loading, I/O device lists, the manifest summary, the
 * readable tree, binding plans and NIC choice (see topo.h).  Nothing here
 * talks MPI or prints unless asked to print the tree. */
#define _GNU_SOURCE
#include "harness/topo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PCI class codes (PCI Code and ID Assignment Specification, rev 1.x):
 * base class << 8 | subclass. */
#define PCI_CLASS_STORAGE_BASE 0x01
#define PCI_CLASS_NVME 0x0108 /* non-volatile memory controller */
#define PCI_CLASS_NETWORK_BASE 0x02
#define PCI_CLASS_ETHERNET 0x0200
#define PCI_CLASS_INFINIBAND 0x0207
#define PCI_CLASS_VGA 0x0300
#define PCI_CLASS_3D 0x0302
#define PCI_CLASS_DISPLAY_OTHER 0x0380
#define PCI_CLASS_ACCEL 0x1200 /* processing accelerator (some AI accelerators) */

/* Vendors whose display-class devices are compute GPUs (a server's
 * BMC VGA, ASPEED 0x1a03 or Matrox 0x102b, is not). */
#define PCI_VENDOR_NVIDIA 0x10de
#define PCI_VENDOR_AMD 0x1002

const char *strata_bind_policy_name(enum strata_bind_policy p)
{
	switch (p) {
	case STRATA_BIND_NONE:
		return "none";
	case STRATA_BIND_CORE:
		return "core";
	case STRATA_BIND_NUMA:
		return "numa";
	case STRATA_BIND_GPU_LOCAL:
		return "gpu-local";
	}
	return "?";
}

int strata_bind_policy_parse(const char *name, enum strata_bind_policy *out)
{
	static const enum strata_bind_policy all[] = {STRATA_BIND_NONE, STRATA_BIND_CORE,
	                                              STRATA_BIND_NUMA, STRATA_BIND_GPU_LOCAL};
	for (size_t i = 0; name && i < sizeof(all) / sizeof(all[0]); i++) {
		if (!strcmp(name, strata_bind_policy_name(all[i]))) {
			*out = all[i];
			return 0;
		}
	}
	return -1;
}

/* ---- loading and device lists ------------------------------------------------ */

static int is_gpu(const struct hwloc_pcidev_attr_s *p)
{
	if (p->class_id == PCI_CLASS_3D)
		return 1;
	if (p->class_id == PCI_CLASS_VGA || p->class_id == PCI_CLASS_DISPLAY_OTHER)
		return p->vendor_id == PCI_VENDOR_NVIDIA || p->vendor_id == PCI_VENDOR_AMD;
	return 0;
}

static void dev_names(hwloc_obj_t pci, struct strata_topo_dev *d, int *has_rdma)
{
	size_t off = 0;
	*has_rdma = 0;
	d->names[0] = '\0';
	for (hwloc_obj_t c = pci->io_first_child; c; c = c->next_sibling) {
		if (c->type != HWLOC_OBJ_OS_DEVICE || !c->name)
			continue;
		if (c->attr->osdev.type == HWLOC_OBJ_OSDEV_OPENFABRICS)
			*has_rdma = 1;
		if (off < sizeof(d->names))
			off += (size_t)snprintf(d->names + off, sizeof(d->names) - off, "%s%s",
			                        off ? "," : "", c->name);
	}
}

static void classify(hwloc_topology_t topo, hwloc_obj_t pci, struct strata_topo_dev *d, int *keep)
{
	const struct hwloc_pcidev_attr_s *p = &pci->attr->pcidev;
	int rdma;
	*keep = 1;
	memset(d, 0, sizeof(*d));
	d->pci = pci;
	d->class_id = p->class_id;
	d->vendor_id = p->vendor_id;
	d->device_id = p->device_id;
	snprintf(d->bus_id, sizeof(d->bus_id), "%04x:%02x:%02x.%01x", (unsigned)p->domain,
	         (unsigned)p->bus, (unsigned)p->dev, (unsigned)p->func);
	dev_names(pci, d, &rdma);
	d->locality = hwloc_get_non_io_ancestor_obj(topo, pci);
	if (is_gpu(p)) {
		d->kind = STRATA_DEV_GPU;
		snprintf(d->kind_detail, sizeof(d->kind_detail), "%s",
		         p->class_id == PCI_CLASS_3D ? "3d" : "display");
	} else if (p->class_id == PCI_CLASS_ACCEL &&
	           (p->vendor_id == PCI_VENDOR_NVIDIA || p->vendor_id == PCI_VENDOR_AMD)) {
		d->kind = STRATA_DEV_GPU;
		snprintf(d->kind_detail, sizeof(d->kind_detail), "accelerator");
	} else if ((p->class_id >> 8) == PCI_CLASS_NETWORK_BASE) {
		d->kind = STRATA_DEV_NIC;
		snprintf(d->kind_detail, sizeof(d->kind_detail), "%s%s",
		         p->class_id == PCI_CLASS_INFINIBAND ? "infiniband"
		         : p->class_id == PCI_CLASS_ETHERNET ? "ethernet"
		                                             : "network",
		         rdma && p->class_id != PCI_CLASS_INFINIBAND ? "+rdma" : "");
	} else if (p->class_id == PCI_CLASS_NVME) {
		d->kind = STRATA_DEV_NVME;
		snprintf(d->kind_detail, sizeof(d->kind_detail), "nvme");
	} else if ((p->class_id >> 8) == PCI_CLASS_STORAGE_BASE) {
		d->kind = STRATA_DEV_STORAGE;
		snprintf(d->kind_detail, sizeof(d->kind_detail), "storage");
	} else {
		*keep = 0;
	}
}

/* Sort an index list of devices by PCI bus id (fixed-width hex: string order). */
static void sort_by_bus(struct strata_topo *t, int *idx, int n)
{
	for (int i = 1; i < n; i++) {
		int v = idx[i], j = i - 1;
		while (j >= 0 && strcmp(t->devs[idx[j]].bus_id, t->devs[v].bus_id) > 0) {
			idx[j + 1] = idx[j];
			j--;
		}
		idx[j + 1] = v;
	}
}

int strata_topo_load(struct strata_topo *t, const char *xml_path, const char *synthetic, char *err,
                     size_t err_len)
{
	memset(t, 0, sizeof(*t));
	if (xml_path && synthetic) {
		snprintf(err, err_len,
		         "give either an XML file or a synthetic description, not both");
		return -1;
	}
	if (hwloc_topology_init(&t->topo) != 0) {
		snprintf(err, err_len, "hwloc_topology_init: %s", strerror(errno));
		return -1;
	}
	/* GPUs, NICs, storage and the bridges above them; not every PCI function. */
	hwloc_topology_set_io_types_filter(t->topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
	if (xml_path) {
		if (hwloc_topology_set_xml(t->topo, xml_path) != 0) {
			snprintf(err, err_len, "%s: hwloc cannot read this XML topology: %s",
			         xml_path, strerror(errno));
			goto fail;
		}
		snprintf(t->source, sizeof(t->source), "xml:%s", xml_path);
	} else if (synthetic) {
		if (hwloc_topology_set_synthetic(t->topo, synthetic) != 0) {
			snprintf(err, err_len,
			         "synthetic topology '%s' is not valid (hwloc syntax, e.g. "
			         "\"pack:2 numa:2 core:8 pu:2\")",
			         synthetic);
			goto fail;
		}
		snprintf(t->source, sizeof(t->source), "synthetic:%s", synthetic);
	} else {
		snprintf(t->source, sizeof(t->source), "this system");
		t->is_this_system = 1;
	}
	if (hwloc_topology_load(t->topo) != 0) {
		snprintf(err, err_len, "hwloc_topology_load (%s): %s", t->source, strerror(errno));
		goto fail;
	}
	for (hwloc_obj_t pci = hwloc_get_next_pcidev(t->topo, NULL); pci;
	     pci = hwloc_get_next_pcidev(t->topo, pci)) {
		if (t->n_devs >= STRATA_TOPO_MAX_DEVS)
			break;
		int keep;
		classify(t->topo, pci, &t->devs[t->n_devs], &keep);
		if (!keep)
			continue;
		if (t->devs[t->n_devs].kind == STRATA_DEV_GPU)
			t->gpu_idx[t->n_gpus++] = t->n_devs;
		else if (t->devs[t->n_devs].kind == STRATA_DEV_NIC)
			t->nic_idx[t->n_nics++] = t->n_devs;
		t->n_devs++;
	}
	sort_by_bus(t, t->gpu_idx, t->n_gpus);
	sort_by_bus(t, t->nic_idx, t->n_nics);
	return 0;
fail:
	hwloc_topology_destroy(t->topo);
	t->topo = NULL;
	return -1;
}

void strata_topo_release(struct strata_topo *t)
{
	if (t->topo)
		hwloc_topology_destroy(t->topo);
	memset(t, 0, sizeof(*t));
}

char *strata_topo_set_string(hwloc_const_bitmap_t set)
{
	char *s = NULL;
	if (!set || hwloc_bitmap_list_asprintf(&s, set) < 0)
		return NULL;
	return s;
}

/* ---- NIC choice ------------------------------------------------------------------ */

#define MAX_ANCESTORS 128

static int ancestors(hwloc_obj_t o, hwloc_obj_t *out)
{
	int n = 0;
	for (; o && n < MAX_ANCESTORS; o = o->parent)
		out[n++] = o;
	return n;
}

/* Path class ranks: lower is closer. */
enum { PATH_SWITCH, PATH_HOST_BRIDGE, PATH_NUMA, PATH_SYSTEM };
static const char *const path_names[] = {"pcie-switch", "host-bridge", "numa", "system"};

static int numa_with_cpus_in(hwloc_topology_t topo, hwloc_const_cpuset_t set)
{
	int n = 0;
	hwloc_obj_t o = NULL;
	while ((o = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, o)))
		if (!hwloc_bitmap_iszero(o->cpuset) && hwloc_bitmap_intersects(o->cpuset, set))
			n++;
	return n;
}

static void path_between(hwloc_topology_t topo, hwloc_obj_t a, hwloc_obj_t b, int *cls, int *hops)
{
	hwloc_obj_t pa[MAX_ANCESTORS], pb[MAX_ANCESTORS];
	int na = ancestors(a, pa), nb = ancestors(b, pb);
	*cls = PATH_SYSTEM;
	*hops = na + nb;
	for (int j = 0; j < nb; j++) {
		for (int i = 0; i < na; i++) {
			if (pa[i] != pb[j])
				continue;
			hwloc_obj_t lca = pa[i];
			*hops = i + j;
			if (lca->type == HWLOC_OBJ_BRIDGE)
				*cls = lca->attr->bridge.upstream_type == HWLOC_OBJ_BRIDGE_PCI
				           ? PATH_SWITCH
				           : PATH_HOST_BRIDGE;
			else if (lca->type == HWLOC_OBJ_PCI_DEVICE)
				*cls = PATH_SWITCH;
			else
				*cls = lca->cpuset && numa_with_cpus_in(topo, lca->cpuset) <= 1
				           ? PATH_NUMA
				           : PATH_SYSTEM;
			return;
		}
	}
}

void strata_topo_gpu_nics(const struct strata_topo *t, struct strata_gpu_nic *out)
{
	int load[STRATA_TOPO_MAX_DEVS] = {0};
	for (int g = 0; g < t->n_gpus; g++) {
		const struct strata_topo_dev *gpu = &t->devs[t->gpu_idx[g]];
		int best = -1, best_cls = 0, best_hops = 0;
		for (int n = 0; n < t->n_nics; n++) {
			int cls, hops;
			path_between(t->topo, gpu->pci, t->devs[t->nic_idx[n]].pci, &cls, &hops);
			/* NICs are in bus id order, so the first of equals wins the last tie. */
			if (best < 0 || cls < best_cls || (cls == best_cls && hops < best_hops) ||
			    (cls == best_cls && hops == best_hops && load[n] < load[best])) {
				best = n;
				best_cls = cls;
				best_hops = hops;
			}
		}
		out[g].nic = best;
		out[g].path = best >= 0 ? path_names[best_cls] : NULL;
		out[g].hops = best >= 0 ? best_hops : 0;
		if (best >= 0)
			load[best]++;
	}
}

/* ---- summary ----------------------------------------------------------------------- */

json_t *strata_topo_dev_numa(const struct strata_topo *t, const struct strata_topo_dev *d)
{
	json_t *a = json_array();
	if (!d->locality || !d->locality->nodeset)
		return a;
	hwloc_obj_t o = NULL;
	while ((o = hwloc_get_next_obj_by_type(t->topo, HWLOC_OBJ_NUMANODE, o)))
		if (hwloc_bitmap_isset(d->locality->nodeset, o->os_index))
			json_array_append_new(a, json_integer(o->os_index));
	return a;
}

static json_t *names_json(const char *names)
{
	json_t *a = json_array();
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", names);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		json_array_append_new(a, json_string(tok));
	return a;
}

/* First line of a small sysfs file, or "" (not there, not readable). */
static void read_sysfs(const char *path, char *buf, size_t len)
{
	buf[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* Link facts the report's "what limits this cluster" needs, from sysfs on
 * this system only: the PCIe link the device trained to (and could reach),
 * and for a NIC its link rate (/sys/class/net/IF/speed, Mb/s; absent or -1
 * when the driver does not say). */
static void link_facts(const struct strata_topo_dev *d, json_t *o)
{
	char path[512], v[128];
	static const char *const pcie[][2] = {
		{ "current_link_speed", "pcie_link_speed" }, { "current_link_width", "pcie_link_width" },
		{ "max_link_speed", "pcie_max_link_speed" }, { "max_link_width", "pcie_max_link_width" },
	};
	for (size_t i = 0; i < sizeof(pcie) / sizeof(pcie[0]); i++) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", d->bus_id, pcie[i][0]);
		read_sysfs(path, v, sizeof(v));
		if (v[0])
			json_object_set_new(o, pcie[i][1], json_string(v));
	}
	if (d->kind != STRATA_DEV_NIC)
		return;
	char ifname[64];
	snprintf(ifname, sizeof(ifname), "%.*s", (int)strcspn(d->names, ","), d->names);
	snprintf(path, sizeof(path), "/sys/class/net/%s/speed", ifname);
	read_sysfs(path, v, sizeof(v));
	long mbps = v[0] ? strtol(v, NULL, 10) : -1;
	if (mbps > 0)
		json_object_set_new(o, "speed_mbps", json_integer(mbps));
}

static json_t *dev_json(const struct strata_topo *t, const struct strata_topo_dev *d, int index)
{
	char *cpus = d->locality ? strata_topo_set_string(d->locality->cpuset) : NULL;
	json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:s}", "index", index, "pci_bus_id",
	                      d->bus_id, "vendor_id", "", "device_id", "", "class_id", "", "type",
	                      d->kind_detail, "names", names_json(d->names), "numa_nodes",
	                      strata_topo_dev_numa(t, d), "cpus", cpus ? cpus : "");
	json_object_set_new(o, "vendor_id", json_sprintf("%04x", d->vendor_id));
	json_object_set_new(o, "device_id", json_sprintf("%04x", d->device_id));
	json_object_set_new(o, "class_id", json_sprintf("%04x", d->class_id));
	if (t->is_this_system)
		link_facts(d, o);
	free(cpus);
	return o;
}

json_t *strata_topo_caches_json(hwloc_topology_t topo)
{
	static const struct {
		hwloc_obj_type_t t;
		const char *name;
	} levels[] = {
	    {HWLOC_OBJ_L1CACHE, "L1d"}, {HWLOC_OBJ_L2CACHE, "L2"}, {HWLOC_OBJ_L3CACHE, "L3"},
	    {HWLOC_OBJ_L4CACHE, "L4"},  {HWLOC_OBJ_L5CACHE, "L5"},
	};
	json_t *caches = json_object();
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		int n = hwloc_get_nbobjs_by_type(topo, levels[i].t);
		if (n <= 0)
			continue;
		hwloc_obj_t o = hwloc_get_obj_by_type(topo, levels[i].t, 0);
		json_object_set_new(caches, levels[i].name,
		                    json_pack("{s:I,s:i}", "bytes_each",
		                              (json_int_t)o->attr->cache.size, "count", n));
	}
	return caches;
}

static json_t *distances_json(hwloc_topology_t topo)
{
	unsigned nr = 1;
	struct hwloc_distances_s *dist = NULL;
	if (hwloc_distances_get_by_type(topo, HWLOC_OBJ_NUMANODE, &nr, &dist, 0, 0) != 0 ||
	    nr == 0 || !dist)
		return json_null();
	json_t *nodes = json_array(), *matrix = json_array(), *kind = json_array();
	for (unsigned i = 0; i < dist->nbobjs; i++) {
		json_array_append_new(nodes, json_integer(dist->objs[i]->os_index));
		json_t *row = json_array();
		for (unsigned j = 0; j < dist->nbobjs; j++)
			json_array_append_new(
			    row, json_integer((json_int_t)dist->values[i * dist->nbobjs + j]));
		json_array_append_new(matrix, row);
	}
	if (dist->kind & HWLOC_DISTANCES_KIND_FROM_OS)
		json_array_append_new(kind, json_string("from-os"));
	if (dist->kind & HWLOC_DISTANCES_KIND_FROM_USER)
		json_array_append_new(kind, json_string("from-user"));
	if (dist->kind & HWLOC_DISTANCES_KIND_MEANS_LATENCY)
		json_array_append_new(kind, json_string("latency"));
	if (dist->kind & HWLOC_DISTANCES_KIND_MEANS_BANDWIDTH)
		json_array_append_new(kind, json_string("bandwidth"));
	const char *name = hwloc_distances_get_name(topo, dist);
	json_t *o =
	    json_pack("{s:s,s:o,s:o,s:o,s:s}", "name", name ? name : "", "kind", kind, "nodes",
	              nodes, "matrix", matrix, "source",
	              "hwloc_distances_get_by_type(NUMANode): relative, 10 = local (ACPI SLIT)");
	hwloc_distances_release(topo, dist);
	return o;
}

json_t *strata_topo_numa_json(hwloc_topology_t topo)
{
	json_t *numa = json_array();
	hwloc_obj_t o = NULL;
	while ((o = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, o))) {
		char *cpus = strata_topo_set_string(o->cpuset);
		json_array_append_new(numa, json_pack("{s:i,s:I,s:s,s:i}", "os_index",
		                                      (int)o->os_index, "memory_bytes",
		                                      (json_int_t)o->attr->numanode.local_memory,
		                                      "cpus", cpus ? cpus : "", "pus",
		                                      hwloc_bitmap_weight(o->cpuset)));
		free(cpus);
	}
	return numa;
}

json_t *strata_topo_summary(const struct strata_topo *t)
{
	hwloc_topology_t topo = t->topo;
	json_t *s = json_object();
	json_object_set_new(s, "source", json_string(t->source));
	json_object_set_new(s, "packages",
	                    json_integer(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE)));
	json_object_set_new(s, "cores",
	                    json_integer(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE)));
	json_object_set_new(s, "pus", json_integer(hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU)));
	json_object_set_new(s, "numa_nodes", strata_topo_numa_json(topo));
	json_object_set_new(s, "caches", strata_topo_caches_json(topo));
	json_t *gpus = json_array(), *nics = json_array(), *nvme = json_array(),
	       *storage = json_array();
	for (int g = 0; g < t->n_gpus; g++)
		json_array_append_new(gpus, dev_json(t, &t->devs[t->gpu_idx[g]], g));
	for (int n = 0; n < t->n_nics; n++)
		json_array_append_new(nics, dev_json(t, &t->devs[t->nic_idx[n]], n));
	int nv = 0, ns = 0;
	for (int i = 0; i < t->n_devs; i++) {
		if (t->devs[i].kind == STRATA_DEV_NVME)
			json_array_append_new(nvme, dev_json(t, &t->devs[i], nv++));
		else if (t->devs[i].kind == STRATA_DEV_STORAGE)
			json_array_append_new(storage, dev_json(t, &t->devs[i], ns++));
	}
	json_t *gpu_nic = json_array();
	if (t->n_gpus > 0) {
		struct strata_gpu_nic *choice = calloc((size_t)t->n_gpus, sizeof(*choice));
		if (choice) {
			strata_topo_gpu_nics(t, choice);
			for (int g = 0; g < t->n_gpus; g++) {
				if (choice[g].nic < 0)
					continue;
				const struct strata_topo_dev *nic =
				    &t->devs[t->nic_idx[choice[g].nic]];
				json_array_append_new(
				    gpu_nic,
				    json_pack("{s:i,s:s,s:i,s:o,s:s,s:s,s:i}", "gpu", g,
				              "gpu_pci_bus_id", t->devs[t->gpu_idx[g]].bus_id,
				              "nic", choice[g].nic, "nic_names",
				              names_json(nic->names), "nic_pci_bus_id", nic->bus_id,
				              "path", choice[g].path, "hops", choice[g].hops));
			}
			free(choice);
		}
	}
	json_object_set_new(s, "gpus", gpus);
	json_object_set_new(s, "nics", nics);
	json_object_set_new(s, "nvme", nvme);
	json_object_set_new(s, "storage", storage);
	json_object_set_new(s, "gpu_nic", gpu_nic);
	json_object_set_new(s, "numa_distances", distances_json(topo));
	return s;
}

char *strata_topo_xml(const struct strata_topo *t)
{
	char *buf = NULL;
	int len = 0;
	if (hwloc_topology_export_xmlbuffer(t->topo, &buf, &len, 0) != 0 || !buf)
		return NULL;
	char *copy = malloc((size_t)len + 1);
	if (copy) {
		memcpy(copy, buf, (size_t)len);
		copy[len] = '\0';
	}
	hwloc_free_xmlbuffer(t->topo, buf);
	return copy;
}

/* ---- the tree ------------------------------------------------------------------------ */

static void describe(hwloc_obj_t o, char *buf, size_t len)
{
	char type[64], attr[256] = "";
	hwloc_obj_type_snprintf(type, sizeof(type), o, 0);
	if (o->type == HWLOC_OBJ_PU || o->type == HWLOC_OBJ_NUMANODE)
		snprintf(buf, len, "%s P#%u", type, o->os_index);
	else if (o->type == HWLOC_OBJ_MACHINE || hwloc_obj_type_is_cache(o->type))
		snprintf(buf, len, "%s", type);
	else
		snprintf(buf, len, "%s L#%u", type, o->logical_index);
	if (o->type == HWLOC_OBJ_NUMANODE)
		snprintf(attr, sizeof(attr), "%.1f GiB",
		         (double)o->attr->numanode.local_memory / (1024.0 * 1024.0 * 1024.0));
	else if (hwloc_obj_type_is_cache(o->type))
		snprintf(attr, sizeof(attr), "%llu KiB",
		         (unsigned long long)o->attr->cache.size / 1024);
	if (attr[0]) {
		size_t off = strlen(buf);
		snprintf(buf + off, len - off, " (%s)", attr);
	}
}

static const char *role_of(const struct strata_topo *t, hwloc_obj_t pci, char *buf, size_t len)
{
	for (int g = 0; g < t->n_gpus; g++)
		if (t->devs[t->gpu_idx[g]].pci == pci) {
			snprintf(buf, len, "GPU %d", g);
			return buf;
		}
	for (int n = 0; n < t->n_nics; n++)
		if (t->devs[t->nic_idx[n]].pci == pci) {
			snprintf(buf, len, "NIC %d (%s)", n, t->devs[t->nic_idx[n]].kind_detail);
			return buf;
		}
	for (int i = 0; i < t->n_devs; i++)
		if (t->devs[i].pci == pci) {
			snprintf(buf, len, "%s",
			         t->devs[i].kind == STRATA_DEV_NVME ? "NVMe" : "storage");
			return buf;
		}
	return NULL;
}

static void print_io(const struct strata_topo *t, hwloc_obj_t o, FILE *f, int depth)
{
	for (; o; o = o->next_sibling) {
		if (o->type == HWLOC_OBJ_BRIDGE) {
			if (o->attr->bridge.upstream_type == HWLOC_OBJ_BRIDGE_HOST)
				fprintf(f, "%*sHostBridge\n", 2 * depth, "");
			else
				fprintf(f, "%*sPCIBridge %04x:%02x:%02x.%x\n", 2 * depth, "",
				        o->attr->bridge.upstream.pci.domain,
				        o->attr->bridge.upstream.pci.bus,
				        o->attr->bridge.upstream.pci.dev,
				        o->attr->bridge.upstream.pci.func);
			print_io(t, o->io_first_child, f, depth + 1);
		} else if (o->type == HWLOC_OBJ_PCI_DEVICE) {
			const struct hwloc_pcidev_attr_s *p = &o->attr->pcidev;
			char role[64], names[256] = "";
			size_t off = 0;
			for (hwloc_obj_t c = o->io_first_child; c; c = c->next_sibling)
				if (c->type == HWLOC_OBJ_OS_DEVICE && c->name &&
				    off < sizeof(names))
					off +=
					    (size_t)snprintf(names + off, sizeof(names) - off,
					                     "%s\"%s\"", off ? " " : "", c->name);
			const char *r = role_of(t, o, role, sizeof(role));
			fprintf(f, "%*sPCI %04x:%02x:%02x.%x [%04x:%04x] class %04x%s%s%s%s\n",
			        2 * depth, "", p->domain, p->bus, p->dev, p->func, p->vendor_id,
			        p->device_id, p->class_id, names[0] ? " " : "", names,
			        r ? "  <- " : "", r ? r : "");
		}
	}
}

static void print_obj(const struct strata_topo *t, hwloc_obj_t o, FILE *f, int depth)
{
	char line[1024], part[320];
	size_t off = 0;
	line[0] = '\0';
	/* Fold chains of single children (L2 + L1d + Core + PU) onto one line, as lstopo does. */
	for (;;) {
		describe(o, part, sizeof(part));
		off += (size_t)snprintf(line + off, off < sizeof(line) ? sizeof(line) - off : 0,
		                        "%s%s", off ? " + " : "", part);
		if (o->arity == 1 && o->memory_arity == 0 && o->io_arity == 0 && off < sizeof(line))
			o = o->first_child;
		else
			break;
	}
	/* A core's hardware threads on its own line ("Core L#0 (PU P#0 P#1)"). */
	int pus_only = o->arity > 1 && o->memory_arity == 0 && o->io_arity == 0;
	for (hwloc_obj_t c = o->first_child; c && pus_only; c = c->next_sibling)
		pus_only = c->type == HWLOC_OBJ_PU;
	if (pus_only) {
		for (hwloc_obj_t c = o->first_child; c && off < sizeof(line); c = c->next_sibling)
			off += (size_t)snprintf(line + off, sizeof(line) - off, "%sP#%u",
			                        c == o->first_child ? " (PU " : " ", c->os_index);
		if (off < sizeof(line))
			snprintf(line + off, sizeof(line) - off, ")");
		fprintf(f, "%*s%s\n", 2 * depth, "", line);
		return;
	}
	fprintf(f, "%*s%s\n", 2 * depth, "", line);
	for (hwloc_obj_t m = o->memory_first_child; m; m = m->next_sibling)
		print_obj(t, m, f, depth + 1);
	for (hwloc_obj_t c = o->first_child; c; c = c->next_sibling)
		print_obj(t, c, f, depth + 1);
	print_io(t, o->io_first_child, f, depth + 1);
}

void strata_topo_print_tree(const struct strata_topo *t, FILE *f)
{
	print_obj(t, hwloc_get_root_obj(t->topo), f, 0);
}

/* ---- binding ----------------------------------------------------------------------------- */

/* The CPU set of local rank i of k (no sharers or threads). */
static int rank_set(const struct strata_topo *t, enum strata_bind_policy policy, int i, int k,
                    hwloc_bitmap_t set, int *gpu, char *note, size_t note_len, char *err,
                    size_t err_len)
{
	hwloc_topology_t topo = t->topo;
	hwloc_bitmap_zero(set);
	*gpu = -1;
	if (policy == STRATA_BIND_CORE) {
		hwloc_obj_type_t unit = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE) > 0
		                            ? HWLOC_OBJ_CORE
		                            : HWLOC_OBJ_PU;
		int n = hwloc_get_nbobjs_by_type(topo, unit);
		if (n <= 0) {
			snprintf(err, err_len, "binding core: hwloc sees no cores");
			return -1;
		}
		int first, last; /* [first, last) */
		if (k <= n) {
			first = (int)((long long)i * n / k);
			last = (int)((long long)(i + 1) * n / k);
		} else {
			first = i % n;
			last = first + 1;
		}
		for (int c = first; c < last; c++)
			hwloc_bitmap_or(set, set,
			                hwloc_get_obj_by_type(topo, unit, (unsigned)c)->cpuset);
		if (last - first == 1)
			snprintf(note, note_len, "core L#%d of %d%s", first, n,
			         k > n ? " (more ranks than cores)" : "");
		else
			snprintf(note, note_len, "cores L#%d-%d of %d", first, last - 1, n);
		return 0;
	}
	if (policy == STRATA_BIND_NUMA) {
		hwloc_obj_t nodes[1024];
		int m = 0;
		hwloc_obj_t o = NULL;
		while ((o = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, o)) && m < 1024)
			if (!hwloc_bitmap_iszero(o->cpuset))
				nodes[m++] = o;
		if (m == 0) {
			snprintf(err, err_len, "binding numa: hwloc sees no NUMA node with CPUs");
			return -1;
		}
		int first, last;
		if (k <= m) {
			first = (int)((long long)i * m / k);
			last = (int)((long long)(i + 1) * m / k);
		} else {
			first = (int)((long long)i * m / k);
			last = first + 1;
		}
		size_t off =
		    (size_t)snprintf(note, note_len, "numa node%s", last - first > 1 ? "s" : "");
		for (int c = first; c < last; c++) {
			hwloc_bitmap_or(set, set, nodes[c]->cpuset);
			if (off < note_len)
				off +=
				    (size_t)snprintf(note + off, note_len - off, "%s%u",
				                     c == first ? " P#" : ",", nodes[c]->os_index);
		}
		return 0;
	}
	if (policy == STRATA_BIND_GPU_LOCAL) {
		if (t->n_gpus == 0) {
			snprintf(err, err_len,
			         "binding gpu-local: hwloc sees no GPU on this node (%s)",
			         t->source);
			return -1;
		}
		*gpu = i % t->n_gpus;
		const struct strata_topo_dev *d = &t->devs[t->gpu_idx[*gpu]];
		if (!d->locality || !d->locality->cpuset ||
		    hwloc_bitmap_iszero(d->locality->cpuset)) {
			snprintf(err, err_len,
			         "binding gpu-local: GPU %d (%s) has no CPU locality in hwloc",
			         *gpu, d->bus_id);
			return -1;
		}
		hwloc_bitmap_copy(set, d->locality->cpuset);
		char *nodes = strata_topo_set_string(d->locality->nodeset);
		snprintf(note, note_len, "GPU %d (%s), local numa node(s) %s", *gpu, d->bus_id,
		         nodes ? nodes : "?");
		free(nodes);
		return 0;
	}
	snprintf(err, err_len, "binding %s: nothing to compute", strata_bind_policy_name(policy));
	return -1;
}

int strata_bind_plan_compute(const struct strata_topo *t, enum strata_bind_policy policy,
                             int local_rank, int local_size, struct strata_bind_plan *plan,
                             char *err, size_t err_len)
{
	memset(plan, 0, sizeof(*plan));
	plan->policy = policy;
	plan->gpu = -1;
	plan->nic = -1;
	if (policy == STRATA_BIND_NONE) {
		snprintf(plan->note, sizeof(plan->note), "left as the launcher set it");
		return 0;
	}
	if (local_size < 1 || local_rank < 0 || local_rank >= local_size) {
		snprintf(err, err_len, "binding: local rank %d of %d is out of range", local_rank,
		         local_size);
		return -1;
	}
	plan->cpuset = hwloc_bitmap_alloc();
	hwloc_bitmap_t other = hwloc_bitmap_alloc();
	if (!plan->cpuset || !other) {
		snprintf(err, err_len, "binding: out of memory");
		goto fail;
	}
	if (rank_set(t, policy, local_rank, local_size, plan->cpuset, &plan->gpu, plan->note,
	             sizeof(plan->note), err, err_len) != 0)
		goto fail;
	for (int j = 0; j < local_size; j++) {
		int g;
		char n2[256], e2[256];
		if (rank_set(t, policy, j, local_size, other, &g, n2, sizeof(n2), e2, sizeof(e2)) ==
		        0 &&
		    hwloc_bitmap_isequal(other, plan->cpuset))
			plan->sharers++;
	}
	if (plan->sharers < 1)
		plan->sharers = 1;
	plan->threads = hwloc_bitmap_weight(plan->cpuset) / plan->sharers;
	if (plan->threads < 1)
		plan->threads = 1;
	if (plan->gpu >= 0 && t->n_nics > 0) {
		struct strata_gpu_nic *choice = calloc((size_t)t->n_gpus, sizeof(*choice));
		if (choice) {
			strata_topo_gpu_nics(t, choice);
			plan->nic = choice[plan->gpu].nic;
			free(choice);
		}
	}
	hwloc_bitmap_free(other);
	return 0;
fail:
	hwloc_bitmap_free(other);
	strata_bind_plan_release(plan);
	return -1;
}

void strata_bind_plan_release(struct strata_bind_plan *plan)
{
	if (plan->cpuset)
		hwloc_bitmap_free(plan->cpuset);
	plan->cpuset = NULL;
}

char *strata_topo_binding_get(const struct strata_topo *t, hwloc_bitmap_t into)
{
	hwloc_bitmap_t set = hwloc_bitmap_alloc();
	char *s = NULL;
	if (set && hwloc_get_cpubind(t->topo, set, HWLOC_CPUBIND_PROCESS) == 0) {
		s = strata_topo_set_string(set);
		if (into)
			hwloc_bitmap_copy(into, set);
	}
	hwloc_bitmap_free(set);
	return s;
}

int strata_topo_bind_apply(const struct strata_topo *t, hwloc_const_cpuset_t cpuset, char **actual,
                           char *err, size_t err_len)
{
	int rc = 0;
	if (!t->is_this_system) {
		snprintf(err, err_len, "cannot bind: the topology (%s) is not this machine's",
		         t->source);
		rc = -1;
	} else if (hwloc_set_cpubind(t->topo, cpuset, HWLOC_CPUBIND_PROCESS) != 0) {
		char *want = strata_topo_set_string(cpuset);
		snprintf(err, err_len, "hwloc_set_cpubind(%s, process): %s", want ? want : "?",
		         strerror(errno));
		free(want);
		rc = -1;
	}
	*actual = t->is_this_system ? strata_topo_binding_get(t, NULL) : NULL;
	if (!*actual)
		*actual = strdup("unknown");
	return rc;
}
