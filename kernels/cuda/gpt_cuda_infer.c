/* gpt_cuda_infer.c: KV-cache inference on the GPU (gpt_cuda.h, bottom half),
 * with the semantics of kernels/nn/gpt_infer.h: slots, prefill of a prompt,
 * batched decode, logits to the host.
 *
 * What it is: per layer and slot, BF16 keys and values (L, S, Lmax, C); a
 * step runs its rows (a prompt's tokens, or one token per decoding slot)
 * through every layer with the model's BF16 weights: the linear layers as
 * one cuBLASLt product over all rows (strata_gptc_linear_forward), the
 * layernorms, GELU and residuals with the training kernels, the new keys and
 * values stored at each row's (slot, position), then each row's query
 * attends to its own slot's positions 0..position (kv_attention kernel, one
 * block per row and head).  Only the rows whose logits are wanted go through
 * the final layernorm and the output projection (the last prompt token in a
 * prefill; every row in a decode).  What it is not: paged attention, a
 * batched prefill of several prompts, or sampling (the caller takes the
 * argmax, gpt_infer.h's strata_gpt_argmax).
 */
#include "kernels/cuda/gpt_cuda.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gpt_cuda_internal.h"

struct strata_gpt_cuda_kv {
	struct strata_gpt_cuda *g;
	int slots, max_len, max_rows; /* S, Lmax, rows of one step: max(Lmax, S) */
	int *len;                     /* (S) host: positions cached per slot */
	size_t bytes;                 /* device bytes held (counted in g->model_bytes too) */
	strata_bf16 *kc, *vc;         /* (L, S, Lmax, C) */
	int *d_tok, *d_slot, *d_pos;  /* (max_rows) */
	int *h_tok, *h_slot, *h_pos;  /* pinned staging */
	float *x, *xa;                /* (max_rows, C) residual stream */
	strata_bf16 *ln, *qkv, *atty, *branch, *fch, *fchg, *logits;
	/* ln (rows, C), qkv (rows, 3C), atty (rows, C), branch (rows, C),
	 * fch/fchg (rows, 4C), logits (max(S, 1) rows, Vp) */
};

static int kv_alloc(struct strata_gpt_cuda_kv *kv, void **p, size_t bytes, char *err,
		    size_t err_len)
{
	if (strata_gptc_alloc(kv->g, p, bytes, err, err_len) != 0)
		return -1;
	kv->bytes += bytes ? bytes : 256;
	return 0;
}

#define KV_ALLOC(ptr, n)                                                                     \
	do {                                                                                 \
		if (kv_alloc(kv, (void **)&(ptr), (size_t)(n) * sizeof(*(ptr)), err,         \
			     err_len) != 0)                                                  \
			goto fail;                                                           \
	} while (0)

int strata_gpt_cuda_kv_create(struct strata_gpt_cuda *g, int slots, int max_len,
			      struct strata_gpt_cuda_kv **out, char *err, size_t err_len)
{
	const size_t L = (size_t)g->cfg.layers, C = (size_t)g->cfg.d_model;
	*out = NULL;
	if (slots < 1 || max_len < 1 || max_len > g->cfg.max_seq) {
		snprintf(err, err_len, "%s:%d: slots %d, max_len %d: need slots >= 1 and 1 <= "
			 "max_len <= max_seq %d", __FILE__, __LINE__, slots, max_len,
			 g->cfg.max_seq);
		return -1;
	}
	/* kv_attention keeps one row of scores in dynamic shared memory, which
	 * with its static shared memory may not exceed 48 KiB without an opt-in:
	 * the kernel's own limit, asked of the runtime, or every launch fails */
	int max_scores = 0;
	const cudaError_t fe = (cudaError_t)strata_gptk_kv_attention_max_len(&max_scores);
	if (fe != cudaSuccess) {
		snprintf(err, err_len, "%s:%d: cudaFuncGetAttributes(kv_attention): %s: %s", __FILE__,
			 __LINE__, cudaGetErrorName(fe), cudaGetErrorString(fe));
		return -1;
	}
	if (max_len > max_scores) {
		snprintf(err, err_len, "%s:%d: max_len %d needs more shared memory per attention "
			 "block than the %d floats the kernel may use", __FILE__, __LINE__, max_len,
			 max_scores);
		return -1;
	}
	struct strata_gpt_cuda_kv *kv = calloc(1, sizeof(*kv));
	if (!kv) {
		snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
		return -1;
	}
	kv->g = g;
	kv->slots = slots;
	kv->max_len = max_len;
	kv->max_rows = max_len > slots ? max_len : slots;
	const size_t R = (size_t)kv->max_rows;
	kv->len = calloc((size_t)slots, sizeof(*kv->len));
	if (!kv->len) {
		snprintf(err, err_len, "%s:%d: out of memory", __FILE__, __LINE__);
		goto fail;
	}
	KV_ALLOC(kv->kc, L * (size_t)slots * (size_t)max_len * C);
	KV_ALLOC(kv->vc, L * (size_t)slots * (size_t)max_len * C);
	KV_ALLOC(kv->d_tok, R);
	KV_ALLOC(kv->d_slot, R);
	KV_ALLOC(kv->d_pos, R);
	STRATA_CUDA_CHECK(cudaMallocHost((void **)&kv->h_tok, R * sizeof(int)));
	STRATA_CUDA_CHECK(cudaMallocHost((void **)&kv->h_slot, R * sizeof(int)));
	STRATA_CUDA_CHECK(cudaMallocHost((void **)&kv->h_pos, R * sizeof(int)));
	KV_ALLOC(kv->x, R * C);
	KV_ALLOC(kv->xa, R * C);
	KV_ALLOC(kv->ln, R * C);
	KV_ALLOC(kv->qkv, R * 3 * C);
	KV_ALLOC(kv->atty, R * C);
	KV_ALLOC(kv->branch, R * C);
	KV_ALLOC(kv->fch, R * 4 * C);
	KV_ALLOC(kv->fchg, R * 4 * C);
	KV_ALLOC(kv->logits, (size_t)slots * (size_t)g->Vp);
	strata_gptc_sample_memory(g);
	*out = kv;
	return 0;
fail:
	strata_gpt_cuda_kv_destroy(kv);
	return -1;
}

void strata_gpt_cuda_kv_destroy(struct strata_gpt_cuda_kv *kv)
{
	if (!kv)
		return;
	cudaStreamSynchronize(kv->g->stream);
	void *dev[] = { kv->kc, kv->vc, kv->d_tok, kv->d_slot, kv->d_pos, kv->x, kv->xa,
			kv->ln, kv->qkv, kv->atty, kv->branch, kv->fch, kv->fchg, kv->logits };
	for (size_t i = 0; i < sizeof(dev) / sizeof(dev[0]); i++)
		cudaFree(dev[i]);
	cudaFreeHost(kv->h_tok);
	cudaFreeHost(kv->h_slot);
	cudaFreeHost(kv->h_pos);
	kv->g->model_bytes -= kv->bytes;
	free(kv->len);
	free(kv);
}

int strata_gpt_cuda_kv_reset(struct strata_gpt_cuda_kv *kv, int slot, char *err,
			     size_t err_len)
{
	if (slot < 0 || slot >= kv->slots) {
		snprintf(err, err_len, "%s:%d: slot %d outside 0..%d", __FILE__, __LINE__, slot,
			 kv->slots - 1);
		return -1;
	}
	kv->len[slot] = 0; /* stale keys beyond len are never read */
	return 0;
}

int strata_gpt_cuda_kv_len(const struct strata_gpt_cuda_kv *kv, int slot)
{
	return slot >= 0 && slot < kv->slots ? kv->len[slot] : -1;
}

/* Run `rows` staged rows (h_tok, h_slot, h_pos) through the model and write
 * the logits of the last `out_rows` rows to host memory (out_rows, V). */
static int kv_step(struct strata_gpt_cuda_kv *kv, int rows, int out_rows, float *logits,
		   char *err, size_t err_len)
{
	struct strata_gpt_cuda *g = kv->g;
	const int C = g->cfg.d_model, L = g->cfg.layers, NH = g->cfg.heads, V = g->cfg.vocab;
	const size_t RC = (size_t)rows * C;
	const size_t layer_cache = (size_t)kv->slots * (size_t)kv->max_len * C;

	STRATA_CUDA_CHECK(cudaMemcpyAsync(kv->d_tok, kv->h_tok, (size_t)rows * sizeof(int),
					  cudaMemcpyHostToDevice, g->stream));
	STRATA_CUDA_CHECK(cudaMemcpyAsync(kv->d_slot, kv->h_slot, (size_t)rows * sizeof(int),
					  cudaMemcpyHostToDevice, g->stream));
	STRATA_CUDA_CHECK(cudaMemcpyAsync(kv->d_pos, kv->h_pos, (size_t)rows * sizeof(int),
					  cudaMemcpyHostToDevice, g->stream));
	STRATA_GPTK_CHECK(strata_gptk_encoder_forward(
		kv->x, kv->d_tok, kv->d_pos, g->params + STRATA_GPTC_G(g, STRATA_GPT_WTE),
		g->params + STRATA_GPTC_G(g, STRATA_GPT_WPE), rows, 1, C, g->stream));
	for (int l = 0; l < L; l++) {
#define W32(kind) (g->params + STRATA_GPTC_L(g, l, kind))
#define W16(kind) (g->params16 + STRATA_GPTC_L(g, l, kind))
		strata_bf16 *kc = kv->kc + (size_t)l * layer_cache;
		strata_bf16 *vc = kv->vc + (size_t)l * layer_cache;
		STRATA_GPTK_CHECK(strata_gptk_layernorm_forward(kv->ln, NULL, NULL, kv->x,
								W32(STRATA_GPT_LN1W),
								W32(STRATA_GPT_LN1B), rows, C,
								g->stream));
		if (strata_gptc_linear_forward(g, kv->qkv, 3 * C, kv->ln, W16(STRATA_GPT_QKVW),
					       W16(STRATA_GPT_QKVB), rows, C, 3 * C, err,
					       err_len) != 0)
			goto fail;
		STRATA_GPTK_CHECK(strata_gptk_kv_store(kc, vc, kv->qkv, kv->d_slot, kv->d_pos, rows, C,
						       kv->max_len, g->stream));
		STRATA_GPTK_CHECK(strata_gptk_kv_attention(kv->atty, kv->qkv, kc, vc, kv->d_slot,
							   kv->d_pos, rows, C, NH, kv->max_len,
							   g->stream));
		if (strata_gptc_linear_forward(g, kv->branch, C, kv->atty, W16(STRATA_GPT_ATTPROJW),
					       W16(STRATA_GPT_ATTPROJB), rows, C, C, err,
					       err_len) != 0)
			goto fail;
		STRATA_GPTK_CHECK(strata_gptk_residual_forward(kv->xa, kv->x, kv->branch, (long)RC,
							       g->stream));
		STRATA_GPTK_CHECK(strata_gptk_layernorm_forward(kv->ln, NULL, NULL, kv->xa,
								W32(STRATA_GPT_LN2W),
								W32(STRATA_GPT_LN2B), rows, C,
								g->stream));
		if (strata_gptc_linear_forward(g, kv->fch, 4 * C, kv->ln, W16(STRATA_GPT_FCW),
					       W16(STRATA_GPT_FCB), rows, C, 4 * C, err,
					       err_len) != 0)
			goto fail;
		STRATA_GPTK_CHECK(strata_gptk_gelu_forward(kv->fchg, kv->fch, (long)RC * 4, g->stream));
		if (strata_gptc_linear_forward(g, kv->branch, C, kv->fchg, W16(STRATA_GPT_FCPROJW),
					       W16(STRATA_GPT_FCPROJB), rows, 4 * C, C, err,
					       err_len) != 0)
			goto fail;
		STRATA_GPTK_CHECK(strata_gptk_residual_forward(kv->x, kv->xa, kv->branch, (long)RC,
							       g->stream));
#undef W32
#undef W16
	}
	const float *last = kv->x + (size_t)(rows - out_rows) * C;
	STRATA_GPTK_CHECK(strata_gptk_layernorm_forward(
		kv->ln, NULL, NULL, last, g->params + STRATA_GPTC_G(g, STRATA_GPT_LNFW),
		g->params + STRATA_GPTC_G(g, STRATA_GPT_LNFB), out_rows, C, g->stream));
	if (strata_gptc_linear_forward(g, kv->logits, g->Vp, kv->ln,
				       g->params16 + STRATA_GPTC_G(g, STRATA_GPT_WTE), NULL, out_rows,
				       C, V, err, err_len) != 0)
		goto fail;
	/* waits for the step, so the staging buffers are free again */
	return strata_gptc_copy_bf16_rows(g, logits, kv->logits, out_rows, V, g->Vp, err, err_len);
fail:
	cudaStreamSynchronize(g->stream);
	return -1;
}

static int check_tokens(const struct strata_gpt_cuda_kv *kv, const int *tokens, int n, char *err,
			size_t err_len)
{
	for (int i = 0; i < n; i++) {
		if (tokens[i] < 0 || tokens[i] >= kv->g->cfg.vocab) {
			snprintf(err, err_len, "%s:%d: token %d: id %d outside 0..%d", __FILE__,
				 __LINE__, i, tokens[i], kv->g->cfg.vocab - 1);
			return -1;
		}
	}
	return 0;
}

int strata_gpt_cuda_kv_prefill(struct strata_gpt_cuda_kv *kv, int slot, const int *tokens, int n,
			       float *logits, char *err, size_t err_len)
{
	if (slot < 0 || slot >= kv->slots || n < 1) {
		snprintf(err, err_len, "%s:%d: prefill of slot %d with %d tokens (slots 0..%d, n >= 1)",
			 __FILE__, __LINE__, slot, n, kv->slots - 1);
		return -1;
	}
	if (kv->len[slot] + n > kv->max_len) {
		snprintf(err, err_len, "%s:%d: slot %d holds %d positions; %d more exceed max_len %d",
			 __FILE__, __LINE__, slot, kv->len[slot], n, kv->max_len);
		return -1;
	}
	if (check_tokens(kv, tokens, n, err, err_len) != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		kv->h_tok[i] = tokens[i];
		kv->h_slot[i] = slot;
		kv->h_pos[i] = kv->len[slot] + i;
	}
	if (kv_step(kv, n, 1, logits, err, err_len) != 0)
		return -1;
	kv->len[slot] += n;
	return 0;
}

int strata_gpt_cuda_kv_decode(struct strata_gpt_cuda_kv *kv, const int *slots, const int *tokens,
			      int n, float *logits, char *err, size_t err_len)
{
	if (n < 1 || n > kv->slots) {
		snprintf(err, err_len, "%s:%d: decode of %d slots (1..%d)", __FILE__, __LINE__, n,
			 kv->slots);
		return -1;
	}
	if (check_tokens(kv, tokens, n, err, err_len) != 0)
		return -1;
	for (int i = 0; i < n; i++) {
		const int s = slots[i];
		if (s < 0 || s >= kv->slots || kv->len[s] >= kv->max_len) {
			snprintf(err, err_len, "%s:%d: decode row %d: slot %d is %s", __FILE__, __LINE__,
				 i, s, s < 0 || s >= kv->slots ? "out of range" : "full");
			return -1;
		}
		for (int j = 0; j < i; j++) {
			if (slots[j] == s) {
				snprintf(err, err_len, "%s:%d: decode rows %d and %d name slot %d",
					 __FILE__, __LINE__, j, i, s);
				return -1;
			}
		}
		kv->h_tok[i] = tokens[i];
		kv->h_slot[i] = s;
		kv->h_pos[i] = kv->len[s];
	}
	if (kv_step(kv, n, n, logits, err, err_len) != 0)
		return -1;
	for (int i = 0; i < n; i++)
		kv->len[slots[i]]++;
	return 0;
}
