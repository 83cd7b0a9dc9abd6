/* report.h: `strata report RUN`: read a results directory (never re-run
 * anything, never touch MPI) and write RUN/summary.md and RUN/report.html,
 * an MLPerf-style summary: the system description (the fields of MLPerf's
 * system description JSON, filled from the manifest), a results table per
 * suite with figures, units and 95% intervals, charts (HTML), run-rule
 * compliance per case, what limits the cluster (fractions of peak), and
 * what did not pass.
 */
#ifndef STRATA_REPORT_H
#define STRATA_REPORT_H

#include <stdio.h>

#include "reports/doc.h"
#include "reports/peaks.h"
#include "reports/run.h"

/* Build the report of run into d (initialised here).  peaks: the peaks to
 * quote (strata_peaks_from_manifest plus any file). */
void strata_report_build(const struct strata_run *run, const struct strata_peaks *peaks,
                         struct strata_doc *d);

/* The parameters that vary over suite's records in recs, in table order
 * (at most 16; names point into the records).  The results table's columns
 * and the case labels of the tables under it. */
void strata_report_key_params(const json_t *recs, const char *suite, const char **names,
                              size_t *n);

/* A record's row label in the tables under its suite's results table:
 * "variant" plus the parameters that vary over the suite's records (the
 * results table's columns), so rows can be matched with it. */
void strata_report_case_label(const json_t *recs, const json_t *rec, char *buf, size_t len);

/* Write the Markdown summary of run to out (peaks from the manifest only). */
void strata_report_markdown(const struct strata_run *run, FILE *out);

/* Run-rule compliance of one record: fills five verdict texts (warm-up,
 * repetitions, duration, validation, binding: "yes ...", "NO: ...", "-"
 * when the case did not run) and returns 1 when every rule is met, 0 when
 * one is not, -1 when the case did not run (skipped, error, timeout). */
int strata_report_compliance(const struct strata_run *run, const json_t *rec, char verdict[5][160]);

#endif
