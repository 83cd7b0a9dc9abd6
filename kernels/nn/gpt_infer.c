/* gpt_infer.c: KV-cache inference over the transformer of gpt.h, FP32 on
 * the CPU: prefill of a prompt into a slot, batched decode steps across
 * slots, greedy choice (see gpt_infer.h).
 *
 * What it is: the forward of gpt.c rewritten for rows that sit at arbitrary
 * positions: layernorm, matmul, GELU and residual come from gpt_layers.c;
 * attention reads the keys and values of earlier positions from the cache.
 * What it is not: a training path (nothing here keeps activations), or a
 * scheduler (which slots to decode is the caller's choice).
 *
 * Letters as in gpt.h and gpt_infer.h; n rows in one call (prompt tokens in
 * prefill, slots in decode), R = max(Lmax, S) the most rows of any call.
 */
#include "kernels/nn/gpt_infer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "kernels/nn/gpt_layers.h"

/* Rows per causal block in prefill attention (as ATT_BLOCK in gpt_layers.c). */
#define PREFILL_BLOCK 64

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	if (!err || err_len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* Per-step buffers, carved out of kv->scratch. */
struct step_bufs {
	float *x;        /* (R, C) residual stream */
	float *ln;       /* (R, C) layernorm output, then projection output */
	float *qkv;      /* (R, 3C) */
	float *atty;     /* (R, C) */
	float *fch;      /* (R, 4C) */
	float *fch_gelu; /* (R, 4C) */
	float *mean, *rstd; /* (R) */
	float *scores;   /* (NH, R, Lmax) attention scores/probabilities */
};

static int rows_max(const struct strata_gpt_kv *kv)
{
	return kv->max_len > kv->slots ? kv->max_len : kv->slots;
}

static size_t step_floats(const struct strata_gpt_config *cfg, int R, int Lmax)
{
	const size_t C = (size_t)cfg->d_model;
	return (size_t)R * (C + C + 3 * C + C + 4 * C + 4 * C + 2) +
	       (size_t)cfg->heads * (size_t)R * (size_t)Lmax;
}

static struct step_bufs bufs_of(const struct strata_gpt_kv *kv)
{
	const size_t C = (size_t)kv->g->cfg.d_model, R = (size_t)rows_max(kv);
	struct step_bufs b;
	float *p = kv->scratch;
	b.x = p, p += R * C;
	b.ln = p, p += R * C;
	b.qkv = p, p += R * 3 * C;
	b.atty = p, p += R * C;
	b.fch = p, p += R * 4 * C;
	b.fch_gelu = p, p += R * 4 * C;
	b.mean = p, p += R;
	b.rstd = p, p += R;
	b.scores = p;
	return b;
}

/* Layer l's parameters (offsets as gpt.h's layout). */
struct layer_w {
	const float *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb;
	const float *ln2w, *ln2b, *fcw, *fcb, *fcprojw, *fcprojb;
};

static struct layer_w layer_w_of(const struct strata_gpt *g, int l)
{
	size_t off, count;
	strata_gpt_layer_range(&g->cfg, l, &off, &count);
	const size_t C = (size_t)g->cfg.d_model;
	const float *p = g->params + off;
	struct layer_w w;
	w.ln1w = p, p += C;
	w.ln1b = p, p += C;
	w.qkvw = p, p += 3 * C * C;
	w.qkvb = p, p += 3 * C;
	w.attprojw = p, p += C * C;
	w.attprojb = p, p += C;
	w.ln2w = p, p += C;
	w.ln2b = p, p += C;
	w.fcw = p, p += 4 * C * C;
	w.fcb = p, p += 4 * C;
	w.fcprojw = p, p += 4 * C * C;
	w.fcprojb = p;
	return w;
}

/* Cache rows of (layer, slot): (Lmax, C). */
static float *cache_at(const struct strata_gpt_kv *kv, float *base, int l, int slot)
{
	return base + ((size_t)l * kv->slots + (size_t)slot) * (size_t)kv->max_len *
			      (size_t)kv->g->cfg.d_model;
}

int strata_gpt_kv_init(struct strata_gpt_kv *kv, const struct strata_gpt *g, int slots,
                       int max_len, char *err, size_t err_len)
{
	memset(kv, 0, sizeof(*kv));
	if (slots < 1) {
		set_err(err, err_len, "slots: %d must be at least 1", slots);
		return -1;
	}
	if (max_len < 1 || max_len > g->cfg.max_seq) {
		set_err(err, err_len, "max_len: %d is out of range (1..max_seq %d)", max_len,
			g->cfg.max_seq);
		return -1;
	}
	kv->g = g;
	kv->slots = slots;
	kv->max_len = max_len;
	const size_t cache = (size_t)g->cfg.layers * slots * (size_t)max_len * g->cfg.d_model;
	kv->scratch_floats = step_floats(&g->cfg, rows_max(kv), max_len);
	kv->k = malloc(sizeof(float) * cache);
	kv->v = malloc(sizeof(float) * cache);
	kv->len = calloc((size_t)slots, sizeof(int));
	kv->scratch = malloc(sizeof(float) * kv->scratch_floats);
	if (!kv->k || !kv->v || !kv->len || !kv->scratch) {
		set_err(err, err_len, "out of memory: KV cache of 2 x %zu floats (%d slots x %d "
			"positions) and %zu scratch floats", cache, slots, max_len,
			kv->scratch_floats);
		strata_gpt_kv_release(kv);
		return -1;
	}
	return 0;
}

void strata_gpt_kv_release(struct strata_gpt_kv *kv)
{
	free(kv->k);
	free(kv->v);
	free(kv->len);
	free(kv->scratch);
	memset(kv, 0, sizeof(*kv));
}

void strata_gpt_kv_reset(struct strata_gpt_kv *kv, int slot)
{
	if (slot >= 0 && slot < kv->slots)
		kv->len[slot] = 0;
}

/* Rows i < n: x[i] = wte[tokens[i]] + wpe[position of row i], the position
 * p0 + i (prefill), or the length of slot slots[i] (decode, slots given). */
static void embed(float *x, const struct strata_gpt_kv *kv, const int *tokens, int n, int p0,
                  const int *slots)
{
	const struct strata_gpt *g = kv->g;
	const int C = g->cfg.d_model;
	const float *wte = g->params, *wpe = g->params + (size_t)g->cfg.vocab * C;
	for (int i = 0; i < n; i++) {
		const int pos = slots ? kv->len[slots[i]] : p0 + i;
		const float *te = wte + (size_t)tokens[i] * C, *pe = wpe + (size_t)pos * C;
		float *o = x + (size_t)i * C;
		for (int c = 0; c < C; c++)
			o[c] = te[c] + pe[c];
	}
}

/* The MLP half and the attention projection, shared by prefill and decode:
 * x += attproj(atty); x += fcproj(gelu(fc(ln2(x)))). */
static void block_tail(struct step_bufs *b, const struct layer_w *w, int n, int C)
{
	strata_nn_matmul_forward(b->ln, b->atty, w->attprojw, w->attprojb, n, C, C);
	strata_nn_residual_forward(b->x, b->x, b->ln, (long)n * C);
	strata_nn_layernorm_forward(b->ln, b->mean, b->rstd, b->x, w->ln2w, w->ln2b, n, C);
	strata_nn_matmul_forward(b->fch, b->ln, w->fcw, w->fcb, n, C, 4 * C);
	strata_nn_gelu_forward(b->fch_gelu, b->fch, (long)n * 4 * C);
	strata_nn_matmul_forward(b->ln, b->fch_gelu, w->fcprojw, w->fcprojb, n, 4 * C, C);
	strata_nn_residual_forward(b->x, b->x, b->ln, (long)n * C);
}

/* Final layernorm of rows [r0, r0+n) of x, then logits (n, V) = lnf wte^T. */
static void head(struct step_bufs *b, const struct strata_gpt *g, int r0, int n, float *logits)
{
	const int C = g->cfg.d_model, V = g->cfg.vocab;
	const float *lnfw = g->params + g->n_params - 2 * (size_t)C, *lnfb = lnfw + C;
	strata_nn_layernorm_forward(b->ln, b->mean, b->rstd, b->x + (size_t)r0 * C, lnfw, lnfb, n,
				    C);
	strata_nn_matmul_forward(logits, b->ln, g->params, NULL, n, C, V);
}

static int tokens_valid(const struct strata_gpt *g, const int *tokens, int n)
{
	for (int i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= g->cfg.vocab)
			return 0;
	return 1;
}

int strata_gpt_kv_prefill(struct strata_gpt_kv *kv, int slot, const int *tokens, int n,
                          float *logits)
{
	const struct strata_gpt *g = kv->g;
	if (slot < 0 || slot >= kv->slots || n < 1 || n > kv->max_len - kv->len[slot] ||
	    !tokens_valid(g, tokens, n))
		return -1;
	const int C = g->cfg.d_model, NH = g->cfg.heads, hs = C / NH, Lmax = kv->max_len;
	const int p0 = kv->len[slot], R = rows_max(kv);
	const float scale = 1.0f / sqrtf((float)hs);
	struct step_bufs b = bufs_of(kv);
	const int blas_prev = strata_nn_blas_enter();

	embed(b.x, kv, tokens, n, p0, NULL);
	const int nblocks = (n + PREFILL_BLOCK - 1) / PREFILL_BLOCK;
	for (int l = 0; l < g->cfg.layers; l++) {
		const struct layer_w w = layer_w_of(g, l);
		float *kc = cache_at(kv, kv->k, l, slot), *vc = cache_at(kv, kv->v, l, slot);
		strata_nn_layernorm_forward(b.ln, b.mean, b.rstd, b.x, w.ln1w, w.ln1b, n, C);
		strata_nn_matmul_forward(b.qkv, b.ln, w.qkvw, w.qkvb, n, C, 3 * C);
		for (int i = 0; i < n; i++) {
			const float *q = b.qkv + (size_t)i * 3 * C;
			memcpy(kc + (size_t)(p0 + i) * C, q + C, sizeof(float) * (size_t)C);
			memcpy(vc + (size_t)(p0 + i) * C, q + 2 * C, sizeof(float) * (size_t)C);
		}
		/* per (head, row block): scores over cached positions 0..p0+r1, causal
		 * softmax (row i sees 0..p0+i), weighted sum of the cached values */
#pragma omp parallel for schedule(dynamic, 1)
		for (int item = 0; item < NH * nblocks; item++) {
			const int h = item / nblocks, r0 = (item % nblocks) * PREFILL_BLOCK;
			const int r1 = r0 + PREFILL_BLOCK < n ? r0 + PREFILL_BLOCK : n;
			const int cols = p0 + r1;
			float *s = b.scores + ((size_t)h * R + (size_t)r0) * Lmax; /* (r1-r0, Lmax) */
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, cols, hs, scale,
				    b.qkv + (size_t)r0 * 3 * C + (size_t)h * hs, 3 * C,
				    kc + (size_t)h * hs, C, 0.0f, s, Lmax);
			for (int i = r0; i < r1; i++) {
				float *row = s + (size_t)(i - r0) * Lmax;
				strata_nn_softmax_inplace(row, p0 + i + 1);
				if (p0 + i + 1 < cols)
					memset(row + p0 + i + 1, 0,
					       sizeof(float) * (size_t)(cols - p0 - i - 1));
			}
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, hs, cols, 1.0f,
				    s, Lmax, vc + (size_t)h * hs, C, 0.0f,
				    b.atty + (size_t)r0 * C + (size_t)h * hs, C);
		}
		block_tail(&b, &w, n, C);
	}
	head(&b, g, n - 1, 1, logits);
	kv->len[slot] += n;
	strata_nn_blas_leave(blas_prev);
	return 0;
}

int strata_gpt_kv_decode(struct strata_gpt_kv *kv, const int *slots, const int *tokens, int n,
                         float *logits)
{
	const struct strata_gpt *g = kv->g;
	if (n < 1 || n > kv->slots || !tokens_valid(g, tokens, n))
		return -1;
	for (int i = 0; i < n; i++) {
		if (slots[i] < 0 || slots[i] >= kv->slots || kv->len[slots[i]] >= kv->max_len)
			return -1;
		for (int j = 0; j < i; j++)
			if (slots[j] == slots[i])
				return -1;
	}
	const int C = g->cfg.d_model, NH = g->cfg.heads, hs = C / NH, Lmax = kv->max_len;
	const int R = rows_max(kv);
	const float scale = 1.0f / sqrtf((float)hs);
	struct step_bufs b = bufs_of(kv);
	const int blas_prev = strata_nn_blas_enter();

	embed(b.x, kv, tokens, n, 0, slots);
	for (int l = 0; l < g->cfg.layers; l++) {
		const struct layer_w w = layer_w_of(g, l);
		strata_nn_layernorm_forward(b.ln, b.mean, b.rstd, b.x, w.ln1w, w.ln1b, n, C);
		strata_nn_matmul_forward(b.qkv, b.ln, w.qkvw, w.qkvb, n, C, 3 * C);
		for (int i = 0; i < n; i++) {
			const float *q = b.qkv + (size_t)i * 3 * C;
			const size_t p = (size_t)kv->len[slots[i]];
			memcpy(cache_at(kv, kv->k, l, slots[i]) + p * C, q + C, sizeof(float) * C);
			memcpy(cache_at(kv, kv->v, l, slots[i]) + p * C, q + 2 * C,
			       sizeof(float) * C);
		}
		/* per (row, head): one query against its slot's len+1 cached keys */
#pragma omp parallel for schedule(dynamic, 1)
		for (int item = 0; item < n * NH; item++) {
			const int i = item / NH, h = item % NH, len = kv->len[slots[i]] + 1;
			const float *kc = cache_at(kv, kv->k, l, slots[i]) + (size_t)h * hs;
			const float *vc = cache_at(kv, kv->v, l, slots[i]) + (size_t)h * hs;
			float *s = b.scores + ((size_t)h * R + (size_t)i) * Lmax;
			cblas_sgemv(CblasRowMajor, CblasNoTrans, len, hs, scale, kc, C,
				    b.qkv + (size_t)i * 3 * C + (size_t)h * hs, 1, 0.0f, s, 1);
			strata_nn_softmax_inplace(s, len);
			cblas_sgemv(CblasRowMajor, CblasTrans, len, hs, 1.0f, vc, C, s, 1, 0.0f,
				    b.atty + (size_t)i * C + (size_t)h * hs, 1);
		}
		block_tail(&b, &w, n, C);
	}
	head(&b, g, 0, n, logits);
	for (int i = 0; i < n; i++)
		kv->len[slots[i]]++;
	strata_nn_blas_leave(blas_prev);
	return 0;
}

int strata_gpt_argmax(const float *logits, int V)
{
	int best = 0;
	for (int i = 1; i < V; i++)
		if (logits[i] > logits[best])
			best = i;
	return best;
}
