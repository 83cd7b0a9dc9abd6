/* run.c: results directory loader and record accessors (see run.h). */
#include "reports/run.h"

#include "harness/params.h"

#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int strata_run_load(const char *dir, struct strata_run *run, char *err, size_t err_len)
{
	memset(run, 0, sizeof(*run));
	snprintf(run->dir, sizeof(run->dir), "%s", dir);
	char path[4200], merr[4400] = "";
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	run->manifest = strata_manifest_load(path, merr, sizeof(merr));
	snprintf(path, sizeof(path), "%s/results.jsonl", dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		if (run->manifest)
			snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
		else
			snprintf(err, err_len,
			         "%s, and no results.jsonl: not a strata run directory", merr);
		strata_run_release(run);
		return -1;
	}
	/* A damaged or missing manifest does not hide the records: report them
	 * with what is known (every manifest field reads as absent). */
	char mwarn[4500] = "";
	if (!run->manifest) {
		run->manifest = json_object();
		snprintf(mwarn, sizeof(mwarn), "%s; reporting the records without it", merr);
	}
	run->records = json_array();
	int rc = strata_jsonl_read(f, run->records, &run->jsonl);
	fclose(f);
	if (rc != 0) {
		snprintf(err, err_len, "%s: read error", path);
		strata_run_release(run);
		return -1;
	}
	run->bad_line = run->jsonl.first_bad_line;
	char jwarn[1024];
	strata_jsonl_warning(path, &run->jsonl, jwarn, sizeof(jwarn));
	snprintf(run->warning, sizeof(run->warning), "%s%s%s", mwarn,
	         mwarn[0] && jwarn[0] ? "; " : "", jwarn);
	return 0;
}

void strata_run_release(struct strata_run *run)
{
	json_decref(run->manifest);
	json_decref(run->records);
	run->manifest = run->records = NULL;
}

const char *strata_json_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "-";
}

double strata_json_num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

void strata_json_value_text(const json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
	else
		snprintf(buf, len, "-");
}

void strata_record_case_key(const json_t *rec, char *buf, size_t len)
{
	const char *key = json_string_value(json_object_get(rec, "metric_key"));
	if (!key) {
		snprintf(buf, len, "%s[]", strata_json_str(rec, "suite"));
		return;
	}
	const char *at = strrchr(key, '@');
	size_t n = at ? (size_t)(at - key) : strlen(key);
	snprintf(buf, len, "%.*s", (int)n, key);
}

void strata_record_params_text(const json_t *rec, char *buf, size_t len)
{
	char key[2048];
	strata_record_case_key(rec, key, sizeof(key));
	const char *open = strchr(key, '[');
	const char *close = strrchr(key, ']');
	if (!open || !close || close < open) {
		snprintf(buf, len, "%s", "");
		return;
	}
	snprintf(buf, len, "%.*s", (int)(close - open - 1), open + 1);
}

const char *strata_record_first_metric(const json_t *rec)
{
	void *it = json_object_iter(json_object_get(rec, "metrics"));
	return it ? json_object_iter_key(it) : NULL;
}

const json_t *strata_record_metric(const json_t *rec, const char *name)
{
	return json_object_get(json_object_get(rec, "metrics"), name);
}

/* log(f_a / f_b) / log(t_a / t_b), rounded to -1, 0 or 1 when it is one. */
static int power_from(double fa, double fb, double ta, double tb, int *p)
{
	if (!(fa > 0 && fb > 0 && ta > 0 && tb > 0) || fabs(log(ta / tb)) < 1e-9)
		return -1;
	double e = log(fa / fb) / log(ta / tb);
	double r = round(e);
	if (fabs(e - r) > 0.02 || r < -1 || r > 1)
		return -1;
	*p = (int)r;
	return 0;
}

int strata_record_power(const json_t *rec, const char *metric)
{
	const json_t *m = strata_record_metric(rec, metric);
	const json_t *st = json_object_get(rec, "stats");
	if (!m || !st)
		return -2;
	double fmed = strata_json_num(m, "median"), fbest = strata_json_num(m, "best"),
	       fmean = strata_json_num(m, "mean");
	double tmed = strata_json_num(st, "median"), tmin = strata_json_num(st, "min"),
	       tmean = strata_json_num(st, "mean");
	int p;
	if (power_from(fbest, fmed, tmin, tmed, &p) == 0 ||
	    power_from(fmean, fmed, tmean, tmed, &p) == 0)
		return p;
	/* Constant figures: equal at different times. */
	if (fbest == fmed && fmean == fmed && (tmin != tmed || tmean != tmed))
		return 0;
	/* Every sample equal: any power describes it; take the figure's sense. */
	if (tmin == tmed && tmean == tmed && fmed > 0)
		return json_is_true(json_object_get(m, "higher_is_better")) ? -1 : 1;
	return -2;
}

double strata_record_figure_at(const json_t *rec, const char *metric, double t_s)
{
	int p = strata_record_power(rec, metric);
	if (p < -1)
		return NAN;
	double fmed = strata_json_num(strata_record_metric(rec, metric), "median");
	double tmed = strata_json_num(json_object_get(rec, "stats"), "median");
	if (p == 0)
		return fmed;
	return fmed * pow(t_s / tmed, (double)p);
}

int strata_record_figures(const json_t *rec, const char *metric, double **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	const json_t *samples = json_object_get(rec, "samples_s");
	size_t ns = json_array_size(samples);
	if (ns == 0 || strata_record_power(rec, metric) < -1)
		return -1;
	double *v = malloc(ns * sizeof(*v));
	if (!v)
		return -1;
	for (size_t i = 0; i < ns; i++) {
		double t = json_number_value(json_array_get(samples, i));
		if (!(t > 0) || !isfinite(t)) { /* a damaged record: no figures from it */
			free(v);
			return -1;
		}
		v[i] = strata_record_figure_at(rec, metric, t);
	}
	*out = v;
	*n = ns;
	return 0;
}

size_t strata_run_n_hosts(const struct strata_run *run)
{
	size_t n = json_array_size(json_object_get(run->manifest, "hosts"));
	return n ? n : 1;
}

int strata_param_matches(const json_t *params, const char *name, const char *value)
{
	const json_t *v = json_object_get(params, name);
	if (!v)
		return 0;
	if (json_is_integer(v)) {
		int64_t x;
		char why[256];
		if (strata_parse_size(value, &x, why, sizeof(why)) == 0)
			return x == json_integer_value(v);
		char *end;
		errno = 0;
		long long ll = strtoll(value, &end, 10);
		return !errno && end != value && !*end && ll == json_integer_value(v);
	}
	if (json_is_real(v)) {
		char *end;
		double d = strtod(value, &end);
		return end != value && !*end &&
		       fabs(d - json_real_value(v)) <= 1e-12 * fmax(1, fabs(d));
	}
	if (json_is_boolean(v))
		return !strcmp(value, json_is_true(v) ? "true" : "false");
	return json_is_string(v) && !strcmp(value, json_string_value(v));
}

static const json_t *devices(const json_t *sys, const char *kind)
{
	const json_t *own = json_object_get(sys, kind);
	if (json_is_array(own))
		return own;
	return json_object_get(json_object_get(sys, "topology"), kind);
}

const json_t *strata_system_gpus(const json_t *sys)
{
	/* A run with GPU cases records the CUDA devices it used (with their
	 * NVML facts and derived peaks) as gpus.devices; else hwloc's. */
	const json_t *cuda = json_object_get(json_object_get(sys, "gpus"), "devices");
	return json_is_array(cuda) ? cuda : devices(sys, "gpus");
}

const json_t *strata_system_nics(const json_t *sys)
{
	return devices(sys, "nics");
}

void strata_device_name(const json_t *dev, char *buf, size_t len)
{
	const char *s = json_string_value(json_object_get(dev, "name"));
	if (!s)
		s = json_string_value(json_object_get(dev, "model"));
	if (s) {
		snprintf(buf, len, "%s", s);
		return;
	}
	size_t off = 0, i;
	json_t *n;
	buf[0] = '\0';
	json_array_foreach(json_object_get(dev, "names"), i, n)
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s", i ? "/" : "",
		                        json_string_value(n) ? json_string_value(n) : "");
	if (!buf[0])
		snprintf(buf, len, "unnamed");
}
