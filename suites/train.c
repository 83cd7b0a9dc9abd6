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
 *     the same run with the same threads per rank when there is one, else the plan's peak_gflops,
 * else the cores' derived peak, kernels/cpu/cpu_peak.h; the source is recorded). time_to_train:
 * time_to_train (s). The step's breakdown (data wait, forward, backward, exposed all-reduce,
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
 * This file: parameters, setup, one optimizer step, teardown; the data,
 * time-to-train and reporting parts are in train_data.c, train_ttt.c and
 * train_report.c (their shared state: train_internal.h).
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "harness/plan.h"
#include "harness/stats.h"
#include "strata_config.h"
#include "suites/gpt_shape.h"
#include "suites/train_internal.h"

static const struct strata_param_def train_params[] = {
    {.name = "device",
     .type = STRATA_PT_ENUM,
     .def = "cpu",
     .choices = "cpu|cuda",
     .help = "cpu: FP32, OpenBLAS + OpenMP, MPI all-reduce; cuda: BF16 compute, FP32 master "
             "weights, NCCL all-reduce, one GPU per rank (skipped without one)"},
    {.name = "mode",
     .type = STRATA_PT_ENUM,
     .def = "throughput",
     .choices = "throughput|time_to_train",
     .help = "throughput: a repetition is one optimizer step; time_to_train: a repetition is "
             "a whole training run to the target loss (MLPerf style)"},
    STRATA_GPT_SHAPE_PARAMS,
    {.name = "seq",
     .type = STRATA_PT_INT,
     .def = "0",
     .min = 0,
     .max = 1 << 16,
     .help = "sequence length T; 0 = the model's position table length"},
    {.name = "batch",
     .type = STRATA_PT_INT,
     .def = "4",
     .min = 1,
     .max = 65536,
     .help = "micro-batch per rank, sequences"},
    {.name = "threads",
     .type = STRATA_PT_INT,
     .def = "0",
     .min = 0,
     .max = 65536,
     .help = "OpenMP and OpenBLAS threads per rank during the case; 0 = their defaults. MFU "
             "uses a gemm case of this run with the same threads"},
    {.name = "ranks",
     .type = STRATA_PT_INT,
     .def = "0",
     .min = 0,
     .max = 1 << 20,
     .help = "train on the first N ranks (the rest wait); 0 = all.  Sweep [1, 2, ...] for "
             "scaling efficiency"},
    {.name = "corpus_vocab",
     .type = STRATA_PT_INT,
     .def = "64",
     .min = 2,
     .max = 65535,
     .help = "tokens the Markov corpus uses"},
    {.name = "markov_order",
     .type = STRATA_PT_INT,
     .def = "1",
     .min = 1,
     .max = 8,
     .help = "order k of the Markov chain (corpus_vocab^k <= 2^22 contexts)"},
    {.name = "markov_branch",
     .type = STRATA_PT_INT,
     .def = "4",
     .min = 1,
     .max = 65535,
     .help = "likely successors per context"},
    {.name = "markov_floor",
     .type = STRATA_PT_DOUBLE,
     .def = "0.05",
     .min = 1e-6,
     .max = 0.999,
     .help = "probability mass spread uniformly over all tokens"},
    {.name = "corpus_seed",
     .type = STRATA_PT_INT,
     .def = "1",
     .min = 0,
     .max = 1e15,
     .help = "seed of the chain and of the token streams"},
    {.name = "train_tokens",
     .type = STRATA_PT_INT,
     .def = "262144",
     .min = 1024,
     .max = 1e12,
     .help = "training tokens written per rank (its slice of the data)"},
    {.name = "shards",
     .type = STRATA_PT_INT,
     .def = "2",
     .min = 1,
     .max = MAX_SHARDS,
     .help = "files the training tokens of a rank are split into"},
    {.name = "val_tokens",
     .type = STRATA_PT_INT,
     .def = "16384",
     .min = 64,
     .max = 1e10,
     .help = "held-out validation tokens (split over the ranks when evaluating)"},
    {.name = "dir",
     .type = STRATA_PT_STRING,
     .def = "\"\"",
     .help = "directory for the shards (a private subdirectory is made and removed); "
             "empty = $TMPDIR or /tmp"},
    {.name = "direct",
     .type = STRATA_PT_BOOL,
     .def = "false",
     .help = "read shards with O_DIRECT (the page cache cannot hide the storage)"},
    {.name = "loader_threads",
     .type = STRATA_PT_INT,
     .def = "2",
     .min = 1,
     .max = 256,
     .help = "reader threads per rank"},
    {.name = "prefetch",
     .type = STRATA_PT_INT,
     .def = "4",
     .min = 1,
     .max = 4096,
     .help = "micro-batches read ahead per rank"},
    {.name = "lr",
     .type = STRATA_PT_DOUBLE,
     .def = "0.003",
     .min = 0,
     .max = 10,
     .help = "peak learning rate (after warm-up, before cosine decay to 10%)"},
    {.name = "warmup_steps",
     .type = STRATA_PT_INT,
     .def = "20",
     .min = 0,
     .max = 1e9,
     .help = "linear learning-rate warm-up steps"},
    {.name = "max_steps",
     .type = STRATA_PT_INT,
     .def = "2000",
     .min = 1,
     .max = 1e12,
     .help = "cosine schedule length; in time_to_train the step budget of a run"},
    {.name = "weight_decay",
     .type = STRATA_PT_DOUBLE,
     .def = "0.1",
     .min = 0,
     .max = 10,
     .help = "AdamW decoupled weight decay (2-D weights only)"},
    {.name = "grad_clip",
     .type = STRATA_PT_DOUBLE,
     .def = "1.0",
     .min = 0,
     .max = 1e9,
     .help = "clip the gradient's global L2 norm to this; 0 = off"},
    {.name = "seed",
     .type = STRATA_PT_INT,
     .def = "1",
     .min = 0,
     .max = 1e15,
     .help = "weight initialisation seed (time_to_train: run i uses seed + i)"},
    {.name = "bucket",
     .type = STRATA_PT_SIZE,
     .def = "1M",
     .min = 4,
     .max = 1ll << 34,
     .help = "gradient all-reduce bucket size (PyTorch DDP's default is 25M)"},
    {.name = "overlap",
     .type = STRATA_PT_BOOL,
     .def = "true",
     .help = "send buckets during backward (false: all after it)"},
    {.name = "check_every",
     .type = STRATA_PT_INT,
     .def = "20",
     .min = 1,
     .max = 1e9,
     .help = "steps between checks that every rank holds identical weights"},
    {.name = "eval_every",
     .type = STRATA_PT_INT,
     .def = "25",
     .min = 1,
     .max = 1e9,
     .help = "time_to_train: steps between validation evaluations"},
    {.name = "target_margin",
     .type = STRATA_PT_DOUBLE,
     .def = "0.05",
     .min = 0,
     .max = 100,
     .help = "time_to_train: target validation loss = the corpus's loss floor + this, nats"},
    {.name = "max_seconds",
     .type = STRATA_PT_DOUBLE,
     .def = "300",
     .min = 0.001,
     .max = 1e7,
     .help = "time_to_train: wall-time budget of one run (keep timeout_s above runs x this)"},
    {.name = "checkpoint",
     .type = STRATA_PT_STRING,
     .def = "\"\"",
     .help = "write the final weights here (rank 0; the infer suite can load them)"},
    {.name = "peak_gflops",
     .type = STRATA_PT_DOUBLE,
     .def = "0",
     .min = 0,
     .max = 1e12,
     .help = "per-rank peak for MFU; 0 = the gemm suite's figure in this run (cpu: FP32 with "
             "the same threads; cuda: BF16), else derived (cpu) or the datasheet (cuda)"},
};

/* ---- setup pieces --------------------------------------------------------------- */

static int build_config(struct train_state *s, const struct strata_params *p,
                        const struct strata_case *c)
{
	s->preset = strata_params_str(p, "model");
	char why[256];
	if (strata_gpt_shape_from_params(p, &s->cfg, why, sizeof(why)) != 0) {
		strata_case_errorf(c, "%s", why);
		return -1;
	}
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
	if (strata_gpt_config_check(&s->cfg, why, sizeof(why)) != 0) {
		strata_case_errorf(c, "model: %s", why);
		return -1;
	}
	return 0;
}

/* Blocking all-reduce of the whole gradient in the same buckets, alone:
 * what the step would pay if nothing were hidden (median of a few). */
static void time_allreduce_alone(struct train_state *s)
{
	if (s->nranks < 2)
		return;
	double t[AR_ALONE_TRIALS] = { 0 };
	if (s->gpu) {
		char err[256];
		for (int i = 0; i < AR_ALONE_TRIALS; i++)
			if (strata_train_gpu_allreduce_all(s->gpu, &t[i], err, sizeof(err)) != 0)
				t[i] = 0;
	} else {
		struct strata_grad_buckets b;
		int ok = strata_grad_buckets_init(&b, s->comm, s->g.grads, s->g.n_params,
						  s->bucket_bytes, 0) == 0;
		/* The trials are collective: all ranks or none. */
		MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, s->comm);
		for (int i = 0; ok && i < AR_ALONE_TRIALS; i++) {
			strata_gpt_zero_grad(&s->g);
			MPI_Barrier(s->comm);
			strata_grad_buckets_begin(&b);
			t[i] = strata_grad_buckets_finish(&b);
		}
		strata_grad_buckets_release(&b); /* safe after a failed init too */
	}
	MPI_Allreduce(MPI_IN_PLACE, t, AR_ALONE_TRIALS, MPI_DOUBLE, MPI_MAX, s->comm);
	struct strata_stats st;
	if (strata_stats_compute(t, AR_ALONE_TRIALS, &st) == 0)
		s->ar_alone_s = st.median;
}

int strata_train_init_model(struct train_state *s, uint64_t seed, char *err, size_t err_len)
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
		if (strata_train_gpu_model(s->gpu, &s->g, s->B, s->T, ADAM_BETA1, ADAM_BETA2,
		                           ADAM_EPS, (float)s->weight_decay, err, err_len) != 0)
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

/* The plan's scalars into the state (the model shape: build_config). */
static void read_params(struct train_state *s, const struct strata_params *p)
{
	s->mode =
	    !strcmp(strata_params_str(p, "mode"), "time_to_train") ? MODE_TTT : MODE_THROUGHPUT;
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
}

/* The model's shape and the Markov chain with its loss floor; 0, or -1
 * with the reason in the case's error. */
static int build_model_and_corpus(struct train_state *s, const struct strata_params *p,
                                  const struct strata_case *c)
{
	char err[512] = "";
	if (build_config(s, p, c) != 0)
		return -1;
	if (strata_markov_init(
	        &s->chain, s->corpus_vocab, (int)strata_params_int(p, "markov_order"),
	        (int)strata_params_int(p, "markov_branch"), strata_params_double(p, "markov_floor"),
	        (uint64_t)strata_params_int(p, "corpus_seed"), err, sizeof(err)) != 0) {
		strata_case_errorf(c, "%s", err);
		return -1;
	}
	s->have_chain = 1;
	s->loss_floor = strata_markov_loss_floor(&s->chain, s->T);
	s->target = s->loss_floor + s->target_margin;
	if (s->val_tokens_n < (uint64_t)(s->T + 1) * (uint64_t)s->nranks) {
		strata_case_errorf(
		    c,
		    "val_tokens: %llu is less than one sequence of seq+1 = %d tokens "
		    "per rank",
		    (unsigned long long)s->val_tokens_n, s->T + 1);
		return -1;
	}
	return 0;
}

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

	read_params(s, p);

	char err[512] = "";
	int bad = build_model_and_corpus(s, p, c) != 0;
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
	                           c->local_size, strata_params_str(p, "dir"), err,
	                           sizeof(err)) != 0) {
		strata_case_errorf(c, "dir: %s", err);
		return STRATA_ERROR;
	}
	s->have_ws = 1;
	err[0] = '\0';
	bad = strata_train_write_data(s, p, err, sizeof(err)) != 0;
	if (!bad && strata_train_init_model(s, s->seed, err, sizeof(err)) != 0)
		bad = 1;
	if (!bad) {
		s->inputs = malloc((size_t)s->B * (size_t)s->T * sizeof(int));
		s->targets = malloc((size_t)s->B * (size_t)s->T * sizeof(int));
		if (!s->inputs || !s->targets) {
			snprintf(err, sizeof(err), "out of memory");
			bad = 1;
		}
	}
	if (!bad && s->mode == MODE_THROUGHPUT &&
	    strata_train_open_loader(s, err, sizeof(err)) != 0)
		bad = 1;
	if (strata_storage_agree(s->comm, s->rank, s->nranks, bad, err, sizeof(err))) {
		strata_case_errorf(c, "%s", err);
		return STRATA_ERROR;
	}
	time_allreduce_alone(s);
	s->flops_per_token = strata_gpt_train_flops_per_token(&s->cfg, s->T);
	if (c->rank == 0) {
		strata_train_find_peak(s, c, strata_params_double(p, "peak_gflops"));
		strata_train_find_one_rank(s, c);
		if (s->mode == MODE_TTT)
			s->events = json_array();
	}
	return STRATA_OK;
}

/* ---- one step --------------------------------------------------------------------- */

/* Collective over the training ranks: do they hold the same weights? */
void strata_train_check_weights(struct train_state *s)
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
	uint64_t mm[2] = {sum, ~sum};
	MPI_Allreduce(MPI_IN_PLACE, mm, 2, MPI_UINT64_T, MPI_MAX, s->comm);
	s->checks++;
	if (mm[0] != ~mm[1]) { /* max != min */
		if (s->mismatches++ == 0)
			snprintf(
			    s->first_bad, sizeof(s->first_bad),
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
		snprintf(s->first_bad, sizeof(s->first_bad), "loss is %g at step %lld",
		         (double)loss, (long long)s->steps_total);
	if (isnan(s->first_loss))
		s->first_loss = loss;
	s->last_loss = loss;
	if (s->steps_total % s->check_every == 0)
		strata_train_check_weights(s);
}

/* The GPU's part of a step (train_gpu.h), after the batch was read. */
static int gpu_step(struct train_state *s, double ph[PH_N], double t0, double t1, char *err,
                    size_t err_len)
{
	struct strata_train_gpu_phases gp;
	float loss;
	char why[512];
	double lr =
	    strata_lr_at(s->step, s->warmup_steps, s->max_steps, s->lr, s->lr * MIN_LR_FRACTION);
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
int strata_train_step(struct train_state *s, double ph[PH_N], char *err, size_t err_len)
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
				snprintf(
				    s->first_bad, sizeof(s->first_bad),
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
	double lr =
	    strata_lr_at(s->step, s->warmup_steps, s->max_steps, s->lr, s->lr * MIN_LR_FRACTION);
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

static int run_steps(void *state, const struct strata_case *c)
{
	struct train_state *s = state;
	if (!s->active)
		return STRATA_OK;
	char err[512] = "";
	double ph[PH_N];
	if (s->mode == MODE_TTT) {
		if (c->timed)
			return strata_train_to_target(s, c);
		/* Warm-up: a few steps (threads, caches, pages), then the runs. */
		int bad = strata_train_open_loader(s, err, sizeof(err)) != 0;
		for (int i = 0; i < TTT_WARMUP_STEPS && !bad; i++)
			bad = strata_train_step(s, ph, err, sizeof(err)) != 0;
		strata_train_close_loader(s);
		if (bad) {
			strata_case_errorf(c, "%s", err);
			return STRATA_ERROR;
		}
		return STRATA_OK;
	}
	if (strata_train_step(s, ph, err, sizeof(err)) != 0) {
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

static void train_teardown(void *state)
{
	struct train_state *s = state;
	if (!s)
		return;
	strata_train_close_loader(s);
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
    .verify = strata_train_verify,
    .teardown = train_teardown,
    .metrics = strata_train_metrics,
    .describe = strata_train_describe,
    .prepare = strata_train_prepare,
};
