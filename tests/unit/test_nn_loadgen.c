/* test_nn_loadgen.c: the LoadGen-style driver (kernels/nn/loadgen.h) on a
 * virtual clock with synthetic systems under test whose answers are known:
 * the Poisson arrival generator (rate, dispersion), percentiles against
 * hand-computed values, first-token / per-token / completion stamping,
 * early stopping both ways, Offline throughput at a known capacity, and the
 * rate search on an M/D/1 queue against Erlang's waiting-time formula. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness/stats.h"
#include "kernels/nn/loadgen.h"

#define NEAR(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))
#define MS 1000000LL /* ns */

/* ---- synthetic SUTs ------------------------------------------------------------ */

/* "whole": each step serves every held request completely in one service
 * time (all its tokens, then done).  capacity 1 is a single-server queue;
 * service = fixed_ns + per_prompt_ns x prompt tokens of the first held. */
struct whole_sut {
	struct strata_loadgen_vclock *clk;
	int capacity;
	int64_t fixed_ns, per_prompt_ns;
	struct strata_loadgen_request held[64];
	int nheld;
	int64_t steps;
	int extra_token; /* test hook: emit one token too many */
};

static int whole_admit(void *ctx, const struct strata_loadgen_request *r, char *err, size_t len)
{
	(void)err;
	(void)len;
	struct whole_sut *s = ctx;
	assert_true(s->nheld < s->capacity);
	s->held[s->nheld++] = *r;
	return STRATA_LOADGEN_ADMITTED;
}

static int whole_step(void *ctx, const struct strata_loadgen_sink *sink, char *err, size_t len)
{
	(void)err;
	(void)len;
	struct whole_sut *s = ctx;
	strata_loadgen_vclock_advance(s->clk, s->fixed_ns + s->per_prompt_ns * s->held[0].prompt_tokens);
	for (int i = 0; i < s->nheld; i++) {
		sink->token(sink->ctx, s->held[i].id, s->held[i].output_tokens + s->extra_token);
		sink->done(sink->ctx, s->held[i].id);
	}
	s->nheld = 0;
	s->steps++;
	return 0;
}

static void whole_reset(void *ctx)
{
	((struct whole_sut *)ctx)->nheld = 0;
}

static struct strata_loadgen_sut whole_as_sut(struct whole_sut *s)
{
	return (struct strata_loadgen_sut){ .ctx = s, .capacity = s->capacity, .admit = whole_admit,
					    .step = whole_step, .reset = whole_reset };
}

/* "llm": continuous batching with a prefill of prefill_ns per request (one
 * per step, first token) and decode steps of decode_ns over every held
 * request that has been prefilled (one token each). */
struct llm_sut {
	struct strata_loadgen_vclock *clk;
	int capacity;
	int64_t prefill_ns, decode_ns;
	struct {
		struct strata_loadgen_request r;
		int emitted, used;
	} slot[16];
};

static int llm_admit(void *ctx, const struct strata_loadgen_request *r, char *err, size_t len)
{
	(void)err;
	(void)len;
	struct llm_sut *s = ctx;
	for (int i = 0; i < s->capacity; i++) {
		if (!s->slot[i].used) {
			s->slot[i].r = *r;
			s->slot[i].used = 1;
			s->slot[i].emitted = 0;
			return STRATA_LOADGEN_ADMITTED;
		}
	}
	fail_msg("admit with no free slot");
	return -1;
}

static int llm_step(void *ctx, const struct strata_loadgen_sink *sink, char *err, size_t len)
{
	(void)err;
	(void)len;
	struct llm_sut *s = ctx;
	for (int i = 0; i < s->capacity; i++) {
		if (s->slot[i].used && s->slot[i].emitted == 0) { /* prefill */
			strata_loadgen_vclock_advance(s->clk, s->prefill_ns);
			s->slot[i].emitted = 1;
			sink->token(sink->ctx, s->slot[i].r.id, 1);
			if (s->slot[i].r.output_tokens == 1) {
				sink->done(sink->ctx, s->slot[i].r.id);
				s->slot[i].used = 0;
			}
			return 0;
		}
	}
	strata_loadgen_vclock_advance(s->clk, s->decode_ns);
	for (int i = 0; i < s->capacity; i++) {
		if (!s->slot[i].used)
			continue;
		s->slot[i].emitted++;
		sink->token(sink->ctx, s->slot[i].r.id, 1);
		if (s->slot[i].emitted == s->slot[i].r.output_tokens) {
			sink->done(sink->ctx, s->slot[i].r.id);
			s->slot[i].used = 0;
		}
	}
	return 0;
}

static void llm_reset(void *ctx)
{
	struct llm_sut *s = ctx;
	for (int i = 0; i < 16; i++)
		s->slot[i].used = 0;
}

static struct strata_loadgen_sut llm_as_sut(struct llm_sut *s)
{
	return (struct strata_loadgen_sut){ .ctx = s, .capacity = s->capacity, .admit = llm_admit,
					    .step = llm_step, .reset = llm_reset };
}

static void lengths(struct strata_loadgen_lengths *l, const char *text)
{
	char err[256];
	assert_int_equal(strata_loadgen_lengths_parse(text, l, err, sizeof(err)), 0);
}

/* ---- the Poisson generator --------------------------------------------------------- */

static void test_poisson_arrivals(void **unused)
{
	(void)unused;
	/* Rate 100/s, 100000 arrivals, seed 42.  Exponential gaps: mean 1/rate,
	 * coefficient of variation 1; counts in 1 s windows: Poisson(100), so
	 * variance/mean (the index of dispersion) 1.  Bands are >= 3 standard
	 * errors wide: mean gap SE = 0.01/sqrt(1e5) -> +-1% is 3.2 SE; CV SE ~
	 * sqrt((kurtosis - 1) / 4n) = sqrt(8 / 4e5) = 0.0045 -> +-0.02 is 4.5 SE;
	 * dispersion over 999 windows SE ~ sqrt(2 / 999) = 0.045 -> +-0.15 is 3.3 SE. */
	const double rate = 100;
	const int n = 100000;
	struct strata_loadgen_arrivals a;
	strata_loadgen_arrivals_init(&a, 42, rate);
	double *t = malloc((size_t)n * sizeof(*t));
	assert_non_null(t);
	for (int i = 0; i < n; i++)
		t[i] = strata_loadgen_arrivals_next(&a);
	NEAR(t[0], 0, 0); /* the first arrival at time 0, as LoadGen */
	double sum = 0, sum2 = 0;
	for (int i = 1; i < n; i++) {
		double g = t[i] - t[i - 1];
		assert_true(g >= 0);
		sum += g;
		sum2 += g * g;
	}
	double m = sum / (n - 1), var = sum2 / (n - 1) - m * m, cv = sqrt(var) / m;
	printf("poisson: mean gap %.6f s (want %.6f), cv %.4f\n", m, 1 / rate, cv);
	NEAR(m, 1 / rate, 0.01 / rate);
	NEAR(cv, 1, 0.02);

	int windows = (int)floor(t[n - 1]) - 1;
	assert_true(windows >= 900);
	int *count = calloc((size_t)windows, sizeof(*count));
	assert_non_null(count);
	for (int i = 0; i < n; i++)
		if ((int)t[i] < windows)
			count[(int)t[i]]++;
	double cm = 0, cv2 = 0;
	for (int w = 0; w < windows; w++)
		cm += count[w];
	cm /= windows;
	for (int w = 0; w < windows; w++)
		cv2 += (count[w] - cm) * (count[w] - cm);
	cv2 /= windows - 1;
	printf("poisson: %d windows, mean count %.3f, variance/mean %.4f\n", windows, cm, cv2 / cm);
	NEAR(cm, rate, 0.01 * rate);
	NEAR(cv2 / cm, 1, 0.15);

	/* Same seed: the same sequence, scaled by the rate (probes of a search
	 * share their random numbers). */
	strata_loadgen_arrivals_init(&a, 42, 2 * rate);
	for (int i = 0; i < 1000; i++)
		NEAR(strata_loadgen_arrivals_next(&a), t[i] / 2, 1e-9 * (1 + t[i]));
	free(count);
	free(t);
}

/* ---- percentiles ----------------------------------------------------------------- */

static void test_percentiles_by_hand(void **unused)
{
	(void)unused;
	/* 1..10 shuffled.  Type 7: q(p) = x[floor(h)] + frac(h) (x[floor h + 1] -
	 * x[floor h]) with h = (n - 1) p, 1-based x; n = 10:
	 *   p50: h = 4.5   -> 5 + 0.5   = 5.5
	 *   p90: h = 8.1   -> 9 + 0.1   = 9.1
	 *   p95: h = 8.55  -> 9 + 0.55  = 9.55
	 *   p99: h = 8.91  -> 9 + 0.91  = 9.91
	 *   p99.9: h = 8.991 -> 9.991
	 * LoadGen: sorted[floor(n p)] (0-based): p50 -> [5] = 6, p90 -> [9] = 10. */
	const double x[] = { 7, 3, 10, 1, 5, 9, 2, 8, 4, 6 };
	struct strata_loadgen_dist d;
	assert_int_equal(strata_loadgen_dist_compute(x, 10, &d), 0);
	assert_int_equal(d.n, 10);
	NEAR(d.min_s, 1, 0);
	NEAR(d.max_s, 10, 0);
	NEAR(d.mean_s, 5.5, 1e-12);
	const double want[STRATA_LOADGEN_NQ] = { 5.5, 9.1, 9.55, 9.91, 9.991 };
	for (int q = 0; q < STRATA_LOADGEN_NQ; q++)
		NEAR(d.q_s[q], want[q], 1e-12);
	NEAR(x[0], 7, 0); /* input untouched */
	const double sorted[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	NEAR(strata_loadgen_percentile_loadgen(sorted, 10, 0.5), 6, 0);
	NEAR(strata_loadgen_percentile_loadgen(sorted, 10, 0.9), 10, 0);
	NEAR(strata_loadgen_percentile_loadgen(sorted, 10, 0.89), 9, 0);
	assert_int_equal(strata_loadgen_dist_compute(x, 0, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(strata_loadgen_dist_compute(x + 2, 1, &d), 0);
	NEAR(d.q_s[4], 10, 0);
}

/* Offline, 10 requests at time 0 into a single server of 10 ms: completion
 * i at (i + 1) x 10 ms, and since latency counts from the scheduled arrival
 * (time 0), the queueing counts: e2e = 10, 20, ..., 100 ms.  Type 7 over
 * them: p50 55 ms, p90 91 ms, p99 99.1 ms. */
static void test_latency_counts_queueing(void **unused)
{
	(void)unused;
	struct strata_loadgen_vclock v = { 0 };
	struct strata_loadgen_clock clk;
	strata_loadgen_clock_virtual(&clk, &v);
	struct whole_sut ws = { .clk = &v, .capacity = 1, .fixed_ns = 10 * MS };
	struct strata_loadgen_sut sut = whole_as_sut(&ws);
	struct strata_loadgen_settings s;
	strata_loadgen_settings_default(&s);
	s.scenario = STRATA_LOADGEN_OFFLINE;
	s.min_queries = 10;
	s.min_duration_s = 0.05;
	lengths(&s.output, "3");
	struct strata_loadgen_result r;
	char err[256];
	assert_int_equal(strata_loadgen_run(&s, &sut, &clk, &r, err, sizeof(err)), 0);
	assert_int_equal(r.issued, 10);
	assert_int_equal(r.completed, 10);
	assert_true(r.valid);
	NEAR(r.dist[STRATA_LOADGEN_E2E].min_s, 0.010, 1e-12);
	NEAR(r.dist[STRATA_LOADGEN_E2E].q_s[0], 0.055, 1e-12);
	NEAR(r.dist[STRATA_LOADGEN_E2E].q_s[1], 0.091, 1e-12);
	NEAR(r.dist[STRATA_LOADGEN_E2E].q_s[3], 0.0991, 1e-12);
	NEAR(r.duration_s, 0.1, 1e-12);
	NEAR(r.queries_per_s, 100, 1e-9);
	NEAR(r.tokens_per_s, 300, 1e-9);
	/* All tokens at the completion: TTFT = e2e, TPOT = 0. */
	NEAR(r.dist[STRATA_LOADGEN_TTFT].q_s[0], 0.055, 1e-12);
	NEAR(r.dist[STRATA_LOADGEN_TPOT].max_s, 0, 0);
	for (int i = 0; i < 10; i++) {
		assert_int_equal(r.records[i].arrival_ns, 0);
		assert_int_equal(r.records[i].admit_ns, i * 10 * MS);
	}
	strata_loadgen_result_release(&r);
}

/* TTFT, TPOT and e2e stamped from a prefill/decode SUT: prefill 5 ms, decode
 * step 2 ms, 5 output tokens, one request at a time (SingleStream): TTFT =
 * 5 ms, e2e = 5 + 4 x 2 = 13 ms, TPOT = (13 - 5) / (5 - 1) = 2 ms. */
static void test_token_stamps(void **unused)
{
	(void)unused;
	struct strata_loadgen_vclock v = { 0 };
	struct strata_loadgen_clock clk;
	strata_loadgen_clock_virtual(&clk, &v);
	struct llm_sut ls = { .clk = &v, .capacity = 4, .prefill_ns = 5 * MS, .decode_ns = 2 * MS };
	struct strata_loadgen_sut sut = llm_as_sut(&ls);
	struct strata_loadgen_settings s;
	strata_loadgen_settings_default(&s);
	s.scenario = STRATA_LOADGEN_SINGLE_STREAM;
	s.min_queries = 70;
	s.min_duration_s = 0.5;
	lengths(&s.output, "5");
	struct strata_loadgen_result r;
	char err[256];
	assert_int_equal(strata_loadgen_run(&s, &sut, &clk, &r, err, sizeof(err)), 0);
	/* 0.5 s / 13 ms -> the rules are met at the 40th issue; h(1) + 1 = 64
	 * queries for the p90 estimate and min_queries 70: 70 queries. */
	assert_int_equal(r.issued, 70);
	assert_true(r.valid);
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++)
		assert_int_equal(r.dist[m].n, 70);
	NEAR(r.dist[STRATA_LOADGEN_TTFT].max_s, 0.005, 1e-12);
	NEAR(r.dist[STRATA_LOADGEN_E2E].min_s, 0.013, 1e-12);
	NEAR(r.dist[STRATA_LOADGEN_E2E].max_s, 0.013, 1e-12);
	NEAR(r.dist[STRATA_LOADGEN_TPOT].q_s[2], 0.002, 1e-12);
	NEAR(r.es_estimate_s, 0.013, 1e-12);
	/* (n - 1) / last issue time: the 70th issued at 69 x 13 ms. */
	NEAR(r.queries_per_s, 69 / (69 * 0.013), 1e-9);
	strata_loadgen_result_release(&r);

	/* A request of one token has no TPOT (LoadGen requires n_tokens > 1). */
	lengths(&s.output, "1,4");
	assert_int_equal(strata_loadgen_run(&s, &sut, &clk, &r, err, sizeof(err)), 0);
	assert_int_equal(r.dist[STRATA_LOADGEN_TPOT].n, r.completed / 2);
	strata_loadgen_result_release(&r);
}

/* ---- early stopping ------------------------------------------------------------- */

/* Direct sum of the binomial pmf, in logs. */
static double binom_cdf_direct(int k, int n, double q)
{
	double sum = 0;
	for (int i = 0; i <= k; i++)
		sum += exp(lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) + i * log(q) +
			   (n - i) * log1p(-q));
	return sum;
}

static void test_binomial_and_h(void **unused)
{
	(void)unused;
	for (int k = -1; k <= 20; k++)
		NEAR(strata_loadgen_binom_cdf(k, 20, 0.1), k < 0 ? 0 : binom_cdf_direct(k > 20 ? 20 : k, 20, 0.1), 1e-12);
	for (int k = 0; k < 40; k += 3)
		NEAR(strata_loadgen_binom_cdf(k, 1000, 0.01), binom_cdf_direct(k, 1000, 0.01), 1e-11);
	NEAR(strata_beta_reg(0.3, 2, 3), 0.3483, 1e-12); /* 1 - (1-x)^3 (1+3x)... by hand: 0.3483 */
	/* h(0) = ceil(ln 0.01 / ln p): p90 -> 44, p99 -> 459.  h(1) at p99 is
	 * 661: LoadGen needs h(1) + 1 = 662 queries for a p99 estimate, which is
	 * mlperf.conf's MultiStream min_query_count (662). */
	struct strata_loadgen_es es;
	strata_loadgen_es_init(&es, 0.9, 0.99);
	assert_int_equal(strata_loadgen_es_min_passing(&es, 0), 44);
	assert_int_equal(strata_loadgen_es_min_passing(&es, 1), 63);
	assert_int_equal(strata_loadgen_es_min_passing(&es, 2), 79);
	strata_loadgen_es_release(&es);
	strata_loadgen_es_init(&es, 0.99, 0.99);
	assert_int_equal(strata_loadgen_es_min_passing(&es, 1), 661);
	assert_int_equal(strata_loadgen_es_min_passing(&es, 0), 459);
	/* Each h(t) is the least passing: h - 1 does not pass. */
	for (int t = 0; t < 30; t++) {
		int64_t h = strata_loadgen_es_min_passing(&es, t);
		assert_true(strata_loadgen_binom_cdf(t, h + t, 0.01) <= 0.01);
		assert_true(strata_loadgen_binom_cdf(t, h - 1 + t, 0.01) > 0.01);
	}
	strata_loadgen_es_release(&es);
	/* Violation: 5 of 100 over at p99: P(Bin(100, .01) >= 5) = 0.0034 <= 0.01;
	 * 3 of 100: 0.079, not proven. */
	assert_true(strata_loadgen_es_violated(0.99, 0.99, 5, 100));
	assert_false(strata_loadgen_es_violated(0.99, 0.99, 3, 100));
	assert_false(strata_loadgen_es_violated(0.99, 0.99, 0, 100));
	/* SingleStream estimate: with q = h(1) + 1 = 64 queries at p90, t = 1:
	 * the largest; with 80 = h(2) + 2 ... t = 2: the second largest. */
	double sorted[100];
	for (int i = 0; i < 100; i++)
		sorted[i] = i + 1;
	/* The fewest requests a run can be valid with. */
	struct strata_loadgen_settings st;
	strata_loadgen_settings_default(&st);
	st.min_queries = 100;
	assert_int_equal(strata_loadgen_min_valid_queries(&st), 100); /* SingleStream p90: h(1) + 1 = 64 */
	st.min_queries = 10;
	assert_int_equal(strata_loadgen_min_valid_queries(&st), 64);
	st.scenario = STRATA_LOADGEN_SERVER;
	assert_int_equal(strata_loadgen_min_valid_queries(&st), 10); /* no bound */
	st.bound_s[STRATA_LOADGEN_TTFT] = 0.1;
	assert_int_equal(strata_loadgen_min_valid_queries(&st), 459); /* p99: h(0) */
	strata_loadgen_es_init(&es, 0.9, 0.99);
	NEAR(strata_loadgen_es_estimate(&es, sorted, 63), 0, 0);
	NEAR(strata_loadgen_es_estimate(&es, sorted, 64), 64, 0);
	NEAR(strata_loadgen_es_estimate(&es, sorted, 81), 80, 0);
	strata_loadgen_es_release(&es);
}

static void server_md1(struct strata_loadgen_settings *s, double rate, double bound_s)
{
	strata_loadgen_settings_default(s);
	s->scenario = STRATA_LOADGEN_SERVER;
	s->seed = 7;
	s->rate_qps = rate;
	s->bound_s[STRATA_LOADGEN_E2E] = bound_s;
	lengths(&s->output, "1");
}

static void test_early_stopping_both_ways(void **unused)
{
	(void)unused;
	struct strata_loadgen_vclock v = { 0 };
	struct strata_loadgen_clock clk;
	strata_loadgen_clock_virtual(&clk, &v);
	struct whole_sut ws = { .clk = &v, .capacity = 1, .fixed_ns = 1 * MS };
	struct strata_loadgen_sut sut = whole_as_sut(&ws);
	struct strata_loadgen_settings s;
	struct strata_loadgen_result r;
	char err[256];

	/* Met: rho = 0.1, bound 50 ms: nothing is over.  The run rules (2 s, 10
	 * queries) are met after ~200 queries, but proving p99 needs h(0) = 459
	 * queries with none over (more while some are still in flight). */
	server_md1(&s, 100, 0.05);
	s.min_duration_s = 2;
	s.min_queries = 10;
	s.max_duration_s = 100;
	assert_int_equal(strata_loadgen_run(&s, &sut, &clk, &r, err, sizeof(err)), 0);
	printf("met: %s, issued %lld\n", r.why, (long long)r.issued);
	assert_true(r.valid);
	assert_int_equal(r.stop, STRATA_LOADGEN_STOP_RULES);
	assert_true(r.issued >= 459 && r.issued <= 462);
	assert_int_equal(r.verdict[STRATA_LOADGEN_E2E].overlatency, 0);
	assert_int_equal(r.verdict[STRATA_LOADGEN_E2E].early_stopping_needed, 459);
	assert_true(r.last_scheduled_s < 10); /* long before max_duration */
	strata_loadgen_result_release(&r);

	/* Violated: a 30 ms server at 50/s (rho = 1.5): latencies grow without
	 * bound; the run stops, invalid, long before its minimums (60 s, 5000). */
	ws.fixed_ns = 30 * MS;
	server_md1(&s, 50, 0.05);
	s.min_duration_s = 60;
	s.min_queries = 5000;
	s.max_duration_s = 600;
	assert_int_equal(strata_loadgen_run(&s, &sut, &clk, &r, err, sizeof(err)), 0);
	printf("violated: %s, issued %lld at %.3f s\n", r.why, (long long)r.issued, r.last_scheduled_s);
	assert_false(r.valid);
	assert_int_equal(r.stop, STRATA_LOADGEN_STOP_VIOLATED);
	assert_true(r.issued < 200);
	assert_true(r.last_scheduled_s < 5);
	assert_true(r.incomplete > 0); /* what was in flight is abandoned */
	{ /* the verdict says what the stop counted: known over among issued */
		long long known = -1, issued = -1;
		const char *at = strstr(r.why, "bound violated): ");
		assert_non_null(at);
		assert_int_equal(sscanf(at, "bound violated): %lld of %lld issued already over the e2e",
		                        &known, &issued),
		                 2);
		assert_true(known > 0 && known <= issued && issued == r.issued);
		assert_true(known > r.verdict[STRATA_LOADGEN_E2E].overlatency);
	}
	strata_loadgen_result_release(&r);

	/* Neither proven by max_duration (rho 0.8, bound near the p99): invalid,
	 * stopped by the duration cap, everything issued drained. */
	ws.fixed_ns = 10 * MS;
	server_md1(&s, 80, 0.09);
	s.min_duration_s = 1;
	s.min_queries = 10;
	s.max_duration_s = 20;
	assert_int_equal(strata_loadgen_run(&s, &sut, &clk, &r, err, sizeof(err)), 0);
	printf("undecided: %s, issued %lld\n", r.why, (long long)r.issued);
	if (r.stop == STRATA_LOADGEN_STOP_MAX_DURATION) {
		assert_int_equal(r.incomplete, 0);
		assert_true(r.last_scheduled_s <= 20);
	}
	strata_loadgen_result_release(&r);

	/* The LLM bounds: TTFT and TPOT.  Prefill 4 ms, decode 1 ms over <= 4
	 * requests, 8 tokens each, at 20/s: TTFT p99 well under 50 ms and TPOT
	 * about 1 ms (< 3 ms): valid.  A TPOT bound of 0.5 ms is violated by
	 * every request: stopped at once. */
	struct llm_sut ls = { .clk = &v, .capacity = 4, .prefill_ns = 4 * MS, .decode_ns = 1 * MS };
	struct strata_loadgen_sut lsut = llm_as_sut(&ls);
	strata_loadgen_settings_default(&s);
	s.scenario = STRATA_LOADGEN_SERVER;
	s.rate_qps = 20;
	s.min_duration_s = 5;
	s.min_queries = 50;
	lengths(&s.output, "8");
	s.bound_s[STRATA_LOADGEN_TTFT] = 0.05;
	s.bound_s[STRATA_LOADGEN_TPOT] = 0.003;
	assert_int_equal(strata_loadgen_run(&s, &lsut, &clk, &r, err, sizeof(err)), 0);
	printf("llm: %s\n", r.why);
	assert_true(r.valid);
	assert_true(r.verdict[STRATA_LOADGEN_TPOT].bounded && r.verdict[STRATA_LOADGEN_TTFT].bounded);
	assert_false(r.verdict[STRATA_LOADGEN_E2E].bounded);
	strata_loadgen_result_release(&r);
	s.bound_s[STRATA_LOADGEN_TPOT] = 0.0005;
	assert_int_equal(strata_loadgen_run(&s, &lsut, &clk, &r, err, sizeof(err)), 0);
	assert_false(r.valid);
	assert_int_equal(r.stop, STRATA_LOADGEN_STOP_VIOLATED);
	assert_true(r.issued < 20);
	strata_loadgen_result_release(&r);
}

/* ---- Offline throughput ---------------------------------------------------------- */

static void test_offline_capacity(void **unused)
{
	(void)unused;
	/* 4 requests per 10 ms step: capacity 400 samples/s.  expected 300/s x
	 * 1 s x 1.1 = 330 requests (LoadGen's sizing), 83 steps (the last holds
	 * 2): 330 / 0.83 s; with 400 requests exactly 400/s. */
	struct strata_loadgen_vclock v = { 0 };
	struct strata_loadgen_clock clk;
	strata_loadgen_clock_virtual(&clk, &v);
	struct whole_sut ws = { .clk = &v, .capacity = 4, .fixed_ns = 10 * MS };
	struct strata_loadgen_sut sut = whole_as_sut(&ws);
	struct strata_loadgen_settings s;
	strata_loadgen_settings_default(&s);
	s.scenario = STRATA_LOADGEN_OFFLINE;
	s.min_queries = 24;
	s.min_duration_s = 1;
	s.offline_expected_qps = 300;
	lengths(&s.output, "uniform:4,8");
	struct strata_loadgen_result r;
	char err[256];
	assert_int_equal(strata_loadgen_run(&s, &sut, &clk, &r, err, sizeof(err)), 0);
	assert_int_equal(r.issued, 330);
	NEAR(r.queries_per_s, 330 / 0.83, 1e-9);
	assert_false(r.valid); /* 0.83 s < min_duration 1 s */
	assert_false(r.min_duration_met);
	strata_loadgen_result_release(&r);

	s.min_queries = 400;
	s.offline_expected_qps = 0;
	s.min_duration_s = 1;
	assert_int_equal(strata_loadgen_run(&s, &sut, &clk, &r, err, sizeof(err)), 0);
	assert_int_equal(r.issued, 400);
	assert_true(r.valid);
	assert_int_equal(r.stop, STRATA_LOADGEN_STOP_ALL_DONE);
	NEAR(r.queries_per_s, 400, 1e-9);
	NEAR(r.tokens_per_s, (double)r.output_tokens, 1e-9);
	assert_true(r.output_tokens > 400 * 4 && r.output_tokens < 400 * 8);
	assert_int_equal(r.steps, 100);
	strata_loadgen_result_release(&r);
}

/* ---- the rate search on M/D/1 ------------------------------------------------------ */

/* Erlang's waiting-time distribution of M/D/1 (Erlang 1909; Iversen,
 * "Teletraffic Engineering and Network Planning", DTU/ITU-D, section
 * "M/D/1"): with service time D, rate lam, rho = lam D < 1,
 *   P(W <= t) = (1 - rho) sum_{k=0}^{floor(t/D)} (lam (kD - t))^k / k! e^{-lam (kD - t)}. */
static double md1_wait_cdf(double lam, double D, double t)
{
	double sum = 0, fact = 1;
	for (int k = 0; k <= (int)floor(t / D); k++) {
		if (k > 0)
			fact *= k;
		double x = lam * (k * D - t);
		sum += pow(x, k) / fact * exp(-x);
	}
	return (1 - lam * D) * sum;
}

/* The rate at which the p-quantile of the sojourn time (wait + D) is B. */
static double md1_max_rate(double D, double B, double p)
{
	double lo = 1e-9, hi = 1 / D * (1 - 1e-12);
	for (int i = 0; i < 200; i++) {
		double mid = 0.5 * (lo + hi);
		if (md1_wait_cdf(mid, D, B - D) >= p)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static void test_rate_search_md1(void **unused)
{
	(void)unused;
	const double D = 0.010, B = 0.050;
	/* The formula against a Lindley-recursion simulation of 1e6 customers
	 * at its answer: the simulated p99 sojourn is B within 3%. */
	double lam_star = md1_max_rate(D, B, 0.99);
	{
		struct strata_loadgen_arrivals a;
		strata_loadgen_arrivals_init(&a, 3, lam_star);
		const int n = 1000000;
		double *T = malloc((size_t)n * sizeof(*T));
		assert_non_null(T);
		double w = 0, prev = strata_loadgen_arrivals_next(&a);
		for (int i = 0; i < n; i++) {
			T[i] = w + D;
			double next = strata_loadgen_arrivals_next(&a);
			w = fmax(0, w + D - (next - prev));
			prev = next;
		}
		struct strata_loadgen_dist d;
		assert_int_equal(strata_loadgen_dist_compute(T, (size_t)n, &d), 0);
		printf("M/D/1: lambda* = %.4f /s (Erlang), simulated p99 there %.5f s (bound %.3f)\n",
		       lam_star, d.q_s[3], B);
		NEAR(d.q_s[3], B, 0.03 * B);
		free(T);
	}

	struct strata_loadgen_vclock v = { 0 };
	struct strata_loadgen_clock clk;
	strata_loadgen_clock_virtual(&clk, &v);
	struct whole_sut ws = { .clk = &v, .capacity = 1, .fixed_ns = (int64_t)(D * 1e9) };
	struct strata_loadgen_sut sut = whole_as_sut(&ws);
	struct strata_loadgen_settings s;
	server_md1(&s, 1, B);
	s.min_duration_s = 200; /* ~10^4 queries per probe, virtual seconds */
	s.min_queries = 1000;
	s.max_duration_s = 600;
	struct strata_loadgen_search search;
	strata_loadgen_search_init(&search, 10, 0.01, 0.1, 1000, 40);
	struct strata_loadgen_result best;
	char err[256];
	assert_int_equal(strata_loadgen_find_max_rate(&s, &sut, &clk, &search, &best, err, sizeof(err)), 0);
	printf("search: %d probes, found %.3f /s (%.3f of lambda*), next invalid %.3f; %s\n",
	       search.nprobes, search.lo_qps, search.lo_qps / lam_star, search.hi_qps, search.stopped);
	for (int i = 0; i < search.nprobes; i++)
		printf("  probe %2d: %9.3f /s %s\n", i, search.probes[i].rate_qps,
		       search.probes[i].valid ? "valid" : "invalid");
	/* Below the capacity 1/D, and within a band around the analytic answer.
	 * Early stopping asks the observed over-bound fraction to be clearly
	 * below 1%, which pushes the answer below lambda*; but its binomial test
	 * takes the requests as independent, and queueing delays are positively
	 * correlated (busy periods), so a finite run can be valid slightly above
	 * lambda*; and validity near the boundary is not monotone in the rate, so
	 * one unlucky probe can stop the bisection lower.  Over seeds 1..12 with
	 * these settings found / lambda* ranged 0.92 .. 1.03 (seed 7: 1.009).
	 * Band: [0.85, 1.05] x lambda*. */
	assert_true(search.lo_qps < 1 / D);
	assert_true(search.lo_qps >= 0.85 * lam_star);
	assert_true(search.lo_qps <= 1.05 * lam_star);
	assert_true(search.hi_qps > search.lo_qps);
	assert_true(search.hi_qps - search.lo_qps <= 0.01 * search.lo_qps);
	assert_string_equal(search.stopped, "bracketed within the tolerance");
	assert_true(best.valid);
	NEAR(best.rate_qps, search.lo_qps, 0);
	strata_loadgen_result_release(&best);
}

static void test_search_state_machine(void **unused)
{
	(void)unused;
	/* Valid iff rate <= 37: start 10 -> 20 -> 40 (invalid) -> 30 -> 35 ->
	 * 37.5 (invalid) -> 36.25 -> ... until within 5%. */
	struct strata_loadgen_search s;
	strata_loadgen_search_init(&s, 10, 0.05, 1, 1000, 64);
	double r;
	while (strata_loadgen_search_next(&s, &r))
		strata_loadgen_search_report(&s, r, r <= 37);
	NEAR(s.probes[0].rate_qps, 10, 0);
	NEAR(s.probes[1].rate_qps, 20, 0);
	NEAR(s.probes[2].rate_qps, 40, 0);
	NEAR(s.probes[3].rate_qps, 30, 0);
	assert_true(s.lo_qps <= 37 && s.lo_qps >= 37 / 1.05);
	assert_true(s.hi_qps > 37);
	/* Failing from the start: halves down. */
	strata_loadgen_search_init(&s, 100, 0.05, 1, 1000, 64);
	while (strata_loadgen_search_next(&s, &r))
		strata_loadgen_search_report(&s, r, r <= 7);
	NEAR(s.probes[1].rate_qps, 50, 0);
	assert_true(s.lo_qps <= 7 && s.lo_qps >= 7 / 1.05);
	/* Nothing valid down to the minimum. */
	strata_loadgen_search_init(&s, 8, 0.05, 1, 1000, 64);
	while (strata_loadgen_search_next(&s, &r))
		strata_loadgen_search_report(&s, r, 0);
	NEAR(s.lo_qps, 0, 0);
	assert_string_equal(s.stopped, "no valid rate at or above the minimum rate");
}

/* ---- request sizes and SUT errors ------------------------------------------------ */

static void test_lengths(void **unused)
{
	(void)unused;
	struct strata_loadgen_lengths l;
	struct strata_loadgen_rng rng;
	char err[256];
	strata_loadgen_rng_seed(&rng, 1, 0);
	lengths(&l, "16,32, 48");
	assert_int_equal(l.kind, STRATA_LOADGEN_LEN_CYCLE);
	for (int i = 0; i < 9; i++)
		assert_int_equal(strata_loadgen_lengths_draw(&l, i, &rng), 16 * (i % 3 + 1));
	NEAR(strata_loadgen_lengths_mean(&l), 32, 0);
	lengths(&l, "7");
	assert_int_equal(strata_loadgen_lengths_draw(&l, 5, &rng), 7);
	lengths(&l, "8..11");
	int seen[4] = { 0 };
	for (int i = 0; i < 4000; i++) {
		int x = strata_loadgen_lengths_draw(&l, i, &rng);
		assert_true(x >= 8 && x <= 11);
		seen[x - 8]++;
	}
	for (int i = 0; i < 4; i++)
		assert_true(seen[i] > 850 && seen[i] < 1150); /* 1000 +- 5 SE */
	NEAR(strata_loadgen_lengths_mean(&l), 9.5, 0);
	lengths(&l, "uniform:5,50");
	int fives = 0;
	for (int i = 0; i < 1000; i++) {
		int x = strata_loadgen_lengths_draw(&l, i, &rng);
		assert_true(x == 5 || x == 50);
		fives += x == 5;
	}
	assert_true(fives > 420 && fives < 580);
	const char *bad[] = { "", "0", "a", "5..3", "uniform:", "1,,2", "3..", "-4", "1 2" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(strata_loadgen_lengths_parse(bad[i], &l, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "length"));
	}
	/* Draws are reproducible from the seed. */
	struct strata_loadgen_settings s;
	strata_loadgen_settings_default(&s);
	s.scenario = STRATA_LOADGEN_OFFLINE;
	s.min_queries = 50;
	s.min_duration_s = 0;
	lengths(&s.prompt, "uniform:3,9,27");
	lengths(&s.output, "2..20");
	struct strata_loadgen_vclock v = { 0 };
	struct strata_loadgen_clock clk;
	strata_loadgen_clock_virtual(&clk, &v);
	struct whole_sut ws = { .clk = &v, .capacity = 2, .fixed_ns = MS };
	struct strata_loadgen_sut sut = whole_as_sut(&ws);
	struct strata_loadgen_result a, b;
	assert_int_equal(strata_loadgen_run(&s, &sut, &clk, &a, err, sizeof(err)), 0);
	assert_int_equal(strata_loadgen_run(&s, &sut, &clk, &b, err, sizeof(err)), 0);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(a.records[i].prompt_tokens, b.records[i].prompt_tokens);
		assert_int_equal(a.records[i].output_tokens, b.records[i].output_tokens);
	}
	strata_loadgen_result_release(&a);
	strata_loadgen_result_release(&b);
}

static void test_sut_errors(void **unused)
{
	(void)unused;
	struct strata_loadgen_vclock v = { 0 };
	struct strata_loadgen_clock clk;
	strata_loadgen_clock_virtual(&clk, &v);
	struct whole_sut ws = { .clk = &v, .capacity = 1, .fixed_ns = MS, .extra_token = 1 };
	struct strata_loadgen_sut sut = whole_as_sut(&ws);
	struct strata_loadgen_settings s;
	strata_loadgen_settings_default(&s);
	struct strata_loadgen_result r;
	char err[256] = "";
	assert_int_equal(strata_loadgen_run(&s, &sut, &clk, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "emitted 17 tokens for request 0 of 16"));
	assert_false(r.valid);
	strata_loadgen_result_release(&r);
	s.scenario = STRATA_LOADGEN_SERVER;
	s.rate_qps = 0;
	assert_int_equal(strata_loadgen_run(&s, &sut, &clk, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "rate_qps"));
	strata_loadgen_result_release(&r);
}

/* The real clock waits until the time asked, not much longer. */
static void test_real_clock(void **unused)
{
	(void)unused;
	struct strata_loadgen_clock clk;
	strata_loadgen_clock_real(&clk);
	int64_t t0 = clk.now_ns(clk.ctx);
	clk.wait_until_ns(clk.ctx, t0 + 20 * MS);
	int64_t t1 = clk.now_ns(clk.ctx);
	assert_true(t1 - t0 >= 20 * MS);
	assert_true(t1 - t0 < 200 * MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_poisson_arrivals),
		cmocka_unit_test(test_percentiles_by_hand),
		cmocka_unit_test(test_latency_counts_queueing),
		cmocka_unit_test(test_token_stamps),
		cmocka_unit_test(test_binomial_and_h),
		cmocka_unit_test(test_early_stopping_both_ways),
		cmocka_unit_test(test_offline_capacity),
		cmocka_unit_test(test_rate_search_md1),
		cmocka_unit_test(test_search_state_machine),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_sut_errors),
		cmocka_unit_test(test_real_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
