/* stats.h: descriptive statistics of raw timing samples.
 *
 * Quantiles use linear interpolation between order statistics (Hyndman & Fan
 * type 7, numpy's default).  Two 95% confidence intervals are given, each
 * named for what it covers:
 *   - of the median: distribution-free, from binomial order statistics
 *     (Conover, Practical Nonparametric Statistics, 3rd ed., 1999, sec. 3.2),
 *     normal approximation to the binomial; it needs no assumption about the
 *     shape of timing noise, which is skewed;
 *   - of the mean: Student's t, mean +- t(0.975, n-1) * s / sqrt(n).
 * The median's interval is the one reports quote (timings are not normal).
 */
#ifndef STRATA_STATS_H
#define STRATA_STATS_H

#include <stddef.h>

struct strata_stats {
	size_t n;
	double min, max, median, mean;
	double stddev;               /* sample standard deviation (n - 1) */
	double p99;                  /* type-7 quantile 0.99 */
	double ci95_median_lo, ci95_median_hi;
	double ci95_mean_lo, ci95_mean_hi;
};

/* Compute over n samples (n >= 1; copied, not reordered).  Returns 0, or -1
 * when n == 0 or memory runs out. */
int strata_stats_compute(const double *samples, size_t n, struct strata_stats *out);

/* qsort comparator of doubles, ascending. */
int strata_cmp_double(const void *a, const void *b);

/* Type-7 quantile of already sorted data, 0 <= q <= 1. */
double strata_quantile_sorted(const double *sorted, size_t n, double q);

/* Two-sided 97.5% quantile of Student's t with df degrees of freedom. */
double strata_t975(size_t df);

/* Regularized incomplete beta function I_x(a, b), a, b > 0, 0 <= x <= 1, by
 * its continued fraction (DLMF 8.17.22), with I_x(a,b) = 1 - I_{1-x}(b,a)
 * where that converges faster.  Student's t and the binomial tail are made
 * from it (reports/stats_tests.c, kernels/nn/loadgen_stats.c). */
double strata_beta_reg(double x, double a, double b);

#endif
