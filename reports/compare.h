/* compare.h: `strata compare RUN_A RUN_B [...]` and `strata compare RUN`.
 *
 * Aligns records by case (the metric key without its variant) and variant
 * label, and shows each figure side by side with the ratio B/A, the change
 * in percent and a 95% confidence interval of the change computed from the
 * raw per-repetition samples, marking the changes that are significant.
 *
 *   - Several runs: every run against the first (cluster A vs cluster B,
 *     before vs after), same case and same variant; unpaired samples, so a
 *     bootstrap of the ratio of medians (default) or Welch's t on logs.
 *   - One run with variants: every variant against the first (or
 *     --baseline); when both records were measured interleaved (they carry
 *     "interleave" and the same number of samples) sample i of one is paired
 *     with sample i of the other (taken in the same block of the same
 *     round): Wilcoxon signed-rank test and Hodges-Lehmann interval on the
 *     paired log ratios.  Sequential variants fall back to the unpaired test.
 * stats_tests.h has the methods and their sources.  Every figure a suite
 * computes is c * t^p (run.h), so the test runs once per pair of records on
 * the times and each figure's ratio and interval follow exactly.
 *
 * A change is significant when its 95% interval excludes no change (and,
 * with --min-change, when it is also at least that large).
 */
#ifndef STRATA_COMPARE_H
#define STRATA_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include "reports/doc.h"
#include "reports/run.h"
#include "reports/stats_tests.h"

struct strata_compare_options {
	enum strata_diff_method unpaired; /* BOOTSTRAP (default) or WELCH */
	size_t resamples;                 /* bootstrap draws, default 2000 */
	uint64_t seed;                    /* bootstrap seed, mixed with each case key */
	double min_change_pct;            /* practical threshold, default 0 */
	const char *metrics;              /* comma-separated figures to show; NULL: all */
	const char *baseline;             /* variant label to compare against; NULL: the first */
};

void strata_compare_options_default(struct strata_compare_options *o);

struct strata_compare_summary {
	size_t compared, better, worse, same, not_comparable;
};

/* Build the comparison document and its CSV table.  Whatever it returns,
 * the caller releases both (strata_doc_release, strata_table_free; *csv
 * may be NULL).  Returns 0, or -1 with a message (nothing to compare). */
int strata_compare_build(const struct strata_run *runs, size_t n_runs,
                         const struct strata_compare_options *o, struct strata_doc *d,
                         struct strata_table **csv, struct strata_compare_summary *sum, char *err,
                         size_t err_len);

#endif
