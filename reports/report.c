/* report.c: the `strata report` document (see report.h).  Builds one doc;
 * doc.c renders it as Markdown and HTML. */
#include "reports/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/limits.h"
#include "reports/report_e2e.h"
#include "reports/report_gpu.h"
#include "reports/report_charts.h"

#define str strata_json_str

static double num(const json_t *o, const char *key)
{
	return strata_json_num(o, key);
}

static void gib(double bytes, char *buf, size_t len)
{
	if (isnan(bytes))
		snprintf(buf, len, "not recorded");
	else
		snprintf(buf, len, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
}

static void caches_text(const json_t *caches, char *buf, size_t len)
{
	size_t off = 0;
	const char *k;
	json_t *c;
	buf[0] = '\0';
	json_object_foreach((json_t *)caches, k, c) {
		double b = num(c, "bytes_each");
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s %g KiB x %g",
		                        off ? ", " : "", k, b / 1024, num(c, "count"));
	}
	if (!off)
		snprintf(buf, len, "not recorded");
}

static void row(struct strata_table *t, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void row(struct strata_table *t, const char *field, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	strata_table_row(t);
	strata_table_cell(t, "%s", field);
	strata_table_cell(t, "%s", buf);
}

static void system_section(const struct strata_run *run, struct strata_doc *d)
{
	const json_t *m = run->manifest;
	const json_t *v = json_object_get(m, "strata");
	const json_t *systems = json_object_get(m, "systems");
	const json_t *sys = json_array_get(systems, 0);
	const json_t *slurm = json_object_get(json_object_get(m, "launcher"), "slurm");
	size_t nodes = strata_run_n_hosts(run);
	double ranks = num(m, "ranks");
	char buf[1024], buf2[256];

	strata_doc_heading(d, 1, "System description");
	strata_doc_para(d,
	                "Fields as in MLPerf system descriptions, filled from the manifest (first "
	                "host's hardware unless said otherwise).");
	struct strata_table *t = strata_doc_table(d, 2, "field", "value");
	if (json_is_object(slurm) && json_object_get(slurm, "cluster"))
		row(t, "system_name", "%s (Slurm cluster%s%s)", str(slurm, "cluster"),
		    json_object_get(slurm, "partition") ? ", partition " : "",
		    json_object_get(slurm, "partition") ? str(slurm, "partition") : "");
	else {
		size_t off = 0, i;
		json_t *h;
		buf[0] = '\0';
		json_array_foreach(json_object_get(m, "hosts"), i, h) {
			if (i == 4) {
				off += (size_t)snprintf(buf + off, sizeof(buf) - off,
				                        ", ... (%zu hosts)", nodes);
				break;
			}
			off +=
			    (size_t)snprintf(buf + off, off < sizeof(buf) ? sizeof(buf) - off : 0,
			                     "%s%s", i ? ", " : "", str(h, "hostname"));
		}
		row(t, "system_name", "%s", off ? buf : "not recorded");
	}
	row(t, "number_of_nodes", "%zu", nodes);
	row(t, "host_processor_model_name", "%s", str(sys, "cpu_model"));
	double sockets = num(sys, "sockets"), cores = num(sys, "cores");
	row(t, "host_processors_per_node", "%g", sockets);
	row(t, "host_processor_core_count", "%g per processor (%g per node)",
	    sockets > 0 ? cores / sockets : cores, cores);
	row(t, "host_processor_vcpu_count", "%g per node", num(sys, "hardware_threads"));
	caches_text(json_object_get(sys, "caches"), buf, sizeof(buf));
	row(t, "host_processor_caches", "%s", buf);
	gib(num(sys, "total_memory_bytes"), buf2, sizeof(buf2));
	row(t, "host_memory_capacity", "%s", buf2);
	{
		size_t off = 0, i;
		json_t *nn;
		const json_t *numa = json_object_get(sys, "numa_nodes");
		off +=
		    (size_t)snprintf(buf, sizeof(buf), "%zu NUMA node(s):", json_array_size(numa));
		json_array_foreach(numa, i, nn) {
			gib(num(nn, "memory_bytes"), buf2, sizeof(buf2));
			off += (size_t)snprintf(
			    buf + off, off < sizeof(buf) ? sizeof(buf) - off : 0, "%s %s (CPUs %s)",
			    i ? "," : "", buf2, str(nn, "cpus"));
		}
		row(t, "host_memory_configuration", "%s; DIMM layout not recorded", buf);
	}
	{
		size_t off = 0, i;
		json_t *nic;
		buf[0] = '\0';
		json_array_foreach(strata_system_nics(sys), i, nic) {
			double r = num(nic, "rate_gbps");
			if (!(r > 0))
				r = num(nic, "speed_mbps") / 1e3;
			strata_device_name(nic, buf2, sizeof(buf2));
			off +=
			    (size_t)snprintf(buf + off, off < sizeof(buf) ? sizeof(buf) - off : 0,
			                     "%s%s", off ? ", " : "", buf2);
			if (r > 0)
				off += (size_t)snprintf(buf + off,
				                        off < sizeof(buf) ? sizeof(buf) - off : 0,
				                        " %g Gb/s", r);
			else
				off += (size_t)snprintf(buf + off,
				                        off < sizeof(buf) ? sizeof(buf) - off : 0,
				                        " (link rate not recorded)");
		}
		row(t, "host_networking", "%s", off ? buf : "not recorded in the manifest");
	}
	const json_t *gpus = strata_system_gpus(sys);
	const json_t *g0 = json_array_get(gpus, 0);
	row(t, "accelerators_per_node", "%zu", json_array_size(gpus));
	if (g0) {
		strata_device_name(g0, buf2, sizeof(buf2));
		row(t, "accelerator_model_name", "%s", buf2);
		gib(num(g0, "memory_bytes"), buf2, sizeof(buf2));
		row(t, "accelerator_memory_capacity", "%s", buf2);
		/* The CUDA devices' NVML facts (gpus.devices[].nvml), else hwloc's. */
		const json_t *pcie = json_object_get(json_object_get(g0, "nvml"), "pcie");
		const json_t *nvl = json_object_get(json_object_get(g0, "nvml"), "nvlink");
		if (num(pcie, "gen_max") > 0)
			row(t, "accelerator_host_interconnect", "PCIe gen %g x%g", num(pcie, "gen_max"),
			    num(pcie, "width_max"));
		else if (num(g0, "pcie_gen") > 0)
			row(t, "accelerator_host_interconnect", "PCIe gen %g x%g",
			    num(g0, "pcie_gen"), num(g0, "pcie_width"));
		else
			row(t, "accelerator_host_interconnect", "not recorded");
		if (num(nvl, "links_active") > 0)
			row(t, "accelerator_interconnect", "NVLink %g, %g link(s) per GPU",
			    num(nvl, "version_reported"), num(nvl, "links_active"));
		else if (num(g0, "nvlink_links") > 0)
			row(t, "accelerator_interconnect", "NVLink, %g link(s) per GPU",
			    num(g0, "nvlink_links"));
		else
			row(t, "accelerator_interconnect", "not recorded");
	} else {
		row(t, "accelerator_model_name", "none recorded");
	}
	row(t, "operating_system", "%s", str(sys, "kernel"));
	row(t, "framework", "strata %s (git %s, %s build, backends %s)", str(v, "strata"),
	    str(v, "strata_git_commit"), str(v, "strata_build_type"), str(v, "backends"));
	snprintf(buf, sizeof(buf),
	         "MPI: %s; BLAS: %s; hwloc %s; libyaml %s; jansson %s; compiler %s",
	         str(v, "mpi_library"), str(v, "openblas"), str(v, "hwloc"), str(v, "libyaml"),
	         str(v, "jansson"), str(v, "compiler"));
	if (json_object_get(v, "cuda_toolkit_compiled"))
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
		         "; CUDA toolkit %s (compiled)", str(v, "cuda_toolkit_compiled"));
	row(t, "other_software_stack", "%s", buf);
	row(t, "ranks (strata)", "%g in all, %g per node%s%s", ranks, ranks / (double)nodes,
	    json_object_get(m, "launcher") ? ", launched by " : "",
	    json_object_get(m, "launcher") ? str(json_object_get(m, "launcher"), "kind") : "");

	/* heterogeneous nodes: say so rather than describe the first only */
	size_t i;
	json_t *s;
	json_array_foreach(systems, i, s) {
		if (i == 0)
			continue;
		if (strcmp(str(s, "cpu_model"), str(sys, "cpu_model")) ||
		    num(s, "total_memory_bytes") != num(sys, "total_memory_bytes") ||
		    json_array_size(strata_system_gpus(s)) != json_array_size(gpus)) {
			strata_doc_para(
			    d,
			    "**Nodes differ:** %s has %s with %.1f GiB, %s has %s with %.1f "
			    "GiB; the table describes %s.",
			    str(sys, "hostname"), str(sys, "cpu_model"),
			    num(sys, "total_memory_bytes") / 1073741824.0, str(s, "hostname"),
			    str(s, "cpu_model"), num(s, "total_memory_bytes") / 1073741824.0,
			    str(sys, "hostname"));
			break;
		}
	}
}

void strata_report_key_params(const json_t *recs, const char *suite, const char **names, size_t *n)
{
	*n = 0;
	const json_t *first = NULL;
	size_t i;
	json_t *r;
	json_array_foreach(recs, i, r) {
		if (strcmp(str(r, "suite"), suite))
			continue;
		if (!first) {
			first = r;
			continue;
		}
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(r, "params"), k, v) {
			if (json_equal(v, json_object_get(json_object_get(first, "params"), k)))
				continue;
			size_t j;
			for (j = 0; j < *n && strcmp(names[j], k); j++)
				;
			if (j == *n && *n < 16)
				names[(*n)++] = k;
		}
	}
}

void strata_report_case_label(const json_t *recs, const json_t *rec, char *buf, size_t len)
{
	const char *names[16];
	size_t nn;
	strata_report_key_params(recs, str(rec, "suite"), names, &nn);
	size_t off = (size_t)snprintf(buf, len, "%s", str(rec, "variant"));
	for (size_t k = 0; k < nn && off < len; k++) {
		char v[64];
		strata_json_value_text(json_object_get(json_object_get(rec, "params"), names[k]), v,
		                       sizeof(v));
		off += (size_t)snprintf(buf + off, len - off, " %s=%s", names[k], v);
	}
}

static void suite_table(const json_t *recs, const char *suite, struct strata_doc *d)
{
	const char *names[16];
	size_t nn;
	strata_report_key_params(recs, suite, names, &nn);
	strata_doc_heading(d, 2, "%s", suite);
	const char *head[16 + 4];
	head[0] = "variant";
	for (size_t j = 0; j < nn; j++)
		head[j + 1] = names[j];
	head[nn + 1] = "status";
	head[nn + 2] = "figures (median [95% CI]; best)";
	head[nn + 3] = "n";
	struct strata_table *t = strata_doc_table_a(d, nn + 4, head);
	size_t i;
	json_t *r;
	json_array_foreach(recs, i, r) {
		if (strcmp(str(r, "suite"), suite))
			continue;
		strata_table_row(t);
		strata_table_cell(t, "%s", str(r, "variant"));
		for (size_t j = 0; j < nn; j++) {
			char v[256];
			strata_json_value_text(
			    json_object_get(json_object_get(r, "params"), names[j]), v, sizeof(v));
			strata_table_cell(t, "%s", v);
		}
		strata_table_cell(t, "%s", str(r, "status"));
		struct strata_sb figs = {0};
		const char *mk;
		json_t *m;
		json_object_foreach(json_object_get(r, "metrics"), mk, m) {
			const json_t *ci = json_object_get(m, "ci95_median");
			strata_sb_printf(&figs, "%s%s %.4g %s [%.4g, %.4g]; best %.4g",
			                 figs.len ? "\n" : "", mk, num(m, "median"), str(m, "unit"),
			                 json_number_value(json_array_get(ci, 0)),
			                 json_number_value(json_array_get(ci, 1)), num(m, "best"));
		}
		char *text = strata_sb_take(&figs);
		strata_table_cell(t, "%s", text);
		free(text);
		strata_table_cell(t, "%lld",
		                  (long long)json_integer_value(
		                      json_object_get(json_object_get(r, "stats"), "n")));
	}
}

/* ---- run rules ------------------------------------------------------------ */

/* Without a per-case binding record: what the manifest's rank layout says. */
static void binding_verdict(const struct strata_run *run, char *buf, size_t len)
{
	size_t i, unbound = 0, n = 0;
	json_t *l;
	json_array_foreach(json_object_get(run->manifest, "rank_layout"), i, l) {
		n++;
		unbound += !strcmp(str(l, "binding"), "unbound");
	}
	if (n && unbound == n)
		snprintf(buf, len, "none asked; ranks unbound");
	else
		snprintf(buf, len, "none asked; %zu of %zu rank(s) bound", n - unbound, n);
}

int strata_report_compliance(const struct strata_run *run, const json_t *rec, char verdict[5][160])
{
	const json_t *me = json_object_get(rec, "method");
	const json_t *set = json_object_get(me, "settings");
	const char *status = str(rec, "status");
	int ran = !strcmp(status, "passed") || !strcmp(status, "failed");
	int ok = 1;
	if (!ran || !me) {
		for (int i = 0; i < 4; i++)
			snprintf(verdict[i], 160, "- (%s)", status);
		binding_verdict(run, verdict[4], 160);
		return -1;
	}
	double wi = num(me, "warmup_iterations"), ws = num(me, "warmup_seconds");
	double want_wi = num(set, "warmup_iterations"), want_ws = num(set, "warmup_seconds");
	if (wi >= want_wi && ws >= want_ws)
		snprintf(verdict[0], 160, "yes (%g it, %.3g s)", wi, ws);
	else {
		snprintf(verdict[0], 160, "NO: %g it, %.3g s of %g it, %.3g s", wi, ws, want_wi,
		         want_ws);
		ok = 0;
	}
	double reps = num(me, "repetitions"), want_reps = num(set, "repetitions");
	if (reps >= want_reps)
		snprintf(verdict[1], 160, "yes (%g of %g)", reps, want_reps);
	else {
		snprintf(verdict[1], 160, "NO: %g of %g", reps, want_reps);
		ok = 0;
	}
	double ts = num(me, "timed_seconds"), want_ts = num(set, "min_seconds");
	if (ts >= want_ts)
		snprintf(verdict[2], 160, "yes (%.3g s of %.3g s)", ts, want_ts);
	else {
		snprintf(verdict[2], 160, "NO: %.3g s of %.3g s", ts, want_ts);
		ok = 0;
	}
	/* Inference: LoadGen's own rules (minimum duration and queries, latency
	 * bounds) judge each timed run; an INVALID run breaks the rules too. */
	const json_t *lg = json_object_get(json_object_get(rec, "details"), "runs");
	if (!strcmp(str(rec, "suite"), "infer") && json_is_object(lg) &&
	    num(lg, "valid") < num(lg, "timed")) {
		snprintf(verdict[2], 160, "NO: %g of %g runs INVALID under LoadGen's rules",
		         num(lg, "timed") - num(lg, "valid"), num(lg, "timed"));
		ok = 0;
	}
	const json_t *val = json_object_get(rec, "validation");
	if (json_is_true(json_object_get(val, "passed")) &&
	    json_is_true(json_object_get(val, "checked")))
		snprintf(verdict[3], 160, "yes");
	else {
		snprintf(verdict[3], 160, "NO: %lld wrong",
		         (long long)json_integer_value(json_object_get(val, "wrong")));
		ok = 0;
	}
	const json_t *bind = json_object_get(rec, "binding");
	if (json_is_object(bind)) {
		if (json_is_true(json_object_get(bind, "ok")))
			snprintf(verdict[4], 160, "yes (%s)", str(bind, "policy"));
		else
			snprintf(verdict[4], 160, "NO: %s", str(bind, "warning"));
	} else {
		binding_verdict(run, verdict[4], 160);
	}
	if (!strncmp(verdict[4], "NO", 2))
		ok = 0;
	return ok;
}

static void compliance_section(const struct strata_run *run, struct strata_doc *d)
{
	strata_doc_heading(d, 1, "Run-rule compliance");
	strata_doc_para(d,
	                "Per case, as MLPerf run rules ask: warm-up done as planned, the minimum "
	                "repetitions and timed duration met (for inference also every timed run "
	                "VALID under LoadGen's rules), the answer validated, ranks bound as "
	                "asked.");
	struct strata_table *t = strata_doc_table(d, 7, "case", "warm-up", "repetitions",
	                                          "duration", "validation", "binding", "compliant");
	size_t i, good = 0, n = 0;
	json_t *r;
	json_array_foreach(run->records, i, r) {
		char v[5][160];
		int ok = strata_report_compliance(run, r, v);
		strata_table_row(t);
		strata_table_cell(t, "`%s`", str(r, "metric_key"));
		for (int k = 0; k < 5; k++)
			strata_table_cell(t, "%s", v[k]);
		strata_table_cell(t, "%s", ok > 0 ? "yes" : ok == 0 ? "**NO**" : "not run");
		good += ok > 0;
		n += ok >= 0;
	}
	strata_doc_para(d, "%zu of the %zu case(s) that ran meet every run rule.", good, n);
}

/* ---- the document --------------------------------------------------------- */

void strata_report_build(const struct strata_run *run, const struct strata_peaks *peaks,
                         struct strata_doc *d)
{
	const json_t *m = run->manifest;
	const json_t *plan = json_object_get(m, "plan");
	char title[512];
	snprintf(title, sizeof(title), "strata run %s: %s", str(m, "run_id"), str(plan, "name"));
	strata_doc_init(d, title);
	strata_doc_item(d, "started %s, ended %s; %s", str(m, "start_time"), str(m, "end_time"),
	                json_is_true(json_object_get(m, "complete"))
	                    ? "complete"
	                    : "**INCOMPLETE** (interrupted or still running)");
	if (run->bad_line)
		strata_doc_item(d,
		                "%zu record(s); **%zu line(s) of results.jsonl are truncated or "
		                "corrupt (the first is line %zu) and were skipped**",
		                json_array_size(run->records), run->jsonl.bad_lines, run->bad_line);
	else
		strata_doc_item(d, "%zu record(s)", json_array_size(run->records));
	strata_doc_item(d, "method: %s", str(json_object_get(m, "method"), "statistics"));
	size_t nv = json_array_size(json_object_get(plan, "variants"));
	if (nv > 1) {
		const json_t *order = json_object_get(
		    json_object_get(json_object_get(plan, "run"), "variants"), "order");
		strata_doc_item(d, "%zu variants (%s); compare them with `strata compare %s`", nv,
		                json_is_string(order) ? json_string_value(order) : "interleaved",
		                str(m, "run_id"));
	}
	system_section(run, d);

	strata_doc_heading(d, 1, "Results");
	const char *seen[64];
	size_t ns = 0, i;
	json_t *r;
	json_array_foreach(run->records, i, r) {
		const char *s = str(r, "suite");
		size_t j;
		for (j = 0; j < ns && strcmp(seen[j], s); j++)
			;
		if (j < ns || ns == 64)
			continue;
		seen[ns++] = s;
		suite_table(run->records, s, d);
		strata_report_e2e_section(run->records, s, d);
		strata_report_gpu_section(run->records, s, d);
		strata_report_suite_charts(run->records, s, d);
	}

	compliance_section(run, d);
	strata_limits_section(run, peaks, d);

	int problems = 0;
	struct strata_table *t = NULL;
	json_array_foreach(run->records, i, r) {
		if (!strcmp(str(r, "status"), "passed"))
			continue;
		if (!problems++) {
			strata_doc_heading(d, 1, "Not passed");
			t = strata_doc_table(d, 3, "case", "status", "reason");
		}
		strata_table_row(t);
		strata_table_cell(t, "`%s`", str(r, "metric_key"));
		strata_table_cell(t, "%s", str(r, "status"));
		strata_table_cell(t, "%s", str(r, "reason"));
	}
	if (!problems)
		strata_doc_para(d, "All %zu case(s) passed validation.",
		                json_array_size(run->records));
}

void strata_report_markdown(const struct strata_run *run, FILE *out)
{
	struct strata_peaks peaks;
	struct strata_doc d;
	strata_peaks_from_manifest(run->manifest, &peaks);
	strata_report_build(run, &peaks, &d);
	strata_doc_write_md(&d, out);
	strata_doc_release(&d);
	strata_peaks_release(&peaks);
}
