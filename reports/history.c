/* history.c: the SQLite history of runs (see history.h). */
#include "reports/history.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "reports/doc.h"
#include "reports/stats_tests.h"
#include "reports/svg_chart.h"

#define str strata_json_str

struct strata_history {
	sqlite3 *db;
	int version;
};

/* MIGRATIONS[k] takes a database from version k to k + 1. */
static const char *const MIGRATIONS[STRATA_HISTORY_SCHEMA] = {
    /* 0 -> 1 */
    "CREATE TABLE runs ("
    "  run_id TEXT PRIMARY KEY,"
    "  start_time TEXT,"
    "  plan_name TEXT,"
    "  hosts INTEGER,"
    "  complete INTEGER,"
    "  ingested_at TEXT);"
    "CREATE TABLE results ("
    "  run_id TEXT NOT NULL REFERENCES runs(run_id),"
    "  metric_key TEXT NOT NULL,"
    "  suite TEXT,"
    "  variant TEXT,"
    "  metric TEXT NOT NULL,"
    "  unit TEXT,"
    "  higher_is_better INTEGER,"
    "  median REAL,"
    "  PRIMARY KEY (run_id, metric_key, metric));",
    /* 1 -> 2 */
    "ALTER TABLE runs ADD COLUMN git_commit TEXT;"
    "ALTER TABLE runs ADD COLUMN system_name TEXT;"
    "ALTER TABLE runs ADD COLUMN ranks INTEGER;"
    "ALTER TABLE results ADD COLUMN case_key TEXT;"
    "ALTER TABLE results ADD COLUMN params TEXT;"
    "ALTER TABLE results ADD COLUMN status TEXT;"
    "ALTER TABLE results ADD COLUMN best REAL;"
    "ALTER TABLE results ADD COLUMN ci_low REAL;"
    "ALTER TABLE results ADD COLUMN ci_high REAL;"
    "ALTER TABLE results ADD COLUMN n INTEGER;"
    /* version 1 kept only passed cases and no case key: derive it */
    "UPDATE results SET status = 'passed',"
    "  case_key = CASE WHEN instr(metric_key, '@') > 0"
    "    THEN substr(metric_key, 1, instr(metric_key, '@') - 1) ELSE metric_key END;"
    "CREATE INDEX results_series ON results(case_key, variant, metric);",
};

static int sql_error(struct strata_history *h, const char *what, char *err, size_t err_len)
{
	snprintf(err, err_len, "history: %s: %s", what, sqlite3_errmsg(h->db));
	return -1;
}

int strata_history_exec(struct strata_history *h, const char *sql, char *err, size_t err_len)
{
	char *msg = NULL;
	if (sqlite3_exec(h->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, err_len, "history: %s", msg ? msg : "SQL error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int read_version(struct strata_history *h)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(h->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

int strata_history_open(const char *path, int target, struct strata_history **out, char *err,
                        size_t err_len)
{
	*out = NULL;
	if (target < 1 || target > STRATA_HISTORY_SCHEMA) {
		snprintf(err, err_len, "history: no schema version %d", target);
		return -1;
	}
	struct strata_history *h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, err_len, "history: out of memory");
		return -1;
	}
	if (sqlite3_open_v2(path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, err_len, "history: %s: %s", path,
		         h->db ? sqlite3_errmsg(h->db) : "cannot open");
		strata_history_close(h);
		return -1;
	}
	sqlite3_busy_timeout(h->db, 10000); /* a nightly job and a person at once */
	int v = read_version(h);
	if (v < 0) {
		snprintf(err, err_len, "history: %s: not an SQLite database (%s)", path,
		         sqlite3_errmsg(h->db));
		strata_history_close(h);
		return -1;
	}
	if (v > STRATA_HISTORY_SCHEMA) {
		snprintf(err, err_len,
		         "history: %s has schema version %d, newer than this strata's %d: use a "
		         "newer strata",
		         path, v, STRATA_HISTORY_SCHEMA);
		strata_history_close(h);
		return -1;
	}
	for (; v < target; v++) {
		char pragma[64];
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d;", v + 1);
		if (strata_history_exec(h, "BEGIN IMMEDIATE;", err, err_len) ||
		    strata_history_exec(h, MIGRATIONS[v], err, err_len) ||
		    strata_history_exec(h, pragma, err, err_len) ||
		    strata_history_exec(h, "COMMIT;", err, err_len)) {
			char why[1024];
			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, err_len, "%s: migrating from schema %d to %d: %s", path, v,
			         v + 1, why);
			sqlite3_exec(h->db, "ROLLBACK;", NULL, NULL, NULL);
			strata_history_close(h);
			return -1;
		}
	}
	h->version = read_version(h);
	*out = h;
	return 0;
}

void strata_history_close(struct strata_history *h)
{
	if (!h)
		return;
	sqlite3_close(h->db);
	free(h);
}

int strata_history_version(struct strata_history *h)
{
	return h->version;
}

/* ---- ingest ------------------------------------------------------------------ */

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s && strcmp(s, "-"))
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_num(sqlite3_stmt *st, int i, double v)
{
	if (isfinite(v))
		sqlite3_bind_double(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

int strata_history_ingest(struct strata_history *h, const struct strata_run *run, char *err,
                          size_t err_len)
{
	const json_t *m = run->manifest;
	const char *run_id = json_string_value(json_object_get(m, "run_id"));
	if (!run_id) {
		snprintf(err, err_len, "%s: the manifest has no run_id", run->dir);
		return -1;
	}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(h->db, "SELECT 1 FROM runs WHERE run_id = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		return sql_error(h, "select", err, err_len);
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
	int present = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (present)
		return 0;

	if (strata_history_exec(h, "BEGIN IMMEDIATE;", err, err_len))
		return -1;
	const json_t *slurm = json_object_get(json_object_get(m, "launcher"), "slurm");
	const char *system = json_string_value(json_object_get(slurm, "cluster"));
	if (!system)
		system = str(json_array_get(json_object_get(m, "hosts"), 0), "hostname");
	char now[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (sqlite3_prepare_v2(
	        h->db,
	        "INSERT INTO runs (run_id, start_time, plan_name, hosts, complete, "
	        "ingested_at, git_commit, system_name, ranks) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
	        -1, &st, NULL) != SQLITE_OK)
		goto sql_fail;
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
	bind_text(st, 2, str(m, "start_time"));
	bind_text(st, 3, str(json_object_get(m, "plan"), "name"));
	sqlite3_bind_int64(st, 4, (sqlite3_int64)strata_run_n_hosts(run));
	sqlite3_bind_int(st, 5, json_is_true(json_object_get(m, "complete")));
	sqlite3_bind_text(st, 6, now, -1, SQLITE_TRANSIENT);
	bind_text(st, 7, str(json_object_get(m, "strata"), "strata_git_commit"));
	bind_text(st, 8, system);
	bind_num(st, 9, strata_json_num(m, "ranks"));
	if (sqlite3_step(st) != SQLITE_DONE)
		goto sql_fail;
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(
	        h->db,
	        "INSERT OR REPLACE INTO results (run_id, metric_key, suite, variant, metric, "
	        "unit, higher_is_better, median, case_key, params, status, best, ci_low, "
	        "ci_high, n) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
	        -1, &st, NULL) != SQLITE_OK)
		goto sql_fail;
	size_t i;
	json_t *r;
	json_array_foreach(run->records, i, r) {
		char key[2048];
		strata_record_case_key(r, key, sizeof(key));
		char *params = json_dumps(json_object_get(r, "params"), JSON_COMPACT);
		const char *name;
		json_t *mt;
		json_object_foreach(json_object_get(r, "metrics"), name, mt) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
			bind_text(st, 2, str(r, "metric_key"));
			bind_text(st, 3, str(r, "suite"));
			bind_text(st, 4, str(r, "variant"));
			sqlite3_bind_text(st, 5, name, -1, SQLITE_TRANSIENT);
			bind_text(st, 6, str(mt, "unit"));
			sqlite3_bind_int(st, 7,
			                 json_is_true(json_object_get(mt, "higher_is_better")));
			bind_num(st, 8, strata_json_num(mt, "median"));
			sqlite3_bind_text(st, 9, key, -1, SQLITE_TRANSIENT);
			bind_text(st, 10, params);
			bind_text(st, 11, str(r, "status"));
			bind_num(st, 12, strata_json_num(mt, "best"));
			const json_t *ci = json_object_get(mt, "ci95_median");
			bind_num(st, 13,
			         json_is_number(json_array_get(ci, 0))
			             ? json_number_value(json_array_get(ci, 0))
			             : NAN);
			bind_num(st, 14,
			         json_is_number(json_array_get(ci, 1))
			             ? json_number_value(json_array_get(ci, 1))
			             : NAN);
			bind_num(st, 15, strata_json_num(json_object_get(r, "stats"), "n"));
			if (sqlite3_step(st) != SQLITE_DONE) {
				free(params);
				goto sql_fail;
			}
		}
		free(params);
	}
	sqlite3_finalize(st);
	if (strata_history_exec(h, "COMMIT;", err, err_len))
		return -1;
	return 1;
sql_fail:
	sql_error(h, "ingest", err, err_len);
	sqlite3_finalize(st);
	sqlite3_exec(h->db, "ROLLBACK;", NULL, NULL, NULL);
	return -1;
}

/* ---- list ------------------------------------------------------------------------ */

static const char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return s ? (const char *)s : "-";
}

int strata_history_list(struct strata_history *h, FILE *out, char *err, size_t err_len)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(
	        h->db,
	        "SELECT u.run_id, u.start_time, u.plan_name, u.hosts, u.ranks, u.complete, "
	        "u.git_commit, (SELECT count(DISTINCT metric_key) FROM results r WHERE "
	        "r.run_id = u.run_id), (SELECT count(*) FROM results r WHERE r.run_id = "
	        "u.run_id AND r.status IS NOT 'passed') "
	        "FROM runs u ORDER BY u.start_time, u.run_id",
	        -1, &st, NULL) != SQLITE_OK)
		return sql_error(h, "list", err, err_len);
	fprintf(
	    out,
	    "| run | start | plan | nodes | ranks | complete | git | cases | figures not passed |\n"
	    "|---|---|---|---|---|---|---|---|---|\n");
	size_t n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		fprintf(out, "| %s | %s | %s | %d | %s | %s | %s | %d | %d |\n", col_text(st, 0),
		        col_text(st, 1), col_text(st, 2), sqlite3_column_int(st, 3),
		        col_text(st, 4), sqlite3_column_int(st, 5) ? "yes" : "no", col_text(st, 6),
		        sqlite3_column_int(st, 7), sqlite3_column_int(st, 8));
		n++;
	}
	sqlite3_finalize(st);
	fprintf(out, "\n%zu run(s), schema version %d\n", n, h->version);
	return 0;
}

/* ---- series ----------------------------------------------------------------------- */

struct point {
	char *run_id, *start;
	double value;
};

struct series {
	char *case_key, *variant, *metric, *unit, *suite;
	int hib;
	struct point *p;
	size_t n;
};

struct series_set {
	struct series *s;
	size_t n;
};

static char *dup_text(sqlite3_stmt *st, int i)
{
	return strdup(col_text(st, i));
}

static void series_free(struct series_set *ss)
{
	for (size_t i = 0; i < ss->n; i++) {
		struct series *s = &ss->s[i];
		for (size_t k = 0; k < s->n; k++) {
			free(s->p[k].run_id);
			free(s->p[k].start);
		}
		free(s->p);
		free(s->case_key);
		free(s->variant);
		free(s->metric);
		free(s->unit);
		free(s->suite);
	}
	free(ss->s);
	ss->s = NULL;
	ss->n = 0;
}

/* Parameters from a case key "suite[p=v,q=w]" (rows of schema 1 have no
 * params column): integers where the text is one, else strings. */
static json_t *params_from_key(const char *key)
{
	json_t *p = json_object();
	const char *open = strchr(key, '['), *close = strrchr(key, ']');
	if (!open || !close || close < open)
		return p;
	char buf[2048];
	snprintf(buf, sizeof(buf), "%.*s", (int)(close - open - 1), open + 1);
	for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '='), *end;
		if (!eq)
			continue;
		*eq = '\0';
		long long v = strtoll(eq + 1, &end, 10);
		json_object_set_new(p, kv, eq[1] && !*end ? json_integer(v) : json_string(eq + 1));
	}
	return p;
}

/* where "p=v,q=w" against a row's parameters (JSON text, or its case key). */
static int where_ok(const char *where, const char *params_text, const char *case_key)
{
	if (!where || !*where)
		return 1;
	json_t *params = json_loads(params_text, 0, NULL);
	if (!params)
		params = params_from_key(case_key);
	int ok = params != NULL;
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", where);
	for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv && ok;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq) {
			ok = 0;
			break;
		}
		*eq = '\0';
		ok = strata_param_matches(params, kv, eq + 1);
	}
	json_decref(params);
	return ok;
}

static int load_series(struct strata_history *h, const struct strata_history_filter *f,
                       struct series_set *ss, char *err, size_t err_len)
{
	memset(ss, 0, sizeof(*ss));
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(
	        h->db,
	        "SELECT r.case_key, r.variant, r.metric, r.unit, r.higher_is_better, r.median, "
	        "r.params, r.run_id, u.start_time, r.suite FROM results r JOIN runs u ON "
	        "u.run_id = r.run_id WHERE r.status = 'passed' AND r.median IS NOT NULL "
	        "AND (?1 IS NULL OR r.metric = ?1) AND (?2 IS NULL OR r.suite = ?2) "
	        "AND (?3 IS NULL OR r.variant = ?3) "
	        "ORDER BY r.case_key, r.variant, r.metric, u.start_time, u.run_id",
	        -1, &st, NULL) != SQLITE_OK)
		return sql_error(h, "series", err, err_len);
	if (f->metric)
		sqlite3_bind_text(st, 1, f->metric, -1, SQLITE_TRANSIENT);
	if (f->suite)
		sqlite3_bind_text(st, 2, f->suite, -1, SQLITE_TRANSIENT);
	if (f->variant)
		sqlite3_bind_text(st, 3, f->variant, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (!where_ok(f->where, col_text(st, 6), col_text(st, 0)))
			continue;
		struct series *s = ss->n ? &ss->s[ss->n - 1] : NULL;
		if (!s || strcmp(s->case_key, col_text(st, 0)) ||
		    strcmp(s->variant, col_text(st, 1)) || strcmp(s->metric, col_text(st, 2))) {
			struct series *ns = realloc(ss->s, (ss->n + 1) * sizeof(*ns));
			if (!ns)
				break;
			ss->s = ns;
			s = &ss->s[ss->n++];
			memset(s, 0, sizeof(*s));
			s->case_key = dup_text(st, 0);
			s->variant = dup_text(st, 1);
			s->metric = dup_text(st, 2);
			s->unit = dup_text(st, 3);
			s->hib = sqlite3_column_int(st, 4);
			s->suite = dup_text(st, 9);
		}
		struct point *np = realloc(s->p, (s->n + 1) * sizeof(*np));
		if (!np)
			break;
		s->p = np;
		s->p[s->n].value = sqlite3_column_double(st, 5);
		s->p[s->n].run_id = dup_text(st, 7);
		s->p[s->n].start = dup_text(st, 8);
		s->n++;
	}
	sqlite3_finalize(st);
	return 0;
}

/* ---- trend ------------------------------------------------------------------------- */

int strata_history_trend(struct strata_history *h, const struct strata_history_filter *f, FILE *out,
                         FILE *html, FILE *csv, char *err, size_t err_len)
{
	struct series_set ss;
	if (load_series(h, f, &ss, err, err_len))
		return -1;
	if (ss.n == 0) {
		snprintf(err, err_len, "history: no series matches (metric %s%s%s%s%s)",
		         f->metric ? f->metric : "any", f->suite ? ", suite " : "",
		         f->suite ? f->suite : "", f->where ? ", where " : "",
		         f->where ? f->where : "");
		return -1;
	}
	/* every run of the matching series, in time order, numbered from 1 */
	struct strata_doc d;
	char title[512];
	snprintf(title, sizeof(title), "strata history: trend of %s",
	         f->metric ? f->metric : "every figure");
	strata_doc_init(&d, title);
	d.html_name = "the HTML output (--html)";
	struct strata_chart *c =
	    strata_chart_new(STRATA_CHART_LINE, title, "run (oldest first)", NULL,
	                     f->metric ? f->metric : "figure", ss.s[0].unit);
	strata_doc_para(&d, "%zu series; each point is one run's median.", ss.n);
	if (csv)
		fputs("case,variant,metric,unit,run_id,start_time,median\r\n", csv);
	/* run ordinal: position among all the runs these series cover, by time */
	size_t nruns = 0;
	char **runs = NULL, **starts = NULL;
	for (size_t i = 0; i < ss.n; i++)
		for (size_t k = 0; k < ss.s[i].n; k++) {
			size_t j;
			for (j = 0; j < nruns && strcmp(runs[j], ss.s[i].p[k].run_id); j++)
				;
			if (j < nruns)
				continue;
			runs = realloc(runs, (nruns + 1) * sizeof(*runs));
			starts = realloc(starts, (nruns + 1) * sizeof(*starts));
			/* insertion by start time */
			size_t at = nruns;
			while (at > 0 && (strcmp(starts[at - 1], ss.s[i].p[k].start) > 0 ||
			                  (!strcmp(starts[at - 1], ss.s[i].p[k].start) &&
			                   strcmp(runs[at - 1], ss.s[i].p[k].run_id) > 0))) {
				runs[at] = runs[at - 1];
				starts[at] = starts[at - 1];
				at--;
			}
			runs[at] = ss.s[i].p[k].run_id;
			starts[at] = ss.s[i].p[k].start;
			nruns++;
		}
	for (size_t i = 0; i < ss.n; i++) {
		struct series *s = &ss.s[i];
		char name[2300];
		/* long keys do not fit a legend: series are numbered, the tables
		 * below say which is which */
		if (ss.n == 1)
			snprintf(name, sizeof(name), "%s", s->metric);
		else
			snprintf(name, sizeof(name), "series %zu", i + 1);
		size_t si = strata_chart_series(c, name);
		strata_doc_heading(&d, 2, "%s%s`%s@%s` %s (%s, %s is better)",
		                   ss.n == 1 ? "" : name, ss.n == 1 ? "" : ": ", s->case_key,
		                   s->variant, s->metric, s->unit, s->hib ? "higher" : "lower");
		struct strata_table *t = strata_doc_table(&d, 4, "#", "run", "start", "median");
		for (size_t k = 0; k < s->n; k++) {
			size_t j;
			for (j = 0; j < nruns && strcmp(runs[j], s->p[k].run_id); j++)
				;
			strata_chart_point(c, si, (double)(j + 1), s->p[k].value);
			strata_table_row(t);
			strata_table_cell(t, "%zu", j + 1);
			strata_table_cell(t, "%s", s->p[k].run_id);
			strata_table_cell(t, "%s", s->p[k].start);
			strata_table_cell(t, "%.6g", s->p[k].value);
			if (csv)
				fprintf(csv, "\"%s\",%s,%s,%s,%s,%s,%.9g\r\n", s->case_key,
				        s->variant, s->metric, s->unit, s->p[k].run_id,
				        s->p[k].start, s->p[k].value);
		}
	}
	free(runs);
	free(starts);
	strata_chart_set_note(c,
	                      "x: the runs in time order (tables below number them); y: each run's "
	                      "median.");
	/* the chart goes first in the page */
	strata_doc_chart(&d, c);
	struct strata_block chart = d.blocks[d.n - 1];
	memmove(&d.blocks[2], &d.blocks[1], (d.n - 2) * sizeof(d.blocks[0]));
	d.blocks[1] = chart;
	strata_doc_write_md(&d, out);
	if (html)
		strata_doc_write_html(&d, html);
	strata_doc_release(&d);
	series_free(&ss);
	return 0;
}

/* ---- regressions --------------------------------------------------------------------- */

void strata_regression_options_default(struct strata_regression_options *o)
{
	o->min_change_pct = 5;
	o->window = 100;
	o->min_size = 3;
	o->alpha = 0.05;
	o->permutations = 199;
}

static double seg_median(const struct series *s, size_t lo, size_t hi)
{
	double *v = malloc((hi - lo) * sizeof(*v));
	if (!v)
		return NAN;
	for (size_t i = lo; i < hi; i++)
		v[i - lo] = s->p[i].value;
	double m = strata_median(v, hi - lo);
	free(v);
	return m;
}

int strata_history_regressions(struct strata_history *h, const struct strata_history_filter *f,
                               const struct strata_regression_options *o, FILE *out, char *err,
                               size_t err_len)
{
	struct series_set ss;
	if (load_series(h, f, &ss, err, err_len))
		return -1;
	fprintf(
	    out,
	    "Change points by E-divisive means (Matteson & James, JASA 2014; permutation test, "
	    "alpha %.3g, %zu permutations; at least %zu runs each side; last %zu runs of each "
	    "series). A change counts as a regression when the figure got worse by at least %g%%; "
	    "it is in effect when the latest runs are still that much worse than before it.\n\n",
	    o->alpha, o->permutations, o->min_size, o->window, o->min_change_pct);
	fprintf(
	    out,
	    "| series | first run after the change | start | before | after | change | verdict |\n"
	    "|---|---|---|---|---|---|---|\n");
	size_t in_effect = 0, changes = 0, tested = 0;
	for (size_t i = 0; i < ss.n; i++) {
		struct series *s = &ss.s[i];
		size_t first = s->n > o->window ? s->n - o->window : 0, n = s->n - first;
		if (n < 2 * o->min_size)
			continue;
		tested++;
		double *x = malloc(n * sizeof(*x));
		size_t cps[32];
		if (!x)
			break;
		for (size_t k = 0; k < n; k++)
			x[k] = s->p[first + k].value;
		char name[2300];
		snprintf(name, sizeof(name), "%s@%s %s", s->case_key, s->variant, s->metric);
		int nc = strata_edivisive(x, n, o->min_size, o->alpha, o->permutations,
		                          strata_hash_text(name), cps, 32);
		free(x);
		for (int c = 0; c < nc; c++) {
			size_t lo = c ? cps[c - 1] : 0, at = cps[c],
			       hi = c + 1 < nc ? cps[c + 1] : n;
			double before = seg_median(s, first + lo, first + at);
			double after = seg_median(s, first + at, first + hi);
			double last = seg_median(s, first + cps[nc - 1], first + n);
			double change = 100 * (after / before - 1);
			int worse = s->hib ? change < 0 : change > 0;
			double still = 100 * (last / before - 1);
			int still_worse = (s->hib ? -still : still) >= o->min_change_pct;
			const char *verdict;
			if (fabs(change) < o->min_change_pct)
				verdict = "change below --min-change";
			else if (!worse)
				verdict = "improvement";
			else if (still_worse) {
				verdict = "**REGRESSION, in effect**";
				in_effect++;
			} else
				verdict = "regression, since recovered";
			changes++;
			fprintf(out, "| `%s` | %s | %s | %.4g %s | %.4g %s | %+.1f%% | %s |\n",
			        name, s->p[first + at].run_id, s->p[first + at].start, before,
			        s->unit, after, s->unit, change, verdict);
		}
	}
	fprintf(out, "\n%zu series tested, %zu change point(s), %zu regression(s) in effect.\n",
	        tested, changes, in_effect);
	series_free(&ss);
	return (int)in_effect;
}

/* ---- exports ----------------------------------------------------------------------- */

/* OpenMetrics label value: backslash, double quote and newline escaped. */
static void om_label(FILE *out, const char *name, const char *v, int first)
{
	fprintf(out, "%s%s=\"", first ? "" : ",", name);
	for (; v && *v; v++) {
		if (*v == '\\')
			fputs("\\\\", out);
		else if (*v == '"')
			fputs("\\\"", out);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
	fputc('"', out);
}

int strata_history_openmetrics(struct strata_history *h, const char *run_id, FILE *out, char *err,
                               size_t err_len)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(
	        h->db,
	        "SELECT run_id, start_time, plan_name, system_name, git_commit FROM runs "
	        "WHERE ?1 IS NULL OR run_id = ?1 ORDER BY start_time DESC, run_id DESC LIMIT 1",
	        -1, &st, NULL) != SQLITE_OK)
		return sql_error(h, "export", err, err_len);
	if (run_id)
		sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		snprintf(err, err_len, "history: %s",
		         run_id ? "no such run" : "no run ingested yet");
		return -1;
	}
	char *rid = dup_text(st, 0);
	fputs(
	    "# TYPE strata_run_info gauge\n"
	    "# HELP strata_run_info The strata run the figures below come from (value always 1).\n"
	    "strata_run_info{",
	    out);
	om_label(out, "run_id", col_text(st, 0), 1);
	om_label(out, "start_time", col_text(st, 1), 0);
	om_label(out, "plan", col_text(st, 2), 0);
	om_label(out, "system", col_text(st, 3), 0);
	om_label(out, "git_commit", col_text(st, 4), 0);
	fputs("} 1\n", out);
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(
	        h->db,
	        "SELECT suite, case_key, variant, metric, unit, median, best, status FROM "
	        "results WHERE run_id = ?1 ORDER BY case_key, variant, metric",
	        -1, &st, NULL) != SQLITE_OK) {
		free(rid);
		return sql_error(h, "export", err, err_len);
	}
	sqlite3_bind_text(st, 1, rid, -1, SQLITE_TRANSIENT);
	static const char *const family[] = {"strata_figure_median", "strata_figure_best"};
	static const char *const help[] = {
	    "Median over the timed repetitions of a strata figure of merit (unit in the unit "
	    "label).",
	    "Best repetition's value of a strata figure of merit (unit in the unit label)."};
	for (int fam = 0; fam < 2; fam++) {
		fprintf(out, "# TYPE %s gauge\n# HELP %s %s\n", family[fam], family[fam],
		        help[fam]);
		sqlite3_reset(st);
		while (sqlite3_step(st) == SQLITE_ROW) {
			if (sqlite3_column_type(st, 5 + fam) == SQLITE_NULL ||
			    strcmp(col_text(st, 7), "passed"))
				continue;
			fprintf(out, "%s{", family[fam]);
			om_label(out, "suite", col_text(st, 0), 1);
			om_label(out, "case", col_text(st, 1), 0);
			om_label(out, "variant", col_text(st, 2), 0);
			om_label(out, "metric", col_text(st, 3), 0);
			om_label(out, "unit", col_text(st, 4), 0);
			fprintf(out, "} %.9g\n", sqlite3_column_double(st, 5 + fam));
		}
	}
	fputs("# EOF\n", out);
	sqlite3_finalize(st);
	free(rid);
	return 0;
}

static void csv_field(FILE *out, const char *s, int last)
{
	int quote = strpbrk(s, ",\"\r\n") != NULL;
	if (quote)
		fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	if (quote)
		fputc('"', out);
	fputs(last ? "\r\n" : ",", out);
}

int strata_history_csv(struct strata_history *h, const struct strata_history_filter *f, FILE *out,
                       char *err, size_t err_len)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(
	        h->db,
	        "SELECT r.run_id, u.start_time, r.case_key, r.suite, r.variant, r.metric, "
	        "r.unit, r.higher_is_better, r.median, r.best, r.ci_low, r.ci_high, r.n, "
	        "r.status, r.params FROM results r JOIN runs u ON u.run_id = r.run_id "
	        "WHERE (?1 IS NULL OR r.metric = ?1) AND (?2 IS NULL OR r.suite = ?2) "
	        "AND (?3 IS NULL OR r.variant = ?3) "
	        "ORDER BY u.start_time, r.run_id, r.case_key, r.variant, r.metric",
	        -1, &st, NULL) != SQLITE_OK)
		return sql_error(h, "export", err, err_len);
	if (f->metric)
		sqlite3_bind_text(st, 1, f->metric, -1, SQLITE_TRANSIENT);
	if (f->suite)
		sqlite3_bind_text(st, 2, f->suite, -1, SQLITE_TRANSIENT);
	if (f->variant)
		sqlite3_bind_text(st, 3, f->variant, -1, SQLITE_TRANSIENT);
	static const char *const head[] = {"run_id",  "start_time", "case",     "suite",
	                                   "variant", "metric",     "unit",     "higher_is_better",
	                                   "median",  "best",       "ci95_low", "ci95_high",
	                                   "n",       "status",     "params"};
	for (int i = 0; i < 15; i++)
		csv_field(out, head[i], i == 14);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (!where_ok(f->where, col_text(st, 14), col_text(st, 2)))
			continue;
		for (int i = 0; i < 15; i++) {
			char buf[64];
			const char *v;
			if (sqlite3_column_type(st, i) == SQLITE_NULL)
				v = "";
			else if (i == 7)
				v = sqlite3_column_int(st, i) ? "true" : "false";
			else if (sqlite3_column_type(st, i) == SQLITE_FLOAT) {
				snprintf(buf, sizeof(buf), "%.9g", sqlite3_column_double(st, i));
				v = buf;
			} else
				v = col_text(st, i);
			csv_field(out, v, i == 14);
		}
	}
	sqlite3_finalize(st);
	return 0;
}
