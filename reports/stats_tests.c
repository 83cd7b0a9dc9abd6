/* stats_tests.c: see stats_tests.h for the methods and their sources. */
#include "reports/stats_tests.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/stats.h"

/* ---- random numbers ----------------------------------------------------- */

uint64_t strata_rng_next(struct strata_rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

size_t strata_rng_below(struct strata_rng *r, size_t n)
{
	/* Modulo: the bias (at most n / 2^64) is far below anything a few
	 * thousand resamples could show. */
	return (size_t)(strata_rng_next(r) % (uint64_t)n);
}

uint64_t strata_hash_text(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* ---- location and scale ------------------------------------------------- */

double strata_median(const double *x, size_t n)
{
	if (n == 0)
		return NAN;
	double *s = malloc(n * sizeof(*s));
	if (!s)
		return NAN;
	memcpy(s, x, n * sizeof(*s));
	qsort(s, n, sizeof(*s), strata_cmp_double);
	double m = strata_quantile_sorted(s, n, 0.5);
	free(s);
	return m;
}

double strata_mad(const double *x, size_t n, double med)
{
	if (n == 0)
		return NAN;
	double *d = malloc(n * sizeof(*d));
	if (!d)
		return NAN;
	for (size_t i = 0; i < n; i++)
		d[i] = fabs(x[i] - med);
	double m = strata_median(d, n);
	free(d);
	return m;
}

/* Median of v[0..n) by Wirth's selection (Algorithms + Data Structures =
 * Programs, 1976, sec. 2.3.4), which reorders v; type-7 for even n. */
static double select_kth(double *v, long n, long k)
{
	long l = 0, m = n - 1;
	while (l < m) {
		double x = v[k];
		long i = l, j = m;
		do {
			while (v[i] < x)
				i++;
			while (x < v[j])
				j--;
			if (i <= j) {
				double t = v[i];
				v[i] = v[j];
				v[j] = t;
				i++;
				j--;
			}
		} while (i <= j);
		if (j < k)
			l = i;
		if (k < i)
			m = j;
	}
	return v[k];
}

static double select_median(double *v, size_t n)
{
	long k = ((long)n - 1) / 2;
	double m = select_kth(v, (long)n, k);
	if (n % 2 == 0) {
		double next = DBL_MAX; /* the smallest value above position k */
		for (size_t i = (size_t)k + 1; i < n; i++)
			if (v[i] < next)
				next = v[i];
		m = 0.5 * (m + next);
	}
	return m;
}

/* ---- distributions ------------------------------------------------------ */

double strata_normal_cdf(double z)
{
	return 0.5 * erfc(-z / sqrt(2.0));
}

double strata_normal_quantile(double p)
{
	double lo = -40, hi = 40;
	for (int i = 0; i < 200 && hi - lo > 1e-13; i++) {
		double mid = 0.5 * (lo + hi);
		if (strata_normal_cdf(mid) < p)
			lo = mid;
		else
			hi = mid;
	}
	return 0.5 * (lo + hi);
}

double strata_t_cdf(double t, double df)
{
	if (isinf(df))
		return strata_normal_cdf(t);
	double tail = 0.5 * strata_beta_reg(df / (df + t * t), df / 2, 0.5);
	return t >= 0 ? 1 - tail : tail;
}

double strata_t_quantile(double p, double df)
{
	double lo = -1e6, hi = 1e6;
	for (int i = 0; i < 300 && hi - lo > 1e-12 * (1 + fabs(lo)); i++) {
		double mid = 0.5 * (lo + hi);
		if (strata_t_cdf(mid, df) < p)
			lo = mid;
		else
			hi = mid;
	}
	return 0.5 * (lo + hi);
}

/* ---- two-sample comparisons --------------------------------------------- */

const char *strata_diff_method_name(enum strata_diff_method m)
{
	switch (m) {
	case STRATA_DIFF_BOOTSTRAP:
		return "bootstrap of the ratio of medians (percentile)";
	case STRATA_DIFF_WELCH:
		return "Welch t on log values";
	case STRATA_DIFF_WILCOXON:
		return "Wilcoxon signed-rank on paired log ratios, Hodges-Lehmann interval";
	case STRATA_DIFF_PAIRED_T:
		return "paired t on log ratios";
	}
	return "?";
}

int strata_diff_bootstrap(const double *a, size_t na, const double *b, size_t nb, size_t resamples,
                          uint64_t seed, struct strata_diff *out)
{
	memset(out, 0, sizeof(*out));
	out->method = STRATA_DIFF_BOOTSTRAP;
	out->n_a = na;
	out->n_b = nb;
	if (na < 2 || nb < 2 || resamples < 10)
		return -1;
	double *buf = malloc((na > nb ? na : nb) * sizeof(*buf));
	double *lr = malloc(resamples * sizeof(*lr)); /* log ratios, (resamples) */
	if (!buf || !lr) {
		free(buf);
		free(lr);
		return -1;
	}
	out->ratio = strata_median(b, nb) / strata_median(a, na);
	struct strata_rng rng = {seed};
	size_t below = 0, above = 0;
	for (size_t r = 0; r < resamples; r++) {
		for (size_t i = 0; i < na; i++)
			buf[i] = a[strata_rng_below(&rng, na)];
		double ma = select_median(buf, na);
		for (size_t i = 0; i < nb; i++)
			buf[i] = b[strata_rng_below(&rng, nb)];
		double mb = select_median(buf, nb);
		lr[r] = log(mb / ma);
		below += lr[r] <= 0;
		above += lr[r] >= 0;
	}
	qsort(lr, resamples, sizeof(*lr), strata_cmp_double);
	out->ci_lo = exp(strata_quantile_sorted(lr, resamples, 0.025));
	out->ci_hi = exp(strata_quantile_sorted(lr, resamples, 0.975));
	double tail = (double)(below < above ? below : above) / (double)resamples;
	out->p_value = fmin(1.0, 2 * tail);
	free(buf);
	free(lr);
	return 0;
}

static void mean_var_log(const double *x, size_t n, double *mean, double *var)
{
	double s = 0, ss = 0;
	for (size_t i = 0; i < n; i++)
		s += log(x[i]);
	*mean = s / (double)n;
	for (size_t i = 0; i < n; i++)
		ss += (log(x[i]) - *mean) * (log(x[i]) - *mean);
	*var = ss / (double)(n - 1);
}

int strata_diff_welch(const double *a, size_t na, const double *b, size_t nb,
                      struct strata_diff *out)
{
	memset(out, 0, sizeof(*out));
	out->method = STRATA_DIFF_WELCH;
	out->n_a = na;
	out->n_b = nb;
	if (na < 2 || nb < 2)
		return -1;
	double ma, va, mb, vb;
	mean_var_log(a, na, &ma, &va);
	mean_var_log(b, nb, &mb, &vb);
	double sa = va / (double)na, sb = vb / (double)nb, se = sqrt(sa + sb);
	double diff = mb - ma;
	out->ratio = exp(diff);
	if (se == 0) {
		out->ci_lo = out->ci_hi = out->ratio;
		out->p_value = diff == 0 ? 1 : 0;
		return 0;
	}
	/* Welch-Satterthwaite */
	double df =
	    (sa + sb) * (sa + sb) / (sa * sa / (double)(na - 1) + sb * sb / (double)(nb - 1));
	double t = diff / se, q = strata_t_quantile(0.975, df);
	out->ci_lo = exp(diff - q * se);
	out->ci_hi = exp(diff + q * se);
	out->p_value = 2 * strata_t_cdf(-fabs(t), df);
	return 0;
}

/* Exact null distribution of the signed-rank statistic: counts[w] = number
 * of subsets of {1..n} summing to w, w = 0 .. n(n+1)/2. */
static double *signed_rank_counts(size_t n)
{
	size_t max = n * (n + 1) / 2;
	double *c = calloc(max + 1, sizeof(*c));
	if (!c)
		return NULL;
	c[0] = 1;
	for (size_t k = 1; k <= n; k++)
		for (size_t w = max; w >= k; w--)
			c[w] += c[w - k];
	return c;
}

struct absrank {
	double abs;
	int positive;
	double rank;
};

static int cmp_absrank(const void *a, const void *b)
{
	return strata_cmp_double(&((const struct absrank *)a)->abs, &((const struct absrank *)b)->abs);
}

/* Paired t on d (the large-n fallback). */
static void paired_t(const double *d, size_t n, struct strata_diff *out)
{
	double s = 0, ss = 0;
	for (size_t i = 0; i < n; i++)
		s += d[i];
	double mean = s / (double)n;
	for (size_t i = 0; i < n; i++)
		ss += (d[i] - mean) * (d[i] - mean);
	double se = sqrt(ss / (double)(n - 1) / (double)n), df = (double)(n - 1);
	double q = strata_t_quantile(0.975, df);
	out->method = STRATA_DIFF_PAIRED_T;
	out->ratio = exp(mean);
	out->ci_lo = exp(mean - q * se);
	out->ci_hi = exp(mean + q * se);
	out->p_value = se > 0 ? 2 * strata_t_cdf(-fabs(mean / se), df) : (mean == 0 ? 1 : 0);
}

int strata_diff_paired(const double *a, const double *b, size_t n, struct strata_diff *out)
{
	memset(out, 0, sizeof(*out));
	out->method = STRATA_DIFF_WILCOXON;
	out->n_a = out->n_b = n;
	if (n < 2)
		return -1;
	double *d = malloc(n * sizeof(*d));
	struct absrank *r = malloc(n * sizeof(*r));
	if (!d || !r) {
		free(d);
		free(r);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		d[i] = log(b[i] / a[i]);
	int rc = 0;
	if (n > 2000) {
		paired_t(d, n, out);
		goto out;
	}

	/* Signed-rank statistic: zeros dropped (Wilcoxon's convention), ties
	 * given their average rank. */
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (d[i] != 0)
			r[m++] = (struct absrank){fabs(d[i]), d[i] > 0, 0};
	qsort(r, m, sizeof(*r), cmp_absrank);
	double tie_term = 0, tplus = 0;
	int ties = 0;
	for (size_t i = 0; i < m;) {
		size_t j = i;
		while (j + 1 < m && r[j + 1].abs == r[i].abs)
			j++;
		double avg = 0.5 * (double)(i + j + 2), t = (double)(j - i + 1);
		if (t > 1) {
			ties = 1;
			tie_term += t * t * t - t;
		}
		for (size_t k = i; k <= j; k++)
			r[k].rank = avg;
		i = j + 1;
	}
	for (size_t i = 0; i < m; i++)
		if (r[i].positive)
			tplus += r[i].rank;
	double mm = (double)m, mean = mm * (mm + 1) / 4;
	if (m == 0) {
		out->p_value = 1;
	} else if (m <= 50 && !ties && m == n) {
		double *cnt = signed_rank_counts(m);
		if (!cnt) {
			rc = -1;
			goto out;
		}
		size_t max = m * (m + 1) / 2, w = (size_t)llround(tplus);
		double total = ldexp(1.0, (int)m), lo = 0, hi = 0;
		for (size_t k = 0; k <= max; k++) {
			if (k <= w)
				lo += cnt[k];
			if (k >= w)
				hi += cnt[k];
		}
		out->p_value = fmin(1.0, 2 * fmin(lo, hi) / total);
		free(cnt);
	} else {
		double var = mm * (mm + 1) * (2 * mm + 1) / 24 - tie_term / 48;
		double dev = tplus - mean;
		double z = var > 0 ? (fabs(dev) - 0.5 > 0 ? fabs(dev) - 0.5 : 0) / sqrt(var) : 0;
		out->p_value = fmin(1.0, 2 * (1 - strata_normal_cdf(z)));
	}

	/* Hodges-Lehmann estimate and interval from the n(n+1)/2 Walsh
	 * averages (d_i + d_j) / 2, i <= j. */
	size_t M = n * (n + 1) / 2, k = 0;
	double *walsh = malloc(M * sizeof(*walsh));
	if (!walsh) {
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i; j < n; j++)
			walsh[k++] = 0.5 * (d[i] + d[j]);
	qsort(walsh, M, sizeof(*walsh), strata_cmp_double);
	out->ratio = exp(strata_quantile_sorted(walsh, M, 0.5));
	/* k* = the largest k with P(T+ <= k - 1) <= 0.025; the interval is
	 * [W(k*), W(M + 1 - k*)] (Hollander & Wolfe, eq. 3.21-3.22). */
	long kstar;
	if (n <= 50) {
		double *cnt = signed_rank_counts(n);
		if (!cnt) {
			free(walsh);
			rc = -1;
			goto out;
		}
		double total = ldexp(1.0, (int)n), cum = 0;
		kstar = 0;
		for (size_t w = 0; w < M; w++) {
			cum += cnt[w];
			if (cum / total > 0.025)
				break;
			kstar = (long)w + 1;
		}
		free(cnt);
	} else {
		double nn = (double)n;
		kstar = (long)floor(nn * (nn + 1) / 4 -
		                    1.959963984540054 * sqrt(nn * (nn + 1) * (2 * nn + 1) / 24));
	}
	if (kstar < 1)
		kstar = 1; /* n < 6: no 95% interval exists; [min, max] covers more */
	out->ci_lo = exp(walsh[kstar - 1]);
	out->ci_hi = exp(walsh[M - (size_t)kstar]);
	free(walsh);
out:
	free(d);
	free(r);
	return rc;
}

/* ---- E-divisive means --------------------------------------------------- */

/* Best split of v[0..n) by the scaled energy statistic
 *   Q(tau) = m k / (m + k) * (2/(m k) sum|x - y| - 1/C(m,2) sum|x - x'| - 1/C(k,2) sum|y - y'|)
 * with X = v[0..tau), Y = v[tau..n), m = tau, k = n - tau (Matteson & James
 * 2014, eq. 4-5, alpha = 1, the end point fixed at the segment's end).
 * Sums are updated as one value moves from Y to X: O(n^2) per call. */
static double best_split(const double *v, size_t n, size_t min_size, size_t *tau)
{
	*tau = 0;
	if (n < 2 * min_size)
		return -DBL_MAX;
	double sx = 0, sy = 0, cross = 0, best = -DBL_MAX;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			sy += fabs(v[i] - v[j]);
	for (size_t t = 0; t + min_size <= n; t++) {
		/* move v[t] from Y to X */
		double rx = 0, ry = 0;
		for (size_t i = 0; i < t; i++)
			rx += fabs(v[t] - v[i]);
		for (size_t j = t + 1; j < n; j++)
			ry += fabs(v[t] - v[j]);
		sx += rx;
		sy -= ry;
		cross += ry - rx;
		size_t m = t + 1, k = n - m;
		if (m < min_size || k < min_size)
			continue;
		double dm = (double)m, dk = (double)k;
		double e = 2 * cross / (dm * dk) - (m > 1 ? sx / (dm * (dm - 1) / 2) : 0) -
		           (k > 1 ? sy / (dk * (dk - 1) / 2) : 0);
		double q = dm * dk / (dm + dk) * e;
		if (q > best) {
			best = q;
			*tau = m;
		}
	}
	return best;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return (x > y) - (x < y);
}

int strata_edivisive(const double *x, size_t n, size_t min_size, double alpha, size_t permutations,
                     uint64_t seed, size_t *cps, size_t max_cps)
{
	if (min_size < 2)
		min_size = 2;
	size_t *bounds = malloc((max_cps + 2) * sizeof(*bounds)); /* segment starts + n */
	double *perm = malloc((n ? n : 1) * sizeof(*perm));
	if (!bounds || !perm) {
		free(bounds);
		free(perm);
		return -1;
	}
	size_t nb = 2, found = 0;
	bounds[0] = 0;
	bounds[1] = n;
	struct strata_rng rng = {seed};
	while (found < max_cps) {
		/* the best new split over every current segment */
		double best = -DBL_MAX;
		size_t best_at = 0;
		for (size_t s = 0; s + 1 < nb; s++) {
			size_t tau;
			double q =
			    best_split(x + bounds[s], bounds[s + 1] - bounds[s], min_size, &tau);
			if (q > best) {
				best = q;
				best_at = bounds[s] + tau;
			}
		}
		if (best == -DBL_MAX)
			break;
		/* permutation test: shuffle within each segment, as the null
		 * hypothesis is "no change inside any of them" */
		size_t as_large = 0;
		for (size_t p = 0; p < permutations; p++) {
			memcpy(perm, x, n * sizeof(*perm));
			double pbest = -DBL_MAX;
			for (size_t s = 0; s + 1 < nb; s++) {
				size_t lo = bounds[s], len = bounds[s + 1] - bounds[s], tau;
				for (size_t i = len; i > 1; i--) { /* Fisher-Yates */
					size_t j = strata_rng_below(&rng, i);
					double t = perm[lo + i - 1];
					perm[lo + i - 1] = perm[lo + j];
					perm[lo + j] = t;
				}
				double q = best_split(perm + lo, len, min_size, &tau);
				if (q > pbest)
					pbest = q;
			}
			as_large += pbest >= best;
		}
		double pval = (double)(as_large + 1) / (double)(permutations + 1);
		if (pval > alpha)
			break;
		cps[found++] = best_at;
		bounds[nb++] = best_at;
		qsort(bounds, nb, sizeof(*bounds), cmp_size);
	}
	qsort(cps, found, sizeof(*cps), cmp_size);
	free(bounds);
	free(perm);
	return (int)found;
}
