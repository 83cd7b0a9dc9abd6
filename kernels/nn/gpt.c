/* gpt.c: the GPT-2-shaped transformer of gpt.h on the CPU in FP32: presets
 * and shape checks, the flat parameter array and its tensor table, GPT-2's
 * initialisation from a seed, forward with the loss, backward announcing
 * each finished range of gradients, the FLOPs formulas, and checkpoints.
 *
 * What it is: the chaining of the layers of gpt_layers.c over buffers laid
 * out once for (max_B, max_T).  What it is not: the optimizer (adamw.c), the
 * KV-cache inference path (gpt_infer.c), or a data loader.
 *
 * Letters as in gpt.h: B, T, C, NH, L, V, Tmax; BT = B*T rows.
 */
#define _GNU_SOURCE /* fsync, getpid */
#include "kernels/nn/gpt.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <omp.h>

#include "kernels/nn/gpt_layers.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "gpt.c writes checkpoints as host floats and assumes a little-endian host"
#endif

/* ---- presets and shape checks ---------------------------------------------------- */

const char *const strata_gpt_preset_names[] = { "tiny", "gpt2-small", NULL };

int strata_gpt_preset(const char *name, struct strata_gpt_config *cfg)
{
	static const struct strata_gpt_config presets[] = {
		/* V, Tmax, L, NH, C */
		{ 64, 64, 2, 4, 64 },
		/* GPT-2 124M (Radford et al. 2019, table 2, smallest model) */
		{ 50257, 1024, 12, 12, 768 },
	};
	for (int i = 0; strata_gpt_preset_names[i]; i++) {
		if (name && strcmp(name, strata_gpt_preset_names[i]) == 0) {
			*cfg = presets[i];
			return 0;
		}
	}
	return -1;
}

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	if (!err || err_len == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* Bounds that keep every index in range of the int/long arithmetic of the
 * layers (they are far beyond what a CPU trains). */
#define MAX_VOCAB (1 << 24)
#define MAX_SEQ (1 << 16)
#define MAX_LAYERS 1024
#define MAX_D_MODEL (1 << 16)

int strata_gpt_config_check(const struct strata_gpt_config *cfg, char *err, size_t err_len)
{
	const struct {
		const char *name;
		int value, max;
	} f[] = {
		{ "vocab", cfg->vocab, MAX_VOCAB },       { "max_seq", cfg->max_seq, MAX_SEQ },
		{ "layers", cfg->layers, MAX_LAYERS },    { "heads", cfg->heads, MAX_D_MODEL },
		{ "d_model", cfg->d_model, MAX_D_MODEL },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (f[i].value < 1 || f[i].value > f[i].max) {
			set_err(err, err_len, "%s: %d is out of range (1..%d)", f[i].name, f[i].value,
				f[i].max);
			return -1;
		}
	}
	if (cfg->d_model % cfg->heads != 0) {
		set_err(err, err_len, "d_model: %d is not a multiple of heads (%d)", cfg->d_model,
			cfg->heads);
		return -1;
	}
	return 0;
}

/* ---- parameter layout --------------------------------------------------------------- */

/* Floats of one layer's tensors, in array order (gpt.h):
 * ln1w ln1b qkvw qkvb attprojw attprojb ln2w ln2b fcw fcb fcprojw fcprojb */
static void layer_tensor_counts(size_t C, size_t counts[12])
{
	const size_t c[12] = { C,         C,     3 * C * C, 3 * C, C * C,     C,
			       C,         C,     4 * C * C, 4 * C, 4 * C * C, C };
	memcpy(counts, c, sizeof(c));
}

static size_t layer_floats(size_t C)
{
	return 12 * C * C + 13 * C;
}

size_t strata_gpt_param_count(const struct strata_gpt_config *cfg)
{
	const size_t C = (size_t)cfg->d_model;
	return ((size_t)cfg->vocab + (size_t)cfg->max_seq) * C +
	       (size_t)cfg->layers * layer_floats(C) + 2 * C;
}

void strata_gpt_layer_range(const struct strata_gpt_config *cfg, int l, size_t *offset,
                            size_t *count)
{
	const size_t C = (size_t)cfg->d_model;
	*count = layer_floats(C);
	*offset = ((size_t)cfg->vocab + (size_t)cfg->max_seq) * C + (size_t)l * *count;
}

/* Pointers to one layer's parameters (or gradients) in a flat array. */
struct layer_params {
	float *ln1w, *ln1b;         /* (C) (C) */
	float *qkvw, *qkvb;         /* (3C, C) (3C) */
	float *attprojw, *attprojb; /* (C, C) (C) */
	float *ln2w, *ln2b;         /* (C) (C) */
	float *fcw, *fcb;           /* (4C, C) (4C) */
	float *fcprojw, *fcprojb;   /* (C, 4C) (C) */
};

static struct layer_params layer_params_at(const struct strata_gpt_config *cfg, float *base, int l)
{
	size_t off, count, n[12];
	strata_gpt_layer_range(cfg, l, &off, &count);
	layer_tensor_counts((size_t)cfg->d_model, n);
	float *p[12];
	for (int i = 0; i < 12; i++) {
		p[i] = base + off;
		off += n[i];
	}
	return (struct layer_params){ p[0], p[1], p[2], p[3], p[4],  p[5],
				      p[6], p[7], p[8], p[9], p[10], p[11] };
}

/* Whole-model views of a flat array. */
struct model_params {
	float *wte; /* (V, C) */
	float *wpe; /* (Tmax, C) */
	float *lnfw, *lnfb; /* (C) (C) */
};

static struct model_params model_params_at(const struct strata_gpt_config *cfg, float *base)
{
	const size_t C = (size_t)cfg->d_model;
	float *lnf = base + strata_gpt_param_count(cfg) - 2 * C;
	return (struct model_params){ base, base + (size_t)cfg->vocab * C, lnf, lnf + C };
}

static int build_tensor_table(struct strata_gpt *g)
{
	const struct strata_gpt_config *cfg = &g->cfg;
	const size_t C = (size_t)cfg->d_model;
	g->n_tensors = 2 + 12 * (size_t)cfg->layers + 2;
	g->tensors = calloc(g->n_tensors, sizeof(*g->tensors));
	if (!g->tensors)
		return -1;
	struct strata_gpt_tensor *t = g->tensors;
	size_t off = 0, k = 0;
	t[k++] = (struct strata_gpt_tensor){ STRATA_GPT_WTE, -1, off, (size_t)cfg->vocab * C, 1 };
	off += (size_t)cfg->vocab * C;
	t[k++] = (struct strata_gpt_tensor){ STRATA_GPT_WPE, -1, off, (size_t)cfg->max_seq * C, 1 };
	off += (size_t)cfg->max_seq * C;
	size_t n[12];
	layer_tensor_counts(C, n);
	for (int l = 0; l < cfg->layers; l++) {
		for (int i = 0; i < 12; i++) {
			const enum strata_gpt_tensor_kind kind = STRATA_GPT_LN1W + i;
			/* the 2-D weights decay; biases and layernorm gains do not */
			const int decay = kind == STRATA_GPT_QKVW || kind == STRATA_GPT_ATTPROJW ||
					  kind == STRATA_GPT_FCW || kind == STRATA_GPT_FCPROJW;
			t[k++] = (struct strata_gpt_tensor){ kind, l, off, n[i], decay };
			off += n[i];
		}
	}
	t[k++] = (struct strata_gpt_tensor){ STRATA_GPT_LNFW, -1, off, C, 0 };
	off += C;
	t[k++] = (struct strata_gpt_tensor){ STRATA_GPT_LNFB, -1, off, C, 0 };
	return 0;
}

/* ---- FLOPs (PaLM, Chowdhery et al. 2022, appendix B) ------------------------------ */

/* N: the parameters that take part in a matmul, i.e. all but wpe. */
static double matmul_params(const struct strata_gpt_config *cfg)
{
	return (double)strata_gpt_param_count(cfg) - (double)cfg->max_seq * cfg->d_model;
}

double strata_gpt_train_flops_per_token(const struct strata_gpt_config *cfg, int T)
{
	return 6.0 * matmul_params(cfg) + 12.0 * cfg->layers * cfg->d_model * (double)T;
}

double strata_gpt_forward_flops_per_token(const struct strata_gpt_config *cfg, int T)
{
	return 2.0 * matmul_params(cfg) + 4.0 * cfg->layers * cfg->d_model * (double)T;
}

/* ---- initialisation ------------------------------------------------------------------ */

/* splitmix64 (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number
 * generators"; constants as in Vigna's reference splitmix64.c). */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Uniform in (0, 1]: the top 53 bits, plus one ulp so log() never sees 0. */
static double uniform01(uint64_t *state)
{
	return ((double)(splitmix64(state) >> 11) + 1.0) * 0x1.0p-53;
}

/* Floats per random stream: each chunk of a tensor draws from its own
 * stream keyed by (seed, tensor, chunk), so the values do not depend on the
 * number of threads that fill them. */
#define INIT_CHUNK 65536

/* dst (n) ~ N(0, std^2) by Box-Muller (Box & Muller 1958): z = sqrt(-2 ln u1)
 * (cos 2 pi u2, sin 2 pi u2). */
static void fill_normal(float *dst, size_t n, double std, uint64_t seed, size_t tensor)
{
	const size_t chunks = (n + INIT_CHUNK - 1) / INIT_CHUNK;
#pragma omp parallel for schedule(static)
	for (size_t c = 0; c < chunks; c++) {
		uint64_t s = seed ^ (0xD1B54A32D192ED03ull * (tensor + 1));
		s = splitmix64(&s) ^ (0x8CB92BA72F3D8DD7ull * (c + 1));
		const size_t i0 = c * INIT_CHUNK, i1 = i0 + INIT_CHUNK < n ? i0 + INIT_CHUNK : n;
		for (size_t i = i0; i < i1; i += 2) {
			const double r = sqrt(-2.0 * log(uniform01(&s)));
			const double th = 2.0 * M_PI * uniform01(&s);
			dst[i] = (float)(std * r * cos(th));
			if (i + 1 < i1)
				dst[i + 1] = (float)(std * r * sin(th));
		}
	}
}

static void fill_const(float *dst, size_t n, float v)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = v;
}

/* GPT-2's initialisation as nanoGPT/llm.c write it: N(0, 0.02) weights and
 * embeddings, N(0, 0.02/sqrt(2L)) for the projections into the residual
 * stream (GPT-2 paper, section 2.3: "scale the weights of residual layers by
 * 1/sqrt(N)", N = 2L residual layers), zero biases, unit layernorm gains. */
static void init_params(struct strata_gpt *g, uint64_t seed)
{
	const double std = 0.02, std_resid = 0.02 / sqrt(2.0 * g->cfg.layers);
	for (size_t i = 0; i < g->n_tensors; i++) {
		const struct strata_gpt_tensor *t = &g->tensors[i];
		float *p = g->params + t->offset;
		switch (t->kind) {
		case STRATA_GPT_WTE:
		case STRATA_GPT_WPE:
		case STRATA_GPT_QKVW:
		case STRATA_GPT_FCW:
			fill_normal(p, t->count, std, seed, i);
			break;
		case STRATA_GPT_ATTPROJW:
		case STRATA_GPT_FCPROJW:
			fill_normal(p, t->count, std_resid, seed, i);
			break;
		case STRATA_GPT_LN1W:
		case STRATA_GPT_LN2W:
		case STRATA_GPT_LNFW:
			fill_const(p, t->count, 1.0f);
			break;
		default: /* biases */
			fill_const(p, t->count, 0.0f);
			break;
		}
	}
}

/* ---- activations ---------------------------------------------------------------------- */

/* Activations of the forward, each sized for (max_B, max_T) and used as
 * (B, T, ...) compact from its start.  Per-layer arrays hold L copies. */
struct acts {
	float *encoded;            /* (B, T, C) */
	float *ln1;                /* (L, B, T, C) */
	float *ln1_mean, *ln1_rstd; /* (L, B, T) */
	float *qkv;                /* (L, B, T, 3C) */
	float *atty;               /* (L, B, T, C) */
	float *att;                /* (L, B, NH, T, T) */
	float *res2;               /* (L, B, T, C): x + attproj(...) */
	float *ln2;                /* (L, B, T, C) */
	float *ln2_mean, *ln2_rstd; /* (L, B, T) */
	float *fch;                /* (L, B, T, 4C) */
	float *fch_gelu;           /* (L, B, T, 4C) */
	float *res3;               /* (L, B, T, C): the layer's output */
	float *lnf;                /* (B, T, C) */
	float *lnf_mean, *lnf_rstd; /* (B, T) */
	float *logits;             /* (B, T, V) */
	float *probs;              /* (B, T, V) */
	float *losses;             /* (B, T) */
};

/* Gradient buffers: the residual stream's gradient and one layer's worth of
 * scratch, reused by every layer (backward visits one layer at a time). */
struct grad_acts {
	float *dres;      /* (B, T, C) gradient of the residual stream */
	float *dln;       /* (B, T, C) */
	float *datty;     /* (B, T, C) */
	float *dqkv;      /* (B, T, 3C) */
	float *datt;      /* (B, NH, T, T) attention backward scratch */
	float *dfch;      /* (B, T, 4C) */
	float *dfch_gelu; /* (B, T, 4C) */
	float *dlogits;   /* (B, T, V) */
	float *dlosses;   /* (B, T) */
};

/* Sizes in floats: rows bt = max_B max_T, one (B,T,C) array btc, one
 * layer's attention probabilities att, and the two buffers' totals. */
struct act_sizes {
	size_t bt, btc, att, n_acts, n_grad_acts;
};

static struct act_sizes act_sizes_of(const struct strata_gpt_config *cfg, int max_B, int max_T)
{
	struct act_sizes s;
	const size_t C = (size_t)cfg->d_model, L = (size_t)cfg->layers, V = (size_t)cfg->vocab;
	s.bt = (size_t)max_B * max_T;
	s.btc = s.bt * C;
	s.att = (size_t)max_B * cfg->heads * max_T * max_T;
	/* per layer and row: ln1 C, qkv 3C, atty C, res2 C, ln2 C, fch 4C,
	 * fch_gelu 4C, res3 C = 16C; two means and two rstds = 4; att per batch */
	s.n_acts = s.btc + L * (16 * s.btc + 4 * s.bt + s.att) + s.btc + 2 * s.bt + 2 * s.bt * V +
		   s.bt;
	/* dres, dln, datty C; dqkv 3C; dfch, dfch_gelu 4C each; datt; dlogits; dlosses */
	s.n_grad_acts = 3 * s.btc + 3 * s.btc + s.att + 8 * s.btc + s.bt * V + s.bt;
	return s;
}

static struct acts acts_at(const struct strata_gpt *g)
{
	const struct act_sizes s = act_sizes_of(&g->cfg, g->max_B, g->max_T);
	const size_t L = (size_t)g->cfg.layers, V = (size_t)g->cfg.vocab;
	struct acts a;
	float *p = g->acts;
#define TAKE(field, n)                                                                       \
	do {                                                                                 \
		a.field = p;                                                                 \
		p += (n);                                                                    \
	} while (0)
	TAKE(encoded, s.btc);
	TAKE(ln1, L * s.btc);
	TAKE(ln1_mean, L * s.bt);
	TAKE(ln1_rstd, L * s.bt);
	TAKE(qkv, L * 3 * s.btc);
	TAKE(atty, L * s.btc);
	TAKE(att, L * s.att);
	TAKE(res2, L * s.btc);
	TAKE(ln2, L * s.btc);
	TAKE(ln2_mean, L * s.bt);
	TAKE(ln2_rstd, L * s.bt);
	TAKE(fch, L * 4 * s.btc);
	TAKE(fch_gelu, L * 4 * s.btc);
	TAKE(res3, L * s.btc);
	TAKE(lnf, s.btc);
	TAKE(lnf_mean, s.bt);
	TAKE(lnf_rstd, s.bt);
	TAKE(logits, s.bt * V);
	TAKE(probs, s.bt * V);
	TAKE(losses, s.bt);
#undef TAKE
	return a;
}

static struct grad_acts grad_acts_at(const struct strata_gpt *g)
{
	const struct act_sizes s = act_sizes_of(&g->cfg, g->max_B, g->max_T);
	struct grad_acts d;
	float *p = g->grad_acts;
#define TAKE(field, n)                                                                       \
	do {                                                                                 \
		d.field = p;                                                                 \
		p += (n);                                                                    \
	} while (0)
	TAKE(dres, s.btc);
	TAKE(dln, s.btc);
	TAKE(datty, s.btc);
	TAKE(dqkv, 3 * s.btc);
	TAKE(datt, s.att);
	TAKE(dfch, 4 * s.btc);
	TAKE(dfch_gelu, 4 * s.btc);
	TAKE(dlogits, s.bt * (size_t)g->cfg.vocab);
	TAKE(dlosses, s.bt);
#undef TAKE
	return d;
}

/* Layer l's slice of a per-layer activation array of per-layer size n. */
#define LAYER(arr, l, n) ((arr) + (size_t)(l) * (n))

static float *alloc_floats(size_t n)
{
	if (n > SIZE_MAX / sizeof(float))
		return NULL;
	void *p = NULL;
	const size_t bytes = n > 0 ? n * sizeof(float) : 64;
	if (posix_memalign(&p, 64, bytes) != 0)
		return NULL;
	return p;
}

/* memset to zero on every thread (first touch and bandwidth of both cores). */
static void zero_floats(float *p, size_t n)
{
#pragma omp parallel if (n >= (1u << 16))
	{
		const int nt = omp_get_num_threads(), id = omp_get_thread_num();
		const size_t i0 = n * (size_t)id / (size_t)nt, i1 = n * (size_t)(id + 1) / (size_t)nt;
		memset(p + i0, 0, (i1 - i0) * sizeof(float));
	}
}

int strata_gpt_init(struct strata_gpt *g, const struct strata_gpt_config *cfg, int max_B,
                    int max_T, uint64_t seed, char *err, size_t err_len)
{
	memset(g, 0, sizeof(*g));
	if (strata_gpt_config_check(cfg, err, err_len) != 0)
		return -1;
	if (max_B < 1) {
		set_err(err, err_len, "batch: %d must be at least 1", max_B);
		return -1;
	}
	if (max_T < 1 || max_T > cfg->max_seq) {
		set_err(err, err_len, "seq_len: %d is out of range (1..max_seq %d)", max_T,
			cfg->max_seq);
		return -1;
	}
	g->cfg = *cfg;
	g->max_B = max_B;
	g->max_T = max_T;
	g->n_params = strata_gpt_param_count(cfg);
	const struct act_sizes s = act_sizes_of(cfg, max_B, max_T);
	g->n_acts = s.n_acts;
	g->params = alloc_floats(g->n_params);
	g->grads = alloc_floats(g->n_params);
	g->acts = alloc_floats(s.n_acts);
	g->grad_acts = alloc_floats(s.n_grad_acts);
	g->inputs = malloc(sizeof(int) * s.bt);
	g->targets = malloc(sizeof(int) * s.bt);
	if (!g->params || !g->grads || !g->acts || !g->grad_acts || !g->inputs || !g->targets ||
	    build_tensor_table(g) != 0) {
		set_err(err, err_len,
			"out of memory: %zu parameters, %zu activation floats, %zu gradient "
			"scratch floats (batch %d, seq_len %d)",
			g->n_params, s.n_acts, s.n_grad_acts, max_B, max_T);
		strata_gpt_release(g);
		return -1;
	}
	init_params(g, seed);
	zero_floats(g->grads, g->n_params);
	zero_floats(g->acts, s.n_acts);
	zero_floats(g->grad_acts, s.n_grad_acts);
	g->logits = acts_at(g).logits;
	g->mean_loss = -1.0f;
	return 0;
}

void strata_gpt_release(struct strata_gpt *g)
{
	free(g->params);
	free(g->grads);
	free(g->acts);
	free(g->grad_acts);
	free(g->inputs);
	free(g->targets);
	free(g->tensors);
	memset(g, 0, sizeof(*g));
}

/* ---- forward -------------------------------------------------------------------------- */

float strata_gpt_forward(struct strata_gpt *g, const int *inputs, const int *targets, int B,
                         int T)
{
	const int C = g->cfg.d_model, NH = g->cfg.heads, L = g->cfg.layers, V = g->cfg.vocab;
	if (B < 1 || B > g->max_B || T < 1 || T > g->max_T)
		return NAN;
	const long BT = (long)B * T;
	for (long i = 0; i < BT; i++) {
		if (inputs[i] < 0 || inputs[i] >= V || (targets && (targets[i] < 0 || targets[i] >= V)))
			return NAN;
	}
	g->B = B;
	g->T = T;
	memcpy(g->inputs, inputs, sizeof(int) * (size_t)BT);
	if (targets)
		memcpy(g->targets, targets, sizeof(int) * (size_t)BT);

	const int blas_prev = strata_nn_blas_enter();
	const struct act_sizes s = act_sizes_of(&g->cfg, g->max_B, g->max_T);
	const struct acts a = acts_at(g);
	const struct model_params mp = model_params_at(&g->cfg, g->params);

	strata_nn_encoder_forward(a.encoded, inputs, mp.wte, mp.wpe, B, T, C);
	const float *x = a.encoded; /* (B, T, C) the residual stream */
	for (int l = 0; l < L; l++) {
		const struct layer_params p = layer_params_at(&g->cfg, g->params, l);
		float *ln1 = LAYER(a.ln1, l, s.btc), *qkv = LAYER(a.qkv, l, 3 * s.btc);
		float *atty = LAYER(a.atty, l, s.btc), *att = LAYER(a.att, l, s.att);
		float *res2 = LAYER(a.res2, l, s.btc), *ln2 = LAYER(a.ln2, l, s.btc);
		float *fch = LAYER(a.fch, l, 4 * s.btc), *fch_gelu = LAYER(a.fch_gelu, l, 4 * s.btc);
		float *res3 = LAYER(a.res3, l, s.btc);

		strata_nn_layernorm_forward(ln1, LAYER(a.ln1_mean, l, s.bt),
					    LAYER(a.ln1_rstd, l, s.bt), x, p.ln1w, p.ln1b, (int)BT, C);
		strata_nn_matmul_forward(qkv, ln1, p.qkvw, p.qkvb, (int)BT, C, 3 * C);
		strata_nn_attention_forward(atty, att, qkv, B, T, C, NH);
		strata_nn_matmul_forward(res2, atty, p.attprojw, p.attprojb, (int)BT, C, C);
		strata_nn_residual_forward(res2, x, res2, BT * C);
		strata_nn_layernorm_forward(ln2, LAYER(a.ln2_mean, l, s.bt),
					    LAYER(a.ln2_rstd, l, s.bt), res2, p.ln2w, p.ln2b, (int)BT,
					    C);
		strata_nn_matmul_forward(fch, ln2, p.fcw, p.fcb, (int)BT, C, 4 * C);
		strata_nn_gelu_forward(fch_gelu, fch, BT * 4 * C);
		strata_nn_matmul_forward(res3, fch_gelu, p.fcprojw, p.fcprojb, (int)BT, 4 * C, C);
		strata_nn_residual_forward(res3, res2, res3, BT * C);
		x = res3;
	}
	strata_nn_layernorm_forward(a.lnf, a.lnf_mean, a.lnf_rstd, x, mp.lnfw, mp.lnfb, (int)BT, C);
	/* the output projection is tied to the token embedding: logits = lnf wte^T */
	strata_nn_matmul_forward(a.logits, a.lnf, mp.wte, NULL, (int)BT, C, V);

	g->mean_loss = -1.0f;
	if (targets) {
		strata_nn_softmax_xent_forward(a.probs, a.losses, a.logits, targets, (int)BT, V);
		double sum = 0.0;
		for (long i = 0; i < BT; i++)
			sum += a.losses[i];
		g->mean_loss = (float)(sum / (double)BT);
	}
	strata_nn_blas_leave(blas_prev);
	return g->mean_loss;
}

/* ---- backward -------------------------------------------------------------------------- */

void strata_gpt_zero_grad(struct strata_gpt *g)
{
	zero_floats(g->grads, g->n_params);
}

void strata_gpt_backward(struct strata_gpt *g, strata_gpt_grads_ready_fn ready, void *ctx)
{
	if (g->mean_loss < 0.0f)
		return; /* the last forward had no targets: no loss to differentiate */
	const int B = g->B, T = g->T, C = g->cfg.d_model, NH = g->cfg.heads, L = g->cfg.layers;
	const int V = g->cfg.vocab;
	const long BT = (long)B * T;
	const int blas_prev = strata_nn_blas_enter();
	const struct act_sizes s = act_sizes_of(&g->cfg, g->max_B, g->max_T);
	const struct acts a = acts_at(g);
	const struct grad_acts d = grad_acts_at(g);
	const struct model_params mp = model_params_at(&g->cfg, g->params);
	const struct model_params mg = model_params_at(&g->cfg, g->grads);

	/* d mean_loss / d loss[n] = 1 / BT */
	for (long i = 0; i < BT; i++)
		d.dlosses[i] = 1.0f / (float)BT;
	zero_floats(d.dlogits, (size_t)BT * V);
	strata_nn_softmax_xent_backward(d.dlogits, a.probs, g->targets, d.dlosses, (int)BT, V);
	zero_floats(d.dln, (size_t)BT * C);
	strata_nn_matmul_backward(d.dln, mg.wte, NULL, d.dlogits, a.lnf, mp.wte, (int)BT, C, V);
	/* the residual stream's gradient starts at the final layernorm */
	zero_floats(d.dres, (size_t)BT * C);
	const float *x_last = L > 0 ? LAYER(a.res3, L - 1, s.btc) : a.encoded;
	strata_nn_layernorm_backward(d.dres, mg.lnfw, mg.lnfb, d.dln, x_last, mp.lnfw, a.lnf_mean,
				     a.lnf_rstd, (int)BT, C);
	if (ready)
		ready(ctx, (size_t)(mg.lnfw - g->grads), 2 * (size_t)C);

	/* Each layer: the residual adds of the forward make dres the gradient of
	 * both its branches; the layernorms' backward adds their input
	 * gradient back into dres (the residual's backward). */
	for (int l = L - 1; l >= 0; l--) {
		const struct layer_params p = layer_params_at(&g->cfg, g->params, l);
		const struct layer_params dp = layer_params_at(&g->cfg, g->grads, l);
		const float *x = l > 0 ? LAYER(a.res3, l - 1, s.btc) : a.encoded;
		const float *ln1 = LAYER(a.ln1, l, s.btc), *qkv = LAYER(a.qkv, l, 3 * s.btc);
		const float *atty = LAYER(a.atty, l, s.btc), *att = LAYER(a.att, l, s.att);
		const float *res2 = LAYER(a.res2, l, s.btc), *ln2 = LAYER(a.ln2, l, s.btc);
		const float *fch = LAYER(a.fch, l, 4 * s.btc);
		const float *fch_gelu = LAYER(a.fch_gelu, l, 4 * s.btc);

		/* MLP half: res3 = res2 + fcproj(gelu(fc(ln2(res2)))) */
		zero_floats(d.dfch_gelu, (size_t)BT * 4 * C);
		strata_nn_matmul_backward(d.dfch_gelu, dp.fcprojw, dp.fcprojb, d.dres, fch_gelu,
					  p.fcprojw, (int)BT, 4 * C, C);
		zero_floats(d.dfch, (size_t)BT * 4 * C);
		strata_nn_gelu_backward(d.dfch, fch, d.dfch_gelu, BT * 4 * C);
		zero_floats(d.dln, (size_t)BT * C);
		strata_nn_matmul_backward(d.dln, dp.fcw, dp.fcb, d.dfch, ln2, p.fcw, (int)BT, C,
					  4 * C);
		strata_nn_layernorm_backward(d.dres, dp.ln2w, dp.ln2b, d.dln, res2, p.ln2w,
					     LAYER(a.ln2_mean, l, s.bt), LAYER(a.ln2_rstd, l, s.bt),
					     (int)BT, C);
		/* attention half: res2 = x + attproj(attn(qkv(ln1(x)))) */
		zero_floats(d.datty, (size_t)BT * C);
		strata_nn_matmul_backward(d.datty, dp.attprojw, dp.attprojb, d.dres, atty,
					  p.attprojw, (int)BT, C, C);
		zero_floats(d.dqkv, (size_t)BT * 3 * C);
		strata_nn_attention_backward_ws(d.dqkv, d.datt, d.datty, qkv, att, B, T, C, NH);
		zero_floats(d.dln, (size_t)BT * C);
		strata_nn_matmul_backward(d.dln, dp.qkvw, dp.qkvb, d.dqkv, ln1, p.qkvw, (int)BT, C,
					  3 * C);
		strata_nn_layernorm_backward(d.dres, dp.ln1w, dp.ln1b, d.dln, x, p.ln1w,
					     LAYER(a.ln1_mean, l, s.bt), LAYER(a.ln1_rstd, l, s.bt),
					     (int)BT, C);
		if (ready) {
			size_t off, count;
			strata_gpt_layer_range(&g->cfg, l, &off, &count);
			ready(ctx, off, count);
		}
	}
	strata_nn_encoder_backward(mg.wte, mg.wpe, d.dres, g->inputs, B, T, C);
	if (ready)
		ready(ctx, 0, ((size_t)V + (size_t)g->cfg.max_seq) * (size_t)C);
	strata_nn_blas_leave(blas_prev);
}

/* ---- checksum ----------------------------------------------------------------------------- */

/* FNV-1a, 64-bit (Fowler, Noll & Vo; offset basis and prime from the
 * reference at isthe.com/chongo/tech/comp/fnv). */
static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}
#define FNV1A_BASIS 0xcbf29ce484222325ull

uint64_t strata_gpt_params_checksum(const struct strata_gpt *g)
{
	return fnv1a(FNV1A_BASIS, g->params, g->n_params * sizeof(float));
}

/* ---- checkpoints -------------------------------------------------------------------------- */

/* Header, 64 bytes, little-endian:
 *   0 magic "STRATGPT"    8 version (u32)    12 vocab   16 max_seq
 *  20 layers  24 heads  28 d_model (i32 each)  32 n_params (u64)
 *  40 params_fnv1a (u64): FNV-1a of the parameter bytes that follow
 *  48..63 zero */
#define CKPT_MAGIC "STRATGPT"
#define CKPT_VERSION 1u
#define CKPT_HEADER_BYTES 64

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		const ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t n)
{
	char *p = buf;
	while (n > 0) {
		const ssize_t r = read(fd, p, n > (1u << 30) ? (1u << 30) : n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = 0; /* short file */
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int strata_gpt_save(const struct strata_gpt *g, const char *path, char *err, size_t err_len)
{
	unsigned char h[CKPT_HEADER_BYTES] = { 0 };
	memcpy(h, CKPT_MAGIC, 8);
	put_u32(h + 8, CKPT_VERSION);
	put_u32(h + 12, (uint32_t)g->cfg.vocab);
	put_u32(h + 16, (uint32_t)g->cfg.max_seq);
	put_u32(h + 20, (uint32_t)g->cfg.layers);
	put_u32(h + 24, (uint32_t)g->cfg.heads);
	put_u32(h + 28, (uint32_t)g->cfg.d_model);
	put_u64(h + 32, (uint64_t)g->n_params);
	put_u64(h + 40, strata_gpt_params_checksum(g));

	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
		set_err(err, err_len, "%s: path too long", path);
		return -1;
	}
	const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		set_err(err, err_len, "%s: cannot create: %s", tmp, strerror(errno));
		return -1;
	}
	if (write_all(fd, h, sizeof(h)) != 0 ||
	    write_all(fd, g->params, g->n_params * sizeof(float)) != 0 || fsync(fd) != 0) {
		set_err(err, err_len, "%s: write: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		set_err(err, err_len, "%s: cannot rename %s into place: %s", path, tmp,
			strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Read and check the header of path; fd left open at the parameters. */
static int open_checkpoint(const char *path, struct strata_gpt_config *cfg, uint64_t *n_params,
                           uint64_t *checksum, char *err, size_t err_len)
{
	const int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_err(err, err_len, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	unsigned char h[CKPT_HEADER_BYTES];
	if (read_all(fd, h, sizeof(h)) != 0) {
		set_err(err, err_len, "%s: header: shorter than %d bytes", path, CKPT_HEADER_BYTES);
		goto fail;
	}
	if (memcmp(h, CKPT_MAGIC, 8) != 0) {
		set_err(err, err_len, "%s: magic: not a strata GPT checkpoint (expected \"%s\")",
			path, CKPT_MAGIC);
		goto fail;
	}
	if (get_u32(h + 8) != CKPT_VERSION) {
		set_err(err, err_len, "%s: version: %u, this build reads version %u", path,
			get_u32(h + 8), CKPT_VERSION);
		goto fail;
	}
	cfg->vocab = (int)get_u32(h + 12);
	cfg->max_seq = (int)get_u32(h + 16);
	cfg->layers = (int)get_u32(h + 20);
	cfg->heads = (int)get_u32(h + 24);
	cfg->d_model = (int)get_u32(h + 28);
	char why[256];
	if (strata_gpt_config_check(cfg, why, sizeof(why)) != 0) {
		set_err(err, err_len, "%s: %s", path, why);
		goto fail;
	}
	*n_params = get_u64(h + 32);
	*checksum = get_u64(h + 40);
	if (*n_params != strata_gpt_param_count(cfg)) {
		set_err(err, err_len, "%s: n_params: %llu, but the shape in the header has %zu",
			path, (unsigned long long)*n_params, strata_gpt_param_count(cfg));
		goto fail;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 ||
	    (uint64_t)st.st_size != CKPT_HEADER_BYTES + *n_params * sizeof(float)) {
		set_err(err, err_len, "%s: n_params: the file holds %lld bytes, the header says %llu",
			path, (long long)st.st_size,
			(unsigned long long)(CKPT_HEADER_BYTES + *n_params * sizeof(float)));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

int strata_gpt_load_config(const char *path, struct strata_gpt_config *cfg, char *err,
                           size_t err_len)
{
	uint64_t n, sum;
	const int fd = open_checkpoint(path, cfg, &n, &sum, err, err_len);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

int strata_gpt_load(struct strata_gpt *g, const char *path, char *err, size_t err_len)
{
	struct strata_gpt_config cfg;
	uint64_t n, sum;
	const int fd = open_checkpoint(path, &cfg, &n, &sum, err, err_len);
	if (fd < 0)
		return -1;
	const struct {
		const char *name;
		int file, model;
	} f[] = {
		{ "vocab", cfg.vocab, g->cfg.vocab },     { "max_seq", cfg.max_seq, g->cfg.max_seq },
		{ "layers", cfg.layers, g->cfg.layers }, { "heads", cfg.heads, g->cfg.heads },
		{ "d_model", cfg.d_model, g->cfg.d_model },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (f[i].file != f[i].model) {
			set_err(err, err_len, "%s: %s: %d in the file, the model has %d", path,
				f[i].name, f[i].file, f[i].model);
			close(fd);
			return -1;
		}
	}
	/* Stage in grads, so a corrupted file leaves the weights as they were. */
	if (read_all(fd, g->grads, g->n_params * sizeof(float)) != 0) {
		set_err(err, err_len, "%s: parameters: read: %s", path,
			errno ? strerror(errno) : "short file");
		close(fd);
		zero_floats(g->grads, g->n_params);
		return -1;
	}
	close(fd);
	if (fnv1a(FNV1A_BASIS, g->grads, g->n_params * sizeof(float)) != sum) {
		set_err(err, err_len,
			"%s: params_fnv1a: the parameters do not match the header's checksum "
			"(corrupted file)",
			path);
		zero_floats(g->grads, g->n_params);
		return -1;
	}
	memcpy(g->params, g->grads, g->n_params * sizeof(float));
	zero_floats(g->grads, g->n_params);
	return 0;
}
