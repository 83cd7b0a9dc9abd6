/* infer_internal.h: private to the infer suite (suites/infer*.c): the state
 * one case keeps and the functions its files share.  Not an interface for
 * anything else; the suite's description is in suites/infer.c.
 *   infer.c            parameters, setup, one scenario run, teardown, the
 *                      suite's registration
 *   infer_model.c      the model, its backends on the case's device, the
 *                      output check (batch 1 against a full batch)
 *   infer_calibrate.c  setup's measurements: the Offline calibration and the
 *                      search for the highest valid Server rate
 *   infer_report.c     verification, reductions over ranks, figures, details */
#ifndef STRATA_SUITES_INFER_INTERNAL_H
#define STRATA_SUITES_INFER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "harness/suite.h"
#include "kernels/nn/gpt.h"
#include "kernels/nn/gpt_infer.h"
#include "kernels/nn/infer_sut.h"
#include "kernels/nn/loadgen.h"
#include "strata_config.h"
#if STRATA_HAVE_CUDA
#include "kernels/cuda/gpt_cuda.h"
#endif

#define MAX_PROBES 32
#define CONFIRM_STEPS 6 /* confirmation runs after the search, at most */

/* Per-rank figures, reduced across ranks in verify. */
enum {
	F_QPS,
	F_TPS,
	F_RUNS,
	F_VALID_RUNS,
	F_RATE,
	F_ES_ESTIMATE,
	F_COMPLETED,
	F_TOKENS,
	F_DIST, /* then per measure: the NQ quantiles, mean, max */
	F_PER_MEASURE = STRATA_LOADGEN_NQ + 2,
	NF = F_DIST + STRATA_LOADGEN_NMEASURES * F_PER_MEASURE
};

struct pool {
	double *v;
	size_t n, cap;
};

struct probe_log {
	double rate_qps;
	int valid; /* on every rank */
	int valid_here;
	double e2e_p99_s, ttft_p99_s, tpot_p99_s; /* this rank's run */
	int64_t issued;
	int confirm; /* a confirmation run after the search */
	char why[512]; /* this rank's verdict */
};

struct infer_state {
	int rank, nranks, nodes;
	enum strata_loadgen_scenario scenario;
	int continuous, max_batch, threads, threads_before, cache_len;
	int cuda;         /* device cuda */
	char source[300]; /* preset or checkpoint */
	char device_name[300];
	struct strata_gpt g; /* the CPU model (the GPU's is made from it) */
	int have_g;
	struct strata_gpt_kv kv, kv_one; /* CPU caches: the SUT's, the check's batch-1 one */
	int have_kv, have_kv_one;
#if STRATA_HAVE_CUDA
	struct strata_gpt_cuda *cg;
	struct strata_gpt_cuda_kv *ckv, *ckv_one;
#endif
	struct strata_infer_backend be, be_one;
	struct strata_infer_sut sut;
	int have_sut;
	struct strata_loadgen_sut lsut;
	struct strata_loadgen_clock clk;
	struct strata_loadgen_settings ls;
	double price_node_hour, price_accel_hour;
	int accelerators; /* over all ranks: one GPU per rank with device cuda */
	/* Calibration and the search. */
	double expected_qps; /* Offline throughput of a short run, min over ranks */
	int64_t offline_n;
	int offline_resized; /* warm-up runs that grew offline_n */
	int searched;
	struct strata_loadgen_search search;
	struct probe_log probes[MAX_PROBES];
	int nprobes;
	double search_s;
	double confirmed_qps; /* per replica; 0: no rate confirmed */
	/* Output check. */
	struct strata_infer_check check;
	double logit_tol;
	int check_wrong;
	/* Timed runs. */
	struct pool lat[STRATA_LOADGEN_NMEASURES];
	int64_t runs, valid_runs, completed, tokens, prefills, decode_steps, decode_rows;
	double qps_sum, tps_sum;
	int64_t runs_empty;
	uint64_t offline_hash;
	int hash_set, hash_mismatch;
	char last_why[512];
	/* Totals (verify). */
	double mine[NF], tot_sum[NF], tot_max[NF];
	double *all; /* rank 0: (nranks, NF) */
	int reduced;
};

/* infer_model.c */
int strata_infer_suite_cuda_open(struct infer_state *s, const struct strata_case *c);
int strata_infer_suite_build_model(struct infer_state *s, const struct strata_case *c,
                                   int need_len);
int strata_infer_suite_make_backends(struct infer_state *s, const struct strata_case *c,
                                     int one_len);
void strata_infer_suite_check_sizes(const struct infer_state *s, int *np, int *no);
int strata_infer_suite_output_check(struct infer_state *s, const struct strata_case *c, int np,
                                    int no);

/* infer_calibrate.c */
int strata_infer_suite_agree(const struct strata_case *c, int rc);
int strata_infer_suite_calibrate(struct infer_state *s, const struct strata_case *c);
int strata_infer_suite_search_rate(struct infer_state *s, const struct strata_case *c, double tol);

/* infer_report.c */
int64_t strata_infer_suite_verify(void *state, const struct strata_case *c);
size_t strata_infer_suite_metrics(const void *state, const struct strata_case *c, double seconds,
                                  struct strata_metric *out, size_t max);
void strata_infer_suite_describe(const void *state, const struct strata_case *c, json_t *details);

#endif
