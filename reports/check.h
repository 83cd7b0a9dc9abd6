/* check.h: `strata check RUN --against THRESHOLDS.yaml`: acceptance.
 *
 * A thresholds file (configs/acceptance-example.yaml documents every key):
 *   name: TEXT
 *   missing: fail | skip          a rule no record matches (default: fail)
 *   thresholds:                   per figure
 *     - suite: NAME               required
 *       metric: NAME              required: a figure of merit of the suite
 *       where: {PARAM: VALUE}     parameters the records must have
 *       variant: LABEL
 *       statistic: median | best | mean | ci_low | ci_high   (default median)
 *       min: X | max: X           absolute, in the figure's unit
 *       min_fraction_of_peak: F | max_fraction_of_peak: F    (peaks.h)
 *       name: TEXT
 *   outliers:                     across nodes, "find the bad node"
 *     - suite, metric, where, variant, name as above
 *       max_deviation_pct: P      a node fails when its figure is more than
 *                                 P% worse than the median of its peers
 *       mad_threshold: Z          and (when given) its modified z-score
 *                                 0.6745 |x - median| / MAD exceeds Z
 *       min_nodes: N              fewer nodes: not applicable (default 3)
 * Every error names file:line:column and the key.
 *
 * A node's figure is the median over its ranks of each rank's figure at
 * its own median time (records' per_rank entries); its peers are the other
 * nodes (leave-one-out median, so a bad node does not pull its own
 * reference).  Robust statistics: median and MAD (Iglewicz & Hoaglin 1993).
 *
 * Output: a line per check, a JUnit XML file (one testcase per check), and
 * a drain list of suggested `scontrol update NodeName=... State=DRAIN
 * Reason=...` lines, one per suspect host, which strata prints and never
 * runs.
 */
#ifndef STRATA_CHECK_H
#define STRATA_CHECK_H

#include <stddef.h>
#include <stdio.h>

#include "reports/peaks.h"
#include "reports/run.h"

enum strata_rule_kind { STRATA_RULE_THRESHOLD, STRATA_RULE_OUTLIER };
enum strata_statistic {
	STRATA_STAT_MEDIAN,
	STRATA_STAT_BEST,
	STRATA_STAT_MEAN,
	STRATA_STAT_CI_LOW,
	STRATA_STAT_CI_HIGH
};

struct strata_where {
	char name[64];
	char value[256];
};

struct strata_rule {
	enum strata_rule_kind kind;
	char name[256];
	char suite[64];
	char metric[64];
	char variant[64]; /* "" for any */
	struct strata_where where[16];
	size_t n_where;
	enum strata_statistic statistic;
	double min, max, min_frac, max_frac; /* NAN when not given */
	double max_dev_pct, mad_z;           /* outliers; mad_z NAN when not given */
	size_t min_nodes;
	int line; /* in the file */
};

struct strata_thresholds {
	char source[1024];
	char name[256];
	int missing_fail;
	struct strata_rule *rules;
	size_t n_rules;
};

int strata_thresholds_load(const char *path, struct strata_thresholds *t, char *err,
                           size_t err_len);
void strata_thresholds_release(struct strata_thresholds *t);

struct strata_check_result {
	size_t checks, passed, failed, skipped;
	size_t suspects; /* hosts in the drain list */
};

/* Evaluate every rule on run.  text: one line per check (may be NULL);
 * junit: the JUnit XML (may be NULL); drain: the drain list (may be NULL;
 * written only when a host is suspect). */
void strata_check_run(const struct strata_run *run, const struct strata_thresholds *t,
                      const struct strata_peaks *peaks, FILE *text, FILE *junit, FILE *drain,
                      struct strata_check_result *res);

#endif
