/* loadgen.c: the LoadGen-style scenario driver (see loadgen.h for what it is
 * and is not, and where it follows or departs from MLPerf's LoadGen): the
 * names and default settings, the requests of a run, the sink the SUT
 * reports through, and the run loop.  Not the judging of a run (the run
 * rules, early stopping, the verdict and figures: loadgen_verdict.c), the
 * statistics (loadgen_stats.c), the rate search (loadgen_search.c), the
 * arrival schedule and request sizes (loadgen_arrivals.c) or the clocks
 * (loadgen_clock.c).
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
#include "kernels/nn/loadgen.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/nn/loadgen_internal.h"

/* Requests issued at the first look for a violation (then 2x, 4x, ...). */
#define FIRST_VIOLATION_LOOK 16

void strata_loadgen_errorf(char *err, size_t len, const char *fmt, ...)
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
	case STRATA_LOADGEN_SINGLE_STREAM:
		return "single_stream";
	case STRATA_LOADGEN_SERVER:
		return "server";
	case STRATA_LOADGEN_OFFLINE:
		return "offline";
	}
	return "?";
}

int strata_loadgen_scenario_parse(const char *name, enum strata_loadgen_scenario *out)
{
	static const enum strata_loadgen_scenario all[] = {
	    STRATA_LOADGEN_SINGLE_STREAM, STRATA_LOADGEN_SERVER, STRATA_LOADGEN_OFFLINE};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(name, strata_loadgen_scenario_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -1;
}

const char *strata_loadgen_stop_name(enum strata_loadgen_stop s)
{
	switch (s) {
	case STRATA_LOADGEN_STOP_RULES:
		return "run rules met";
	case STRATA_LOADGEN_STOP_ALL_DONE:
		return "all requests completed";
	case STRATA_LOADGEN_STOP_VIOLATED:
		return "early stopping: bound violated";
	case STRATA_LOADGEN_STOP_OVERLOADED:
		return "max_outstanding exceeded";
	case STRATA_LOADGEN_STOP_MAX_DURATION:
		return "max duration reached";
	case STRATA_LOADGEN_STOP_MAX_QUERIES:
		return "max queries reached";
	}
	return "?";
}

/* ---- settings and results ----------------------------------------------------------- */

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

/* ---- the requests of a run ---------------------------------------------------------- */

static int64_t rel_now(const struct loadgen_run *r)
{
	return r->clk->now_ns(r->clk->ctx) - r->t0_ns;
}

void strata_loadgen_run_fail(struct loadgen_run *r, const char *fmt, ...)
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

void strata_loadgen_set_stop(struct loadgen_run *r, enum strata_loadgen_stop why)
{
	if (!r->stop_set) {
		r->res->stop = why;
		r->stop_set = 1;
	}
	r->issuing = 0;
}

static int add_request(struct loadgen_run *r, int64_t arrival_ns)
{
	if (r->n == r->cap) {
		int64_t cap = r->cap ? r->cap * 2 : 1024;
		struct strata_loadgen_record *nr = realloc(r->rec, (size_t)cap * sizeof(*nr));
		if (!nr) {
			strata_loadgen_run_fail(r, "loadgen: out of memory for %lld requests",
			                        (long long)cap);
			return -1;
		}
		r->rec = nr;
		r->cap = cap;
	}
	struct strata_loadgen_record *x = &r->rec[r->n];
	*x = (struct strata_loadgen_record){.arrival_ns = arrival_ns,
	                                    .admit_ns = -1,
	                                    .first_ns = -1,
	                                    .done_ns = -1,
	                                    .state = REC_QUEUED};
	x->prompt_tokens = strata_loadgen_lengths_draw(&r->s.prompt, r->n, &r->rng_prompt);
	x->output_tokens = strata_loadgen_lengths_draw(&r->s.output, r->n, &r->rng_output);
	if (x->output_tokens >= 2)
		r->issued_tpot++;
	r->res->last_scheduled_s = (double)arrival_ns / NS_PER_S;
	r->res->last_issued_s = (double)rel_now(r) / NS_PER_S;
	r->n++;
	if (r->s.max_queries > 0 && r->n >= r->s.max_queries && r->issuing)
		strata_loadgen_set_stop(r, STRATA_LOADGEN_STOP_MAX_QUERIES);
	return 0;
}

/* ---- the sink: what the SUT reports from inside step() ------------------------------ */

static struct strata_loadgen_record *held_record(struct loadgen_run *r, int64_t id,
                                                 const char *what)
{
	if (id < 0 || id >= r->n || r->rec[id].state != REC_HELD) {
		strata_loadgen_run_fail(
		    r, "loadgen: SUT reported %s for request %lld, which it does not hold", what,
		    (long long)id);
		return NULL;
	}
	return &r->rec[id];
}

static void sink_token(void *ctx, int64_t id, int n)
{
	struct loadgen_run *r = ctx;
	struct strata_loadgen_record *x = held_record(r, id, "a token");
	if (!x)
		return;
	if (n < 1) {
		strata_loadgen_run_fail(r, "loadgen: SUT reported %d tokens for request %lld", n,
		                        (long long)id);
		return;
	}
	int64_t now = rel_now(r);
	if (x->emitted == 0)
		x->first_ns = now;
	x->emitted += n;
	if (x->emitted > x->output_tokens)
		strata_loadgen_run_fail(r, "loadgen: SUT emitted %d tokens for request %lld of %d",
		                        x->emitted, (long long)id, x->output_tokens);
}

static void sink_done(void *ctx, int64_t id)
{
	struct loadgen_run *r = ctx;
	struct strata_loadgen_record *x = held_record(r, id, "a completion");
	if (!x)
		return;
	if (x->emitted != x->output_tokens) {
		strata_loadgen_run_fail(
		    r, "loadgen: SUT completed request %lld after %d of its %d tokens",
		    (long long)id, x->emitted, x->output_tokens);
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
		if (r->s.bound_s[m] > 0 &&
		    strata_loadgen_record_value(x, (enum strata_loadgen_measure)m, &v)) {
			r->pop_done[m]++;
			r->over_done[m] += v > r->s.bound_s[m];
		}
	}
}

/* ---- steps 1 and 2 of the loop, and abandoning ------------------------------------- */

static void abandon_all(struct loadgen_run *r)
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

static int admit_queued(struct loadgen_run *r)
{
	while (r->admit_next < r->n && r->nheld < r->sut->capacity) {
		struct strata_loadgen_record *x = &r->rec[r->admit_next];
		struct strata_loadgen_request q = {.id = r->admit_next,
		                                   .prompt_tokens = x->prompt_tokens,
		                                   .output_tokens = x->output_tokens};
		char why[256] = "";
		int rc = r->sut->admit(r->sut->ctx, &q, why, sizeof(why));
		if (rc == STRATA_LOADGEN_BUSY)
			break;
		if (rc != STRATA_LOADGEN_ADMITTED) {
			strata_loadgen_run_fail(r, "loadgen: SUT refused request %lld: %s",
			                        (long long)q.id, why[0] ? why : "(no message)");
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
static int arrive(struct loadgen_run *r, int64_t now)
{
	const struct strata_loadgen_settings *s = &r->s;
	int64_t max_ns =
	    s->max_duration_s > 0 ? (int64_t)(s->max_duration_s * NS_PER_S) : INT64_MAX;
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
			strata_loadgen_set_stop(r, STRATA_LOADGEN_STOP_MAX_DURATION);
		break;
	case STRATA_LOADGEN_SINGLE_STREAM:
		if (r->issuing && now >= max_ns)
			strata_loadgen_set_stop(r, STRATA_LOADGEN_STOP_MAX_DURATION);
		if (r->issuing && r->completed + r->abandoned == r->n)
			return add_request(r, now); /* issued at the previous completion */
		break;
	case STRATA_LOADGEN_OFFLINE:
		if (r->issuing) {
			for (int64_t i = 0; i < r->n_offline; i++)
				if (add_request(r, 0) != 0)
					return -1;
			strata_loadgen_set_stop(r, STRATA_LOADGEN_STOP_ALL_DONE);
		}
		break;
	}
	return 0;
}

/* ---- running -------------------------------------------------------------------- */

static int check_settings(const struct strata_loadgen_settings *s,
                          const struct strata_loadgen_sut *sut, char *err, size_t err_len)
{
	if (!sut || !sut->admit || !sut->step || sut->capacity < 1) {
		strata_loadgen_errorf(err, err_len,
		                      "loadgen: the SUT needs admit, step and a capacity >= 1");
		return -1;
	}
	if (s->scenario == STRATA_LOADGEN_SERVER && !(s->rate_qps > 0 && isfinite(s->rate_qps))) {
		strata_loadgen_errorf(err, err_len, "loadgen: server rate_qps must be > 0 (got %g)",
		                      s->rate_qps);
		return -1;
	}
	if (s->percentile < 0 || s->percentile >= 1 || s->confidence < 0 || s->confidence >= 1) {
		strata_loadgen_errorf(err, err_len,
		                      "loadgen: percentile and confidence must be in (0, 1)");
		return -1;
	}
	if (s->min_duration_s < 0 || s->max_duration_s < 0 || s->min_queries < 0 ||
	    s->max_queries < 0) {
		strata_loadgen_errorf(err, err_len,
		                      "loadgen: durations and query counts must be >= 0");
		return -1;
	}
	if (s->prompt.n == 0 && s->prompt.kind != STRATA_LOADGEN_LEN_RANGE) {
		strata_loadgen_errorf(err, err_len, "loadgen: no prompt lengths");
		return -1;
	}
	if (s->output.n == 0 && s->output.kind != STRATA_LOADGEN_LEN_RANGE) {
		strata_loadgen_errorf(err, err_len, "loadgen: no output lengths");
		return -1;
	}
	return 0;
}

/* The request count of an Offline run: max(min_queries, 1.1 x expected_qps x
 * min_duration_s) (LoadGen's kSlack, test_settings_internal.cc), at most
 * max_queries. */
static int64_t offline_count(const struct strata_loadgen_settings *s)
{
	/* Truncated, as LoadGen's uint64_t target_sample_count. */
	double want = floor(1.1 * s->offline_expected_qps * s->min_duration_s + 1e-9);
	int64_t n = s->min_queries > 0 ? s->min_queries : 1;
	if (want > (double)n)
		n = want < 1e9 ? (int64_t)want : 1000000000;
	if (s->max_queries > 0 && n > s->max_queries)
		n = s->max_queries;
	return n;
}

/* The run's state from checked settings: percentile and confidence with
 * their defaults, the random streams, the first arrival, the held list.
 * 0, or -1 when out of memory. */
static int run_init(struct loadgen_run *r, const struct strata_loadgen_settings *settings,
                    const struct strata_loadgen_sut *sut, const struct strata_loadgen_clock *clk,
                    struct strata_loadgen_result *res, char *err, size_t err_len)
{
	*r = (struct loadgen_run){.s = *settings,
	                          .sut = sut,
	                          .clk = clk,
	                          .res = res,
	                          .err = err,
	                          .err_len = err_len,
	                          .issuing = 1,
	                          .viol_next_n = FIRST_VIOLATION_LOOK};
	const struct strata_loadgen_settings *s = &r->s;
	r->p = s->percentile > 0 ? s->percentile
	                         : (s->scenario == STRATA_LOADGEN_SERVER ? 0.99 : 0.90);
	r->c = s->confidence > 0 ? s->confidence : 0.99;
	res->scenario = s->scenario;
	res->rate_qps = s->scenario == STRATA_LOADGEN_SERVER ? s->rate_qps : 0;
	res->percentile = r->p;
	res->confidence = r->c;
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++)
		r->bounded |= s->bound_s[m] > 0;
	strata_loadgen_es_init(&r->es, r->p, r->c);
	strata_loadgen_rng_seed(&r->rng_prompt, s->seed, 2);
	strata_loadgen_rng_seed(&r->rng_output, s->seed, 3);
	strata_loadgen_arrivals_init(&r->arr, s->seed, s->rate_qps > 0 ? s->rate_qps : 1);
	r->next_arrival_ns = (int64_t)(strata_loadgen_arrivals_next(&r->arr) * NS_PER_S);
	if (s->scenario == STRATA_LOADGEN_OFFLINE)
		r->n_offline = offline_count(s);
	r->held = calloc((size_t)sut->capacity, sizeof(*r->held));
	if (!r->held) {
		strata_loadgen_errorf(err, err_len, "loadgen: out of memory");
		return -1;
	}
	return 0;
}

/* Steps 1 to 4 until the run is drained or abandoned.  0, or -1 when the SUT
 * failed (r failed with a message). */
static int run_loop(struct loadgen_run *r)
{
	const struct strata_loadgen_settings *s = &r->s;
	const struct strata_loadgen_sut *sut = r->sut;
	const struct strata_loadgen_clock *clk = r->clk;
	struct strata_loadgen_sink sink = {.ctx = r, .token = sink_token, .done = sink_done};
	int64_t hard_ns =
	    s->max_duration_s > 0 ? (int64_t)(2 * s->max_duration_s * NS_PER_S) : INT64_MAX;
	r->t0_ns = clk->now_ns(clk->ctx);
	for (;;) {
		int64_t now = rel_now(r);
		/* Decide before issuing, so that SingleStream issues nothing more
		 * once its rules are met. */
		if (strata_loadgen_decide(r, now) ||
		    (now > hard_ns && r->completed + r->abandoned < r->n)) {
			if (now >
			    hard_ns) { /* whatever stopped the issuing, the cap ended the run */
				r->stop_set = 0;
				strata_loadgen_set_stop(r, STRATA_LOADGEN_STOP_MAX_DURATION);
			}
			abandon_all(r);
			return 0;
		}
		if (arrive(r, now) != 0 || admit_queued(r) != 0)
			return -1;
		if (r->nheld > 0) {
			char why[256] = "";
			if (sut->step(sut->ctx, &sink, why, sizeof(why)) != 0) {
				strata_loadgen_run_fail(r, "loadgen: SUT step failed: %s",
				                        why[0] ? why : "(no message)");
				return -1;
			}
			r->res->steps++;
			if (r->failed)
				return -1;
		} else if (r->admit_next < r->n) {
			strata_loadgen_run_fail(
			    r, "loadgen: SUT holds nothing yet refuses request %lld",
			    (long long)r->admit_next);
			return -1;
		} else if (r->issuing && s->scenario == STRATA_LOADGEN_SERVER) {
			clk->wait_until_ns(clk->ctx, r->t0_ns + r->next_arrival_ns);
		} else if (!r->issuing) {
			return 0; /* drained */
		}
	}
}

int strata_loadgen_run(const struct strata_loadgen_settings *settings,
                       const struct strata_loadgen_sut *sut, const struct strata_loadgen_clock *clk,
                       struct strata_loadgen_result *res, char *err, size_t err_len)
{
	memset(res, 0, sizeof(*res));
	if (check_settings(settings, sut, err, err_len) != 0)
		return -1;
	struct loadgen_run r;
	if (run_init(&r, settings, sut, clk, res, err, err_len) != 0)
		return -1;
	if (sut->reset)
		sut->reset(sut->ctx);
	int rc = run_loop(&r);
	if (rc != 0) {
		abandon_all(&r);
		r.failed = 1;
	}
	if (strata_loadgen_finish(&r) != 0)
		rc = -1;
	free(r.held);
	free(r.rec);
	strata_loadgen_es_release(&r.es);
	return rc;
}
