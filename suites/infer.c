/* infer.c: end-to-end inference of a GPT-style transformer under load, in the
 * scenarios of MLPerf Inference's LoadGen: how many requests a replica serves
 * within a latency bound, and at what latency, not just its peak throughput.
 *
 * What it is: the experiment around kernels/nn/loadgen.h (the scenario
 * driver: SingleStream, Server with its rate search, Offline; run rules and
 * early stopping) and kernels/nn/infer_sut.h (greedy generation with the
 * key/value cache of gpt_infer.h, in static or continuous batches of up to
 * max_batch requests).  Weights are random from `seed` (a preset of gpt.h,
 * shape fields overridable) or read from a checkpoint the train suite wrote.
 * Each rank is an independent replica serving its own request stream (its
 * schedule seeded by seed and rank); the ranks only meet in setup (agreeing
 * on calibration and on each probe of the rate search) and in verify
 * (totals).
 *
 * How a scenario maps onto the runner's repetitions: one run_once is one
 * whole scenario run on the real clock (strata_loadgen_run: from the first
 * arrival until the run rules and early stopping end it and the requests in
 * flight are drained).  The runner's per-repetition seconds are then that
 * run's wall time (the slowest rank's); the figures a scenario is judged by
 * are the suite's own, pooled over the timed repetitions:
 *   single_stream  e2e_p50/p90/p99 (ms), ttft_p90, tpot_p90, queries_per_s
 *                  and tokens_per_s (LoadGen's "with loadgen overhead", sum
 *                  over ranks), cost_per_1k; LoadGen's early-stopping
 *                  estimate of the percentile in details.
 *   server         rate (q/s, sum over ranks of the rate each replica ran:
 *                  with `rate: 0` the highest valid rate found in setup by
 *                  the search, each probe a full run at the same rate on
 *                  every rank, valid only when valid on every rank),
 *                  e2e/ttft/tpot p99 (ms), queries_per_s, tokens_per_s,
 *                  cost_per_1k; every repetition is judged again (valid runs
 *                  in details).
 *   offline        samples_per_s and tokens_per_s from the runner's seconds
 *                  (every repetition issues the same N requests: N = max(
 *                  min_queries, 1.1 x expected x min_duration_s), LoadGen's
 *                  sizing, with the expected rate measured in setup), the
 *                  per-rank rate, cost_per_1k.
 * Latency figures (e2e, TTFT, TPOT; type-7 percentiles p50/p90/p95/p99/p99.9)
 * are pooled per rank over the timed repetitions; the total of a latency
 * figure is the largest over ranks (the worst replica), of a throughput the
 * sum; per-rank values are in details.  These figures do not depend on the
 * runner's seconds, so their best/mean columns equal the median.
 * Cost per 1000 inferences = (price_node_hour x nodes + price_accelerator_hour
 * x accelerators) / 3600 / throughput x 1000, the throughput being the
 * scenario's total (Server: the rate; MLPerf-style price-performance).
 * Validation: greedy decoding of a fixed prompt gives the same tokens at
 * batch size 1 and inside a full batch of max_batch slots at other lengths
 * (checked in setup, judged in verify: any difference fails the case); every
 * timed run completed requests; Offline's repetitions generate the same
 * tokens (the sum of per-request hashes).
 * Devices: cpu (gpt_infer.h, FP32, OpenBLAS + OpenMP) or cuda (kernels/cuda/
 * gpt_cuda.h's BF16 cache on the rank's GPU, local rank modulo the devices;
 * skipped with the reason where there is no GPU or no CUDA build; the output
 * check's tolerances are BF16's there).
 * What it is not: a serving framework, a tokenizer, or an accuracy
 * benchmark.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "harness/stats.h"
#include "harness/suite.h"
#include "kernels/nn/gpt.h"
#include "kernels/nn/gpt_infer.h"
#include "kernels/nn/infer_sut.h"
#include "kernels/nn/loadgen.h"
#include "strata_config.h"
#if STRATA_HAVE_CUDA
#include "kernels/cuda/cuda_device.h"
#include "kernels/cuda/gpt_cuda.h"
#endif

#define MAX_PROBES 24
#define CALIBRATION_MIN_REQUESTS 8
#define CALIBRATION_SHARE 0.25
#define CALIBRATION_MIN_S 0.05
#define CALIBRATION_MAX_S 5.0
#define CALIBRATION_MAX_DOUBLINGS 16
/* The SUT's cache is at least this long, so the output check always fits. */
#define MIN_CACHE_LEN 8
/* Output check tolerances (strata_infer_batch_check): a differing token is a
 * near-tie when the batch-1 run scored both within TIE_TOL; the logits of the
 * two runs, while they agree, may differ by at most LOGIT_TOL.  FP32 on the
 * CPU: the two paths differ by float rounding only (~1e-7 seen).  BF16 on the
 * GPU: logits carry 8 bits of mantissa (2^-8 relative, ~0.01 at |logit| 2),
 * and batched and single-row GEMMs may take other algorithms. */
#define CPU_TIE_TOL 1e-4
#define CPU_LOGIT_TOL 1e-3
#define CUDA_TIE_TOL 0.1
#define CUDA_LOGIT_TOL 0.5

/* Per-rank figures, reduced across ranks in verify. */
enum {
	F_QPS, F_TPS, F_RUNS, F_VALID_RUNS, F_RATE, F_ES_ESTIMATE, F_COMPLETED, F_TOKENS,
	F_DIST,  /* then per measure: the NQ quantiles, mean, max */
	F_PER_MEASURE = STRATA_LOADGEN_NQ + 2,
	NF = F_DIST + STRATA_LOADGEN_NMEASURES * F_PER_MEASURE
};

struct pool {
	double *v;
	size_t n, cap;
};

struct probe_log {
	double rate_qps;
	int valid;       /* on every rank */
	int valid_here;
	double e2e_p99_s, ttft_p99_s, tpot_p99_s; /* this rank's run */
	int64_t issued;
	char why[512];   /* this rank's verdict */
};

struct infer_state {
	int rank, nranks, nodes;
	enum strata_loadgen_scenario scenario;
	int continuous, max_batch, threads, threads_before, cache_len;
	int cuda;                        /* device cuda */
	char source[300];                /* preset or checkpoint */
	char device_name[300];
	struct strata_gpt g;             /* the CPU model (the GPU's is made from it) */
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
	int accelerators;                /* over all ranks: one GPU per rank with device cuda */
	/* Calibration and the search. */
	double expected_qps;             /* Offline throughput of a short run, min over ranks */
	int64_t offline_n;
	int offline_resized;             /* warm-up runs that grew offline_n */
	int searched;
	struct strata_loadgen_search search;
	struct probe_log probes[MAX_PROBES];
	int nprobes;
	double search_s;
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
	double *all;                     /* rank 0: (nranks, NF) */
	int reduced;
};

static const struct strata_param_def infer_params[] = {
	{ .name = "device", .type = STRATA_PT_ENUM, .def = "cpu", .choices = "cpu|cuda",
	  .help = "cpu: FP32, OpenBLAS + OpenMP; cuda: BF16 on the rank's GPU (skipped without one)" },
	{ .name = "model", .type = STRATA_PT_ENUM, .def = "tiny", .choices = "tiny|gpt2-small",
	  .help = "model preset (kernels/nn/gpt.h), random weights from seed; layers/d_model/heads/"
		  "vocab override it" },
	{ .name = "layers", .type = STRATA_PT_INT, .def = "0", .min = 0, .max = 256,
	  .help = "transformer blocks; 0 = the preset's" },
	{ .name = "d_model", .type = STRATA_PT_INT, .def = "0", .min = 0, .max = 65536,
	  .help = "model width C; 0 = the preset's" },
	{ .name = "heads", .type = STRATA_PT_INT, .def = "0", .min = 0, .max = 1024,
	  .help = "attention heads (divide d_model); 0 = the preset's" },
	{ .name = "vocab", .type = STRATA_PT_INT, .def = "0", .min = 0, .max = 1 << 20,
	  .help = "vocabulary; 0 = the preset's" },
	{ .name = "checkpoint", .type = STRATA_PT_STRING, .def = "\"\"",
	  .help = "weights written by the train suite (its `checkpoint`); the file's shape wins "
		  "over model and the shape fields" },
	{ .name = "seed", .type = STRATA_PT_INT, .def = "1", .min = 0, .max = 1e15,
	  .help = "weights (without a checkpoint), prompts, and each rank's schedule (seed, rank)" },
	{ .name = "threads", .type = STRATA_PT_INT, .def = "0", .min = 0, .max = 65536,
	  .help = "OpenMP and OpenBLAS threads per rank; 0 = as they are" },
	{ .name = "scenario", .type = STRATA_PT_ENUM, .def = "offline",
	  .choices = "single_stream|server|offline",
	  .help = "LoadGen scenario: one request at a time; Poisson arrivals under a latency "
		  "bound; everything at once" },
	{ .name = "batching", .type = STRATA_PT_ENUM, .def = "continuous", .choices = "continuous|static",
	  .help = "continuous: a finished request's slot takes the next one at once; static: a "
		  "batch runs to its end before any request joins" },
	{ .name = "max_batch", .type = STRATA_PT_INT, .def = "8", .min = 1, .max = 4096,
	  .help = "requests a replica holds at once (key/value cache slots)" },
	{ .name = "prompt_len", .type = STRATA_PT_STRING, .def = "16",
	  .help = "prompt tokens per request: N, a list N,N,... (cycled), uniform:N,N,... or LO..HI" },
	{ .name = "output_len", .type = STRATA_PT_STRING, .def = "16",
	  .help = "output tokens per request (the first from the prefill), same forms" },
	{ .name = "rate", .type = STRATA_PT_DOUBLE, .def = "0", .min = 0, .max = 1e9,
	  .help = "server: Poisson rate per replica, queries/s; 0 = search for the highest valid" },
	{ .name = "latency_bound_ms", .type = STRATA_PT_DOUBLE, .def = "0", .min = 0, .max = 1e9,
	  .help = "server: bound on the percentile of end-to-end latency; 0 = none" },
	{ .name = "ttft_bound_ms", .type = STRATA_PT_DOUBLE, .def = "0", .min = 0, .max = 1e9,
	  .help = "server: bound on the percentile of time to first token; 0 = none" },
	{ .name = "tpot_bound_ms", .type = STRATA_PT_DOUBLE, .def = "0", .min = 0, .max = 1e9,
	  .help = "server: bound on the percentile of time per output token; 0 = none" },
	{ .name = "percentile", .type = STRATA_PT_DOUBLE, .def = "0", .min = 0, .max = 0.9999,
	  .help = "of the bounds and of single_stream's figure; 0 = LoadGen's: 0.99 server, 0.90 "
		  "single_stream" },
	{ .name = "confidence", .type = STRATA_PT_DOUBLE, .def = "0.99", .min = 0.5, .max = 0.9999,
	  .help = "of early stopping (LoadGen: 0.99)" },
	{ .name = "search_tolerance", .type = STRATA_PT_DOUBLE, .def = "0.05", .min = 0.001, .max = 1,
	  .help = "server search: stop when (invalid - valid) <= this x valid" },
	{ .name = "min_duration_s", .type = STRATA_PT_DOUBLE, .def = "1", .min = 0, .max = 1e6,
	  .help = "run rule: a run lasts at least this (LoadGen's min_duration; MLPerf: 600)" },
	{ .name = "min_queries", .type = STRATA_PT_INT, .def = "100", .min = 1, .max = 1e9,
	  .help = "run rule: and at least this many requests (LoadGen's min_query_count)" },
	{ .name = "max_duration_s", .type = STRATA_PT_DOUBLE, .def = "30", .min = 0.01, .max = 1e6,
	  .help = "nothing is issued after this; what still runs at twice it is abandoned (server: "
		  "the search looks no lower than the rate that fits a valid run into it)" },
	{ .name = "price_node_hour", .type = STRATA_PT_DOUBLE, .def = "0", .min = 0, .max = 1e9,
	  .help = "price of one node for an hour, for cost_per_1k; 0 = no cost figure" },
	{ .name = "price_accelerator_hour", .type = STRATA_PT_DOUBLE, .def = "0", .min = 0,
	  .max = 1e9, .help = "price of one accelerator for an hour (added to the nodes')" },
};

static int pool_push(struct pool *p, double x)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 1024;
		double *nv = realloc(p->v, cap * sizeof(*nv));
		if (!nv)
			return -1;
		p->v = nv;
		p->cap = cap;
	}
	p->v[p->n++] = x;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* ---- setup ----------------------------------------------------------------------- */

/* ---- device cuda: kernels/cuda/gpt_cuda.h's cache as an infer_sut backend ---- */

#if STRATA_HAVE_CUDA
static int cuda_reset(void *ctx, int slot, char *err, size_t err_len)
{
	return strata_gpt_cuda_kv_reset(ctx, slot, err, err_len);
}

static int cuda_prefill(void *ctx, int slot, const int *tokens, int n, float *logits, char *err,
			size_t err_len)
{
	return strata_gpt_cuda_kv_prefill(ctx, slot, tokens, n, logits, err, err_len);
}

static int cuda_decode(void *ctx, const int *slots, const int *tokens, int n, float *logits,
		       char *err, size_t err_len)
{
	return strata_gpt_cuda_kv_decode(ctx, slots, tokens, n, logits, err, err_len);
}

static int cuda_backend(struct infer_state *s, struct strata_gpt_cuda_kv **kv, int slots,
			int max_len, struct strata_infer_backend *be, char *err, size_t err_len)
{
	if (strata_gpt_cuda_kv_create(s->cg, slots, max_len, kv, err, err_len) != 0)
		return -1;
	*be = (struct strata_infer_backend){ .ctx = *kv, .slots = slots, .max_len = max_len,
					     .vocab = s->g.cfg.vocab, .reset = cuda_reset,
					     .prefill = cuda_prefill, .decode = cuda_decode };
	return 0;
}
#endif

/* The GPU of this rank (local rank modulo the devices), or the skip reason. */
static int cuda_open(struct infer_state *s, const struct strata_case *c)
{
#if STRATA_HAVE_CUDA
	int count = 0;
	char why[256] = "";
	if (strata_cuda_device_count(&count, why, sizeof(why)) != 0 || count == 0) {
		strata_case_errorf(c, "infer: %s", why[0] ? why : "no CUDA device: skipped");
		return STRATA_SKIP;
	}
	struct strata_cuda_device dev;
	if (strata_cuda_device_use(c->local_rank % count, &dev, why, sizeof(why)) != 0) {
		strata_case_errorf(c, "infer: %s", why);
		return STRATA_ERROR;
	}
	snprintf(s->device_name, sizeof(s->device_name), "%s (CUDA %d, %s)", dev.name, dev.index,
		 dev.pci_bus_id);
	return STRATA_OK;
#else
	(void)s;
	strata_case_errorf(c, "infer: no CUDA device: skipped (strata was built without CUDA)");
	return STRATA_SKIP;
#endif
}

/* The SUT's backend and the output check's batch-1 one, on the case's device. */
static int make_backends(struct infer_state *s, const struct strata_case *c, int one_len)
{
	char err[512] = "";
	if (s->cuda) {
#if STRATA_HAVE_CUDA
		if (strata_gpt_cuda_create(&s->g, 1, 1, &s->cg, err, sizeof(err)) != 0 ||
		    cuda_backend(s, &s->ckv, s->max_batch, s->cache_len, &s->be, err, sizeof(err)) != 0 ||
		    cuda_backend(s, &s->ckv_one, 1, one_len, &s->be_one, err, sizeof(err)) != 0) {
			strata_case_errorf(c, "infer: %s", err);
			return STRATA_ERROR;
		}
		return STRATA_OK;
#endif
	}
	if (strata_gpt_kv_init(&s->kv, &s->g, s->max_batch, s->cache_len, err, sizeof(err)) != 0) {
		strata_case_errorf(c, "infer: %s", err);
		return STRATA_ERROR;
	}
	s->have_kv = 1;
	if (strata_gpt_kv_init(&s->kv_one, &s->g, 1, one_len, err, sizeof(err)) != 0) {
		strata_case_errorf(c, "infer: %s", err);
		return STRATA_ERROR;
	}
	s->have_kv_one = 1;
	strata_infer_backend_cpu(&s->be, &s->kv);
	strata_infer_backend_cpu(&s->be_one, &s->kv_one);
	return STRATA_OK;
}

/* The model: a checkpoint, or a preset with overrides and random weights.
 * The position table is lengthened to fit the longest request when the
 * preset's is shorter (as the train suite does for its seq). */
static int build_model(struct infer_state *s, const struct strata_case *c, int need_len)
{
	const struct strata_params *p = c->params;
	char err[512] = "";
	struct strata_gpt_config cfg;
	const char *ckpt = strata_params_str(p, "checkpoint");
	uint64_t seed = (uint64_t)strata_params_int(p, "seed");
	if (ckpt[0]) {
		if (strata_gpt_load_config(ckpt, &cfg, err, sizeof(err)) != 0) {
			strata_case_errorf(c, "infer: checkpoint: %s", err);
			return STRATA_ERROR;
		}
		if (need_len > cfg.max_seq) {
			strata_case_errorf(c, "infer: requests need %d positions (prompt + output - 1), "
					      "the checkpoint's model has max_seq %d", need_len, cfg.max_seq);
			return STRATA_ERROR;
		}
		snprintf(s->source, sizeof(s->source), "checkpoint %s", ckpt);
	} else {
		if (strata_gpt_preset(strata_params_str(p, "model"), &cfg) != 0) {
			strata_case_errorf(c, "infer: unknown model %s", strata_params_str(p, "model"));
			return STRATA_ERROR;
		}
		int64_t v;
		if ((v = strata_params_int(p, "layers")) > 0)
			cfg.layers = (int)v;
		if ((v = strata_params_int(p, "d_model")) > 0)
			cfg.d_model = (int)v;
		if ((v = strata_params_int(p, "heads")) > 0)
			cfg.heads = (int)v;
		if ((v = strata_params_int(p, "vocab")) > 0)
			cfg.vocab = (int)v;
		if (need_len > cfg.max_seq)
			cfg.max_seq = need_len;
		snprintf(s->source, sizeof(s->source), "preset %s, random weights (seed %llu)",
			 strata_params_str(p, "model"), (unsigned long long)seed);
	}
	if (strata_gpt_init(&s->g, &cfg, 1, 1, seed, err, sizeof(err)) != 0) {
		strata_case_errorf(c, "infer: model: %s", err);
		return STRATA_ERROR;
	}
	s->have_g = 1;
	if (ckpt[0] && strata_gpt_load(&s->g, ckpt, err, sizeof(err)) != 0) {
		strata_case_errorf(c, "infer: checkpoint: %s", err);
		return STRATA_ERROR;
	}
	return STRATA_OK;
}

static int settings_from_params(struct infer_state *s, const struct strata_case *c)
{
	const struct strata_params *p = c->params;
	struct strata_loadgen_settings *ls = &s->ls;
	char err[256];
	strata_loadgen_settings_default(ls);
	ls->scenario = s->scenario;
	/* Each rank an independent replica: its own schedule and request sizes. */
	ls->seed = (uint64_t)strata_params_int(p, "seed") * 1000003ULL + (uint64_t)c->rank;
	ls->min_duration_s = strata_params_double(p, "min_duration_s");
	ls->min_queries = strata_params_int(p, "min_queries");
	ls->max_duration_s = strata_params_double(p, "max_duration_s");
	if (ls->max_duration_s < ls->min_duration_s) {
		strata_case_errorf(c, "infer: max_duration_s %g is below min_duration_s %g",
				   ls->max_duration_s, ls->min_duration_s);
		return STRATA_ERROR;
	}
	ls->percentile = strata_params_double(p, "percentile");
	ls->confidence = strata_params_double(p, "confidence");
	if (s->scenario == STRATA_LOADGEN_SERVER) {
		ls->bound_s[STRATA_LOADGEN_E2E] = strata_params_double(p, "latency_bound_ms") / 1e3;
		ls->bound_s[STRATA_LOADGEN_TTFT] = strata_params_double(p, "ttft_bound_ms") / 1e3;
		ls->bound_s[STRATA_LOADGEN_TPOT] = strata_params_double(p, "tpot_bound_ms") / 1e3;
		if (ls->bound_s[0] <= 0 && ls->bound_s[1] <= 0 && ls->bound_s[2] <= 0) {
			strata_case_errorf(c, "infer: scenario server needs a bound: latency_bound_ms, "
					      "or ttft_bound_ms and/or tpot_bound_ms");
			return STRATA_ERROR;
		}
	}
	if (strata_loadgen_lengths_parse(strata_params_str(p, "prompt_len"), &ls->prompt, err,
					 sizeof(err)) != 0 ||
	    strata_loadgen_lengths_parse(strata_params_str(p, "output_len"), &ls->output, err,
					 sizeof(err)) != 0) {
		strata_case_errorf(c, "infer: %s", err);
		return STRATA_ERROR;
	}
	return STRATA_OK;
}

/* The lowest rate a Server run can be shown valid at within max_duration_s:
 * the fewest valid requests (loadgen.h, strata_loadgen_min_valid_queries:
 * 459 for a p99 bound) over that time.  The search looks no lower, so no
 * probe is invalid only for want of time. */
static double server_min_rate(const struct strata_loadgen_settings *ls)
{
	return (double)strata_loadgen_min_valid_queries(ls) / ls->max_duration_s;
}

/* Every rank agrees on failure: returns STRATA_ERROR everywhere if any rank failed. */
static int agree(const struct strata_case *c, int rc)
{
	int bad = rc != STRATA_OK;
	MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, c->comm);
	if (bad && rc == STRATA_OK)
		strata_case_errorf(c, "infer: another rank failed in setup");
	return bad ? STRATA_ERROR : STRATA_OK;
}

/* Offline runs of 2 x max_batch requests, doubled until one lasts
 * CALIBRATION_SHARE of min_duration_s (at least CALIBRATION_MIN_S), then
 * once more at that size: the throughput of that last run sizes Offline's
 * query (LoadGen leaves that to the user's offline_expected_qps) and starts
 * the rate search.  The ranks take the smallest. */
static int calibrate(struct infer_state *s, const struct strata_case *c)
{
	struct strata_loadgen_settings cal = s->ls;
	cal.scenario = STRATA_LOADGEN_OFFLINE;
	cal.min_duration_s = 0;
	cal.min_queries = 2 * s->max_batch > CALIBRATION_MIN_REQUESTS ? 2 * s->max_batch
								    : CALIBRATION_MIN_REQUESTS;
	cal.offline_expected_qps = 0;
	memset(cal.bound_s, 0, sizeof(cal.bound_s));
	double target_s = fmin(CALIBRATION_MAX_S,
			       fmax(CALIBRATION_MIN_S, CALIBRATION_SHARE * s->ls.min_duration_s));
	double qps = 0;
	int long_runs = 0; /* the first long-enough run may still carry first-touch costs: run it twice */
	for (int i = 0; i < CALIBRATION_MAX_DOUBLINGS; i++) {
		struct strata_loadgen_result r;
		char err[512] = "";
		int rc = strata_loadgen_run(&cal, &s->lsut, &s->clk, &r, err, sizeof(err));
		double dur = rc == 0 ? r.duration_s : 0;
		qps = rc == 0 ? r.queries_per_s : 0;
		strata_loadgen_result_release(&r);
		if (rc != 0)
			strata_case_errorf(c, "infer: calibration run: %s", err);
		if (agree(c, rc == 0 ? STRATA_OK : STRATA_ERROR) != STRATA_OK)
			return STRATA_ERROR;
		int long_enough = dur >= target_s; /* every rank must agree */
		MPI_Allreduce(MPI_IN_PLACE, &long_enough, 1, MPI_INT, MPI_MIN, c->comm);
		if (long_enough && ++long_runs == 2)
			break;
		if (!long_enough)
			cal.min_queries *= 2;
	}
	MPI_Allreduce(MPI_IN_PLACE, &qps, 1, MPI_DOUBLE, MPI_MIN, c->comm);
	if (!(qps > 0)) {
		strata_case_errorf(c, "infer: calibration measured no throughput");
		return STRATA_ERROR;
	}
	s->expected_qps = qps;
	return STRATA_OK;
}

/* The rate search (loadgen.h): every probe a full Server run at the same
 * rate on every rank, started together, valid only if valid everywhere. */
static int search_rate(struct infer_state *s, const struct strata_case *c, double tol)
{
	double t0 = MPI_Wtime();
	double min_qps = server_min_rate(&s->ls);
	strata_loadgen_search_init(&s->search, fmax(0.5 * s->expected_qps, min_qps), tol, min_qps,
				   fmax(4 * s->expected_qps, 2 * min_qps), MAX_PROBES);
	struct strata_loadgen_settings probe = s->ls;
	double rate;
	while (strata_loadgen_search_next(&s->search, &rate)) {
		struct strata_loadgen_result r;
		char err[512] = "";
		probe.rate_qps = rate;
		MPI_Barrier(c->comm);
		int rc = strata_loadgen_run(&probe, &s->lsut, &s->clk, &r, err, sizeof(err));
		if (rc != 0)
			strata_case_errorf(c, "infer: search probe at %.6g q/s: %s", rate, err);
		if (agree(c, rc == 0 ? STRATA_OK : STRATA_ERROR) != STRATA_OK) {
			strata_loadgen_result_release(&r);
			return STRATA_ERROR;
		}
		int valid = r.valid;
		MPI_Allreduce(MPI_IN_PLACE, &valid, 1, MPI_INT, MPI_MIN, c->comm);
		strata_loadgen_search_report(&s->search, rate, valid);
		if (s->nprobes < MAX_PROBES) {
			struct probe_log *pl = &s->probes[s->nprobes++];
			*pl = (struct probe_log){ .rate_qps = rate, .valid = valid, .valid_here = r.valid,
						  .e2e_p99_s = r.dist[STRATA_LOADGEN_E2E].q_s[3],
						  .ttft_p99_s = r.dist[STRATA_LOADGEN_TTFT].q_s[3],
						  .tpot_p99_s = r.dist[STRATA_LOADGEN_TPOT].q_s[3],
						  .issued = r.issued };
			snprintf(pl->why, sizeof(pl->why), "%s", r.why);
		}
		strata_loadgen_result_release(&r);
	}
	s->searched = 1;
	s->search_s = MPI_Wtime() - t0;
	/* Nothing valid: the timed runs go at the lowest rate probed, so the
	 * record still shows the latencies there (and rate 0 as the answer). */
	s->ls.rate_qps = s->search.lo_qps > 0 ? s->search.lo_qps : s->search.hi_qps;
	return STRATA_OK;
}

/* The check's sizes: the longest prompt and output, within the SUT's cache
 * (the batch check puts prompts of up to n_prompt + 3 tokens beside it). */
static void check_sizes(const struct infer_state *s, int *np, int *no)
{
	int p = (s->cache_len - 3) / 2;
	if (s->ls.prompt.hi < p)
		p = s->ls.prompt.hi;
	if (p < 1)
		p = 1;
	int o = s->cache_len - 3 - p;
	if (s->ls.output.hi < o)
		o = s->ls.output.hi;
	if (o > STRATA_INFER_CHECK_MAX)
		o = STRATA_INFER_CHECK_MAX;
	*np = p;
	*no = o;
}

static int output_check(struct infer_state *s, const struct strata_case *c, int np, int no)
{
	int *prompt = malloc((size_t)np * sizeof(int));
	if (!prompt) {
		strata_case_errorf(c, "infer: out of memory");
		return STRATA_ERROR;
	}
	uint64_t seed = (uint64_t)strata_params_int(c->params, "seed");
	strata_infer_prompt(seed, -1, np, s->g.cfg.vocab, prompt);
	char err[512] = "";
	int rc = strata_infer_batch_check(&s->be_one, &s->be, prompt, np, no, seed,
					  s->cuda ? CUDA_TIE_TOL : CPU_TIE_TOL, &s->check, err,
					  sizeof(err));
	free(prompt);
	if (rc < 0) {
		strata_case_errorf(c, "infer: output check: %s", err);
		return STRATA_ERROR;
	}
	s->logit_tol = s->cuda ? CUDA_LOGIT_TOL : CPU_LOGIT_TOL;
	s->check_wrong = s->check.mismatches + (s->check.max_logit_diff > s->logit_tol);
	return STRATA_OK;
}

static void infer_teardown(void *state);

static int infer_setup(const struct strata_case *c, void **state)
{
	const struct strata_params *p = c->params;
	struct infer_state *s = calloc(1, sizeof(*s));
	if (!s) {
		strata_case_errorf(c, "infer: out of memory");
		return STRATA_ERROR;
	}
	*state = s;
	s->rank = c->rank;
	s->nranks = c->nranks;
	s->cuda = strcmp(strata_params_str(p, "device"), "cuda") == 0;
	if (s->cuda) {
		int rc = cuda_open(s, c);
		if (rc != STRATA_OK)
			return rc;
		s->accelerators = c->nranks;
	} else {
		snprintf(s->device_name, sizeof(s->device_name), "cpu");
	}
	strata_loadgen_scenario_parse(strata_params_str(p, "scenario"), &s->scenario);
	s->continuous = strcmp(strata_params_str(p, "batching"), "continuous") == 0;
	s->max_batch = (int)strata_params_int(p, "max_batch");
	s->price_node_hour = strata_params_double(p, "price_node_hour");
	s->price_accel_hour = strata_params_double(p, "price_accelerator_hour");
	s->threads_before = omp_get_max_threads();
	s->threads = (int)strata_params_int(p, "threads");
	if (s->threads > 0) {
		omp_set_num_threads(s->threads);
		openblas_set_num_threads(s->threads);
	}
	int nodes = c->local_rank == 0;
	MPI_Allreduce(&nodes, &s->nodes, 1, MPI_INT, MPI_SUM, c->comm);
	strata_loadgen_clock_real(&s->clk);

	int rc = settings_from_params(s, c);
	int need_len = s->ls.prompt.hi + s->ls.output.hi - 1;
	s->cache_len = need_len > MIN_CACHE_LEN ? need_len : MIN_CACHE_LEN;
	if (rc == STRATA_OK)
		rc = build_model(s, c, s->cache_len);
	int np = 0, no = 0;
	check_sizes(s, &np, &no);
	if (rc == STRATA_OK)
		rc = make_backends(s, c, np + no);
	if (rc == STRATA_OK) {
		char err[512] = "";
		if (strata_infer_sut_init(&s->sut, &s->be, s->continuous,
					  (uint64_t)strata_params_int(p, "seed"), err, sizeof(err)) != 0) {
			strata_case_errorf(c, "infer: %s", err);
			rc = STRATA_ERROR;
		} else {
			s->have_sut = 1;
			strata_infer_sut_loadgen(&s->sut, &s->lsut);
		}
	}
	if (rc == STRATA_OK)
		rc = output_check(s, c, np, no);
	if (agree(c, rc) != STRATA_OK)
		return STRATA_ERROR;

	if (s->scenario != STRATA_LOADGEN_SINGLE_STREAM && calibrate(s, c) != STRATA_OK)
		return STRATA_ERROR;
	if (s->scenario == STRATA_LOADGEN_OFFLINE) {
		/* LoadGen's sizing, fixed here so every repetition and rank does the same work. */
		double want = floor(1.1 * s->expected_qps * s->ls.min_duration_s);
		s->offline_n = s->ls.min_queries > (int64_t)want ? s->ls.min_queries : (int64_t)want;
		s->ls.min_queries = s->offline_n;
		s->ls.offline_expected_qps = 0;
	}
	if (s->scenario == STRATA_LOADGEN_SERVER) {
		s->ls.rate_qps = strata_params_double(p, "rate");
		if (s->ls.rate_qps <= 0 &&
		    search_rate(s, c, strata_params_double(p, "search_tolerance")) != STRATA_OK)
			return STRATA_ERROR;
	}
	return STRATA_OK;
}

/* ---- one scenario run -------------------------------------------------------------- */

static int infer_run_once(void *state, const struct strata_case *c)
{
	struct infer_state *s = state;
	struct strata_loadgen_result r;
	char err[512] = "";
	strata_infer_sut_counters_reset(&s->sut);
	if (strata_loadgen_run(&s->ls, &s->lsut, &s->clk, &r, err, sizeof(err)) != 0) {
		strata_case_errorf(c, "infer: %s", err);
		strata_loadgen_result_release(&r);
		return STRATA_ERROR;
	}
	snprintf(s->last_why, sizeof(s->last_why), "%s", r.why);
	if (!c->timed) {
		/* Offline warm-up: a run shorter than min_duration_s means the
		 * calibration was low; grow the query as LoadGen's summary advises
		 * ("increase expected QPS"), by the same factor on every rank,
		 * before the timed runs, which all issue the same N. */
		double scale = 1;
		if (s->scenario == STRATA_LOADGEN_OFFLINE && r.duration_s > 0 &&
		    r.duration_s < s->ls.min_duration_s)
			scale = 1.1 * s->ls.min_duration_s / r.duration_s;
		strata_loadgen_result_release(&r);
		if (s->scenario == STRATA_LOADGEN_OFFLINE) {
			MPI_Allreduce(MPI_IN_PLACE, &scale, 1, MPI_DOUBLE, MPI_MAX, c->comm);
			if (scale > 1) {
				s->offline_n = (int64_t)ceil((double)s->offline_n * scale);
				s->ls.min_queries = s->offline_n;
				s->offline_resized++;
			}
		}
		return STRATA_OK;
	}
	s->runs++;
	s->valid_runs += r.valid;
	/* A run stopped because a bound was already violated (or the system
	 * overloaded, or out of time) may end before its first completion;
	 * any other run that completed nothing did not work. */
	s->runs_empty += r.completed == 0 && r.stop != STRATA_LOADGEN_STOP_VIOLATED &&
			 r.stop != STRATA_LOADGEN_STOP_OVERLOADED &&
			 r.stop != STRATA_LOADGEN_STOP_MAX_DURATION;
	s->completed += r.completed;
	s->tokens += r.output_tokens;
	s->qps_sum += r.queries_per_s;
	s->tps_sum += r.tokens_per_s;
	s->prefills += s->sut.prefills;
	s->decode_steps += s->sut.decode_steps;
	s->decode_rows += s->sut.decode_rows;
	if (s->scenario == STRATA_LOADGEN_OFFLINE && r.incomplete == 0) {
		if (!s->hash_set) {
			s->offline_hash = s->sut.output_hash_sum;
			s->hash_set = 1;
		} else if (s->sut.output_hash_sum != s->offline_hash) {
			s->hash_mismatch++;
		}
	}
	int rc = STRATA_OK;
	double *v = malloc((size_t)(r.issued > 0 ? r.issued : 1) * sizeof(*v));
	for (int m = 0; v && m < STRATA_LOADGEN_NMEASURES; m++) {
		size_t n = strata_loadgen_values(&r, (enum strata_loadgen_measure)m, v);
		for (size_t i = 0; i < n; i++)
			if (pool_push(&s->lat[m], v[i]) != 0)
				rc = STRATA_ERROR;
	}
	if (!v || rc != STRATA_OK) {
		strata_case_errorf(c, "infer: out of memory keeping latencies");
		rc = STRATA_ERROR;
	}
	free(v);
	strata_loadgen_result_release(&r);
	return rc;
}

/* ---- verify: the output check, and the totals ----------------------------------------- */

static void own_figures(struct infer_state *s)
{
	double *f = s->mine;
	memset(f, 0, sizeof(s->mine));
	f[F_RUNS] = (double)s->runs;
	f[F_VALID_RUNS] = (double)s->valid_runs;
	f[F_QPS] = s->runs ? s->qps_sum / (double)s->runs : 0;
	f[F_TPS] = s->runs ? s->tps_sum / (double)s->runs : 0;
	f[F_RATE] = s->scenario == STRATA_LOADGEN_SERVER ? s->ls.rate_qps : 0;
	f[F_COMPLETED] = (double)s->completed;
	f[F_TOKENS] = (double)s->tokens;
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++) {
		struct pool *p = &s->lat[m];
		double *g = f + F_DIST + m * F_PER_MEASURE;
		if (p->n == 0)
			continue;
		qsort(p->v, p->n, sizeof(double), cmp_double);
		for (int q = 0; q < STRATA_LOADGEN_NQ; q++)
			g[q] = strata_quantile_sorted(p->v, p->n, strata_loadgen_quantiles[q]);
		double sum = 0;
		for (size_t i = 0; i < p->n; i++)
			sum += p->v[i];
		g[STRATA_LOADGEN_NQ] = sum / (double)p->n;
		g[STRATA_LOADGEN_NQ + 1] = p->v[p->n - 1];
	}
	if (s->scenario == STRATA_LOADGEN_SINGLE_STREAM && s->lat[0].n > 0) {
		struct strata_loadgen_es es;
		double pct = s->ls.percentile > 0 ? s->ls.percentile : 0.90;
		strata_loadgen_es_init(&es, pct, s->ls.confidence > 0 ? s->ls.confidence : 0.99);
		f[F_ES_ESTIMATE] = strata_loadgen_es_estimate(&es, s->lat[0].v, (int64_t)s->lat[0].n);
		strata_loadgen_es_release(&es);
	}
}

static int64_t infer_verify(void *state, const struct strata_case *c)
{
	struct infer_state *s = state;
	own_figures(s);
	MPI_Allreduce(s->mine, s->tot_sum, NF, MPI_DOUBLE, MPI_SUM, c->comm);
	MPI_Allreduce(s->mine, s->tot_max, NF, MPI_DOUBLE, MPI_MAX, c->comm);
	if (c->rank == 0)
		s->all = malloc((size_t)c->nranks * NF * sizeof(double));
	MPI_Gather(s->mine, NF, MPI_DOUBLE, s->all, NF, MPI_DOUBLE, 0, c->comm);
	s->reduced = 1;
	const struct strata_infer_check *k = &s->check;
	if (k->mismatches > 0) {
		int j = k->first_mismatch;
		strata_case_errorf(c,
				   "greedy tokens differ between batch size 1 and a batch of %d from "
				   "position %d of %d (alone %d, batched %d; not a near-tie within %g)",
				   k->slots, j, k->n_out, k->alone[j], k->batched[j], k->tie_tol);
		return k->mismatches;
	}
	if (s->check_wrong > 0) {
		strata_case_errorf(c,
				   "logits differ between batch size 1 and a batch of %d by %.3g "
				   "(tolerance %g) while the tokens agree",
				   k->slots, k->max_logit_diff, s->logit_tol);
		return s->check_wrong;
	}
	if (s->runs_empty > 0) {
		strata_case_errorf(c, "%lld timed run(s) completed no request", (long long)s->runs_empty);
		return s->runs_empty;
	}
	if (s->hash_mismatch > 0) {
		strata_case_errorf(c, "offline: %d timed repetition(s) generated other tokens than the "
				      "first (same requests, greedy decoding)", s->hash_mismatch);
		return s->hash_mismatch;
	}
	return 0;
}

static void infer_teardown(void *state)
{
	struct infer_state *s = state;
	if (!s)
		return;
	if (s->have_sut)
		strata_infer_sut_release(&s->sut);
	if (s->have_kv)
		strata_gpt_kv_release(&s->kv);
	if (s->have_kv_one)
		strata_gpt_kv_release(&s->kv_one);
#if STRATA_HAVE_CUDA
	/* Caches before the model (gpt_cuda.h). */
	if (s->ckv)
		strata_gpt_cuda_kv_destroy(s->ckv);
	if (s->ckv_one)
		strata_gpt_cuda_kv_destroy(s->ckv_one);
	if (s->cg)
		strata_gpt_cuda_destroy(s->cg);
#endif
	if (s->have_g)
		strata_gpt_release(&s->g);
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++)
		free(s->lat[m].v);
	if (s->threads > 0) {
		omp_set_num_threads(s->threads_before);
		openblas_set_num_threads(s->threads_before);
	}
	free(s->all);
	free(s);
}

/* ---- figures ------------------------------------------------------------------------- */

static double cost_per_1k(const struct infer_state *s, double throughput_total)
{
	double per_hour = s->price_node_hour * s->nodes + s->price_accel_hour * s->accelerators;
	if (per_hour <= 0 || !(throughput_total > 0))
		return -1;
	/* (price per hour / 3600 s) / (inferences per s) x 1000 */
	return per_hour / 3600.0 / throughput_total * 1000.0;
}

static double dist_total(const struct infer_state *s, int m, int q)
{
	return s->tot_max[F_DIST + m * F_PER_MEASURE + q];
}

static size_t infer_metrics(const void *state, const struct strata_case *c, double seconds,
			    struct strata_metric *out, size_t max)
{
	const struct infer_state *s = state;
	(void)c;
	size_t n = 0;
#define PUT(nm, un, val, hib)                                                        \
	do {                                                                         \
		if (n < max)                                                         \
			out[n++] = (struct strata_metric){ nm, un, (val), (hib) };   \
	} while (0)
	double basis = 0;
	switch (s->scenario) {
	case STRATA_LOADGEN_OFFLINE: {
		/* Every repetition issues the same requests: fixed work per run. */
		double per_rank = seconds > 0 ? (double)s->offline_n / seconds : 0;
		double tokens_per_run = s->runs ? s->tot_sum[F_TOKENS] / (double)s->runs : 0;
		basis = per_rank * s->nranks;
		PUT("samples_per_s", "samples/s", basis, 1);
		PUT("tokens_per_s", "tokens/s", seconds > 0 ? tokens_per_run / seconds : 0, 1);
		PUT("samples_per_s_per_rank", "samples/s", per_rank, 1);
		break;
	}
	case STRATA_LOADGEN_SERVER:
		basis = s->tot_sum[F_RATE];
		PUT(s->searched ? "max_valid_rate" : "rate", "queries/s", basis, 1);
		PUT("e2e_p99", "ms", dist_total(s, STRATA_LOADGEN_E2E, 3) * 1e3, 0);
		PUT("ttft_p99", "ms", dist_total(s, STRATA_LOADGEN_TTFT, 3) * 1e3, 0);
		PUT("tpot_p99", "ms", dist_total(s, STRATA_LOADGEN_TPOT, 3) * 1e3, 0);
		PUT("queries_per_s", "queries/s", s->tot_sum[F_QPS], 1);
		PUT("tokens_per_s", "tokens/s", s->tot_sum[F_TPS], 1);
		break;
	case STRATA_LOADGEN_SINGLE_STREAM:
		basis = s->tot_sum[F_QPS];
		PUT("e2e_p90", "ms", dist_total(s, STRATA_LOADGEN_E2E, 1) * 1e3, 0);
		PUT("e2e_p50", "ms", dist_total(s, STRATA_LOADGEN_E2E, 0) * 1e3, 0);
		PUT("e2e_p99", "ms", dist_total(s, STRATA_LOADGEN_E2E, 3) * 1e3, 0);
		PUT("ttft_p90", "ms", dist_total(s, STRATA_LOADGEN_TTFT, 1) * 1e3, 0);
		PUT("tpot_p90", "ms", dist_total(s, STRATA_LOADGEN_TPOT, 1) * 1e3, 0);
		PUT("queries_per_s", "queries/s", s->tot_sum[F_QPS], 1);
		PUT("tokens_per_s", "tokens/s", s->tot_sum[F_TPS], 1);
		break;
	}
	double cost = cost_per_1k(s, basis);
	if (cost >= 0)
		PUT("cost_per_1k", "price units per 1000 inferences", cost, 0);
#undef PUT
	return n;
}

static json_t *dist_json(const double *g)
{
	json_t *o = json_object();
	static const char *const names[STRATA_LOADGEN_NQ] = { "p50", "p90", "p95", "p99", "p99_9" };
	for (int q = 0; q < STRATA_LOADGEN_NQ; q++)
		json_object_set_new(o, names[q], json_real(g[q] * 1e3));
	json_object_set_new(o, "mean", json_real(g[STRATA_LOADGEN_NQ] * 1e3));
	json_object_set_new(o, "max", json_real(g[STRATA_LOADGEN_NQ + 1] * 1e3));
	return o;
}

static json_t *latency_json(const double *f)
{
	json_t *o = json_object();
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++)
		json_object_set_new(o, strata_loadgen_measure_name((enum strata_loadgen_measure)m),
				    dist_json(f + F_DIST + m * F_PER_MEASURE));
	json_object_set_new(o, "unit", json_string("ms"));
	return o;
}

static json_t *lengths_json(const struct strata_loadgen_lengths *l, const char *text)
{
	return json_pack("{s:s,s:i,s:i,s:f}", "spec", text, "min", l->lo, "max", l->hi, "mean",
			 strata_loadgen_lengths_mean(l));
}

static void infer_describe(const void *state, const struct strata_case *c, json_t *details)
{
	const struct infer_state *s = state;
	const struct strata_params *p = c->params;
	const struct strata_gpt_config *g = &s->g.cfg;
	const struct strata_loadgen_settings *ls = &s->ls;
	json_object_set_new(details, "model",
			    json_pack("{s:s,s:i,s:i,s:i,s:i,s:i,s:I,s:f}", "source", s->source, "vocab",
				      g->vocab, "max_seq", g->max_seq, "layers", g->layers, "heads",
				      g->heads, "d_model", g->d_model, "parameters",
				      (json_int_t)s->g.n_params, "forward_flops_per_token",
				      strata_gpt_forward_flops_per_token(g, ls->prompt.hi)));
	json_object_set_new(
		details, "serving",
		json_pack("{s:s,s:i,s:s,s:i,s:o,s:o}", "scenario",
			  strata_loadgen_scenario_name(s->scenario), "max_batch", s->max_batch,
			  "batching", s->continuous ? "continuous" : "static", "threads",
			  omp_get_max_threads(), "prompt_len",
			  lengths_json(&ls->prompt, strata_params_str(p, "prompt_len")), "output_len",
			  lengths_json(&ls->output, strata_params_str(p, "output_len"))));
	double pct = ls->percentile > 0 ? ls->percentile
					 : (s->scenario == STRATA_LOADGEN_SERVER ? 0.99 : 0.90);
	json_t *rules = json_pack("{s:f,s:I,s:f,s:f,s:f,s:s}", "min_duration_s", ls->min_duration_s,
				  "min_queries", (json_int_t)ls->min_queries, "max_duration_s",
				  ls->max_duration_s, "percentile", pct, "confidence",
				  ls->confidence > 0 ? ls->confidence : 0.99, "early_stopping",
				  "MLPerf inference rules, appendix Early Stopping Criterion (d = 0); "
				  "kernels/nn/loadgen.h");
	for (int m = 0; m < STRATA_LOADGEN_NMEASURES; m++) {
		if (ls->bound_s[m] > 0) {
			char key[32];
			snprintf(key, sizeof(key), "%s_bound_ms",
				 strata_loadgen_measure_name((enum strata_loadgen_measure)m));
			json_object_set_new(rules, key, json_real(ls->bound_s[m] * 1e3));
		}
	}
	json_object_set_new(details, "run_rules", rules);
	const struct strata_infer_check *k = &s->check;
	json_t *oc = json_pack("{s:i,s:i,s:i,s:i,s:i,s:f,s:f,s:f,s:i,s:s}", "prompt_tokens",
			       k->n_prompt, "output_tokens", k->n_out, "batch", k->slots, "compared",
			       k->compared, "mismatches", k->mismatches, "max_logit_diff",
			       k->max_logit_diff, "logit_tolerance", s->logit_tol, "tie_tolerance",
			       k->tie_tol, "near_tie_at", k->tie_at, "method",
			       "greedy decoding of one prompt alone (1 slot) and in slot S/2 of a full "
			       "batch whose other slots hold prompts of other lengths; a differing "
			       "token the batch-1 run scored within tie_tolerance of its own ends the "
			       "comparison (a near-tie), any other fails the case, as do logits that "
			       "differ by more than logit_tolerance while the tokens agree");
	json_t *tok_a = json_array(), *tok_b = json_array();
	for (int j = 0; j < k->n_out; j++) {
		json_array_append_new(tok_a, json_integer(k->alone[j]));
		json_array_append_new(tok_b, json_integer(k->batched[j]));
	}
	json_object_set_new(oc, "tokens_alone", tok_a);
	json_object_set_new(oc, "tokens_batched", tok_b);
	json_object_set_new(details, "output_check", oc);
	json_object_set_new(details, "device", json_string(s->device_name));
	if (s->expected_qps > 0)
		json_object_set_new(details, "calibration_qps", json_real(s->expected_qps));
	if (s->scenario == STRATA_LOADGEN_OFFLINE)
		json_object_set_new(details, "offline",
				    json_pack("{s:I,s:i,s:s}", "queries", (json_int_t)s->offline_n,
					      "resized_in_warmup", s->offline_resized, "sizing",
					      "max(min_queries, 1.1 x calibration_qps x min_duration_s) "
					      "(LoadGen), grown after a warm-up run shorter than "
					      "min_duration_s"));
	if (s->scenario == STRATA_LOADGEN_SERVER) {
		json_t *srv = json_pack("{s:f,s:f,s:b}", "rate_per_replica_qps", ls->rate_qps,
					"rate_total_qps", ls->rate_qps * s->nranks, "searched",
					s->searched);
		if (s->searched) {
			json_t *pr = json_array();
			for (int i = 0; i < s->nprobes; i++) {
				const struct probe_log *q = &s->probes[i];
				json_array_append_new(
					pr, json_pack("{s:f,s:b,s:I,s:f,s:f,s:f,s:s}", "rate_qps",
						      q->rate_qps, "valid", q->valid, "issued_rank0",
						      (json_int_t)q->issued, "e2e_p99_ms_rank0",
						      q->e2e_p99_s * 1e3, "ttft_p99_ms_rank0",
						      q->ttft_p99_s * 1e3, "tpot_p99_ms_rank0",
						      q->tpot_p99_s * 1e3, "verdict_rank0", q->why));
			}
			json_object_set_new(
				srv, "search",
				json_pack("{s:f,s:f,s:f,s:f,s:f,s:s,s:o,s:f,s:s}", "max_valid_rate_qps",
					  s->search.lo_qps, "lowest_invalid_rate_qps", s->search.hi_qps,
					  "start_qps", s->search.start_qps, "min_qps", s->search.min_qps,
					  "tolerance",
					  s->search.tol_rel, "stopped",
					  s->search.stopped ? s->search.stopped : "", "probes", pr,
					  "seconds", s->search_s, "method",
					  "double from half the calibration throughput until a probe is "
					  "invalid (halve while the first fails, down to min_qps: the "
					  "fewest valid requests over max_duration_s), then bisect (LoadGen "
					  "FindPeakPerformance); a probe is one full Server run at the "
					  "same rate on every rank, valid only if valid on every rank"));
		}
		json_object_set_new(details, "server", srv);
	}
	json_object_set_new(details, "runs",
			    json_pack("{s:I,s:I,s:s}", "timed", (json_int_t)s->runs, "valid",
				      (json_int_t)s->valid_runs, "last_verdict_rank0", s->last_why));
	json_object_set_new(details, "sut",
			    json_pack("{s:I,s:I,s:f}", "prefills", (json_int_t)s->prefills,
				      "decode_steps", (json_int_t)s->decode_steps,
				      "mean_rows_per_decode_step",
				      s->decode_steps ? (double)s->decode_rows / (double)s->decode_steps
						      : 0.0));
	if (!s->reduced)
		return;
	json_t *totals = json_pack(
		"{s:f,s:f,s:f,s:f,s:o,s:s}", "queries_per_s", s->tot_sum[F_QPS], "tokens_per_s",
		s->tot_sum[F_TPS], "completed", s->tot_sum[F_COMPLETED], "valid_runs",
		s->tot_sum[F_VALID_RUNS], "latency", latency_json(s->tot_max), "method",
		"throughputs: sum over ranks of each rank's mean over timed runs (LoadGen's per-run "
		"figure); latencies: per rank pooled over timed runs, the largest over ranks");
	if (s->scenario == STRATA_LOADGEN_SINGLE_STREAM)
		json_object_set_new(totals, "early_stopping_estimate_ms",
				    json_real(s->tot_max[F_ES_ESTIMATE] * 1e3));
	json_object_set_new(details, "totals", totals);
	if (s->all) {
		json_t *pr = json_array();
		for (int r = 0; r < s->nranks; r++) {
			const double *f = s->all + (size_t)r * NF;
			json_t *o = json_pack("{s:i,s:f,s:f,s:f,s:f,s:o}", "rank", r, "queries_per_s",
					      f[F_QPS], "tokens_per_s", f[F_TPS], "valid_runs",
					      f[F_VALID_RUNS], "completed", f[F_COMPLETED], "latency",
					      latency_json(f));
			if (s->scenario == STRATA_LOADGEN_SINGLE_STREAM)
				json_object_set_new(o, "early_stopping_estimate_ms",
						    json_real(f[F_ES_ESTIMATE] * 1e3));
			json_array_append_new(pr, o);
		}
		json_object_set_new(details, "per_rank", pr);
	}
	double basis = s->scenario == STRATA_LOADGEN_SERVER ? s->tot_sum[F_RATE] : s->tot_sum[F_QPS];
	double cost = cost_per_1k(s, basis);
	if (cost >= 0)
		json_object_set_new(
			details, "cost",
			json_pack("{s:f,s:f,s:i,s:i,s:f,s:f,s:s}", "price_node_hour",
				  s->price_node_hour, "price_accelerator_hour", s->price_accel_hour,
				  "nodes", s->nodes, "accelerators", s->accelerators,
				  "throughput_basis_per_s", basis, "per_1000_inferences", cost,
				  "formula", "(node price x nodes + accelerator price x accelerators) "
					     "/ 3600 / throughput x 1000"));
}

const struct strata_suite strata_suite_infer = {
	.name = "infer",
	.summary = "LLM inference under load: LoadGen scenarios (single_stream, server with the "
		   "highest valid rate, offline) over the transformer with a KV cache",
	.params = infer_params,
	.n_params = sizeof(infer_params) / sizeof(infer_params[0]),
	.setup = infer_setup,
	.run_once = infer_run_once,
	.verify = infer_verify,
	.teardown = infer_teardown,
	.metrics = infer_metrics,
	.describe = infer_describe,
};
