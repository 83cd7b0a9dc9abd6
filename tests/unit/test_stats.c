/* test_stats.c: statistics against values computed by hand. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness/stats.h"

#define NEAR(a, b, eps) assert_true(fabs((a) - (b)) <= (eps))

static void test_small_sample(void **unused)
{
	(void)unused;
	/* 1..10 shuffled.  mean 5.5, median 5.5, sample sd = sqrt(82.5/9) =
	 * 3.0276503540974917, p99 (type 7) = 9 + 0.91 * 1 = 9.91. */
	const double x[] = { 7, 3, 10, 1, 5, 9, 2, 8, 4, 6 };
	struct strata_stats s;
	assert_int_equal(strata_stats_compute(x, 10, &s), 0);
	assert_int_equal(s.n, 10);
	NEAR(s.min, 1, 0);
	NEAR(s.max, 10, 0);
	NEAR(s.mean, 5.5, 1e-12);
	NEAR(s.median, 5.5, 1e-12);
	NEAR(s.stddev, 3.0276503540974917, 1e-12);
	NEAR(s.p99, 9.91, 1e-12);
	/* t(0.975, 9) = 2.262: 5.5 +- 2.262 * 3.02765 / sqrt(10) = 5.5 +- 2.16571 */
	NEAR(s.ci95_mean_lo, 5.5 - 2.262 * 3.0276503540974917 / sqrt(10.0), 1e-9);
	NEAR(s.ci95_mean_hi, 5.5 + 2.262 * 3.0276503540974917 / sqrt(10.0), 1e-9);
	/* median CI, n = 10: j = floor(5 - 3.099) = 1, k = ceil(6 + 3.099) = 10
	 * -> [x(1), x(10)] = [1, 10] */
	NEAR(s.ci95_median_lo, 1, 0);
	NEAR(s.ci95_median_hi, 10, 0);
	/* input untouched */
	NEAR(x[0], 7, 0);
}

static void test_median_ci_large_n(void **unused)
{
	(void)unused;
	/* n = 100 values 1..100: j = floor(50 - 9.8) = 40, k = ceil(51 + 9.8) = 61 */
	double x[100];
	for (int i = 0; i < 100; i++)
		x[i] = 100 - i;
	struct strata_stats s;
	assert_int_equal(strata_stats_compute(x, 100, &s), 0);
	NEAR(s.median, 50.5, 1e-12);
	NEAR(s.ci95_median_lo, 40, 0);
	NEAR(s.ci95_median_hi, 61, 0);
	NEAR(s.p99, 99.01, 1e-9);
}

static void test_edge_cases(void **unused)
{
	(void)unused;
	struct strata_stats s;
	assert_int_equal(strata_stats_compute(NULL, 0, &s), -1);
	const double one[] = { 4.25 };
	assert_int_equal(strata_stats_compute(one, 1, &s), 0);
	NEAR(s.median, 4.25, 0);
	NEAR(s.stddev, 0, 0);
	NEAR(s.ci95_mean_lo, 4.25, 0);
	NEAR(strata_t975(1), 12.706, 1e-9);
	NEAR(strata_t975(30), 2.042, 1e-9);
	NEAR(strata_t975(120), 1.980, 2e-3); /* table value 1.980 */
	NEAR(strata_t975(100000), 1.96, 1e-3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_sample),
		cmocka_unit_test(test_median_ci_large_n),
		cmocka_unit_test(test_edge_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
