/* check.c: acceptance checks against a thresholds file (see check.h). */
#include "reports/check.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/params.h"
#include "harness/suite.h"
#include "reports/limits.h"
#include "reports/stats_tests.h"
#include "reports/ydoc.h"

#define str strata_json_str

/* ---- the thresholds file ---------------------------------------------------- */

static const char *const STATS[] = {"median", "best", "mean", "ci_low", "ci_high"};

static int copy_text(struct strata_ydoc *y, yaml_node_t *v, const char *key, char *dst, size_t len)
{
	const char *s = strata_ydoc_scalar(v);
	if (!s || !*s)
		return strata_ydoc_error(y, v, "%s: expected a text", key);
	if (strlen(s) >= len)
		return strata_ydoc_error(y, v, "%s: longer than %zu characters", key, len - 1);
	snprintf(dst, len, "%s", s);
	return 0;
}

static int parse_where(struct strata_ydoc *y, yaml_node_t *map, struct strata_rule *r)
{
	if (map->type != YAML_MAPPING_NODE)
		return strata_ydoc_error(y, map, "where: expected a mapping {PARAM: VALUE}");
	const struct strata_suite *s = strata_suite_find(r->suite);
	for (STRATA_YDOC_PAIRS(map)) {
		yaml_node_t *k = strata_ydoc_node(y, p_->key), *v = strata_ydoc_node(y, p_->value);
		const char *name = strata_ydoc_scalar(k), *val = strata_ydoc_scalar(v);
		if (!name)
			return strata_ydoc_error(y, k, "where: keys must be parameter names");
		if (!val)
			return strata_ydoc_error(y, v, "where.%s: expected a single value", name);
		if (r->n_where == sizeof(r->where) / sizeof(r->where[0]))
			return strata_ydoc_error(y, k, "where: more than 16 parameters");
		struct strata_where *w = &r->where[r->n_where++];
		snprintf(w->name, sizeof(w->name), "%s", name);
		snprintf(w->value, sizeof(w->value), "%s", val);
		if (!s)
			continue;
		int idx = strata_param_index(s, name);
		if (idx < 0)
			return strata_ydoc_error(y, k, "where: suite %s has no parameter '%s'",
			                         r->suite, name);
		struct strata_value tv;
		char why[512];
		if (strata_value_parse(&s->params[idx], val, &tv, why, sizeof(why)))
			return strata_ydoc_error(y, v, "where.%s: %s", name, why);
		strata_value_format(&s->params[idx], &tv, w->value, sizeof(w->value));
	}
	return 0;
}

static int parse_rule(struct strata_ydoc *y, yaml_node_t *n, enum strata_rule_kind kind,
                      const char *list, struct strata_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->min = r->max = r->min_frac = r->max_frac = r->max_dev_pct = r->mad_z = NAN;
	r->min_nodes = 3;
	r->line = (int)n->start_mark.line + 1;
	if (n->type != YAML_MAPPING_NODE)
		return strata_ydoc_error(y, n, "%s: each entry is a mapping", list);
	yaml_node_t *where = NULL;
	for (STRATA_YDOC_PAIRS(n)) {
		yaml_node_t *k = strata_ydoc_node(y, p_->key), *v = strata_ydoc_node(y, p_->value);
		const char *key = strata_ydoc_scalar(k);
		double *num = NULL;
		if (!key)
			return strata_ydoc_error(y, k, "%s: keys must be plain words", list);
		if (!strcmp(key, "suite")) {
			if (copy_text(y, v, key, r->suite, sizeof(r->suite)))
				return -1;
			if (!strata_suite_find(r->suite))
				return strata_ydoc_error(
				    y, v, "suite: unknown suite '%s' (see strata list)", r->suite);
		} else if (!strcmp(key, "metric")) {
			if (copy_text(y, v, key, r->metric, sizeof(r->metric)))
				return -1;
		} else if (!strcmp(key, "name")) {
			if (copy_text(y, v, key, r->name, sizeof(r->name)))
				return -1;
		} else if (!strcmp(key, "variant")) {
			if (copy_text(y, v, key, r->variant, sizeof(r->variant)))
				return -1;
		} else if (!strcmp(key, "where")) {
			where = v;
		} else if (!strcmp(key, "statistic") && kind == STRATA_RULE_THRESHOLD) {
			const char *s = strata_ydoc_scalar(v);
			size_t i;
			for (i = 0;
			     s && i < sizeof(STATS) / sizeof(STATS[0]) && strcmp(s, STATS[i]); i++)
				;
			if (!s || i == sizeof(STATS) / sizeof(STATS[0]))
				return strata_ydoc_error(y, v,
				                         "statistic: expected median, best, mean, "
				                         "ci_low or ci_high");
			r->statistic = (enum strata_statistic)i;
		} else if (kind == STRATA_RULE_THRESHOLD && !strcmp(key, "min")) {
			num = &r->min;
		} else if (kind == STRATA_RULE_THRESHOLD && !strcmp(key, "max")) {
			num = &r->max;
		} else if (kind == STRATA_RULE_THRESHOLD && !strcmp(key, "min_fraction_of_peak")) {
			num = &r->min_frac;
		} else if (kind == STRATA_RULE_THRESHOLD && !strcmp(key, "max_fraction_of_peak")) {
			num = &r->max_frac;
		} else if (kind == STRATA_RULE_OUTLIER && !strcmp(key, "max_deviation_pct")) {
			num = &r->max_dev_pct;
		} else if (kind == STRATA_RULE_OUTLIER && !strcmp(key, "mad_threshold")) {
			num = &r->mad_z;
		} else if (kind == STRATA_RULE_OUTLIER && !strcmp(key, "min_nodes")) {
			double mn;
			if (strata_ydoc_number(y, v, key, &mn))
				return -1;
			if (!(mn >= 2 && mn <= 1e6) || mn != floor(mn))
				return strata_ydoc_error(y, v, "min_nodes: an integer from 2 to 1000000");
			r->min_nodes = (size_t)mn;
		} else {
			return strata_ydoc_error(
			    y, k, "%s: unknown key '%s'%s", list, key,
			    kind == STRATA_RULE_THRESHOLD
			        ? " (known: suite, metric, where, variant, "
			          "statistic, min, max, min_fraction_of_peak, "
			          "max_fraction_of_peak, name)"
			        : " (known: suite, metric, where, variant, "
			          "max_deviation_pct, mad_threshold, min_nodes, name)");
		}
		if (num && strata_ydoc_number(y, v, key, num))
			return -1;
		if (num && (!strcmp(key, "max_deviation_pct") || !strcmp(key, "mad_threshold")) &&
		    !(*num > 0))
			return strata_ydoc_error(y, v, "%s: must be > 0", key);
	}
	if (!r->suite[0])
		return strata_ydoc_error(y, n, "%s: an entry needs 'suite'", list);
	if (!r->metric[0] && kind == STRATA_RULE_THRESHOLD)
		return strata_ydoc_error(y, n, "%s: an entry needs 'metric'", list);
	if (where && parse_where(y, where, r))
		return -1;
	if (kind == STRATA_RULE_THRESHOLD && isnan(r->min) && isnan(r->max) && isnan(r->min_frac) &&
	    isnan(r->max_frac))
		return strata_ydoc_error(y, n,
		                         "%s: give min, max, min_fraction_of_peak or "
		                         "max_fraction_of_peak",
		                         list);
	if (kind == STRATA_RULE_OUTLIER && isnan(r->max_dev_pct))
		return strata_ydoc_error(y, n, "%s: an entry needs 'max_deviation_pct'", list);
	return 0;
}

int strata_thresholds_load(const char *path, struct strata_thresholds *t, char *err, size_t err_len)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->source, sizeof(t->source), "%s", path);
	t->missing_fail = 1;
	struct strata_ydoc y;
	if (strata_ydoc_load(&y, path, err, err_len))
		return -1;
	int rc = -1;
	yaml_node_t *root = strata_ydoc_root(&y);
	if (root->type != YAML_MAPPING_NODE) {
		strata_ydoc_error(&y, root,
		                  "a thresholds file is a mapping (name, thresholds, outliers)");
		goto out;
	}
	for (STRATA_YDOC_PAIRS(root)) {
		yaml_node_t *k = strata_ydoc_node(&y, p_->key),
		            *v = strata_ydoc_node(&y, p_->value);
		const char *key = strata_ydoc_scalar(k);
		if (key && !strcmp(key, "name")) {
			if (copy_text(&y, v, key, t->name, sizeof(t->name)))
				goto out;
		} else if (key && !strcmp(key, "missing")) {
			const char *s = strata_ydoc_scalar(v);
			if (!s || (strcmp(s, "fail") && strcmp(s, "skip"))) {
				strata_ydoc_error(&y, v, "missing: expected fail or skip");
				goto out;
			}
			t->missing_fail = !strcmp(s, "fail");
		} else if (key && (!strcmp(key, "thresholds") || !strcmp(key, "outliers"))) {
			enum strata_rule_kind kind =
			    key[0] == 't' ? STRATA_RULE_THRESHOLD : STRATA_RULE_OUTLIER;
			if (v->type != YAML_SEQUENCE_NODE) {
				strata_ydoc_error(&y, v, "%s: expected a list", key);
				goto out;
			}
			for (yaml_node_item_t *it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top; it++) {
				struct strata_rule *nr =
				    realloc(t->rules, (t->n_rules + 1) * sizeof(*nr));
				if (!nr) {
					strata_ydoc_error(&y, v, "out of memory");
					goto out;
				}
				t->rules = nr;
				if (parse_rule(&y, strata_ydoc_node(&y, *it), kind, key,
				               &t->rules[t->n_rules]))
					goto out;
				t->n_rules++;
			}
		} else {
			strata_ydoc_error(
			    &y, k, "unknown key '%s' (known: name, missing, thresholds, outliers)",
			    key ? key : "?");
			goto out;
		}
	}
	if (t->n_rules == 0) {
		strata_ydoc_error(&y, root, "no thresholds and no outliers: nothing to check");
		goto out;
	}
	rc = 0;
out:
	strata_ydoc_release(&y);
	if (rc)
		strata_thresholds_release(t);
	return rc;
}

void strata_thresholds_release(struct strata_thresholds *t)
{
	free(t->rules);
	t->rules = NULL;
	t->n_rules = 0;
}

/* ---- matching ----------------------------------------------------------------- */

static int rule_matches(const struct strata_rule *r, const json_t *rec)
{
	if (strcmp(str(rec, "suite"), r->suite))
		return 0;
	if (r->variant[0] && strcmp(str(rec, "variant"), r->variant))
		return 0;
	for (size_t i = 0; i < r->n_where; i++)
		if (!strata_param_matches(json_object_get(rec, "params"), r->where[i].name,
		                          r->where[i].value))
			return 0;
	return 1;
}

/* ---- output helpers ------------------------------------------------------------ */

static void xml_escape(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '&':
			fputs("&amp;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&apos;", out);
			break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
				fputc(*s, out);
		}
	}
}

struct suspect {
	char host[256];
	char reason[512];
};

struct ctx {
	const struct strata_run *run;
	const struct strata_peaks *peaks;
	FILE *text, *junit;
	struct strata_check_result *res;
	struct suspect *sus;
	size_t n_sus;
};

enum outcome { PASS, FAIL, SKIP };

static void report(struct ctx *x, const char *classname, const char *name, enum outcome o,
                   const char *message, const char *detail)
{
	x->res->checks++;
	if (o == PASS)
		x->res->passed++;
	else if (o == FAIL)
		x->res->failed++;
	else
		x->res->skipped++;
	if (x->text) {
		fprintf(x->text, "%s  %s", o == PASS ? "PASS" : o == FAIL ? "FAIL" : "SKIP", name);
		if (message && *message)
			fprintf(x->text, ": %s", message);
		fputc('\n', x->text);
		if (detail && *detail)
			fprintf(x->text, "%s", detail);
	}
	if (!x->junit)
		return;
	fputs("    <testcase classname=\"", x->junit);
	xml_escape(x->junit, classname);
	fputs("\" name=\"", x->junit);
	xml_escape(x->junit, name);
	fputs("\"", x->junit);
	if (o == PASS) {
		fputs(">\n      <system-out>", x->junit);
		xml_escape(x->junit, message);
		fputs("</system-out>\n    </testcase>\n", x->junit);
		return;
	}
	fputs(">\n      <", x->junit);
	fputs(o == FAIL ? "failure" : "skipped", x->junit);
	fputs(" message=\"", x->junit);
	xml_escape(x->junit, message);
	if (o == FAIL) {
		fputs("\" type=\"threshold\">", x->junit);
		xml_escape(x->junit, detail && *detail ? detail : message);
		fputs("</failure>\n", x->junit);
	} else {
		fputs("\"/>\n", x->junit);
	}
	fputs("    </testcase>\n", x->junit);
}

static double statistic_of(const json_t *m, enum strata_statistic s)
{
	switch (s) {
	case STRATA_STAT_MEDIAN:
		return strata_json_num(m, "median");
	case STRATA_STAT_BEST:
		return strata_json_num(m, "best");
	case STRATA_STAT_MEAN:
		return strata_json_num(m, "mean");
	case STRATA_STAT_CI_LOW:
		return json_number_value(json_array_get(json_object_get(m, "ci95_median"), 0));
	case STRATA_STAT_CI_HIGH:
		return json_number_value(json_array_get(json_object_get(m, "ci95_median"), 1));
	}
	return NAN;
}

static void rule_title(const struct strata_rule *r, char *buf, size_t len)
{
	if (r->name[0]) {
		snprintf(buf, len, "%s", r->name);
		return;
	}
	size_t off =
	    (size_t)snprintf(buf, len, "%s %s", r->suite, r->metric[0] ? r->metric : "figure");
	if (r->kind == STRATA_RULE_THRESHOLD) {
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0, " %s",
		                        STATS[r->statistic]);
		if (!isnan(r->min))
			off += (size_t)snprintf(buf + off, off < len ? len - off : 0, " >= %g",
			                        r->min);
		if (!isnan(r->max))
			off += (size_t)snprintf(buf + off, off < len ? len - off : 0, " <= %g",
			                        r->max);
		if (!isnan(r->min_frac))
			off += (size_t)snprintf(buf + off, off < len ? len - off : 0,
			                        " >= %g of peak", r->min_frac);
		if (!isnan(r->max_frac))
			snprintf(buf + off, off < len ? len - off : 0, " <= %g of peak",
			         r->max_frac);
	} else {
		snprintf(buf + off, off < len ? len - off : 0,
		         ": no node more than %g%% worse than its peers", r->max_dev_pct);
	}
}

/* ---- thresholds ------------------------------------------------------------------ */

static void check_threshold(struct ctx *x, const struct strata_rule *r, const json_t *rec)
{
	char title[512], name[1600], msg[1024] = "";
	rule_title(r, title, sizeof(title));
	snprintf(name, sizeof(name), "%s [%s]", title, str(rec, "metric_key"));
	char classname[128];
	snprintf(classname, sizeof(classname), "strata.check.%s", r->suite);
	if (strcmp(str(rec, "status"), "passed")) {
		snprintf(msg, sizeof(msg), "the case did not pass (%s%s%s)", str(rec, "status"),
		         json_object_get(rec, "reason") ? ": " : "",
		         json_object_get(rec, "reason") ? str(rec, "reason") : "");
		report(x, classname, name, FAIL, msg, NULL);
		return;
	}
	const json_t *m = strata_record_metric(rec, r->metric);
	if (!m) {
		size_t off = (size_t)snprintf(msg, sizeof(msg),
		                              "the record has no figure '%s' (it has:", r->metric);
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(rec, "metrics"), k, v)
			off += (size_t)snprintf(
			    msg + off, off < sizeof(msg) ? sizeof(msg) - off : 0, " %s", k);
		snprintf(msg + off, off < sizeof(msg) ? sizeof(msg) - off : 0, ")");
		report(x, classname, name, FAIL, msg, NULL);
		return;
	}
	double v = statistic_of(m, r->statistic);
	const char *unit = str(m, "unit");
	int ok = 1;
	size_t off = (size_t)snprintf(msg, sizeof(msg), "%s %.4g %s", STATS[r->statistic], v, unit);
	if (!isnan(r->min) && !(v >= r->min)) {
		ok = 0;
		off += (size_t)snprintf(msg + off, sizeof(msg) - off, " < min %g", r->min);
	}
	if (!isnan(r->max) && !(v <= r->max)) {
		ok = 0;
		off += (size_t)snprintf(msg + off, sizeof(msg) - off, " > max %g", r->max);
	}
	if (!isnan(r->min_frac) || !isnan(r->max_frac)) {
		double peak;
		char key[64], src[640];
		if (strata_limits_peak(x->run, x->peaks, rec, r->metric, &peak, key, sizeof(key),
		                       src, sizeof(src)) != 0) {
			snprintf(msg + off, sizeof(msg) - off, "; fraction of peak: %s", src);
			report(x, classname, name, FAIL, msg, NULL);
			return;
		}
		double f = v / peak;
		off += (size_t)snprintf(msg + off, sizeof(msg) - off, " = %.1f%% of peak %.4g %s",
		                        100 * f, peak, unit);
		if (!isnan(r->min_frac) && !(f >= r->min_frac)) {
			ok = 0;
			off += (size_t)snprintf(msg + off, sizeof(msg) - off, " < %g%%",
			                        100 * r->min_frac);
		}
		if (!isnan(r->max_frac) && !(f <= r->max_frac)) {
			ok = 0;
			off += (size_t)snprintf(msg + off, sizeof(msg) - off, " > %g%%",
			                        100 * r->max_frac);
		}
		snprintf(msg + off, sizeof(msg) - off, " (peak: %s)", src);
	}
	report(x, classname, name, ok ? PASS : FAIL, msg, NULL);
}

/* ---- outliers across nodes ----------------------------------------------------- */

struct host_value {
	const char *host;
	double *v; /* (n) the figure of each of its ranks */
	size_t n;
	double value;
};

static void add_suspect(struct ctx *x, const char *host, const char *reason)
{
	for (size_t i = 0; i < x->n_sus; i++)
		if (!strcmp(x->sus[i].host, host))
			return; /* the first reason is enough to drain it */
	struct suspect *ns = realloc(x->sus, (x->n_sus + 1) * sizeof(*ns));
	if (!ns)
		return;
	x->sus = ns;
	snprintf(x->sus[x->n_sus].host, sizeof(x->sus[0].host), "%s", host);
	snprintf(x->sus[x->n_sus].reason, sizeof(x->sus[0].reason), "%s", reason);
	x->n_sus++;
}

static void check_outliers(struct ctx *x, const struct strata_rule *r, const json_t *rec)
{
	char title[512], name[1600], msg[4096] = "", detail[8192] = "";
	rule_title(r, title, sizeof(title));
	snprintf(name, sizeof(name), "%s [%s]", title, str(rec, "metric_key"));
	char classname[128];
	snprintf(classname, sizeof(classname), "strata.outliers.%s", r->suite);
	const json_t *pr = json_object_get(rec, "per_rank");
	const char *metric = r->metric[0]
	                         ? r->metric
	                         : str(json_object_get(json_array_get(pr, 0), "metric"), "name");
	const json_t *m = strata_record_metric(rec, metric);
	if (!json_array_size(pr) || !m) {
		snprintf(msg, sizeof(msg), "no per-rank figures for '%s' in this record", metric);
		report(x, classname, name, strcmp(str(rec, "status"), "passed") ? FAIL : SKIP, msg,
		       NULL);
		return;
	}
	int hib = json_is_true(json_object_get(m, "higher_is_better"));
	const char *unit = str(m, "unit");

	/* group the ranks' figures by host */
	size_t nr = json_array_size(pr), nh = 0, i;
	struct host_value *h = calloc(nr, sizeof(*h));
	double *vals = malloc(nr * sizeof(*vals)); /* (nr) */
	if (!h || !vals)
		goto out;
	json_t *e;
	json_array_foreach(pr, i, e) {
		const json_t *em = json_object_get(e, "metric");
		double v =
		    !strcmp(str(em, "name"), metric)
		        ? strata_json_num(em, "value")
		        : strata_record_figure_at(rec, metric, strata_json_num(e, "median_s"));
		if (!isfinite(v))
			continue;
		const char *host = str(e, "host");
		size_t k;
		for (k = 0; k < nh && strcmp(h[k].host, host); k++)
			;
		if (k == nh) {
			h[nh].host = host;
			h[nh].v = malloc(nr * sizeof(double));
			if (!h[nh].v)
				goto out;
			nh++;
		}
		h[k].v[h[k].n++] = v;
	}
	if (nh < r->min_nodes) {
		snprintf(msg, sizeof(msg), "not applicable: %zu node(s), the rule needs %zu", nh,
		         r->min_nodes);
		report(x, classname, name, SKIP, msg, NULL);
		goto out;
	}
	for (size_t k = 0; k < nh; k++) {
		h[k].value = strata_median(h[k].v, h[k].n);
		vals[k] = h[k].value;
	}
	double med = strata_median(vals, nh), mad = strata_mad(vals, nh, med);
	size_t bad = 0, off = 0;
	for (size_t k = 0; k < nh; k++) {
		/* the median of the other nodes */
		size_t np = 0;
		double *peers = malloc(nh * sizeof(*peers));
		if (!peers)
			goto out;
		for (size_t j = 0; j < nh; j++)
			if (j != k)
				peers[np++] = h[j].value;
		double pm = strata_median(peers, np);
		free(peers);
		double worse_pct = 100 * (hib ? (pm - h[k].value) : (h[k].value - pm)) / pm;
		double z =
		    mad > 0 ? 0.6745 * (h[k].value - med) / mad
		            : (h[k].value == med ? 0 : (h[k].value > med ? INFINITY : -INFINITY));
		int out_pct = worse_pct > r->max_dev_pct;
		int out_z = isnan(r->mad_z) || fabs(z) > r->mad_z;
		off += (size_t)snprintf(
		    detail + off, off < sizeof(detail) ? sizeof(detail) - off : 0,
		    "      %-20s %10.4g %s  %+7.2f%% vs peers' median %.4g  modified z %+.2f%s\n",
		    h[k].host, h[k].value, unit, -worse_pct, pm, z,
		    out_pct && out_z ? "  <- OUTLIER" : "");
		if (out_pct && out_z) {
			char reason[512];
			snprintf(reason, sizeof(reason),
			         "strata check: %s %s %.4g %s, %.1f%% %s than peers' median %.4g "
			         "(run %s)",
			         r->suite, metric, h[k].value, unit, worse_pct,
			         hib ? "lower" : "higher", pm, str(x->run->manifest, "run_id"));
			add_suspect(x, h[k].host, reason);
			size_t mo = strlen(msg);
			snprintf(msg + mo, sizeof(msg) - mo,
			         "%s%s: %.4g %s, %.1f%% worse than peers' median %.4g",
			         bad ? "; " : "", h[k].host, h[k].value, unit, worse_pct, pm);
			bad++;
		}
	}
	if (!bad)
		snprintf(msg, sizeof(msg),
		         "%zu nodes within %g%% of their peers (median %.4g %s, MAD %.4g)", nh,
		         r->max_dev_pct, med, unit, mad);
	report(x, classname, name, bad ? FAIL : PASS, msg, bad ? detail : NULL);
out:
	for (size_t k = 0; h && k < nh; k++)
		free(h[k].v);
	free(h);
	free(vals);
}

/* ---- the run -------------------------------------------------------------------- */

void strata_check_run(const struct strata_run *run, const struct strata_thresholds *t,
                      const struct strata_peaks *peaks, FILE *text, FILE *junit, FILE *drain,
                      struct strata_check_result *res)
{
	memset(res, 0, sizeof(*res));
	/* testcases go to a memory stream first: the suite's header carries
	 * the counts, as Jenkins and GitLab read them */
	char *body = NULL;
	size_t body_len = 0;
	FILE *cases = junit ? open_memstream(&body, &body_len) : NULL;
	struct ctx x = {.run = run, .peaks = peaks, .text = text, .junit = cases, .res = res};
	for (size_t i = 0; i < t->n_rules; i++) {
		const struct strata_rule *r = &t->rules[i];
		size_t matched = 0, j;
		json_t *rec;
		json_array_foreach(run->records, j, rec) {
			if (!rule_matches(r, rec))
				continue;
			matched++;
			if (r->kind == STRATA_RULE_THRESHOLD)
				check_threshold(&x, r, rec);
			else
				check_outliers(&x, r, rec);
		}
		if (!matched) {
			char title[512], msg[1400];
			rule_title(r, title, sizeof(title));
			snprintf(msg, sizeof(msg), "no record matches this rule (%s:%d)", t->source,
			         r->line);
			report(&x, "strata.check.missing", title, t->missing_fail ? FAIL : SKIP,
			       msg, NULL);
		}
	}
	if (cases) {
		fclose(cases);
		fprintf(junit,
		        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		        "<testsuites name=\"strata check\" tests=\"%zu\" failures=\"%zu\" "
		        "skipped=\"%zu\">\n"
		        "  <testsuite name=\"",
		        res->checks, res->failed, res->skipped);
		xml_escape(junit, t->name[0] ? t->name : t->source);
		fputs(" on ", junit);
		xml_escape(junit, str(run->manifest, "run_id"));
		fprintf(junit, "\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\" errors=\"0\">\n",
		        res->checks, res->failed, res->skipped);
		if (body)
			fwrite(body, 1, body_len, junit);
		fputs("  </testsuite>\n</testsuites>\n", junit);
		free(body);
	}
	res->suspects = x.n_sus;
	if (drain && x.n_sus) {
		fprintf(drain,
		        "# strata check %s against %s: %zu suspect node(s).\n"
		        "# Suggested commands, NOT run by strata: review them, then run them "
		        "yourself.\n",
		        str(run->manifest, "run_id"), t->source, x.n_sus);
		for (size_t i = 0; i < x.n_sus; i++) {
			char reason[512];
			size_t k = 0;
			for (const char *s = x.sus[i].reason; *s && k + 1 < sizeof(reason); s++)
				if (*s != '"' && *s != '\\' && *s != '$' && *s != '`')
					reason[k++] = *s;
			reason[k] = '\0';
			fprintf(drain, "scontrol update NodeName=%s State=DRAIN Reason=\"%s\"\n",
			        x.sus[i].host, reason);
		}
	}
	free(x.sus);
}
