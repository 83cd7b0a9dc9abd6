/* compare.c: side-by-side figures with confidence intervals of the change
 * (see compare.h). */
#include "reports/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define str strata_json_str

void strata_compare_options_default(struct strata_compare_options *o)
{
	memset(o, 0, sizeof(*o));
	o->unpaired = STRATA_DIFF_BOOTSTRAP;
	o->resamples = 2000;
	o->seed = 1;
}

struct ctx {
	const struct strata_compare_options *o;
	struct strata_doc *d;
	struct strata_table *csv;
	struct strata_compare_summary *sum;
	struct strata_table *t; /* the current Markdown/HTML table */
	const char *label_a, *label_b;
};

static const char *short_method(enum strata_diff_method m)
{
	switch (m) {
	case STRATA_DIFF_BOOTSTRAP:
		return "bootstrap";
	case STRATA_DIFF_WELCH:
		return "Welch";
	case STRATA_DIFF_WILCOXON:
		return "Wilcoxon (paired)";
	case STRATA_DIFF_PAIRED_T:
		return "paired t";
	}
	return "?";
}

static int metric_wanted(const struct strata_compare_options *o, const char *name)
{
	if (!o->metrics || !*o->metrics)
		return 1;
	size_t n = strlen(name);
	for (const char *p = o->metrics; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && !strncmp(p, name, n))
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

/* samples_s as a positive array; NULL when there are fewer than 2. */
static double *times(const json_t *rec, size_t *n)
{
	const json_t *s = json_object_get(rec, "samples_s");
	*n = json_array_size(s);
	if (*n < 2)
		return NULL;
	double *v = malloc(*n * sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; i < *n; i++) {
		v[i] = json_number_value(json_array_get(s, i));
		if (!(v[i] > 0)) {
			free(v);
			return NULL;
		}
	}
	return v;
}

static void fmt_p(double p, char *buf, size_t len)
{
	if (isnan(p))
		snprintf(buf, len, "-");
	else if (p < 1e-4)
		snprintf(buf, len, "<0.0001");
	else
		snprintf(buf, len, "%.4f", p);
}

static void not_comparable(struct ctx *x, const json_t *ra, const json_t *rb, const char *why)
{
	char key[2048];
	strata_record_case_key(rb, key, sizeof(key));
	strata_table_row(x->t);
	strata_table_cell(x->t, "`%s`", key);
	strata_table_cell(x->t, "%s", str(rb, "variant"));
	strata_table_cell(x->t, "-");
	strata_table_cell(x->t, "%s", str(ra, "status"));
	strata_table_cell(x->t, "%s", str(rb, "status"));
	for (int i = 0; i < 4; i++)
		strata_table_cell(x->t, "-");
	strata_table_cell(x->t, "not comparable: %s", why);
	strata_table_row(x->csv);
	strata_table_cell(x->csv, "%s", x->label_a);
	strata_table_cell(x->csv, "%s", x->label_b);
	strata_table_cell(x->csv, "%s", key);
	strata_table_cell(x->csv, "%s", str(ra, "variant"));
	strata_table_cell(x->csv, "%s", str(rb, "variant"));
	for (int i = 0; i < 16; i++)
		strata_table_cell(x->csv, "%s", i == 15 ? "not comparable" : "");
	x->sum->not_comparable++;
}

/* ", 8 x NVIDIA H100 80GB HBM3 (driver 570.124.06, CUDA runtime 13000, NCCL
 * 22809)" for a run whose first host used GPUs, else "": a driver or
 * library update between runs is the first thing to rule out. */
static void gpu_desc(const json_t *manifest, char *buf, size_t len)
{
	const json_t *sys = json_array_get(json_object_get(manifest, "systems"), 0);
	const json_t *gpus = json_object_get(sys, "gpus");
	const json_t *devs = json_object_get(gpus, "devices");
	const json_t *sw = json_object_get(gpus, "software");
	const json_t *g0 = json_array_get(devs, 0);
	buf[0] = '\0';
	if (!g0)
		return;
	snprintf(buf, len, ", %zu x %s (driver %s, CUDA runtime %.0f, NCCL %.0f)",
	         json_array_size(devs), str(g0, "name"),
	         str(json_object_get(g0, "nvml"), "driver_version"),
	         strata_json_num(sw, "cuda_runtime"), strata_json_num(sw, "nccl"));
}

/* What differed in a GPU case's conditions between A and B (clocks throttled,
 * a warm start after a timed-out cool-down): a reason for a change besides
 * the change under test.  Written under the table. */
static void gpu_conditions(struct strata_doc *d, const json_t *ra, const json_t *rb)
{
	const json_t *da = json_object_get(ra, "details"), *db = json_object_get(rb, "details");
	int ta = json_is_true(json_object_get(json_object_get(da, "telemetry"), "throttled"));
	int tb = json_is_true(json_object_get(json_object_get(db, "telemetry"), "throttled"));
	int wa = json_is_false(json_object_get(json_object_get(da, "quiescence"), "reached"));
	int wb = json_is_false(json_object_get(json_object_get(db, "quiescence"), "reached"));
	if (ta == tb && wa == wb)
		return;
	char key[2048];
	strata_record_case_key(rb, key, sizeof(key));
	if (ta != tb)
		strata_doc_item(d, "`%s` (%s): clocks throttled in %s only: its figures there may be "
		                   "low for that reason, not for the change under test",
		                key, str(rb, "variant"), tb ? "B" : "A");
	if (wa != wb)
		strata_doc_item(d, "`%s` (%s): the GPU started warm (cool-down timed out) in %s only",
		                key, str(rb, "variant"), wb ? "B" : "A");
}

static void compare_records(struct ctx *x, const json_t *ra, const json_t *rb, int allow_paired)
{
	if (strcmp(str(ra, "status"), "passed") || strcmp(str(rb, "status"), "passed")) {
		not_comparable(x, ra, rb, "a case did not pass");
		return;
	}
	size_t na = 0, nb = 0;
	double *ta = times(ra, &na), *tb = times(rb, &nb);
	struct strata_diff diff;
	int have = 0;
	char key[2048];
	strata_record_case_key(rb, key, sizeof(key));
	int paired = allow_paired && ta && tb && na == nb && json_object_get(ra, "interleave") &&
	             json_object_get(rb, "interleave");
	if (ta && tb) {
		if (paired)
			have = strata_diff_paired(ta, tb, na, &diff) == 0;
		else if (x->o->unpaired == STRATA_DIFF_WELCH)
			have = strata_diff_welch(ta, na, tb, nb, &diff) == 0;
		else
			have =
			    strata_diff_bootstrap(ta, na, tb, nb, x->o->resamples,
			                          x->o->seed ^ strata_hash_text(key), &diff) == 0;
	}
	free(ta);
	free(tb);
	double tmed_a = strata_json_num(json_object_get(ra, "stats"), "median");
	double tmed_b = strata_json_num(json_object_get(rb, "stats"), "median");

	const char *name;
	json_t *ma;
	json_object_foreach(json_object_get(ra, "metrics"), name, ma) {
		const json_t *mb = strata_record_metric(rb, name);
		if (!mb || !metric_wanted(x->o, name))
			continue;
		double fa = strata_json_num(ma, "median"), fb = strata_json_num(mb, "median");
		int hib = json_is_true(json_object_get(ma, "higher_is_better"));
		int pa = strata_record_power(ra, name), pb = strata_record_power(rb, name);
		double est = fb / fa, lo = NAN, hi = NAN, p = NAN;
		if (have && pa == pb && pa >= -1 && pa != 0 && fa > 0 && fb > 0) {
			/* figure = c t^p: the ratio of figures is (c_b / c_a) r^p */
			double k = (fb / fa) / pow(tmed_b / tmed_a, pa);
			est = k * pow(diff.ratio, pa);
			double l = k * pow(diff.ci_lo, pa), h = k * pow(diff.ci_hi, pa);
			lo = fmin(l, h);
			hi = fmax(l, h);
			p = diff.p_value;
		}
		double change = 100 * (est - 1);
		int sig = !isnan(lo) && (lo > 1 || hi < 1) && fabs(change) >= x->o->min_change_pct;
		int better = sig && ((est > 1) == hib);
		const char *verdict = isnan(lo) ? "no interval (figure not per repetition)"
		                      : !sig    ? "~ no significant change"
		                      : better  ? "**better**"
		                                : "**worse**";
		x->sum->compared++;
		if (sig && better)
			x->sum->better++;
		else if (sig)
			x->sum->worse++;
		else
			x->sum->same++;

		char pbuf[32], ci[96];
		fmt_p(p, pbuf, sizeof(pbuf));
		if (isnan(lo))
			snprintf(ci, sizeof(ci), "%+.2f%%", change);
		else
			snprintf(ci, sizeof(ci), "%+.2f%% [%+.2f%%, %+.2f%%]", change,
			         100 * (lo - 1), 100 * (hi - 1));
		const char *unit = str(ma, "unit");
		strata_table_row(x->t);
		strata_table_cell(x->t, "`%s`", key);
		strata_table_cell(x->t, "%s",
		                  strcmp(str(ra, "variant"), str(rb, "variant"))
		                      ? str(rb, "variant")
		                      : str(ra, "variant"));
		strata_table_cell(x->t, "%s (%s, %s)", name, unit,
		                  hib ? "higher is better" : "lower is better");
		strata_table_cell(x->t, "%.4g", fa);
		strata_table_cell(x->t, "%.4g", fb);
		strata_table_cell(x->t, "%.4f", fb / fa);
		strata_table_cell(x->t, "%s", ci);
		strata_table_cell(x->t, "%s", pbuf);
		strata_table_cell(x->t, "%s", have ? short_method(diff.method) : "-");
		strata_table_cell(x->t, "%s", verdict);

		strata_table_row(x->csv);
		strata_table_cell(x->csv, "%s", x->label_a);
		strata_table_cell(x->csv, "%s", x->label_b);
		strata_table_cell(x->csv, "%s", key);
		strata_table_cell(x->csv, "%s", str(ra, "variant"));
		strata_table_cell(x->csv, "%s", str(rb, "variant"));
		strata_table_cell(x->csv, "%s", name);
		strata_table_cell(x->csv, "%s", unit);
		strata_table_cell(x->csv, "%s", hib ? "true" : "false");
		strata_table_cell(x->csv, "%zu", na);
		strata_table_cell(x->csv, "%zu", nb);
		strata_table_cell(x->csv, "%.9g", fa);
		strata_table_cell(x->csv, "%.9g", fb);
		strata_table_cell(x->csv, "%.6f", fb / fa);
		strata_table_cell(x->csv, "%.4f", change);
		if (isnan(lo)) {
			strata_table_cell(x->csv, "%s", "");
			strata_table_cell(x->csv, "%s", "");
		} else {
			strata_table_cell(x->csv, "%.4f", 100 * (lo - 1));
			strata_table_cell(x->csv, "%.4f", 100 * (hi - 1));
		}
		strata_table_cell(x->csv, "%s", isnan(p) ? "" : pbuf);
		strata_table_cell(x->csv, "%s", have ? strata_diff_method_name(diff.method) : "");
		strata_table_cell(x->csv, "%s", paired && have ? "true" : "false");
		strata_table_cell(x->csv, "%s", sig ? "true" : "false");
		strata_table_cell(x->csv, "%s",
		                  isnan(lo) ? "no interval"
		                  : !sig    ? "same"
		                  : better  ? "better"
		                            : "worse");
	}
}

static struct strata_table *new_table(struct strata_doc *d)
{
	return strata_doc_table(d, 10, "case", "variant", "figure", "A (median)", "B (median)",
	                        "B/A", "change [95% CI]", "p", "test", "verdict");
}

static void set_title(struct strata_doc *d, const char *title)
{
	free(d->title);
	d->title = strdup(title);
}

static const json_t *find(const json_t *recs, const char *case_key, const char *variant)
{
	size_t i;
	json_t *r;
	char key[2048];
	json_array_foreach(recs, i, r) {
		strata_record_case_key(r, key, sizeof(key));
		if (!strcmp(key, case_key) && !strcmp(str(r, "variant"), variant))
			return r;
	}
	return NULL;
}

static void unmatched(struct strata_doc *d, const json_t *from, const json_t *in, const char *what,
                      const char *variant_in)
{
	size_t i, n = 0;
	json_t *r;
	char key[2048];
	json_array_foreach(from, i, r) {
		strata_record_case_key(r, key, sizeof(key));
		if (find(in, key, variant_in ? variant_in : str(r, "variant")))
			continue;
		if (variant_in && !strcmp(str(r, "variant"), variant_in))
			continue;
		if (n++ == 0)
			strata_doc_para(d, "Cases %s:", what);
		if (n <= 50)
			strata_doc_item(d, "`%s`", str(r, "metric_key"));
	}
	if (n > 50)
		strata_doc_item(d, "... and %zu more", n - 50);
}

static void method_text(struct strata_doc *d, const struct strata_compare_options *o, int variants)
{
	strata_doc_heading(d, 1, "Method");
	strata_doc_item(
	    d, "Figures are medians over the timed repetitions (the slowest rank of each); "
	       "B/A is the ratio of those medians. The change and its 95%% interval come from "
	       "the test's own estimate of B/A - 1: the ratio of medians (bootstrap), of "
	       "geometric means (Welch) or the typical paired ratio (Hodges-Lehmann), so it "
	       "can differ slightly from B/A.");
	if (variants)
		strata_doc_item(
		    d, "Interleaved variants are paired: repetition i of a variant ran in the "
		       "same block round as repetition i of the baseline, so drift of the "
		       "machine cancels. Test: Wilcoxon signed-rank on the paired log ratios "
		       "(Wilcoxon 1945; exact below 51 pairs without ties), interval: "
		       "Hodges-Lehmann from the Walsh averages (Hollander & Wolfe 1999, sec. "
		       "3.2-3.3); paired t on log ratios above 2000 pairs.");
	if (o->unpaired == STRATA_DIFF_WELCH)
		strata_doc_item(
		    d, "Unpaired samples: Welch's t-test on log values (Welch 1947), "
		       "Welch-Satterthwaite degrees of freedom; the ratio is that of geometric "
		       "means.");
	else
		strata_doc_item(
		    d,
		    "Unpaired samples: percentile bootstrap of the ratio of medians, %zu "
		    "resamples of each side, seeded from the case key (reproducible); p is "
		    "twice the smaller bootstrap tail beyond no change (Efron & Tibshirani "
		    "1993, ch. 13, 15).",
		    o->resamples);
	strata_doc_item(
	    d,
	    "A change is **significant** when its 95%% interval excludes 0%%%s; "
	    "\"better\" and \"worse\" follow each figure's sense (higher or lower is "
	    "better). With many figures, about 1 in 20 unchanged ones still shows as "
	    "significant by chance: look at the size of the change and at its neighbours.",
	    o->min_change_pct > 0 ? " and it is at least --min-change" : "");
}

int strata_compare_build(const struct strata_run *runs, size_t n_runs,
                         const struct strata_compare_options *o, struct strata_doc *d,
                         struct strata_table **csv, struct strata_compare_summary *sum, char *err,
                         size_t err_len)
{
	static const char *const csv_head[] = {"baseline",
	                                       "candidate",
	                                       "case",
	                                       "variant_a",
	                                       "variant_b",
	                                       "figure",
	                                       "unit",
	                                       "higher_is_better",
	                                       "n_a",
	                                       "n_b",
	                                       "median_a",
	                                       "median_b",
	                                       "ratio_of_medians",
	                                       "change_pct",
	                                       "ci95_low_pct",
	                                       "ci95_high_pct",
	                                       "p_value",
	                                       "test",
	                                       "paired",
	                                       "significant",
	                                       "verdict"};
	memset(sum, 0, sizeof(*sum));
	struct ctx x = {.o = o, .d = d, .sum = sum};
	*csv = NULL;
	strata_doc_init(d, "strata compare");
	char title[1024];
	if (n_runs == 1) {
		const json_t *vars =
		    json_object_get(json_object_get(runs[0].manifest, "plan"), "variants");
		if (json_array_size(vars) < 2) {
			snprintf(err, err_len,
			         "%s: one run with a single variant: nothing to compare "
			         "(give two runs, or a run of a plan with variants)",
			         runs[0].dir);
			return -1;
		}
		const char *base =
		    o->baseline ? o->baseline : str(json_array_get(vars, 0), "label");
		size_t i, found = 0;
		json_t *v;
		json_array_foreach(vars, i, v)
			found += !strcmp(str(v, "label"), base);
		if (!found) {
			snprintf(err, err_len, "%s: no variant '%s' in the plan", runs[0].dir,
			         base);
			return -1;
		}
		snprintf(title, sizeof(title), "strata compare: variants of run %s against %s",
		         str(runs[0].manifest, "run_id"), base);
		set_title(d, title);
		*csv = x.csv = strata_table_new(sizeof(csv_head) / sizeof(csv_head[0]), csv_head);
		x.label_a = x.label_b = str(runs[0].manifest, "run_id");
		json_array_foreach(vars, i, v) {
			const char *label = str(v, "label");
			if (!strcmp(label, base))
				continue;
			strata_doc_heading(d, 1, "%s (B) against %s (A)", label, base);
			x.t = new_table(d);
			size_t j;
			json_t *rb;
			json_array_foreach(runs[0].records, j, rb) {
				if (strcmp(str(rb, "variant"), label))
					continue;
				char key[2048];
				strata_record_case_key(rb, key, sizeof(key));
				const json_t *ra = find(runs[0].records, key, base);
				if (ra)
					compare_records(&x, ra, rb, 1);
			}
			json_array_foreach(runs[0].records, j, rb) {
				char key[2048];
				strata_record_case_key(rb, key, sizeof(key));
				const json_t *ra = find(runs[0].records, key, base);
				if (ra && !strcmp(str(rb, "variant"), label))
					gpu_conditions(d, ra, rb);
			}
		}
		method_text(d, o, 1);
	} else {
		size_t off = (size_t)snprintf(title, sizeof(title), "strata compare: %s (A)",
		                              str(runs[0].manifest, "run_id"));
		for (size_t k = 1; k < n_runs && off < sizeof(title); k++)
			off += (size_t)snprintf(title + off, sizeof(title) - off, " vs %s",
			                        str(runs[k].manifest, "run_id"));
		set_title(d, title);
		*csv = x.csv = strata_table_new(sizeof(csv_head) / sizeof(csv_head[0]), csv_head);
		x.label_a = str(runs[0].manifest, "run_id");
		for (size_t k = 1; k < n_runs; k++) {
			x.label_b = str(runs[k].manifest, "run_id");
			strata_doc_heading(d, 1, "%s (B) against %s (A)", x.label_b, x.label_a);
			char ga[512], gb[512];
			gpu_desc(runs[0].manifest, ga, sizeof(ga));
			gpu_desc(runs[k].manifest, gb, sizeof(gb));
			strata_doc_item(
			    d, "A: %s, %zu node(s), %s%s", runs[0].dir, strata_run_n_hosts(&runs[0]),
			    str(json_array_get(json_object_get(runs[0].manifest, "systems"), 0),
			        "cpu_model"), ga);
			strata_doc_item(
			    d, "B: %s, %zu node(s), %s%s", runs[k].dir, strata_run_n_hosts(&runs[k]),
			    str(json_array_get(json_object_get(runs[k].manifest, "systems"), 0),
			        "cpu_model"), gb);
			x.t = new_table(d);
			size_t j;
			json_t *rb;
			json_array_foreach(runs[k].records, j, rb) {
				char key[2048];
				strata_record_case_key(rb, key, sizeof(key));
				const json_t *ra = find(runs[0].records, key, str(rb, "variant"));
				if (ra)
					compare_records(&x, ra, rb, 0);
			}
			json_array_foreach(runs[k].records, j, rb) {
				char key[2048];
				strata_record_case_key(rb, key, sizeof(key));
				const json_t *ra = find(runs[0].records, key, str(rb, "variant"));
				if (ra)
					gpu_conditions(d, ra, rb);
			}
			unmatched(d, runs[0].records, runs[k].records, "only in A", NULL);
			unmatched(d, runs[k].records, runs[0].records, "only in B", NULL);
		}
		method_text(d, o, 0);
	}
	strata_doc_heading(d, 1, "Summary");
	strata_doc_para(
	    d,
	    "%zu figure(s) compared: %zu significantly better, %zu significantly worse, "
	    "%zu without a significant change; %zu case(s) not comparable.",
	    sum->compared, sum->better, sum->worse, sum->same, sum->not_comparable);
	if (sum->compared == 0 && sum->not_comparable == 0) {
		snprintf(err, err_len, "no case appears in both (same case and variant)");
		return -1;
	}
	return 0;
}
