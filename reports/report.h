/* report.h: `strata report RUN`: read a results directory (never re-run
 * anything, never touch MPI) and write RUN/summary.md, an MLPerf-style
 * summary: system description from the manifest, then one results table per
 * suite with figures, units and 95% intervals, then what did not pass.
 *
 * The richer reports (HTML, charts, comparisons, acceptance checks) build on
 * the same reader.
 */
#ifndef STRATA_REPORT_H
#define STRATA_REPORT_H

#include <stdio.h>

#include <jansson.h>

/* A run read back from disk.  records is a JSON array of the records that
 * parsed; a truncated or corrupt line stops the reading with a warning. */
struct strata_run {
	char dir[4096];
	json_t *manifest;
	json_t *records;
	size_t bad_line; /* 0, or the first line of results.jsonl that did not parse */
};

int strata_run_load(const char *dir, struct strata_run *run, char *err, size_t err_len);
void strata_run_release(struct strata_run *run);

/* Write the Markdown summary of run to out. */
void strata_report_markdown(const struct strata_run *run, FILE *out);

#endif
