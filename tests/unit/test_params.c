/* test_params.c: size parsing (1024-based, as nccl-tests) and typed values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness/params.h"

static void test_sizes(void **unused)
{
	(void)unused;
	static const struct { const char *text; int64_t bytes; } ok[] = {
		{ "8", 8 }, { "8B", 8 }, { "64K", 65536 }, { "64KiB", 65536 },
		{ "256MiB", 256LL << 20 }, { "1G", 1LL << 30 }, { "1GiB", 1LL << 30 },
		{ "2T", 2LL << 40 }, { " 4M ", 4LL << 20 },
	};
	char err[256];
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t v = -1;
		if (strata_parse_size(ok[i].text, &v, err, sizeof(err)) != 0 || v != ok[i].bytes)
			fail_msg("'%s' gave %lld (%s), want %lld", ok[i].text, (long long)v, err,
				 (long long)ok[i].bytes);
	}
	static const char *const bad[] = { "", "K", "-1", "1GB", "1 X", "1.5G", "99999999999999999999", "8E" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t v;
		if (strata_parse_size(bad[i], &v, err, sizeof(err)) == 0)
			fail_msg("'%s' accepted as %lld", bad[i], (long long)v);
		assert_true(strlen(err) > 0);
	}
	int64_t v;
	assert_int_equal(strata_parse_size("16777216T", &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too large"));
}

static void test_values(void **unused)
{
	(void)unused;
	struct strata_param_def e = { .name = "dtype", .type = STRATA_PT_ENUM, .choices = "float|double" };
	struct strata_param_def i = { .name = "n", .type = STRATA_PT_INT, .min = 1, .max = 10 };
	struct strata_param_def b = { .name = "inplace", .type = STRATA_PT_BOOL, .min = 1, .max = 0 };
	struct strata_value v;
	char err[256], buf[64];
	assert_int_equal(strata_value_parse(&e, "double", &v, err, sizeof(err)), 0);
	assert_int_equal(v.i, 1);
	assert_int_equal(strata_value_parse(&e, "half", &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "float|double"));
	assert_int_equal(strata_value_parse(&i, "10", &v, err, sizeof(err)), 0);
	assert_int_equal(strata_value_parse(&i, "11", &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(strata_value_parse(&i, "3.5", &v, err, sizeof(err)), -1);
	assert_int_equal(strata_value_parse(&b, "yes", &v, err, sizeof(err)), 0);
	strata_value_format(&b, &v, buf, sizeof(buf));
	assert_string_equal(buf, "true");
	/* Doubles: the shortest text that reads back exactly. */
	struct strata_param_def d = { .name = "p", .type = STRATA_PT_DOUBLE, .min = 1, .max = 0 };
	const double cases[] = { 0.9, 0.1 + 0.2, 1e-300, 2.5e9, 1000, 1e20, 1.0 / 3.0 };
	const char *want[] = { "0.9", "0.30000000000000004", "1e-300", "2500000000", "1000", "1e+20",
			       "0.3333333333333333" };
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		v.d = cases[k];
		strata_value_format(&d, &v, buf, sizeof(buf));
		assert_string_equal(buf, want[k]);
		assert_true(strtod(buf, NULL) == cases[k]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
