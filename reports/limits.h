/* limits.h: "what limits this cluster": each headline figure of a run as a
 * fraction of the hardware's own peak (peaks.h), the lowest one named.
 *
 * Headlines (one per suite, or per data type for GEMM): the best GEMM rate
 * per data type against the peak the gemm record derived itself (cores
 * bound x clock x FLOP/cycle) or the peaks file; STREAM Triad (or the best
 * kernel) summed over a node's ranks against memory_bandwidth; the bus
 * bandwidth of each collective at its largest message against
 * network_bandwidth (across nodes) or intranode_bandwidth (one node); p2p
 * bandwidth at the largest message likewise; storage throughput against
 * storage_bandwidth.  Every peak and every assumption is printed next to
 * its fraction.
 */
#ifndef STRATA_LIMITS_H
#define STRATA_LIMITS_H

#include <stddef.h>

#include <jansson.h>

#include "reports/doc.h"
#include "reports/peaks.h"
#include "reports/run.h"

struct strata_headline {
	char name[160];      /* "gemm float64", "membw triad", "allreduce busbw at 64M" */
	char case_key[1024]; /* the record's metric key */
	char metric[64];
	double figure; /* median, in the metric's unit */
	char unit[32];
	double peak;       /* same unit; NAN when unknown */
	char peak_key[64]; /* the peaks.h key, or "record" */
	char source[640];  /* where the peak comes from, and what was assumed */
	double fraction;   /* figure / peak; NAN when unknown */
};

/* The peak comparable to rec's figure metric (same unit and scope).
 * Returns 0 with *peak and a source text, or -1 with what is missing in
 * source (e.g. "set memory_bandwidth in a peaks file"). */
int strata_limits_peak(const struct strata_run *run, const struct strata_peaks *peaks,
                       const json_t *rec, const char *metric, double *peak, char *key,
                       size_t key_len, char *source, size_t source_len);

/* The run's headline figures (at most max). */
size_t strata_limits_headlines(const struct strata_run *run, const struct strata_peaks *peaks,
                               struct strata_headline *out, size_t max);

/* Append the section to a report. */
void strata_limits_section(const struct strata_run *run, const struct strata_peaks *peaks,
                           struct strata_doc *d);

#endif
