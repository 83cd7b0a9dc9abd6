/* loadgen.h: a LoadGen-style scenario driver for LLM-style requests
 * (prompt length, output length), independent of any model.
 *
 * What it is: the traffic side of an inference benchmark, after MLPerf
 * Inference's LoadGen (github.com/mlcommons/inference, loadgen/: scenarios as
 * test_settings.h describes them, run rules in results.cc, early stopping in
 * early_stopping.cc and the rules' appendix "Early Stopping Criterion",
 * github.com/mlcommons/inference_policies inference_rules.adoc):
 *   - SingleStream: one request at a time, the next issued when the previous
 *     completes; the figure is a latency percentile (p90 by default), with
 *     LoadGen's early-stopping estimate of it;
 *   - Server: Poisson arrivals at a target rate (exponential inter-arrival
 *     times from a seeded generator, as LoadGen's ScheduleDistribution); a run
 *     is valid iff the percentile (p99 by default) of end-to-end latency, or
 *     of time to first token (TTFT) and time per output token (TPOT) for
 *     LLM-style bounds, is within its bound, and early stopping proves it;
 *     a search over rates finds the highest valid one;
 *   - Offline: every request available at time 0; throughput.
 * A system under test (SUT) holds up to `capacity` requests at once; the
 * driver admits arrived requests into free capacity and calls the SUT's step()
 * (one unit of work: a prefill, or one decode step over all its active
 * requests), which reports token emissions and completions through a sink;
 * the driver stamps each with its clock.  Latency counts from a request's
 * scheduled arrival, never from its admission, so time spent queued counts
 * and a slow SUT cannot slow the arrivals down (no coordinated omission).
 *
 * Where this differs from LoadGen, and why:
 *   - LoadGen checks early stopping once, at the end of a run of fixed
 *     length, and re-runs with more queries when it fails (rules appendix,
 *     steps 1-4: "run for an additional n - q queries").  Here the same test
 *     is applied as the run goes: once the minimum duration and query count
 *     are met, issuing stops as soon as the queries processed pass it (the
 *     same point LoadGen's look-again procedure reaches); the requests still
 *     in flight are drained and the verdict is taken again on all of them,
 *     as results.cc does at the end of a run.  Added: a run also stops,
 *     invalid, as soon as the count of requests already known to be over a
 *     bound proves the percentile violated (a one-sided binomial test at
 *     looks after 16, 32, 64, ... requests, the error split over the looks
 *     so the whole run's false "violated" rate stays <= 1 - c); LoadGen has
 *     only server_max_async_queries for that.  This makes the probes of a
 *     rate search above capacity cheap.
 *   - The SUT is stepped by the driver's thread (one unit of work per call)
 *     instead of receiving queries on LoadGen's issue thread: a batched LLM
 *     server is a loop of such steps, and the virtual clock of the tests
 *     needs a single thread of control.
 *   - Figures: percentiles are Hyndman & Fan type 7 (harness/stats.h, as
 *     every other strata figure); the validity check uses LoadGen's own
 *     order statistic, sorted[floor(n p)] (results.cc, ProcessLatencies),
 *     through the equivalent count of requests over the bound.
 * What it is not: a query sample library, an accuracy mode, MultiStream, or
 * thread-safe (one driver, one thread).
 *
 * Times: int64 nanoseconds for clocks (suffix _ns), double seconds for
 * figures (suffix _s), both relative to the start of a run.
 */
#ifndef STRATA_KERNELS_NN_LOADGEN_H
#define STRATA_KERNELS_NN_LOADGEN_H

#include <stddef.h>
#include <stdint.h>

enum strata_loadgen_scenario {
	STRATA_LOADGEN_SINGLE_STREAM,
	STRATA_LOADGEN_SERVER,
	STRATA_LOADGEN_OFFLINE,
};

/* "single_stream", "server", "offline". */
const char *strata_loadgen_scenario_name(enum strata_loadgen_scenario s);
/* 0, or -1 for an unknown name. */
int strata_loadgen_scenario_parse(const char *name, enum strata_loadgen_scenario *out);

/* ---- clock ------------------------------------------------------------------ */

/* now_ns: a monotonic time; wait_until_ns: return no earlier than t_ns (the
 * driver calls it only when it has nothing to do before the next arrival). */
struct strata_loadgen_clock {
	void *ctx;
	int64_t (*now_ns)(void *ctx);
	void (*wait_until_ns)(void *ctx, int64_t t_ns);
};

/* CLOCK_MONOTONIC; waiting sleeps (clock_nanosleep, absolute) until shortly
 * before the time and spins the rest, so an arrival is not late by the
 * scheduler's wake-up latency. */
void strata_loadgen_clock_real(struct strata_loadgen_clock *clk);

/* A virtual clock for tests: time moves only when the synthetic SUT advances
 * it (strata_loadgen_vclock_advance) or the driver waits for an arrival. */
struct strata_loadgen_vclock {
	int64_t now_ns;
};
void strata_loadgen_clock_virtual(struct strata_loadgen_clock *clk, struct strata_loadgen_vclock *v);
void strata_loadgen_vclock_advance(struct strata_loadgen_vclock *v, int64_t dt_ns);

/* ---- random numbers ------------------------------------------------------------ */

/* SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
 * generators", OOPSLA 2014): one 64-bit state, every seed usable, separate
 * streams by hashing (seed, stream).  Statistically adequate for schedules. */
struct strata_loadgen_rng {
	uint64_t state;
};
void strata_loadgen_rng_seed(struct strata_loadgen_rng *r, uint64_t seed, uint64_t stream);
uint64_t strata_loadgen_rng_u64(struct strata_loadgen_rng *r);
/* Uniform on [0, 1), 53 bits. */
double strata_loadgen_rng_uniform(struct strata_loadgen_rng *r);
/* Exponential with mean 1 (inversion: -ln(1 - U)). */
double strata_loadgen_rng_exp1(struct strata_loadgen_rng *r);

/* The Server scenario's arrival process: a Poisson process of rate_qps,
 * first arrival at time 0 (as LoadGen's GenerateQueries), then independent
 * exponential gaps of mean 1/rate_qps.  The gaps are unit exponentials
 * divided by the rate, so one seed gives the same sequence at every rate,
 * scaled: the probes of a rate search share their random numbers. */
struct strata_loadgen_arrivals {
	struct strata_loadgen_rng rng;
	double rate_qps;
	double next_s;
	int64_t n;
};
void strata_loadgen_arrivals_init(struct strata_loadgen_arrivals *a, uint64_t seed, double rate_qps);
/* Scheduled time of the next arrival, seconds from the start. */
double strata_loadgen_arrivals_next(struct strata_loadgen_arrivals *a);

/* ---- request sizes ---------------------------------------------------------- */

#define STRATA_LOADGEN_MAX_LENGTHS 64

enum strata_loadgen_len_kind {
	STRATA_LOADGEN_LEN_CYCLE,   /* "32" or "16,32,64": request i gets values[i mod n] */
	STRATA_LOADGEN_LEN_UNIFORM, /* "uniform:16,32,64": a uniform draw from the list */
	STRATA_LOADGEN_LEN_RANGE,   /* "16..64": a uniform integer in [lo, hi] */
};

struct strata_loadgen_lengths {
	enum strata_loadgen_len_kind kind;
	int n;
	int values[STRATA_LOADGEN_MAX_LENGTHS];
	int lo, hi; /* RANGE; for lists the smallest and largest value */
};

/* Parse one of the forms above (values >= 1).  0, or -1 with a message. */
int strata_loadgen_lengths_parse(const char *text, struct strata_loadgen_lengths *out, char *err,
                                 size_t err_len);
/* Mean length of a request (exact for lists and ranges). */
double strata_loadgen_lengths_mean(const struct strata_loadgen_lengths *l);
/* The length of request `index` (rng is used by UNIFORM and RANGE only). */
int strata_loadgen_lengths_draw(const struct strata_loadgen_lengths *l, int64_t index,
                                struct strata_loadgen_rng *rng);

/* ---- the system under test ------------------------------------------------------- */

struct strata_loadgen_request {
	int64_t id;         /* the driver's index for this run (0, 1, ...) */
	int prompt_tokens;  /* >= 1 */
	int output_tokens;  /* >= 1, counting the first token (the prefill's) */
};

/* What step() reports with, from inside the call: token(ctx, id, n) when n
 * more tokens of request id exist (the first call stamps its first token),
 * done(ctx, id) when it is complete (after its output_tokens tokens). */
struct strata_loadgen_sink {
	void *ctx;
	void (*token)(void *ctx, int64_t id, int n);
	void (*done)(void *ctx, int64_t id);
};

enum { STRATA_LOADGEN_ADMITTED = 0, STRATA_LOADGEN_BUSY = 1 };

struct strata_loadgen_sut {
	void *ctx;
	int capacity; /* requests it can hold at once (>= 1) */
	/* Take r: STRATA_LOADGEN_ADMITTED, STRATA_LOADGEN_BUSY (not now: a static
	 * batch is running; the driver keeps r queued and steps), or -1 with a
	 * message.  Never called with more than capacity requests held. */
	int (*admit)(void *ctx, const struct strata_loadgen_request *r, char *err, size_t err_len);
	/* One unit of work over the held requests, reported through sink.
	 * Called only while the SUT holds a request.  0, or -1 with a message. */
	int (*step)(void *ctx, const struct strata_loadgen_sink *sink, char *err, size_t err_len);
	/* Forget every held request (the driver calls it before a run, and after
	 * abandoning one).  May be NULL when the SUT needs no reset. */
	void (*reset)(void *ctx);
};

/* ---- settings ------------------------------------------------------------------ */

/* The three measures a bound can apply to. */
enum strata_loadgen_measure {
	STRATA_LOADGEN_E2E,  /* completion - scheduled arrival */
	STRATA_LOADGEN_TTFT, /* first token - scheduled arrival */
	STRATA_LOADGEN_TPOT, /* (completion - first token) / (output tokens - 1), LoadGen's
	                        time_per_output_token (logging.cc); requests of one token have none */
	STRATA_LOADGEN_NMEASURES,
};
const char *strata_loadgen_measure_name(enum strata_loadgen_measure m); /* "e2e", "ttft", "tpot" */

struct strata_loadgen_settings {
	enum strata_loadgen_scenario scenario;
	uint64_t seed;            /* schedule and request sizes */
	double rate_qps;          /* Server: the Poisson rate */
	/* Run rules (LoadGen test_settings.h: a run lasts until both minimums are
	 * met, and stops at the maximum).  Server: duration is the scheduled time
	 * of the last request issued; SingleStream: its issue time; Offline: the
	 * last completion (results.cc, MinDurationMet). */
	double min_duration_s;
	int64_t min_queries;
	double max_duration_s;    /* > 0: nothing is issued after it; what still runs at twice it is abandoned */
	int64_t max_queries;      /* 0: none */
	/* Offline: requests = max(min_queries, 1.1 x expected_qps x min_duration_s)
	 * (LoadGen's kSlack, test_settings_internal.cc); 0: min_queries. */
	double offline_expected_qps;
	/* Bounds (0: none) on the percentile `percentile` of each measure.  Server
	 * is valid only when every bound given is met; SingleStream may have bounds
	 * too (then judged the same way).  LoadGen: target_latency, or ttft_latency
	 * and tpot_latency with use_token_latencies (mlperf.conf). */
	double bound_s[STRATA_LOADGEN_NMEASURES];
	double percentile;        /* 0: 0.90 for SingleStream, 0.99 for Server (mlperf.conf) */
	double confidence;        /* of early stopping; 0: 0.99 (rules appendix: c = .99, d = 0) */
	int64_t max_outstanding;  /* Server: > 0 abandons the run (invalid) when more
	                             requests than this are queued or running (LoadGen's
	                             server_max_async_queries); 0: no limit */
	struct strata_loadgen_lengths prompt, output;
};

/* Defaults: SingleStream, seed 0, rate 1, min 1 s and 100 queries (LoadGen's
 * min_query_count default), max 60 s, no bounds, percentile and confidence
 * from the scenario, prompt "32", output "16". */
void strata_loadgen_settings_default(struct strata_loadgen_settings *s);

/* ---- results ------------------------------------------------------------------ */

#define STRATA_LOADGEN_NQ 5
/* The reported percentiles: 0.5, 0.9, 0.95, 0.99, 0.999. */
extern const double strata_loadgen_quantiles[STRATA_LOADGEN_NQ];

/* One measure over the completed requests. */
struct strata_loadgen_dist {
	int64_t n;
	double min_s, max_s, mean_s;
	double q_s[STRATA_LOADGEN_NQ]; /* type-7 quantiles (harness/stats.h) */
};
/* Over v[0..n) (not reordered).  0, or -1 when out of memory; n == 0 gives zeros. */
int strata_loadgen_dist_compute(const double *v, size_t n, struct strata_loadgen_dist *out);

/* LoadGen's percentile: the element at index floor(n p) of the sorted data
 * (results.cc, ProcessLatencies), p in [0, 1). */
double strata_loadgen_percentile_loadgen(const double *sorted, size_t n, double p);

/* The verdict on one bound. */
struct strata_loadgen_verdict {
	int bounded;                /* a bound was given */
	double bound_s;
	int64_t population;         /* requests the measure exists for */
	int64_t overlatency;        /* of them, over the bound */
	double percentile_s;        /* LoadGen's order statistic at the percentile */
	int constraint_met;         /* percentile_s <= bound_s */
	int64_t early_stopping_needed; /* h(t) + t: queries early stopping needs */
	int early_stopping_met;     /* population >= early_stopping_needed */
};

enum strata_loadgen_stop {
	STRATA_LOADGEN_STOP_RULES,      /* minimum duration and queries met (and early stopping) */
	STRATA_LOADGEN_STOP_ALL_DONE,   /* Offline: every request completed */
	STRATA_LOADGEN_STOP_VIOLATED,   /* early stopping proved a bound violated */
	STRATA_LOADGEN_STOP_OVERLOADED, /* more than max_outstanding in flight */
	STRATA_LOADGEN_STOP_MAX_DURATION,
	STRATA_LOADGEN_STOP_MAX_QUERIES,
};
const char *strata_loadgen_stop_name(enum strata_loadgen_stop s);

/* One request as the driver saw it; times from the run's start, -1 = never. */
struct strata_loadgen_record {
	int64_t arrival_ns, admit_ns, first_ns, done_ns;
	int prompt_tokens, output_tokens, emitted;
	int state; /* 0 queued, 1 held by the SUT, 2 done, 3 abandoned */
};

struct strata_loadgen_result {
	enum strata_loadgen_scenario scenario;
	double rate_qps;             /* Server: the rate run */
	double percentile;           /* the one bounds and the SingleStream figure use */
	double confidence;
	int64_t issued, completed, incomplete; /* incomplete: abandoned at the end */
	int64_t prompt_tokens, output_tokens;  /* of completed requests */
	double duration_s;           /* start to the last completion */
	double last_scheduled_s;     /* scheduled time of the last request issued */
	double last_issued_s;        /* when it was issued (SingleStream: a completion) */
	struct strata_loadgen_dist dist[STRATA_LOADGEN_NMEASURES];
	/* LoadGen's throughputs (results.cc, LogSummary): Offline n / duration;
	 * Server (n - 1) / last completion ("completed samples per second");
	 * SingleStream (n - 1) / last issue ("QPS w/ loadgen overhead"); tokens/s
	 * the output tokens over the same time. */
	double queries_per_s, tokens_per_s;
	/* SingleStream: LoadGen's early-stopping estimate of the percentile of
	 * e2e latency (discard the t - 1 slowest, report the slowest left); 0 when
	 * too few queries for one. */
	double es_estimate_s;
	struct strata_loadgen_verdict verdict[STRATA_LOADGEN_NMEASURES];
	int min_duration_met, min_queries_met, constraints_met, early_stopping_met;
	int valid;                   /* every rule met, nothing abandoned */
	enum strata_loadgen_stop stop;
	char why[512];               /* one line: what made the run valid or not */
	int64_t steps;               /* SUT steps */
	struct strata_loadgen_record *records; /* (issued), owned */
};
void strata_loadgen_result_release(struct strata_loadgen_result *r);

/* Values of measure m over the completed requests, in completion-record
 * order, into out (room for r->issued).  Returns how many. */
size_t strata_loadgen_values(const struct strata_loadgen_result *r, enum strata_loadgen_measure m,
                             double *out);

/* ---- running ------------------------------------------------------------------ */

/* Run one scenario.  0 (whatever the verdict: see res->valid), or -1 with a
 * message when the settings are bad or the SUT failed.  res is filled in
 * either way as far as the run got; release it. */
int strata_loadgen_run(const struct strata_loadgen_settings *s, const struct strata_loadgen_sut *sut,
                       const struct strata_loadgen_clock *clk, struct strata_loadgen_result *res,
                       char *err, size_t err_len);

/* ---- early stopping (rules appendix "Early Stopping Criterion") --------------- */

/* (The regularized incomplete beta function these use: harness/stats.h.) */
/* P(X <= k) for X ~ Binomial(n, q): I_{1-q}(n - k, k + 1). */
double strata_loadgen_binom_cdf(int64_t k, int64_t n, double q);

/* Memo of h(t): the least number of underlatency queries that, with t
 * overlatency ones, proves at confidence c that P(underlatency) >= p:
 * the least h with I_p(h, t + 1) <= 1 - c (early_stopping.cc,
 * find_min_passing, d = 0).  h(0) = ceil(ln(1 - c) / ln p). */
struct strata_loadgen_es {
	double p, c;
	int64_t *h;
	int64_t n, cap;
};
void strata_loadgen_es_init(struct strata_loadgen_es *es, double p, double c);
void strata_loadgen_es_release(struct strata_loadgen_es *es);
/* h(t); -1 when out of memory. */
int64_t strata_loadgen_es_min_passing(struct strata_loadgen_es *es, int64_t t);
/* 1 when t overlatency among n queries prove the percentile violated at
 * confidence c: P(Binomial(n, 1 - p) >= t) <= 1 - c. */
int strata_loadgen_es_violated(double p, double c, int64_t t, int64_t n);
/* SingleStream's estimate (rules appendix): with q queries, the largest t
 * with q >= h(t) + t; the t-th largest latency of sorted[0..q).  0 when
 * q < h(1) + 1 (too few). */
double strata_loadgen_es_estimate(struct strata_loadgen_es *es, const double *sorted, int64_t q);

/* The fewest requests a run of these settings can be valid with: the
 * minimum query count, and what early stopping needs with none over a bound
 * (h(0); SingleStream's estimate h(1) + 1).  A Server run at rate r needs at
 * least this / r seconds: a max_duration_s below that makes the run invalid
 * whatever its latencies. */
int64_t strata_loadgen_min_valid_queries(const struct strata_loadgen_settings *s);

/* ---- the search for the highest valid Server rate --------------------------------- */

/* Bracket by doubling from start_qps (halving while it fails), then bisect
 * until (hi - lo) <= tol_rel x lo, as LoadGen's FindPeakPerformance mode
 * (loadgen.cc, FindBoundaries then FindPeakPerformanceBinarySearch; there
 * the lower bound is the user's and the stop is a decimal precision).  Each
 * probe is a full run.  The search assumes validity falls with the rate;
 * where noise breaks that near the boundary, the answer is a rate that was
 * valid when probed. */
#define STRATA_LOADGEN_MAX_PROBES 64
struct strata_loadgen_probe {
	double rate_qps;
	int valid;
};
struct strata_loadgen_search {
	double start_qps, tol_rel, min_qps, max_qps;
	int max_probes;
	double lo_qps; /* highest valid rate probed; 0: none */
	double hi_qps; /* lowest invalid rate probed; 0: none */
	struct strata_loadgen_probe probes[STRATA_LOADGEN_MAX_PROBES];
	int nprobes;
	const char *stopped; /* why the search ended */
};
void strata_loadgen_search_init(struct strata_loadgen_search *s, double start_qps, double tol_rel,
                                double min_qps, double max_qps, int max_probes);
/* 1 with the next rate to probe, or 0 when the search is over (s->stopped). */
int strata_loadgen_search_next(struct strata_loadgen_search *s, double *rate_qps);
void strata_loadgen_search_report(struct strata_loadgen_search *s, double rate_qps, int valid);

/* The whole search, one process: probes with strata_loadgen_run at each
 * rate (settings s with rate_qps replaced); *best gets the last valid
 * probe's result (release it), and the answer is search->lo_qps.  0, or -1
 * with a message when a run fails. */
int strata_loadgen_find_max_rate(const struct strata_loadgen_settings *s,
                                 const struct strata_loadgen_sut *sut,
                                 const struct strata_loadgen_clock *clk,
                                 struct strata_loadgen_search *search,
                                 struct strata_loadgen_result *best, char *err, size_t err_len);

#endif
