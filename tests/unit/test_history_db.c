/* test_history_db.c: the history database: schema migration from version 1
 * (rows kept, new columns backfilled), refusal of a newer schema,
 * idempotent ingest, and the exports of what was ingested. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "reports/history.h"

static char dir[256], db[300];

static int setup(void **unused)
{
	(void)unused;
	snprintf(dir, sizeof(dir), "/tmp/strata-test-history-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(db, sizeof(db), "%s/h.sqlite", dir);
	return 0;
}

static int teardown(void **unused)
{
	(void)unused;
	unlink(db);
	rmdir(dir);
	return 0;
}

/* Everything an export writes, as one string (caller frees). */
static char *csv_of(struct strata_history *h)
{
	char *buf = NULL, err[512];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct strata_history_filter flt = {0};
	assert_int_equal(strata_history_csv(h, &flt, f, err, sizeof(err)), 0);
	fclose(f);
	return buf;
}

static void test_migration_from_v1(void **unused)
{
	(void)unused;
	char err[1024];
	struct strata_history *h;
	/* a database as strata with schema 1 left it */
	assert_int_equal(strata_history_open(db, 1, &h, err, sizeof(err)), 0);
	assert_int_equal(strata_history_version(h), 1);
	assert_int_equal(
	    strata_history_exec(h,
	                        "INSERT INTO runs VALUES ('old-run', '2026-01-01T00:00:00.000Z', "
	                        "'nightly', 2, 1, '2026-01-01T01:00:00Z');"
	                        "INSERT INTO results VALUES ('old-run', "
	                        "'gemm[device=cpu,dtype=float64,m=64]@default', 'gemm', 'default', "
	                        "'gflops', 'GFLOP/s', 1, 57.5);",
	                        err, sizeof(err)),
	    0);
	/* version 1 had no case_key column */
	assert_int_not_equal(
	    strata_history_exec(h, "SELECT case_key FROM results;", err, sizeof(err)), 0);
	strata_history_close(h);

	/* opening it migrates to the current schema, keeping the rows */
	assert_int_equal(strata_history_open(db, STRATA_HISTORY_SCHEMA, &h, err, sizeof(err)), 0);
	assert_int_equal(strata_history_version(h), STRATA_HISTORY_SCHEMA);
	char *csv = csv_of(h);
	/* case_key backfilled from the metric key, status from version 1's
	 * "passed cases only" */
	assert_non_null(
	    strstr(csv, "old-run,2026-01-01T00:00:00.000Z,\"gemm[device=cpu,dtype=float64,m=64]\","
	                "gemm,default,gflops,GFLOP/s,true,57.5,,,,,passed,"));
	free(csv);
	/* the series index exists */
	assert_int_equal(strata_history_exec(h, "DROP INDEX results_series;", err, sizeof(err)), 0);
	strata_history_close(h);
}

static void test_newer_schema_refused(void **unused)
{
	(void)unused;
	char err[1024];
	struct strata_history *h;
	assert_int_equal(strata_history_open(db, STRATA_HISTORY_SCHEMA, &h, err, sizeof(err)), 0);
	assert_int_equal(strata_history_exec(h, "PRAGMA user_version = 99;", err, sizeof(err)), 0);
	strata_history_close(h);
	assert_int_equal(strata_history_open(db, STRATA_HISTORY_SCHEMA, &h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "schema version 99, newer"));
	assert_null(h);
	unlink(db);
}

static void test_not_a_database(void **unused)
{
	(void)unused;
	FILE *f = fopen(db, "w");
	fputs("this is not SQLite, it is a text file with enough bytes to have a header.......\n",
	      f);
	fclose(f);
	char err[1024];
	struct strata_history *h;
	assert_int_equal(strata_history_open(db, STRATA_HISTORY_SCHEMA, &h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "h.sqlite"));
	unlink(db);
}

static void test_ingest_once(void **unused)
{
	(void)unused;
	char err[1024];
	struct strata_history *h;
	assert_int_equal(strata_history_open(db, STRATA_HISTORY_SCHEMA, &h, err, sizeof(err)), 0);
	struct strata_run run = {0};
	run.manifest = json_pack("{s:s,s:s,s:{s:s},s:b,s:i,s:[{s:s,s:[i]}],s:{s:s}}", "run_id",
	                         "r1", "start_time", "2026-02-01T00:00:00.000Z", "plan", "name",
	                         "p", "complete", 1, "ranks", 1, "hosts", "hostname", "h1", "ranks",
	                         0, "strata", "strata_git_commit", "abc");
	run.records = json_pack(
	    "[{s:s,s:s,s:s,s:s,s:{s:i},s:{s:i},s:{s:{s:s,s:b,s:f,s:f,s:[f,f]}}}]", "metric_key",
	    "null[bytes=8]@default", "suite", "null", "variant", "default", "status", "passed",
	    "params", "bytes", 8, "stats", "n", 5, "metrics", "time", "unit", "us",
	    "higher_is_better", 0, "median", 1.5, "best", 1.25, "ci95_median", 1.25, 2.0);
	assert_int_equal(strata_history_ingest(h, &run, err, sizeof(err)), 1);
	assert_int_equal(strata_history_ingest(h, &run, err, sizeof(err)), 0); /* already there */
	char *csv = csv_of(h);
	assert_non_null(
	    strstr(csv, "r1,2026-02-01T00:00:00.000Z,null[bytes=8],null,default,time,us,false,"
	                "1.5,1.25,1.25,2,5,passed,"));
	free(csv);
	char *om = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&om, &len);
	assert_int_equal(strata_history_openmetrics(h, NULL, f, err, sizeof(err)), 0);
	fclose(f);
	assert_non_null(strstr(om, "strata_figure_median{suite=\"null\",case=\"null[bytes=8]\","
	                           "variant=\"default\",metric=\"time\",unit=\"us\"} 1.5\n"));
	assert_non_null(strstr(om, "# EOF\n"));
	free(om);
	json_decref(run.manifest);
	json_decref(run.records);
	strata_history_close(h);
	unlink(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_migration_from_v1),
	    cmocka_unit_test(test_newer_schema_refused),
	    cmocka_unit_test(test_not_a_database),
	    cmocka_unit_test(test_ingest_once),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
