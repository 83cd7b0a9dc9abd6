/* gpt_cuda.c: the CUDA transformer's training side (see gpt_cuda.h): buffers,
 * matmuls, forward with the loss, backward with grads-ready callbacks, AdamW,
 * and copies to and from the host.
 *
 * Matmuls.  Linear layers go through cuBLASLt (cublasLtMatmul with BF16 A
 * and B, CUBLAS_COMPUTE_32F, FP32 scale; the forward adds the bias with the
 * CUBLASLT_EPILOGUE_BIAS epilogue and writes BF16; backward writes the input
 * gradient in FP32 and accumulates the weight gradient into the FP32
 * gradient array with beta = 1, cuBLASLt's documented type combinations).
 * The attention's batched products (one matrix per sequence and head) use
 * cublasGemmStridedBatchedEx, whose strided batch takes one call where
 * cuBLASLt would need batch attributes on three layouts; the same BF16-in,
 * FP32-accumulate arithmetic.  Row-major (N, IC) activations and (OC, IC)
 * weights are read by the column-major BLAS as their transposes: y^T (OC, N)
 * = W (as (IC,OC), op T) x^T (as (IC,N)), i.e. the "TN" product; the
 * backward's dx^T = W^T dy^T is "NN" and dW^T = x^T dy is "NT".
 * cuBLASLt assumes 256-byte aligned pointers unless told otherwise
 * (CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_*_BYTES, default 256), so every call
 * states the real alignment of its pointers (parameter tensors sit at
 * arbitrary offsets of the flat array); no preference covers the bias, so a
 * bias that is not 16-byte aligned is added by a kernel after the product
 * instead of by the epilogue; the heuristic's first algorithm is
 * taken (as llm.c does) and remembered per model for the same product.
 *
 * What it is not: tuned.  The attention forms the whole T x T score matrix
 * (as the PaLM FLOPs formula counts it); nothing is recomputed; GELU is not
 * fused into the matmul.
 */
#include "kernels/cuda/gpt_cuda.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gpt_cuda_internal.h"

/* ---- small helpers -------------------------------------------------------- */

int strata_gptc_alloc(struct strata_gpt_cuda *g, void **p, size_t bytes, char *err,
		      size_t err_len)
{
	*p = NULL;
	if (bytes == 0)
		bytes = 256; /* a valid pointer even for an empty buffer */
	STRATA_CUDA_CHECK(cudaMalloc(p, bytes));
	g->model_bytes += bytes;
	return 0;
fail:
	return -1;
}

void strata_gptc_sample_memory(struct strata_gpt_cuda *g)
{
	size_t free_b = 0, total_b = 0;
	if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
		cudaGetLastError(); /* not sticky; do not let it fail a later check */
		return;
	}
	g->total_bytes = total_b;
	if (total_b - free_b > g->used_peak_bytes)
		g->used_peak_bytes = total_b - free_b;
}

/* Largest power of two (<= 256) that divides the address. */
static uint32_t alignment_of(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	uint32_t al = 256;
	while (al > 1 && a % al)
		al >>= 1;
	return al;
}

static int set_attr_i32(cublasLtMatmulDesc_t op, cublasLtMatmulDescAttributes_t attr,
			int32_t value)
{
	return cublasLtMatmulDescSetAttribute(op, attr, &value, sizeof(value)) ==
			       CUBLAS_STATUS_SUCCESS
		       ? 0
		       : -1;
}

/* The cached heuristic answer for key, or NULL. */
static const struct strata_gptc_lt_entry *lt_lookup(const struct strata_gpt_cuda *g,
						    const struct strata_gptc_lt_key *key)
{
	for (int i = 0; i < g->lt_cache_n; i++)
		if (memcmp(&g->lt_cache[i].key, key, sizeof(*key)) == 0)
			return &g->lt_cache[i];
	return NULL;
}

static void lt_remember(struct strata_gpt_cuda *g, const struct strata_gptc_lt_key *key,
			int found, const cublasLtMatmulAlgo_t *algo)
{
	struct strata_gptc_lt_entry *e;
	if (g->lt_cache_n < STRATA_GPTC_LT_CACHE) {
		e = &g->lt_cache[g->lt_cache_n++];
	} else {
		e = &g->lt_cache[g->lt_cache_next];
		g->lt_cache_next = (g->lt_cache_next + 1) % STRATA_GPTC_LT_CACHE;
	}
	e->key = *key;
	e->found = found;
	if (found)
		e->algo = *algo;
}

/* D (m x n, column-major, leading dimension ldd, type dtype) = op(A) op(B)
 * + beta D (+ bias (m) broadcast over columns, BF16, when bias is not NULL);
 * A and B BF16.  A is (m x k) or, transposed, stored (k x m); B is (k x n)
 * or stored (n x k).  The heuristic's answer is cached per model under
 * everything it is told (shapes, types, epilogue, alignments). */
static int lt_matmul(struct strata_gpt_cuda *g, int transa, int transb, int m, int n, int k,
		     const void *A, int lda, const void *B, int ldb, void *D, int ldd,
		     cudaDataType_t dtype, const strata_bf16 *bias, float beta, char *err,
		     size_t err_len)
{
	cublasLtMatmulDesc_t op = NULL;
	cublasLtMatrixLayout_t la = NULL, lb = NULL, ldl = NULL;
	cublasLtMatmulPreference_t pref = NULL;
	cublasLtMatmulHeuristicResult_t heur;
	cublasLtMatmulAlgo_t algo;
	struct strata_gptc_lt_key key;
	int returned = 0, found = 0, rc = -1;
	const float alpha = 1.0f;
	const int32_t ta = transa ? CUBLAS_OP_T : CUBLAS_OP_N, tb = transb ? CUBLAS_OP_T : CUBLAS_OP_N;
	uint64_t ws = g->workspace_bytes;
	uint32_t al_a = alignment_of(A), al_b = alignment_of(B), al_d = alignment_of(D);

	if (m <= 0 || n <= 0 || k <= 0)
		return 0;
	if (bias && alignment_of(bias) < 16) {
		/* The preferences state A, B, C and D's alignment but not the
		 * bias's, so the heuristic may pick an epilogue that loads the
		 * bias 16 bytes at a time and faults ("misaligned address", which
		 * ends the context; PyTorch's gemm_and_bias and llm.c require a
		 * 16-byte aligned bias for the same reason): the plain product,
		 * then the bias by a kernel, as when no algorithm is found. */
		if (lt_matmul(g, transa, transb, m, n, k, A, lda, B, ldb, D, ldd, dtype, NULL, beta,
			      err, err_len) != 0)
			return -1;
		STRATA_GPTK_CHECK(strata_gptk_add_bias(D, bias, n, m, ldd, g->stream));
		return 0;
	}
	memset(&heur, 0, sizeof(heur));
	memset(&algo, 0, sizeof(algo));
	memset(&key, 0, sizeof(key)); /* field by field: no padding bytes left unset */
	key.transa = transa;
	key.transb = transb;
	key.m = m;
	key.n = n;
	key.k = k;
	key.lda = lda;
	key.ldb = ldb;
	key.ldd = ldd;
	key.dtype = (int32_t)dtype;
	key.bias = bias != NULL;
	key.beta_nonzero = beta != 0.0f;
	key.align_a = al_a;
	key.align_b = al_b;
	key.align_d = al_d;
	key.align_bias = bias ? alignment_of(bias) : 0;
	STRATA_CUBLAS_CHECK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
	if (set_attr_i32(op, CUBLASLT_MATMUL_DESC_TRANSA, ta) ||
	    set_attr_i32(op, CUBLASLT_MATMUL_DESC_TRANSB, tb)) {
		snprintf(err, err_len, "%s:%d: cublasLtMatmulDescSetAttribute(TRANSA/B) failed",
			 __FILE__, __LINE__);
		goto fail;
	}
	if (bias) {
		if (set_attr_i32(op, CUBLASLT_MATMUL_DESC_EPILOGUE, CUBLASLT_EPILOGUE_BIAS) ||
		    set_attr_i32(op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, CUDA_R_16BF)) {
			snprintf(err, err_len, "%s:%d: cublasLtMatmulDescSetAttribute(EPILOGUE) failed",
				 __FILE__, __LINE__);
			goto fail;
		}
		STRATA_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(
			op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
	}
	STRATA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, transa ? k : m,
						       transa ? m : k, lda));
	STRATA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, transb ? n : k,
						       transb ? k : n, ldb));
	STRATA_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&ldl, dtype, m, n, ldd));

	const struct strata_gptc_lt_entry *cached = lt_lookup(g, &key);
	if (cached) {
		found = cached->found;
		algo = cached->algo;
	} else {
		STRATA_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
		STRATA_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
			pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)));
		STRATA_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
			pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_a, sizeof(al_a)));
		STRATA_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
			pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_b, sizeof(al_b)));
		STRATA_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
			pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_d, sizeof(al_d)));
		STRATA_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
			pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_d, sizeof(al_d)));
		cublasStatus_t hs = cublasLtMatmulAlgoGetHeuristic(g->lt, op, la, lb, ldl, ldl, pref,
								   1, &heur, &returned);
		g->lt_heuristic_calls++;
		if (hs != CUBLAS_STATUS_NOT_SUPPORTED)
			STRATA_CUBLAS_CHECK(hs);
		found = hs == CUBLAS_STATUS_SUCCESS && returned > 0;
		if (found)
			algo = heur.algo;
		lt_remember(g, &key, found, &algo);
	}
	if (!found && bias) {
		/* No algorithm with the bias epilogue for this alignment: the
		 * plain product, then the bias by a kernel (D is the row-major
		 * (n, m) output of a linear layer). */
		if (lt_matmul(g, transa, transb, m, n, k, A, lda, B, ldb, D, ldd, dtype, NULL, beta,
			      err, err_len) != 0)
			goto fail;
		STRATA_GPTK_CHECK(strata_gptk_add_bias(D, bias, n, m, ldd, g->stream));
		rc = 0;
		goto fail; /* not a failure: the label releases the descriptors */
	}
	if (!found) {
		snprintf(err, err_len,
			 "%s:%d: cuBLASLt offers no BF16 algorithm for m %d n %d k %d (trans %d%d, "
			 "ld %d %d %d, alignment %u %u %u)",
			 __FILE__, __LINE__, m, n, k, transa, transb, lda, ldb, ldd, al_a, al_b, al_d);
		goto fail;
	}
	STRATA_CUBLAS_CHECK(cublasLtMatmul(g->lt, op, &alpha, A, la, B, lb, &beta, D, ldl, D, ldl,
					   &algo, g->workspace, g->workspace_bytes, g->stream));
	rc = 0;
fail:
	if (pref)
		cublasLtMatmulPreferenceDestroy(pref);
	if (ldl)
		cublasLtMatrixLayoutDestroy(ldl);
	if (lb)
		cublasLtMatrixLayoutDestroy(lb);
	if (la)
		cublasLtMatrixLayoutDestroy(la);
	if (op)
		cublasLtMatmulDescDestroy(op);
	return rc;
}

int strata_gptc_linear_forward(struct strata_gpt_cuda *g, strata_bf16 *out, int ldo,
			       const strata_bf16 *inp, const strata_bf16 *w,
			       const strata_bf16 *bias, int N, int IC, int OC, char *err,
			       size_t err_len)
{
	/* out^T (OC, N) = W (stored (IC, OC), op T) inp^T (stored (IC, N)) */
	return lt_matmul(g, 1, 0, OC, N, IC, w, IC, inp, IC, out, ldo, CUDA_R_16BF, bias, 0.0f,
			 err, err_len);
}

/* dinp (N,IC) FP32 = dout (N,OC) W (overwrites); dw (OC,IC) FP32 += dout^T
 * inp.  dout is BF16 with row stride ldout; inp BF16 (N, IC). */
static int linear_backward(struct strata_gpt_cuda *g, float *dinp, float *dw,
			   const strata_bf16 *dout, int ldout, const strata_bf16 *inp,
			   const strata_bf16 *w, int N, int IC, int OC, char *err, size_t err_len)
{
	/* dinp^T (IC, N) = W (stored (IC, OC)) dout^T (stored (OC, N)) */
	if (lt_matmul(g, 0, 0, IC, N, OC, w, IC, dout, ldout, dinp, IC, CUDA_R_32F, NULL, 0.0f, err,
		      err_len) != 0)
		return -1;
	/* dW^T (IC, OC) += inp^T (stored (IC, N)) dout (stored (OC, N), op T) */
	return lt_matmul(g, 0, 1, IC, OC, N, inp, IC, dout, ldout, dw, IC, CUDA_R_32F, NULL, 1.0f,
			 err, err_len);
}

/* Strided-batched C = alpha op(A) op(B) (beta 0), A and B BF16, C FP32 or
 * BF16, column-major, `batch` matrices. */
static int bgemm(struct strata_gpt_cuda *g, int transa, int transb, int m, int n, int k,
		 float alpha, const void *A, int lda, long long sa, const void *B, int ldb,
		 long long sb, void *C, cudaDataType_t ctype, int ldc, long long sc, int batch,
		 char *err, size_t err_len)
{
	const float beta = 0.0f;
	STRATA_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
		g->blas, transa ? CUBLAS_OP_T : CUBLAS_OP_N, transb ? CUBLAS_OP_T : CUBLAS_OP_N, m,
		n, k, &alpha, A, CUDA_R_16BF, lda, sa, B, CUDA_R_16BF, ldb, sb, &beta, C, ctype, ldc,
		sc, batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
	return 0;
fail:
	return -1;
}

int strata_gptc_copy_bf16_rows(struct strata_gpt_cuda *g, float *host, const strata_bf16 *dev,
			       int rows, int cols, int ld, char *err, size_t err_len)
{
	uint16_t *tmp = NULL;
	if (rows <= 0 || cols <= 0)
		return 0;
	tmp = malloc((size_t)rows * (size_t)cols * sizeof(*tmp));
	if (!tmp) {
		snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
		return -1;
	}
	STRATA_CUDA_CHECK(cudaMemcpy2DAsync(tmp, (size_t)cols * 2, dev, (size_t)ld * 2,
					    (size_t)cols * 2, (size_t)rows, cudaMemcpyDeviceToHost,
					    g->stream));
	STRATA_CUDA_CHECK(cudaStreamSynchronize(g->stream));
	for (size_t i = 0; i < (size_t)rows * (size_t)cols; i++) {
		uint32_t bits = (uint32_t)tmp[i] << 16; /* BF16 is FP32's top half */
		memcpy(&host[i], &bits, sizeof(bits));
	}
	free(tmp);
	return 0;
fail:
	free(tmp);
	return -1;
}

/* ---- the tensor table ----------------------------------------------------- */

/* Floats tensor kind holds for shape cfg (gpt.h's layout comment). */
static size_t expected_count(const struct strata_gpt_config *c, enum strata_gpt_tensor_kind kind)
{
	const size_t C = (size_t)c->d_model;
	switch (kind) {
	case STRATA_GPT_WTE: return (size_t)c->vocab * C;
	case STRATA_GPT_WPE: return (size_t)c->max_seq * C;
	case STRATA_GPT_QKVW: return 3 * C * C;
	case STRATA_GPT_QKVB: return 3 * C;
	case STRATA_GPT_ATTPROJW: return C * C;
	case STRATA_GPT_FCW: return 4 * C * C;
	case STRATA_GPT_FCB: return 4 * C;
	case STRATA_GPT_FCPROJW: return 4 * C * C;
	default: return C; /* layernorm gains and biases, attprojb, fcprojb */
	}
}

static int is_layer_kind(enum strata_gpt_tensor_kind kind)
{
	return kind >= STRATA_GPT_LN1W && kind <= STRATA_GPT_FCPROJB;
}

/* Read offsets, grads-ready ranges and AdamW decay runs from init's table,
 * checking it against gpt.h's layout. */
static int read_table(struct strata_gpt_cuda *g, const struct strata_gpt *init, char *err,
		      size_t err_len)
{
	const struct strata_gpt_config *c = &g->cfg;
	const int L = c->layers;
	size_t total = 0;
	g->loff = calloc((size_t)L * STRATA_GPT_N_KINDS, sizeof(*g->loff));
	g->layer_off = calloc((size_t)L, sizeof(*g->layer_off));
	g->layer_count = calloc((size_t)L, sizeof(*g->layer_count));
	g->runs = calloc(init->n_tensors ? init->n_tensors : 1, sizeof(*g->runs));
	unsigned char *seen = calloc((size_t)(L + 1) * STRATA_GPT_N_KINDS, 1);
	if (!g->loff || !g->layer_off || !g->layer_count || !g->runs || !seen) {
		free(seen);
		snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
		return -1;
	}
	for (int l = 0; l < L; l++)
		g->layer_off[l] = (size_t)-1;
	for (size_t i = 0; i < init->n_tensors; i++) {
		const struct strata_gpt_tensor *t = &init->tensors[i];
		const int layer_kind = is_layer_kind(t->kind);
		if ((int)t->kind < 0 || t->kind >= STRATA_GPT_N_KINDS ||
		    (layer_kind ? (t->layer < 0 || t->layer >= L) : t->layer != -1) ||
		    t->count != expected_count(c, t->kind) || t->offset + t->count > g->n_params) {
			snprintf(err, err_len,
				 "%s:%d: tensor table entry %zu (kind %d, layer %d, offset %zu, count "
				 "%zu) does not match gpt.h's layout",
				 __FILE__, __LINE__, i, (int)t->kind, t->layer, t->offset, t->count);
			free(seen);
			return -1;
		}
		seen[(size_t)(layer_kind ? t->layer : L) * STRATA_GPT_N_KINDS + t->kind] = 1;
		total += t->count;
		if (layer_kind) {
			STRATA_GPTC_L(g, t->layer, t->kind) = t->offset;
			if (t->offset < g->layer_off[t->layer])
				g->layer_off[t->layer] = t->offset;
			g->layer_count[t->layer] += t->count;
		} else {
			g->goff[t->kind] = t->offset;
		}
		/* AdamW runs: the table is in array order (gpt.h) */
		struct strata_gptc_run *last = g->n_runs ? &g->runs[g->n_runs - 1] : NULL;
		if (last && last->decay == !!t->decay && last->offset + last->count == t->offset)
			last->count += t->count;
		else
			g->runs[g->n_runs++] = (struct strata_gptc_run){ t->offset, t->count, !!t->decay };
	}
	int missing = total != g->n_params;
	for (int l = 0; l <= L && !missing; l++)
		for (int kind = 0; kind < STRATA_GPT_N_KINDS; kind++)
			if ((l < L) == is_layer_kind((enum strata_gpt_tensor_kind)kind) &&
			    !seen[(size_t)l * STRATA_GPT_N_KINDS + kind])
				missing = 1;
	free(seen);
	if (missing) {
		snprintf(err, err_len,
			 "%s:%d: the tensor table does not cover the %zu parameters once per tensor",
			 __FILE__, __LINE__, g->n_params);
		return -1;
	}
	g->lnf_off = STRATA_GPTC_G(g, STRATA_GPT_LNFW);
	g->lnf_count = 2 * (size_t)c->d_model;
	g->emb_off = STRATA_GPTC_G(g, STRATA_GPT_WTE);
	g->emb_count = expected_count(c, STRATA_GPT_WTE) + expected_count(c, STRATA_GPT_WPE);
	if (STRATA_GPTC_G(g, STRATA_GPT_LNFB) != g->lnf_off + (size_t)c->d_model ||
	    STRATA_GPTC_G(g, STRATA_GPT_WPE) != g->emb_off + expected_count(c, STRATA_GPT_WTE)) {
		snprintf(err, err_len, "%s:%d: lnfw/lnfb or wte/wpe are not contiguous", __FILE__,
			 __LINE__);
		return -1;
	}
	return 0;
}

/* ---- create / destroy ----------------------------------------------------- */

#define ALLOC(ptr, n)                                                                        \
	do {                                                                                 \
		if (strata_gptc_alloc(g, (void **)&(ptr), (size_t)(n) * sizeof(*(ptr)), err,  \
				      err_len) != 0)                                         \
			goto fail;                                                           \
	} while (0)

static int alloc_buffers(struct strata_gpt_cuda *g, char *err, size_t err_len)
{
	const size_t L = (size_t)g->cfg.layers, C = (size_t)g->cfg.d_model;
	const size_t NH = (size_t)g->cfg.heads;
	const size_t N = (size_t)g->max_B * (size_t)g->max_T;
	const size_t TT = (size_t)g->max_B * NH * (size_t)g->max_T * (size_t)g->max_T;
	const size_t P = g->n_params;

	ALLOC(g->params, P);
	ALLOC(g->grads, P);
	ALLOC(g->params16, P);
	ALLOC(g->inputs, N);
	ALLOC(g->targets, N);
	STRATA_CUDA_CHECK(cudaMallocHost((void **)&g->h_inputs, N * sizeof(int)));
	STRATA_CUDA_CHECK(cudaMallocHost((void **)&g->h_targets, N * sizeof(int)));
	STRATA_CUDA_CHECK(cudaMallocHost((void **)&g->h_losses, N * sizeof(float)));

	ALLOC(g->resid, (2 * L + 1) * N * C);
	ALLOC(g->ln1_mean, L * N);
	ALLOC(g->ln1_rstd, L * N);
	ALLOC(g->ln2_mean, L * N);
	ALLOC(g->ln2_rstd, L * N);
	ALLOC(g->lnf_mean, N);
	ALLOC(g->lnf_rstd, N);
	ALLOC(g->ln1, L * N * C);
	ALLOC(g->ln2, L * N * C);
	ALLOC(g->lnf, N * C);
	ALLOC(g->qkv, L * N * 3 * C);
	ALLOC(g->att, L * TT);
	ALLOC(g->atty, L * N * C);
	ALLOC(g->fch, L * N * 4 * C);
	ALLOC(g->fch_gelu, L * N * 4 * C);
	ALLOC(g->logits, N * (size_t)g->Vp);
	ALLOC(g->losses, N);

	ALLOC(g->q, N * C);
	ALLOC(g->k, N * C);
	ALLOC(g->vh, N * C);
	ALLOC(g->yh, N * C);
	ALLOC(g->preatt, TT);
	ALLOC(g->dpreatt, TT);
	ALLOC(g->branch, N * C);
	ALLOC(g->dres, N * C);
	ALLOC(g->dres16, N * C);
	ALLOC(g->dln, N * C);
	ALLOC(g->datty, N * C);
	ALLOC(g->dfch, N * 4 * C);
	ALLOC(g->dfch16, N * 4 * C);
	ALLOC(g->dq, N * C);
	ALLOC(g->dk, N * C);
	ALLOC(g->dv, N * C);
	ALLOC(g->dqkv, N * 3 * C);
	/* logits padding columns stay zero (never read, but defined) */
	STRATA_CUDA_CHECK(cudaMemsetAsync(g->logits, 0, N * (size_t)g->Vp * 2, g->stream));
	return 0;
fail:
	return -1;
}

int strata_gpt_cuda_create(const struct strata_gpt *init, int max_B, int max_T,
			   struct strata_gpt_cuda **out, char *err, size_t err_len)
{
	*out = NULL;
	if (strata_gpt_config_check(&init->cfg, err, err_len) != 0)
		return -1;
	if (max_B < 1 || max_T < 1 || max_T > init->cfg.max_seq) {
		snprintf(err, err_len, "%s:%d: max_B %d, max_T %d: need max_B >= 1 and 1 <= max_T <= "
			 "max_seq %d", __FILE__, __LINE__, max_B, max_T, init->cfg.max_seq);
		return -1;
	}
	if (!init->params || !init->tensors) {
		snprintf(err, err_len, "%s:%d: the CPU model has no parameters or tensor table",
			 __FILE__, __LINE__);
		return -1;
	}
	struct strata_gpt_cuda *g = calloc(1, sizeof(*g));
	if (!g) {
		snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
		return -1;
	}
	g->cfg = init->cfg;
	g->max_B = max_B;
	g->max_T = max_T;
	g->n_params = strata_gpt_param_count(&g->cfg);
	g->Vp = (g->cfg.vocab + 63) / 64 * 64;
	if (init->n_params != g->n_params) {
		snprintf(err, err_len, "%s:%d: the CPU model has %zu parameters, its config %zu",
			 __FILE__, __LINE__, init->n_params, g->n_params);
		goto fail;
	}
	if (read_table(g, init, err, err_len) != 0)
		goto fail;

	STRATA_CUDA_CHECK(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking));
	STRATA_CUDA_CHECK(cudaEventCreate(&g->h2d0));
	STRATA_CUDA_CHECK(cudaEventCreate(&g->h2d1));
	STRATA_CUBLAS_CHECK(cublasLtCreate(&g->lt));
	STRATA_CUBLAS_CHECK(cublasCreate(&g->blas));
	STRATA_CUBLAS_CHECK(cublasSetStream(g->blas, g->stream));
	g->workspace_bytes = STRATA_GPT_CUDA_WORKSPACE_BYTES;
	if (strata_gptc_alloc(g, &g->workspace, g->workspace_bytes, err, err_len) != 0)
		goto fail;
	if (alloc_buffers(g, err, err_len) != 0)
		goto fail;
	if (strata_gpt_cuda_set_params(g, init->params, err, err_len) != 0)
		goto fail;
	STRATA_CUDA_CHECK(cudaMemsetAsync(g->grads, 0, g->n_params * sizeof(float), g->stream));
	STRATA_CUDA_CHECK(cudaStreamSynchronize(g->stream));
	strata_gptc_sample_memory(g);
	*out = g;
	return 0;
fail:
	strata_gpt_cuda_destroy(g);
	return -1;
}

void strata_gpt_cuda_destroy(struct strata_gpt_cuda *g)
{
	if (!g)
		return;
	if (g->stream)
		cudaStreamSynchronize(g->stream);
	void *dev[] = { g->params, g->grads, g->m, g->v, g->params16, g->inputs, g->targets,
			g->resid, g->ln1_mean, g->ln1_rstd, g->ln2_mean, g->ln2_rstd, g->lnf_mean,
			g->lnf_rstd, g->ln1, g->ln2, g->lnf, g->qkv, g->att, g->atty, g->fch,
			g->fch_gelu, g->logits, g->losses, g->q, g->k, g->vh, g->yh, g->preatt,
			g->dpreatt, g->branch, g->dres, g->dres16, g->dln, g->datty, g->dfch,
			g->dfch16, g->dq, g->dk, g->dv, g->dqkv, g->workspace };
	for (size_t i = 0; i < sizeof(dev) / sizeof(dev[0]); i++)
		cudaFree(dev[i]);
	cudaFreeHost(g->h_inputs);
	cudaFreeHost(g->h_targets);
	cudaFreeHost(g->h_losses);
	if (g->blas)
		cublasDestroy(g->blas);
	if (g->lt)
		cublasLtDestroy(g->lt);
	if (g->h2d0)
		cudaEventDestroy(g->h2d0);
	if (g->h2d1)
		cudaEventDestroy(g->h2d1);
	if (g->stream)
		cudaStreamDestroy(g->stream);
	free(g->loff);
	free(g->layer_off);
	free(g->layer_count);
	free(g->runs);
	free(g);
}

const struct strata_gpt_config *strata_gpt_cuda_config(const struct strata_gpt_cuda *g)
{
	return &g->cfg;
}

size_t strata_gpt_cuda_param_count(const struct strata_gpt_cuda *g)
{
	return g->n_params;
}

void *strata_gpt_cuda_stream(const struct strata_gpt_cuda *g)
{
	return (void *)g->stream;
}

float *strata_gpt_cuda_grads_device(struct strata_gpt_cuda *g)
{
	return g->grads;
}

float *strata_gpt_cuda_params_device(struct strata_gpt_cuda *g)
{
	return g->params;
}

void strata_gpt_cuda_memory(const struct strata_gpt_cuda *g, struct strata_gpt_cuda_memory *out)
{
	out->model_bytes = g->model_bytes;
	out->device_used_peak_bytes = g->used_peak_bytes;
	out->device_total_bytes = g->total_bytes;
}

/* ---- forward -------------------------------------------------------------- */

#define P32(g, off) ((g)->params + (off))
#define P16(g, off) ((g)->params16 + (off))
#define GRAD(g, off) ((g)->grads + (off))

/* Causal self-attention of layer l: qkv[l] -> att[l], atty[l]. */
static int attention_forward(struct strata_gpt_cuda *g, int l, char *err, size_t err_len)
{
	const int B = g->B, T = g->T, C = g->cfg.d_model, NH = g->cfg.heads, hs = C / NH;
	const size_t N = (size_t)B * T;
	const long long TT = (long long)T * T, Ths = (long long)T * hs;
	const strata_bf16 *qkv = g->qkv + (size_t)l * N * 3 * C;
	strata_bf16 *att = g->att + (size_t)l * (size_t)B * NH * (size_t)TT;
	const float scale = 1.0f / sqrtf((float)hs);

	STRATA_GPTK_CHECK(strata_gptk_permute_qkv(g->q, g->k, g->vh, qkv, B, T, NH, hs, g->stream));
	/* preatt[t][j] = scale q_t . k_j: column-major (j, t) = K (stored (hs,T),
	 * op T) Q^T (stored (hs, T)) */
	if (bgemm(g, 1, 0, T, T, hs, scale, g->k, hs, Ths, g->q, hs, Ths, g->preatt, CUDA_R_32F, T,
		  TT, B * NH, err, err_len) != 0)
		goto fail;
	STRATA_GPTK_CHECK(strata_gptk_attn_softmax_forward(att, g->preatt, (long)B * NH * T, T,
							   g->stream));
	/* y[t][d] = sum_j att[t][j] v[j][d]: column-major (d, t) = V^T (stored
	 * (hs, T)) att^T (stored (T, T)) */
	if (bgemm(g, 0, 0, hs, T, T, 1.0f, g->vh, hs, Ths, att, T, TT, g->yh, CUDA_R_16BF, hs, Ths,
		  B * NH, err, err_len) != 0)
		goto fail;
	STRATA_GPTK_CHECK(strata_gptk_unpermute(g->atty + (size_t)l * N * C, g->yh, B, T, NH, hs,
						g->stream));
	return 0;
fail:
	return -1;
}

int strata_gpt_cuda_forward(struct strata_gpt_cuda *g, const int *inputs, const int *targets,
			    int B, int T, float *mean_loss, char *err, size_t err_len)
{
	const int C = g->cfg.d_model, L = g->cfg.layers, V = g->cfg.vocab;
	if (mean_loss)
		*mean_loss = -1.0f;
	g->have_loss = 0;
	if (B < 1 || T < 1 || B > g->max_B || T > g->max_T) {
		snprintf(err, err_len, "%s:%d: B %d, T %d outside 1..max_B %d, 1..max_T %d", __FILE__,
			 __LINE__, B, T, g->max_B, g->max_T);
		return -1;
	}
	const size_t N = (size_t)B * T, NC = N * (size_t)C;
	for (size_t i = 0; i < N; i++) {
		if (inputs[i] < 0 || inputs[i] >= V || (targets && (targets[i] < 0 || targets[i] >= V))) {
			snprintf(err, err_len, "%s:%d: token %zu: input %d / target %d outside 0..%d",
				 __FILE__, __LINE__, i, inputs[i], targets ? targets[i] : 0, V - 1);
			return -1;
		}
	}
	g->B = B;
	g->T = T;
	/* The staging buffers are free: the previous forward with targets, or
	 * this synchronise, waited for the copies that read them. */
	STRATA_CUDA_CHECK(cudaEventSynchronize(g->h2d1));
	memcpy(g->h_inputs, inputs, N * sizeof(int));
	if (targets)
		memcpy(g->h_targets, targets, N * sizeof(int));
	STRATA_CUDA_CHECK(cudaEventRecord(g->h2d0, g->stream));
	STRATA_CUDA_CHECK(cudaMemcpyAsync(g->inputs, g->h_inputs, N * sizeof(int),
					  cudaMemcpyHostToDevice, g->stream));
	if (targets)
		STRATA_CUDA_CHECK(cudaMemcpyAsync(g->targets, g->h_targets, N * sizeof(int),
						  cudaMemcpyHostToDevice, g->stream));
	STRATA_CUDA_CHECK(cudaEventRecord(g->h2d1, g->stream));
	g->h2d_recorded = 1;

	STRATA_GPTK_CHECK(strata_gptk_encoder_forward(g->resid, g->inputs, NULL,
						      P32(g, STRATA_GPTC_G(g, STRATA_GPT_WTE)),
						      P32(g, STRATA_GPTC_G(g, STRATA_GPT_WPE)),
						      (int)N, T, C, g->stream));
	for (int l = 0; l < L; l++) {
		const float *x = g->resid + (size_t)(2 * l) * NC;
		float *xa = g->resid + (size_t)(2 * l + 1) * NC;
		float *xm = g->resid + (size_t)(2 * l + 2) * NC;
		strata_bf16 *ln1 = g->ln1 + (size_t)l * NC, *ln2 = g->ln2 + (size_t)l * NC;
		strata_bf16 *qkv = g->qkv + (size_t)l * NC * 3;
		strata_bf16 *fch = g->fch + (size_t)l * NC * 4, *fchg = g->fch_gelu + (size_t)l * NC * 4;

		STRATA_GPTK_CHECK(strata_gptk_layernorm_forward(
			ln1, g->ln1_mean + (size_t)l * N, g->ln1_rstd + (size_t)l * N, x,
			P32(g, STRATA_GPTC_L(g, l, STRATA_GPT_LN1W)),
			P32(g, STRATA_GPTC_L(g, l, STRATA_GPT_LN1B)), (int)N, C, g->stream));
		if (strata_gptc_linear_forward(g, qkv, 3 * C, ln1,
					       P16(g, STRATA_GPTC_L(g, l, STRATA_GPT_QKVW)),
					       P16(g, STRATA_GPTC_L(g, l, STRATA_GPT_QKVB)), (int)N, C,
					       3 * C, err, err_len) != 0 ||
		    attention_forward(g, l, err, err_len) != 0 ||
		    strata_gptc_linear_forward(g, g->branch, C, g->atty + (size_t)l * NC,
					       P16(g, STRATA_GPTC_L(g, l, STRATA_GPT_ATTPROJW)),
					       P16(g, STRATA_GPTC_L(g, l, STRATA_GPT_ATTPROJB)),
					       (int)N, C, C, err, err_len) != 0)
			goto fail;
		STRATA_GPTK_CHECK(strata_gptk_residual_forward(xa, x, g->branch, (long)NC, g->stream));
		STRATA_GPTK_CHECK(strata_gptk_layernorm_forward(
			ln2, g->ln2_mean + (size_t)l * N, g->ln2_rstd + (size_t)l * N, xa,
			P32(g, STRATA_GPTC_L(g, l, STRATA_GPT_LN2W)),
			P32(g, STRATA_GPTC_L(g, l, STRATA_GPT_LN2B)), (int)N, C, g->stream));
		if (strata_gptc_linear_forward(g, fch, 4 * C, ln2,
					       P16(g, STRATA_GPTC_L(g, l, STRATA_GPT_FCW)),
					       P16(g, STRATA_GPTC_L(g, l, STRATA_GPT_FCB)), (int)N, C,
					       4 * C, err, err_len) != 0)
			goto fail;
		STRATA_GPTK_CHECK(strata_gptk_gelu_forward(fchg, fch, (long)NC * 4, g->stream));
		if (strata_gptc_linear_forward(g, g->branch, C, fchg,
					       P16(g, STRATA_GPTC_L(g, l, STRATA_GPT_FCPROJW)),
					       P16(g, STRATA_GPTC_L(g, l, STRATA_GPT_FCPROJB)),
					       (int)N, 4 * C, C, err, err_len) != 0)
			goto fail;
		STRATA_GPTK_CHECK(strata_gptk_residual_forward(xm, xa, g->branch, (long)NC, g->stream));
	}
	STRATA_GPTK_CHECK(strata_gptk_layernorm_forward(
		g->lnf, g->lnf_mean, g->lnf_rstd, g->resid + (size_t)(2 * L) * NC,
		P32(g, STRATA_GPTC_G(g, STRATA_GPT_LNFW)), P32(g, STRATA_GPTC_G(g, STRATA_GPT_LNFB)),
		(int)N, C, g->stream));
	/* logits (N, V) = lnf wte^T, rows Vp apart (the tied output projection) */
	if (strata_gptc_linear_forward(g, g->logits, g->Vp, g->lnf,
				       P16(g, STRATA_GPTC_G(g, STRATA_GPT_WTE)), NULL, (int)N, C, V,
				       err, err_len) != 0)
		goto fail;
	if (targets) {
		STRATA_GPTK_CHECK(strata_gptk_xent_forward(g->losses, g->logits, g->targets, (int)N, V,
							   g->Vp, g->stream));
		STRATA_CUDA_CHECK(cudaMemcpyAsync(g->h_losses, g->losses, N * sizeof(float),
						  cudaMemcpyDeviceToHost, g->stream));
		STRATA_CUDA_CHECK(cudaStreamSynchronize(g->stream));
		double sum = 0;
		for (size_t i = 0; i < N; i++)
			sum += g->h_losses[i];
		if (mean_loss)
			*mean_loss = (float)(sum / (double)N);
		g->have_loss = 1;
	}
	strata_gptc_sample_memory(g);
	return 0;
fail:
	return -1;
}

int strata_gpt_cuda_h2d_seconds(struct strata_gpt_cuda *g, double *seconds, char *err,
				size_t err_len)
{
	float ms = 0;
	*seconds = 0;
	if (!g->h2d_recorded)
		return 0;
	STRATA_CUDA_CHECK(cudaEventSynchronize(g->h2d1));
	STRATA_CUDA_CHECK(cudaEventElapsedTime(&ms, g->h2d0, g->h2d1));
	*seconds = (double)ms * 1e-3;
	return 0;
fail:
	return -1;
}

int strata_gpt_cuda_get_logits(struct strata_gpt_cuda *g, float *logits, char *err,
			       size_t err_len)
{
	return strata_gptc_copy_bf16_rows(g, logits, g->logits, g->B * g->T, g->cfg.vocab, g->Vp,
					  err, err_len);
}

/* ---- backward ------------------------------------------------------------- */

static void ready_range(struct strata_gpt_cuda *g, strata_gpt_cuda_grads_ready_fn ready,
			void *ctx, size_t offset, size_t count)
{
	if (ready)
		ready(ctx, g->grads, offset, count, (void *)g->stream);
}

/* Backward of layer l's attention: dy = datty -> dqkv (BF16). */
static int attention_backward(struct strata_gpt_cuda *g, int l, char *err, size_t err_len)
{
	const int B = g->B, T = g->T, C = g->cfg.d_model, NH = g->cfg.heads, hs = C / NH;
	const size_t N = (size_t)B * T;
	const long long TT = (long long)T * T, Ths = (long long)T * hs;
	const strata_bf16 *qkv = g->qkv + (size_t)l * N * 3 * C;
	const strata_bf16 *att = g->att + (size_t)l * (size_t)B * NH * (size_t)TT;
	const float scale = 1.0f / sqrtf((float)hs);
	float *datt = g->preatt;
	strata_bf16 *dy = g->yh;

	STRATA_GPTK_CHECK(strata_gptk_permute_qkv(g->q, g->k, g->vh, qkv, B, T, NH, hs, g->stream));
	STRATA_GPTK_CHECK(strata_gptk_permute_dout(dy, g->datty, B, T, NH, hs, g->stream));
	/* datt[t][j] = dy_t . v_j (same form as the scores) */
	if (bgemm(g, 1, 0, T, T, hs, 1.0f, g->vh, hs, Ths, dy, hs, Ths, datt, CUDA_R_32F, T, TT,
		  B * NH, err, err_len) != 0)
		goto fail;
	/* dv[j][d] = sum_t att[t][j] dy[t][d]: column-major (d, j) = dy^T
	 * (stored (hs, T)) att (stored (T, T), op T) */
	if (bgemm(g, 0, 1, hs, T, T, 1.0f, dy, hs, Ths, att, T, TT, g->dv, CUDA_R_32F, hs, Ths,
		  B * NH, err, err_len) != 0)
		goto fail;
	STRATA_GPTK_CHECK(strata_gptk_attn_softmax_backward(g->dpreatt, att, datt, (long)B * NH * T,
							    T, g->stream));
	/* dq[t][d] = scale sum_j dpre[t][j] k[j][d] (same form as att V) */
	if (bgemm(g, 0, 0, hs, T, T, scale, g->k, hs, Ths, g->dpreatt, T, TT, g->dq, CUDA_R_32F, hs,
		  Ths, B * NH, err, err_len) != 0)
		goto fail;
	/* dk[j][d] = scale sum_t dpre[t][j] q[t][d] (same form as dv) */
	if (bgemm(g, 0, 1, hs, T, T, scale, g->q, hs, Ths, g->dpreatt, T, TT, g->dk, CUDA_R_32F, hs,
		  Ths, B * NH, err, err_len) != 0)
		goto fail;
	STRATA_GPTK_CHECK(strata_gptk_unpermute_dqkv(g->dqkv, g->dq, g->dk, g->dv, B, T, NH, hs,
						     g->stream));
	return 0;
fail:
	return -1;
}

int strata_gpt_cuda_zero_grad(struct strata_gpt_cuda *g, char *err, size_t err_len)
{
	STRATA_CUDA_CHECK(cudaMemsetAsync(g->grads, 0, g->n_params * sizeof(float), g->stream));
	return 0;
fail:
	return -1;
}

int strata_gpt_cuda_backward(struct strata_gpt_cuda *g, strata_gpt_cuda_grads_ready_fn ready,
			     void *ctx, char *err, size_t err_len)
{
	const int B = g->B, T = g->T, C = g->cfg.d_model, L = g->cfg.layers, V = g->cfg.vocab;
	const size_t N = (size_t)B * T, NC = N * (size_t)C;
	if (!g->have_loss) {
		snprintf(err, err_len, "%s:%d: backward needs a forward with targets before it",
			 __FILE__, __LINE__);
		return -1;
	}
	g->have_loss = 0; /* the logits become their gradient */
	STRATA_CUDA_CHECK(cudaMemsetAsync(g->dres, 0, NC * sizeof(float), g->stream));
	/* d mean_loss / d loss_n = 1/N; dlogits in place of the logits */
	STRATA_GPTK_CHECK(strata_gptk_xent_backward(g->logits, g->targets, 1.0f / (float)N, (int)N,
						    V, g->Vp, g->stream));
	if (linear_backward(g, g->dln, GRAD(g, STRATA_GPTC_G(g, STRATA_GPT_WTE)), g->logits, g->Vp,
			    g->lnf, P16(g, STRATA_GPTC_G(g, STRATA_GPT_WTE)), (int)N, C, V, err,
			    err_len) != 0)
		goto fail;
	STRATA_GPTK_CHECK(strata_gptk_layernorm_backward(
		g->dres, GRAD(g, STRATA_GPTC_G(g, STRATA_GPT_LNFW)),
		GRAD(g, STRATA_GPTC_G(g, STRATA_GPT_LNFB)), g->dln, g->resid + (size_t)(2 * L) * NC,
		P32(g, STRATA_GPTC_G(g, STRATA_GPT_LNFW)), g->lnf_mean, g->lnf_rstd, (int)N, C,
		g->stream));
	ready_range(g, ready, ctx, g->lnf_off, g->lnf_count);

	for (int l = L - 1; l >= 0; l--) {
		const float *x = g->resid + (size_t)(2 * l) * NC;
		const float *xa = g->resid + (size_t)(2 * l + 1) * NC;
		const strata_bf16 *ln1 = g->ln1 + (size_t)l * NC, *ln2 = g->ln2 + (size_t)l * NC;
		const strata_bf16 *fch = g->fch + (size_t)l * NC * 4;
		const strata_bf16 *fchg = g->fch_gelu + (size_t)l * NC * 4;
#define LOFF(kind) STRATA_GPTC_L(g, l, kind)
		/* MLP: xm = xa + fcproj(gelu(fc(ln2(xa)))); dres = d xm */
		STRATA_GPTK_CHECK(strata_gptk_f32_to_bf16(g->dres16, g->dres, (long)NC, g->stream));
		if (linear_backward(g, g->dfch, GRAD(g, LOFF(STRATA_GPT_FCPROJW)), g->dres16, C, fchg,
				    P16(g, LOFF(STRATA_GPT_FCPROJW)), (int)N, 4 * C, C, err,
				    err_len) != 0)
			goto fail;
		STRATA_GPTK_CHECK(strata_gptk_bias_grad_f32(GRAD(g, LOFF(STRATA_GPT_FCPROJB)), g->dres,
							    (int)N, C, g->stream));
		STRATA_GPTK_CHECK(strata_gptk_gelu_backward(g->dfch16, fch, g->dfch, (long)NC * 4,
							    g->stream));
		if (linear_backward(g, g->dln, GRAD(g, LOFF(STRATA_GPT_FCW)), g->dfch16, 4 * C, ln2,
				    P16(g, LOFF(STRATA_GPT_FCW)), (int)N, C, 4 * C, err,
				    err_len) != 0)
			goto fail;
		STRATA_GPTK_CHECK(strata_gptk_bias_grad_bf16(GRAD(g, LOFF(STRATA_GPT_FCB)), g->dfch16,
							     (int)N, 4 * C, g->stream));
		STRATA_GPTK_CHECK(strata_gptk_layernorm_backward(
			g->dres, GRAD(g, LOFF(STRATA_GPT_LN2W)), GRAD(g, LOFF(STRATA_GPT_LN2B)), g->dln,
			xa, P32(g, LOFF(STRATA_GPT_LN2W)), g->ln2_mean + (size_t)l * N,
			g->ln2_rstd + (size_t)l * N, (int)N, C, g->stream));
		/* attention: xa = x + attproj(attn(ln1(x))); dres = d xa */
		STRATA_GPTK_CHECK(strata_gptk_f32_to_bf16(g->dres16, g->dres, (long)NC, g->stream));
		if (linear_backward(g, g->datty, GRAD(g, LOFF(STRATA_GPT_ATTPROJW)), g->dres16, C,
				    g->atty + (size_t)l * NC, P16(g, LOFF(STRATA_GPT_ATTPROJW)),
				    (int)N, C, C, err, err_len) != 0)
			goto fail;
		STRATA_GPTK_CHECK(strata_gptk_bias_grad_f32(GRAD(g, LOFF(STRATA_GPT_ATTPROJB)),
							    g->dres, (int)N, C, g->stream));
		if (attention_backward(g, l, err, err_len) != 0)
			goto fail;
		if (linear_backward(g, g->dln, GRAD(g, LOFF(STRATA_GPT_QKVW)), g->dqkv, 3 * C, ln1,
				    P16(g, LOFF(STRATA_GPT_QKVW)), (int)N, C, 3 * C, err,
				    err_len) != 0)
			goto fail;
		STRATA_GPTK_CHECK(strata_gptk_bias_grad_bf16(GRAD(g, LOFF(STRATA_GPT_QKVB)), g->dqkv,
							     (int)N, 3 * C, g->stream));
		STRATA_GPTK_CHECK(strata_gptk_layernorm_backward(
			g->dres, GRAD(g, LOFF(STRATA_GPT_LN1W)), GRAD(g, LOFF(STRATA_GPT_LN1B)), g->dln,
			x, P32(g, LOFF(STRATA_GPT_LN1W)), g->ln1_mean + (size_t)l * N,
			g->ln1_rstd + (size_t)l * N, (int)N, C, g->stream));
#undef LOFF
		ready_range(g, ready, ctx, g->layer_off[l], g->layer_count[l]);
	}
	STRATA_GPTK_CHECK(strata_gptk_encoder_backward(GRAD(g, STRATA_GPTC_G(g, STRATA_GPT_WTE)),
						       GRAD(g, STRATA_GPTC_G(g, STRATA_GPT_WPE)),
						       g->dres, g->inputs, B, T, C, g->stream));
	ready_range(g, ready, ctx, g->emb_off, g->emb_count);
	strata_gptc_sample_memory(g);
	return 0;
fail:
	return -1;
}

/* ---- AdamW ---------------------------------------------------------------- */

int strata_gpt_cuda_adamw_init(struct strata_gpt_cuda *g, float beta1, float beta2, float eps,
			       float weight_decay, char *err, size_t err_len)
{
	if (!g->m) {
		ALLOC(g->m, g->n_params);
		ALLOC(g->v, g->n_params);
	}
	STRATA_CUDA_CHECK(cudaMemsetAsync(g->m, 0, g->n_params * sizeof(float), g->stream));
	STRATA_CUDA_CHECK(cudaMemsetAsync(g->v, 0, g->n_params * sizeof(float), g->stream));
	g->beta1 = beta1;
	g->beta2 = beta2;
	g->eps = eps;
	g->weight_decay = weight_decay;
	g->adam_t = 0;
	g->adam_ready = 1;
	strata_gptc_sample_memory(g);
	return 0;
fail:
	return -1;
}

int strata_gpt_cuda_adamw_step(struct strata_gpt_cuda *g, float lr, float grad_scale, char *err,
			       size_t err_len)
{
	if (!g->adam_ready) {
		snprintf(err, err_len, "%s:%d: strata_gpt_cuda_adamw_init was not called", __FILE__,
			 __LINE__);
		return -1;
	}
	g->adam_t++;
	/* bias corrections 1 / (1 - beta^t) (Kingma & Ba 2015, algorithm 1),
	 * rounded as kernels/nn/adamw.c rounds them */
	const float c1 = 1.0f / (1.0f - (float)pow(g->beta1, (double)g->adam_t));
	const float c2 = 1.0f / (1.0f - (float)pow(g->beta2, (double)g->adam_t));
	for (size_t r = 0; r < g->n_runs; r++) {
		const struct strata_gptc_run *run = &g->runs[r];
		STRATA_GPTK_CHECK(strata_gptk_adamw(
			g->params + run->offset, g->params16 + run->offset, g->grads + run->offset,
			g->m + run->offset, g->v + run->offset, (long)run->count, lr, g->beta1,
			g->beta2, c1, c2, g->eps, run->decay ? g->weight_decay : 0.0f, grad_scale,
			g->stream));
	}
	strata_gptc_sample_memory(g);
	return 0;
fail:
	return -1;
}

/* ---- host copies ---------------------------------------------------------- */

static int copy_to_host(struct strata_gpt_cuda *g, float *host, const float *dev, char *err,
			size_t err_len)
{
	STRATA_CUDA_CHECK(cudaMemcpyAsync(host, dev, g->n_params * sizeof(float),
					  cudaMemcpyDeviceToHost, g->stream));
	STRATA_CUDA_CHECK(cudaStreamSynchronize(g->stream));
	return 0;
fail:
	return -1;
}

static int copy_to_device(struct strata_gpt_cuda *g, float *dev, const float *host, char *err,
			  size_t err_len)
{
	STRATA_CUDA_CHECK(cudaMemcpyAsync(dev, host, g->n_params * sizeof(float),
					  cudaMemcpyHostToDevice, g->stream));
	STRATA_CUDA_CHECK(cudaStreamSynchronize(g->stream));
	return 0;
fail:
	return -1;
}

int strata_gpt_cuda_get_params(struct strata_gpt_cuda *g, float *params, char *err,
			       size_t err_len)
{
	return copy_to_host(g, params, g->params, err, err_len);
}

int strata_gpt_cuda_get_grads(struct strata_gpt_cuda *g, float *grads, char *err,
			      size_t err_len)
{
	return copy_to_host(g, grads, g->grads, err, err_len);
}

int strata_gpt_cuda_set_grads(struct strata_gpt_cuda *g, const float *grads, char *err,
			      size_t err_len)
{
	return copy_to_device(g, g->grads, grads, err, err_len);
}

int strata_gpt_cuda_set_params(struct strata_gpt_cuda *g, const float *params, char *err,
			       size_t err_len)
{
	if (copy_to_device(g, g->params, params, err, err_len) != 0)
		return -1;
	STRATA_GPTK_CHECK(strata_gptk_f32_to_bf16(g->params16, g->params, (long)g->n_params,
						  g->stream));
	STRATA_CUDA_CHECK(cudaStreamSynchronize(g->stream));
	return 0;
fail:
	return -1;
}

int strata_gpt_cuda_synchronize(struct strata_gpt_cuda *g, char *err, size_t err_len)
{
	STRATA_CUDA_CHECK(cudaStreamSynchronize(g->stream));
	return 0;
fail:
	return -1;
}
