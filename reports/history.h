/* history.h: `strata history`: results of many runs in one SQLite database
 * (default results/history.sqlite), for nightly tracking.
 *
 *   ingest RUN...   add runs (a run already there is left alone)
 *   list            the runs, oldest first
 *   trend           one figure over runs, table + HTML chart + CSV
 *   regressions     change points per series (E-divisive means, see
 *                   stats_tests.h), the first run after each, its size;
 *                   non-zero exit when a regression is still in effect
 *   export          OpenMetrics text (Prometheus textfile collector) of the
 *                   latest run, or CSV of everything
 *
 * Schema, versioned with PRAGMA user_version and migrated forward in one
 * transaction per step when an older database is opened:
 *   1  runs(run_id, start_time, plan_name, hosts, complete, ingested_at)
 *      results(run_id, metric_key, suite, variant, metric, unit,
 *              higher_is_better, median)
 *   2  runs += git_commit, system_name, ranks;
 *      results += case_key (backfilled from metric_key), params (JSON),
 *      status, best, ci_low, ci_high, n; index on the series columns.
 * A database newer than this binary is refused, never downgraded.
 */
#ifndef STRATA_HISTORY_H
#define STRATA_HISTORY_H

#include <stddef.h>
#include <stdio.h>

#include "reports/run.h"

#define STRATA_HISTORY_SCHEMA 2

struct strata_history;

/* Open (creating if needed) and migrate to version target (use
 * STRATA_HISTORY_SCHEMA; tests ask for older versions to build old
 * databases).  Returns 0, or -1 with a message. */
int strata_history_open(const char *path, int target, struct strata_history **h, char *err,
                        size_t err_len);
void strata_history_close(struct strata_history *h);
/* The schema version of the open database. */
int strata_history_version(struct strata_history *h);
/* Run one SQL statement (tests: fill an old-version database). */
int strata_history_exec(struct strata_history *h, const char *sql, char *err, size_t err_len);

/* Ingest one run.  Returns 1 when added, 0 when it was there already,
 * -1 with a message. */
int strata_history_ingest(struct strata_history *h, const struct strata_run *run, char *err,
                          size_t err_len);

struct strata_history_filter {
	const char *metric;  /* figure name; NULL: all */
	const char *suite;   /* NULL: all */
	const char *variant; /* NULL: all */
	const char *where;   /* "p=v,q=w" over the parameters; NULL: none */
};

int strata_history_list(struct strata_history *h, FILE *out, char *err, size_t err_len);

/* Trend of the matching series: a Markdown table on out and, when given,
 * an HTML page with a chart and a CSV file. */
int strata_history_trend(struct strata_history *h, const struct strata_history_filter *f, FILE *out,
                         FILE *html, FILE *csv, char *err, size_t err_len);

struct strata_regression_options {
	double min_change_pct; /* smaller changes are reported as such, not as regressions (5) */
	size_t window;         /* the last N runs of each series (100) */
	size_t min_size;       /* fewest runs on each side of a change (3) */
	double alpha;          /* permutation test level (0.05) */
	size_t permutations;   /* (199) */
};

void strata_regression_options_default(struct strata_regression_options *o);

/* Returns the number of regressions still in effect (>= 0), or -1. */
int strata_history_regressions(struct strata_history *h, const struct strata_history_filter *f,
                               const struct strata_regression_options *o, FILE *out, char *err,
                               size_t err_len);

/* OpenMetrics text of one run (run_id NULL: the latest). */
int strata_history_openmetrics(struct strata_history *h, const char *run_id, FILE *out, char *err,
                               size_t err_len);
/* Every result row as CSV. */
int strata_history_csv(struct strata_history *h, const struct strata_history_filter *f, FILE *out,
                       char *err, size_t err_len);

#endif
