/* stats_tests.h: the inferential statistics of the reports: comparing two
 * sets of samples, robust location and scale, and change points in a series.
 *
 * Two samples (compare), each answering "how much larger is B than A" as a
 * ratio with a 95% confidence interval:
 *   - unpaired, default: percentile bootstrap of the ratio of medians
 *     (Efron & Tibshirani, An Introduction to the Bootstrap, 1993, ch. 13),
 *     resampling each sample independently with a seeded generator, so a
 *     report is reproducible; p-value: twice the smaller tail of the
 *     bootstrap distribution of log(ratio) beyond 0 (the achieved
 *     significance level of a percentile interval, ibid. ch. 15-16);
 *   - unpaired, on request: Welch's t-test on log values (Welch, Biometrika
 *     34, 1947), Welch-Satterthwaite degrees of freedom; the ratio is that of
 *     geometric means.  Logs, because timing noise is multiplicative and
 *     skewed;
 *   - paired (interleaved variants, sample i of A taken next to sample i of
 *     B): Wilcoxon signed-rank test on d_i = log(b_i / a_i) (Wilcoxon,
 *     Biometrics Bulletin 1, 1945), exact null distribution for n <= 50
 *     without ties or zeros, else the normal approximation with tie and
 *     continuity corrections; the ratio is exp of the Hodges-Lehmann
 *     estimate (median of the Walsh averages) and its interval the
 *     distribution-free one from order statistics of the Walsh averages
 *     (Hollander & Wolfe, Nonparametric Statistical Methods, 2nd ed., 1999,
 *     sec. 3.2-3.3).  Above 2000 pairs (n(n+1)/2 Walsh averages would not
 *     fit comfortably), a paired t on the log ratios.
 *
 * Robust scale: MAD, scaled by 1.4826 to estimate a normal sigma
 * (Rousseeuw & Croux, JASA 88, 1993); modified z-score 0.6745 (x - median)
 * / MAD (Iglewicz & Hoaglin, How to Detect and Handle Outliers, 1993).
 *
 * Change points: E-divisive means (Matteson & James, "A Nonparametric
 * Approach for Multiple Change Point Analysis of Multivariate Data", JASA
 * 109, 2014), alpha = 1, as used for performance CI by MongoDB (Daly et al.,
 * "The Use of Change Point Detection to Identify Software Performance
 * Regressions in a Continuous Integration System", ICPE 2020): bisect the
 * series at the split that maximises the scaled energy distance between the
 * two sides, keep it when a permutation test says it is significant, repeat
 * on the pieces.
 */
#ifndef STRATA_STATS_TESTS_H
#define STRATA_STATS_TESTS_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64 (Steele, Lea & Flood, OOPSLA 2014): small, fast, seedable. */
struct strata_rng {
	uint64_t state;
};
uint64_t strata_rng_next(struct strata_rng *r);
/* Uniform integer in [0, n). */
size_t strata_rng_below(struct strata_rng *r, size_t n);
/* FNV-1a hash of a text, to seed a generator from a case key. */
uint64_t strata_hash_text(const char *s);

/* Median of n values (copied, not reordered; type-7 as in harness/stats.h). */
double strata_median(const double *x, size_t n);
/* Median absolute deviation from med, unscaled. */
double strata_mad(const double *x, size_t n, double med);

/* Standard normal and Student t distribution functions. */
double strata_normal_cdf(double z);
double strata_normal_quantile(double p);
double strata_t_cdf(double t, double df);
double strata_t_quantile(double p, double df);

enum strata_diff_method {
	STRATA_DIFF_BOOTSTRAP,
	STRATA_DIFF_WELCH,
	STRATA_DIFF_WILCOXON,
	STRATA_DIFF_PAIRED_T,
};

struct strata_diff {
	enum strata_diff_method method;
	double ratio;        /* B over A (see above for which location) */
	double ci_lo, ci_hi; /* 95% interval of the ratio */
	double p_value;      /* two-sided */
	size_t n_a, n_b;
};

const char *strata_diff_method_name(enum strata_diff_method m);

/* Unpaired: bootstrap of the ratio of medians with resamples draws (seeded),
 * or Welch on logs.  Every value must be > 0.  Returns 0, or -1 when a
 * sample has fewer than 2 values (or memory runs out). */
int strata_diff_bootstrap(const double *a, size_t na, const double *b, size_t nb, size_t resamples,
                          uint64_t seed, struct strata_diff *out);
int strata_diff_welch(const double *a, size_t na, const double *b, size_t nb,
                      struct strata_diff *out);
/* Paired: b[i] against a[i], i < n (n >= 2). */
int strata_diff_paired(const double *a, const double *b, size_t n, struct strata_diff *out);

/* E-divisive means over x[0..n): writes the change points (index of the
 * first value after each change, ascending) into cps (at most max_cps).
 * min_size: the fewest values a segment may have (>= 2); alpha: the
 * permutation test's significance level; permutations: how many (e.g. 199).
 * Returns how many were found, or -1 when memory runs out. */
int strata_edivisive(const double *x, size_t n, size_t min_size, double alpha, size_t permutations,
                     uint64_t seed, size_t *cps, size_t max_cps);

#endif
