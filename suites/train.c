/* train.c: end-to-end training of a GPT-style transformer, data-parallel over
 * MPI, fed from storage: what a real training job gets when the matmuls, the
 * memory system, the all-reduce and the file system work together, and
 * where its time goes.
 *
 * What it is: the experiment around kernels/nn/ (gpt.h: the model, adamw.h:
 * the optimizer, grad_buckets.h: the gradient all-reduce, markov.h and
 * token_shards.h: the data).  Setup draws a seeded Markov chain whose
 * entropy rate is known exactly (so the best reachable loss is known), writes
 * each rank's training shards and a validation shard into a private work
 * directory (kernels/cpu/storage_fs.h, the plan's `dir`), and builds the same
 * model on every rank from the same seed.  One optimizer step: the next
 * micro-batch from the loader's prefetch queue (reader threads, optionally
 * O_DIRECT; the wait is timed), forward with the loss, backward announcing
 * finished gradient ranges that go out at once as MPI_Iallreduce buckets,
 * the wait for the last bucket (the exposed all-reduce), the mean over ranks,
 * clipping to a global norm, AdamW at the scheduled learning rate.
 *
 * Two modes:
 *   throughput      one repetition = one optimizer step; the runner's warm-up
 *                   and repetitions are steps of one continuing training run.
 *   time_to_train   one repetition = one whole training run from a fresh
 *                   initialisation (seed + run index; MLPerf's several
 *                   seeds) until the validation loss is <= the loss floor +
 *                   target_margin, evaluated every eval_every steps, eval time
 *                   on the clock (MLPerf training rules, "Run Results": the
 *                   clock starts before the dataset is touched, model
 *                   initialisation before it is not timed - here the
 *                   prepare hook - and quality evaluation is included).  A
 *                   run that does not reach the target within max_steps or
 *                   max_seconds is discarded (suite.h STRATA_DISCARD): it
 *                   is reported as not converged, never as a time.  The
 *                   score follows MLPerf's "Benchmark Results": drop the
 *                   fastest and slowest runs, average the rest; one
 *                   non-converging run may be dropped as the slowest, more
 *                   than one makes the result invalid (the case fails).
 *                   Warm-up repetitions are TTT_WARMUP_STEPS steps each.
 *
 * Figures (seconds = the runner's repetition time, the slowest rank's):
 *   throughput: tokens_per_s (all ranks), tokens_per_s_per_rank,
 *     samples_per_s, mfu (%: PaLM's 6N + 12 L C T FLOPs per token, gpt.h,
 *     over the peak: the gemm suite's best FP32 GFLOP/s measured earlier in
 *     the same run with the same threads per rank when there is one, else the plan's peak_gflops, else the
 *     cores' derived peak, kernels/cpu/cpu_peak.h; the source is recorded).
 *   time_to_train: time_to_train (s).
 * The step's breakdown (data wait, forward, backward, exposed all-reduce,
 * optimizer), the all-reduce alone (timed in setup, so hidden = alone -
 * exposed), peak host RSS, scaling efficiency against a 1-rank case of the
 * same run (`ranks: [1, 2, ...]` trains on the first `ranks` ranks) and the
 * per-run MLPerf events (details.mllog_events -> mllog.txt) are in details.
 * Validation: every rank holds bit-identical weights (a checksum compared
 * every check_every steps and at the end), every token read is inside the
 * corpus vocabulary, every loss is finite, and in time_to_train mode at most
 * one run failed to converge.
 * Device cuda (suites/train_gpu.h): one GPU per training rank, the same
 * model in BF16 compute with FP32 master weights (kernels/cuda/gpt_cuda.h),
 * built from the same CPU-initialised weights on every rank; the gradient
 * buckets go out as NCCL all-reduces on a communication stream while the
 * backward goes on (kernels/cuda/train_cuda.h); norm, clipping and AdamW on
 * the GPU; every step ends with the GPU synchronised, so the runner's
 * host-clock repetition covers its kernels.  The breakdown gains
 * host_to_device (the input copy, CUDA events; 0 on the CPU); MFU is against
 * the gemm suite's best BF16 figure on cuda in this run, else the GPU's
 * datasheet BF16 dense peak (kernels/gpu/gpu_peak.h); the weight checks and
 * the checkpoint copy the master weights to the host.
 * What it is not: a model of any framework, tensor or pipeline parallelism,
 * or mixed precision on the CPU (the CUDA backend is BF16).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cblas.h>
#include <omp.h>

#include "harness/plan.h"
#include "harness/runner.h"
#include "harness/stats.h"
#include "harness/suite.h"
#include "harness/timer.h"
#include "kernels/cpu/cpu_peak.h"
#include "kernels/cpu/storage_fs.h"
#include "kernels/nn/adamw.h"
#include "kernels/nn/gpt.h"
#include "kernels/nn/grad_buckets.h"
#include "kernels/nn/markov.h"
#include "kernels/nn/token_shards.h"
#include "strata_config.h"
#include "suites/train_gpu.h"

/* GPT-3's AdamW settings (Brown et al. 2020, appendix B): beta1 0.9, beta2
 * 0.95, eps 1e-8, cosine decay of the learning rate to 10% of its peak. */
#define ADAM_BETA1 0.9f
#define ADAM_BETA2 0.95f
#define ADAM_EPS 1e-8f
#define MIN_LR_FRACTION 0.1
#define TTT_WARMUP_STEPS 3
#define MAX_RUNS 256
#define MAX_SHARDS 1024
#define AR_ALONE_TRIALS 5

enum { MODE_THROUGHPUT, MODE_TTT };
enum { PH_DATA, PH_H2D, PH_FWD, PH_BWD, PH_AR, PH_OPT, PH_STEP, PH_N };
static const char *const phase_names[PH_N] = { "data_wait", "host_to_device", "forward",
					       "backward", "allreduce_exposed", "optimizer",
					       "step" };

struct run_result {
	uint64_t seed;
	int converged;
	int64_t steps;
	double seconds;
	double val_loss;
};

struct train_state {
	int active;          /* this rank trains (the first `ranks` ranks do) */
	MPI_Comm comm;       /* the training ranks */
	int rank, nranks;    /* in comm */
	int mode;
	const char *preset;
	struct strata_gpt_config cfg;
	int B, T;
	uint64_t seed;
	struct strata_gpt g;
	int have_g;
	struct strata_adamw opt;
	int have_opt;
	struct strata_grad_buckets gb;
	int have_gb;
	int overlap;
	size_t bucket_bytes;

	struct strata_markov chain;
	int have_chain;
	int corpus_vocab;
	double loss_floor, target;

	struct strata_storage_ws ws;
	int have_ws;
	char **names;
	int n_names;
	uint64_t train_tokens, val_tokens_n;
	uint16_t *val;
	uint64_t val_n;
	int direct, loader_threads, prefetch;
	struct strata_shard_loader *loader;
	uint64_t bytes_read; /* over closed loaders; open one's added on demand */
	int *inputs, *targets;

	double lr, weight_decay, grad_clip, target_margin, max_seconds;
	int64_t warmup_steps, max_steps, check_every, eval_every;
	int64_t step;          /* optimizer steps of the current training run */
	int64_t steps_total;   /* over the case */

	double *log;           /* (nlog, PH_N) timed steps */
	size_t nlog, caplog;
	double first_loss, last_loss;
	int64_t nonfinite;
	int64_t checks, mismatches;
	int64_t bad_tokens;
	char first_bad[256];

	struct run_result runs[MAX_RUNS];
	int nruns;
	uint64_t run_seed;
	json_t *events;        /* rank 0: MLLOG events of time_to_train runs */

	double one_rank_tps;   /* rank 0: tokens/s of the 1-rank case of this run, 0 if none */
	double ar_alone_s;
	size_t buckets_per_step;
	double peak_gflops;
	char peak_source[400];
	double flops_per_token;
	double rss_max_mib;
	double med[PH_N];      /* rank 0 after verify: max over ranks of each rank's median */
	double bytes_read_all; /* rank 0 after verify: all ranks */
	const char *checkpoint;
	char checkpoint_msg[300];
	int desync_fault;      /* test only: STRATA_TEST_TRAIN_DESYNC set */
	int threads;           /* as planned (0: defaults) */
	int omp_before, blas_before; /* restored in teardown */
	int threads_used;      /* omp_get_max_threads() during the case */
	int cuda;              /* device cuda (every rank of the run knows) */
	struct strata_train_gpu *gpu; /* device cuda, training ranks: train_gpu.h */
	double gpu_peak_bytes_max; /* rank 0 after verify: device memory in use, max over ranks */
};

static const struct strata_param_def train_params[] = {
	{ .name = "device", .type = STRATA_PT_ENUM, .def = "cpu", .choices = "cpu|cuda",
	  .help = "cpu: FP32, OpenBLAS + OpenMP, MPI all-reduce; cuda: BF16 compute, FP32 master "
		  "weights, NCCL all-reduce, one GPU per rank (skipped without one)" },
	{ .name = "mode", .type = STRATA_PT_ENUM, .def = "throughput",
	  .choices = "throughput|time_to_train",
	  .help = "throughput: a repetition is one optimizer step; time_to_train: a repetition is "
		  "a whole training run to the target loss (MLPerf style)" },
	{ .name = "model", .type = STRATA_PT_ENUM, .def = "tiny", .choices = "tiny|gpt2-small",
	  .help = "model preset (kernels/nn/gpt.h); layers/d_model/heads/vocab/seq override it" },
	{ .name = "layers", .type = STRATA_PT_INT, .def = "0", .min = 0, .max = 256,
	  .help = "transformer blocks; 0 = the preset's" },
	{ .name = "d_model", .type = STRATA_PT_INT, .def = "0", .min = 0, .max = 65536,
	  .help = "model width C; 0 = the preset's" },
	{ .name = "heads", .type = STRATA_PT_INT, .def = "0", .min = 0, .max = 1024,
	  .help = "attention heads (divide d_model); 0 = the preset's" },
	{ .name = "vocab", .type = STRATA_PT_INT, .def = "0", .min = 0, .max = 1 << 20,
	  .help = "model vocabulary; 0 = the preset's (must be >= corpus_vocab)" },
	{ .name = "seq", .type = STRATA_PT_INT, .def = "0", .min = 0, .max = 1 << 16,
	  .help = "sequence length T; 0 = the model's position table length" },
	{ .name = "batch", .type = STRATA_PT_INT, .def = "4", .min = 1, .max = 65536,
	  .help = "micro-batch per rank, sequences" },
	{ .name = "threads", .type = STRATA_PT_INT, .def = "0", .min = 0, .max = 65536,
	  .help = "OpenMP and OpenBLAS threads per rank during the case; 0 = their defaults. MFU "
		  "uses a gemm case of this run with the same threads" },
	{ .name = "ranks", .type = STRATA_PT_INT, .def = "0", .min = 0, .max = 1 << 20,
	  .help = "train on the first N ranks (the rest wait); 0 = all.  Sweep [1, 2, ...] for "
		  "scaling efficiency" },
	{ .name = "corpus_vocab", .type = STRATA_PT_INT, .def = "64", .min = 2, .max = 65535,
	  .help = "tokens the Markov corpus uses" },
	{ .name = "markov_order", .type = STRATA_PT_INT, .def = "1", .min = 1, .max = 8,
	  .help = "order k of the Markov chain (corpus_vocab^k <= 2^22 contexts)" },
	{ .name = "markov_branch", .type = STRATA_PT_INT, .def = "4", .min = 1, .max = 65535,
	  .help = "likely successors per context" },
	{ .name = "markov_floor", .type = STRATA_PT_DOUBLE, .def = "0.05", .min = 1e-6, .max = 0.999,
	  .help = "probability mass spread uniformly over all tokens" },
	{ .name = "corpus_seed", .type = STRATA_PT_INT, .def = "1", .min = 0, .max = 1e15,
	  .help = "seed of the chain and of the token streams" },
	{ .name = "train_tokens", .type = STRATA_PT_INT, .def = "262144", .min = 1024, .max = 1e12,
	  .help = "training tokens written per rank (its slice of the data)" },
	{ .name = "shards", .type = STRATA_PT_INT, .def = "2", .min = 1, .max = MAX_SHARDS,
	  .help = "files the training tokens of a rank are split into" },
	{ .name = "val_tokens", .type = STRATA_PT_INT, .def = "16384", .min = 64, .max = 1e10,
	  .help = "held-out validation tokens (split over the ranks when evaluating)" },
	{ .name = "dir", .type = STRATA_PT_STRING, .def = "\"\"",
	  .help = "directory for the shards (a private subdirectory is made and removed); "
		  "empty = $TMPDIR or /tmp" },
	{ .name = "direct", .type = STRATA_PT_BOOL, .def = "false",
	  .help = "read shards with O_DIRECT (the page cache cannot hide the storage)" },
	{ .name = "loader_threads", .type = STRATA_PT_INT, .def = "2", .min = 1, .max = 256,
	  .help = "reader threads per rank" },
	{ .name = "prefetch", .type = STRATA_PT_INT, .def = "4", .min = 1, .max = 4096,
	  .help = "micro-batches read ahead per rank" },
	{ .name = "lr", .type = STRATA_PT_DOUBLE, .def = "0.003", .min = 0, .max = 10,
	  .help = "peak learning rate (after warm-up, before cosine decay to 10%)" },
	{ .name = "warmup_steps", .type = STRATA_PT_INT, .def = "20", .min = 0, .max = 1e9,
	  .help = "linear learning-rate warm-up steps" },
	{ .name = "max_steps", .type = STRATA_PT_INT, .def = "2000", .min = 1, .max = 1e12,
	  .help = "cosine schedule length; in time_to_train the step budget of a run" },
	{ .name = "weight_decay", .type = STRATA_PT_DOUBLE, .def = "0.1", .min = 0, .max = 10,
	  .help = "AdamW decoupled weight decay (2-D weights only)" },
	{ .name = "grad_clip", .type = STRATA_PT_DOUBLE, .def = "1.0", .min = 0, .max = 1e9,
	  .help = "clip the gradient's global L2 norm to this; 0 = off" },
	{ .name = "seed", .type = STRATA_PT_INT, .def = "1", .min = 0, .max = 1e15,
	  .help = "weight initialisation seed (time_to_train: run i uses seed + i)" },
	{ .name = "bucket", .type = STRATA_PT_SIZE, .def = "1M", .min = 4, .max = 1ll << 34,
	  .help = "gradient all-reduce bucket size (PyTorch DDP's default is 25M)" },
	{ .name = "overlap", .type = STRATA_PT_BOOL, .def = "true",
	  .help = "send buckets during backward (false: all after it)" },
	{ .name = "check_every", .type = STRATA_PT_INT, .def = "20", .min = 1, .max = 1e9,
	  .help = "steps between checks that every rank holds identical weights" },
	{ .name = "eval_every", .type = STRATA_PT_INT, .def = "25", .min = 1, .max = 1e9,
	  .help = "time_to_train: steps between validation evaluations" },
	{ .name = "target_margin", .type = STRATA_PT_DOUBLE, .def = "0.05", .min = 0, .max = 100,
	  .help = "time_to_train: target validation loss = the corpus's loss floor + this, nats" },
	{ .name = "max_seconds", .type = STRATA_PT_DOUBLE, .def = "300", .min = 0.001, .max = 1e7,
	  .help = "time_to_train: wall-time budget of one run (keep timeout_s above runs x this)" },
	{ .name = "checkpoint", .type = STRATA_PT_STRING, .def = "\"\"",
	  .help = "write the final weights here (rank 0; the infer suite can load them)" },
	{ .name = "peak_gflops", .type = STRATA_PT_DOUBLE, .def = "0", .min = 0, .max = 1e12,
	  .help = "per-rank peak for MFU; 0 = the gemm suite's figure in this run (cpu: FP32 with "
		  "the same threads; cuda: BF16), else derived (cpu) or the datasheet (cuda)" },
};

static double now_s(void)
{
	return (double)strata_now_ns() * 1e-9;
}

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

/* ---- setup pieces --------------------------------------------------------------- */

static int build_config(struct train_state *s, const struct strata_params *p,
			const struct strata_case *c)
{
	s->preset = strata_params_str(p, "model");
	if (strata_gpt_preset(s->preset, &s->cfg) != 0) {
		strata_case_errorf(c, "model: unknown preset '%s'", s->preset);
		return -1;
	}
	int64_t v;
	if ((v = strata_params_int(p, "layers")) > 0)
		s->cfg.layers = (int)v;
	if ((v = strata_params_int(p, "d_model")) > 0)
		s->cfg.d_model = (int)v;
	if ((v = strata_params_int(p, "heads")) > 0)
		s->cfg.heads = (int)v;
	if ((v = strata_params_int(p, "vocab")) > 0)
		s->cfg.vocab = (int)v;
	s->T = (int)strata_params_int(p, "seq");
	if (s->T == 0)
		s->T = s->cfg.max_seq;
	if (s->T > s->cfg.max_seq)
		s->cfg.max_seq = s->T; /* a longer position table, as the plan asks */
	s->B = (int)strata_params_int(p, "batch");
	s->corpus_vocab = (int)strata_params_int(p, "corpus_vocab");
	if (s->corpus_vocab > s->cfg.vocab) {
		strata_case_errorf(c, "corpus_vocab: %d is more than the model's vocab %d",
				   s->corpus_vocab, s->cfg.vocab);
		return -1;
	}
	char why[256];
	if (strata_gpt_config_check(&s->cfg, why, sizeof(why)) != 0) {
		strata_case_errorf(c, "model: %s", why);
		return -1;
	}
	return 0;
}

/* Each rank's training shards (its own token stream) and the validation
 * shard (one stream every rank writes alike, so each host has it). */
static int write_data(struct train_state *s, const struct strata_params *p, char *err,
		      size_t err_len)
{
	uint64_t corpus_seed = (uint64_t)strata_params_int(p, "corpus_seed");
	s->n_names = (int)strata_params_int(p, "shards");
	s->names = calloc((size_t)s->n_names, sizeof(*s->names));
	if (!s->names) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	uint64_t per = s->train_tokens / (uint64_t)s->n_names;
	uint64_t need = (uint64_t)(s->B) * (uint64_t)(s->T + 1);
	if (per < (uint64_t)(s->T + 1)) {
		snprintf(err, err_len,
			 "train_tokens: %llu tokens in %d shards leave fewer than seq+1 = %d per shard",
			 (unsigned long long)s->train_tokens, s->n_names, s->T + 1);
		return -1;
	}
	(void)need;
	struct strata_markov_stream st;
	/* Streams: seed, rank and purpose mixed by distinct odd multipliers. */
	strata_markov_stream_init(&st, &s->chain,
				  corpus_seed * 0x9E3779B97F4A7C15ull + (uint64_t)s->rank * 0xBF58476D1CE4E5B9ull + 1);
	for (int i = 0; i < s->n_names; i++) {
		if (asprintf(&s->names[i], "train-r%d-%d.tok", s->rank, i) < 0) {
			s->names[i] = NULL;
			snprintf(err, err_len, "out of memory");
			return -1;
		}
		if (strata_shard_write(s->ws.dirfd, s->names[i], &st, per, s->corpus_vocab, corpus_seed,
				       s->direct, err, err_len) != 0)
			return -1;
	}
	char vname[64];
	snprintf(vname, sizeof(vname), "val-r%d.tok", s->rank);
	strata_markov_stream_init(&st, &s->chain, corpus_seed * 0x94D049BB133111EBull + 0x5A17);
	if (strata_shard_write(s->ws.dirfd, vname, &st, s->val_tokens_n, s->corpus_vocab,
			       corpus_seed, 0, err, err_len) != 0)
		return -1;
	return strata_shard_read_all(s->ws.dirfd, vname, s->corpus_vocab, &s->val, &s->val_n, err,
				     err_len);
}

static int open_loader(struct train_state *s, char *err, size_t err_len)
{
	struct strata_shard_loader_cfg lc = {
		.dirfd = s->ws.dirfd, .names = (const char *const *)s->names, .n_names = s->n_names,
		.vocab = s->corpus_vocab, .B = s->B, .T = s->T, .threads = s->loader_threads,
		.prefetch = s->prefetch, .direct = s->direct,
	};
	return strata_shards_open(&s->loader, &lc, err, err_len);
}

static void close_loader(struct train_state *s)
{
	if (!s->loader)
		return;
	uint64_t bytes, batches, epochs;
	strata_shards_counters(s->loader, &bytes, &batches, &epochs);
	s->bytes_read += bytes;
	strata_shards_close(s->loader);
	s->loader = NULL;
}

/* The per-rank peak MFU is computed against (rank 0; see the file comment). */
static void find_peak(struct train_state *s, const struct strata_case *c, double plan_peak)
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
		double g = json_real_value(
			json_object_get(json_object_get(json_object_get(r, "metrics"), "gflops"), "best"));
		if (g > best) {
			best = g;
			key = "gemm";
		}
	}
	if (best > 0) {
		s->peak_gflops = best;
		snprintf(s->peak_source, sizeof(s->peak_source),
			 "measured: the gemm suite's best FP32 GFLOP/s per rank (best repetition) earlier in this "
			 "run, threads %d as here (%s)", s->threads, key);
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

/* Blocking all-reduce of the whole gradient in the same buckets, alone:
 * what the step would pay if nothing were hidden (median of a few). */
static void time_allreduce_alone(struct train_state *s)
{
	if (s->nranks < 2)
		return;
	double t[AR_ALONE_TRIALS];
	if (s->gpu) {
		char err[256];
		for (int i = 0; i < AR_ALONE_TRIALS; i++)
			if (strata_train_gpu_allreduce_all(s->gpu, &t[i], err, sizeof(err)) != 0)
				t[i] = 0;
		MPI_Allreduce(MPI_IN_PLACE, t, AR_ALONE_TRIALS, MPI_DOUBLE, MPI_MAX, s->comm);
		struct strata_stats st;
		if (strata_stats_compute(t, AR_ALONE_TRIALS, &st) == 0)
			s->ar_alone_s = st.median;
		return;
	}
	struct strata_grad_buckets b;
	if (strata_grad_buckets_init(&b, s->comm, s->g.grads, s->g.n_params, s->bucket_bytes, 0))
		return;
	for (int i = 0; i < AR_ALONE_TRIALS; i++) {
		strata_gpt_zero_grad(&s->g);
		MPI_Barrier(s->comm);
		strata_grad_buckets_begin(&b);
		t[i] = strata_grad_buckets_finish(&b);
	}
	MPI_Allreduce(MPI_IN_PLACE, t, AR_ALONE_TRIALS, MPI_DOUBLE, MPI_MAX, s->comm);
	struct strata_stats st;
	if (strata_stats_compute(t, AR_ALONE_TRIALS, &st) == 0)
		s->ar_alone_s = st.median;
	strata_grad_buckets_release(&b);
}

static int init_model(struct train_state *s, uint64_t seed, char *err, size_t err_len)
{
	if (s->have_opt)
		strata_adamw_release(&s->opt);
	if (s->have_gb)
		strata_grad_buckets_release(&s->gb);
	if (s->have_g)
		strata_gpt_release(&s->g);
	s->have_g = s->have_opt = s->have_gb = 0;
	/* On cuda the CPU model holds the initial weights (the same seed gives
	 * the same on every rank) and the host copy the weight checks and the
	 * checkpoint read: no activations. */
	if (strata_gpt_init(&s->g, &s->cfg, s->gpu ? 1 : s->B, s->gpu ? 1 : s->T, seed, err,
			    err_len) != 0)
		return -1;
	s->have_g = 1;
	if (s->gpu) {
		if (strata_train_gpu_model(s->gpu, &s->g, s->B, s->T, ADAM_BETA1, ADAM_BETA2, ADAM_EPS,
					   (float)s->weight_decay, err, err_len) != 0)
			return -1;
		s->step = 0;
		return 0;
	}
	if (strata_adamw_init(&s->opt, &s->g, ADAM_BETA1, ADAM_BETA2, ADAM_EPS,
			      (float)s->weight_decay) != 0) {
		snprintf(err, err_len, "out of memory for the optimizer state");
		return -1;
	}
	s->have_opt = 1;
	if (strata_grad_buckets_init(&s->gb, s->comm, s->g.grads, s->g.n_params, s->bucket_bytes,
				     s->overlap) != 0) {
		snprintf(err, err_len, "out of memory for the gradient buckets");
		return -1;
	}
	s->have_gb = 1;
	s->step = 0;
	return 0;
}

static void train_teardown(void *state);
static void find_one_rank(struct train_state *s, const struct strata_case *c);
static void log_hyperparameters(struct train_state *s);

static int train_setup(const struct strata_case *c, void **state)
{
	const struct strata_params *p = c->params;
	struct train_state *s = calloc(1, sizeof(*s));
	if (!s) {
		strata_case_errorf(c, "out of memory");
		return STRATA_ERROR;
	}
	*state = s;
	s->comm = MPI_COMM_NULL;
	s->cuda = !strcmp(strata_params_str(p, "device"), "cuda");
	int want = (int)strata_params_int(p, "ranks");
	if (want > c->nranks) {
		strata_case_errorf(c, "ranks: %d asked, the run has %d", want, c->nranks);
		return STRATA_SKIP;
	}
	if (want == 0)
		want = c->nranks;
	s->active = c->rank < want;
	s->omp_before = omp_get_max_threads();
	s->blas_before = openblas_get_num_threads();
	s->threads = (int)strata_params_int(p, "threads");
	if (s->threads > 0) {
		omp_set_num_threads(s->threads);
		openblas_set_num_threads(s->threads);
	}
	s->threads_used = omp_get_max_threads();
	MPI_Comm_split(c->comm, s->active ? 0 : MPI_UNDEFINED, c->rank, &s->comm);
	if (!s->active)
		return STRATA_OK;
	MPI_Comm_rank(s->comm, &s->rank);
	MPI_Comm_size(s->comm, &s->nranks);
	if (s->cuda) { /* the GPU first: without one, skip before writing any data */
		int rc = strata_train_gpu_open(c, s->comm, (size_t)strata_params_int(p, "bucket"),
					       (int)strata_params_int(p, "overlap"), &s->gpu);
		if (rc != STRATA_OK)
			return rc;
	}

	s->mode = !strcmp(strata_params_str(p, "mode"), "time_to_train") ? MODE_TTT : MODE_THROUGHPUT;
	s->seed = (uint64_t)strata_params_int(p, "seed");
	s->train_tokens = (uint64_t)strata_params_int(p, "train_tokens");
	s->val_tokens_n = (uint64_t)strata_params_int(p, "val_tokens");
	s->direct = (int)strata_params_int(p, "direct");
	s->loader_threads = (int)strata_params_int(p, "loader_threads");
	s->prefetch = (int)strata_params_int(p, "prefetch");
	s->lr = strata_params_double(p, "lr");
	s->warmup_steps = strata_params_int(p, "warmup_steps");
	s->max_steps = strata_params_int(p, "max_steps");
	s->weight_decay = strata_params_double(p, "weight_decay");
	s->grad_clip = strata_params_double(p, "grad_clip");
	s->bucket_bytes = (size_t)strata_params_int(p, "bucket");
	s->overlap = (int)strata_params_int(p, "overlap");
	s->check_every = strata_params_int(p, "check_every");
	s->eval_every = strata_params_int(p, "eval_every");
	s->target_margin = strata_params_double(p, "target_margin");
	s->max_seconds = strata_params_double(p, "max_seconds");
	s->checkpoint = strata_params_str(p, "checkpoint");
	s->first_loss = s->last_loss = NAN;
	/* Test only (tests/integration/test_train_mpi.sh): the last rank nudges
	 * one weight after its second step, to prove the weight check fails. */
	s->desync_fault = getenv("STRATA_TEST_TRAIN_DESYNC") != NULL;

	char err[512] = "";
	int bad = build_config(s, p, c) != 0;
	if (!bad && strata_markov_init(&s->chain, s->corpus_vocab,
				       (int)strata_params_int(p, "markov_order"),
				       (int)strata_params_int(p, "markov_branch"),
				       strata_params_double(p, "markov_floor"),
				       (uint64_t)strata_params_int(p, "corpus_seed"), err,
				       sizeof(err)) != 0) {
		strata_case_errorf(c, "%s", err);
		bad = 1;
	}
	if (!bad) {
		s->have_chain = 1;
		s->loss_floor = strata_markov_loss_floor(&s->chain, s->T);
		s->target = s->loss_floor + s->target_margin;
		if (s->val_tokens_n < (uint64_t)(s->T + 1) * (uint64_t)s->nranks) {
			strata_case_errorf(c, "val_tokens: %llu is less than one sequence of seq+1 = %d "
					   "tokens per rank",
					   (unsigned long long)s->val_tokens_n, s->T + 1);
			bad = 1;
		}
	}
	/* Every training rank agrees before the collective work directory. */
	MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, s->comm);
	if (bad) {
		if (!c->err[0])
			strata_case_errorf(c, "another rank's parameters were refused");
		return STRATA_ERROR;
	}
	if (s->gpu) {
		int rc = strata_train_gpu_check_memory(s->gpu, c, &s->cfg, s->B, s->T);
		if (rc != STRATA_OK)
			return rc;
	}
	if (strata_storage_ws_open(&s->ws, s->comm, s->rank, s->nranks, c->local_rank,
				   c->local_size, strata_params_str(p, "dir"), err, sizeof(err)) != 0) {
		strata_case_errorf(c, "dir: %s", err);
		return STRATA_ERROR;
	}
	s->have_ws = 1;
	err[0] = '\0';
	bad = write_data(s, p, err, sizeof(err)) != 0;
	if (!bad && init_model(s, s->seed, err, sizeof(err)) != 0)
		bad = 1;
	if (!bad) {
		s->inputs = malloc((size_t)s->B * (size_t)s->T * sizeof(int));
		s->targets = malloc((size_t)s->B * (size_t)s->T * sizeof(int));
		if (!s->inputs || !s->targets) {
			snprintf(err, sizeof(err), "out of memory");
			bad = 1;
		}
	}
	if (!bad && s->mode == MODE_THROUGHPUT && open_loader(s, err, sizeof(err)) != 0)
		bad = 1;
	if (strata_storage_agree(s->comm, s->rank, s->nranks, bad, err, sizeof(err))) {
		strata_case_errorf(c, "%s", err);
		return STRATA_ERROR;
	}
	time_allreduce_alone(s);
	s->flops_per_token = strata_gpt_train_flops_per_token(&s->cfg, s->T);
	if (c->rank == 0) {
		find_peak(s, c, strata_params_double(p, "peak_gflops"));
		find_one_rank(s, c);
		if (s->mode == MODE_TTT)
			s->events = json_array();
	}
	return STRATA_OK;
}

/* ---- one step --------------------------------------------------------------------- */

/* Collective over the training ranks: do they hold the same weights? */
static void check_weights(struct train_state *s)
{
	char err[256];
	if (s->gpu && strata_train_gpu_get_params(s->gpu, s->g.params, err, sizeof(err)) != 0) {
		/* Still take part in the comparison below (it is collective). */
		if (s->mismatches++ == 0)
			snprintf(s->first_bad, sizeof(s->first_bad),
				 "weights could not be copied from the GPU after step %lld: %.160s",
				 (long long)s->steps_total, err);
	}
	uint64_t sum = strata_gpt_params_checksum(&s->g);
	uint64_t mm[2] = { sum, ~sum };
	MPI_Allreduce(MPI_IN_PLACE, mm, 2, MPI_UINT64_T, MPI_MAX, s->comm);
	s->checks++;
	if (mm[0] != ~mm[1]) { /* max != min */
		if (s->mismatches++ == 0)
			snprintf(s->first_bad, sizeof(s->first_bad),
				 "weights differ between ranks after step %lld (this rank's checksum "
				 "%016llx, highest %016llx)",
				 (long long)s->steps_total, (unsigned long long)sum,
				 (unsigned long long)mm[0]);
	}
}

static void clip_gradients(struct train_state *s)
{
	if (s->grad_clip <= 0)
		return;
	const float *g = s->g.grads;
	const size_t n = s->g.n_params;
	double sq = 0;
#pragma omp parallel for reduction(+ : sq) schedule(static)
	for (size_t i = 0; i < n; i++)
		sq += (double)g[i] * (double)g[i];
	double norm = sqrt(sq);
	if (norm > s->grad_clip) {
		const float scale = (float)(s->grad_clip / norm);
		float *w = s->g.grads;
#pragma omp parallel for schedule(static)
		for (size_t i = 0; i < n; i++)
			w[i] *= scale;
	}
}

/* Test only (STRATA_TEST_TRAIN_DESYNC): nudge one weight of this rank. */
static void nudge_weight(struct train_state *s)
{
	char err[256];
	if (!s->gpu) {
		s->g.params[0] += 1e-3f;
	} else if (strata_train_gpu_get_params(s->gpu, s->g.params, err, sizeof(err)) == 0) {
		s->g.params[0] += 1e-3f;
		strata_train_gpu_set_params(s->gpu, s->g.params, err, sizeof(err));
	}
}

/* What follows every optimizer step, on either device. */
static void step_done(struct train_state *s, float loss)
{
	s->step++;
	s->steps_total++;
	if (s->desync_fault && s->nranks > 1 && s->rank == s->nranks - 1 && s->steps_total == 2)
		nudge_weight(s);
	if (!isfinite(loss) && s->nonfinite++ == 0 && !s->first_bad[0])
		snprintf(s->first_bad, sizeof(s->first_bad), "loss is %g at step %lld", (double)loss,
			 (long long)s->steps_total);
	if (isnan(s->first_loss))
		s->first_loss = loss;
	s->last_loss = loss;
	if (s->steps_total % s->check_every == 0)
		check_weights(s);
}

/* The GPU's part of a step (train_gpu.h), after the batch was read. */
static int gpu_step(struct train_state *s, double ph[PH_N], double t0, double t1, char *err,
		    size_t err_len)
{
	struct strata_train_gpu_phases gp;
	float loss;
	char why[512];
	double lr = strata_lr_at(s->step, s->warmup_steps, s->max_steps, s->lr,
				 s->lr * MIN_LR_FRACTION);
	if (strata_train_gpu_step(s->gpu, s->inputs, s->targets, s->B, s->T, (float)lr,
				  s->grad_clip, &loss, &gp, why, sizeof(why)) != 0) {
		snprintf(err, err_len, "GPU step %lld: %.440s", (long long)s->steps_total + 1, why);
		return -1;
	}
	double t5 = now_s();
	s->buckets_per_step = strata_train_gpu_buckets(s->gpu);
	step_done(s, loss);
	ph[PH_DATA] = t1 - t0;
	ph[PH_H2D] = gp.h2d_s;
	ph[PH_FWD] = gp.forward_s;
	ph[PH_BWD] = gp.backward_s;
	ph[PH_AR] = gp.allreduce_exposed_s;
	ph[PH_OPT] = gp.optimizer_s;
	ph[PH_STEP] = t5 - t0;
	return 0;
}

/* One optimizer step; ph receives the phase times.  0, or -1 (reason in err). */
static int train_step(struct train_state *s, double ph[PH_N], char *err, size_t err_len)
{
	double t0 = now_s();
	const uint16_t *tok = strata_shards_next(s->loader, err, err_len);
	if (!tok)
		return -1;
	const int B = s->B, T = s->T;
	for (int b = 0; b < B; b++) {
		const uint16_t *row = tok + (size_t)b * (size_t)(T + 1);
		for (int t = 0; t <= T; t++) {
			if (row[t] >= s->corpus_vocab && s->bad_tokens++ == 0)
				snprintf(s->first_bad, sizeof(s->first_bad),
					 "token %u outside the corpus vocabulary %d read at step %lld, "
					 "sequence %d, position %d",
					 row[t], s->corpus_vocab, (long long)s->steps_total, b, t);
		}
		for (int t = 0; t < T; t++) {
			int in = row[t], tg = row[t + 1];
			s->inputs[b * T + t] = in < s->corpus_vocab ? in : 0;
			s->targets[b * T + t] = tg < s->corpus_vocab ? tg : 0;
		}
	}
	double t1 = now_s();
	if (s->gpu)
		return gpu_step(s, ph, t0, t1, err, err_len);
	float loss = strata_gpt_forward(&s->g, s->inputs, s->targets, B, T);
	double t2 = now_s();
	strata_gpt_zero_grad(&s->g);
	strata_grad_buckets_begin(&s->gb);
	strata_gpt_backward(&s->g, strata_grad_buckets_ready, &s->gb);
	double t3 = now_s();
	double exposed = strata_grad_buckets_finish(&s->gb);
	if (exposed < 0) {
		snprintf(err, err_len, "gradient all-reduce failed at step %lld",
			 (long long)s->steps_total);
		return -1;
	}
	double t4 = now_s();
	clip_gradients(s);
	double lr = strata_lr_at(s->step, s->warmup_steps, s->max_steps, s->lr,
				 s->lr * MIN_LR_FRACTION);
	strata_adamw_step(&s->opt, s->g.params, s->g.grads, (float)lr);
	double t5 = now_s();
	s->buckets_per_step = s->gb.nbuckets;
	step_done(s, loss);
	ph[PH_DATA] = t1 - t0;
	ph[PH_H2D] = 0;
	ph[PH_FWD] = t2 - t1;
	ph[PH_BWD] = t3 - t2;
	ph[PH_AR] = s->nranks > 1 ? exposed : 0;
	ph[PH_OPT] = t5 - t4;
	ph[PH_STEP] = t5 - t0;
	return 0;
}

static int log_step(struct train_state *s, const double ph[PH_N])
{
	if (s->nlog == s->caplog) {
		size_t cap = s->caplog ? 2 * s->caplog : 256;
		double *l = realloc(s->log, cap * PH_N * sizeof(*l));
		if (!l)
			return -1;
		s->log = l;
		s->caplog = cap;
	}
	memcpy(s->log + s->nlog * PH_N, ph, PH_N * sizeof(*ph));
	s->nlog++;
	return 0;
}

/* The mean loss of the first b sequences of inputs/targets, without a
 * backward; a GPU failure is a non-finite loss with its reason. */
static float batch_loss(struct train_state *s, int b)
{
	if (!s->gpu)
		return strata_gpt_forward(&s->g, s->inputs, s->targets, b, s->T);
	float l = NAN;
	char err[256];
	if (strata_train_gpu_loss(s->gpu, s->inputs, s->targets, b, s->T, &l, err, sizeof(err)) != 0 &&
	    s->nonfinite++ == 0 && !s->first_bad[0])
		snprintf(s->first_bad, sizeof(s->first_bad), "validation forward on the GPU: %.200s", err);
	return l;
}

/* Mean validation loss over the held-out shard, the sequences split over
 * the training ranks (collective). */
static double evaluate(struct train_state *s)
{
	const int T = s->T;
	uint64_t nseq = s->val_n / (uint64_t)(T + 1);
	double acc[2] = { 0, 0 }; /* loss x tokens, tokens */
	int b = 0;
	for (uint64_t q = (uint64_t)s->rank; q < nseq; q += (uint64_t)s->nranks) {
		const uint16_t *row = s->val + q * (uint64_t)(T + 1);
		for (int t = 0; t < T; t++) {
			s->inputs[b * T + t] = row[t] < s->corpus_vocab ? row[t] : 0;
			s->targets[b * T + t] = row[t + 1] < s->corpus_vocab ? row[t + 1] : 0;
		}
		if (++b == s->B || q + (uint64_t)s->nranks >= nseq) {
			float l = batch_loss(s, b);
			acc[0] += (double)l * b * T;
			acc[1] += (double)b * T;
			b = 0;
		}
	}
	MPI_Allreduce(MPI_IN_PLACE, acc, 2, MPI_DOUBLE, MPI_SUM, s->comm);
	return acc[1] > 0 ? acc[0] / acc[1] : NAN;
}

/* ---- time to train ------------------------------------------------------------------ */

static int train_prepare(void *state, const struct strata_case *c)
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
	if (init_model(s, s->run_seed, err, sizeof(err)) != 0) {
		strata_case_errorf(c, "%s", err);
		return STRATA_ERROR;
	}
	ev(s, "INTERVAL_END", "init_stop", NULL, NULL);
	return STRATA_OK;
}

static void log_hyperparameters(struct train_state *s)
{
	ev(s, "POINT_IN_TIME", "submission_benchmark", json_string("strata_gpt_markov"), NULL);
	ev(s, "POINT_IN_TIME", "global_batch_size", json_integer((json_int_t)s->B * s->nranks), NULL);
	ev(s, "POINT_IN_TIME", "max_sequence_length", json_integer(s->T), NULL);
	ev(s, "POINT_IN_TIME", "opt_name", json_string("adamw"), NULL);
	ev(s, "POINT_IN_TIME", "opt_base_learning_rate", json_real(s->lr), NULL);
	ev(s, "POINT_IN_TIME", "opt_learning_rate_warmup_steps", json_integer(s->warmup_steps), NULL);
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

/* One whole training run to the target.  Returns STRATA_OK when it
 * converged, STRATA_DISCARD when it did not, STRATA_ERROR on failure. */
static int train_to_target(struct train_state *s, const struct strata_case *c)
{
	char err[512] = "";
	struct run_result *r = &s->runs[s->nruns++];
	r->seed = s->run_seed;
	double t_start = now_s();
	ev(s, "INTERVAL_START", "run_start", NULL, json_pack("{s:I}", "seed", (json_int_t)r->seed));
	ev(s, "POINT_IN_TIME", "seed", json_integer((json_int_t)r->seed), NULL);
	int bad = open_loader(s, err, sizeof(err)) != 0;
	int64_t samples = 0;
	double val = NAN;
	int stop = 0; /* 1 converged, 2 out of budget, 3 signal, 4 error */
	while (!stop && !bad) {
		ev(s, "INTERVAL_START", "block_start", NULL,
		   json_pack("{s:I}", "samples_count", (json_int_t)samples));
		for (int64_t i = 0; i < s->eval_every && !bad; i++) {
			double ph[PH_N];
			if (train_step(s, ph, err, sizeof(err)) != 0)
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
		val = evaluate(s);
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
	close_loader(s);
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

static int run_steps(void *state, const struct strata_case *c)
{
	struct train_state *s = state;
	if (!s->active)
		return STRATA_OK;
	char err[512] = "";
	double ph[PH_N];
	if (s->mode == MODE_TTT) {
		if (c->timed)
			return train_to_target(s, c);
		/* Warm-up: a few steps (threads, caches, pages), then the runs. */
		int bad = open_loader(s, err, sizeof(err)) != 0;
		for (int i = 0; i < TTT_WARMUP_STEPS && !bad; i++)
			bad = train_step(s, ph, err, sizeof(err)) != 0;
		close_loader(s);
		if (bad) {
			strata_case_errorf(c, "%s", err);
			return STRATA_ERROR;
		}
		return STRATA_OK;
	}
	if (train_step(s, ph, err, sizeof(err)) != 0) {
		strata_case_errorf(c, "%s", err);
		return STRATA_ERROR;
	}
	if (c->timed && log_step(s, ph) != 0) {
		strata_case_errorf(c, "out of memory keeping step times");
		return STRATA_ERROR;
	}
	return STRATA_OK;
}

static int train_run_once(void *state, const struct strata_case *c)
{
	struct train_state *s = state;
	if (!s->gpu)
		return run_steps(s, c);
	/* GPU telemetry: the energy of the timed phase and its steps. */
	int64_t before = s->steps_total;
	strata_train_gpu_before_run(s->gpu, c);
	int rc = run_steps(s, c);
	strata_train_gpu_after_run(s->gpu, c, (int)(s->steps_total - before));
	return rc;
}

/* ---- verify, figures, record ------------------------------------------------------- */

static int64_t train_verify(void *state, const struct strata_case *c)
{
	struct train_state *s = state;
	int64_t wrong = 0;
	/* Per-rank medians of the phases, the peak RSS and bytes read: the
	 * maximum over ranks (sum for bytes) to rank 0, over every rank of the
	 * run (waiting ranks send zeros). */
	double mine[PH_N + 2] = { 0 };
	if (s->gpu)
		strata_train_gpu_stop(s->gpu); /* the end of the measured part */
	if (s->active) {
		check_weights(s);
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
				snprintf(s->checkpoint_msg, sizeof(s->checkpoint_msg), "written: %s",
					 s->checkpoint);
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

static size_t train_metrics(const void *state, const struct strata_case *c, double seconds,
			    struct strata_metric *out, size_t max)
{
	const struct train_state *s = state;
	(void)c;
	size_t n = 0;
	if (seconds <= 0 || !s->active)
		return 0;
	if (s->mode == MODE_TTT) {
		if (n < max)
			out[n++] = (struct strata_metric){ "time_to_train", "s", seconds, 0 };
		return n;
	}
	const double tokens = (double)s->B * (double)s->T;
	const double per_rank = tokens / seconds;
	if (n < max)
		out[n++] = (struct strata_metric){ "tokens_per_s", "tokens/s", per_rank * s->nranks, 1 };
	if (n < max)
		out[n++] = (struct strata_metric){ "tokens_per_s_per_rank", "tokens/s", per_rank, 1 };
	if (n < max)
		out[n++] = (struct strata_metric){ "samples_per_s", "sequences/s",
						   (double)s->B * s->nranks / seconds, 1 };
	if (s->peak_gflops > 0 && n < max)
		out[n++] = (struct strata_metric){ "mfu", "%",
						   100.0 * s->flops_per_token * per_rank /
							   (s->peak_gflops * 1e9),
						   1 };
	if (s->one_rank_tps > 0 && n < max)
		out[n++] = (struct strata_metric){ "scaling_efficiency", "%",
						   100.0 * per_rank / s->one_rank_tps,
						   1 };
	return n;
}

/* MLPerf training's score: drop the fastest and slowest runs and average the
 * rest; a single non-converging run may be dropped as the slowest; more
 * than one makes the result invalid ("Benchmark Results"). */
static json_t *mlperf_score(const struct train_state *s)
{
	double t[MAX_RUNS];
	int n = 0, failed = 0;
	for (int i = 0; i < s->nruns; i++) {
		if (s->runs[i].converged)
			t[n++] = s->runs[i].seconds;
		else
			failed++;
	}
	json_t *o = json_pack("{s:i,s:i,s:i}", "runs", s->nruns, "converged", n, "not_converged",
			      failed);
	const char *rule = "MLPerf training rules, Benchmark Results: drop the fastest and slowest "
			   "runs, mean of the rest; one non-converging run may be dropped as the "
			   "slowest; more than one makes the result invalid";
	json_object_set_new(o, "rule", json_string(rule));
	if (failed > 1 || s->nruns < 3) {
		json_object_set_new(o, "valid", json_false());
		json_object_set_new(o, "why", json_string(failed > 1 ? "more than one run did not "
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

/* Rank 0, in setup: tokens/s of a passed 1-rank case of this run with the
 * same parameters but `ranks`, for the scaling efficiency
 * tokens_per_s(n) / (n x tokens_per_s(1)). */
static void find_one_rank(struct train_state *s, const struct strata_case *c)
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

static void train_describe(const void *state, const struct strata_case *c, json_t *details)
{
	const struct train_state *s = state;
	(void)c;
	if (!s->active)
		return;
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
				      "ranks", s->nranks, "global_batch", (json_int_t)s->B * s->nranks,
				      "threads_per_rank", s->threads_used));
	json_object_set_new(
		details, "corpus",
		json_pack("{s:i,s:i,s:i,s:f,s:f,s:f,s:f,s:s}", "vocab", s->chain.vocab, "order",
			  s->chain.order, "branch", s->chain.branch, "floor_p", s->chain.floor_p,
			  "entropy_rate_nats", s->chain.entropy_rate, "loss_floor_nats", s->loss_floor,
			  "target_loss_nats", s->target, "floor_meaning",
			  "least mean cross-entropy any model can reach on windows of seq tokens"));
	json_object_set_new(
		details, "data",
		json_pack("{s:s,s:i,s:I,s:I,s:b,s:i,s:i,s:f}", "dir", s->ws.path, "shards_per_rank",
			  s->n_names, "train_tokens_per_rank", (json_int_t)s->train_tokens,
			  "val_tokens", (json_int_t)s->val_n, "direct", s->direct, "loader_threads",
			  s->loader_threads, "prefetch", s->prefetch, "bytes_read_all_ranks",
			  s->bytes_read_all));
	json_object_set_new(details, "optimizer",
			    json_pack("{s:s,s:f,s:I,s:I,s:f,s:f,s:f,s:f,s:f,s:f}", "name", "adamw",
				      "lr", s->lr, "warmup_steps", (json_int_t)s->warmup_steps,
				      "decay_steps", (json_int_t)s->max_steps, "min_lr", s->lr * MIN_LR_FRACTION,
				      "beta1", (double)ADAM_BETA1, "beta2", (double)ADAM_BETA2, "eps",
				      (double)ADAM_EPS, "weight_decay", s->weight_decay, "grad_clip",
				      s->grad_clip));
	if (s->mode == MODE_THROUGHPUT && s->nlog > 0) {
		json_t *br = json_object();
		for (int k = 0; k < PH_N; k++)
			json_object_set_new(br, phase_names[k], json_real(s->med[k]));
		json_object_set_new(br, "how", json_string("each rank's median over timed steps, "
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
			  "buckets_per_step", (json_int_t)s->buckets_per_step, "alone_s",
			  s->ar_alone_s, "exposed_median_s", s->med[PH_AR], "hidden_s",
			  hidden > 0 ? hidden : 0.0, "how",
			  "alone: blocking all-reduce of the whole gradient in the same buckets, "
			  "timed in setup (median of 5, slowest rank); hidden = alone - exposed"));
	json_object_set_new(details, "mfu_peak",
			    json_pack("{s:f,s:s}", "gflops_per_rank", s->peak_gflops, "source",
				      s->peak_source));
	json_object_set_new(details, "memory", json_pack("{s:f}", "peak_rss_mib_max_rank",
							 s->rss_max_mib));
	if (s->gpu) {
		json_object_set_new(json_object_get(details, "memory"), "gpu_used_peak_bytes_max_rank",
				    json_real(s->gpu_peak_bytes_max));
		strata_train_gpu_describe(s->gpu, details,
					  s->flops_per_token * (double)s->B * (double)s->T / 1e9);
	}
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
			json_array_append_new(runs,
					      json_pack("{s:I,s:b,s:I,s:f,s:f}", "seed", (json_int_t)r->seed,
							"converged", r->converged, "steps",
							(json_int_t)r->steps, "seconds", r->seconds,
							"val_loss", r->val_loss));
		}
		json_t *ttt = json_pack("{s:o,s:o,s:I,s:f}", "runs", runs, "mlperf_score",
					mlperf_score(s), "eval_every", (json_int_t)s->eval_every,
					"max_seconds", s->max_seconds);
		json_object_set_new(details, "time_to_train", ttt);
		if (s->events)
			json_object_set_new(details, "mllog_events", json_incref(s->events));
	}
	if (s->one_rank_tps > 0)
		json_object_set_new(details, "scaling",
				    json_pack("{s:i,s:f,s:s}", "ranks", s->nranks, "one_rank_tokens_per_s",
					      s->one_rank_tps, "how",
					      "scaling_efficiency = tokens_per_s / (ranks x the 1-rank "
					      "case's median tokens_per_s in this run)"));
}

static void train_teardown(void *state)
{
	struct train_state *s = state;
	if (!s)
		return;
	close_loader(s);
	if (s->threads > 0) {
		omp_set_num_threads(s->omp_before);
		openblas_set_num_threads(s->blas_before);
	}
	if (s->have_opt)
		strata_adamw_release(&s->opt);
	if (s->have_gb)
		strata_grad_buckets_release(&s->gb);
	if (s->have_g)
		strata_gpt_release(&s->g);
	if (s->have_chain)
		strata_markov_release(&s->chain);
	for (int i = 0; s->names && i < s->n_names; i++)
		free(s->names[i]);
	free(s->names);
	free(s->val);
	free(s->inputs);
	free(s->targets);
	free(s->log);
	if (s->have_ws)
		strata_storage_ws_close(&s->ws);
	strata_train_gpu_close(s->gpu); /* NCCL's communicator before the MPI one */
	if (s->comm != MPI_COMM_NULL)
		MPI_Comm_free(&s->comm);
	json_decref(s->events);
	free(s);
}

const struct strata_suite strata_suite_train = {
	.name = "train",
	.summary = "GPT-style transformer training, data-parallel, fed from storage: tokens/s, MFU, "
		   "step breakdown, MLPerf-style time to train",
	.flags = STRATA_SUITE_COLLECTIVE | STRATA_SUITE_IO,
	.params = train_params,
	.n_params = sizeof(train_params) / sizeof(train_params[0]),
	.setup = train_setup,
	.run_once = train_run_once,
	.verify = train_verify,
	.teardown = train_teardown,
	.metrics = train_metrics,
	.describe = train_describe,
	.prepare = train_prepare,
};
