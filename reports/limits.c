/* limits.c: headline figures as fractions of peak (see limits.h). */
#include "reports/limits.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "reports/svg_chart.h"

static const char *const COLLECTIVES[] = {"allreduce", "allgather", "reduce_scatter", "broadcast",
                                          "alltoall"};

static int is_collective(const char *suite)
{
	for (size_t i = 0; i < sizeof(COLLECTIVES) / sizeof(COLLECTIVES[0]); i++)
		if (!strcmp(suite, COLLECTIVES[i]))
			return 1;
	return 0;
}

/* Factor from a bandwidth unit to GB/s (1e9 B/s), or 0 when it is none. */
static double to_gbps(const char *unit)
{
	if (!strcmp(unit, "GB/s"))
		return 1;
	if (!strcmp(unit, "MB/s"))
		return 1e-3;
	if (!strcmp(unit, "TB/s"))
		return 1e3;
	if (!strcmp(unit, "GiB/s"))
		return 1.073741824;
	if (!strcmp(unit, "MiB/s"))
		return 1.048576e-3;
	return 0;
}

static const char *param_str(const json_t *rec, const char *name)
{
	return strata_json_str(json_object_get(rec, "params"), name);
}

/* Look key up; on success fill the outputs with value * scale. */
static int from_peaks(const struct strata_peaks *peaks, const char *pkey, double scale,
                      const char *assumption, double *peak, char *key, size_t key_len, char *src,
                      size_t src_len)
{
	const struct strata_peak *p = strata_peaks_get(peaks, pkey);
	if (!p) {
		snprintf(src, src_len,
		         "peak unknown: set %s in a peaks file (strata report --peaks FILE)", pkey);
		return -1;
	}
	*peak = p->value * scale;
	snprintf(key, key_len, "%s", pkey);
	snprintf(src, src_len, "%s = %.4g (%s)%s%s", pkey, p->value, p->source,
	         assumption ? "; " : "", assumption ? assumption : "");
	return 0;
}

static int gemm_peak(const struct strata_peaks *peaks, const json_t *rec, const char *metric,
                     double *peak, char *key, size_t key_len, char *src, size_t src_len)
{
	const json_t *det = json_object_get(rec, "details");
	const char *dtype = param_str(rec, "dtype");
	double ranks = strata_json_num(rec, "ranks");
	double scale = !strcmp(metric, "aggregate_gflops") ? (ranks > 0 ? ranks : 1) : 1;
	if (strcmp(metric, "gflops") && strcmp(metric, "aggregate_gflops")) {
		snprintf(src, src_len, "no peak for %s", metric);
		return -1;
	}
	char pkey[96], why[256];
	if (!strcmp(param_str(rec, "device"), "cuda")) {
		snprintf(pkey, sizeof(pkey), "gpu_tflops.%s", dtype);
		snprintf(why, sizeof(why), "x 1000 GFLOP/TFLOP%s",
		         scale > 1 ? ", x ranks (one GPU each)" : "");
		return from_peaks(peaks, pkey, 1000 * scale, why, peak, key, key_len, src, src_len);
	}
	double cores = strata_json_num(det, "cores_bound");
	snprintf(pkey, sizeof(pkey), "cpu_gflops_per_core.%s", dtype);
	if (strata_peaks_get(peaks, pkey) && cores > 0) {
		snprintf(why, sizeof(why), "x %g core(s) bound per rank%s", cores,
		         scale > 1 ? ", x ranks" : "");
		return from_peaks(peaks, pkey, cores * scale, why, peak, key, key_len, src,
		                  src_len);
	}
	double own = strata_json_num(det, "peak_gflops");
	if (own > 0) {
		*peak = own * scale;
		snprintf(key, key_len, "record");
		snprintf(src, src_len, "the gemm record's own peak, %.4g GFLOP/s per rank: %s%s",
		         own, strata_json_str(det, "peak_source"), scale > 1 ? "; x ranks" : "");
		return 0;
	}
	snprintf(src, src_len, "peak unknown: set %s in a peaks file", pkey);
	return -1;
}

int strata_limits_peak(const struct strata_run *run, const struct strata_peaks *peaks,
                       const json_t *rec, const char *metric, double *peak, char *key,
                       size_t key_len, char *src, size_t src_len)
{
	const char *suite = strata_json_str(rec, "suite");
	const json_t *m = strata_record_metric(rec, metric);
	*peak = NAN;
	snprintf(key, key_len, "-");
	if (!m) {
		snprintf(src, src_len, "no figure %s", metric);
		return -1;
	}
	if (!strcmp(suite, "gemm"))
		return gemm_peak(peaks, rec, metric, peak, key, key_len, src, src_len);
	double f = to_gbps(strata_json_str(m, "unit"));
	if (f == 0) {
		snprintf(src, src_len, "no peak for a figure in %s", strata_json_str(m, "unit"));
		return -1;
	}
	double nodes = (double)strata_run_n_hosts(run), ranks = strata_json_num(rec, "ranks");
	double rpn = ranks > 0 ? ranks / nodes : 1;
	int cuda = !strcmp(param_str(rec, "device"), "cuda");
	char why[320];
	int rc;
	if (!strcmp(suite, "membw")) {
		const char *pk = cuda ? "gpu_memory_bandwidth" : "memory_bandwidth";
		const char *kernel = param_str(rec, "kernel");
		int host_copy = cuda && (!strcmp(kernel, "h2d") || !strcmp(kernel, "d2h") ||
		                         !strcmp(kernel, "bidir"));
		if (host_copy || (cuda && !strcmp(kernel, "d2d"))) {
			/* Copy engines (nvbandwidth's byte counting, copy_cuda.h):
			 * host copies go over PCIe, bidir both ways at once; a
			 * device copy reads and writes each byte it counts once. */
			int bidir = !strcmp(kernel, "bidir");
			if (strcmp(metric, "bandwidth") && strcmp(metric, "aggregate_bandwidth")) {
				snprintf(src, src_len, "no peak for %s", metric);
				return -1;
			}
			double per_gpu = host_copy ? (bidir ? 2 : 1) : 0.5;
			double scale = per_gpu * (!strcmp(metric, "aggregate_bandwidth") &&
			                                  ranks > 0 ? ranks : 1);
			snprintf(why, sizeof(why), "%s%s",
			         host_copy ? (bidir ? "PCIe, x 2: both directions at once"
			                            : "one direction of the GPU's PCIe link")
			                   : "HBM / 2: a device copy reads and writes each byte",
			         !strcmp(metric, "aggregate_bandwidth") ? "; x ranks (one GPU each)"
			                                                : "");
			rc = from_peaks(peaks, host_copy ? "pcie_bandwidth" : pk, scale, why, peak,
			                key, key_len, src, src_len);
		} else if (!strcmp(metric, "aggregate_bandwidth")) {
			/* CPU: each node's memory, shared by its ranks; GPU: one
			 * GPU's memory per rank. */
			double times = cuda ? (ranks > 0 ? ranks : 1) : nodes;
			snprintf(why, sizeof(why), cuda ? "x %g rank(s), one GPU each" : "x %g node(s)",
			         times);
			rc = from_peaks(peaks, pk, times, why, peak, key, key_len, src, src_len);
		} else if (!strcmp(metric, "bandwidth")) {
			snprintf(why, sizeof(why),
			         "shared by the %g rank(s) per node running at once: / %g", rpn,
			         rpn);
			rc = from_peaks(peaks, pk, cuda ? 1 : 1 / rpn, cuda ? NULL : why, peak, key,
			                key_len, src, src_len);
		} else {
			snprintf(src, src_len, "no peak for %s", metric);
			return -1;
		}
	} else if (is_collective(suite) || !strcmp(suite, "p2p")) {
		int p2p = !strcmp(suite, "p2p");
		if (p2p && strcmp(metric, "bandwidth")) {
			snprintf(src, src_len, "no peak for %s", metric);
			return -1;
		}
		if (!p2p && strcmp(metric, "busbw") && strcmp(metric, "algbw")) {
			snprintf(src, src_len, "no peak for %s", metric);
			return -1;
		}
		double both = p2p && !strcmp(param_str(rec, "mode"), "bibw") ? 2 : 1;
		const char *dir = both > 1 ? "; x 2: both directions at once" : "";
		if (nodes > 1) {
			snprintf(
			    why, sizeof(why), "%s%s",
			    p2p ? "pairs across nodes go through a node's network link"
			        : "the collective crosses nodes: a ring edge between nodes carries "
			          "the "
			          "bus bandwidth, so it cannot exceed a node's network bandwidth",
			    dir);
			rc = from_peaks(peaks, "network_bandwidth", both, why, peak, key, key_len,
			                src, src_len);
		} else if (cuda) {
			const char *pk = strata_peaks_get(peaks, "nvlink_bandwidth")
			                     ? "nvlink_bandwidth"
			                     : "pcie_bandwidth";
			snprintf(why, sizeof(why), "one node: GPUs talk over %s%s",
			         pk[0] == 'n' ? "NVLink" : "PCIe", dir);
			rc = from_peaks(peaks, pk, both, why, peak, key, key_len, src, src_len);
		} else if (strata_peaks_get(peaks, "intranode_bandwidth")) {
			rc =
			    from_peaks(peaks, "intranode_bandwidth", both,
			               both > 1 ? dir + 2 : NULL, peak, key, key_len, src, src_len);
		} else {
			snprintf(
			    why, sizeof(why),
			    "one node, shared-memory transport: intranode_bandwidth not set, taken "
			    "as memory_bandwidth (copies go through memory)%s",
			    dir);
			rc = from_peaks(peaks, "memory_bandwidth", both, why, peak, key, key_len,
			                src, src_len);
		}
	} else if (!strcmp(suite, "storage")) {
		rc = from_peaks(peaks, "storage_bandwidth", 1,
		                "the storage the run used, as a whole, against the run's figure",
		                peak, key, key_len, src, src_len);
	} else {
		snprintf(src, src_len, "no peak known for suite %s", suite);
		return -1;
	}
	if (rc == 0)
		*peak /= f; /* into the figure's own unit */
	return rc;
}

static int passed(const json_t *r)
{
	return !strcmp(strata_json_str(r, "status"), "passed");
}

static double median_of(const json_t *r, const char *metric)
{
	return strata_json_num(strata_record_metric(r, metric), "median");
}

static void fill(const struct strata_run *run, const struct strata_peaks *peaks, const json_t *r,
                 const char *metric, const char *name, struct strata_headline *h)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	snprintf(h->case_key, sizeof(h->case_key), "%s", strata_json_str(r, "metric_key"));
	snprintf(h->metric, sizeof(h->metric), "%s", metric);
	h->figure = median_of(r, metric);
	snprintf(h->unit, sizeof(h->unit), "%s",
	         strata_json_str(strata_record_metric(r, metric), "unit"));
	if (strata_limits_peak(run, peaks, r, metric, &h->peak, h->peak_key, sizeof(h->peak_key),
	                       h->source, sizeof(h->source)) == 0 &&
	    h->peak > 0)
		h->fraction = h->figure / h->peak;
	else
		h->fraction = NAN;
}

/* The passed record of suite (optionally with param == value) that has
 * metric and the largest params[by] (or, by == NULL, the largest figure). */
static const json_t *pick(const json_t *recs, const char *suite, const char *param,
                          const char *value, const char *by, const char *metric)
{
	const json_t *best = NULL;
	size_t i;
	json_t *r;
	json_array_foreach(recs, i, r) {
		if (strcmp(strata_json_str(r, "suite"), suite) || !passed(r) ||
		    !strata_record_metric(r, metric))
			continue;
		if (param && strcmp(param_str(r, param), value))
			continue;
		if (!best) {
			best = r;
			continue;
		}
		double a =
		    by ? strata_json_num(json_object_get(r, "params"), by) : median_of(r, metric);
		double b = by ? strata_json_num(json_object_get(best, "params"), by)
		              : median_of(best, metric);
		if (a > b || (by && a == b && median_of(r, metric) > median_of(best, metric)))
			best = r;
	}
	return best;
}

size_t strata_limits_headlines(const struct strata_run *run, const struct strata_peaks *peaks,
                               struct strata_headline *out, size_t max)
{
	size_t n = 0, i;
	json_t *r;
	const json_t *recs = run->records;
	char name[160];
	/* gemm: the best figure per device and data type */
	json_array_foreach(recs, i, r) {
		if (strcmp(strata_json_str(r, "suite"), "gemm") || !passed(r) || n == max)
			continue;
		const char *dt = param_str(r, "dtype"), *dev = param_str(r, "device");
		snprintf(name, sizeof(name), "gemm %s%s%s", dt, strcmp(dev, "cpu") ? " " : "",
		         strcmp(dev, "cpu") ? dev : "");
		size_t k;
		for (k = 0; k < n && strcmp(out[k].name, name); k++)
			;
		if (k < n)
			continue;
		const json_t *best = NULL;
		size_t j;
		json_t *q;
		json_array_foreach(recs, j, q) {
			if (!strcmp(strata_json_str(q, "suite"), "gemm") && passed(q) &&
			    !strcmp(param_str(q, "dtype"), dt) &&
			    !strcmp(param_str(q, "device"), dev) &&
			    (!best || median_of(q, "gflops") > median_of(best, "gflops")))
				best = q;
		}
		if (best && strata_record_metric(best, "gflops"))
			fill(run, peaks, best, "gflops", name, &out[n++]);
	}
	/* membw: Triad (the STREAM headline), else the best kernel */
	const json_t *mb = pick(recs, "membw", "kernel", "triad", NULL, "bandwidth");
	if (!mb)
		mb = pick(recs, "membw", NULL, NULL, NULL, "bandwidth");
	if (mb && n < max) {
		const char *metric = strata_record_metric(mb, "aggregate_bandwidth")
		                         ? "aggregate_bandwidth"
		                         : "bandwidth";
		snprintf(name, sizeof(name), "membw %s", param_str(mb, "kernel"));
		fill(run, peaks, mb, metric, name, &out[n++]);
	}
	/* collectives: bus bandwidth at the largest message */
	for (size_t c = 0; c < sizeof(COLLECTIVES) / sizeof(COLLECTIVES[0]) && n < max; c++) {
		const json_t *cr = pick(recs, COLLECTIVES[c], NULL, NULL, "size", "busbw");
		if (!cr)
			continue;
		char size[32];
		strata_format_bytes(strata_json_num(json_object_get(cr, "params"), "size"), size,
		                    sizeof(size));
		snprintf(name, sizeof(name), "%s busbw at %s", COLLECTIVES[c], size);
		fill(run, peaks, cr, "busbw", name, &out[n++]);
	}
	const json_t *pp = pick(recs, "p2p", "mode", "bandwidth", "size", "bandwidth");
	if (pp && n < max) {
		char size[32];
		strata_format_bytes(strata_json_num(json_object_get(pp, "params"), "size"), size,
		                    sizeof(size));
		snprintf(name, sizeof(name), "p2p bandwidth at %s", size);
		fill(run, peaks, pp, "bandwidth", name, &out[n++]);
	}
	/* storage: the whole run's throughput (the suite's aggregate_bandwidth),
	 * else the first figure in a bandwidth unit, best over the cases */
	const json_t *best = NULL;
	const char *bm = NULL;
	json_array_foreach(recs, i, r) {
		if (strcmp(strata_json_str(r, "suite"), "storage") || !passed(r))
			continue;
		const char *k =
		    strata_record_metric(r, "aggregate_bandwidth") ? "aggregate_bandwidth" : NULL;
		json_t *m;
		if (!k) {
			json_object_foreach(json_object_get(r, "metrics"), k, m) {
				if (to_gbps(strata_json_str(m, "unit")) > 0 &&
				    json_is_true(json_object_get(m, "higher_is_better")))
					break;
			}
		}
		m = k ? (json_t *)strata_record_metric(r, k) : NULL;
		double f = m ? to_gbps(strata_json_str(m, "unit")) : 0;
		if (!f)
			continue;
		if (!best ||
		    strata_json_num(m, "median") * f >
		        median_of(best, bm) *
		            to_gbps(strata_json_str(strata_record_metric(best, bm), "unit"))) {
			best = r;
			bm = k;
		}
	}
	if (best && n < max) {
		snprintf(name, sizeof(name), "storage %s", bm);
		fill(run, peaks, best, bm, name, &out[n++]);
	}
	return n;
}

void strata_limits_section(const struct strata_run *run, const struct strata_peaks *peaks,
                           struct strata_doc *d)
{
	struct strata_headline h[32];
	size_t n = strata_limits_headlines(run, peaks, h, 32);
	strata_doc_heading(d, 1, "What limits this cluster");
	if (n == 0) {
		strata_doc_para(
		    d, "No passed case gives a headline figure (gemm, membw, a collective, "
		       "p2p bandwidth or storage).");
		return;
	}
	strata_doc_para(
	    d, "Each headline figure (median) as a fraction of the hardware's own peak. Peaks "
	       "come from datasheets of the models the manifest names and the manifest's "
	       "hardware facts, overridden by a peaks file (`--peaks`); GEMM uses the peak its "
	       "record derived unless the file gives `cpu_gflops_per_core`. Every assumption "
	       "is written next to its peak.");
	struct strata_table *t = strata_doc_table(d, 6, "headline", "figure", "peak",
	                                          "fraction of peak", "peak from", "case");
	size_t low = n;
	for (size_t i = 0; i < n; i++) {
		strata_table_row(t);
		strata_table_cell(t, "%s", h[i].name);
		strata_table_cell(t, "%.4g %s", h[i].figure, h[i].unit);
		if (isnan(h[i].fraction)) {
			strata_table_cell(t, "unknown");
			strata_table_cell(t, "-");
		} else {
			strata_table_cell(t, "%.4g %s", h[i].peak, h[i].unit);
			strata_table_cell(t, "%.1f%%", 100 * h[i].fraction);
			if (low == n || h[i].fraction < h[low].fraction)
				low = i;
		}
		strata_table_cell(t, "%s", h[i].source);
		strata_table_cell(t, "`%s`", h[i].case_key);
	}
	if (low == n)
		strata_doc_para(
		    d, "No peak is known for any headline, so no fraction can be given: write "
		       "the missing peaks into a peaks file (configs/peaks-example.yaml).");
	else
		strata_doc_para(
		    d,
		    "**Lowest fraction of peak: %s at %.1f%% (%.4g of %.4g %s).** This is "
		    "where the cluster falls furthest short of its hardware; look there "
		    "first.",
		    h[low].name, 100 * h[low].fraction, h[low].figure, h[low].peak, h[low].unit);
}
