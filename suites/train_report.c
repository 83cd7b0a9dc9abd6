/* train_report.c: what the train suite reports (suites/train.c): the peak
 * its MFU is computed against, the 1-rank case its scaling efficiency is
 * against, the end-of-case verification and reductions over ranks, the
 * figures of merit and the details of the record.  Not the measurement. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "harness/plan.h"
#include "harness/stats.h"
#include "kernels/cpu/cpu_peak.h"
#include "suites/train_internal.h"

static const char *const phase_names[PH_N] = {
    "data_wait", "host_to_device", "forward", "backward", "allreduce_exposed", "optimizer", "step"};

/* The per-rank peak MFU is computed against (rank 0; see the file comment). */
void strata_train_find_peak(struct train_state *s, const struct strata_case *c, double plan_peak)
{
	if (plan_peak > 0) {
		s->peak_gflops = plan_peak;
		snprintf(s->peak_source, sizeof(s->peak_source), "plan: peak_gflops %.6g per rank",
		         plan_peak);
		return;
	}
	if (s->gpu) {
		strata_train_gpu_find_peak(s->gpu, c, &s->peak_gflops, s->peak_source,
		                           sizeof(s->peak_source));
		return;
	}
	double best = 0;
	const char *key = NULL;
	size_t i;
	json_t *r;
	json_array_foreach(c->run_records, i, r) {
		if (strcmp(json_string_value(json_object_get(r, "suite")) ?: "", "gemm") ||
		    strcmp(json_string_value(json_object_get(r, "backend")) ?: "", "cpu") ||
		    strcmp(json_string_value(json_object_get(r, "outcome")) ?: "", "passed"))
			continue;
		json_t *pp = json_object_get(r, "params");
		if (strcmp(json_string_value(json_object_get(pp, "dtype")) ?: "", "float32") ||
		    json_integer_value(json_object_get(pp, "threads")) != s->threads)
			continue;
		/* The best repetition: a peak is what the cores can do, and a
		 * median taken on a busy machine would let MFU pass 100%. */
		double g = json_real_value(json_object_get(
		    json_object_get(json_object_get(r, "metrics"), "gflops"), "best"));
		if (g > best) {
			best = g;
			key = "gemm";
		}
	}
	if (best > 0) {
		s->peak_gflops = best;
		snprintf(s->peak_source, sizeof(s->peak_source),
		         "measured: the gemm suite's best FP32 GFLOP/s per rank (best repetition) "
		         "earlier in this "
		         "run, threads %d as here (%s)",
		         s->threads, key);
		return;
	}
	struct strata_cpu_peak pk;
	int cpus = 0, cores = strata_cpu_peak_bound_cores(&cpus);
	if (cores <= 0)
		cores = 1;
	if (strata_cpu_peak_host(cores, STRATA_CPU_FP32, &pk) == 0 && pk.gflops > 0) {
		s->peak_gflops = pk.gflops;
		snprintf(s->peak_source, sizeof(s->peak_source), "%s", pk.source);
	} else {
		s->peak_gflops = 0;
		snprintf(s->peak_source, sizeof(s->peak_source),
		         "unknown: no gemm float32 case in this run and no derivable peak");
	}
}

/* ---- verify, figures, record ------------------------------------------------------- */

int64_t strata_train_verify(void *state, const struct strata_case *c)
{
	struct train_state *s = state;
	int64_t wrong = 0;
	/* Per-rank medians of the phases, the peak RSS and bytes read: the
	 * maximum over ranks (sum for bytes) to rank 0, over every rank of the
	 * run (waiting ranks send zeros). */
	double mine[PH_N + 2] = {0};
	if (s->gpu)
		strata_train_gpu_stop(s->gpu); /* the end of the measured part */
	if (s->active) {
		strata_train_check_weights(s);
		wrong += s->mismatches + s->bad_tokens + s->nonfinite;
		if (s->mode == MODE_TTT) {
			int failed = 0;
			for (int i = 0; i < s->nruns; i++)
				failed += !s->runs[i].converged;
			if (failed > 1) {
				wrong += failed;
				if (!s->first_bad[0])
					snprintf(s->first_bad, sizeof(s->first_bad),
					         "%d of %d runs did not reach the target loss %.4f "
					         "(MLPerf: more than one non-converging run makes "
					         "the result invalid)",
					         failed, s->nruns, s->target);
			}
		}
		if (wrong)
			strata_case_errorf(c, "%s", s->first_bad);
		for (int k = 0; k < PH_N && s->nlog > 0; k++) {
			double *col = malloc(s->nlog * sizeof(*col));
			if (!col)
				break;
			for (size_t i = 0; i < s->nlog; i++)
				col[i] = s->log[i * PH_N + (size_t)k];
			struct strata_stats st;
			if (strata_stats_compute(col, s->nlog, &st) == 0)
				mine[k] = st.median;
			free(col);
		}
		struct rusage ru;
		if (getrusage(RUSAGE_SELF, &ru) == 0)
			mine[PH_N] = (double)ru.ru_maxrss / 1024.0; /* KiB -> MiB */
		if (s->loader) {
			uint64_t bytes, batches, epochs;
			strata_shards_counters(s->loader, &bytes, &batches, &epochs);
			mine[PH_N + 1] = (double)(s->bytes_read + bytes);
		} else {
			mine[PH_N + 1] = (double)s->bytes_read;
		}
		if (s->rank == 0 && s->checkpoint && s->checkpoint[0] && !wrong) {
			char err[256];
			if (strata_gpt_save(&s->g, s->checkpoint, err, sizeof(err)) != 0) {
				snprintf(s->checkpoint_msg, sizeof(s->checkpoint_msg), "%s", err);
				strata_case_errorf(c, "checkpoint: %s", err);
				wrong = -1;
			} else {
				snprintf(s->checkpoint_msg, sizeof(s->checkpoint_msg),
				         "written: %s", s->checkpoint);
			}
		}
	}
	double bytes_mine = mine[PH_N + 1], bytes_all = 0;
	double red[PH_N + 1];
	MPI_Reduce(mine, red, PH_N + 1, MPI_DOUBLE, MPI_MAX, 0, c->comm);
	MPI_Reduce(&bytes_mine, &bytes_all, 1, MPI_DOUBLE, MPI_SUM, 0, c->comm);
	if (c->rank == 0) {
		memcpy(s->med, red, PH_N * sizeof(double));
		s->rss_max_mib = red[PH_N];
		s->bytes_read_all = bytes_all;
	}
	if (s->cuda) { /* every rank of the run: waiting ones send 0 */
		double model_bytes = 0, gpu_peak = 0;
		if (s->gpu)
			strata_train_gpu_memory(s->gpu, &model_bytes, &gpu_peak);
		MPI_Reduce(&gpu_peak, &s->gpu_peak_bytes_max, 1, MPI_DOUBLE, MPI_MAX, 0, c->comm);
	}
	return wrong;
}

size_t strata_train_metrics(const void *state, const struct strata_case *c, double seconds,
                            struct strata_metric *out, size_t max)
{
	const struct train_state *s = state;
	(void)c;
	size_t n = 0;
	if (seconds <= 0 || !s->active)
		return 0;
	if (s->mode == MODE_TTT) {
		if (n < max)
			out[n++] = (struct strata_metric){"time_to_train", "s", seconds, 0};
		return n;
	}
	const double tokens = (double)s->B * (double)s->T;
	const double per_rank = tokens / seconds;
	if (n < max)
		out[n++] =
		    (struct strata_metric){"tokens_per_s", "tokens/s", per_rank * s->nranks, 1};
	if (n < max)
		out[n++] = (struct strata_metric){"tokens_per_s_per_rank", "tokens/s", per_rank, 1};
	if (n < max)
		out[n++] = (struct strata_metric){"samples_per_s", "sequences/s",
		                                  (double)s->B * s->nranks / seconds, 1};
	if (s->peak_gflops > 0 && n < max)
		out[n++] = (struct strata_metric){
		    "mfu", "%", 100.0 * s->flops_per_token * per_rank / (s->peak_gflops * 1e9), 1};
	if (s->one_rank_tps > 0 && n < max)
		out[n++] = (struct strata_metric){"scaling_efficiency", "%",
		                                  100.0 * per_rank / s->one_rank_tps, 1};
	return n;
}

/* Rank 0, in setup: tokens/s of a passed 1-rank case of this run with the
 * same parameters but `ranks`, for the scaling efficiency
 * tokens_per_s(n) / (n x tokens_per_s(1)). */
void strata_train_find_one_rank(struct train_state *s, const struct strata_case *c)
{
	if (s->mode != MODE_THROUGHPUT || s->nranks < 2 || !c->run_records)
		return;
	json_t *mine = strata_params_to_json(c->params);
	size_t i;
	json_t *r;
	json_array_foreach(c->run_records, i, r) {
		json_t *pp = json_object_get(r, "params");
		if (strcmp(json_string_value(json_object_get(r, "suite")) ?: "", "train") ||
		    json_integer_value(json_object_get(pp, "ranks")) != 1 ||
		    strcmp(json_string_value(json_object_get(r, "outcome")) ?: "", "passed"))
			continue;
		const char *k;
		json_t *v;
		int same = 1;
		json_object_foreach(mine, k, v) {
			if (strcmp(k, "ranks") && !json_equal(v, json_object_get(pp, k)))
				same = 0;
		}
		double one = json_real_value(json_object_get(
		    json_object_get(json_object_get(r, "metrics"), "tokens_per_s"), "median"));
		if (same && one > 0) {
			s->one_rank_tps = one;
			break;
		}
	}
	json_decref(mine);
}

/* What was trained on what: model, batch, corpus, data, optimizer. */
static void describe_setup(const struct train_state *s, json_t *details)
{
	const struct strata_gpt_config *g = &s->cfg;
	json_object_set_new(
	    details, "model",
	    json_pack("{s:s,s:i,s:i,s:i,s:i,s:i,s:I,s:f,s:s,s:s}", "preset", s->preset, "layers",
	              g->layers, "d_model", g->d_model, "heads", g->heads, "vocab", g->vocab,
	              "max_seq", g->max_seq, "parameters", (json_int_t)s->g.n_params,
	              "train_flops_per_token", s->flops_per_token, "flops_formula",
	              "6N + 12 L C T per token, N without wpe (PaLM, Chowdhery et al. 2022, "
	              "appendix B)",
	              "precision", s->gpu ? "bf16 compute, fp32 master weights" : "fp32"));
	json_object_set_new(details, "batch",
	                    json_pack("{s:i,s:i,s:i,s:I,s:i}", "micro_batch", s->B, "seq", s->T,
	                              "ranks", s->nranks, "global_batch",
	                              (json_int_t)s->B * s->nranks, "threads_per_rank",
	                              s->threads_used));
	json_object_set_new(
	    details, "corpus",
	    json_pack("{s:i,s:i,s:i,s:f,s:f,s:f,s:f,s:s}", "vocab", s->chain.vocab, "order",
	              s->chain.order, "branch", s->chain.branch, "floor_p", s->chain.floor_p,
	              "entropy_rate_nats", s->chain.entropy_rate, "loss_floor_nats", s->loss_floor,
	              "target_loss_nats", s->target, "floor_meaning",
	              "least mean cross-entropy any model can reach on windows of seq tokens"));
	json_object_set_new(details, "data",
	                    json_pack("{s:s,s:i,s:I,s:I,s:b,s:i,s:i,s:f}", "dir", s->ws.path,
	                              "shards_per_rank", s->n_names, "train_tokens_per_rank",
	                              (json_int_t)s->train_tokens, "val_tokens",
	                              (json_int_t)s->val_n, "direct", s->direct, "loader_threads",
	                              s->loader_threads, "prefetch", s->prefetch,
	                              "bytes_read_all_ranks", s->bytes_read_all));
	json_object_set_new(details, "optimizer",
	                    json_pack("{s:s,s:f,s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f}", "name", "adamw",
	                              "lr", s->lr, "warmup_steps", (json_int_t)s->warmup_steps,
	                              "decay_steps", (json_int_t)s->max_steps, "min_lr",
	                              s->lr * MIN_LR_FRACTION, "beta1", (double)ADAM_BETA1, "beta2",
	                              (double)ADAM_BETA2, "eps", (double)ADAM_EPS, "weight_decay",
	                              s->weight_decay, "grad_clip", s->grad_clip));
}

/* Where a step's time went, and against what MFU was computed. */
static void describe_step(const struct train_state *s, json_t *details)
{
	if (s->mode == MODE_THROUGHPUT && s->nlog > 0) {
		json_t *br = json_object();
		for (int k = 0; k < PH_N; k++)
			json_object_set_new(br, phase_names[k], json_real(s->med[k]));
		json_object_set_new(br, "how",
		                    json_string("each rank's median over timed steps, "
		                                "then the maximum over ranks"));
		json_object_set_new(details, "step_breakdown_s", br);
	}
	double hidden = s->ar_alone_s - s->med[PH_AR];
	json_object_set_new(
	    details, "allreduce",
	    json_pack("{s:s,s:I,s:b,s:I,s:f,s:f,s:f,s:s}", "backend",
	              s->gpu ? "NCCL ncclAllReduce (FP32, sum, in place, on a communication "
	                       "stream after an event on the model's stream; / ranks in AdamW's "
	                       "grad_scale)"
	                     : "MPI_Iallreduce (FP32, sum, then / ranks)",
	              "bucket_bytes", (json_int_t)s->bucket_bytes, "overlap", s->overlap,
	              "buckets_per_step", (json_int_t)s->buckets_per_step, "alone_s", s->ar_alone_s,
	              "exposed_median_s", s->med[PH_AR], "hidden_s", hidden > 0 ? hidden : 0.0,
	              "how",
	              "alone: blocking all-reduce of the whole gradient in the same buckets, "
	              "timed in setup (median of 5, slowest rank); hidden = alone - exposed"));
	json_object_set_new(
	    details, "mfu_peak",
	    json_pack("{s:f,s:s}", "gflops_per_rank", s->peak_gflops, "source", s->peak_source));
	json_object_set_new(details, "memory",
	                    json_pack("{s:f}", "peak_rss_mib_max_rank", s->rss_max_mib));
	if (s->gpu) {
		json_object_set_new(json_object_get(details, "memory"),
		                    "gpu_used_peak_bytes_max_rank",
		                    json_real(s->gpu_peak_bytes_max));
		strata_train_gpu_describe(s->gpu, details,
		                          s->flops_per_token * (double)s->B * (double)s->T / 1e9);
	}
}

/* How training went: losses, weight checks, time-to-train runs, scaling. */
static void describe_outcome(const struct train_state *s, json_t *details)
{
	json_object_set_new(details, "train_loss",
	                    json_pack("{s:f,s:f,s:I}", "first", (double)s->first_loss, "last",
	                              (double)s->last_loss, "steps", (json_int_t)s->steps_total));
	json_object_set_new(details, "weight_checks",
	                    json_pack("{s:I,s:I,s:I}", "every_steps", (json_int_t)s->check_every,
	                              "checks", (json_int_t)s->checks, "mismatches",
	                              (json_int_t)s->mismatches));
	if (s->checkpoint_msg[0])
		json_object_set_new(details, "checkpoint", json_string(s->checkpoint_msg));
	if (s->mode == MODE_TTT) {
		json_t *runs = json_array();
		for (int i = 0; i < s->nruns; i++) {
			const struct run_result *r = &s->runs[i];
			json_array_append_new(runs, json_pack("{s:I,s:b,s:I,s:f,s:f}", "seed",
			                                      (json_int_t)r->seed, "converged",
			                                      r->converged, "steps",
			                                      (json_int_t)r->steps, "seconds",
			                                      r->seconds, "val_loss", r->val_loss));
		}
		json_t *ttt = json_pack("{s:o,s:o,s:I,s:f}", "runs", runs, "mlperf_score",
		                        strata_train_mlperf_score(s), "eval_every",
		                        (json_int_t)s->eval_every, "max_seconds", s->max_seconds);
		json_object_set_new(details, "time_to_train", ttt);
		if (s->events)
			json_object_set_new(details, "mllog_events", json_incref(s->events));
	}
	if (s->one_rank_tps > 0)
		json_object_set_new(
		    details, "scaling",
		    json_pack("{s:i,s:f,s:s}", "ranks", s->nranks, "one_rank_tokens_per_s",
		              s->one_rank_tps, "how",
		              "scaling_efficiency = tokens_per_s / (ranks x the 1-rank "
		              "case's median tokens_per_s in this run)"));
}

void strata_train_describe(const void *state, const struct strata_case *c, json_t *details)
{
	const struct train_state *s = state;
	(void)c;
	if (!s->active)
		return;
	describe_setup(s, details);
	describe_step(s, details);
	describe_outcome(s, details);
}
