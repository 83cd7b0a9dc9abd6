/* report.c: results directory -> Markdown summary (see report.h). */
#include "reports/report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int strata_run_load(const char *dir, struct strata_run *run, char *err, size_t err_len)
{
	memset(run, 0, sizeof(*run));
	snprintf(run->dir, sizeof(run->dir), "%s", dir);
	char path[4200];
	json_error_t je;
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	run->manifest = json_load_file(path, 0, &je);
	if (!run->manifest) {
		snprintf(err, err_len, "%s:%d:%d: %s", path, je.line, je.column, je.text);
		return -1;
	}
	run->records = json_array();
	snprintf(path, sizeof(path), "%s/results.jsonl", dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
		strata_run_release(run);
		return -1;
	}
	char *line = NULL;
	size_t cap = 0, n = 0;
	while (getline(&line, &cap, f) > 0) {
		n++;
		json_t *rec = json_loads(line, 0, &je);
		if (!rec || !json_is_object(rec)) {
			json_decref(rec);
			run->bad_line = n; /* a run killed mid-write: keep what came before */
			break;
		}
		json_array_append_new(run->records, rec);
	}
	free(line);
	fclose(f);
	return 0;
}

void strata_run_release(struct strata_run *run)
{
	json_decref(run->manifest);
	json_decref(run->records);
	run->manifest = run->records = NULL;
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "-";
}

static void system_table(const json_t *m, FILE *out)
{
	const json_t *v = json_object_get(m, "strata");
	const json_t *sys = json_array_get(json_object_get(m, "systems"), 0);
	fprintf(out, "## System\n\n| field | value |\n|---|---|\n");
	fprintf(out, "| number of nodes | %zu |\n", json_array_size(json_object_get(m, "hosts")));
	fprintf(out, "| ranks | %lld |\n", (long long)json_integer_value(json_object_get(m, "ranks")));
	fprintf(out, "| host processor model | %s |\n", str(sys, "cpu_model"));
	fprintf(out, "| host processors per node | %lld sockets, %lld cores, %lld hardware threads |\n",
		(long long)json_integer_value(json_object_get(sys, "sockets")),
		(long long)json_integer_value(json_object_get(sys, "cores")),
		(long long)json_integer_value(json_object_get(sys, "hardware_threads")));
	fprintf(out, "| host memory | %.1f GiB in %zu NUMA node(s) |\n",
		(double)json_integer_value(json_object_get(sys, "total_memory_bytes")) / (1 << 30),
		json_array_size(json_object_get(sys, "numa_nodes")));
	fprintf(out, "| operating system kernel | %s |\n", str(sys, "kernel"));
	fprintf(out, "| MPI | %s |\n", str(v, "mpi_library"));
	fprintf(out, "| BLAS | %s |\n", str(v, "openblas"));
	fprintf(out, "| hwloc | %s |\n", str(v, "hwloc"));
	fprintf(out, "| compiler | %s |\n", str(v, "compiler"));
	fprintf(out, "| strata | %s (git %s, backends %s) |\n\n", str(v, "strata"),
		str(v, "strata_git_commit"), str(v, "backends"));
}

/* Parameters that vary in this suite's records, in table order. */
static void key_params(const json_t *recs, const char *suite, const char **names, size_t *n)
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

static void print_param(const json_t *v, FILE *out)
{
	if (json_is_string(v))
		fprintf(out, "%s", json_string_value(v));
	else if (json_is_integer(v))
		fprintf(out, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		fprintf(out, "%g", json_real_value(v));
	else
		fprintf(out, "%s", json_is_true(v) ? "true" : "false");
}

static void suite_table(const json_t *recs, const char *suite, FILE *out)
{
	const char *names[16];
	size_t nn;
	key_params(recs, suite, names, &nn);
	fprintf(out, "### %s\n\n| variant |", suite);
	for (size_t j = 0; j < nn; j++)
		fprintf(out, " %s |", names[j]);
	fprintf(out, " status | figures (median [95%% CI]; best) | n |\n|---|");
	for (size_t j = 0; j < nn; j++)
		fprintf(out, "---|");
	fprintf(out, "---|---|---|\n");
	size_t i;
	json_t *r;
	json_array_foreach(recs, i, r) {
		if (strcmp(str(r, "suite"), suite))
			continue;
		fprintf(out, "| %s |", str(r, "variant"));
		for (size_t j = 0; j < nn; j++) {
			fprintf(out, " ");
			print_param(json_object_get(json_object_get(r, "params"), names[j]), out);
			fprintf(out, " |");
		}
		fprintf(out, " %s | ", str(r, "status"));
		const char *mk;
		json_t *m;
		int first = 1;
		json_object_foreach(json_object_get(r, "metrics"), mk, m) {
			const json_t *ci = json_object_get(m, "ci95_median");
			fprintf(out, "%s%s %.4g %s [%.4g, %.4g]; best %.4g", first ? "" : "<br>", mk,
				json_real_value(json_object_get(m, "median")), str(m, "unit"),
				json_real_value(json_array_get(ci, 0)), json_real_value(json_array_get(ci, 1)),
				json_real_value(json_object_get(m, "best")));
			first = 0;
		}
		fprintf(out, " | %lld |\n",
			(long long)json_integer_value(json_object_get(json_object_get(r, "stats"), "n")));
	}
	fprintf(out, "\n");
}

void strata_report_markdown(const struct strata_run *run, FILE *out)
{
	const json_t *m = run->manifest;
	const json_t *plan = json_object_get(m, "plan");
	fprintf(out, "# strata run %s: %s\n\n", str(m, "run_id"), str(plan, "name"));
	fprintf(out, "- started %s, ended %s; %s\n", str(m, "start_time"), str(m, "end_time"),
		json_is_true(json_object_get(m, "complete")) ? "complete"
							      : "**INCOMPLETE** (interrupted or still running)");
	fprintf(out, "- %zu record(s)", json_array_size(run->records));
	if (run->bad_line)
		fprintf(out, "; **results.jsonl line %zu is truncated or corrupt, records after it ignored**",
			run->bad_line);
	fprintf(out, "\n- method: %s\n\n", str(json_object_get(m, "method"), "statistics"));
	system_table(m, out);

	fprintf(out, "## Results\n\n");
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
		suite_table(run->records, s, out);
	}

	int problems = 0;
	json_array_foreach(run->records, i, r) {
		if (!strcmp(str(r, "status"), "passed"))
			continue;
		if (!problems++)
			fprintf(out, "## Not passed\n\n| case | status | reason |\n|---|---|---|\n");
		fprintf(out, "| `%s` | %s | %s |\n", str(r, "metric_key"), str(r, "status"), str(r, "reason"));
	}
	if (!problems)
		fprintf(out, "All %zu case(s) passed validation.\n", json_array_size(run->records));
}
