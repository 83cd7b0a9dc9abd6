/* test_measure.c: the measurement loop through the null suite, one MPI rank:
 * each outcome is recorded as such, samples and statistics are consistent
 * and the repetition rules (count, max_count) hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <mpi.h>

#include "harness/measure.h"
#include "harness/plan.h"
#include "harness/suite.h"

static char *hostname[1] = { "testhost" };

static enum strata_outcome measure(const char *case_yaml, json_t **rec)
{
	char text[1024], err[1024];
	snprintf(text, sizeof(text), "name: t\nrun: {warmup: {iterations: 1}, repetitions: {count: 5}}\n"
				     "cases:\n  - %s\n", case_yaml);
	struct strata_plan plan;
	if (strata_plan_parse(text, strlen(text), "t.yaml", &plan, err, sizeof(err)) != 0)
		fail_msg("plan: %s", err);
	struct strata_rank_info ri = { .comm = MPI_COMM_WORLD, .rank = 0, .nranks = 1,
				       .local_rank = 0, .local_size = 1, .hostnames = hostname };
	enum strata_outcome o = strata_measure_case(&ri, &plan.cases[0], "v", rec);
	strata_plan_release(&plan);
	return o;
}

static const char *status(json_t *rec)
{
	return json_string_value(json_object_get(rec, "status"));
}

static void test_pass_records_samples_and_stats(void **unused)
{
	(void)unused;
	json_t *rec;
	assert_int_equal(measure("{suite: null, sleep_us: 200, bytes: 1M}", &rec), STRATA_PASSED);
	assert_string_equal(status(rec), "passed");
	json_t *samples = json_object_get(rec, "samples_s");
	assert_int_equal(json_array_size(samples), 5);
	json_t *stats = json_object_get(rec, "stats");
	assert_int_equal(json_integer_value(json_object_get(stats, "n")), 5);
	double med = json_real_value(json_object_get(stats, "median"));
	assert_true(med >= 200e-6 && med < 1.0); /* slept at least 200 us */
	json_t *rate = json_object_get(json_object_get(rec, "metrics"), "rate");
	double gbps = json_real_value(json_object_get(rate, "median"));
	assert_true(gbps > 0 && gbps * 1e9 * med > 1048576 * 0.999 && gbps * 1e9 * med < 1048576 * 1.001);
	assert_true(json_is_true(json_object_get(json_object_get(rec, "validation"), "passed")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(rec, "method"), "warmup_iterations")), 1);
	json_decref(rec);
}

static void test_each_failure_is_named(void **unused)
{
	(void)unused;
	static const struct { const char *yaml; enum strata_outcome o; const char *status, *reason; } rows[] = {
		{ "{suite: null, fail: verify}", STRATA_FAILED, "failed", "validation: 1 wrong" },
		{ "{suite: null, fail: skip}", STRATA_SKIPPED, "skipped", "asked to skip" },
		{ "{suite: null, fail: setup}", STRATA_ERRORED, "error", "fail in setup" },
		{ "{suite: null, fail: run}", STRATA_ERRORED, "error", "fail in run" },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		json_t *rec;
		enum strata_outcome o = measure(rows[i].yaml, &rec);
		const char *reason = json_string_value(json_object_get(rec, "reason"));
		if (o != rows[i].o || strcmp(status(rec), rows[i].status) || !reason || !strstr(reason, rows[i].reason))
			fail_msg("%s: outcome %d status %s reason %s", rows[i].yaml, o, status(rec), reason);
		json_decref(rec);
	}
}

static void test_max_count_caps_min_seconds(void **unused)
{
	(void)unused;
	json_t *rec;
	assert_int_equal(measure("{suite: null, run: {repetitions: {count: 3, min_seconds: 100, max_count: 7}}}", &rec),
			 STRATA_PASSED);
	assert_int_equal(json_array_size(json_object_get(rec, "samples_s")), 7);
	json_decref(rec);
	assert_int_equal(measure("{suite: null, run: {repetitions: {count: 3, min_seconds: 0.05}}}", &rec),
			 STRATA_PASSED);
	assert_true(json_array_size(json_object_get(rec, "samples_s")) > 3);
	json_decref(rec);
}

static void test_timeout_stops_repetitions(void **unused)
{
	(void)unused;
	json_t *rec;
	assert_int_equal(measure("{suite: null, sleep_us: 20000, run: {repetitions: {count: 1000}, timeout_s: 0.2}}", &rec),
			 STRATA_TIMED_OUT);
	assert_string_equal(status(rec), "timeout");
	size_t n = json_array_size(json_object_get(rec, "samples_s"));
	assert_true(n >= 1 && n < 1000);
	json_decref(rec);
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass_records_samples_and_stats),
		cmocka_unit_test(test_each_failure_is_named),
		cmocka_unit_test(test_max_count_caps_min_seconds),
		cmocka_unit_test(test_timeout_stops_repetitions),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	MPI_Finalize();
	return rc;
}
