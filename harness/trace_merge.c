/* trace_merge.c: `strata trace merge RUN` and the trace summary, offline (no
 * MPI): read every rank's trace, put every event on rank 0's clock with the
 * offsets measured during the run, write one timeline (trace/merged.json, one
 * process row per rank) and the summary (trace/summary.json) so that nobody
 * has to open a multi-gigabyte trace to learn where the time went.
 *
 * Summary, per case and for the whole run:
 *   phases        per phase (setup, warmup, timed, traced, verify, teardown):
 *                 each rank's total, then mean, min, max over ranks, the skew
 *                 (max - min) and the slowest rank
 *   collectives   per collective id: arrival skew = latest entry - earliest
 *                 entry over ranks (on the common clock); median and max, and
 *                 the rank that arrived last most often
 *   top_spans     repetitions, MPI calls and GPU activity by total time
 *   top_kernels   GPU kernels (CUPTI) by total time over ranks
 *   overlap       per rank, the time GPU compute kernels overlap
 *                 communication (NCCL kernels, copies, the runner's MPI calls),
 *                 as a fraction of the communication time; null without GPU
 *                 kernels (the runner's CPU spans never overlap themselves)
 * What it is not: a profiler's analysis; it reads only what strata recorded.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/results.h"
#include "harness/runner.h"
#include "harness/trace.h"

#define TOP_N 10
#define TOP_N_CASE 5

double strata_trace_offset_us(const json_t *offsets, int rank, double ts_us)
{
	const json_t *ms = json_object_get(offsets, "measurements");
	size_t n = json_array_size(ms);
	if (n == 0)
		return 0;
	/* First and last measurement: (rank-r time, offset) pairs. */
	double tr[2], off[2];
	for (int k = 0; k < 2; k++) {
		const json_t *m = json_array_get(ms, k == 0 ? 0 : n - 1);
		const json_t *o = json_array_get(json_object_get(m, "offset_ns"), (size_t)rank);
		const json_t *ref = json_array_get(json_object_get(m, "t_ref_ns"), (size_t)rank);
		off[k] = json_is_integer(o) ? (double)json_integer_value(o) / 1e3
		                            : json_number_value(o) / 1e3;
		double ref_us = json_is_integer(ref) ? (double)json_integer_value(ref) / 1e3
		                                     : json_number_value(ref) / 1e3;
		tr[k] = ref_us - off[k]; /* the same instant on rank r's clock */
	}
	if (n == 1 || tr[1] <= tr[0])
		return off[0];
	/* Linear drift between the two measurements, held constant outside them. */
	double x = ts_us < tr[0] ? tr[0] : ts_us > tr[1] ? tr[1] : ts_us;
	return off[0] + (off[1] - off[0]) * (x - tr[0]) / (tr[1] - tr[0]);
}

/* ---- small helpers over jansson maps ------------------------------------------ */

static double num(const json_t *v)
{
	return json_is_integer(v) ? (double)json_integer_value(v) : json_number_value(v);
}

static int64_t arg_int(const json_t *ev, const char *key, int64_t dflt)
{
	const json_t *v = json_object_get(json_object_get(ev, "args"), key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

/* map[key] is an array of nranks reals; add x at rank r. */
static void add_at(json_t *map, const char *key, int nranks, int r, double x)
{
	json_t *a = json_object_get(map, key);
	if (!a) {
		a = json_array();
		for (int i = 0; i < nranks; i++)
			json_array_append_new(a, json_real(0));
		json_object_set_new(map, key, a);
	}
	json_real_set(json_array_get(a, (size_t)r),
	              json_real_value(json_array_get(a, (size_t)r)) + x);
}

/* Per-rank totals in seconds -> {mean_s, min_s, max_s, skew_s, slowest_rank}. */
static json_t *spread(const json_t *per_rank_us)
{
	size_t n = json_array_size(per_rank_us);
	double sum = 0, mn = INFINITY, mx = -INFINITY;
	int slow = 0;
	for (size_t i = 0; i < n; i++) {
		double v = json_real_value(json_array_get(per_rank_us, i)) / 1e6;
		sum += v;
		if (v < mn)
			mn = v;
		if (v > mx) {
			mx = v;
			slow = (int)i;
		}
	}
	if (n == 0)
		mn = mx = 0;
	return json_pack("{s:f,s:f,s:f,s:f,s:i}", "mean_s", n ? sum / (double)n : 0, "min_s", mn,
	                 "max_s", mx, "skew_s", mx - mn, "slowest_rank", slow);
}

static json_t *spreads(const json_t *map)
{
	json_t *o = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)map, k, v)
		json_object_set_new(o, k, spread(v));
	return o;
}

/* {"cat\tname": [count, total_us]} -> top n by total as an array. */
static json_t *top(const json_t *map, int n)
{
	json_t *out = json_array();
	json_t *used = json_object();
	for (int i = 0; i < n; i++) {
		const char *best = NULL;
		double best_t = -1;
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)map, k, v) {
			double t = json_real_value(json_array_get(v, 1));
			if (!json_object_get(used, k) && t > best_t) {
				best = k;
				best_t = t;
			}
		}
		if (!best)
			break;
		json_object_set_new(used, best, json_true());
		const json_t *v2 = json_object_get(map, best);
		double count = json_real_value(json_array_get(v2, 0));
		const char *tab = strchr(best, '\t');
		json_array_append_new(
		    out,
		    json_pack("{s:s%,s:s,s:I,s:f,s:f}", "cat", best, (size_t)(tab ? tab - best : 0),
		              "name", tab ? tab + 1 : best, "count", (json_int_t)count, "total_s",
		              best_t / 1e6, "mean_s", count > 0 ? best_t / 1e6 / count : 0));
	}
	json_decref(used);
	return out;
}

static void count_span(json_t *map, const char *cat, const char *name, double dur_us)
{
	char key[1200];
	snprintf(key, sizeof(key), "%s\t%s", cat, name);
	json_t *a = json_object_get(map, key);
	if (!a) {
		a = json_pack("[f,f]", 0.0, 0.0);
		json_object_set_new(map, key, a);
	}
	json_real_set(json_array_get(a, 0), json_real_value(json_array_get(a, 0)) + 1);
	json_real_set(json_array_get(a, 1), json_real_value(json_array_get(a, 1)) + dur_us);
}

/* ---- intervals (overlap) ---------------------------------------------------------- */

struct ivl {
	double a, b;
};

struct ivls {
	struct ivl *v;
	size_t n, cap;
};

static void ivl_push(struct ivls *s, double a, double b)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct ivl *nv = realloc(s->v, cap * sizeof(*nv));
		if (!nv)
			return;
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = (struct ivl){a, b};
}

static int ivl_cmp(const void *x, const void *y)
{
	const struct ivl *p = x, *q = y;
	return p->a < q->a ? -1 : p->a > q->a;
}

/* Sort and merge into disjoint intervals; returns the covered length. */
static double ivl_union(struct ivls *s)
{
	if (s->n == 0)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), ivl_cmp);
	size_t w = 0;
	for (size_t i = 1; i < s->n; i++) {
		if (s->v[i].a <= s->v[w].b) {
			if (s->v[i].b > s->v[w].b)
				s->v[w].b = s->v[i].b;
		} else {
			s->v[++w] = s->v[i];
		}
	}
	s->n = w + 1;
	double len = 0;
	for (size_t i = 0; i < s->n; i++)
		len += s->v[i].b - s->v[i].a;
	return len;
}

/* Length of the intersection of two disjoint, sorted sets. */
static double ivl_intersect(const struct ivls *x, const struct ivls *y)
{
	size_t i = 0, j = 0;
	double len = 0;
	while (i < x->n && j < y->n) {
		double a = fmax(x->v[i].a, y->v[j].a), b = fmin(x->v[i].b, y->v[j].b);
		if (b > a)
			len += b - a;
		if (x->v[i].b < y->v[j].b)
			i++;
		else
			j++;
	}
	return len;
}

/* ---- the summary --------------------------------------------------------------------- */

struct coll {
	double first, last; /* earliest and latest entry, us */
	int last_rank;
	int64_t case_index;
	int seen;
};

static int dbl_cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static json_t *coll_stats(const struct coll *c, int64_t n_coll, int64_t case_index, int nranks)
{
	double *skew = malloc((size_t)(n_coll > 0 ? n_coll : 1) * sizeof(*skew));
	int *last = calloc((size_t)nranks, sizeof(*last));
	size_t n = 0;
	for (int64_t i = 0; skew && last && i < n_coll; i++) {
		if (!c[i].seen || (case_index >= 0 && c[i].case_index != case_index))
			continue;
		skew[n++] = (c[i].last - c[i].first) / 1e6;
		if (c[i].last_rank >= 0 && c[i].last_rank < nranks)
			last[c[i].last_rank]++;
	}
	json_t *o;
	if (n == 0) {
		o = json_pack("{s:i}", "count", 0);
	} else {
		qsort(skew, n, sizeof(*skew), dbl_cmp);
		int worst = 0;
		for (int r = 1; r < nranks; r++)
			if (last[r] > last[worst])
				worst = r;
		o = json_pack("{s:I,s:{s:f,s:f},s:i,s:i,s:s}", "count", (json_int_t)n,
		              "arrival_skew_s", "median",
		              n % 2 ? skew[n / 2] : 0.5 * (skew[n / 2 - 1] + skew[n / 2]), "max",
		              skew[n - 1], "last_arrival_rank", worst, "last_arrival_count",
		              last[worst], "definition",
		              "per collective id: latest entry minus earliest entry over ranks, on "
		              "rank 0's clock");
	}
	free(skew);
	free(last);
	return o;
}

static int is_comm(const char *cat)
{
	return !strcmp(cat, STRATA_TRACE_CAT_NCCL) || !strcmp(cat, STRATA_TRACE_CAT_MEMCPY) ||
	       !strcmp(cat, STRATA_TRACE_CAT_MPI);
}

json_t *strata_trace_summarize(json_t *const *ranks, int nranks)
{
	json_t *phase_all = json_object();  /* phase -> per-rank us */
	json_t *case_phase = json_object(); /* "case\tphase" -> per-rank us */
	json_t *case_len = json_object();   /* case -> per-rank us */
	json_t *case_keys = json_object();  /* case -> metric key */
	json_t *spans = json_object(), *kernels = json_object();
	json_t *case_spans = json_object(); /* case -> {"cat\tname": [count, total]} */
	int64_t n_coll = 0, n_events = 0;
	for (int r = 0; r < nranks; r++) {
		size_t i;
		json_t *e;
		json_array_foreach(ranks[r], i, e) {
			int64_t id = arg_int(e, "coll_id", -1);
			if (id > n_coll)
				n_coll = id;
		}
	}
	struct coll *colls = calloc((size_t)(n_coll > 0 ? n_coll : 1), sizeof(*colls));
	json_t *overlap = json_array();
	double comm_total = 0, compute_total = 0, overlap_total = 0;
	int any_gpu = 0;

	for (int r = 0; r < nranks && colls; r++) {
		struct ivls comm = {0}, compute = {0};
		size_t i;
		json_t *e;
		json_array_foreach(ranks[r], i, e) {
			const char *ph = json_string_value(json_object_get(e, "ph"));
			if (!ph || strcmp(ph, "X"))
				continue;
			n_events++;
			const char *cat = json_string_value(json_object_get(e, "cat"));
			const char *name = json_string_value(json_object_get(e, "name"));
			if (!cat || !name)
				continue;
			double ts = num(json_object_get(e, "ts")),
			       dur = num(json_object_get(e, "dur"));
			int64_t ci = arg_int(e, "case", 0);
			char ckey[64], key[1200];
			snprintf(ckey, sizeof(ckey), "%lld", (long long)ci);
			if (!strcmp(cat, STRATA_TRACE_CAT_CASE)) {
				add_at(case_len, ckey, nranks, r, dur);
				if (!json_object_get(case_keys, ckey))
					json_object_set_new(case_keys, ckey, json_string(name));
				continue;
			}
			if (!strcmp(cat, STRATA_TRACE_CAT_PHASE)) {
				add_at(phase_all, name, nranks, r, dur);
				snprintf(key, sizeof(key), "%s\t%s", ckey, name);
				add_at(case_phase, key, nranks, r, dur);
				continue;
			}
			count_span(spans, cat, name, dur);
			json_t *cs = json_object_get(case_spans, ckey);
			if (!cs) {
				cs = json_object();
				json_object_set_new(case_spans, ckey, cs);
			}
			count_span(cs, cat, name, dur);
			if (!strcmp(cat, STRATA_TRACE_CAT_KERNEL) ||
			    !strcmp(cat, STRATA_TRACE_CAT_NCCL)) {
				count_span(kernels, cat, name, dur);
				any_gpu = 1;
			}
			if (!strcmp(cat, STRATA_TRACE_CAT_KERNEL))
				ivl_push(&compute, ts, ts + dur);
			else if (is_comm(cat))
				ivl_push(&comm, ts, ts + dur);
			int64_t id = arg_int(e, "coll_id", -1);
			if (id >= 1 && id <= n_coll) {
				struct coll *c = &colls[id - 1];
				if (!c->seen) {
					*c = (struct coll){ts, ts, r, ci, 1};
				} else {
					if (ts < c->first)
						c->first = ts;
					if (ts > c->last) {
						c->last = ts;
						c->last_rank = r;
					}
				}
			}
		}
		double lc = ivl_union(&comm), lk = ivl_union(&compute),
		       lo = ivl_intersect(&comm, &compute);
		comm_total += lc;
		compute_total += lk;
		overlap_total += lo;
		json_array_append_new(overlap,
		                      json_pack("{s:i,s:f,s:f,s:f}", "rank", r, "comm_s", lc / 1e6,
		                                "compute_s", lk / 1e6, "overlap_s", lo / 1e6));
		free(comm.v);
		free(compute.v);
	}

	json_t *cases = json_array();
	const char *ck;
	json_t *cv;
	json_object_foreach(case_len, ck, cv) {
		int64_t ci = strtoll(ck, NULL, 10);
		json_t *ph = json_object();
		const char *k;
		json_t *v;
		size_t pre = strlen(ck);
		json_object_foreach(case_phase, k, v)
			if (!strncmp(k, ck, pre) && k[pre] == '\t')
				json_object_set_new(ph, k + pre + 1, spread(v));
		json_t *cs = json_object_get(case_spans, ck);
		json_array_append_new(
		    cases, json_pack("{s:I,s:s,s:o,s:o,s:o,s:o}", "case", (json_int_t)ci, "key",
		                     json_string_value(json_object_get(case_keys, ck)) ?: "",
		                     "case_s", spread(cv), "phases", ph, "collectives",
		                     colls ? coll_stats(colls, n_coll, ci, nranks) : json_null(),
		                     "top_spans", cs ? top(cs, TOP_N_CASE) : json_array()));
	}
	json_t *ov;
	if (any_gpu)
		ov = json_pack("{s:f,s:f,s:f,s:o,s:o,s:s}", "comm_s", comm_total / 1e6, "compute_s",
		               compute_total / 1e6, "overlap_s", overlap_total / 1e6,
		               "fraction_of_comm_overlapped",
		               comm_total > 0 ? json_real(overlap_total / comm_total) : json_null(),
		               "per_rank", overlap, "definition",
		               "compute: GPU kernels other than NCCL's; comm: NCCL kernels, GPU "
		               "copies, the runner's MPI "
		               "calls; overlap: time both run on a rank (interval intersection)");
	else {
		ov = json_null();
		json_decref(overlap);
	}
	json_t *s = json_pack(
	    "{s:s,s:i,s:I,s:o,s:o,s:o,s:o,s:o,s:o}", "type", "trace_summary", "ranks", nranks,
	    "events", (json_int_t)n_events, "time_per_phase", spreads(phase_all), "collectives",
	    colls ? coll_stats(colls, n_coll, -1, nranks) : json_null(), "top_spans",
	    top(spans, TOP_N), "top_kernels", top(kernels, TOP_N), "overlap", ov, "cases", cases);
	free(colls);
	json_decref(phase_all);
	json_decref(case_phase);
	json_decref(case_len);
	json_decref(case_keys);
	json_decref(spans);
	json_decref(kernels);
	json_decref(case_spans);
	return s;
}

/* ---- merge ------------------------------------------------------------------------------ */

static int rank_of_file(const char *name)
{
	int r;
	char tail[8];
	if (sscanf(name, "rank-%d.%7s", &r, tail) == 2 && !strcmp(tail, "json") && r >= 0)
		return r;
	return -1;
}

int strata_trace_merge(const char *run_dir, int merged, char *err, size_t err_len)
{
	char tdir[4200], path[4400];
	snprintf(tdir, sizeof(tdir), "%s/trace", run_dir);
	DIR *d = opendir(tdir);
	if (!d) {
		snprintf(
		    err, err_len,
		    "%s: no trace directory (was the run traced? run: {trace: {enabled: true}})",
		    tdir);
		return -1;
	}
	int nranks = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		int r = rank_of_file(de->d_name);
		if (r >= nranks)
			nranks = r + 1;
	}
	closedir(d);
	if (nranks == 0) {
		snprintf(err, err_len, "%s: no rank-<r>.json files", tdir);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/clock-offsets.json", tdir);
	json_error_t je;
	json_t *offsets = json_load_file(path, 0, &je);
	json_t **ranks = calloc((size_t)nranks, sizeof(*ranks));
	json_t *meta = json_array();
	int rc = -1;
	if (!ranks) {
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	for (int r = 0; r < nranks; r++) {
		snprintf(path, sizeof(path), "%s/rank-%d.json", tdir, r);
		json_t *doc = json_load_file(path, 0, &je);
		if (!doc) {
			snprintf(err, err_len, "%s:%d:%d: %s", path, je.line, je.column, je.text);
			goto out;
		}
		json_t *evs = json_object_get(doc, "traceEvents");
		if (!json_is_array(evs)) {
			snprintf(err, err_len, "%s: no traceEvents array", path);
			json_decref(doc);
			goto out;
		}
		ranks[r] = json_array();
		size_t i;
		json_t *e;
		json_array_foreach(evs, i, e) {
			const char *ph = json_string_value(json_object_get(e, "ph"));
			json_t *c = json_deep_copy(e);
			json_object_set_new(c, "pid",
			                    json_integer(r)); /* one process row per rank */
			if (ph && !strcmp(ph, "M")) {
				json_array_append_new(meta, c);
				continue;
			}
			json_t *ts = json_object_get(c, "ts");
			if (ts) {
				double t = num(ts);
				json_object_set_new(
				    c, "ts", json_real(t + strata_trace_offset_us(offsets, r, t)));
			}
			json_array_append_new(ranks[r], c);
		}
		json_decref(doc);
	}
	json_t *summary = strata_trace_summarize(ranks, nranks);
	json_object_set_new(
	    summary, "clock_alignment",
	    offsets
	        ? json_string("trace/clock-offsets.json (ping-pong against rank 0, linear drift "
	                      "between the run's first and last measurement)")
	        : json_string("none: no trace/clock-offsets.json, clocks taken as they are"));
	snprintf(path, sizeof(path), "%s/summary.json", tdir);
	rc = strata_write_json_atomic(path, summary, err, err_len);
	json_decref(summary);
	if (rc == 0 && merged) {
		json_t *all = json_array();
		json_array_extend(all, meta);
		for (int r = 0; r < nranks; r++)
			json_array_extend(all, ranks[r]);
		json_t *doc =
		    json_pack("{s:o,s:s,s:{s:i,s:s}}", "traceEvents", all, "displayTimeUnit", "ms",
		              "otherData", "ranks", nranks, "clock",
		              "rank 0's CLOCK_MONOTONIC, microseconds (others shifted by "
		              "trace/clock-offsets.json)");
		snprintf(path, sizeof(path), "%s/merged.json", tdir);
		rc = strata_write_json_atomic(path, doc, err, err_len);
		json_decref(doc);
	}
out:
	for (int r = 0; ranks && r < nranks; r++)
		json_decref(ranks[r]);
	free(ranks);
	json_decref(meta);
	json_decref(offsets);
	return rc;
}

int strata_trace_main(int argc, char **argv)
{
	if (argc != 4 || strcmp(argv[2], "merge")) {
		fprintf(
		    stderr,
		    "usage: strata trace merge RUN_DIR\n"
		    "  RUN_DIR/trace/merged.json: every rank on rank 0's clock, one row per rank\n"
		    "  RUN_DIR/trace/summary.json: time per phase, skew, top spans and kernels\n");
		return STRATA_EXIT_BAD_INPUT;
	}
	char err[4096];
	if (strata_trace_merge(argv[3], 1, err, sizeof(err)) != 0) {
		fprintf(stderr, "strata trace merge: %s\n", err);
		return STRATA_EXIT_BAD_INPUT;
	}
	printf("strata trace merge: wrote %s/trace/merged.json and %s/trace/summary.json\n",
	       argv[3], argv[3]);
	return STRATA_EXIT_OK;
}
