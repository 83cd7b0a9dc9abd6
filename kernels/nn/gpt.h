/* gpt.h: a decoder-only transformer (the GPT-2 shape) on the CPU, FP32:
 * parameters, forward with the loss, backward, and the FLOP count that MFU is
 * computed from.
 *
 * What it is: token + position embedding, L blocks of
 *   x = x + proj(attn(ln1(x)))      causal multi-head self-attention
 *   x = x + fcproj(gelu(fc(ln2(x)))) MLP, hidden width 4C
 * a final layernorm, the output projection tied to the token embedding, and
 * softmax cross-entropy.  Matmuls go through OpenBLAS (cblas_sgemm), the rest
 * is OpenMP loops (kernels/nn/gpt_layers.h holds one forward/backward pair per
 * layer).  What it is not: a tokenizer, a checkpoint format of any framework,
 * mixed precision (the CUDA backend, kernels/cuda/gpt_cuda.h, does BF16).
 *
 * Dimension letters, used in every shape comment:
 *   B micro-batch, T sequence length, C d_model, NH heads, hs = C/NH,
 *   L layers, V vocabulary, Tmax the position table's length.
 *
 * Parameters live in one contiguous float array, layer-major, so that the
 * gradient of one block is one contiguous range (the unit the data-parallel
 * all-reduce sends as soon as backward has finished it):
 *   wte (V, C)  wpe (Tmax, C)
 *   per layer l = 0..L-1, in this order:
 *     ln1w (C) ln1b (C) qkvw (3C, C) qkvb (3C) attprojw (C, C) attprojb (C)
 *     ln2w (C) ln2b (C) fcw (4C, C) fcb (4C) fcprojw (C, 4C) fcprojb (C)
 *   lnfw (C) lnfb (C)
 * Weights are stored (out, in), row-major: y = x W^T + b.
 */
#ifndef STRATA_KERNELS_NN_GPT_H
#define STRATA_KERNELS_NN_GPT_H

#include <stddef.h>
#include <stdint.h>

struct strata_gpt_config {
	int vocab;    /* V */
	int max_seq;  /* Tmax: positions the model knows */
	int layers;   /* L */
	int heads;    /* NH; must divide d_model */
	int d_model;  /* C */
};

/* "tiny" (trains in seconds on a 2-core CPU: V 64, Tmax 64, L 2, NH 4, C 64)
 * or "gpt2-small" (GPT-2 124M: V 50257, Tmax 1024, L 12, NH 12, C 768).
 * Returns 0, or -1 for an unknown name. */
int strata_gpt_preset(const char *name, struct strata_gpt_config *cfg);
/* Names of the presets, NULL-terminated (for parameter help and errors). */
extern const char *const strata_gpt_preset_names[];

/* 0 when the shape is usable; else -1 with a message naming the field. */
int strata_gpt_config_check(const struct strata_gpt_config *cfg, char *err, size_t err_len);

/* One parameter tensor's place in the flat array. */
enum strata_gpt_tensor_kind {
	STRATA_GPT_WTE, STRATA_GPT_WPE,
	STRATA_GPT_LN1W, STRATA_GPT_LN1B, STRATA_GPT_QKVW, STRATA_GPT_QKVB,
	STRATA_GPT_ATTPROJW, STRATA_GPT_ATTPROJB, STRATA_GPT_LN2W, STRATA_GPT_LN2B,
	STRATA_GPT_FCW, STRATA_GPT_FCB, STRATA_GPT_FCPROJW, STRATA_GPT_FCPROJB,
	STRATA_GPT_LNFW, STRATA_GPT_LNFB,
	STRATA_GPT_N_KINDS
};
struct strata_gpt_tensor {
	enum strata_gpt_tensor_kind kind;
	int layer;        /* -1 for wte, wpe, lnf* */
	size_t offset;    /* floats from the start of the array */
	size_t count;
	int decay;        /* 1: AdamW weight decay applies (2-D weights only) */
};

/* Parameter count of a shape: every float in the array (the FLOPs formulas
 * below leave the position table out). */
size_t strata_gpt_param_count(const struct strata_gpt_config *cfg);
/* Offset and count of layer l's block (12 tensors, contiguous). */
void strata_gpt_layer_range(const struct strata_gpt_config *cfg, int l, size_t *offset,
                            size_t *count);

/* Training FLOPs per token at sequence length T, the PaLM paper's MFU formula
 * (Chowdhery et al. 2022, "PaLM", appendix B): 6N + 12 L C T, where 6N is
 * one multiply-add per weight per token in the forward (2N) and twice that in
 * the backward (4N), and 12 L C T the attention scores and weighted sums
 * (2 x 2 x T x C per token per layer forward, times 3), counting the whole
 * T x T matrix as PaLM, nanoGPT's and llm.c's estimate_mfu do.  N here is the
 * parameter count without the position table wpe (a lookup, no matmul); the
 * tied wte counts (it is the output projection's matmul). */
double strata_gpt_train_flops_per_token(const struct strata_gpt_config *cfg, int T);
/* Forward-only FLOPs per token, 2N + 4 L C T, for inference figures. */
double strata_gpt_forward_flops_per_token(const struct strata_gpt_config *cfg, int T);

/* The model with its buffers for micro-batches up to (max_B, max_T). */
struct strata_gpt {
	struct strata_gpt_config cfg;
	size_t n_params;
	float *params;   /* (n_params) */
	float *grads;    /* (n_params), accumulated by backward */
	struct strata_gpt_tensor *tensors; /* (n_tensors) in array order */
	size_t n_tensors;
	int max_B, max_T;
	int B, T;        /* of the last forward */
	float *acts;     /* activations of the last forward (gpt.c lays them out) */
	size_t n_acts;
	float *grad_acts;
	int *inputs, *targets; /* (B, T) copies of the last forward's */
	float *logits;   /* (B, T, V) view into acts: the last forward's */
	float mean_loss; /* of the last forward with targets; -1 without */
};

/* Allocate for (max_B, max_T) and initialise the weights from seed as GPT-2
 * does: N(0, 0.02) for weights and embeddings, N(0, 0.02 / sqrt(2L)) for the
 * two residual projections (attprojw, fcprojw), zero biases, layernorm gain 1.
 * Returns 0, or -1 with a message (shape or out of memory). */
int strata_gpt_init(struct strata_gpt *g, const struct strata_gpt_config *cfg, int max_B,
                    int max_T, uint64_t seed, char *err, size_t err_len);
void strata_gpt_release(struct strata_gpt *g);

/* Forward over inputs (B, T) token ids; with targets (B, T) also the softmax
 * cross-entropy, mean over B x T, returned and kept in mean_loss (-1 when
 * targets is NULL).  B <= max_B, T <= max_T, ids < V: otherwise NaN is
 * returned and nothing is computed. */
float strata_gpt_forward(struct strata_gpt *g, const int *inputs, const int *targets, int B,
                         int T);

/* Called by backward as soon as a contiguous range of grads is final: the
 * final layernorm's, then each layer's block from L-1 down to 0, then the
 * embeddings' (wte gets its last contribution from the token embedding, so
 * it comes last).  The ranges cover the array exactly once. */
typedef void (*strata_gpt_grads_ready_fn)(void *ctx, size_t offset, size_t count);

void strata_gpt_zero_grad(struct strata_gpt *g);
/* Backward of the last forward (which had targets): adds d mean_loss / d
 * params into grads.  ready may be NULL. */
void strata_gpt_backward(struct strata_gpt *g, strata_gpt_grads_ready_fn ready, void *ctx);

/* A checksum of the parameters' bits (FNV-1a over the bytes): ranks that
 * hold identical weights get identical values. */
uint64_t strata_gpt_params_checksum(const struct strata_gpt *g);

/* Checkpoint: a 64-byte header (magic "STRATGPT", version, the five config
 * fields, parameter count) then the FP32 parameters, little-endian.  save
 * writes path.tmp.<pid>, fsyncs and renames (atomic).  load_config reads the
 * header only; load fills an initialised model of the same shape.  Errors
 * name the file and the field that does not match.  gpt.c also keeps an
 * FNV-1a checksum of the parameter bytes in the header (offset 40, field
 * params_fnv1a), checked by load; load stages the file in grads, so on any
 * error the weights are left as they were, and grads are zero afterwards. */
int strata_gpt_save(const struct strata_gpt *g, const char *path, char *err, size_t err_len);
int strata_gpt_load_config(const char *path, struct strata_gpt_config *cfg, char *err,
                           size_t err_len);
int strata_gpt_load(struct strata_gpt *g, const char *path, char *err, size_t err_len);

#endif
