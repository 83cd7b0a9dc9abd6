/* infer_sut.h: the transformer of gpt.h as a LoadGen system under test
 * (loadgen.h): greedy generation with a key/value cache (gpt_infer.h) for up
 * to S concurrent requests, in static or continuous batches.
 *
 * What it is: each held request owns one cache slot.  One step() is one
 * unit of work: the prefill of one admitted request (its prompt through the
 * model, the first output token from its last logits), or, when every held
 * request is prefilled, one decode step over all of them (one row each
 * through every matmul, gpt_infer.h's strata_gpt_kv_decode).  Prefills go
 * first, oldest first, so a new request's first token is not held back by
 * the decodes of the others.
 *   continuous  a finished request's slot takes the next request at once
 *               (between two steps);
 *   static      a batch is the requests held when its first step runs; no
 *               request joins until every one of them has finished (slots
 *               freed early stay idle).
 * Prompts are synthetic: request id's tokens are drawn from (seed, id), so a
 * run's work is the same at every repetition and on every batching.  Every
 * generated token is folded into a per-request FNV-1a hash, and the hashes
 * of completed requests are summed (order-free): greedy decoding must give
 * the same sum whatever the batching.
 * What it is not: a tokenizer, sampling other than greedy, paged attention,
 * or a scheduler with priorities or preemption.
 */
#ifndef STRATA_KERNELS_NN_INFER_SUT_H
#define STRATA_KERNELS_NN_INFER_SUT_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/nn/gpt_infer.h"
#include "kernels/nn/loadgen.h"

struct strata_infer_slot {
	int64_t id;       /* request held, -1: free */
	int prompt_tokens, output_tokens;
	int prefilled, emitted;
	int last_token;   /* the last generated token: the next decode's input */
	uint64_t hash;    /* FNV-1a over the tokens generated so far */
	int64_t order;    /* admission order (oldest prefilled first) */
};

struct strata_infer_sut {
	struct strata_gpt_kv *kv;    /* borrowed: S = kv->slots, Lmax = kv->max_len */
	int vocab;
	int continuous;
	uint64_t prompt_seed;
	struct strata_infer_slot *slot; /* (S) */
	int held;
	int batch_running;           /* static: a batch has begun and is not finished */
	int64_t admitted;
	float *logits;               /* (S, V) */
	int *step_slots, *step_tokens; /* (S) */
	int *prompt;                 /* (Lmax) */
	/* Counters since init (or the last strata_infer_sut_counters_reset). */
	int64_t prefills, prefill_tokens, decode_steps, decode_rows, completed;
	uint64_t output_hash_sum;    /* sum of completed requests' hashes */
};

/* kv must outlive the SUT.  0, or -1 with a message. */
int strata_infer_sut_init(struct strata_infer_sut *s, struct strata_gpt_kv *kv, int continuous,
                          uint64_t prompt_seed, char *err, size_t err_len);
void strata_infer_sut_release(struct strata_infer_sut *s);
void strata_infer_sut_counters_reset(struct strata_infer_sut *s);
/* The loadgen.h view of s (capacity S). */
void strata_infer_sut_loadgen(struct strata_infer_sut *s, struct strata_loadgen_sut *out);

/* The n prompt tokens of request id, in [0, vocab). */
void strata_infer_prompt(uint64_t seed, int64_t id, int n, int vocab, int *out);

/* Greedy decoding of one prompt alone (a 1-slot cache) and inside a full
 * batch (slot S/2 of an S-slot cache whose other slots hold other prompts of
 * other lengths, all decoded together step by step): tokens of both into
 * alone[n_out] and batched[n_out], the largest |logit difference| over the
 * steps into *max_logit_diff.  Returns how many positions differ (0: the
 * same tokens), or -1 with a message. */
int strata_infer_batch_check(const struct strata_gpt *g, int slots, const int *prompt, int n_prompt,
                             int n_out, uint64_t seed, int *alone, int *batched,
                             double *max_logit_diff, char *err, size_t err_len);

#endif
