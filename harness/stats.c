/* stats.c: see stats.h for the definitions used and their sources. */
#include "harness/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int strata_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double strata_quantile_sorted(const double *sorted, size_t n, double q)
{
	if (n == 0)
		return NAN;
	if (q <= 0)
		return sorted[0];
	if (q >= 1)
		return sorted[n - 1];
	double h = (double)(n - 1) * q;
	size_t lo = (size_t)floor(h);
	double frac = h - (double)lo;
	if (lo + 1 >= n)
		return sorted[n - 1];
	return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

double strata_t975(size_t df)
{
	/* Exact table for small df (standard t tables); Cornish-Fisher expansion
	 * around z = 1.959964 beyond it (error < 1e-4 for df > 30). */
	static const double table[] = {
		NAN,    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262,
		2.228,  2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093,
		2.086,  2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045,
		2.042,
	};
	if (df == 0)
		return NAN;
	if (df < sizeof(table) / sizeof(table[0]))
		return table[df];
	double z = 1.959963984540054, v = (double)df;
	double z3 = z * z * z, z5 = z3 * z * z;
	return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v);
}

int strata_stats_compute(const double *samples, size_t n, struct strata_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (n == 0)
		return -1;
	double *s = malloc(n * sizeof(*s));
	if (!s)
		return -1;
	memcpy(s, samples, n * sizeof(*s));
	qsort(s, n, sizeof(*s), strata_cmp_double);

	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += s[i];
	double mean = sum / (double)n;
	double ss = 0;
	for (size_t i = 0; i < n; i++)
		ss += (s[i] - mean) * (s[i] - mean);

	out->n = n;
	out->min = s[0];
	out->max = s[n - 1];
	out->mean = mean;
	out->median = strata_quantile_sorted(s, n, 0.5);
	out->p99 = strata_quantile_sorted(s, n, 0.99);
	out->stddev = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;

	/* Median CI: the order statistics j and k (1-based) with
	 * j = floor(n/2 - 1.96 sqrt(n)/2), k = ceil(1 + n/2 + 1.96 sqrt(n)/2),
	 * clamped to the sample; for small n this widens to [min, max]. */
	double half = 1.959963984540054 * sqrt((double)n) / 2.0;
	long j = (long)floor((double)n / 2.0 - half);
	long k = (long)ceil(1.0 + (double)n / 2.0 + half);
	if (j < 1)
		j = 1;
	if (k > (long)n)
		k = (long)n;
	out->ci95_median_lo = s[j - 1];
	out->ci95_median_hi = s[k - 1];

	if (n > 1) {
		double hw = strata_t975(n - 1) * out->stddev / sqrt((double)n);
		out->ci95_mean_lo = mean - hw;
		out->ci95_mean_hi = mean + hw;
	} else {
		out->ci95_mean_lo = out->ci95_mean_hi = mean;
	}
	free(s);
	return 0;
}

/* The continued fraction of DLMF 8.17.22,
 *   I_x(a,b) = x^a (1-x)^b / (a B(a,b)) * 1 / (1 + d1 / (1 + d2 / (1 + ...)))
 *   d_2m   =  m (b - m) x / ((a + 2m - 1)(a + 2m))
 *   d_2m+1 = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)),
 * evaluated with the modified Lentz algorithm (Thompson & Barnett, J. Comput.
 * Phys. 64, 1986): f = b0 + a1/(b1 + a2/(b2 + ...)) with b0 = 0, a1 = 1 and
 * a_{j+1} = d_j, every b_j = 1. */
static double beta_cf(double x, double a, double b)
{
	const double tiny = 1e-300, eps = 1e-15;
	double f = tiny, C = f, D = 0;
	for (int j = 1; j < 100000; j++) {
		double aj;
		if (j == 1) {
			aj = 1;
		} else {
			int k = j - 1; /* d_k */
			double m = (double)(k / 2);
			if (k % 2 == 0)
				aj = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
			else
				aj = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
		}
		D = 1 + aj * D;
		if (fabs(D) < tiny)
			D = tiny;
		C = 1 + aj / C;
		if (fabs(C) < tiny)
			C = tiny;
		D = 1 / D;
		double delta = C * D;
		f *= delta;
		if (fabs(delta - 1) < eps)
			break;
	}
	return f;
}

double strata_beta_reg(double x, double a, double b)
{
	if (x <= 0)
		return 0;
	if (x >= 1)
		return 1;
	if (x > (a + 1) / (a + b + 2))
		return 1 - strata_beta_reg(1 - x, b, a);
	double lbeta = lgamma(a) + lgamma(b) - lgamma(a + b);
	double front = exp(a * log(x) + b * log1p(-x) - lbeta) / a;
	return front * beta_cf(x, a, b);
}
