/* topo_cmd.c: `strata topo`, what hwloc sees and where each local rank would
 * be bound, before anything runs (no MPI).  The logic is topo.c's; this file
 * parses the options and formats.
 *
 *   strata topo [--policy none|core|numa|gpu-local] [--ranks-per-node N]
 *               [--xml FILE | --synthetic "pack:2 numa:2 core:8 pu:2"] [--json]
 *
 * Without --policy: core and numa, and gpu-local when there are GPUs.
 * Without --ranks-per-node: one rank per GPU when there are GPUs, else one
 * per NUMA node with CPUs. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/runner.h"
#include "harness/topo.h"

static int numa_with_cpus(const struct strata_topo *t)
{
	int n = 0;
	hwloc_obj_t o = NULL;
	while ((o = hwloc_get_next_obj_by_type(t->topo, HWLOC_OBJ_NUMANODE, o)))
		n += !hwloc_bitmap_iszero(o->cpuset);
	return n > 0 ? n : 1;
}

/* One policy's table: text to f, or JSON into out. */
static int bindings(const struct strata_topo *t, enum strata_bind_policy p, int k, FILE *f,
                    json_t *out)
{
	char err[512];
	json_t *rows = json_array();
	if (f)
		fprintf(f, "\nbinding %s, %d rank(s) per node:\n  %-5s %-22s %-7s %s\n",
		        strata_bind_policy_name(p), k, "rank", "cpus", "threads", "what");
	for (int i = 0; i < k; i++) {
		struct strata_bind_plan plan;
		if (strata_bind_plan_compute(t, p, i, k, &plan, err, sizeof(err)) != 0) {
			if (f)
				fprintf(f, "  %s\n", err);
			json_decref(rows);
			if (out)
				json_object_set_new(out, strata_bind_policy_name(p),
				                    json_pack("{s:s}", "error", err));
			return -1;
		}
		char *cpus =
		    plan.cpuset ? strata_topo_set_string(plan.cpuset) : strdup("(unchanged)");
		char nic[300] = "";
		if (plan.nic >= 0) {
			const struct strata_topo_dev *d = &t->devs[t->nic_idx[plan.nic]];
			snprintf(nic, sizeof(nic), "; NIC %d %s (%s)", plan.nic, d->names,
			         d->bus_id);
		}
		if (f)
			fprintf(f, "  %-5d %-22s %-7d %s%s\n", i, cpus ? cpus : "?", plan.threads,
			        plan.note, nic);
		json_t *row =
		    json_pack("{s:i,s:s,s:i,s:s}", "local_rank", i, "cpus", cpus ? cpus : "",
		              "threads", plan.threads, "note", plan.note);
		if (plan.gpu >= 0)
			json_object_set_new(row, "gpu", json_integer(plan.gpu));
		if (plan.nic >= 0)
			json_object_set_new(row, "nic", json_integer(plan.nic));
		json_array_append_new(rows, row);
		free(cpus);
		strata_bind_plan_release(&plan);
	}
	if (out)
		json_object_set_new(out, strata_bind_policy_name(p), rows);
	else
		json_decref(rows);
	return 0;
}

static void print_devices(const struct strata_topo *t, FILE *f)
{
	fprintf(f, "\nGPUs (PCI bus id order): %d\n", t->n_gpus);
	struct strata_gpu_nic *choice =
	    t->n_gpus ? calloc((size_t)t->n_gpus, sizeof(*choice)) : NULL;
	if (choice)
		strata_topo_gpu_nics(t, choice);
	for (int g = 0; g < t->n_gpus; g++) {
		const struct strata_topo_dev *d = &t->devs[t->gpu_idx[g]];
		char *cpus = d->locality ? strata_topo_set_string(d->locality->cpuset) : NULL;
		char *nodes = d->locality ? strata_topo_set_string(d->locality->nodeset) : NULL;
		fprintf(f, "  GPU %d  %s [%04x:%04x] %s  numa %s  cpus %s", g, d->bus_id,
		        d->vendor_id, d->device_id, d->names[0] ? d->names : "-",
		        nodes ? nodes : "?", cpus ? cpus : "?");
		if (choice && choice[g].nic >= 0) {
			const struct strata_topo_dev *n = &t->devs[t->nic_idx[choice[g].nic]];
			fprintf(f, "  -> NIC %d %s (%s, %d hops)", choice[g].nic,
			        n->names[0] ? n->names : n->bus_id, choice[g].path, choice[g].hops);
		}
		fprintf(f, "\n");
		free(cpus);
		free(nodes);
	}
	free(choice);
	fprintf(f, "NICs: %d\n", t->n_nics);
	for (int n = 0; n < t->n_nics; n++) {
		const struct strata_topo_dev *d = &t->devs[t->nic_idx[n]];
		char *nodes = d->locality ? strata_topo_set_string(d->locality->nodeset) : NULL;
		fprintf(f, "  NIC %d  %s %s %s  numa %s\n", n, d->bus_id, d->kind_detail,
		        d->names[0] ? d->names : "-", nodes ? nodes : "?");
		free(nodes);
	}
	for (int i = 0; i < t->n_devs; i++) {
		const struct strata_topo_dev *d = &t->devs[i];
		if (d->kind != STRATA_DEV_NVME && d->kind != STRATA_DEV_STORAGE)
			continue;
		char *nodes = d->locality ? strata_topo_set_string(d->locality->nodeset) : NULL;
		fprintf(f, "  %-7s %s [%04x:%04x] %s  numa %s\n",
		        d->kind == STRATA_DEV_NVME ? "NVMe" : "storage", d->bus_id, d->vendor_id,
		        d->device_id, d->names[0] ? d->names : "-", nodes ? nodes : "?");
		free(nodes);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "usage: strata topo [--policy none|core|numa|gpu-local] [--ranks-per-node N]\n"
	           "                   [--xml FILE | --synthetic DESC] [--json]\n");
}

int strata_topo_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"policy", required_argument, NULL, 'p'},
	    {"ranks-per-node", required_argument, NULL, 'n'},
	    {"xml", required_argument, NULL, 'x'},
	    {"synthetic", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *xml = NULL, *syn = NULL;
	int have_policy = 0, k = 0, as_json = 0, ch;
	enum strata_bind_policy policy = STRATA_BIND_NONE;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		char *end;
		switch (ch) {
		case 'p':
			if (strata_bind_policy_parse(optarg, &policy) != 0) {
				fprintf(stderr,
				        "strata topo: --policy: unknown policy '%s' (none, core, "
				        "numa, gpu-local)\n",
				        optarg);
				return STRATA_EXIT_BAD_INPUT;
			}
			have_policy = 1;
			break;
		case 'n':
			k = (int)strtol(optarg, &end, 10);
			if (*end || k < 1 || k > 4096) {
				fprintf(
				    stderr,
				    "strata topo: --ranks-per-node: expected 1..4096, got '%s'\n",
				    optarg);
				return STRATA_EXIT_BAD_INPUT;
			}
			break;
		case 'x':
			xml = optarg;
			break;
		case 's':
			syn = optarg;
			break;
		case 'j':
			as_json = 1;
			break;
		case 'h':
			usage(stdout);
			return STRATA_EXIT_OK;
		default:
			usage(stderr);
			return STRATA_EXIT_BAD_INPUT;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "strata topo: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return STRATA_EXIT_BAD_INPUT;
	}
	struct strata_topo t;
	char err[1024];
	if (strata_topo_load(&t, xml, syn, err, sizeof(err)) != 0) {
		fprintf(stderr, "strata topo: %s\n", err);
		return xml || syn ? STRATA_EXIT_BAD_INPUT : STRATA_EXIT_RUNTIME;
	}
	if (k == 0)
		k = t.n_gpus > 0 ? t.n_gpus : numa_with_cpus(&t);
	enum strata_bind_policy list[4];
	int n = 0;
	if (have_policy) {
		list[n++] = policy;
	} else {
		list[n++] = STRATA_BIND_CORE;
		list[n++] = STRATA_BIND_NUMA;
		if (t.n_gpus > 0)
			list[n++] = STRATA_BIND_GPU_LOCAL;
	}
	int rc = STRATA_EXIT_OK;
	if (as_json) {
		json_t *o = json_pack("{s:o,s:i,s:o}", "topology", strata_topo_summary(&t),
		                      "ranks_per_node", k, "bindings", json_object());
		for (int i = 0; i < n; i++)
			if (bindings(&t, list[i], k, NULL, json_object_get(o, "bindings")) != 0 &&
			    have_policy)
				rc = STRATA_EXIT_BAD_INPUT;
		char *s = json_dumps(o, JSON_INDENT(2));
		printf("%s\n", s);
		free(s);
		json_decref(o);
	} else {
		printf("topology: %s\n\n", t.source);
		strata_topo_print_tree(&t, stdout);
		print_devices(&t, stdout);
		for (int i = 0; i < n; i++)
			if (bindings(&t, list[i], k, stdout, NULL) != 0 && have_policy)
				rc = STRATA_EXIT_BAD_INPUT;
	}
	strata_topo_release(&t);
	return rc;
}
