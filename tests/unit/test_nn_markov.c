/* test_nn_markov.c: unit tests of the synthetic corpus (kernels/nn/markov.c).
 *
 * Covers: the entropy rate and stationary distribution of a hand-worked
 * order-1 chain; an order-2 table and a seeded order-2 chain against a
 * brute-force computation here (pi by Gaussian elimination on the context
 * matrix, h both as sum pi H and as H_{k+1} - H_k); the loss floor (h at
 * order 1, (H2 - H1 + (T-1) h) / T at order 2); the sampler's next-token
 * frequencies against the cdf (chi-square with a fixed seed), its context
 * frequencies and the first context of many streams against pi; the true
 * model's mean log-loss on a long sample against h; determinism (same seed, same tokens; the chain
 * independent of the thread count); bad arguments naming the field.  Not a benchmark.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <omp.h>

#include "kernels/nn/markov.h"

/* ---- brute force ------------------------------------------------------------------ */

/* P(x | s) of a built chain, from its cdf (the probabilities the sampler uses). */
static double prob(const struct strata_markov *m, size_t s, int x)
{
	const float *row = m->cdf + s * (size_t)m->vocab;
	return (double)row[x] - (x ? (double)row[x - 1] : 0.0);
}

/* The brute force below reads P from here: a table's exact entries, or
 * a seeded chain's float cdf through prob(). */
static const double *brute_table;

static double brute_p(const struct strata_markov *m, size_t s, int x)
{
	return brute_table ? brute_table[s * (size_t)m->vocab + (size_t)x] : prob(m, s, x);
}

/* Stationary distribution of the context chain by solving pi (M - I) = 0,
 * sum pi = 1 with Gaussian elimination (partial pivoting): independent of
 * the power iteration under test.  M[s][s'] = P(x | s), s' = (s V + x) mod n. */
static void brute_pi(const struct strata_markov *m, double *pi)
{
	size_t n = m->n_ctx, V = (size_t)m->vocab;
	double *A = calloc(n * (n + 1), sizeof(*A)); /* rows: equations, (n, n+1) augmented */
	assert_non_null(A);
	/* equation for s': sum_s pi(s) (M[s][s'] - delta) = 0, i.e. A[s'][s] */
	for (size_t s = 0; s < n; s++) {
		for (size_t x = 0; x < V; x++)
			A[((s * V + x) % n) * (n + 1) + s] += brute_p(m, s, (int)x);
		A[s * (n + 1) + s] -= 1.0;
	}
	for (size_t s = 0; s < n; s++) /* last equation replaced by sum = 1 */
		A[(n - 1) * (n + 1) + s] = 1.0;
	A[(n - 1) * (n + 1) + n] = 1.0;
	for (size_t c = 0; c < n; c++) {
		size_t piv = c;
		for (size_t r = c + 1; r < n; r++)
			if (fabs(A[r * (n + 1) + c]) > fabs(A[piv * (n + 1) + c]))
				piv = r;
		for (size_t j = 0; j <= n; j++) {
			double t = A[c * (n + 1) + j];
			A[c * (n + 1) + j] = A[piv * (n + 1) + j];
			A[piv * (n + 1) + j] = t;
		}
		for (size_t r = 0; r < n; r++) {
			if (r == c)
				continue;
			double f = A[r * (n + 1) + c] / A[c * (n + 1) + c];
			for (size_t j = c; j <= n; j++)
				A[r * (n + 1) + j] -= f * A[c * (n + 1) + j];
		}
	}
	for (size_t s = 0; s < n; s++)
		pi[s] = A[s * (n + 1) + n] / A[s * (n + 1) + s];
	free(A);
}

static double entropy(const double *p, size_t n)
{
	double H = 0.0;
	for (size_t i = 0; i < n; i++)
		if (p[i] > 0.0)
			H -= p[i] * log(p[i]);
	return H;
}

/* h of m two ways from brute_pi: sum pi(s) H(P(.|s)), and H_{k+1} - H_k
 * (for an order-k chain the conditional entropy of the next token given
 * the whole past is that given the last k: Cover & Thomas theorem 4.2.1). */
static void brute_h(const struct strata_markov *m, double *pi, double *h_sum, double *h_blocks)
{
	size_t n = m->n_ctx, V = (size_t)m->vocab;
	brute_pi(m, pi);
	double *joint = malloc(n * V * sizeof(*joint));
	double *row = malloc(V * sizeof(*row));
	assert_non_null(joint);
	assert_non_null(row);
	double h = 0.0;
	for (size_t s = 0; s < n; s++) {
		for (size_t x = 0; x < V; x++) {
			row[x] = brute_p(m, s, (int)x);
			joint[s * V + x] = pi[s] * row[x];
		}
		h += pi[s] * entropy(row, V);
	}
	*h_sum = h;
	*h_blocks = entropy(joint, n * V) - entropy(pi, n);
	free(joint);
	free(row);
}

/* ---- hand-worked chain ------------------------------------------------------------ */

/* Order 1, V = 2, P = [[0.9, 0.1], [0.4, 0.6]].
 * pi: balance pi0 0.1 = pi1 0.4 and pi0 + pi1 = 1 give pi = (0.8, 0.2).
 * H(row 0) = -(0.9 ln 0.9 + 0.1 ln 0.1) = 0.0948245 + 0.2302585 = 0.3250830
 * H(row 1) = -(0.4 ln 0.4 + 0.6 ln 0.6) = 0.3665163 + 0.3064954 = 0.6730117
 * h = 0.8 x 0.3250830 + 0.2 x 0.6730117 = 0.2600664 + 0.1346023 = 0.3946687 nats
 * (to 15 digits: 0.394668712115010). */
static void test_hand_order1(void **unused)
{
	(void)unused;
	static const double P[] = {0.9, 0.1, 0.4, 0.6};
	struct strata_markov m;
	char err[256];
	assert_int_equal(strata_markov_init_table(&m, 2, 1, P, err, sizeof(err)), 0);
	assert_int_equal(m.n_ctx, 2);
	assert_true(fabs(m.pi[0] - 0.8) < 1e-12);
	assert_true(fabs(m.pi[1] - 0.2) < 1e-12);
	assert_true(fabs(m.entropy_rate - 0.394668712115010) < 1e-12);
	/* Order 1: every position sees its whole context, floor = h for any T. */
	for (int T = 1; T <= 64; T *= 4)
		assert_true(fabs(strata_markov_loss_floor(&m, T) - m.entropy_rate) < 1e-12);
	assert_true(isnan(strata_markov_loss_floor(&m, 0)));
	strata_markov_release(&m);
}

/* Order 2, V = 2, contexts s = 2 x_{t-1} + x_t:
 * P(1 | 00) = 0.2, P(1 | 01) = 0.7, P(1 | 10) = 0.5, P(1 | 11) = 0.9. */
static void test_table_order2_brute(void **unused)
{
	(void)unused;
	static const double P[] = {0.8, 0.2, 0.3, 0.7, 0.5, 0.5, 0.1, 0.9};
	struct strata_markov m;
	char err[256];
	assert_int_equal(strata_markov_init_table(&m, 2, 2, P, err, sizeof(err)), 0);
	double pi[4], h_sum, h_blocks;
	brute_table = P;
	brute_h(&m, pi, &h_sum, &h_blocks);
	brute_table = NULL;
	for (int s = 0; s < 4; s++)
		assert_true(fabs(m.pi[s] - pi[s]) < 1e-12);
	assert_true(fabs(m.entropy_rate - h_sum) < 1e-12);
	assert_true(fabs(m.entropy_rate - h_blocks) < 1e-12);

	/* Loss floor: position 0 sees one token, H(X1 | X0) = H2 - H1 with H2 the
	 * entropy of pi (pairs) and H1 of its marginal; positions 1.. see h. */
	double m1[2] = {pi[0] + pi[2], pi[1] + pi[3]}; /* last token of the pair */
	double H2 = entropy(pi, 4), H1 = entropy(m1, 2);
	assert_true(H2 - H1 > m.entropy_rate + 1e-3); /* one token of context is worse */
	for (int T = 1; T <= 16; T++) {
		double want = ((H2 - H1) + (T - 1) * m.entropy_rate) / T;
		assert_true(fabs(strata_markov_loss_floor(&m, T) - want) < 1e-12);
		assert_true(strata_markov_loss_floor(&m, T) > m.entropy_rate);
	}
	strata_markov_release(&m);
}

/* A seeded order-2 chain (the production path) against the brute force. */
static void test_seeded_order2_brute(void **unused)
{
	(void)unused;
	struct strata_markov m;
	char err[256];
	assert_int_equal(strata_markov_init(&m, 5, 2, 2, 0.1, 42, err, sizeof(err)), 0);
	assert_int_equal(m.n_ctx, 25);
	double pi[25], h_sum, h_blocks;
	brute_h(&m, pi, &h_sum, &h_blocks);
	/* The brute force reads the float cdf (entries within 2^-25); the chain
	 * computes in double from the exact weights. */
	double sum = 0.0;
	for (int s = 0; s < 25; s++) {
		assert_true(fabs(m.pi[s] - pi[s]) < 1e-6);
		sum += m.pi[s];
	}
	assert_true(fabs(sum - 1.0) < 1e-12);
	assert_true(fabs(m.entropy_rate - h_sum) < 1e-6);
	assert_true(fabs(m.entropy_rate - h_blocks) < 1e-6);
	/* Bounds: the floor keeps h above floor_p x ... > 0; below ln V. */
	assert_true(m.entropy_rate > 0.1 && m.entropy_rate < log(5.0));
	/* Each row: branch successors above the floor, the rest exactly at it. */
	for (size_t s = 0; s < m.n_ctx; s++) {
		int above = 0;
		for (int x = 0; x < 5; x++) {
			double p = prob(&m, s, x);
			if (p > 0.1 / 5 + 1e-6)
				above++;
			else
				assert_true(fabs(p - 0.1 / 5) < 1e-6);
		}
		assert_true(above <= 2);
	}
	double m1[5] = {0};
	for (int s = 0; s < 25; s++)
		m1[s % 5] += pi[s];
	double want1 = entropy(pi, 25) - entropy(m1, 5);
	assert_true(fabs(strata_markov_loss_floor(&m, 1) - want1) < 1e-6);
	double want8 = (want1 + 7 * h_sum) / 8;
	assert_true(fabs(strata_markov_loss_floor(&m, 8) - want8) < 1e-6);
	assert_true(strata_markov_loss_floor(&m, 8) > m.entropy_rate);
	strata_markov_release(&m);
}

/* Order 3: the loss floor's block entropies for two short positions. */
static void test_loss_floor_order3(void **unused)
{
	(void)unused;
	struct strata_markov m;
	char err[256];
	assert_int_equal(strata_markov_init(&m, 3, 3, 2, 0.2, 7, err, sizeof(err)), 0);
	double H[4];
	double m3[27], m2[9] = {0}, m1[3] = {0};
	memcpy(m3, m.pi, sizeof(m3));
	for (int s = 0; s < 27; s++) {
		m2[s % 9] += m3[s];
		m1[s % 3] += m3[s];
	}
	H[1] = entropy(m1, 3);
	H[2] = entropy(m2, 9);
	H[3] = entropy(m3, 27);
	double h = m.entropy_rate;
	assert_true(fabs(strata_markov_loss_floor(&m, 1) - (H[2] - H[1])) < 1e-12);
	assert_true(fabs(strata_markov_loss_floor(&m, 2) - ((H[2] - H[1]) + (H[3] - H[2])) / 2) <
	            1e-12);
	assert_true(fabs(strata_markov_loss_floor(&m, 10) -
	                 ((H[2] - H[1]) + (H[3] - H[2]) + 8 * h) / 10) < 1e-12);
	/* Conditioning reduces entropy: the floor falls toward h as T grows. */
	assert_true(strata_markov_loss_floor(&m, 1) >= strata_markov_loss_floor(&m, 2));
	assert_true(strata_markov_loss_floor(&m, 2) > strata_markov_loss_floor(&m, 100));
	assert_true(strata_markov_loss_floor(&m, 100) > h);
	strata_markov_release(&m);
}

/* ---- sampler ------------------------------------------------------------------------ */

/* Next-token frequencies per context against the cdf: Pearson's chi-square
 * over all (context, token) cells, df = n_ctx (V - 1); with a fixed seed the
 * statistic is one number, required below df + 8 sqrt(2 df) (8 sigma of the
 * chi-square's normal approximation).  Context frequencies against pi the
 * same way.  A sampler off by one token, or reading the wrong row, fails by
 * orders of magnitude. */
static void test_sample_frequencies(void **unused)
{
	(void)unused;
	const int V = 6;
	const size_t N = 3000000;
	struct strata_markov m;
	char err[256];
	assert_int_equal(strata_markov_init(&m, V, 2, 2, 0.1, 2024, err, sizeof(err)), 0);
	struct strata_markov_stream st;
	strata_markov_stream_init(&st, &m, 99);
	uint16_t *tok = malloc(N * sizeof(*tok));
	size_t *count = calloc(m.n_ctx * (size_t)V, sizeof(*count));
	size_t *ctx_count = calloc(m.n_ctx, sizeof(*ctx_count));
	assert_non_null(tok);
	assert_non_null(count);
	assert_non_null(ctx_count);
	size_t ctx = st.ctx;
	strata_markov_sample(&st, tok, N);
	for (size_t i = 0; i < N; i++) {
		assert_true(tok[i] < V);
		count[ctx * V + tok[i]]++;
		ctx_count[ctx]++;
		ctx = (ctx * V + tok[i]) % m.n_ctx;
	}
	assert_int_equal(ctx, st.ctx);
	double chi2 = 0.0, chi2_ctx = 0.0;
	for (size_t s = 0; s < m.n_ctx; s++) {
		for (int x = 0; x < V; x++) {
			double e = (double)ctx_count[s] * prob(&m, s, x);
			double d = (double)count[s * V + x] - e;
			chi2 += d * d / e;
		}
		double e = (double)N * m.pi[s];
		double d = (double)ctx_count[s] - e;
		chi2_ctx += d * d / e;
	}
	double df = (double)m.n_ctx * (V - 1), df_ctx = (double)m.n_ctx - 1;
	print_message("next-token chi2 %.1f (df %.0f), context chi2 %.1f (df %.0f)\n", chi2, df,
	              chi2_ctx, df_ctx);
	assert_true(chi2 < df + 8 * sqrt(2 * df));
	/* Consecutive contexts are dependent, so the context statistic is
	 * looser than a chi-square with df_ctx; the floor mixes quickly, so a
	 * factor of a few covers it. */
	assert_true(chi2_ctx < 4 * (df_ctx + 8 * sqrt(2 * df_ctx)));
	free(tok);
	free(count);
	free(ctx_count);
	strata_markov_release(&m);
}

/* The true model's mean log-loss on a long sample is h (the sample mean of
 * -ln P(x_{t+1} | context) converges to h by the ergodic theorem;
 * Cover & Thomas theorem 16.8.1, the Shannon-McMillan-Breiman theorem). */
static void test_sample_logloss(void **unused)
{
	(void)unused;
	const size_t N = 2000000;
	struct strata_markov m;
	char err[256];
	assert_int_equal(strata_markov_init(&m, 16, 2, 3, 0.05, 5, err, sizeof(err)), 0);
	struct strata_markov_stream st;
	strata_markov_stream_init(&st, &m, 123);
	uint16_t *tok = malloc(N * sizeof(*tok));
	assert_non_null(tok);
	size_t ctx = st.ctx;
	strata_markov_sample(&st, tok, N);
	double loss = 0.0;
	for (size_t i = 0; i < N; i++) {
		loss -= log(prob(&m, ctx, tok[i]));
		ctx = (ctx * 16 + tok[i]) % m.n_ctx;
	}
	loss /= (double)N;
	print_message("mean log-loss %.5f, h %.5f nats\n", loss, m.entropy_rate);
	assert_true(fabs(loss - m.entropy_rate) < 0.01 * m.entropy_rate);
	free(tok);
	strata_markov_release(&m);
}

/* The first context comes from pi (so every window is stationary): the
 * first contexts of 50000 streams (seeds 0..49999), chi-square against pi,
 * independent draws, df = n_ctx - 1, bound df + 8 sqrt(2 df). */
static void test_first_context(void **unused)
{
	(void)unused;
	struct strata_markov m;
	char err[256];
	assert_int_equal(strata_markov_init(&m, 5, 2, 2, 0.1, 42, err, sizeof(err)), 0);
	size_t count[25] = {0};
	const int N = 50000;
	for (int i = 0; i < N; i++) {
		struct strata_markov_stream st;
		strata_markov_stream_init(&st, &m, (uint64_t)i);
		assert_true(st.ctx < 25);
		count[st.ctx]++;
	}
	double chi2 = 0.0, df = 24;
	for (int s = 0; s < 25; s++) {
		double e = N * m.pi[s], d = (double)count[s] - e;
		chi2 += d * d / e;
	}
	print_message("first-context chi2 %.1f (df %.0f)\n", chi2, df);
	assert_true(chi2 < df + 8 * sqrt(2 * df));
	strata_markov_release(&m);
}

static void test_determinism(void **unused)
{
	(void)unused;
	const size_t N = 10000;
	struct strata_markov m, m1;
	char err[256];
	uint16_t a[10000], b[10000];
	assert_int_equal(strata_markov_init(&m, 50, 2, 4, 0.05, 11, err, sizeof(err)), 0);
	struct strata_markov_stream s1, s2;
	strata_markov_stream_init(&s1, &m, 3);
	strata_markov_stream_init(&s2, &m, 3);
	strata_markov_sample(&s1, a, N);
	strata_markov_sample(&s2, b, 1234); /* the stream continues across calls */
	strata_markov_sample(&s2, b + 1234, N - 1234);
	assert_memory_equal(a, b, sizeof(a));
	strata_markov_stream_init(&s2, &m, 4);
	strata_markov_sample(&s2, b, N);
	assert_memory_not_equal(a, b, sizeof(a));

	/* The chain itself: one thread or several, same cdf, pi and h. */
	int threads = omp_get_max_threads();
	omp_set_num_threads(1);
	assert_int_equal(strata_markov_init(&m1, 50, 2, 4, 0.05, 11, err, sizeof(err)), 0);
	omp_set_num_threads(threads > 1 ? threads : 2);
	assert_memory_equal(m.cdf, m1.cdf, m.n_ctx * 50 * sizeof(float));
	assert_true(m.entropy_rate == m1.entropy_rate);
	strata_markov_release(&m1);
	/* Another seed, another chain. */
	assert_int_equal(strata_markov_init(&m1, 50, 2, 4, 0.05, 12, err, sizeof(err)), 0);
	assert_memory_not_equal(m.cdf, m1.cdf, m.n_ctx * 50 * sizeof(float));
	strata_markov_release(&m1);
	strata_markov_release(&m);
	strata_markov_release(&m); /* twice is harmless */
}

/* ---- bad arguments ------------------------------------------------------------------- */

static void expect_error(int vocab, int order, int branch, double floor_p, const char *field)
{
	struct strata_markov m;
	char err[256] = "";
	assert_int_equal(strata_markov_init(&m, vocab, order, branch, floor_p, 1, err, sizeof(err)),
	                 -1);
	if (!strstr(err, field))
		fail_msg("error \"%s\" does not name %s", err, field);
	assert_null(m.cdf);
	assert_null(m.pi);
}

static void test_bad_arguments(void **unused)
{
	(void)unused;
	expect_error(1, 1, 1, 0.1, "vocab");
	expect_error(65537, 1, 1, 0.1, "vocab");
	expect_error(8, 0, 1, 0.1, "order");
	expect_error(2048, 3, 1, 0.1, "vocab^order");      /* 2^33 contexts */
	expect_error(20000, 1, 1, 0.1, "vocab^(order+1)"); /* 4e8 cdf entries */
	expect_error(8, 1, 0, 0.1, "branch");
	expect_error(8, 1, 9, 0.1, "branch");
	expect_error(8, 1, 2, 0.0, "floor_p");
	expect_error(8, 1, 2, 1.0, "floor_p");
	expect_error(8, 1, 2, NAN, "floor_p");

	struct strata_markov m;
	char err[256];
	static const double bad_row[] = {0.5, 0.4, 0.5, 0.5};
	assert_int_equal(strata_markov_init_table(&m, 2, 1, bad_row, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "row 0"));
	static const double negative[] = {1.5, -0.5, 0.5, 0.5};
	assert_int_equal(strata_markov_init_table(&m, 2, 1, negative, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "P[0][0]"));
	/* Period 2 (0 -> 1 -> {0, 2} -> 1): not primitive; from the uniform
	 * start the mass on token 1 swings between 2/3 and 1/3 forever. */
	static const double periodic[] = {0, 1, 0, 0.5, 0, 0.5, 0, 1, 0};
	assert_int_equal(strata_markov_init_table(&m, 3, 1, periodic, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "did not converge"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hand_order1),         cmocka_unit_test(test_table_order2_brute),
	    cmocka_unit_test(test_seeded_order2_brute), cmocka_unit_test(test_loss_floor_order3),
	    cmocka_unit_test(test_sample_frequencies),  cmocka_unit_test(test_sample_logloss),
	    cmocka_unit_test(test_first_context),       cmocka_unit_test(test_determinism),
	    cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
