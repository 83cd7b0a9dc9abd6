/* measure.c: the measurement loop shared by every suite (see measure.h).
 *
 * Method, as recorded in every record's "method" object:
 *   - before each repetition: a stop vote (MPI_Allreduce, bitwise OR of
 *     flags) and then MPI_Barrier, outside the timed region;
 *   - each rank times its own run_once with clock_gettime(CLOCK_MONOTONIC);
 *   - the repetition's figure is the slowest rank's time: a synchronised
 *     step ends when its last rank ends.  nccl-tests (-a 3) and OSU (-f, the
 *     "Max" column) can report the same; both average over ranks by default,
 *     so each per_rank entry also keeps the rank's mean, from which their
 *     default figure (mean over ranks of each rank's mean) follows;
 *   - statistics over repetitions (harness/stats.h) and figures of merit at
 *     the median ("median"), minimum ("best", as STREAM reports) and mean
 *     ("mean", as OSU and nccl-tests report) time.
 */
#define _GNU_SOURCE
#include "harness/measure.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/case_instr.h"
#include "harness/runner.h"
#include "harness/stats.h"
#include "harness/suite.h"
#include "harness/timer.h"
#include "harness/watchdog.h"

#define ERR_LEN 1024

/* Flags of the stop vote. */
enum {
	VOTE_DONE = 1 << 0,      /* this rank has what the run settings ask for */
	VOTE_SIGNAL = 1 << 1,    /* SIGINT/SIGTERM arrived */
	VOTE_ERROR = 1 << 2,     /* this rank's last iteration failed */
	VOTE_TIMEOUT = 1 << 3,   /* the case's timeout_s passed */
};

const char *strata_outcome_name(enum strata_outcome o)
{
	switch (o) {
	case STRATA_PASSED: return "passed";
	case STRATA_FAILED: return "failed";
	case STRATA_SKIPPED: return "skipped";
	case STRATA_ERRORED: return "error";
	case STRATA_INTERRUPTED: return "interrupted";
	case STRATA_TIMED_OUT: return "timeout";
	}
	return "?";
}

/* ---- small MPI helpers ----------------------------------------------------- */

/* The message of the lowest rank with bad != 0, delivered to rank 0. */
static void first_message(const struct strata_rank_info *ri, int bad, const char *mine,
			  char *out, size_t out_len)
{
	int who = bad ? ri->rank : ri->nranks;
	MPI_Allreduce(MPI_IN_PLACE, &who, 1, MPI_INT, MPI_MIN, ri->comm);
	if (who >= ri->nranks)
		return;
	char buf[ERR_LEN];
	if (who == 0) {
		if (ri->rank == 0)
			snprintf(buf, sizeof(buf), "%s", mine);
	} else if (ri->rank == who) {
		snprintf(buf, sizeof(buf), "%s", mine);
		MPI_Send(buf, (int)sizeof(buf), MPI_CHAR, 0, 7, ri->comm);
	} else if (ri->rank == 0) {
		MPI_Recv(buf, (int)sizeof(buf), MPI_CHAR, who, 7, ri->comm, MPI_STATUS_IGNORE);
	}
	if (ri->rank == 0) {
		buf[sizeof(buf) - 1] = '\0';
		snprintf(out, out_len, "rank %d: %s", who, buf[0] ? buf : "(no message)");
	}
}

struct samples {
	double *v;
	size_t n, cap;
};

static int samples_push(struct samples *s, double x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		double *nv = realloc(s->v, cap * sizeof(*nv));
		if (!nv)
			return -1;
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = x;
	return 0;
}

/* A case and variant being measured: the suite's state plus everything the
 * record will need.  Heap-allocated so c.err points into it for its life. */
struct strata_trial {
	const struct strata_rank_info *ri;
	const struct strata_case_spec *spec;
	struct strata_params params; /* effective parameters (variant overrides applied) */
	char variant[64];
	char key[2048];
	struct strata_case c;
	void *state;
	int live;                    /* set up, and not stopped by a vote yet */
	int last_rc;                 /* run_once's last return, carried across blocks */
	int end_flags;               /* the vote flags that ended the timed phase */
	enum strata_outcome outcome;
	char err_mine[ERR_LEN];
	char reason[2 * ERR_LEN + 256];
	int64_t warm_iters, reps;
	double warm_s, timed_s;
	struct samples timed;
	strata_monotime_ns t_case, deadline;
	int64_t t_start_ms;
	json_t *rec;                 /* rank 0 */
	struct strata_case_instr instr; /* binding, trace spans, counters (case_instr.h) */
	int device_timed;            /* a sample came from suite->device_seconds */
	int64_t discarded;           /* timed repetitions run_once discarded (suite.h) */
};

/* One phase (warm-up or timed) of a trial: iterate until the vote says stop,
 * or until block_limit iterations have run (<= 0: no limit).  *n and
 * *elapsed_s accumulate over the blocks of an interleaved run, so count and
 * min_seconds apply to the trial's whole timed phase.  Returns the OR of the
 * vote flags that ended it, 0 when the block limit did. */
static int phase(struct strata_trial *t, struct samples *timed, int64_t min_iters, double min_s,
		 int64_t max_iters, int64_t block_limit, int64_t *n, double *elapsed_s)
{
	const struct strata_rank_info *ri = t->ri;
	const struct strata_suite *suite = t->spec->suite;
	strata_monotime_ns t_phase = strata_now_ns();
	double base_s = *elapsed_s;
	int64_t in_block = 0;
	strata_watchdog_set_case(t->deadline, t->key);
	for (;;) {
		strata_monotime_ns now = strata_now_ns();
		if (block_limit > 0 && in_block >= block_limit) {
			*elapsed_s = base_s + (double)(now - t_phase) * 1e-9;
			return 0;
		}
		int flags = 0;
		if (t->last_rc != 0)
			flags |= VOTE_ERROR;
		if (strata_runner_signal())
			flags |= VOTE_SIGNAL;
		if ((*n >= min_iters && base_s + (double)(now - t_phase) * 1e-9 >= min_s) ||
		    *n >= max_iters)
			flags |= VOTE_DONE;
		if (now > t->deadline)
			flags |= VOTE_TIMEOUT;
		/* MPI_Allreduce(BOR), waiting with dead and hung rank checks. */
		strata_monotime_ns t_vote = t->instr.tracing ? strata_now_ns() : 0;
		strata_watchdog_vote(ri->comm, &flags, timed != NULL, *n + 1);
		if (t->instr.tracing)
			strata_instr_mpi(&t->instr, "MPI_Allreduce", "stop vote", t_vote, strata_now_ns());
		if (flags) {
			*elapsed_s = base_s + (double)(strata_now_ns() - t_phase) * 1e-9;
			return flags;
		}
		if (suite->prepare) {
			/* Untimed per-repetition preparation; the ranks agree on failure
			 * so none is left waiting in the barrier below. */
			int bad = suite->prepare(t->state, &t->c) != STRATA_OK;
			if (bad && !t->err_mine[0])
				snprintf(t->err_mine, ERR_LEN, "prepare failed");
			MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, ri->comm);
			if (bad) {
				t->last_rc = STRATA_ERROR;
				*elapsed_s = base_s + (double)(strata_now_ns() - t_phase) * 1e-9;
				return VOTE_ERROR;
			}
		}
		if (t->instr.tracing) { /* the traced pass (case_instr.h) */
			strata_monotime_ns t_bar = strata_now_ns();
			MPI_Barrier(ri->comm);
			strata_instr_mpi(&t->instr, "MPI_Barrier", "start of repetition", t_bar, strata_now_ns());
			strata_instr_rep_begin(&t->instr);
		} else {
			MPI_Barrier(ri->comm);
		}
		strata_monotime_ns t0 = strata_now_ns();
		t->last_rc = suite->run_once(t->state, &t->c);
		strata_monotime_ns t1 = strata_now_ns();
		int discard = t->last_rc == STRATA_DISCARD;
		if (discard) {
			t->last_rc = STRATA_OK;
			if (timed)
				t->discarded++;
		}
		if (t->instr.tracing)
			strata_instr_rep_end(&t->instr, *n + 1, t0, t1);
		if (t->last_rc != 0 && !t->err_mine[0])
			snprintf(t->err_mine, ERR_LEN, "run_once failed");
		double sample_s = (double)(t1 - t0) * 1e-9;
		if (t->last_rc == 0 && suite->device_seconds) {
			double dev_s = suite->device_seconds(t->state);
			if (dev_s > 0) {
				sample_s = dev_s; /* CUDA events: see suite.h */
				t->device_timed = 1;
			}
		}
		if (t->last_rc == 0 && timed && !discard && samples_push(timed, sample_s) != 0) {
			t->last_rc = -1;
			snprintf(t->err_mine, ERR_LEN, "out of memory keeping samples");
		}
		(*n)++;
		in_block++;
	}
}

/* ---- the record -------------------------------------------------------------- */

static json_t *stats_json(const struct strata_stats *st)
{
	return json_pack("{s:s,s:I,s:f,s:f,s:f,s:f,s:f,s:f,s:[f,f],s:[f,f],s:s}", "unit", "s", "n",
			 (json_int_t)st->n, "min", st->min, "max", st->max, "median", st->median,
			 "mean", st->mean, "stddev", st->stddev, "p99", st->p99, "ci95_median",
			 st->ci95_median_lo, st->ci95_median_hi, "ci95_mean", st->ci95_mean_lo,
			 st->ci95_mean_hi, "ci_method",
			 "median: distribution-free binomial order statistics; mean: Student t");
}

/* Figures of merit at the median, best (min) and mean time, plus the
 * figure's 95% interval from the median's interval. */
static json_t *metrics_json(const struct strata_suite *suite, void *state,
			    const struct strata_case *c, const struct strata_stats *st)
{
	struct strata_metric at_med[STRATA_MAX_METRICS], at_min[STRATA_MAX_METRICS],
		at_mean[STRATA_MAX_METRICS], at_lo[STRATA_MAX_METRICS], at_hi[STRATA_MAX_METRICS];
	size_t n = suite->metrics(state, c, st->median, at_med, STRATA_MAX_METRICS);
	suite->metrics(state, c, st->min, at_min, STRATA_MAX_METRICS);
	suite->metrics(state, c, st->mean, at_mean, STRATA_MAX_METRICS);
	suite->metrics(state, c, st->ci95_median_lo, at_lo, STRATA_MAX_METRICS);
	suite->metrics(state, c, st->ci95_median_hi, at_hi, STRATA_MAX_METRICS);
	json_t *m = json_object();
	for (size_t i = 0; i < n && i < STRATA_MAX_METRICS; i++) {
		double lo = fmin(at_lo[i].value, at_hi[i].value), hi = fmax(at_lo[i].value, at_hi[i].value);
		json_object_set_new(m, at_med[i].name,
				    json_pack("{s:s,s:b,s:f,s:f,s:f,s:[f,f]}", "unit", at_med[i].unit,
					      "higher_is_better", at_med[i].higher_is_better, "median",
					      at_med[i].value, "best", at_min[i].value, "mean",
					      at_mean[i].value, "ci95_median", lo, hi));
	}
	return m;
}

/* The timer of a case whose samples came from the suite's device_seconds. */
#define DEVICE_TIMER_NAME                                                                 \
	"CUDA events (cudaEventElapsedTime) around each repetition's batch of launches on " \
	"the rank's GPU; the host clock (" STRATA_TIMER_NAME ") brackets the same repetition"

static json_t *method_json(const struct strata_run_settings *rs, int64_t warm_iters,
			   double warm_s, int64_t reps, double timed_s, int collective,
			   const char *timer)
{
	return json_pack("{s:s,s:s,s:s,s:I,s:f,s:I,s:f,s:{s:I,s:f,s:I,s:f,s:I,s:f}}", "timer",
			 timer, "synchronisation",
			 "stop vote (MPI_Allreduce) then MPI_Barrier before every repetition, outside the timed region",
			 "figure", collective ? "slowest rank per repetition (collective step)"
					      : "slowest rank per repetition (ranks run concurrently)",
			 "warmup_iterations", (json_int_t)warm_iters, "warmup_seconds", warm_s,
			 "repetitions", (json_int_t)reps, "timed_seconds", timed_s, "settings",
			 "warmup_iterations", (json_int_t)rs->warmup_iterations, "warmup_seconds",
			 rs->warmup_seconds, "repetitions", (json_int_t)rs->repetitions, "min_seconds",
			 rs->min_seconds, "max_repetitions", (json_int_t)rs->max_repetitions,
			 "timeout_s", rs->timeout_s);
}

/* What rank 0 needs of every rank's samples, without gathering them all
 * (nranks x repetitions doubles would not fit on rank 0 of a big run): the
 * per-repetition maximum over ranks by an element-wise MPI_Reduce, and each
 * rank's own summary. */
enum { RS_N, RS_MEDIAN, RS_MEAN, RS_MIN, RS_MAX, RS_FIELDS };

struct timing {
	double *step;      /* rank 0: slowest rank's time of each repetition */
	int n;             /* repetitions every rank completed */
	double *per_rank;  /* rank 0: RS_FIELDS values per rank */
};

static void collect_timing(const struct strata_rank_info *ri, const struct samples *mine,
			   struct timing *t)
{
	memset(t, 0, sizeof(*t));
	int n = (int)mine->n;
	MPI_Allreduce(MPI_IN_PLACE, &n, 1, MPI_INT, MPI_MIN, ri->comm);
	t->n = n;
	double own[RS_FIELDS] = { 0 };
	struct strata_stats st;
	if (mine->n > 0 && strata_stats_compute(mine->v, mine->n, &st) == 0) {
		own[RS_N] = (double)st.n;
		own[RS_MEDIAN] = st.median;
		own[RS_MEAN] = st.mean;
		own[RS_MIN] = st.min;
		own[RS_MAX] = st.max;
	}
	if (ri->rank == 0) {
		t->step = malloc((size_t)(n > 0 ? n : 1) * sizeof(*t->step));
		t->per_rank = malloc((size_t)ri->nranks * RS_FIELDS * sizeof(*t->per_rank));
	}
	if (n > 0)
		MPI_Reduce(mine->v, t->step, n, MPI_DOUBLE, MPI_MAX, 0, ri->comm);
	MPI_Gather(own, RS_FIELDS, MPI_DOUBLE, t->per_rank, RS_FIELDS, MPI_DOUBLE, 0, ri->comm);
}

static void add_timing(json_t *rec, const struct strata_rank_info *ri,
		       const struct strata_suite *suite, void *state, const struct strata_case *c,
		       const struct timing *t)
{
	json_t *samples = json_array(), *per_rank = json_array();
	for (int r = 0; r < ri->nranks; r++) {
		const double *f = t->per_rank + (size_t)r * RS_FIELDS;
		json_t *pr = json_pack("{s:i,s:s,s:I,s:f,s:f,s:f,s:f}", "rank", r, "host",
				       ri->hostnames[r], "n", (json_int_t)f[RS_N], "median_s",
				       f[RS_MEDIAN], "mean_s", f[RS_MEAN], "min_s", f[RS_MIN], "max_s",
				       f[RS_MAX]);
		struct strata_metric m[STRATA_MAX_METRICS];
		size_t nm = suite->metrics(state, c, f[RS_MEDIAN], m, STRATA_MAX_METRICS);
		if (nm > 0)
			json_object_set_new(pr, "metric", json_pack("{s:s,s:s,s:f}", "name", m[0].name,
								    "unit", m[0].unit, "value", m[0].value));
		json_array_append_new(per_rank, pr);
	}
	for (int i = 0; i < t->n; i++)
		json_array_append_new(samples, json_real(t->step[i]));
	struct strata_stats st;
	strata_stats_compute(t->step, (size_t)t->n, &st);
	json_object_set_new(rec, "stats", stats_json(&st));
	json_object_set_new(rec, "metrics", metrics_json(suite, state, c, &st));
	json_object_set_new(rec, "samples_s", samples);
	json_object_set_new(rec, "per_rank", per_rank);
}

/* ---- one trial ----------------------------------------------------------------- */

struct strata_trial *strata_trial_begin(const struct strata_rank_info *ri,
					const struct strata_case_spec *spec,
					const struct strata_params *params, const char *variant,
					double timeout_scale)
{
	struct strata_trial *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL; /* every rank of a node is out of memory alike, or the job dies anyway */
	const struct strata_suite *suite = spec->suite;
	t->ri = ri;
	t->spec = spec;
	t->params = *params;
	snprintf(t->variant, sizeof(t->variant), "%s", variant);
	t->c = (struct strata_case){ .comm = ri->comm, .rank = ri->rank, .nranks = ri->nranks,
				     .local_rank = ri->local_rank, .local_size = ri->local_size,
				     .params = &t->params, .run_records = ri->records,
				     .err = t->err_mine,
				     .err_len = sizeof(t->err_mine) };
	/* The key names the case as the plan wrote it, so the variants of one
	 * case share everything but the label. */
	strata_metric_key(&spec->params, variant, t->key, sizeof(t->key));
	t->t_case = strata_now_ns();
	t->deadline = t->t_case + (strata_monotime_ns)(spec->run.timeout_s * timeout_scale * 1e9);
	strata_watchdog_set_case(t->deadline, t->key);
	t->t_start_ms = strata_wall_ms();
	t->outcome = STRATA_PASSED;

	if (ri->rank == 0) {
		json_t *rec = json_object();
		json_object_set_new(rec, "metric_key", json_string(t->key));
		json_object_set_new(rec, "suite", json_string(suite->name));
		json_object_set_new(rec, "variant", json_string(variant));
		json_object_set_new(rec, "params", strata_params_to_json(&t->params));
		int dev = strata_param_index(suite, "device");
		json_object_set_new(rec, "backend", json_string(dev >= 0 ? t->params.v[dev].s : "cpu"));
		json_object_set_new(rec, "ranks", json_integer(ri->nranks));
		json_object_set_new(rec, "plan_line", json_integer(spec->line));
		t->rec = rec;
	}

	/* Binding before setup, so the suite's first touch lands where the rank runs. */
	int dev_i = strata_param_index(suite, "device");
	strata_instr_case_begin(&t->instr, ri, spec, dev_i >= 0 ? t->params.v[dev_i].s : "cpu", t->key);
	strata_monotime_ns t_setup = strata_instr_phase_begin(&t->instr, "setup");
	int has_hooks = suite->setup && suite->run_once && suite->verify && suite->teardown &&
			suite->metrics;
	int rc = has_hooks ? suite->setup(&t->c, &t->state) : STRATA_ERROR;
	if (!has_hooks)
		snprintf(t->err_mine, sizeof(t->err_mine), "suite %s is not implemented", suite->name);
	int setup_flags[2] = { rc < 0, rc == STRATA_SKIP };
	MPI_Allreduce(MPI_IN_PLACE, setup_flags, 2, MPI_INT, MPI_MAX, ri->comm);
	strata_instr_phase_end(&t->instr, "setup", t_setup, -1);
	if (setup_flags[0] || setup_flags[1]) {
		first_message(ri, rc != STRATA_OK, t->err_mine, t->reason, sizeof(t->reason));
		t->outcome = setup_flags[0] ? STRATA_ERRORED : STRATA_SKIPPED;
		if (t->state) {
			suite->teardown(t->state);
			t->state = NULL;
		}
		return t;
	}
	t->live = 1;
	return t;
}

int strata_trial_live(const struct strata_trial *t)
{
	return t->live;
}

void strata_trial_warmup(struct strata_trial *t)
{
	if (!t->live)
		return;
	const struct strata_run_settings *rs = &t->spec->run;
	strata_monotime_ns t_warm = strata_instr_phase_begin(&t->instr, "warmup");
	int flags = phase(t, NULL, rs->warmup_iterations, rs->warmup_seconds, INT64_MAX, 0,
			  &t->warm_iters, &t->warm_s);
	strata_instr_phase_end(&t->instr, "warmup", t_warm, t->warm_iters);
	if (flags != VOTE_DONE) {
		t->end_flags = flags; /* error, signal or timeout during warm-up */
		t->live = 0;
	}
	t->c.timed = 1;
}

int strata_trial_measure(struct strata_trial *t, int64_t block)
{
	if (!t->live)
		return 0;
	const struct strata_run_settings *rs = &t->spec->run;
	int64_t reps_before = t->reps;
	strata_monotime_ns t_timed = strata_instr_timed_begin(&t->instr);
	int flags = phase(t, &t->timed, rs->repetitions, rs->min_seconds, rs->max_repetitions, block,
			  &t->reps, &t->timed_s);
	strata_instr_timed_end(&t->instr, t_timed, t->reps - reps_before);
	if (flags) {
		t->end_flags = flags;
		t->live = 0;
	}
	return t->live;
}

static void classify_end(struct strata_trial *t)
{
	const struct strata_rank_info *ri = t->ri;
	int flags = t->end_flags;
	if (flags & VOTE_ERROR) {
		first_message(ri, t->err_mine[0] != 0, t->err_mine, t->reason, sizeof(t->reason));
		t->outcome = STRATA_ERRORED;
	} else if (flags & VOTE_SIGNAL) {
		t->outcome = STRATA_INTERRUPTED;
		snprintf(t->reason, sizeof(t->reason), "interrupted by signal %d after %lld repetitions",
			 strata_runner_signal(), (long long)t->reps);
	} else if (flags & VOTE_TIMEOUT) {
		t->outcome = STRATA_TIMED_OUT;
		snprintf(t->reason, sizeof(t->reason), "timeout_s %.17g reached after %lld repetitions",
			 t->spec->run.timeout_s, (long long)t->reps);
	}
}

/* The traced pass (case_instr.h): after a timed phase that ended as asked,
 * run.trace.max_repetitions more repetitions, each with its spans.  Its
 * samples never enter the record's figures; they measure tracing's cost. */
static void trace_pass(struct strata_trial *t)
{
	if (!strata_instr_wants_trace_pass(&t->instr) || t->end_flags != VOTE_DONE)
		return;
	int64_t want = t->spec->run.trace_max_repetitions, n = 0;
	double elapsed_s = 0;
	struct samples traced = { 0 };
	strata_instr_trace_begin(&t->instr, want);
	strata_monotime_ns t0 = strata_now_ns();
	int flags = phase(t, &traced, want, 0, want, 0, &n, &elapsed_s);
	const char *note = NULL;
	if (flags & (VOTE_ERROR | VOTE_SIGNAL))
		t->end_flags = flags; /* the case ends as it would have */
	else if (flags & VOTE_TIMEOUT)
		note = "traced pass cut short: the case's timeout_s was reached";
	strata_instr_trace_end(&t->instr, t->ri, traced.v, (int64_t)traced.n, t0, note);
	free(traced.v);
}

enum strata_outcome strata_trial_end(struct strata_trial *t, json_t **record)
{
	const struct strata_rank_info *ri = t->ri;
	const struct strata_suite *suite = t->spec->suite;
	int64_t wrong_total = 0;
	int verified = 0;
	if (t->state) {
		trace_pass(t);
		classify_end(t);
		/* Verify whenever the suite ran, even when interrupted: what was
		 * measured is kept only with the proof that it computed the right thing. */
		if (t->outcome != STRATA_ERRORED) {
			t->err_mine[0] = '\0';
			strata_monotime_ns t_verify = strata_instr_phase_begin(&t->instr, "verify");
			int64_t wrong = suite->verify(t->state, &t->c);
			int64_t sums[2] = { wrong > 0 ? wrong : 0, wrong < 0 ? 1 : 0 };
			MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_INT64_T, MPI_SUM, ri->comm);
			strata_instr_phase_end(&t->instr, "verify", t_verify, -1);
			wrong_total = sums[0];
			verified = 1;
			if (sums[0] || sums[1]) {
				char why[ERR_LEN + 64] = "";
				first_message(ri, wrong != 0, t->err_mine, why, sizeof(why));
				if (ri->rank == 0)
					snprintf(t->reason, sizeof(t->reason),
						 "validation: %lld wrong element(s) over all ranks; first: %s",
						 (long long)sums[0], why);
				if (t->outcome == STRATA_PASSED)
					t->outcome = sums[1] && !sums[0] ? STRATA_ERRORED : STRATA_FAILED;
			}
		}
		struct timing timing;
		collect_timing(ri, &t->timed, &timing);
		if (ri->rank == 0) {
			json_t *details = json_object();
			if (suite->describe)
				suite->describe(t->state, &t->c, details);
			json_object_set_new(t->rec, "details", details);
			if (timing.n > 0)
				add_timing(t->rec, ri, suite, t->state, &t->c, &timing);
			json_object_set_new(t->rec, "method",
					    method_json(&t->spec->run, t->warm_iters, t->warm_s, t->reps,
							t->timed_s, (suite->flags & STRATA_SUITE_COLLECTIVE) != 0,
							t->device_timed ? DEVICE_TIMER_NAME : STRATA_TIMER_NAME));
			if (t->discarded > 0)
				json_object_set_new(json_object_get(t->rec, "method"),
						    "discarded_repetitions",
						    json_integer(t->discarded));
		} else if (suite->describe) {
			json_t *scratch = json_object(); /* describe works on every rank */
			suite->describe(t->state, &t->c, scratch);
			json_decref(scratch);
		}
		free(timing.step);
		free(timing.per_rank);
		strata_monotime_ns t_teardown = strata_instr_phase_begin(&t->instr, "teardown");
		suite->teardown(t->state);
		strata_instr_phase_end(&t->instr, "teardown", t_teardown, -1);
		t->state = NULL;
	}
	free(t->timed.v);
	strata_watchdog_set_case(0, NULL);
	strata_instr_case_end(&t->instr, ri, t->rec);
	enum strata_outcome outcome = t->outcome;
	if (ri->rank == 0) {
		json_t *rec = t->rec;
		json_object_set_new(rec, "status", json_string(strata_outcome_name(outcome)));
		if (t->reason[0])
			json_object_set_new(rec, "reason", json_string(t->reason));
		json_object_set_new(rec, "validation",
				    json_pack("{s:b,s:I,s:b}", "checked", verified, "wrong",
					      (json_int_t)wrong_total, "passed",
					      verified && wrong_total == 0 && outcome != STRATA_FAILED));
		json_object_set_new(rec, "time_start_ms", json_integer(t->t_start_ms));
		json_object_set_new(rec, "time_end_ms", json_integer(strata_wall_ms()));
		json_object_set_new(rec, "case_seconds",
				    json_real((double)(strata_now_ns() - t->t_case) * 1e-9));
		*record = rec;
	} else {
		*record = NULL;
	}
	free(t);
	return outcome;
}

enum strata_outcome strata_measure_case(const struct strata_rank_info *ri,
					const struct strata_case_spec *spec, const char *variant,
					json_t **record)
{
	struct strata_trial *t = strata_trial_begin(ri, spec, &spec->params, variant, 1.0);
	strata_trial_warmup(t);
	while (strata_trial_measure(t, 0))
		;
	return strata_trial_end(t, record);
}
