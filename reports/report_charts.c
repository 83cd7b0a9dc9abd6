/* report_charts.c: which charts a suite's records make (see report_charts.h).
 *
 * Generic by design, so a new suite (storage, train, infer) gets sensible
 * charts without code here: a chart shows figure Y against parameter X with
 * one series per combination of the other parameters that vary (and per
 * variant).  A short table of rules only picks X and Y where the generic
 * choice would be worse (bus bandwidth for collectives, GFLOP/s vs m for
 * GEMM).  Besides those:
 *   - distributions (box plots over repetitions) when the suite's first
 *     figure is a latency or a time (lower is better);
 *   - heat maps of any details "*_matrix" (p2p rank pairs and hosts, NUMA
 *     bandwidth matrices);
 *   - stacked bars of a details "breakdown_s" (or train's "step_breakdown_s")
 *     object (step-time breakdowns).
 */
#include "reports/report_charts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/stats.h"
#include "harness/suite.h"
#include "reports/run.h"
#include "reports/stats_tests.h"
#include "reports/svg_chart.h"

struct chart_rule {
	const char *suite;
	const char *x;     /* parameter on the x axis */
	const char *y;     /* figure on the y axis (when the record has it) */
	const char *title; /* "Y vs X" when NULL */
};

static const struct chart_rule RULES[] = {
    {"allreduce", "size", "busbw", "bus bandwidth vs message size"},
    {"allgather", "size", "busbw", "bus bandwidth vs message size"},
    {"reduce_scatter", "size", "busbw", "bus bandwidth vs message size"},
    {"broadcast", "size", "busbw", "bus bandwidth vs message size"},
    {"alltoall", "size", "busbw", "bus bandwidth vs message size"},
    {"gemm", "m", "gflops", "GEMM throughput vs size, per data type"},
    {"membw", "kernel", "bandwidth", "memory bandwidth per kernel"},
    {"storage", "block", "aggregate_bandwidth", "storage throughput vs block size"},
};

enum { MAX_CHARTS_PER_SUITE = 12, MAX_BOX_CASES = 32, MAX_PARAMS = 24 };

static const struct chart_rule *rule_of(const char *suite)
{
	for (size_t i = 0; i < sizeof(RULES) / sizeof(RULES[0]); i++)
		if (!strcmp(RULES[i].suite, suite))
			return &RULES[i];
	return NULL;
}

/* Records of suite that have figures. */
static size_t suite_records(const json_t *recs, const char *suite, const json_t **out, size_t max)
{
	size_t n = 0, i;
	json_t *r;
	json_array_foreach(recs, i, r) {
		if (strcmp(strata_json_str(r, "suite"), suite) || n == max)
			continue;
		if (json_object_size(json_object_get(r, "metrics")) == 0 ||
		    strcmp(strata_json_str(r, "status"), "passed"))
			continue; /* a wrong answer's figures are not charted */
		out[n++] = r;
	}
	return n;
}

/* Parameters whose values differ among the records. */
static size_t varying(const json_t **r, size_t n, const char **names)
{
	size_t nn = 0;
	for (size_t i = 1; i < n; i++) {
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(r[i], "params"), k, v) {
			if (json_equal(v, json_object_get(json_object_get(r[0], "params"), k)))
				continue;
			size_t j;
			for (j = 0; j < nn && strcmp(names[j], k); j++)
				;
			if (j == nn && nn < MAX_PARAMS)
				names[nn++] = k;
		}
	}
	return nn;
}

static int variants_differ(const json_t **r, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (strcmp(strata_json_str(r[i], "variant"), strata_json_str(r[0], "variant")))
			return 1;
	return 0;
}

/* b moves in lockstep with a (square GEMM: n and k follow m): every record
 * with the same a has the same b, and the other way round. */
static int alias_of(const json_t **r, size_t n, const char *a, const char *b)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			const json_t *pi = json_object_get(r[i], "params"),
			             *pj = json_object_get(r[j], "params");
			int ea = json_equal(json_object_get(pi, a), json_object_get(pj, a));
			int eb = json_equal(json_object_get(pi, b), json_object_get(pj, b));
			if (ea != eb)
				return 0;
		}
	return 1;
}

static int is_bytes_param(const char *suite, const char *name)
{
	const struct strata_suite *s = strata_suite_find(suite);
	int idx = s ? strata_param_index(s, name) : -1;
	if (idx >= 0)
		return s->params[idx].type == STRATA_PT_SIZE;
	static const char *const names[] = {"size", "block", "bytes", "block_size", "array_bytes"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return 1;
	return 0;
}

static int numeric_param(const json_t **r, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!json_is_number(json_object_get(json_object_get(r[i], "params"), name)))
			return 0;
	return 1;
}

/* Every record's x is a power of two. */
static int pow2_only(const json_t **r, size_t n, const char *x)
{
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_object_get(json_object_get(r[i], "params"), x);
		json_int_t k = json_is_integer(v) ? json_integer_value(v) : 0;
		if (k <= 0 || (k & (k - 1)))
			return 0;
	}
	return 1;
}

/* A short label of a case: the values of the parameters that vary. */
static void case_label(const char *suite, const json_t *r, const char **names, size_t nn,
                       size_t index, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t j = 0; j < nn; j++) {
		char val[64];
		const json_t *pv = json_object_get(json_object_get(r, "params"), names[j]);
		if (json_is_number(pv) && is_bytes_param(suite, names[j]))
			strata_format_bytes(json_number_value(pv), val, sizeof(val));
		else
			strata_json_value_text(pv, val, sizeof(val));
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s",
		                        off ? " " : "", val);
	}
	if (!off)
		snprintf(buf, len, "case %zu", index + 1);
}

/* The series a record belongs to: the other varying parameters, and the
 * variant when several are present. */
static void series_name(const json_t *r, const char **names, size_t nn, const char *x,
                        const char *const *skip, size_t n_skip, int with_variant, char *buf,
                        size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t j = 0; j < nn; j++) {
		int skipped = !strcmp(names[j], x);
		for (size_t s = 0; s < n_skip && !skipped; s++)
			skipped = !strcmp(names[j], skip[s]);
		if (skipped)
			continue;
		char v[128];
		strata_json_value_text(json_object_get(json_object_get(r, "params"), names[j]), v,
		                       sizeof(v));
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s=%s",
		                        off ? ", " : "", names[j], v);
	}
	if (with_variant)
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s@%s",
		                        off ? " " : "", strata_json_str(r, "variant"));
	if (!off)
		snprintf(buf, len, "all");
}

/* The y figure of a record: the rule's when present, else its first. */
static const char *y_metric(const json_t *r, const struct chart_rule *rule)
{
	if (rule && rule->y && strata_record_metric(r, rule->y))
		return rule->y;
	return strata_record_first_metric(r);
}

static void figure_charts(const char *suite, const json_t **r, size_t n, struct strata_doc *d,
                          size_t *budget)
{
	const struct chart_rule *rule = rule_of(suite);
	const char *names[MAX_PARAMS];
	size_t nn = varying(r, n, names);
	int with_variant = variants_differ(r, n);

	/* x: the rule's if it varies, else the first numeric varying parameter,
	 * else the first varying one (categories), else none (one bar per
	 * variant or case). */
	const char *x = NULL;
	for (size_t j = 0; j < nn && rule && rule->x; j++)
		if (!strcmp(names[j], rule->x))
			x = names[j];
	for (size_t j = 0; j < nn && !x; j++)
		if (numeric_param(r, n, names[j]))
			x = names[j];
	if (!x && nn)
		x = names[0];
	int numeric = x && numeric_param(r, n, x);

	const char *skip[MAX_PARAMS];
	size_t n_skip = 0;
	for (size_t j = 0; j < nn && x; j++)
		if (strcmp(names[j], x) && numeric && alias_of(r, n, x, names[j]))
			skip[n_skip++] = names[j];

	/* one chart per y figure (p2p: latency for one mode, bandwidth for the others) */
	const char *done[16];
	size_t n_done = 0;
	for (size_t i = 0; i < n && *budget; i++) {
		const char *y = y_metric(r[i], rule);
		size_t k;
		for (k = 0; k < n_done && strcmp(done[k], y); k++)
			;
		if (k < n_done || n_done == 16)
			continue;
		done[n_done++] = y;
		const json_t *m0 = strata_record_metric(r[i], y);
		char title[256];
		if (rule && rule->title && (!rule->y || !strcmp(rule->y, y)))
			snprintf(title, sizeof(title), "%s: %s", suite, rule->title);
		else
			snprintf(title, sizeof(title), "%s: %s vs %s", suite, y, x ? x : "case");
		struct strata_chart *c =
		    strata_chart_new(numeric ? STRATA_CHART_LINE : STRATA_CHART_BAR, title,
		                     x ? x : "case", NULL, y, strata_json_str(m0, "unit"));
		if (numeric && is_bytes_param(suite, x)) {
			c->x_bytes = 1;
			free(c->x_unit);
			c->x_unit = strdup("bytes");
		}
		double xlo = INFINITY, xhi = 0, ylo = INFINITY, yhi = 0;
		for (size_t j = i; j < n; j++) {
			if (strcmp(y_metric(r[j], rule), y))
				continue;
			char sname[512];
			series_name(r[j], names, nn, x ? x : "", skip, n_skip, with_variant, sname,
			            sizeof(sname));
			size_t s = strata_chart_series(c, sname);
			double yv = strata_json_num(strata_record_metric(r[j], y), "median");
			const json_t *xv =
			    x ? json_object_get(json_object_get(r[j], "params"), x) : NULL;
			if (numeric) {
				double xd = json_number_value(xv);
				strata_chart_point(c, s, xd, yv);
				xlo = fmin(xlo, xd);
				xhi = fmax(xhi, xd);
			} else {
				char cat[128];
				if (xv)
					strata_json_value_text(xv, cat, sizeof(cat));
				else
					snprintf(cat, sizeof(cat), "%s",
					         strata_json_str(r[j], "variant"));
				strata_chart_point(c, s, (double)strata_chart_category(c, cat), yv);
			}
			if (yv > 0) {
				ylo = fmin(ylo, yv);
				yhi = fmax(yhi, yv);
			}
		}
		c->log_x = numeric && xlo > 0 && xhi / xlo >= 16;
		if (numeric && !c->log_x && xlo > 0 && xhi / xlo >= 4 && pow2_only(r, n, x))
			c->log_x = 2; /* 1024, 2048, 4096: evenly spaced */
		c->log_y = numeric && ylo > 0 && yhi / ylo > 100;
		char note[256];
		snprintf(note, sizeof(note), "Medians over the repetitions of each case%s.",
		         c->log_y ? "; logarithmic y axis" : "");
		strata_chart_set_note(c, note);
		strata_doc_chart(d, c);
		(*budget)--;
	}
}

/* Box plots of the first figure over repetitions, for latency-like figures. */
static void distribution_chart(const char *suite, const json_t **r, size_t n, struct strata_doc *d)
{
	const char *y = strata_record_first_metric(r[0]);
	const json_t *m0 = strata_record_metric(r[0], y);
	if (json_is_true(json_object_get(m0, "higher_is_better")))
		return;
	const char *names[MAX_PARAMS];
	size_t nn = varying(r, n, names);
	int with_variant = variants_differ(r, n);
	char title[256];
	snprintf(title, sizeof(title), "%s: distribution of %s over repetitions", suite, y);
	struct strata_chart *c =
	    strata_chart_new(STRATA_CHART_BOX, title, "case", NULL, y, strata_json_str(m0, "unit"));
	size_t shown = 0;
	double lo = INFINITY, hi = 0;
	for (size_t i = 0; i < n && shown < MAX_BOX_CASES; i++) {
		if (strcmp(strata_record_first_metric(r[i]), y))
			continue;
		double *v;
		size_t nv;
		if (strata_record_figures(r[i], y, &v, &nv) != 0 || nv < 2) {
			free(v);
			continue;
		}
		qsort(v, nv, sizeof(*v), strata_cmp_double);
		double five[5] = {v[0], strata_quantile_sorted(v, nv, 0.25),
		                  strata_quantile_sorted(v, nv, 0.5),
		                  strata_quantile_sorted(v, nv, 0.75), v[nv - 1]};
		lo = fmin(lo, v[0] > 0 ? v[0] : lo);
		hi = fmax(hi, v[nv - 1]);
		free(v);
		char cat[256];
		case_label(suite, r[i], names, nn, i, cat, sizeof(cat));
		strata_chart_box(
		    c,
		    strata_chart_series(c, with_variant ? strata_json_str(r[i], "variant") : "all"),
		    strata_chart_category(c, cat), five);
		shown++;
	}
	if (shown == 0) {
		strata_chart_free(c);
		return;
	}
	c->log_y = lo > 0 && hi / lo > 100;
	strata_chart_set_note(c,
	                      "Boxes: quartiles; line: median; whiskers: minimum and maximum over "
	                      "the timed repetitions (slowest rank of each).");
	strata_doc_chart(d, c);
}

/* A details matrix worth drawing: 2..64 a side. */
static int matrix_ok(const json_t *mat)
{
	size_t rows = json_array_size(mat), cols = json_array_size(json_array_get(mat, 0));
	return json_is_array(mat) && rows >= 2 && cols >= 2 && rows <= 64 && cols <= 64;
}

/* "matrix" (the numa_matrix suite) or "*_matrix" (p2p pair_matrix, host_matrix) */
static int is_matrix_key(const char *key)
{
	size_t kl = strlen(key);
	return !strcmp(key, "matrix") || (kl > 7 && !strcmp(key + kl - 7, "_matrix"));
}

/* Label i of a row or column: from the first of the detail arrays named
 * that exists (strings as they are, numbers as "prefix N"), else i. */
static char *label(const json_t *det, const char *const *names, const char *prefix, size_t i)
{
	char buf[160];
	snprintf(buf, sizeof(buf), "%zu", i);
	for (size_t k = 0; names[k]; k++) {
		const json_t *a = json_object_get(det, names[k]);
		const json_t *v = json_array_get(a, i);
		if (json_is_string(v))
			snprintf(buf, sizeof(buf), "%s", json_string_value(v));
		else if (json_is_integer(v))
			snprintf(buf, sizeof(buf), "%s%lld", prefix,
			         (long long)json_integer_value(v));
		else
			continue;
		break;
	}
	return strdup(buf);
}

static void heatmap(const char *suite, const json_t *rec, const char *key, struct strata_doc *d)
{
	const json_t *det = json_object_get(rec, "details");
	const json_t *mat = json_object_get(det, key);
	size_t rows = json_array_size(mat), cols = json_array_size(json_array_get(mat, 0));
	int pair = !strcmp(key, "pair_matrix"), numa = !strcmp(key, "matrix");
	char prefix_key[160];
	snprintf(prefix_key, sizeof(prefix_key), "%.*s_labels",
	         (int)(strlen(key) > 7 ? strlen(key) - 7 : 0), key);
	const char *row_names[] = {pair                          ? "rank_hosts"
	                           : !strcmp(key, "host_matrix") ? "host_names"
	                           : numa                        ? "cpu_nodes"
	                                                         : prefix_key,
	                           "row_labels", NULL};
	const char *col_names[] = {pair                          ? "rank_hosts"
	                           : !strcmp(key, "host_matrix") ? "host_names"
	                           : numa                        ? "memory_nodes"
	                                                         : prefix_key,
	                           "col_labels", NULL};
	char **rl = calloc(rows, sizeof(*rl)), **cl = calloc(cols, sizeof(*cl));
	double *vals = malloc(rows * cols * sizeof(*vals)); /* (rows, cols) */
	if (!rl || !cl || !vals)
		goto out;
	for (size_t i = 0; i < rows; i++) {
		rl[i] = label(det, row_names, numa ? "node " : "", i);
		if (pair) { /* "r3 host" */
			char buf[200];
			snprintf(buf, sizeof(buf), "r%zu %s", i, rl[i]);
			free(rl[i]);
			rl[i] = strdup(buf);
		}
	}
	for (size_t j = 0; j < cols; j++)
		cl[j] = pair ? strdup(rl[j < rows ? j : 0])
		             : label(det, col_names, numa ? "node " : "", j);
	for (size_t i = 0; i < rows; i++)
		for (size_t j = 0; j < cols; j++) {
			const json_t *v = json_array_get(json_array_get(mat, i), j);
			vals[i * cols + j] = json_is_number(v) ? json_number_value(v) : NAN;
		}
	const json_t *pf = json_object_get(det, "pair_figure");
	const char *unit = json_string_value(json_object_get(pf, "unit"));
	if (!unit)
		unit = json_string_value(json_object_get(det, "matrix_unit"));
	if (!unit)
		unit = json_string_value(json_object_get(det, "unit"));
	const char *fig = json_string_value(json_object_get(pf, "name"));
	if (!fig)
		fig = json_string_value(json_object_get(det, "measure"));
	char params[512], title[768], note[700];
	strata_record_params_text(rec, params, sizeof(params));
	snprintf(title, sizeof(title), "%s: %s%s%s", suite, numa ? "NUMA matrix" : key,
	         fig ? " of " : "", fig ? fig : "");
	struct strata_chart *c =
	    strata_chart_new(STRATA_CHART_HEATMAP, title, numa ? "memory NUMA node" : "to", NULL,
	                     numa ? "CPU NUMA node" : "from", unit ? unit : "");
	strata_chart_heat(c, rows, cols, (const char *const *)rl, (const char *const *)cl, vals);
	snprintf(note, sizeof(note), "Case `%s`; grey: not measured.", params);
	strata_chart_set_note(c, note);
	strata_doc_chart(d, c);
out:
	for (size_t i = 0; rl && i < rows; i++)
		free(rl[i]);
	for (size_t j = 0; cl && j < cols; j++)
		free(cl[j]);
	free(rl);
	free(cl);
	free(vals);
}

/* Heat maps of the details' matrices: one per matrix key and first figure,
 * from the last record that has it (sweeps ascend: the largest size). */
static void matrix_charts(const char *suite, const json_t **r, size_t n, struct strata_doc *d,
                          size_t *budget)
{
	for (size_t i = 0; i < n && *budget; i++) {
		const char *key;
		json_t *mat;
		json_object_foreach(json_object_get(r[i], "details"), key, mat) {
			if (!is_matrix_key(key) || !matrix_ok(mat) || !*budget)
				continue;
			const char *fig = strata_record_first_metric(r[i]);
			/* drawn already (an earlier record of the same kind)? */
			int seen = 0;
			for (size_t j = 0; j < i && !seen; j++)
				seen = matrix_ok(json_object_get(json_object_get(r[j], "details"),
				                                 key)) &&
				       !strcmp(strata_record_first_metric(r[j]), fig);
			if (seen)
				continue;
			const json_t *last = r[i];
			for (size_t j = i + 1; j < n; j++)
				if (matrix_ok(
				        json_object_get(json_object_get(r[j], "details"), key)) &&
				    !strcmp(strata_record_first_metric(r[j]), fig))
					last = r[j];
			heatmap(suite, last, key, d);
			(*budget)--;
		}
	}
}

/* Stacked bars of details.breakdown_s (phase -> seconds), one bar per case;
 * the train suite's details.step_breakdown_s too.  Only numbers are parts:
 * "step" and "total" are the whole and "how" a note, so they are left out. */
static void breakdown_chart(const char *suite, const json_t **r, size_t n, struct strata_doc *d)
{
	struct strata_chart *c = NULL;
	const char *names[MAX_PARAMS];
	size_t nn = varying(r, n, names);
	for (size_t i = 0; i < n && i < MAX_BOX_CASES; i++) {
		const json_t *det = json_object_get(r[i], "details");
		const json_t *b = json_object_get(det, "breakdown_s");
		if (!b)
			b = json_object_get(det, "step_breakdown_s");
		if (!json_is_object(b))
			continue;
		if (!c) {
			char title[256];
			snprintf(title, sizeof(title), "%s: time breakdown per case", suite);
			c = strata_chart_new(STRATA_CHART_STACKED, title, "case", NULL, "time",
			                     "s");
		}
		char cat[256];
		case_label(suite, r[i], names, nn, i, cat, sizeof(cat));
		size_t ci = strata_chart_category(c, cat);
		const char *phase;
		json_t *v;
		json_object_foreach((json_t *)b, phase, v) {
			if (!json_is_number(v) || !strcmp(phase, "step") || !strcmp(phase, "total"))
				continue;
			strata_chart_point(c, strata_chart_series(c, phase), (double)ci,
			                   json_number_value(v));
		}
	}
	if (c)
		strata_doc_chart(d, c);
}

void strata_report_suite_charts(const json_t *records, const char *suite, struct strata_doc *d)
{
	size_t total = json_array_size(records);
	const json_t **r = malloc((total ? total : 1) * sizeof(*r));
	if (!r)
		return;
	size_t n = suite_records(records, suite, r, total);
	size_t budget = MAX_CHARTS_PER_SUITE;
	if (n >= 2)
		figure_charts(suite, r, n, d, &budget);
	if (n >= 1)
		distribution_chart(suite, r, n, d);
	if (n >= 1)
		matrix_charts(suite, r, n, d, &budget);
	if (n >= 1)
		breakdown_chart(suite, r, n, d);
	free(r);
}
