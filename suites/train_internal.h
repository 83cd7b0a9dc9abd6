/* train_internal.h: private to the train suite (suites/train*.c): the state
 * one case keeps and the functions its files share.  Not an interface for
 * anything else; the suite's description is in suites/train.c.
 *   train.c         parameters, setup, one optimizer step, teardown
 *   train_data.c    the corpus shards, the loader, the validation loss
 *   train_ttt.c     time-to-train runs, MLPerf's score and MLLOG events
 *   train_report.c  the MFU peak, verification, figures, details */
#ifndef STRATA_SUITES_TRAIN_INTERNAL_H
#define STRATA_SUITES_TRAIN_INTERNAL_H

#include <stdint.h>

#include <jansson.h>
#include <mpi.h>

#include "harness/suite.h"
#include "harness/timer.h"
#include "kernels/cpu/storage_fs.h"
#include "kernels/nn/adamw.h"
#include "kernels/nn/gpt.h"
#include "kernels/nn/grad_buckets.h"
#include "kernels/nn/markov.h"
#include "kernels/nn/token_shards.h"
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
struct run_result {
	uint64_t seed;
	int converged;
	int64_t steps;
	double seconds;
	double val_loss;
};

struct train_state {
	int active;       /* this rank trains (the first `ranks` ranks do) */
	MPI_Comm comm;    /* the training ranks */
	int rank, nranks; /* in comm */
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
	int64_t step;        /* optimizer steps of the current training run */
	int64_t steps_total; /* over the case */

	double *log; /* (nlog, PH_N) timed steps */
	size_t nlog, caplog;
	double first_loss, last_loss;
	int64_t nonfinite;
	int64_t checks, mismatches;
	int64_t bad_tokens;
	char first_bad[256];

	struct run_result runs[MAX_RUNS];
	int nruns;
	uint64_t run_seed;
	json_t *events; /* rank 0: MLLOG events of time_to_train runs */

	double one_rank_tps; /* rank 0: tokens/s of the 1-rank case of this run, 0 if none */
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
	int desync_fault;             /* test only: STRATA_TEST_TRAIN_DESYNC set */
	int threads;                  /* as planned (0: defaults) */
	int omp_before, blas_before;  /* restored in teardown */
	int threads_used;             /* omp_get_max_threads() during the case */
	int cuda;                     /* device cuda (every rank of the run knows) */
	struct strata_train_gpu *gpu; /* device cuda, training ranks: train_gpu.h */
	double gpu_peak_bytes_max; /* rank 0 after verify: device memory in use, max over ranks */
};

static inline double now_s(void)
{
	return (double)strata_now_ns() * 1e-9;
}

/* train.c */
int strata_train_init_model(struct train_state *s, uint64_t seed, char *err, size_t err_len);
int strata_train_step(struct train_state *s, double ph[PH_N], char *err, size_t err_len);
void strata_train_check_weights(struct train_state *s);

/* train_data.c */
int strata_train_write_data(struct train_state *s, const struct strata_params *p, char *err,
                            size_t err_len);
int strata_train_open_loader(struct train_state *s, char *err, size_t err_len);
void strata_train_close_loader(struct train_state *s);
double strata_train_evaluate(struct train_state *s);

/* train_ttt.c */
int strata_train_prepare(void *state, const struct strata_case *c);
int strata_train_to_target(struct train_state *s, const struct strata_case *c);
json_t *strata_train_mlperf_score(const struct train_state *s);

/* train_report.c */
void strata_train_find_peak(struct train_state *s, const struct strata_case *c, double plan_peak);
void strata_train_find_one_rank(struct train_state *s, const struct strata_case *c);
int64_t strata_train_verify(void *state, const struct strata_case *c);
size_t strata_train_metrics(const void *state, const struct strata_case *c, double seconds,
                            struct strata_metric *out, size_t max);
void strata_train_describe(const void *state, const struct strata_case *c, json_t *details);

#endif
