/* test_results.c: results directory rules, JSON lines round trip, atomic
 * rewrite of the manifest. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness/results.h"

static char base[256];

static int setup(void **unused)
{
	(void)unused;
	snprintf(base, sizeof(base), "/tmp/strata-test-results-XXXXXX");
	return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **unused)
{
	(void)unused;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_generated_dirs_are_unique(void **unused)
{
	(void)unused;
	char a[4096], b[4096], err[512];
	assert_int_equal(strata_results_make_dir(base, NULL, a, sizeof(a), err, sizeof(err)), 0);
	assert_int_equal(strata_results_make_dir(base, NULL, b, sizeof(b), err, sizeof(err)), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(access(a, W_OK), 0);
	/* <UTC timestamp>-<6 hex>: 16 characters of stamp, dash, 6 hex */
	const char *name = strrchr(a, '/') + 1;
	assert_int_equal(strlen(name), 16 + 1 + 6);
	assert_int_equal(name[15], 'Z');
}

static void test_explicit_dir_never_overwrites(void **unused)
{
	(void)unused;
	char dir[4096], out[4096], err[512], path[4200];
	snprintf(dir, sizeof(dir), "%s/explicit/nested", base);
	assert_int_equal(strata_results_make_dir(base, dir, out, sizeof(out), err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	json_t *m = json_pack("{s:b}", "complete", 0);
	assert_int_equal(strata_write_json_atomic(path, m, err, sizeof(err)), 0);
	json_decref(m);
	assert_int_equal(strata_results_make_dir(base, dir, out, sizeof(out), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "never overwrites"));
}

static void test_jsonl_round_trip(void **unused)
{
	(void)unused;
	char dir[4096], err[512], path[4200];
	assert_int_equal(strata_results_make_dir(base, NULL, dir, sizeof(dir), err, sizeof(err)), 0);
	struct strata_results r;
	assert_int_equal(strata_results_open(&r, dir, err, sizeof(err)), 0);
	const double samples[] = { 1.5e-6, 2.25e-3, 0.1 };
	for (int i = 0; i < 3; i++) {
		json_t *rec = json_pack("{s:i,s:s,s:f,s:[f,f]}", "case_index", i, "metric_key", "k[a=1]@v",
					"sample", samples[i], "ci", samples[i] * 0.5, samples[i] * 2);
		assert_int_equal(strata_results_append(&r, rec, err, sizeof(err)), 0);
		json_decref(rec);
	}
	strata_results_mllog(&r, "POINT_IN_TIME", "result", json_real(3.5), NULL);
	strata_results_close(&r);

	snprintf(path, sizeof(path), "%s/results.jsonl", dir);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[4096];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		json_error_t je;
		json_t *rec = json_loads(line, 0, &je);
		if (!rec)
			fail_msg("line %d does not parse: %s", n + 1, je.text);
		assert_int_equal(json_integer_value(json_object_get(rec, "case_index")), n);
		assert_true(json_real_value(json_object_get(rec, "sample")) == samples[n]);
		json_decref(rec);
		n++;
	}
	fclose(f);
	assert_int_equal(n, 3);

	snprintf(path, sizeof(path), "%s/mllog.txt", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_int_equal(strncmp(line, ":::MLLOG {", 10), 0);
	json_t *ml = json_loads(line + 9, 0, NULL);
	assert_non_null(ml);
	assert_string_equal(json_string_value(json_object_get(ml, "event_type")), "POINT_IN_TIME");
	assert_true(json_is_integer(json_object_get(ml, "time_ms")));
	assert_string_equal(json_string_value(json_object_get(ml, "namespace")), "");
	json_decref(ml);
}

static void test_atomic_rewrite_leaves_no_temp(void **unused)
{
	(void)unused;
	char path[4200], err[512];
	snprintf(path, sizeof(path), "%s/manifest.json", base);
	for (int i = 0; i < 3; i++) {
		json_t *m = json_pack("{s:i}", "version", i);
		assert_int_equal(strata_write_json_atomic(path, m, err, sizeof(err)), 0);
		json_decref(m);
	}
	json_t *back = json_load_file(path, 0, NULL);
	assert_non_null(back);
	assert_int_equal(json_integer_value(json_object_get(back, "version")), 2);
	json_decref(back);
	DIR *d = opendir(base);
	struct dirent *e;
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".tmp."))
			fail_msg("temporary file left behind: %s", e->d_name);
	closedir(d);
	/* a directory that does not exist: an error naming the path, no crash */
	assert_int_equal(strata_write_json_atomic("/nonexistent-dir/m.json", back, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent-dir/m.json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generated_dirs_are_unique),
		cmocka_unit_test(test_explicit_dir_never_overwrites),
		cmocka_unit_test(test_jsonl_round_trip),
		cmocka_unit_test(test_atomic_rewrite_leaves_no_temp),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
