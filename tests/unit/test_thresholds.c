/* test_thresholds.c: thresholds files (every error names file:line:column and
 * the key), threshold rules, the node-outlier rule (median of peers and
 * MAD, naming the host) and its drain list, on runs built in memory. */
#define _GNU_SOURCE
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "reports/check.h"

static char path[64];

static int write_yaml(const char *text)
{
	snprintf(path, sizeof(path), "/tmp/strata-test-check-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Load text as a thresholds file; returns the error message ("" when it
 * loaded). */
static const char *load(const char *text, struct strata_thresholds *t)
{
	static char err[1024];
	err[0] = '\0';
	assert_int_equal(write_yaml(text), 0);
	if (strata_thresholds_load(path, t, err, sizeof(err)) == 0)
		assert_string_equal(err, "");
	unlink(path);
	return err;
}

static void expect_error(const char *text, const char *where, const char *what)
{
	struct strata_thresholds t;
	const char *err = load(text, &t);
	char want[128];
	snprintf(want, sizeof(want), "%s:%s: ", path, where);
	if (!strstr(err, want) || !strstr(err, what))
		fail_msg("error '%s' lacks '%s' or '%s'", err, want, what);
}

static void test_file_errors(void **unused)
{
	(void)unused;
	expect_error("thresholds:\n  - suite: gemm\n    metrik: gflops\n    min: 1\n", "3:5",
	             "unknown key 'metrik'");
	expect_error("thresholds:\n  - suite: gemm\n    metric: gflops\n    min: fast\n", "4:10",
	             "min: expected a number, got 'fast'");
	expect_error("thresholds:\n  - suite: gem\n    metric: gflops\n    min: 1\n", "2:12",
	             "unknown suite 'gem'");
	expect_error("thresholds:\n  - suite: gemm\n    metric: gflops\n", "2:5",
	             "give min, max, min_fraction_of_peak");
	expect_error(
	    "thresholds:\n  - suite: gemm\n    metric: gflops\n    where: {dtyp: float64}\n"
	    "    min: 1\n",
	    "4:13", "suite gemm has no parameter 'dtyp'");
	expect_error(
	    "thresholds:\n  - suite: gemm\n    metric: gflops\n    where: {dtype: float65}\n"
	    "    min: 1\n",
	    "4:20", "where.dtype");
	expect_error("outliers:\n  - suite: gemm\n    metric: gflops\n", "2:5",
	             "max_deviation_pct");
	expect_error("thresholds:\n  - suite: gemm\n   metric: [\n", "3:4", "YAML syntax error");
	expect_error("outliers:\n  - suite: gemm\n    max_deviation_pct: 5\n    min_nodes: 1e300\n",
		     "4:16", "min_nodes: an integer from 2 to 1000000");
	expect_error("name: x\n", "1:1", "nothing to check");
	expect_error("threshold:\n  - {suite: gemm}\n", "1:1", "unknown key 'threshold'");
	expect_error("missing: maybe\nthresholds: []\n", "1:10", "missing: expected fail or skip");
}

static void test_file_loads(void **unused)
{
	(void)unused;
	struct strata_thresholds t;
	const char *err =
	    load("name: n\nmissing: skip\nthresholds:\n"
	         "  - {suite: allreduce, where: {size: 64K}, metric: busbw, min: 1}\n"
	         "outliers:\n  - {suite: gemm, metric: gflops, max_deviation_pct: 10}\n",
	         &t);
	assert_string_equal(err, "");
	assert_int_equal(t.n_rules, 2);
	assert_int_equal(t.missing_fail, 0);
	/* sizes are stored canonically: 64K is 65536 bytes */
	assert_string_equal(t.rules[0].where[0].value, "65536");
	assert_int_equal(t.rules[1].kind, STRATA_RULE_OUTLIER);
	assert_int_equal(t.rules[1].min_nodes, 3);
	strata_thresholds_release(&t);
}

/* A gemm record over hosts h00..h(n-1), two ranks each, every rank's median
 * time being t; host slow_host's ranks take slow_factor times longer. */
static json_t *gemm_record(int hosts, int slow_host, double slow_factor)
{
	const double flops = 2.0 * 1024 * 1024 * 1024, t = 0.01;
	json_t *per_rank = json_array();
	for (int r = 0; r < 2 * hosts; r++) {
		char host[16];
		snprintf(host, sizeof(host), "h%02d", r / 2);
		double tr = t * (r / 2 == slow_host ? slow_factor : 1.0) * (1 + 0.001 * (r % 3));
		json_array_append_new(
		    per_rank, json_pack("{s:i,s:s,s:i,s:f,s:f,s:f,s:f,s:{s:s,s:s,s:f}}", "rank", r,
		                        "host", host, "n", 10, "median_s", tr, "mean_s", tr,
		                        "min_s", tr, "max_s", tr, "metric", "name", "gflops",
		                        "unit", "GFLOP/s", "value", flops / tr / 1e9));
	}
	double tm = t * slow_factor;
	return json_pack("{s:s,s:s,s:s,s:s,s:i,s:{s:s,s:i},s:{s:f,s:f,s:f},s:{s:{s:s,s:b,s:f,s:f,s:"
	                 "f,s:[f,f]}},s:o}",
	                 "metric_key", "gemm[dtype=float64,m=1024]@default", "suite", "gemm",
	                 "variant", "default", "status", "passed", "ranks", 2 * hosts, "params",
	                 "dtype", "float64", "m", 1024, "stats", "median", tm, "min", tm * 0.99,
	                 "mean", tm * 1.01, "metrics", "gflops", "unit", "GFLOP/s",
	                 "higher_is_better", 1, "median", flops / tm / 1e9, "best",
	                 flops / (tm * 0.99) / 1e9, "mean", flops / (tm * 1.01) / 1e9,
	                 "ci95_median", flops / tm / 1e9, flops / tm / 1e9, "per_rank", per_rank);
}

struct outcome {
	struct strata_check_result res;
	char *text, *junit, *drain;
};

static void run_check(json_t *record, const char *rules, struct outcome *o)
{
	struct strata_thresholds t;
	assert_string_equal(load(rules, &t), "");
	struct strata_run run = {0};
	run.manifest = json_pack("{s:s}", "run_id", "test-run");
	run.records = json_pack("[o]", record);
	struct strata_peaks peaks = {0};
	size_t a, b, c;
	FILE *text = open_memstream(&o->text, &a), *junit = open_memstream(&o->junit, &b),
	     *drain = open_memstream(&o->drain, &c);
	strata_check_run(&run, &t, &peaks, text, junit, drain, &o->res);
	fclose(text);
	fclose(junit);
	fclose(drain);
	json_decref(run.manifest);
	json_decref(run.records);
	strata_thresholds_release(&t);
}

static void outcome_free(struct outcome *o)
{
	free(o->text);
	free(o->junit);
	free(o->drain);
}

static const char OUTLIER_RULE[] = "outliers:\n  - suite: gemm\n    metric: gflops\n"
                                   "    max_deviation_pct: 10\n    mad_threshold: 3.5\n";

static void test_outlier_named(void **unused)
{
	(void)unused;
	struct outcome o;
	/* 8 hosts, h05 takes 1/0.85 as long: 15% below its peers */
	run_check(gemm_record(8, 5, 1 / 0.85), OUTLIER_RULE, &o);
	assert_int_equal(o.res.checks, 1);
	assert_int_equal(o.res.failed, 1);
	assert_int_equal(o.res.suspects, 1);
	assert_non_null(strstr(o.text, "FAIL"));
	assert_non_null(strstr(o.text, "h05:"));
	assert_non_null(
	    strstr(o.drain,
	           "scontrol update NodeName=h05 State=DRAIN Reason=\"strata check: gemm gflops"));
	assert_null(strstr(o.drain, "NodeName=h04"));
	assert_non_null(strstr(o.junit, "tests=\"1\" failures=\"1\""));
	assert_non_null(strstr(o.junit, "<failure message=\"h05:"));
	outcome_free(&o);
}

static void test_outlier_within_tolerance(void **unused)
{
	(void)unused;
	struct outcome o;
	/* 5% slower: inside the 10% allowed */
	run_check(gemm_record(8, 2, 1.05), OUTLIER_RULE, &o);
	assert_int_equal(o.res.passed, 1);
	assert_int_equal(o.res.suspects, 0);
	assert_string_equal(o.drain, "");
	outcome_free(&o);
	/* a faster node is not a bad node */
	run_check(gemm_record(8, 2, 0.7), OUTLIER_RULE, &o);
	assert_int_equal(o.res.passed, 1);
	outcome_free(&o);
	/* two nodes: the rule needs three (min_nodes) */
	run_check(gemm_record(2, 1, 2.0), OUTLIER_RULE, &o);
	assert_int_equal(o.res.skipped, 1);
	assert_non_null(strstr(o.junit, "<skipped message=\"not applicable: 2 node(s)"));
	outcome_free(&o);
}

static void test_thresholds(void **unused)
{
	(void)unused;
	struct outcome o;
	/* median 214.7 GFLOP/s: min 200 passes, max 150 fails, mean statistic
	 * is lower; a where that matches nothing fails by default */
	run_check(gemm_record(4, -1, 1.0),
	          "thresholds:\n"
	          "  - {suite: gemm, metric: gflops, where: {dtype: float64}, min: 200}\n"
	          "  - {suite: gemm, metric: gflops, max: 150}\n"
	          "  - {suite: gemm, metric: gflops, statistic: mean, min: 213}\n"
	          "  - {suite: gemm, metric: gflops, where: {dtype: float32}, min: 1}\n"
	          "  - {suite: gemm, metric: gflopz, min: 1}\n"
	          "  - {suite: gemm, metric: gflops, min_fraction_of_peak: 0.5}\n",
	          &o);
	assert_int_equal(o.res.checks, 6);
	assert_int_equal(o.res.passed, 1);
	assert_int_equal(o.res.failed, 5);
	assert_non_null(strstr(o.text, "PASS  gemm gflops median >= 200"));
	assert_non_null(strstr(o.text, "> max 150"));
	assert_non_null(strstr(o.text, "mean 212.6 GFLOP/s < min 213"));
	assert_non_null(strstr(o.text, "no record matches this rule"));
	assert_non_null(strstr(o.text, "no figure 'gflopz' (it has: gflops)"));
	assert_non_null(strstr(o.text, "peak unknown"));
	outcome_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_file_errors),   cmocka_unit_test(test_file_loads),
	    cmocka_unit_test(test_outlier_named), cmocka_unit_test(test_outlier_within_tolerance),
	    cmocka_unit_test(test_thresholds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
