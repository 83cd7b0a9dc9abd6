/* gemm_cuda.c: cuBLASLt matmul with algorithm selection, event-timed batches
 * and the sampled FP64 check (see gemm_cuda.h).
 *
 * The call: cublasLtMatmul(D = alpha op(A) op(B) + beta C) with alpha = 1,
 * beta = 0, C = D (cuBLASLt "Matmul" docs), so repeating it leaves the same
 * D.  C starts as zeros rather than NaN: with beta = 0 BLAS does not read C,
 * but nothing in cuBLASLt's documentation promises it, and a NaN there would
 * fail a correct GEMM.  Per type (cuBLASLt's table of supported type
 * combinations): float64 64F/64F; float32 32F/32F; tfloat32
 * CUBLAS_COMPUTE_32F_FAST_TF32; float16 and bfloat16 inputs and outputs with
 * 32F compute and scale; float8_e4m3 A/B with bf16 C/D, 32F compute (cuBLASLt
 * requires the "TN" layout, transa = T and transb = N, for FP8 before
 * Blackwell, and m, n, k and the leading dimensions multiples of 16).
 * Algorithm selection: cublasLtMatmulAlgoGetHeuristic's top_k results, each
 * run STRATA_GEMM_CUDA_ALGO_WARMUP times then timed over
 * STRATA_GEMM_CUDA_ALGO_TIMED back-to-back launches with CUDA events; the
 * lowest mean time wins (as cuBLASLt's own "LtSgemmSimpleAutoTuning" sample).
 */
#include "kernels/cuda/gemm_cuda.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/gpu/gemm_gpu_input.h"
#include "cublaslt_names.h" /* generated: strata_lt_matmul_tile_names, ... */

struct strata_gemm_cuda {
	struct strata_gemm_cuda_config cfg;
	const struct strata_gemm_gpu_numerics *nm;
	int cc_major, cc_minor;
	cudaStream_t stream;
	cudaEvent_t ev0, ev1;
	void *a, *b, *c, *workspace;
	size_t a_bytes, b_bytes, c_bytes, ws_bytes;
	unsigned long long *d_count;
	cublasLtHandle_t lt;
	cublasLtMatmulDesc_t op;
	cublasLtMatrixLayout_t la, lb, lc;
	cublasLtMatmulPreference_t pref;
	cublasLtMatmulHeuristicResult_t *heur;
	struct strata_gemm_algo *cands;
	int n_cands;
	int chosen;
	double alpha_d, beta_d;
	float alpha_f, beta_f;
};

static cudaDataType_t ab_type(enum strata_gemm_gpu_dtype t)
{
	switch (t) {
	case STRATA_GEMM_GPU_FLOAT64: return CUDA_R_64F;
	case STRATA_GEMM_GPU_FLOAT16: return CUDA_R_16F;
	case STRATA_GEMM_GPU_BFLOAT16: return CUDA_R_16BF;
	case STRATA_GEMM_GPU_FLOAT8_E4M3: return CUDA_R_8F_E4M3;
	default: return CUDA_R_32F;
	}
}

static cudaDataType_t c_type(enum strata_gemm_gpu_dtype t)
{
	switch (t) {
	case STRATA_GEMM_GPU_FLOAT64: return CUDA_R_64F;
	case STRATA_GEMM_GPU_FLOAT16: return CUDA_R_16F;
	case STRATA_GEMM_GPU_BFLOAT16:
	case STRATA_GEMM_GPU_FLOAT8_E4M3: return CUDA_R_16BF;
	default: return CUDA_R_32F;
	}
}

static cublasComputeType_t compute_type(enum strata_gemm_gpu_dtype t)
{
	switch (t) {
	case STRATA_GEMM_GPU_FLOAT64: return CUBLAS_COMPUTE_64F;
	case STRATA_GEMM_GPU_TFLOAT32: return CUBLAS_COMPUTE_32F_FAST_TF32;
	default: return CUBLAS_COMPUTE_32F;
	}
}

static const void *alpha_ptr(const struct strata_gemm_cuda *g)
{
	return g->cfg.dtype == STRATA_GEMM_GPU_FLOAT64 ? (const void *)&g->alpha_d
						       : (const void *)&g->alpha_f;
}

static const void *beta_ptr(const struct strata_gemm_cuda *g)
{
	return g->cfg.dtype == STRATA_GEMM_GPU_FLOAT64 ? (const void *)&g->beta_d
						       : (const void *)&g->beta_f;
}

static cublasStatus_t matmul(struct strata_gemm_cuda *g, const cublasLtMatmulAlgo_t *algo)
{
	return cublasLtMatmul(g->lt, g->op, alpha_ptr(g), g->a, g->la, g->b, g->lb, beta_ptr(g),
			      g->c, g->lc, g->c, g->lc, algo, g->workspace, g->ws_bytes, g->stream);
}

/* Why this type/layout cannot run on this GPU, or NULL. */
static const char *unsupported(const struct strata_gemm_cuda *g, char *buf, size_t len)
{
	const struct strata_gemm_gpu_numerics *nm = g->nm;
	const struct strata_gemm_cuda_config *cfg = &g->cfg;
	int cc = g->cc_major * 10 + g->cc_minor;
	if (cc < nm->min_cc_major * 10 + nm->min_cc_minor) {
		snprintf(buf, len, "gemm %s needs compute capability %d.%d or newer; this GPU is %d.%d",
			 nm->name, nm->min_cc_major, nm->min_cc_minor, g->cc_major, g->cc_minor);
		return buf;
	}
	if (cfg->dtype == STRATA_GEMM_GPU_FLOAT8_E4M3) {
		if (g->cc_major < 10 && !(cfg->transa && !cfg->transb)) {
			snprintf(buf, len,
				 "cuBLASLt FP8 on compute capability %d.%d supports only the TN layout "
				 "(transa: yes, transb: no)", g->cc_major, g->cc_minor);
			return buf;
		}
		if (cfg->m % 16 || cfg->n % 16 || cfg->k % 16) {
			snprintf(buf, len, "cuBLASLt FP8 needs m, n and k multiples of 16 (got %lld x "
				 "%lld x %lld)", (long long)cfg->m, (long long)cfg->n, (long long)cfg->k);
			return buf;
		}
	}
	return NULL;
}

static void describe_algo(const cublasLtMatmulHeuristicResult_t *h, int rank,
			  struct strata_gemm_algo *a)
{
	int32_t id = -1, splitk = 1;
	uint32_t tile = 0, stages = 0, red = 0, swz = 0, custom = 0;
	uint16_t cluster = 0;
	size_t written = 0;
	memset(a, 0, sizeof(*a));
	cublasLtMatmulAlgoConfigGetAttribute(&h->algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof(id),
					     &written);
	cublasLtMatmulAlgoConfigGetAttribute(&h->algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile,
					     sizeof(tile), &written);
	cublasLtMatmulAlgoConfigGetAttribute(&h->algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages,
					     sizeof(stages), &written);
	cublasLtMatmulAlgoConfigGetAttribute(&h->algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk,
					     sizeof(splitk), &written);
	cublasLtMatmulAlgoConfigGetAttribute(&h->algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &red,
					     sizeof(red), &written);
	cublasLtMatmulAlgoConfigGetAttribute(&h->algo, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, &swz,
					     sizeof(swz), &written);
	cublasLtMatmulAlgoConfigGetAttribute(&h->algo, CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION, &custom,
					     sizeof(custom), &written);
	a->cluster_id = -1;
	if (cublasLtMatmulAlgoConfigGetAttribute(&h->algo, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID,
						 &cluster, sizeof(cluster),
						 &written) == CUBLAS_STATUS_SUCCESS)
		a->cluster_id = cluster;
	a->algo_id = id;
	a->tile_id = (int)tile;
	a->stages_id = (int)stages;
	a->splitk = splitk;
	a->reduction = (int)red;
	a->swizzle = (int)swz;
	a->custom = (int)custom;
	strata_lt_name_lookup(strata_lt_matmul_tile_names, a->tile_id, a->tile, sizeof(a->tile));
	strata_lt_name_lookup(strata_lt_matmul_stages_names, a->stages_id, a->stages,
			      sizeof(a->stages));
	if (a->cluster_id >= 0)
		strata_lt_name_lookup(strata_lt_cluster_shape_names, a->cluster_id, a->cluster,
				      sizeof(a->cluster));
	a->workspace_bytes = h->workspaceSize;
	a->waves = h->wavesCount;
	a->heuristic_rank = rank;
	a->ms = -1;
}

/* Time candidate i; a cuBLASLt refusal marks it failed, a CUDA error fails
 * the whole create. */
static int time_candidate(struct strata_gemm_cuda *g, int i, char *err, size_t err_len)
{
	struct strata_gemm_algo *a = &g->cands[i];
	const cublasLtMatmulAlgo_t *algo = &g->heur[i].algo;
	float ms = 0;
	for (int w = 0; w < STRATA_GEMM_CUDA_ALGO_WARMUP; w++) {
		cublasStatus_t s = matmul(g, algo);
		if (s != CUBLAS_STATUS_SUCCESS) {
			a->failed = 1;
			snprintf(a->note, sizeof(a->note), "cublasLtMatmul: %s",
				 cublasGetStatusString(s));
			return 0;
		}
	}
	STRATA_CUDA_CHECK(cudaEventRecord(g->ev0, g->stream));
	for (int r = 0; r < STRATA_GEMM_CUDA_ALGO_TIMED; r++) {
		cublasStatus_t s = matmul(g, algo);
		if (s != CUBLAS_STATUS_SUCCESS) {
			a->failed = 1;
			snprintf(a->note, sizeof(a->note), "cublasLtMatmul: %s",
				 cublasGetStatusString(s));
			STRATA_CUDA_CHECK(cudaStreamSynchronize(g->stream));
			return 0;
		}
	}
	STRATA_CUDA_CHECK(cudaEventRecord(g->ev1, g->stream));
	STRATA_CUDA_CHECK(cudaEventSynchronize(g->ev1));
	STRATA_CUDA_CHECK(cudaEventElapsedTime(&ms, g->ev0, g->ev1));
	a->ms = (double)ms / STRATA_GEMM_CUDA_ALGO_TIMED;
	return 0;
fail:
	return -1;
}

static int alloc_and_fill(struct strata_gemm_cuda *g, char *err, size_t err_len)
{
	const struct strata_gemm_cuda_config *cfg = &g->cfg;
	g->a_bytes = (size_t)cfg->m * (size_t)cfg->k * g->nm->ab_bytes;
	g->b_bytes = (size_t)cfg->k * (size_t)cfg->n * g->nm->ab_bytes;
	g->c_bytes = (size_t)cfg->m * (size_t)cfg->n * g->nm->c_bytes;
	g->ws_bytes = cfg->workspace_bytes;
	STRATA_CUDA_CHECK(cudaMalloc(&g->a, g->a_bytes));
	STRATA_CUDA_CHECK(cudaMalloc(&g->b, g->b_bytes));
	STRATA_CUDA_CHECK(cudaMalloc(&g->c, g->c_bytes));
	if (g->ws_bytes)
		STRATA_CUDA_CHECK(cudaMalloc(&g->workspace, g->ws_bytes));
	STRATA_CUDA_CHECK(cudaMalloc((void **)&g->d_count, sizeof(*g->d_count)));
	STRATA_CUDA_CHECK((cudaError_t)strata_gemm_cuda_fill(g->a, (int)cfg->dtype, 0, cfg->m,
							     cfg->k, cfg->transa, cfg->seed,
							     g->nm->input_steps, g->stream));
	STRATA_CUDA_CHECK((cudaError_t)strata_gemm_cuda_fill(g->b, (int)cfg->dtype, 1, cfg->k,
							     cfg->n, cfg->transb, cfg->seed,
							     g->nm->input_steps, g->stream));
	STRATA_CUDA_CHECK(cudaMemsetAsync(g->c, 0, g->c_bytes, g->stream));
	STRATA_CUDA_CHECK(cudaStreamSynchronize(g->stream));
	return 0;
fail:
	return -1;
}

static int make_descriptors(struct strata_gemm_cuda *g, char *err, size_t err_len)
{
	const struct strata_gemm_cuda_config *cfg = &g->cfg;
	cublasOperation_t ta = cfg->transa ? CUBLAS_OP_T : CUBLAS_OP_N;
	cublasOperation_t tb = cfg->transb ? CUBLAS_OP_T : CUBLAS_OP_N;
	cudaDataType_t scale = cfg->dtype == STRATA_GEMM_GPU_FLOAT64 ? CUDA_R_64F : CUDA_R_32F;
	/* Stored shapes (column-major): A (M, K) or (K, M); B (K, N) or (N, K). */
	uint64_t a_rows = (uint64_t)(cfg->transa ? cfg->k : cfg->m);
	uint64_t a_cols = (uint64_t)(cfg->transa ? cfg->m : cfg->k);
	uint64_t b_rows = (uint64_t)(cfg->transb ? cfg->n : cfg->k);
	uint64_t b_cols = (uint64_t)(cfg->transb ? cfg->k : cfg->n);
	uint64_t ws = g->ws_bytes;

	STRATA_CUBLAS_CHECK(cublasLtCreate(&g->lt));
	STRATA_CUBLAS_CHECK(cublasLtMatmulDescCreate(&g->op, compute_type(cfg->dtype), scale));
	STRATA_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(g->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta,
							   sizeof(ta)));
	STRATA_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(g->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb,
							   sizeof(tb)));
	if (cfg->dtype == STRATA_GEMM_GPU_FLOAT8_E4M3) {
		int8_t fast = 0; /* fp32 accumulation throughout: the tolerance assumes it */
		STRATA_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(
			g->op, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof(fast)));
	}
	STRATA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&g->la, ab_type(cfg->dtype), a_rows, a_cols,
						       (int64_t)a_rows));
	STRATA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&g->lb, ab_type(cfg->dtype), b_rows, b_cols,
						       (int64_t)b_rows));
	STRATA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&g->lc, c_type(cfg->dtype), (uint64_t)cfg->m,
						       (uint64_t)cfg->n, (int64_t)cfg->m));
	STRATA_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&g->pref));
	STRATA_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
		g->pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)));
	return 0;
fail:
	return -1;
}

int strata_gemm_cuda_create(const struct strata_gemm_cuda_config *cfg,
			    struct strata_gemm_cuda **out, char *err, size_t err_len)
{
	int dev = 0, returned = 0, rc = -1;
	char why[256];
	*out = NULL;
	struct strata_gemm_cuda *g = calloc(1, sizeof(*g));
	if (!g) {
		snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
		return -1;
	}
	g->cfg = *cfg;
	if (g->cfg.top_k < 1)
		g->cfg.top_k = 1;
	g->nm = strata_gemm_gpu_numerics(cfg->dtype);
	g->alpha_d = 1.0;
	g->beta_d = 0.0;
	g->alpha_f = 1.0f;
	g->beta_f = 0.0f;
	g->chosen = -1;
	if (!g->nm) {
		snprintf(err, err_len, "%s:%d: invalid dtype %d", __FILE__, __LINE__, (int)cfg->dtype);
		goto fail;
	}
	STRATA_CUDA_CHECK(cudaGetDevice(&dev));
	STRATA_CUDA_CHECK(cudaDeviceGetAttribute(&g->cc_major, cudaDevAttrComputeCapabilityMajor, dev));
	STRATA_CUDA_CHECK(cudaDeviceGetAttribute(&g->cc_minor, cudaDevAttrComputeCapabilityMinor, dev));
	if (unsupported(g, why, sizeof(why))) {
		snprintf(err, err_len, "%s: skipped", why);
		rc = 1;
		goto fail;
	}
	STRATA_CUDA_CHECK(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking));
	STRATA_CUDA_CHECK(cudaEventCreate(&g->ev0));
	STRATA_CUDA_CHECK(cudaEventCreate(&g->ev1));
	if (alloc_and_fill(g, err, err_len) != 0 || make_descriptors(g, err, err_len) != 0)
		goto fail;

	g->heur = calloc((size_t)g->cfg.top_k, sizeof(*g->heur));
	g->cands = calloc((size_t)g->cfg.top_k, sizeof(*g->cands));
	if (!g->heur || !g->cands) {
		snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
		goto fail;
	}
	cublasStatus_t hs = cublasLtMatmulAlgoGetHeuristic(g->lt, g->op, g->la, g->lb, g->lc, g->lc,
							   g->pref, g->cfg.top_k, g->heur, &returned);
	if (hs == CUBLAS_STATUS_NOT_SUPPORTED || (hs == CUBLAS_STATUS_SUCCESS && returned == 0)) {
		snprintf(err, err_len,
			 "cuBLASLt offers no algorithm for %s %lldx%lldx%lld (transa %d, transb %d) "
			 "on compute capability %d.%d with %zu B of workspace: skipped",
			 g->nm->name, (long long)cfg->m, (long long)cfg->n, (long long)cfg->k,
			 cfg->transa, cfg->transb, g->cc_major, g->cc_minor, g->ws_bytes);
		rc = 1;
		goto fail;
	}
	STRATA_CUBLAS_CHECK(hs);
	for (int i = 0; i < returned; i++) {
		describe_algo(&g->heur[i], i, &g->cands[i]);
		if (g->heur[i].state != CUBLAS_STATUS_SUCCESS) {
			g->cands[i].failed = 1;
			snprintf(g->cands[i].note, sizeof(g->cands[i].note), "heuristic state: %s",
				 cublasGetStatusString(g->heur[i].state));
			continue;
		}
		if (time_candidate(g, i, err, err_len) != 0)
			goto fail;
	}
	g->n_cands = returned;
	for (int i = 0; i < returned; i++) {
		if (!g->cands[i].failed &&
		    (g->chosen < 0 || g->cands[i].ms < g->cands[g->chosen].ms))
			g->chosen = i;
	}
	if (g->chosen < 0) {
		snprintf(err, err_len, "every one of cuBLASLt's %d candidate algorithms failed; first: %s",
			 returned, returned ? g->cands[0].note : "none");
		goto fail;
	}
	/* Zero C again: it holds the last candidate's product, which would let
	 * the check pass even if the measured launches never wrote C. */
	STRATA_CUDA_CHECK(cudaMemsetAsync(g->c, 0, g->c_bytes, g->stream));
	STRATA_CUDA_CHECK(cudaStreamSynchronize(g->stream));
	*out = g;
	return 0;
fail:
	strata_gemm_cuda_destroy(g);
	return rc;
}

void strata_gemm_cuda_destroy(struct strata_gemm_cuda *g)
{
	if (!g)
		return;
	if (g->stream)
		cudaStreamSynchronize(g->stream);
	if (g->pref)
		cublasLtMatmulPreferenceDestroy(g->pref);
	if (g->la)
		cublasLtMatrixLayoutDestroy(g->la);
	if (g->lb)
		cublasLtMatrixLayoutDestroy(g->lb);
	if (g->lc)
		cublasLtMatrixLayoutDestroy(g->lc);
	if (g->op)
		cublasLtMatmulDescDestroy(g->op);
	if (g->lt)
		cublasLtDestroy(g->lt);
	cudaFree(g->a);
	cudaFree(g->b);
	cudaFree(g->c);
	cudaFree(g->workspace);
	cudaFree(g->d_count);
	if (g->ev0)
		cudaEventDestroy(g->ev0);
	if (g->ev1)
		cudaEventDestroy(g->ev1);
	if (g->stream)
		cudaStreamDestroy(g->stream);
	free(g->heur);
	free(g->cands);
	free(g);
}

size_t strata_gemm_cuda_candidates(const struct strata_gemm_cuda *g,
				   const struct strata_gemm_algo **list)
{
	*list = g->cands;
	return (size_t)g->n_cands;
}

const struct strata_gemm_algo *strata_gemm_cuda_chosen(const struct strata_gemm_cuda *g)
{
	return g->chosen >= 0 ? &g->cands[g->chosen] : NULL;
}

size_t strata_gemm_cuda_bytes(const struct strata_gemm_cuda *g)
{
	return g->a_bytes + g->b_bytes + g->c_bytes + g->ws_bytes;
}

int strata_gemm_cuda_run(struct strata_gemm_cuda *g, int launches, double *event_s, char *err,
			 size_t err_len)
{
	float ms = 0;
	const cublasLtMatmulAlgo_t *algo = &g->heur[g->chosen].algo;
	STRATA_CUDA_CHECK(cudaEventRecord(g->ev0, g->stream));
	for (int i = 0; i < launches; i++)
		STRATA_CUBLAS_CHECK(matmul(g, algo));
	STRATA_CUDA_CHECK(cudaEventRecord(g->ev1, g->stream));
	STRATA_CUDA_CHECK(cudaEventSynchronize(g->ev1));
	STRATA_CUDA_CHECK(cudaEventElapsedTime(&ms, g->ev0, g->ev1));
	*event_s = (double)ms * 1e-3;
	return 0;
fail:
	cudaStreamSynchronize(g->stream);
	return -1;
}

/* Record the comparison of element (i, j): got against ref within tol. */
static void tally(int64_t i, int64_t j, double ref, double tol, double got,
		  struct strata_gemm_cuda_check *out)
{
	double diff = fabs(got - ref);
	out->checked++;
	if (tol > 0 && diff / tol > out->max_rel_err)
		out->max_rel_err = diff / tol;
	if (!(diff <= tol)) { /* NaN fails too */
		if (out->wrong == 0) {
			out->first_i = i;
			out->first_j = j;
			out->first_expected = ref;
			out->first_actual = got;
			out->first_tolerance = tol;
		}
		out->wrong++;
	}
}

static void check_one(const struct strata_gemm_cuda *g, int64_t i, int64_t j, const void *elem,
		      struct strata_gemm_cuda_check *out)
{
	const struct strata_gemm_cuda_config *cfg = &g->cfg;
	double abs_sum = 0;
	double ref = strata_gemm_gpu_reference(cfg->dtype, cfg->seed, i, j, cfg->k, &abs_sum);
	tally(i, j, ref, strata_gemm_gpu_tolerance(cfg->dtype, cfg->k, ref, abs_sum),
	      strata_gemm_gpu_c_value(cfg->dtype, elem), out);
}

/* A whole row (fixed = i, along = 'j') or column (fixed = j, along = 'i') of
 * len elements at line, but for index skip (-1: none): the references (K
 * products each) in an OpenMP loop, then tallied in order so the first wrong
 * element is the lowest index. */
static int check_line(const struct strata_gemm_cuda *g, int64_t fixed, char along, int64_t len,
		      int64_t skip, const unsigned char *line, struct strata_gemm_cuda_check *out)
{
	const struct strata_gemm_cuda_config *cfg = &g->cfg;
	const size_t eb = g->nm->c_bytes;
	double *ref = malloc((size_t)len * 2 * sizeof(double));
	if (!ref)
		return -1;
	double *tol = ref + len;
#pragma omp parallel for schedule(dynamic, 16)
	for (int64_t x = 0; x < len; x++) {
		int64_t i = along == 'j' ? fixed : x, j = along == 'j' ? x : fixed;
		double abs_sum = 0;
		ref[x] = strata_gemm_gpu_reference(cfg->dtype, cfg->seed, i, j, cfg->k, &abs_sum);
		tol[x] = strata_gemm_gpu_tolerance(cfg->dtype, cfg->k, ref[x], abs_sum);
	}
	for (int64_t x = 0; x < len; x++)
		if (x != skip)
			tally(along == 'j' ? fixed : x, along == 'j' ? x : fixed, ref[x], tol[x],
			      strata_gemm_gpu_c_value(cfg->dtype, line + (size_t)x * eb), out);
	free(ref);
	return 0;
}

int64_t strata_gemm_cuda_check(struct strata_gemm_cuda *g, struct strata_gemm_cuda_check *out,
			       char *err, size_t err_len)
{
	const struct strata_gemm_cuda_config *cfg = &g->cfg;
	const size_t eb = g->nm->c_bytes;
	const int64_t m = cfg->m, n = cfg->n;
	unsigned long long nonfinite = 0;
	unsigned char elem[8];
	unsigned char *line = NULL;
	memset(out, 0, sizeof(*out));
	out->first_i = out->first_j = -1;

	STRATA_CUDA_CHECK(cudaMemsetAsync(g->d_count, 0, sizeof(*g->d_count), g->stream));
	STRATA_CUDA_CHECK((cudaError_t)strata_gemm_cuda_count_nonfinite(
		g->c, (int)cfg->dtype, m * n, g->d_count, g->stream));
	STRATA_CUDA_CHECK(cudaMemcpyAsync(&nonfinite, g->d_count, sizeof(nonfinite),
					  cudaMemcpyDeviceToHost, g->stream));
	STRATA_CUDA_CHECK(cudaStreamSynchronize(g->stream));
	out->nonfinite = (int64_t)nonfinite;

	/* Each element is checked once, so checked and wrong count elements:
	 * the corners and seeded samples that are not on the whole row or
	 * column and not drawn before, then the row, then the column less the
	 * element it shares with the row. */
	uint64_t h = strata_gemm_gpu_mix64(cfg->seed ^ 0x524f57ull);
	const int64_t row = (int64_t)(h % (uint64_t)m), col = (int64_t)((h >> 32) % (uint64_t)n);
	const int64_t corners[4][2] = { { 0, 0 }, { m - 1, 0 }, { 0, n - 1 }, { m - 1, n - 1 } };
	int64_t done[4 + STRATA_GEMM_CUDA_SAMPLES][2];
	int n_done = 0;
	for (int s = 0; s < 4 + STRATA_GEMM_CUDA_SAMPLES; s++) {
		int64_t i, j;
		if (s < 4) {
			i = corners[s][0];
			j = corners[s][1];
		} else {
			h = strata_gemm_gpu_mix64(cfg->seed ^ (0x5a4d5000ull + (uint64_t)s));
			i = (int64_t)(h % (uint64_t)m);
			j = (int64_t)((h >> 32) % (uint64_t)n);
		}
		int seen = i == row || j == col;
		for (int d = 0; d < n_done && !seen; d++)
			seen = done[d][0] == i && done[d][1] == j;
		if (seen)
			continue;
		done[n_done][0] = i;
		done[n_done++][1] = j;
		STRATA_CUDA_CHECK(cudaMemcpy(elem, (const char *)g->c + ((size_t)j * (size_t)m +
									(size_t)i) * eb,
					     eb, cudaMemcpyDeviceToHost));
		check_one(g, i, j, elem, out);
	}
	/* One whole row (strided in column-major storage) and one whole column. */
	line = malloc((size_t)(m > n ? m : n) * eb);
	if (!line)
		goto nomem;
	STRATA_CUDA_CHECK(cudaMemcpy2D(line, eb, (const char *)g->c + (size_t)row * eb,
				       (size_t)m * eb, eb, (size_t)n, cudaMemcpyDeviceToHost));
	if (check_line(g, row, 'j', n, -1, line, out) != 0)
		goto nomem;
	STRATA_CUDA_CHECK(cudaMemcpy(line, (const char *)g->c + (size_t)col * (size_t)m * eb,
				     (size_t)m * eb, cudaMemcpyDeviceToHost));
	if (check_line(g, col, 'i', m, row, line, out) != 0)
		goto nomem;
	free(line);
	return out->wrong > out->nonfinite ? out->wrong : out->nonfinite;
nomem:
	snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
fail:
	free(line);
	return -1;
}
