/* topo_run.c: topology XML per host and per-case binding during a run (see
 * topo_run.h).  Process-wide state (the loaded topology, the launcher's
 * binding) lives in one static struct: binding is a property of the process,
 * like the signal flag and the watchdog. */
#define _GNU_SOURCE
#include "harness/topo_run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>
#include <omp.h>

#include "harness/mpi_text.h"

static struct {
	int loaded;
	struct strata_topo t;
	hwloc_bitmap_t launcher_set; /* binding at init */
	char *launcher_str;
	int omp_threads0, blas_threads0;
	int omp_user, blas_user; /* the user fixed the counts in the environment */
	int changed;             /* a policy moved us off the launcher's binding */
	char err[512];
} R;

int strata_topo_run_init(char *err, size_t err_len)
{
	if (R.loaded) {
		if (R.loaded < 0)
			snprintf(err, err_len, "%s", R.err);
		return R.loaded > 0 ? 0 : -1;
	}
	if (strata_topo_load(&R.t, NULL, NULL, R.err, sizeof(R.err)) != 0) {
		R.loaded = -1;
		snprintf(err, err_len, "%s", R.err);
		return -1;
	}
	R.launcher_set = hwloc_bitmap_alloc();
	R.launcher_str = strata_topo_binding_get(&R.t, R.launcher_set);
	if (!R.launcher_str) { /* no binding support: treat the whole machine as the set */
		hwloc_bitmap_copy(R.launcher_set, hwloc_topology_get_topology_cpuset(R.t.topo));
		R.launcher_str = strata_topo_set_string(R.launcher_set);
	}
	R.omp_threads0 = omp_get_max_threads();
	R.blas_threads0 = openblas_get_num_threads();
	R.omp_user = getenv("OMP_NUM_THREADS") != NULL;
	R.blas_user = getenv("OPENBLAS_NUM_THREADS") != NULL || R.omp_user;
	R.loaded = 1;
	return 0;
}

void strata_topo_xml_name(const char *host, char *buf, size_t len)
{
	size_t off = (size_t)snprintf(buf, len, "topology-");
	for (const char *p = host; *p && off + 1 < len; p++) {
		char c = *p;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		         (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
		buf[off++] = ok ? c : '_';
	}
	buf[off < len ? off : len - 1] = '\0';
	if (off + 5 < len)
		snprintf(buf + off, len - off, ".xml");
}

static void host_name(char *buf, size_t len)
{
	char name[MPI_MAX_PROCESSOR_NAME] = "";
	int n = 0;
	int init = 0;
	MPI_Initialized(&init);
	if (init)
		MPI_Get_processor_name(name, &n);
	if (!name[0])
		gethostname(name, sizeof(name) - 1);
	snprintf(buf, len, "%s", name[0] ? name : "unknown");
}

json_t *strata_topo_run_summary(void)
{
	char err[512];
	if (strata_topo_run_init(err, sizeof(err)) != 0)
		return json_pack("{s:s}", "error", err);
	json_t *s = strata_topo_summary(&R.t);
	char host[256], file[320];
	host_name(host, sizeof(host));
	strata_topo_xml_name(host, file, sizeof(file));
	json_object_set_new(s, "xml_file", json_string(file));
	json_object_set_new(s, "launcher_binding",
	                    json_string(R.launcher_str ? R.launcher_str : "unknown"));
	return s;
}

int strata_topo_run_write_xml(const struct strata_rank_info *ri, const char *dir, char *err,
                              size_t err_len)
{
	char *mine = NULL;
	if (ri->local_rank == 0) {
		char e[512], host[256];
		host_name(host, sizeof(host));
		char *xml = strata_topo_run_init(e, sizeof(e)) == 0 ? strata_topo_xml(&R.t) : NULL;
		json_t *o = json_pack("{s:s,s:s}", "host", host, "xml", xml ? xml : "");
		mine = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		free(xml);
	}
	char **all = strata_mpi_gather_text(ri->comm, 0, mine ? mine : "");
	free(mine);
	int rc = 0;
	for (int r = 0; all && r < ri->nranks; r++) {
		if (!all[r][0])
			continue;
		json_t *o = json_loads(all[r], 0, NULL);
		const char *host = json_string_value(json_object_get(o, "host"));
		const char *xml = json_string_value(json_object_get(o, "xml"));
		if (host && xml && xml[0]) {
			char name[320], path[4500];
			strata_topo_xml_name(host, name, sizeof(name));
			snprintf(path, sizeof(path), "%s/%s", dir, name);
			FILE *f = fopen(path, "w");
			size_t len = strlen(xml);
			if (!f || fwrite(xml, 1, len, f) != len || fclose(f) != 0) {
				if (!rc)
					snprintf(err, err_len, "%s: cannot write: %s", path,
					         strerror(errno));
				rc = -1;
			}
		}
		json_decref(o);
	}
	strata_mpi_text_free(all, ri->nranks);
	return rc;
}

static void set_threads(int n)
{
	if (!R.omp_user)
		omp_set_num_threads(n > 0 ? n : R.omp_threads0);
	if (!R.blas_user)
		openblas_set_num_threads(n > 0 ? n : R.blas_threads0);
}

/* This rank's facts as JSON text. */
static char *bind_one(const struct strata_rank_info *ri, enum strata_bind_policy policy)
{
	char err[512] = "", host[256];
	host_name(host, sizeof(host));
	json_t *o = json_pack("{s:i,s:s}", "rank", ri->rank, "host", host);
	if (strata_topo_run_init(err, sizeof(err)) != 0) {
		json_object_set_new(o, "ok", json_false());
		json_object_set_new(o, "error", json_string(err));
		goto out;
	}
	hwloc_bitmap_t got = hwloc_bitmap_alloc();
	char *actual = NULL;
	int ok = 0;
	if (policy == STRATA_BIND_NONE) {
		if (R.changed) {
			if (hwloc_set_cpubind(R.t.topo, R.launcher_set, HWLOC_CPUBIND_PROCESS) != 0)
				snprintf(err, sizeof(err),
				         "restoring the launcher's binding %s: %s", R.launcher_str,
				         strerror(errno));
			set_threads(0);
			R.changed = 0;
		}
		actual = strata_topo_binding_get(&R.t, got);
		ok = actual && hwloc_bitmap_isequal(got, R.launcher_set);
		json_object_set_new(o, "asked", json_string(R.launcher_str));
		json_object_set_new(o, "note", json_string("the launcher's binding"));
	} else {
		struct strata_bind_plan plan;
		if (strata_bind_plan_compute(&R.t, policy, ri->local_rank, ri->local_size, &plan,
		                             err, sizeof(err)) == 0) {
			char *asked = strata_topo_set_string(plan.cpuset);
			json_object_set_new(o, "asked", json_string(asked ? asked : "?"));
			free(asked);
			char e2[512] = "";
			int rc = strata_topo_bind_apply(&R.t, plan.cpuset, &actual, e2, sizeof(e2));
			R.changed = 1;
			if (rc != 0)
				snprintf(err, sizeof(err), "%s", e2);
			strata_topo_binding_get(&R.t, got);
			ok = rc == 0 && hwloc_bitmap_isequal(got, plan.cpuset);
			set_threads(plan.threads);
			json_object_set_new(o, "threads", json_integer(plan.threads));
			json_object_set_new(o, "threads_set", json_boolean(!R.omp_user));
			json_object_set_new(o, "note", json_string(plan.note));
			if (plan.gpu >= 0)
				json_object_set_new(o, "gpu", json_integer(plan.gpu));
			if (plan.nic >= 0) {
				const struct strata_topo_dev *nic =
				    &R.t.devs[R.t.nic_idx[plan.nic]];
				json_object_set_new(
				    o, "nic",
				    json_string(nic->names[0] ? nic->names : nic->bus_id));
			}
			strata_bind_plan_release(&plan);
		} else {
			json_object_set_new(o, "asked", json_null());
			free(actual);
			actual = strata_topo_binding_get(&R.t, got);
		}
	}
	json_object_set_new(o, "actual", json_string(actual ? actual : "unknown"));
	json_object_set_new(o, "ok", json_boolean(ok && !err[0]));
	if (err[0])
		json_object_set_new(o, "error", json_string(err));
	free(actual);
	hwloc_bitmap_free(got);
out:;
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

json_t *strata_topo_run_bind(const struct strata_rank_info *ri, enum strata_bind_policy policy)
{
	char *mine = bind_one(ri, policy);
	char **all = strata_mpi_gather_text(ri->comm, 0, mine ? mine : "{}");
	free(mine);
	if (ri->rank != 0)
		return NULL;
	json_t *ranks = json_array();
	for (int r = 0; all && r < ri->nranks; r++) {
		json_t *o = json_loads(all[r], 0, NULL);
		if (!o)
			o = json_pack("{s:i,s:b,s:s}", "rank", r, "ok", 0, "error",
			              "unreadable binding facts");
		json_array_append_new(ranks, o);
	}
	strata_mpi_text_free(all, ri->nranks);
	return strata_topo_binding_record(policy, ranks);
}

json_t *strata_topo_binding_record(enum strata_bind_policy policy, json_t *ranks)
{
	int bad = 0, first_bad = -1;
	size_t i;
	json_t *o;
	json_array_foreach(ranks, i, o) {
		if (!json_is_true(json_object_get(o, "ok"))) {
			bad++;
			if (first_bad < 0)
				first_bad = (int)i;
		}
	}
	json_t *b = json_pack("{s:s,s:b,s:i,s:o}", "policy", strata_bind_policy_name(policy), "ok",
	                      bad == 0, "mismatched_ranks", bad, "ranks", ranks);
	if (bad) {
		json_t *fb = json_array_get(ranks, (size_t)first_bad);
		const char *why = json_string_value(json_object_get(fb, "error"));
		json_object_set_new(
		    b, "warning",
		    json_sprintf("binding %s: %d rank(s) not bound as asked; first: rank %d asked "
		                 "%s, got %s%s%s",
		                 strata_bind_policy_name(policy), bad,
		                 (int)json_integer_value(json_object_get(fb, "rank")),
		                 json_string_value(json_object_get(fb, "asked")) ?: "(nothing)",
		                 json_string_value(json_object_get(fb, "actual")) ?: "?",
		                 why ? ": " : "", why ? why : ""));
	}
	return b;
}

void strata_topo_run_end(void)
{
	if (R.loaded > 0) {
		if (R.changed) {
			hwloc_set_cpubind(R.t.topo, R.launcher_set, HWLOC_CPUBIND_PROCESS);
			set_threads(0);
		}
		hwloc_bitmap_free(R.launcher_set);
		free(R.launcher_str);
		strata_topo_release(&R.t);
	}
	memset(&R, 0, sizeof(R));
}
