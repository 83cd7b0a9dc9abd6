/* loadgen_stats.c: the statistics of the LoadGen-style driver (loadgen.h):
 * the distribution of a measure (type-7 percentiles), LoadGen's own order
 * statistic, the regularized incomplete beta function and the binomial
 * tail it gives, and the early-stopping criterion of MLPerf's inference
 * rules (appendix "Early Stopping Criterion"; early_stopping.cc): h(t), the
 * violation test, SingleStream's estimate, and the fewest queries a valid
 * run needs.  Not the judging of one run (loadgen_verdict.c), which applies
 * these.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/stats.h"
#include "kernels/nn/loadgen_internal.h"

const double strata_loadgen_quantiles[STRATA_LOADGEN_NQ] = {0.5, 0.9, 0.95, 0.99, 0.999};

/* ---- percentiles ------------------------------------------------------------------ */

int strata_loadgen_dist_compute(const double *v, size_t n, struct strata_loadgen_dist *out)
{
	memset(out, 0, sizeof(*out));
	if (n == 0)
		return 0;
	double *s = malloc(n * sizeof(*s));
	if (!s)
		return -1;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), strata_cmp_double);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += s[i];
	out->n = (int64_t)n;
	out->min_s = s[0];
	out->max_s = s[n - 1];
	out->mean_s = sum / (double)n;
	for (int q = 0; q < STRATA_LOADGEN_NQ; q++)
		out->q_s[q] = strata_quantile_sorted(s, n, strata_loadgen_quantiles[q]);
	free(s);
	return 0;
}

double strata_loadgen_percentile_loadgen(const double *sorted, size_t n, double p)
{
	if (n == 0)
		return NAN;
	size_t i = (size_t)((double)n * p);
	return sorted[i < n ? i : n - 1];
}

/* ---- early stopping ---------------------------------------------------------------- */

double strata_loadgen_binom_cdf(int64_t k, int64_t n, double q)
{
	if (k < 0)
		return 0;
	if (k >= n)
		return 1;
	return strata_beta_reg(1 - q, (double)(n - k), (double)(k + 1));
}

void strata_loadgen_es_init(struct strata_loadgen_es *es, double p, double c)
{
	*es = (struct strata_loadgen_es){.p = p, .c = c};
}

void strata_loadgen_es_release(struct strata_loadgen_es *es)
{
	free(es->h);
	es->h = NULL;
	es->n = es->cap = 0;
}

/* I_p(h, t + 1) <= 1 - c: with h under and t over, a system whose true
 * underlatency probability were only p would do this well with odds at
 * most 1 - c (early_stopping.cc, odds() and find_min_passing()). */
static int es_passes(const struct strata_loadgen_es *es, int64_t h, int64_t t)
{
	return strata_beta_reg(es->p, (double)h, (double)(t + 1)) <= 1 - es->c;
}

int64_t strata_loadgen_es_min_passing(struct strata_loadgen_es *es, int64_t t)
{
	if (t < 0)
		t = 0;
	while (es->n <= t) {
		if (es->n == es->cap) {
			int64_t cap = es->cap ? es->cap * 2 : 64;
			int64_t *nh = realloc(es->h, (size_t)cap * sizeof(*nh));
			if (!nh)
				return -1;
			es->h = nh;
			es->cap = cap;
		}
		int64_t tt = es->n, h;
		if (tt == 0) {
			/* I_p(h, 1) = p^h <= 1 - c. */
			h = (int64_t)ceil(log(1 - es->c) / log(es->p) - 1e-9);
			if (h < 1)
				h = 1;
			while (h > 1 && es_passes(es, h - 1, 0))
				h--;
			while (!es_passes(es, h, 0))
				h++;
		} else {
			/* h(t) >= h(t - 1): widen by doubling steps, then bisect. */
			int64_t lo = es->h[tt - 1], hi = lo, step = 1;
			while (!es_passes(es, hi, tt)) {
				lo = hi + 1;
				hi += step;
				step *= 2;
			}
			while (lo < hi) {
				int64_t mid = lo + (hi - lo) / 2;
				if (es_passes(es, mid, tt))
					hi = mid;
				else
					lo = mid + 1;
			}
			h = lo;
		}
		es->h[es->n++] = h;
	}
	return es->h[t];
}

int strata_loadgen_es_violated(double p, double c, int64_t t, int64_t n)
{
	if (t <= 0 || n <= 0)
		return 0;
	if (t > n)
		t = n;
	/* P(X >= t) = I_q(t, n - t + 1) for X ~ Binomial(n, q), q = 1 - p. */
	double tail = strata_beta_reg(1 - p, (double)t, (double)(n - t + 1));
	return tail <= 1 - c;
}

double strata_loadgen_es_estimate(struct strata_loadgen_es *es, const double *sorted, int64_t q)
{
	int64_t h1 = strata_loadgen_es_min_passing(es, 1);
	if (h1 < 0 || q < h1 + 1)
		return 0;
	int64_t t = 1;
	for (int64_t i = 2; i <= q; i++) {
		int64_t h = strata_loadgen_es_min_passing(es, i);
		if (h < 0)
			return 0;
		if (q < h + i) {
			t = i - 1;
			break;
		}
	}
	return sorted[q - t];
}

int64_t strata_loadgen_min_valid_queries(const struct strata_loadgen_settings *s)
{
	int64_t n = s->min_queries;
	int bounded = 0;
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++)
		bounded |= s->bound_s[m] > 0;
	double p = s->percentile > 0 ? s->percentile
	                             : (s->scenario == STRATA_LOADGEN_SERVER ? 0.99 : 0.90);
	double c = s->confidence > 0 ? s->confidence : 0.99;
	if (bounded || s->scenario == STRATA_LOADGEN_SINGLE_STREAM) {
		struct strata_loadgen_es es;
		strata_loadgen_es_init(&es, p, c);
		/* SingleStream's estimate needs h(1) + 1; a bound h(0). */
		int64_t h = s->scenario == STRATA_LOADGEN_SINGLE_STREAM
		                ? strata_loadgen_es_min_passing(&es, 1) + 1
		                : strata_loadgen_es_min_passing(&es, 0);
		strata_loadgen_es_release(&es);
		if (h > n)
			n = h;
	}
	return n;
}
