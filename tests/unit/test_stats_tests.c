/* test_stats_tests.c: the reports' inferential statistics against values
 * worked out by hand or by an independent method, and their behaviour on
 * synthetic samples: a known difference is found, identical samples show
 * none, the false-positive rate stays near 5%, a step in a series is found
 * and noise is not. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reports/stats_tests.h"

#define NEAR(a, b, eps) assert_true(fabs((a) - (b)) <= (eps))

/* Lognormal samples around m with relative sd, from a seeded generator
 * (Box-Muller on splitmix64). */
static void lognormal(struct strata_rng *r, double m, double sd, double *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double u1 = ((double)(strata_rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
		double u2 = ((double)(strata_rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
		double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
		out[i] = m * exp(sd * z);
	}
}

static void test_distributions(void **unused)
{
	(void)unused;
	NEAR(strata_normal_cdf(1.959963984540054), 0.975, 1e-9);
	NEAR(strata_normal_quantile(0.975), 1.959963984540054, 1e-9);
	/* Student t: table values t(0.975, 9) = 2.262, t(0.975, 4) = 2.776 */
	NEAR(strata_t_cdf(2.262, 9), 0.97499, 1e-4);
	NEAR(strata_t_quantile(0.975, 4), 2.776445, 1e-5);
	NEAR(strata_t_cdf(0, 7), 0.5, 1e-12);
	NEAR(strata_t_cdf(-2.262, 9), 1 - strata_t_cdf(2.262, 9), 1e-12);
	NEAR(strata_t_quantile(0.975, 1e6), 1.96, 1e-3);
}

static void test_median_mad(void **unused)
{
	(void)unused;
	const double x[] = {5, 1, 9, 3, 7};
	NEAR(strata_median(x, 5), 5, 0);
	/* |x - 5| = 0, 4, 4, 2, 2 -> 2 */
	NEAR(strata_mad(x, 5, 5), 2, 0);
	const double y[] = {4, 1, 3, 2};
	NEAR(strata_median(y, 4), 2.5, 0);
}

static void test_welch_by_hand(void **unused)
{
	(void)unused;
	/* logs 1, 2, 3 against 2, 3, 4: difference 1, variances 1, se =
	 * sqrt(2/3), t = 1.2247, Welch-Satterthwaite df = 4; two-sided p =
	 * 0.28786 (t distribution integrated numerically, independently). */
	const double a[] = {exp(1), exp(2), exp(3)}, b[] = {exp(2), exp(3), exp(4)};
	struct strata_diff d;
	assert_int_equal(strata_diff_welch(a, 3, b, 3, &d), 0);
	NEAR(d.ratio, exp(1), 1e-9);
	NEAR(d.p_value, 0.287864, 1e-4);
	double hw = 2.776445 * sqrt(2.0 / 3);
	NEAR(log(d.ci_lo), 1 - hw, 1e-4);
	NEAR(log(d.ci_hi), 1 + hw, 1e-4);
	assert_int_equal(strata_diff_welch(a, 1, b, 3, &d), -1);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void test_wilcoxon_by_hand(void **unused)
{
	(void)unused;
	/* every pair higher: T+ = n(n+1)/2, exact two-sided p = 2 / 2^n */
	double a[10], b[10];
	for (int i = 0; i < 10; i++) {
		a[i] = 100;
		b[i] = 100 * exp(0.01 * (i + 1) + 0.001 * i * i);
	}
	struct strata_diff d;
	assert_int_equal(strata_diff_paired(a, b, 5, &d), 0);
	NEAR(d.p_value, 2.0 / 32, 1e-12);
	assert_int_equal(strata_diff_paired(a, b, 6, &d), 0);
	NEAR(d.p_value, 2.0 / 64, 1e-12);

	/* n = 10: the Hodges-Lehmann estimate is the median of the 55 Walsh
	 * averages; the 95% interval is [W(9), W(47)] (Hollander & Wolfe: the
	 * signed-rank critical value for n = 10 at 0.025 is P(T+ <= 8) =
	 * 25/1024 = 0.0244, so C = 9). */
	double dlog[10], w[55];
	for (int i = 0; i < 10; i++) {
		b[i] = 100 * exp(((i * 7) % 10 - 3) * 0.01);
		dlog[i] = log(b[i] / a[i]);
	}
	int k = 0;
	for (int i = 0; i < 10; i++)
		for (int j = i; j < 10; j++)
			w[k++] = 0.5 * (dlog[i] + dlog[j]);
	qsort(w, 55, sizeof(double), cmp);
	assert_int_equal(strata_diff_paired(a, b, 10, &d), 0);
	assert_int_equal(d.method, STRATA_DIFF_WILCOXON);
	NEAR(log(d.ratio), w[27], 1e-12);
	NEAR(log(d.ci_lo), w[8], 1e-12);
	NEAR(log(d.ci_hi), w[46], 1e-12);
}

static void test_bootstrap_known_difference(void **unused)
{
	(void)unused;
	struct strata_rng r = {7};
	double a[30], b[30];
	lognormal(&r, 1.0, 0.02, a, 30);
	lognormal(&r, 1.10, 0.02, b, 30);
	struct strata_diff d, d2;
	assert_int_equal(strata_diff_bootstrap(a, 30, b, 30, 2000, 42, &d), 0);
	assert_true(d.ci_lo > 1.0);                    /* significant */
	assert_true(d.ci_lo < 1.10 && d.ci_hi > 1.10); /* and covers the truth */
	assert_true(d.p_value < 0.01);
	/* reproducible: the same seed gives the same interval */
	assert_int_equal(strata_diff_bootstrap(a, 30, b, 30, 2000, 42, &d2), 0);
	NEAR(d.ci_lo, d2.ci_lo, 0);
	NEAR(d.ci_hi, d2.ci_hi, 0);

	/* identical samples: ratio 1, an interval around it, nothing significant */
	assert_int_equal(strata_diff_bootstrap(a, 30, a, 30, 2000, 42, &d), 0);
	NEAR(d.ratio, 1, 0);
	assert_true(d.ci_lo <= 1 && d.ci_hi >= 1);
	assert_true(d.p_value > 0.5);
	assert_int_equal(strata_diff_paired(a, a, 30, &d), 0);
	NEAR(d.ratio, 1, 0);
	NEAR(d.p_value, 1, 0);
	assert_int_equal(strata_diff_welch(a, 30, a, 30, &d), 0);
	NEAR(d.p_value, 1, 1e-12);
}

/* Over many pairs drawn from one distribution, each test calls about 5% of
 * them significant (bounded loosely: 200 trials); a 5% shift with 2% noise
 * is found nearly always. */
static void test_error_rates(void **unused)
{
	(void)unused;
	struct strata_rng r = {2024};
	enum { TRIALS = 200, N = 20 };
	int fp_boot = 0, fp_welch = 0, fp_pair = 0, hit_boot = 0, hit_pair = 0;
	double a[N], b[N], drift[N];
	for (int t = 0; t < TRIALS; t++) {
		lognormal(&r, 1.0, 0.03, a, N);
		lognormal(&r, 1.0, 0.03, b, N);
		struct strata_diff d;
		strata_diff_bootstrap(a, N, b, N, 1000, (uint64_t)t, &d);
		fp_boot += d.ci_lo > 1 || d.ci_hi < 1;
		strata_diff_welch(a, N, b, N, &d);
		fp_welch += d.ci_lo > 1 || d.ci_hi < 1;
		strata_diff_paired(a, b, N, &d);
		fp_pair += d.ci_lo > 1 || d.ci_hi < 1;
		if (t < 100) {
			/* a drifting machine hits both alike: pairing removes it */
			lognormal(&r, 1.0, 0.02, a, N);
			lognormal(&r, 1.05, 0.02, b, N);
			for (int i = 0; i < N; i++) {
				drift[i] = 1 + 0.2 * i / N;
				a[i] *= drift[i];
				b[i] *= drift[i];
			}
			strata_diff_paired(a, b, N, &d);
			hit_pair += d.ci_lo > 1;
			lognormal(&r, 1.0, 0.02, a, N);
			lognormal(&r, 1.05, 0.02, b, N);
			strata_diff_bootstrap(a, N, b, N, 1000, (uint64_t)t, &d);
			hit_boot += d.ci_lo > 1;
		}
	}
	print_message("false positives of %d: bootstrap %d, Welch %d, paired %d; hits of 100: "
	              "bootstrap %d, paired (with drift) %d\n",
	              TRIALS, fp_boot, fp_welch, fp_pair, hit_boot, hit_pair);
	assert_true(fp_boot <= 24); /* the percentile bootstrap runs a little liberal at n = 20 */
	assert_true(fp_welch <= 20);
	assert_true(fp_pair <= 20);
	assert_true(hit_boot >= 95);
	assert_true(hit_pair >= 95);
}

static void test_edivisive_step(void **unused)
{
	(void)unused;
	struct strata_rng r = {99};
	double x[40];
	size_t cps[8];
	for (int trial = 0; trial < 20; trial++) {
		lognormal(&r, 100, 0.02, x, 40);
		for (int i = 25; i < 40; i++)
			x[i] *= 0.9; /* a 10% drop from index 25 */
		int n = strata_edivisive(x, 40, 3, 0.05, 199, (uint64_t)trial, cps, 8);
		assert_true(n >= 1);
		/* the step is found where it is (the largest change is found first,
		 * and sorted changes include it) */
		int found = 0;
		for (int k = 0; k < n; k++)
			found |= cps[k] >= 24 && cps[k] <= 26;
		assert_true(found);
	}
	/* two steps: up then back down */
	lognormal(&r, 100, 0.01, x, 40);
	for (int i = 12; i < 26; i++)
		x[i] *= 1.15;
	int n = strata_edivisive(x, 40, 3, 0.05, 199, 5, cps, 8);
	assert_true(n >= 2);
	int at12 = 0, at26 = 0;
	for (int k = 0; k < n; k++) {
		at12 |= cps[k] >= 11 && cps[k] <= 13;
		at26 |= cps[k] >= 25 && cps[k] <= 27;
	}
	assert_true(at12 && at26);
}

static void test_edivisive_noise(void **unused)
{
	(void)unused;
	struct strata_rng r = {123};
	double x[40];
	size_t cps[8];
	int with_change = 0;
	for (int trial = 0; trial < 40; trial++) {
		lognormal(&r, 100, 0.02, x, 40);
		with_change += strata_edivisive(x, 40, 3, 0.05, 199, (uint64_t)trial, cps, 8) > 0;
	}
	print_message("noise-only series with a change point: %d of 40\n", with_change);
	assert_true(with_change <= 6); /* alpha 0.05: about 2 expected */
	/* constant series: nothing, and no division by zero */
	for (int i = 0; i < 40; i++)
		x[i] = 5;
	assert_int_equal(strata_edivisive(x, 40, 3, 0.05, 99, 1, cps, 8), 0);
	/* too short to split */
	assert_int_equal(strata_edivisive(x, 5, 3, 0.05, 99, 1, cps, 8), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_distributions),
	    cmocka_unit_test(test_median_mad),
	    cmocka_unit_test(test_welch_by_hand),
	    cmocka_unit_test(test_wilcoxon_by_hand),
	    cmocka_unit_test(test_bootstrap_known_difference),
	    cmocka_unit_test(test_error_rates),
	    cmocka_unit_test(test_edivisive_step),
	    cmocka_unit_test(test_edivisive_noise),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
