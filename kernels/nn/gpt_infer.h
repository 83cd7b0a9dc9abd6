/* gpt_infer.h: inference with a key/value cache over the transformer of
 * gpt.h: prefill of a prompt, then token-by-token decode, for several
 * concurrent sequences ("slots") at once, FP32 on the CPU.
 *
 * What it is: per layer and slot, the keys and values of every position
 * already seen, so a decode step costs one token's work per sequence rather
 * than a whole forward.  A decode step takes any set of slots, each at its
 * own length, and batches their rows through every matmul (one cblas_sgemm
 * with n rows instead of n with one), attention per slot over its own cache:
 * this is what static and continuous batching in the inference suite are
 * made of (continuous batching = a finished slot is reset and prefilled with
 * the next request between two decode steps).  What it is not: paged
 * attention, speculative decoding or sampling other than greedy.
 *
 * Letters as in gpt.h; S slots, Lmax cache length (<= Tmax).
 */
#ifndef STRATA_KERNELS_NN_GPT_INFER_H
#define STRATA_KERNELS_NN_GPT_INFER_H

#include <stddef.h>

#include "kernels/nn/gpt.h"

struct strata_gpt_kv {
	const struct strata_gpt *g; /* weights only are used (g->params) */
	int slots, max_len;         /* S, Lmax */
	float *k, *v;               /* (L, S, Lmax, C) */
	int *len;                   /* (S) positions cached per slot */
	float *scratch;             /* per-step buffers, sized for Lmax rows */
	size_t scratch_floats;
};

/* 0, or -1 with a message (max_len > Tmax, no memory). */
int strata_gpt_kv_init(struct strata_gpt_kv *kv, const struct strata_gpt *g, int slots,
                       int max_len, char *err, size_t err_len);
void strata_gpt_kv_release(struct strata_gpt_kv *kv);
/* Forget slot's cache (its length becomes 0). */
void strata_gpt_kv_reset(struct strata_gpt_kv *kv, int slot);

/* Append n tokens to slot's sequence (a prompt: prefill; the slot may
 * already hold tokens) and write the logits (V) of the last one.  -1 when
 * the slot would exceed Lmax. */
int strata_gpt_kv_prefill(struct strata_gpt_kv *kv, int slot, const int *tokens, int n,
                          float *logits);
/* One decode step: append tokens[i] to slot slots[i] for i < n (distinct
 * slots) and write logits (n, V).  -1 when a slot is full. */
int strata_gpt_kv_decode(struct strata_gpt_kv *kv, const int *slots, const int *tokens, int n,
                         float *logits);

/* Greedy choice: the index of the largest logit (the lowest on ties). */
int strata_gpt_argmax(const float *logits, int V);

#endif
