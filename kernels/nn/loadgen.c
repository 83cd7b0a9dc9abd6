/* loadgen.c: the LoadGen-style scenario driver (see loadgen.h for what it is
 * and is not, and where it follows or departs from MLPerf's LoadGen).
 *
 * One run is one loop on one thread:
 *   1. arrivals whose scheduled time has come join the queue (Server: the
 *      Poisson schedule; SingleStream: one request when none is in flight;
 *      Offline: all of them at time 0);
 *   2. queued requests are admitted, oldest first, while the SUT has room;
 *   3. the run rules and early stopping decide whether to stop issuing;
 *   4. the SUT does one step, or, with nothing to do, the clock waits for
 *      the next arrival.
 * Every stamp is read from the clock at the moment the driver learns of the
 * event (a sink call from inside step()); latencies are measured from the
 * scheduled arrival.
 */
#define _GNU_SOURCE
#include "kernels/nn/loadgen.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness/stats.h"

const double strata_loadgen_quantiles[STRATA_LOADGEN_NQ] = { 0.5, 0.9, 0.95, 0.99, 0.999 };

#define NS_PER_S 1e9
/* Waiting for an arrival: sleep until this long before it, spin the rest. */
#define SPIN_NS 200000
/* Requests issued at the first look for a violation (then 2x, 4x, ...). */
#define FIRST_VIOLATION_LOOK 16

static void errorf(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errorf(char *err, size_t len, const char *fmt, ...)
{
	if (!err || len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

const char *strata_loadgen_scenario_name(enum strata_loadgen_scenario s)
{
	switch (s) {
	case STRATA_LOADGEN_SINGLE_STREAM: return "single_stream";
	case STRATA_LOADGEN_SERVER: return "server";
	case STRATA_LOADGEN_OFFLINE: return "offline";
	}
	return "?";
}

int strata_loadgen_scenario_parse(const char *name, enum strata_loadgen_scenario *out)
{
	static const enum strata_loadgen_scenario all[] = { STRATA_LOADGEN_SINGLE_STREAM,
							    STRATA_LOADGEN_SERVER,
							    STRATA_LOADGEN_OFFLINE };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(name, strata_loadgen_scenario_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -1;
}

const char *strata_loadgen_measure_name(enum strata_loadgen_measure m)
{
	switch (m) {
	case STRATA_LOADGEN_E2E: return "e2e";
	case STRATA_LOADGEN_TTFT: return "ttft";
	case STRATA_LOADGEN_TPOT: return "tpot";
	case STRATA_LOADGEN_NMEASURES: break;
	}
	return "?";
}

const char *strata_loadgen_stop_name(enum strata_loadgen_stop s)
{
	switch (s) {
	case STRATA_LOADGEN_STOP_RULES: return "run rules met";
	case STRATA_LOADGEN_STOP_ALL_DONE: return "all requests completed";
	case STRATA_LOADGEN_STOP_VIOLATED: return "early stopping: bound violated";
	case STRATA_LOADGEN_STOP_OVERLOADED: return "max_outstanding exceeded";
	case STRATA_LOADGEN_STOP_MAX_DURATION: return "max duration reached";
	case STRATA_LOADGEN_STOP_MAX_QUERIES: return "max queries reached";
	}
	return "?";
}

/* ---- clocks ------------------------------------------------------------------- */

static int64_t real_now_ns(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void real_wait_until_ns(void *ctx, int64_t t_ns)
{
	int64_t now = real_now_ns(ctx);
	if (t_ns - now > SPIN_NS) {
		int64_t wake = t_ns - SPIN_NS;
		struct timespec ts = { .tv_sec = (time_t)(wake / 1000000000LL),
				       .tv_nsec = (long)(wake % 1000000000LL) };
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
	while (real_now_ns(ctx) < t_ns)
		;
}

void strata_loadgen_clock_real(struct strata_loadgen_clock *clk)
{
	*clk = (struct strata_loadgen_clock){ .ctx = NULL, .now_ns = real_now_ns,
					      .wait_until_ns = real_wait_until_ns };
}

static int64_t virtual_now_ns(void *ctx)
{
	return ((struct strata_loadgen_vclock *)ctx)->now_ns;
}

static void virtual_wait_until_ns(void *ctx, int64_t t_ns)
{
	struct strata_loadgen_vclock *v = ctx;
	if (t_ns > v->now_ns)
		v->now_ns = t_ns;
}

void strata_loadgen_clock_virtual(struct strata_loadgen_clock *clk, struct strata_loadgen_vclock *v)
{
	*clk = (struct strata_loadgen_clock){ .ctx = v, .now_ns = virtual_now_ns,
					      .wait_until_ns = virtual_wait_until_ns };
}

void strata_loadgen_vclock_advance(struct strata_loadgen_vclock *v, int64_t dt_ns)
{
	if (dt_ns > 0)
		v->now_ns += dt_ns;
}

/* ---- random numbers --------------------------------------------------------------- */

/* SplitMix64's output function (Steele, Lea & Flood 2014): Stafford's
 * "Mix13" finaliser over a Weyl sequence of step 0x9E3779B97F4A7C15. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

void strata_loadgen_rng_seed(struct strata_loadgen_rng *r, uint64_t seed, uint64_t stream)
{
	r->state = mix64(seed ^ mix64(stream + 0x9E3779B97F4A7C15ULL));
}

uint64_t strata_loadgen_rng_u64(struct strata_loadgen_rng *r)
{
	r->state += 0x9E3779B97F4A7C15ULL;
	return mix64(r->state);
}

double strata_loadgen_rng_uniform(struct strata_loadgen_rng *r)
{
	return (double)(strata_loadgen_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

double strata_loadgen_rng_exp1(struct strata_loadgen_rng *r)
{
	return -log1p(-strata_loadgen_rng_uniform(r)); /* 1 - U in (0, 1] */
}

void strata_loadgen_arrivals_init(struct strata_loadgen_arrivals *a, uint64_t seed, double rate_qps)
{
	strata_loadgen_rng_seed(&a->rng, seed, 1);
	a->rate_qps = rate_qps;
	a->next_s = 0;
	a->n = 0;
}

double strata_loadgen_arrivals_next(struct strata_loadgen_arrivals *a)
{
	double t = a->next_s;
	a->next_s += strata_loadgen_rng_exp1(&a->rng) / a->rate_qps;
	a->n++;
	return t;
}

/* ---- request sizes ------------------------------------------------------------- */

#define MAX_LENGTH (1 << 24)

static int parse_int(const char *p, const char **end, int *out)
{
	char *e;
	errno = 0;
	long v = strtol(p, &e, 10);
	if (e == p || errno || v < 1 || v > MAX_LENGTH)
		return -1;
	*out = (int)v;
	*end = e;
	return 0;
}

int strata_loadgen_lengths_parse(const char *text, struct strata_loadgen_lengths *out, char *err,
				 size_t err_len)
{
	memset(out, 0, sizeof(*out));
	const char *p = text;
	while (*p == ' ')
		p++;
	const char *form = "N, N,N,..., uniform:N,N,... or LO..HI (integers >= 1)";
	if (strncmp(p, "uniform:", 8) == 0) {
		out->kind = STRATA_LOADGEN_LEN_UNIFORM;
		p += 8;
	} else if (strstr(p, "..")) {
		const char *e;
		out->kind = STRATA_LOADGEN_LEN_RANGE;
		if (parse_int(p, &e, &out->lo) != 0 || strncmp(e, "..", 2) != 0 ||
		    parse_int(e + 2, &e, &out->hi) != 0 || *e != '\0' || out->hi < out->lo) {
			errorf(err, err_len, "length '%s': expected %s", text, form);
			return -1;
		}
		return 0;
	} else {
		out->kind = STRATA_LOADGEN_LEN_CYCLE;
	}
	for (;;) {
		const char *e;
		int v;
		while (*p == ' ')
			p++;
		if (parse_int(p, &e, &v) != 0) {
			errorf(err, err_len, "length '%s': expected %s", text, form);
			return -1;
		}
		if (out->n == STRATA_LOADGEN_MAX_LENGTHS) {
			errorf(err, err_len, "length '%s': more than %d values", text,
			       STRATA_LOADGEN_MAX_LENGTHS);
			return -1;
		}
		out->values[out->n++] = v;
		out->lo = out->n == 1 || v < out->lo ? v : out->lo;
		out->hi = out->n == 1 || v > out->hi ? v : out->hi;
		p = e;
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return 0;
		if (*p != ',') {
			errorf(err, err_len, "length '%s': expected %s", text, form);
			return -1;
		}
		p++;
	}
}

double strata_loadgen_lengths_mean(const struct strata_loadgen_lengths *l)
{
	if (l->kind == STRATA_LOADGEN_LEN_RANGE)
		return 0.5 * ((double)l->lo + (double)l->hi);
	double sum = 0;
	for (int i = 0; i < l->n; i++)
		sum += l->values[i];
	return l->n ? sum / l->n : 0;
}

int strata_loadgen_lengths_draw(const struct strata_loadgen_lengths *l, int64_t index,
				struct strata_loadgen_rng *rng)
{
	switch (l->kind) {
	case STRATA_LOADGEN_LEN_CYCLE:
		return l->values[index % l->n];
	case STRATA_LOADGEN_LEN_UNIFORM:
		return l->values[strata_loadgen_rng_u64(rng) % (uint64_t)l->n];
	case STRATA_LOADGEN_LEN_RANGE:
		return l->lo + (int)(strata_loadgen_rng_u64(rng) % (uint64_t)(l->hi - l->lo + 1));
	}
	return 1;
}

/* ---- percentiles ------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int strata_loadgen_dist_compute(const double *v, size_t n, struct strata_loadgen_dist *out)
{
	memset(out, 0, sizeof(*out));
	if (n == 0)
		return 0;
	double *s = malloc(n * sizeof(*s));
	if (!s)
		return -1;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
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

double strata_loadgen_beta_reg(double x, double a, double b)
{
	if (x <= 0)
		return 0;
	if (x >= 1)
		return 1;
	if (x > (a + 1) / (a + b + 2))
		return 1 - strata_loadgen_beta_reg(1 - x, b, a);
	double lbeta = lgamma(a) + lgamma(b) - lgamma(a + b);
	double front = exp(a * log(x) + b * log1p(-x) - lbeta) / a;
	return front * beta_cf(x, a, b);
}

double strata_loadgen_binom_cdf(int64_t k, int64_t n, double q)
{
	if (k < 0)
		return 0;
	if (k >= n)
		return 1;
	return strata_loadgen_beta_reg(1 - q, (double)(n - k), (double)(k + 1));
}

void strata_loadgen_es_init(struct strata_loadgen_es *es, double p, double c)
{
	*es = (struct strata_loadgen_es){ .p = p, .c = c };
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
	return strata_loadgen_beta_reg(es->p, (double)h, (double)(t + 1)) <= 1 - es->c;
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
	double tail = strata_loadgen_beta_reg(1 - p, (double)t, (double)(n - t + 1));
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

/* ---- settings ----------------------------------------------------------------------- */

void strata_loadgen_settings_default(struct strata_loadgen_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->scenario = STRATA_LOADGEN_SINGLE_STREAM;
	s->rate_qps = 1;
	s->min_duration_s = 1;
	s->min_queries = 100;
	s->max_duration_s = 60;
	strata_loadgen_lengths_parse("32", &s->prompt, NULL, 0);
	strata_loadgen_lengths_parse("16", &s->output, NULL, 0);
}

void strata_loadgen_result_release(struct strata_loadgen_result *r)
{
	free(r->records);
	r->records = NULL;
}

/* ---- the run ---------------------------------------------------------------------- */

enum { REC_QUEUED, REC_HELD, REC_DONE, REC_ABANDONED };

struct run {
	struct strata_loadgen_settings s;
	const struct strata_loadgen_sut *sut;
	const struct strata_loadgen_clock *clk;
	struct strata_loadgen_result *res;
	int64_t t0_ns;
	double p, c;
	int bounded;                     /* any bound given */
	struct strata_loadgen_rng rng_prompt, rng_output;
	struct strata_loadgen_arrivals arr;
	int64_t next_arrival_ns;         /* Server */
	int64_t n_offline;
	/* Requests: records[0..n), created in arrival order, admitted in order. */
	struct strata_loadgen_record *rec;
	int64_t n, cap;
	int64_t admit_next;              /* first queued (not yet admitted) record */
	int64_t *held;                   /* ids held by the SUT, (capacity) */
	int nheld;
	int64_t completed, abandoned;
	int64_t issued_tpot;             /* requests with a TPOT (output >= 2) */
	int64_t pop_done[STRATA_LOADGEN_NMEASURES], over_done[STRATA_LOADGEN_NMEASURES];
	struct strata_loadgen_es es;
	int issuing;
	int stop_set;
	/* Early-stopping looks (decide()). */
	int viol_look;
	int64_t viol_next_n;
	int64_t es_next_q[STRATA_LOADGEN_NMEASURES];
	char *err;
	size_t err_len;
	int failed;                       /* a sink call saw a SUT error */
};

static int64_t rel_now(const struct run *r)
{
	return r->clk->now_ns(r->clk->ctx) - r->t0_ns;
}

static void run_fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void run_fail(struct run *r, const char *fmt, ...)
{
	if (r->failed)
		return;
	r->failed = 1;
	va_list ap;
	va_start(ap, fmt);
	if (r->err && r->err_len)
		vsnprintf(r->err, r->err_len, fmt, ap);
	va_end(ap);
}

static void set_stop(struct run *r, enum strata_loadgen_stop why)
{
	if (!r->stop_set) {
		r->res->stop = why;
		r->stop_set = 1;
	}
	r->issuing = 0;
}

/* A measure's value for a record; 0 when it has none (yet). */
static int value_of(const struct strata_loadgen_record *x, enum strata_loadgen_measure m, double *v)
{
	switch (m) {
	case STRATA_LOADGEN_E2E:
		if (x->done_ns < 0)
			return 0;
		*v = (double)(x->done_ns - x->arrival_ns) / NS_PER_S;
		return 1;
	case STRATA_LOADGEN_TTFT:
		if (x->first_ns < 0)
			return 0;
		*v = (double)(x->first_ns - x->arrival_ns) / NS_PER_S;
		return 1;
	case STRATA_LOADGEN_TPOT:
		if (x->done_ns < 0 || x->first_ns < 0 || x->output_tokens < 2)
			return 0;
		*v = (double)(x->done_ns - x->first_ns) / NS_PER_S / (double)(x->output_tokens - 1);
		return 1;
	case STRATA_LOADGEN_NMEASURES:
		break;
	}
	return 0;
}

static int add_request(struct run *r, int64_t arrival_ns)
{
	if (r->n == r->cap) {
		int64_t cap = r->cap ? r->cap * 2 : 1024;
		struct strata_loadgen_record *nr = realloc(r->rec, (size_t)cap * sizeof(*nr));
		if (!nr) {
			run_fail(r, "loadgen: out of memory for %lld requests", (long long)cap);
			return -1;
		}
		r->rec = nr;
		r->cap = cap;
	}
	struct strata_loadgen_record *x = &r->rec[r->n];
	*x = (struct strata_loadgen_record){ .arrival_ns = arrival_ns, .admit_ns = -1, .first_ns = -1,
					     .done_ns = -1, .state = REC_QUEUED };
	x->prompt_tokens = strata_loadgen_lengths_draw(&r->s.prompt, r->n, &r->rng_prompt);
	x->output_tokens = strata_loadgen_lengths_draw(&r->s.output, r->n, &r->rng_output);
	if (x->output_tokens >= 2)
		r->issued_tpot++;
	r->res->last_scheduled_s = (double)arrival_ns / NS_PER_S;
	r->res->last_issued_s = (double)rel_now(r) / NS_PER_S;
	r->n++;
	if (r->s.max_queries > 0 && r->n >= r->s.max_queries && r->issuing)
		set_stop(r, STRATA_LOADGEN_STOP_MAX_QUERIES);
	return 0;
}

static struct strata_loadgen_record *held_record(struct run *r, int64_t id, const char *what)
{
	if (id < 0 || id >= r->n || r->rec[id].state != REC_HELD) {
		run_fail(r, "loadgen: SUT reported %s for request %lld, which it does not hold", what,
			 (long long)id);
		return NULL;
	}
	return &r->rec[id];
}

static void sink_token(void *ctx, int64_t id, int n)
{
	struct run *r = ctx;
	struct strata_loadgen_record *x = held_record(r, id, "a token");
	if (!x)
		return;
	if (n < 1) {
		run_fail(r, "loadgen: SUT reported %d tokens for request %lld", n, (long long)id);
		return;
	}
	int64_t now = rel_now(r);
	if (x->emitted == 0)
		x->first_ns = now;
	x->emitted += n;
	if (x->emitted > x->output_tokens)
		run_fail(r, "loadgen: SUT emitted %d tokens for request %lld of %d", x->emitted,
			 (long long)id, x->output_tokens);
}

static void sink_done(void *ctx, int64_t id)
{
	struct run *r = ctx;
	struct strata_loadgen_record *x = held_record(r, id, "a completion");
	if (!x)
		return;
	if (x->emitted != x->output_tokens) {
		run_fail(r, "loadgen: SUT completed request %lld after %d of its %d tokens", (long long)id,
			 x->emitted, x->output_tokens);
		return;
	}
	x->done_ns = rel_now(r);
	x->state = REC_DONE;
	for (int i = 0; i < r->nheld; i++) {
		if (r->held[i] == id) {
			r->held[i] = r->held[--r->nheld];
			break;
		}
	}
	r->completed++;
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++) {
		double v;
		if (r->s.bound_s[m] > 0 && value_of(x, (enum strata_loadgen_measure)m, &v)) {
			r->pop_done[m]++;
			r->over_done[m] += v > r->s.bound_s[m];
		}
	}
}

/* Requests in flight (held or queued) already known to be over the bound of
 * measure m: their final value can only be larger. */
static int64_t inflight_over(const struct run *r, int m, int64_t now)
{
	int64_t bound_ns = (int64_t)(r->s.bound_s[m] * NS_PER_S), over = 0;
	for (int i = 0; i < r->nheld; i++) {
		const struct strata_loadgen_record *x = &r->rec[r->held[i]];
		if (m == STRATA_LOADGEN_E2E) {
			over += now - x->arrival_ns > bound_ns;
		} else if (m == STRATA_LOADGEN_TTFT) {
			int64_t waited = x->first_ns >= 0 ? x->first_ns - x->arrival_ns
							  : now - x->arrival_ns;
			over += waited > bound_ns;
		} else if (x->output_tokens >= 2 && x->first_ns >= 0) {
			/* The final TPOT is at least (now - first) / (n - 1). */
			over += (double)(now - x->first_ns) / (double)(x->output_tokens - 1) >
				(double)bound_ns;
		}
	}
	if (m != STRATA_LOADGEN_TPOT) {
		/* Queued requests arrived in order: those waiting too long are a prefix. */
		for (int64_t i = r->admit_next; i < r->n && now - r->rec[i].arrival_ns > bound_ns; i++)
			over++;
	}
	return over;
}

/* Early stopping as the run goes (see loadgen.h), at scheduled looks.
 *   violated: looks at 16, 32, 64, ... requests issued; look k asks whether
 *     the known-over count among every request issued (the others counted as
 *     under, which favours the SUT) has probability <= (1 - c) / 2^(k+1)
 *     under a system exactly at the percentile, so that a false "violated"
 *     over the whole run has probability <= 1 - c (Bonferroni over looks);
 *   met: the rules appendix's procedure: the first look once the minimum
 *     duration and query count are met; with q processed and t over, the run
 *     passes when q >= h(t) + t, else the next look comes after h(t) + t - q
 *     more have been processed.  Since h(t) + t grows with t and t never
 *     falls, no q between two looks can pass: the procedure stops at the
 *     first q that passes, exactly as a test after every completion would
 *     (the looks only save work).  Its confidence c holds per look, not for
 *     the whole sequence, and it takes requests as independent while
 *     queueing delays are correlated, so a run a little above the true limit
 *     can pass; the criterion is kept as LoadGen's so verdicts compare.
 *     Known-over requests in flight count as processed and over.  The
 *     requests still in flight are then drained and the verdict is taken
 *     again on all of them (as results.cc does at the end of every run), so
 *     a drained request that ends over can still make the run invalid, as in
 *     LoadGen; counting every request in flight as over instead would be
 *     sound but costs about 1/(1 - p) more queries per request in flight
 *     (~100 at p99), a high price for batched servers. */
static int look_violated(struct run *r, int64_t now)
{
	if (r->n < r->viol_next_n)
		return 0;
	double alpha = (1 - r->c) / ldexp(1.0, r->viol_look + 1);
	r->viol_look++;
	r->viol_next_n *= 2;
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++) {
		if (r->s.bound_s[m] <= 0)
			continue;
		int64_t issued = m == STRATA_LOADGEN_TPOT ? r->issued_tpot : r->n;
		int64_t known = r->over_done[m] + inflight_over(r, m, now);
		if (strata_loadgen_es_violated(r->p, 1 - alpha, known, issued))
			return 1;
	}
	return 0;
}

static int look_met(struct run *r, int64_t now)
{
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++)
		if (r->s.bound_s[m] > 0 && r->pop_done[m] < r->es_next_q[m])
			return 0; /* not yet at the next look */
	int met = 1;
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++) {
		if (r->s.bound_s[m] <= 0)
			continue;
		int64_t extra = inflight_over(r, m, now);
		int64_t t = r->over_done[m] + extra, q = r->pop_done[m] + extra;
		int64_t h = strata_loadgen_es_min_passing(&r->es, t);
		if (h < 0 || q < h + t) {
			met = 0;
			r->es_next_q[m] = h < 0 ? INT64_MAX : h + t - extra;
		}
	}
	return met;
}

static void abandon_all(struct run *r)
{
	for (int64_t i = 0; i < r->n; i++) {
		if (r->rec[i].state == REC_QUEUED || r->rec[i].state == REC_HELD) {
			r->rec[i].state = REC_ABANDONED;
			r->abandoned++;
		}
	}
	r->admit_next = r->n;
	r->nheld = 0;
	if (r->sut->reset)
		r->sut->reset(r->sut->ctx);
}

/* Step 3 of the loop: the run rules and early stopping.  Returns 1 when the
 * run is to be abandoned now. */
static int decide(struct run *r, int64_t now)
{
	const struct strata_loadgen_settings *s = &r->s;
	if (s->scenario == STRATA_LOADGEN_SERVER && s->max_outstanding > 0 &&
	    r->n - r->completed - r->abandoned > s->max_outstanding) {
		set_stop(r, STRATA_LOADGEN_STOP_OVERLOADED);
		return 1;
	}
	if (!r->issuing || s->scenario == STRATA_LOADGEN_OFFLINE)
		return 0;
	if (r->bounded && look_violated(r, now)) {
		set_stop(r, STRATA_LOADGEN_STOP_VIOLATED);
		return 1;
	}
	int rules;
	if (s->scenario == STRATA_LOADGEN_SERVER) {
		rules = r->res->last_scheduled_s >= s->min_duration_s && r->n >= s->min_queries;
	} else {
		rules = r->res->last_issued_s >= s->min_duration_s && r->n >= s->min_queries;
		/* LoadGen's SingleStream estimate needs h(1) + 1 queries (rules appendix). */
		int64_t h1 = strata_loadgen_es_min_passing(&r->es, 1);
		if (h1 < 0 || r->completed < h1 + 1)
			rules = 0;
	}
	if (rules && (!r->bounded || look_met(r, now)))
		set_stop(r, STRATA_LOADGEN_STOP_RULES);
	return 0;
}

static int admit_queued(struct run *r)
{
	while (r->admit_next < r->n && r->nheld < r->sut->capacity) {
		struct strata_loadgen_record *x = &r->rec[r->admit_next];
		struct strata_loadgen_request q = { .id = r->admit_next,
						    .prompt_tokens = x->prompt_tokens,
						    .output_tokens = x->output_tokens };
		char why[256] = "";
		int rc = r->sut->admit(r->sut->ctx, &q, why, sizeof(why));
		if (rc == STRATA_LOADGEN_BUSY)
			break;
		if (rc != STRATA_LOADGEN_ADMITTED) {
			run_fail(r, "loadgen: SUT refused request %lld: %s", (long long)q.id,
				 why[0] ? why : "(no message)");
			return -1;
		}
		x->state = REC_HELD;
		x->admit_ns = rel_now(r);
		r->held[r->nheld++] = r->admit_next;
		r->admit_next++;
	}
	return 0;
}

/* Step 1 of the loop. */
static int arrive(struct run *r, int64_t now)
{
	const struct strata_loadgen_settings *s = &r->s;
	int64_t max_ns = s->max_duration_s > 0 ? (int64_t)(s->max_duration_s * NS_PER_S) : INT64_MAX;
	switch (s->scenario) {
	case STRATA_LOADGEN_SERVER:
		while (r->issuing && r->next_arrival_ns <= now) {
			if (add_request(r, r->next_arrival_ns) != 0)
				return -1;
			r->next_arrival_ns =
				(int64_t)(strata_loadgen_arrivals_next(&r->arr) * NS_PER_S);
		}
		/* Nothing is scheduled after max_duration_s: stop issuing at once
		 * rather than wait for an arrival that will never be issued. */
		if (r->issuing && r->next_arrival_ns > max_ns)
			set_stop(r, STRATA_LOADGEN_STOP_MAX_DURATION);
		break;
	case STRATA_LOADGEN_SINGLE_STREAM:
		if (r->issuing && now >= max_ns)
			set_stop(r, STRATA_LOADGEN_STOP_MAX_DURATION);
		if (r->issuing && r->completed + r->abandoned == r->n)
			return add_request(r, now); /* issued at the previous completion */
		break;
	case STRATA_LOADGEN_OFFLINE:
		if (r->issuing) {
			for (int64_t i = 0; i < r->n_offline; i++)
				if (add_request(r, 0) != 0)
					return -1;
			set_stop(r, STRATA_LOADGEN_STOP_ALL_DONE);
		}
		break;
	}
	return 0;
}

/* The verdict and the figures, after the loop. */
static int finish(struct run *r)
{
	struct strata_loadgen_result *res = r->res;
	const struct strata_loadgen_settings *s = &r->s;
	res->issued = r->n;
	res->completed = r->completed;
	res->incomplete = r->n - r->completed;
	res->records = r->rec;
	r->rec = NULL;
	int64_t last_done = 0;
	for (int64_t i = 0; i < res->issued; i++) {
		const struct strata_loadgen_record *x = &res->records[i];
		if (x->state != REC_DONE)
			continue;
		res->prompt_tokens += x->prompt_tokens;
		res->output_tokens += x->output_tokens;
		if (x->done_ns > last_done)
			last_done = x->done_ns;
	}
	res->duration_s = (double)last_done / NS_PER_S;
	double *v = malloc((size_t)(res->issued > 0 ? res->issued : 1) * sizeof(*v));
	if (!v) {
		run_fail(r, "loadgen: out of memory for the figures");
		return -1;
	}
	res->constraints_met = 1;
	res->early_stopping_met = 1;
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++) {
		size_t n = strata_loadgen_values(res, (enum strata_loadgen_measure)m, v);
		if (strata_loadgen_dist_compute(v, n, &res->dist[m]) != 0) {
			free(v);
			run_fail(r, "loadgen: out of memory for the figures");
			return -1;
		}
		struct strata_loadgen_verdict *vd = &res->verdict[m];
		if (s->bound_s[m] <= 0)
			continue;
		qsort(v, n, sizeof(*v), cmp_double);
		vd->bounded = 1;
		vd->bound_s = s->bound_s[m];
		vd->population = (int64_t)n;
		for (size_t i = 0; i < n; i++)
			vd->overlatency += v[i] > vd->bound_s;
		vd->percentile_s = strata_loadgen_percentile_loadgen(v, n, r->p);
		vd->constraint_met = n > 0 && vd->percentile_s <= vd->bound_s;
		int64_t h = strata_loadgen_es_min_passing(&r->es, vd->overlatency);
		vd->early_stopping_needed = h < 0 ? INT64_MAX : h + vd->overlatency;
		vd->early_stopping_met = n > 0 && vd->population >= vd->early_stopping_needed;
		res->constraints_met &= vd->constraint_met;
		res->early_stopping_met &= vd->early_stopping_met;
	}
	if (s->scenario == STRATA_LOADGEN_SINGLE_STREAM) {
		size_t n = strata_loadgen_values(res, STRATA_LOADGEN_E2E, v);
		qsort(v, n, sizeof(*v), cmp_double);
		res->es_estimate_s = strata_loadgen_es_estimate(&r->es, v, (int64_t)n);
		if (res->es_estimate_s <= 0)
			res->early_stopping_met = 0;
	}
	free(v);

	int64_t n = res->completed;
	switch (s->scenario) {
	case STRATA_LOADGEN_OFFLINE:
		res->min_duration_met = res->duration_s >= s->min_duration_s;
		res->queries_per_s = res->duration_s > 0 ? (double)n / res->duration_s : 0;
		res->tokens_per_s =
			res->duration_s > 0 ? (double)res->output_tokens / res->duration_s : 0;
		break;
	case STRATA_LOADGEN_SERVER:
		res->min_duration_met = res->last_scheduled_s >= s->min_duration_s;
		res->queries_per_s = res->duration_s > 0 && n > 1 ? (double)(n - 1) / res->duration_s : 0;
		res->tokens_per_s =
			res->duration_s > 0 ? (double)res->output_tokens / res->duration_s : 0;
		break;
	case STRATA_LOADGEN_SINGLE_STREAM:
		res->min_duration_met = res->last_issued_s >= s->min_duration_s;
		res->queries_per_s =
			res->last_issued_s > 0 && n > 1 ? (double)(n - 1) / res->last_issued_s : 0;
		res->tokens_per_s =
			res->last_issued_s > 0 ? (double)res->output_tokens / res->last_issued_s : 0;
		break;
	}
	res->min_queries_met = res->issued >= s->min_queries;
	res->valid = res->min_duration_met && res->min_queries_met && res->constraints_met &&
		     res->early_stopping_met && res->incomplete == 0;

	/* One line saying why. */
	char *w = res->why;
	size_t left = sizeof(res->why);
	int k = snprintf(w, left, "%s (%s)", res->valid ? "valid" : "invalid",
			 strata_loadgen_stop_name(res->stop));
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES && k > 0 && (size_t)k < left; m++) {
		const struct strata_loadgen_verdict *vd = &res->verdict[m];
		if (!vd->bounded)
			continue;
		k += snprintf(w + k, left - (size_t)k,
			      "; %s p%g %.6g s vs bound %.6g s, %lld of %lld over, early stopping needs %lld",
			      strata_loadgen_measure_name((enum strata_loadgen_measure)m), r->p * 100,
			      vd->percentile_s, vd->bound_s, (long long)vd->overlatency,
			      (long long)vd->population, (long long)vd->early_stopping_needed);
	}
	if (k > 0 && (size_t)k < left && !res->min_duration_met)
		k += snprintf(w + k, left - (size_t)k, "; min duration %.6g s not met", s->min_duration_s);
	if (k > 0 && (size_t)k < left && !res->min_queries_met)
		k += snprintf(w + k, left - (size_t)k, "; min queries %lld not met",
			      (long long)s->min_queries);
	if (k > 0 && (size_t)k < left && res->incomplete)
		snprintf(w + k, left - (size_t)k, "; %lld requests abandoned", (long long)res->incomplete);
	return 0;
}

size_t strata_loadgen_values(const struct strata_loadgen_result *r, enum strata_loadgen_measure m,
			     double *out)
{
	size_t n = 0;
	for (int64_t i = 0; i < r->issued; i++) {
		double v;
		if (r->records[i].state == REC_DONE && value_of(&r->records[i], m, &v))
			out[n++] = v;
	}
	return n;
}

static int check_settings(const struct strata_loadgen_settings *s,
			  const struct strata_loadgen_sut *sut, char *err, size_t err_len)
{
	if (!sut || !sut->admit || !sut->step || sut->capacity < 1) {
		errorf(err, err_len, "loadgen: the SUT needs admit, step and a capacity >= 1");
		return -1;
	}
	if (s->scenario == STRATA_LOADGEN_SERVER && !(s->rate_qps > 0 && isfinite(s->rate_qps))) {
		errorf(err, err_len, "loadgen: server rate_qps must be > 0 (got %g)", s->rate_qps);
		return -1;
	}
	if (s->percentile < 0 || s->percentile >= 1 || s->confidence < 0 || s->confidence >= 1) {
		errorf(err, err_len, "loadgen: percentile and confidence must be in (0, 1)");
		return -1;
	}
	if (s->min_duration_s < 0 || s->max_duration_s < 0 || s->min_queries < 0 ||
	    s->max_queries < 0) {
		errorf(err, err_len, "loadgen: durations and query counts must be >= 0");
		return -1;
	}
	if (s->prompt.n == 0 && s->prompt.kind != STRATA_LOADGEN_LEN_RANGE) {
		errorf(err, err_len, "loadgen: no prompt lengths");
		return -1;
	}
	if (s->output.n == 0 && s->output.kind != STRATA_LOADGEN_LEN_RANGE) {
		errorf(err, err_len, "loadgen: no output lengths");
		return -1;
	}
	return 0;
}

int strata_loadgen_run(const struct strata_loadgen_settings *settings,
		       const struct strata_loadgen_sut *sut, const struct strata_loadgen_clock *clk,
		       struct strata_loadgen_result *res, char *err, size_t err_len)
{
	memset(res, 0, sizeof(*res));
	if (check_settings(settings, sut, err, err_len) != 0)
		return -1;
	struct run r = { .s = *settings, .sut = sut, .clk = clk, .res = res, .err = err,
			 .err_len = err_len, .issuing = 1, .viol_next_n = FIRST_VIOLATION_LOOK };
	const struct strata_loadgen_settings *s = &r.s;
	r.p = s->percentile > 0 ? s->percentile
				: (s->scenario == STRATA_LOADGEN_SERVER ? 0.99 : 0.90);
	r.c = s->confidence > 0 ? s->confidence : 0.99;
	res->scenario = s->scenario;
	res->rate_qps = s->scenario == STRATA_LOADGEN_SERVER ? s->rate_qps : 0;
	res->percentile = r.p;
	res->confidence = r.c;
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++)
		r.bounded |= s->bound_s[m] > 0;
	strata_loadgen_es_init(&r.es, r.p, r.c);
	strata_loadgen_rng_seed(&r.rng_prompt, s->seed, 2);
	strata_loadgen_rng_seed(&r.rng_output, s->seed, 3);
	strata_loadgen_arrivals_init(&r.arr, s->seed, s->rate_qps > 0 ? s->rate_qps : 1);
	r.next_arrival_ns = (int64_t)(strata_loadgen_arrivals_next(&r.arr) * NS_PER_S);
	if (s->scenario == STRATA_LOADGEN_OFFLINE) {
		/* Truncated, as LoadGen's uint64_t target_sample_count. */
		double want = floor(1.1 * s->offline_expected_qps * s->min_duration_s + 1e-9);
		r.n_offline = s->min_queries > 0 ? s->min_queries : 1;
		if (want > (double)r.n_offline)
			r.n_offline = want < 1e9 ? (int64_t)want : 1000000000;
		if (s->max_queries > 0 && r.n_offline > s->max_queries)
			r.n_offline = s->max_queries;
	}
	r.held = calloc((size_t)sut->capacity, sizeof(*r.held));
	if (!r.held) {
		errorf(err, err_len, "loadgen: out of memory");
		return -1;
	}
	if (sut->reset)
		sut->reset(sut->ctx);
	struct strata_loadgen_sink sink = { .ctx = &r, .token = sink_token, .done = sink_done };
	int64_t hard_ns = s->max_duration_s > 0 ? (int64_t)(2 * s->max_duration_s * NS_PER_S)
						: INT64_MAX;
	r.t0_ns = clk->now_ns(clk->ctx);
	int rc = 0;
	for (;;) {
		int64_t now = rel_now(&r);
		/* Decide before issuing, so that SingleStream issues nothing more
		 * once its rules are met. */
		if (decide(&r, now) || (now > hard_ns && r.completed + r.abandoned < r.n)) {
			if (now > hard_ns) { /* whatever stopped the issuing, the cap ended the run */
				r.stop_set = 0;
				set_stop(&r, STRATA_LOADGEN_STOP_MAX_DURATION);
			}
			abandon_all(&r);
			break;
		}
		if (arrive(&r, now) != 0 || admit_queued(&r) != 0) {
			rc = -1;
			break;
		}
		if (r.nheld > 0) {
			char why[256] = "";
			if (sut->step(sut->ctx, &sink, why, sizeof(why)) != 0) {
				run_fail(&r, "loadgen: SUT step failed: %s", why[0] ? why : "(no message)");
				rc = -1;
				break;
			}
			res->steps++;
			if (r.failed) {
				rc = -1;
				break;
			}
		} else if (r.admit_next < r.n) {
			run_fail(&r, "loadgen: SUT holds nothing yet refuses request %lld",
				 (long long)r.admit_next);
			rc = -1;
			break;
		} else if (r.issuing && s->scenario == STRATA_LOADGEN_SERVER) {
			clk->wait_until_ns(clk->ctx, r.t0_ns + r.next_arrival_ns);
		} else if (!r.issuing) {
			break; /* drained */
		}
	}
	if (rc != 0) {
		abandon_all(&r);
		r.failed = 1;
	}
	if (finish(&r) != 0)
		rc = -1;
	free(r.held);
	free(r.rec);
	strata_loadgen_es_release(&r.es);
	return rc;
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

/* ---- the rate search -------------------------------------------------------------- */

void strata_loadgen_search_init(struct strata_loadgen_search *s, double start_qps, double tol_rel,
				double min_qps, double max_qps, int max_probes)
{
	memset(s, 0, sizeof(*s));
	s->start_qps = start_qps;
	s->tol_rel = tol_rel > 0 ? tol_rel : 0.05;
	s->min_qps = min_qps > 0 ? min_qps : start_qps / 1024;
	s->max_qps = max_qps > 0 ? max_qps : start_qps * 1024;
	s->max_probes = max_probes > 0 && max_probes <= STRATA_LOADGEN_MAX_PROBES
				? max_probes
				: STRATA_LOADGEN_MAX_PROBES;
}

int strata_loadgen_search_next(struct strata_loadgen_search *s, double *rate_qps)
{
	if (s->stopped)
		return 0;
	if (s->nprobes >= s->max_probes) {
		s->stopped = "max probes reached";
		return 0;
	}
	double next;
	if (s->nprobes == 0) {
		next = s->start_qps;
	} else if (s->hi_qps <= 0) { /* every probe valid: widen upwards */
		if (s->lo_qps >= s->max_qps) {
			s->stopped = "max rate reached with every probe valid";
			return 0;
		}
		next = fmin(2 * s->lo_qps, s->max_qps);
	} else if (s->lo_qps <= 0) { /* every probe invalid: widen downwards */
		next = s->hi_qps / 2;
		if (next < s->min_qps) {
			s->stopped = "no valid rate at or above the minimum rate";
			return 0;
		}
	} else {
		if (s->hi_qps - s->lo_qps <= s->tol_rel * s->lo_qps) {
			s->stopped = "bracketed within the tolerance";
			return 0;
		}
		next = s->lo_qps + (s->hi_qps - s->lo_qps) / 2;
	}
	*rate_qps = next;
	return 1;
}

void strata_loadgen_search_report(struct strata_loadgen_search *s, double rate_qps, int valid)
{
	if (s->nprobes < STRATA_LOADGEN_MAX_PROBES)
		s->probes[s->nprobes++] = (struct strata_loadgen_probe){ rate_qps, valid };
	if (valid) {
		if (rate_qps > s->lo_qps)
			s->lo_qps = rate_qps;
		/* A valid probe above an invalid one (noise): trust the newest. */
		if (s->hi_qps > 0 && s->hi_qps <= rate_qps)
			s->hi_qps = 0;
	} else {
		if (s->hi_qps <= 0 || rate_qps < s->hi_qps)
			s->hi_qps = rate_qps;
		if (s->lo_qps >= rate_qps)
			s->lo_qps = 0;
	}
}

int strata_loadgen_find_max_rate(const struct strata_loadgen_settings *s,
				 const struct strata_loadgen_sut *sut,
				 const struct strata_loadgen_clock *clk,
				 struct strata_loadgen_search *search,
				 struct strata_loadgen_result *best, char *err, size_t err_len)
{
	memset(best, 0, sizeof(*best));
	struct strata_loadgen_settings probe = *s;
	probe.scenario = STRATA_LOADGEN_SERVER;
	double rate;
	while (strata_loadgen_search_next(search, &rate)) {
		struct strata_loadgen_result r;
		probe.rate_qps = rate;
		if (strata_loadgen_run(&probe, sut, clk, &r, err, err_len) != 0) {
			strata_loadgen_result_release(&r);
			return -1;
		}
		strata_loadgen_search_report(search, rate, r.valid);
		if (r.valid && rate >= search->lo_qps) {
			strata_loadgen_result_release(best);
			*best = r;
		} else {
			strata_loadgen_result_release(&r);
		}
	}
	return 0;
}
