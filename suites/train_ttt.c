/* train_ttt.c: the train suite's time-to-train mode (suites/train.c): one
 * repetition is one whole training run from a fresh initialisation to the
 * target validation loss, with the MLPerf MLLOG events it emits and MLPerf
 * training's score over the runs.  Not the step itself (train.c). */
#include <math.h>
#include <stdio.h>

#include "harness/runner.h"
#include "suites/train_internal.h"

/* ---- MLLOG events (rank 0): written to mllog.txt by the runner ------------- */

static void ev(struct train_state *s, const char *type, const char *key, json_t *value,
               json_t *meta)
{
	if (!s->events) {
		json_decref(value);
		json_decref(meta);
		return;
	}
	json_array_append_new(s->events, json_pack("{s:I,s:s,s:s,s:o,s:o}", "time_ms",
	                                           (json_int_t)strata_wall_ms(), "event_type", type,
	                                           "key", key, "value", value ? value : json_null(),
	                                           "metadata", meta ? meta : json_object()));
}

/* ---- time to train ------------------------------------------------------------------ */

static void log_hyperparameters(struct train_state *s)
{
	ev(s, "POINT_IN_TIME", "submission_benchmark", json_string("strata_gpt_markov"), NULL);
	ev(s, "POINT_IN_TIME", "global_batch_size", json_integer((json_int_t)s->B * s->nranks),
	   NULL);
	ev(s, "POINT_IN_TIME", "max_sequence_length", json_integer(s->T), NULL);
	ev(s, "POINT_IN_TIME", "opt_name", json_string("adamw"), NULL);
	ev(s, "POINT_IN_TIME", "opt_base_learning_rate", json_real(s->lr), NULL);
	ev(s, "POINT_IN_TIME", "opt_learning_rate_warmup_steps", json_integer(s->warmup_steps),
	   NULL);
	ev(s, "POINT_IN_TIME", "opt_learning_rate_decay_steps", json_integer(s->max_steps), NULL);
	ev(s, "POINT_IN_TIME", "opt_adamw_beta_1", json_real(ADAM_BETA1), NULL);
	ev(s, "POINT_IN_TIME", "opt_adamw_beta_2", json_real(ADAM_BETA2), NULL);
	ev(s, "POINT_IN_TIME", "opt_adamw_epsilon", json_real(ADAM_EPS), NULL);
	ev(s, "POINT_IN_TIME", "opt_adamw_weight_decay", json_real(s->weight_decay), NULL);
	ev(s, "POINT_IN_TIME", "opt_gradient_clip_norm", json_real(s->grad_clip), NULL);
	ev(s, "POINT_IN_TIME", "gradient_accumulation_steps", json_integer(1), NULL);
	ev(s, "POINT_IN_TIME", "eval_samples",
	   json_integer((json_int_t)(s->val_n / (uint64_t)(s->T + 1))), NULL);
	ev(s, "POINT_IN_TIME", "target_eval_loss", json_real(s->target),
	   json_pack("{s:f,s:f}", "loss_floor", s->loss_floor, "entropy_rate",
	             s->chain.entropy_rate));
}

int strata_train_prepare(void *state, const struct strata_case *c)
{
	struct train_state *s = state;
	if (!s->active || s->mode != MODE_TTT || !c->timed)
		return STRATA_OK;
	/* Model initialisation is off the clock (MLPerf: before run_start). */
	if (s->nruns >= MAX_RUNS) {
		strata_case_errorf(c, "more than %d time-to-train runs in one case", MAX_RUNS);
		return STRATA_ERROR;
	}
	s->run_seed = s->seed + (uint64_t)s->nruns;
	if (s->nruns == 0)
		log_hyperparameters(s);
	ev(s, "INTERVAL_START", "init_start", NULL, NULL);
	char err[256];
	if (strata_train_init_model(s, s->run_seed, err, sizeof(err)) != 0) {
		strata_case_errorf(c, "%s", err);
		return STRATA_ERROR;
	}
	ev(s, "INTERVAL_END", "init_stop", NULL, NULL);
	return STRATA_OK;
}

/* One whole training run to the target.  Returns STRATA_OK when it
 * converged, STRATA_DISCARD when it did not, STRATA_ERROR on failure. */
int strata_train_to_target(struct train_state *s, const struct strata_case *c)
{
	char err[512] = "";
	struct run_result *r = &s->runs[s->nruns++];
	r->seed = s->run_seed;
	double t_start = now_s();
	ev(s, "INTERVAL_START", "run_start", NULL, json_pack("{s:I}", "seed", (json_int_t)r->seed));
	ev(s, "POINT_IN_TIME", "seed", json_integer((json_int_t)r->seed), NULL);
	int bad = strata_train_open_loader(s, err, sizeof(err)) != 0;
	int64_t samples = 0;
	double val = NAN;
	int stop = 0; /* 1 converged, 2 out of budget, 3 signal, 4 error */
	while (!stop && !bad) {
		ev(s, "INTERVAL_START", "block_start", NULL,
		   json_pack("{s:I}", "samples_count", (json_int_t)samples));
		for (int64_t i = 0; i < s->eval_every && !bad; i++) {
			double ph[PH_N];
			if (strata_train_step(s, ph, err, sizeof(err)) != 0)
				bad = 1;
			samples += (int64_t)s->B * s->nranks;
			if (s->step >= s->max_steps)
				break;
		}
		ev(s, "INTERVAL_END", "block_stop", NULL,
		   json_pack("{s:I}", "samples_count", (json_int_t)samples));
		/* Every rank decides alike: a reader error anywhere stops them all. */
		MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, s->comm);
		if (bad)
			break;
		ev(s, "INTERVAL_START", "eval_start", NULL,
		   json_pack("{s:I}", "samples_count", (json_int_t)samples));
		val = strata_train_evaluate(s);
		ev(s, "INTERVAL_END", "eval_stop", NULL,
		   json_pack("{s:I}", "samples_count", (json_int_t)samples));
		ev(s, "POINT_IN_TIME", "eval_accuracy", json_real(val),
		   json_pack("{s:I,s:s}", "samples_count", (json_int_t)samples, "metric",
		             "validation cross-entropy, nats per token (lower is better)"));
		int why = 0;
		if (val <= s->target)
			why = 1;
		else if (s->step >= s->max_steps || now_s() - t_start >= s->max_seconds)
			why = 2;
		else if (strata_runner_signal())
			why = 3;
		MPI_Allreduce(MPI_IN_PLACE, &why, 1, MPI_INT, MPI_MAX, s->comm);
		stop = why;
	}
	strata_train_close_loader(s);
	r->steps = s->step;
	r->val_loss = val;
	r->seconds = now_s() - t_start;
	r->converged = stop == 1;
	ev(s, "INTERVAL_END", "run_stop", NULL,
	   json_pack("{s:s,s:I,s:f}", "status", r->converged ? "success" : "aborted",
	             "samples_count", (json_int_t)samples, "eval_loss", val));
	if (bad) {
		strata_case_errorf(c, "%s", err[0] ? err : "another rank's training run failed");
		return STRATA_ERROR;
	}
	return r->converged ? STRATA_OK : STRATA_DISCARD;
}

/* MLPerf training's score: drop the fastest and slowest runs and average the
 * rest; a single non-converging run may be dropped as the slowest; more
 * than one makes the result invalid ("Benchmark Results"). */
json_t *strata_train_mlperf_score(const struct train_state *s)
{
	double t[MAX_RUNS];
	int n = 0, failed = 0;
	for (int i = 0; i < s->nruns; i++) {
		if (s->runs[i].converged)
			t[n++] = s->runs[i].seconds;
		else
			failed++;
	}
	json_t *o =
	    json_pack("{s:i,s:i,s:i}", "runs", s->nruns, "converged", n, "not_converged", failed);
	const char *rule = "MLPerf training rules, Benchmark Results: drop the fastest and slowest "
	                   "runs, mean of the rest; one non-converging run may be dropped as the "
	                   "slowest; more than one makes the result invalid";
	json_object_set_new(o, "rule", json_string(rule));
	if (failed > 1 || s->nruns < 3) {
		json_object_set_new(o, "valid", json_false());
		json_object_set_new(o, "why",
		                    json_string(failed > 1 ? "more than one run did not "
		                                             "converge"
		                                           : "fewer than 3 runs"));
		return o;
	}
	/* sort ascending */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
			double x = t[j];
			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	int lo = 1, hi = failed ? n : n - 1; /* the failed run is the dropped slowest */
	double sum = 0;
	for (int i = lo; i < hi; i++)
		sum += t[i];
	json_object_set_new(o, "valid", json_true());
	json_object_set_new(o, "score_s", json_real(hi > lo ? sum / (hi - lo) : NAN));
	json_object_set_new(o, "runs_averaged", json_integer(hi - lo));
	return o;
}
