/* infer_sut.h: the transformer of gpt.h as a LoadGen system under test
 * (loadgen.h): greedy generation with a key/value cache (gpt_infer.h) for up
 * to S concurrent requests, in static or continuous batches.
 *
 * What it is: each held request owns one cache slot of a backend (the CPU's
 * gpt_infer.h, or the GPU's kernels/cuda/gpt_cuda.h through the same three
 * calls).  One step() is one unit of work: the prefill of one admitted
 * request (its prompt through the model, the first output token from its
 * last logits), or, when every held request is prefilled, one decode step
 * over all of them (one row each through every matmul, as gpt_infer.h's
 * strata_gpt_kv_decode).  Prefills go
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

/* The model behind the SUT: key/value caches with gpt_infer.h's semantics
 * (the CPU's, strata_infer_backend_cpu; or the GPU's, kernels/cuda/
 * gpt_cuda.h, adapted by the caller).  Functions return 0, or -1 with a
 * message. */
struct strata_infer_backend {
	void *ctx;
	int slots, max_len, vocab; /* S, Lmax, V */
	int (*reset)(void *ctx, int slot, char *err, size_t err_len);
	int (*prefill)(void *ctx, int slot, const int *tokens, int n, float *logits, char *err,
	               size_t err_len);
	int (*decode)(void *ctx, const int *slots, const int *tokens, int n, float *logits,
	              char *err, size_t err_len);
};
/* The CPU cache kv (borrowed) as a backend. */
void strata_infer_backend_cpu(struct strata_infer_backend *b, struct strata_gpt_kv *kv);

struct strata_infer_slot {
	int64_t id;       /* request held, -1: free */
	int prompt_tokens, output_tokens;
	int prefilled, emitted;
	int last_token;   /* the last generated token: the next decode's input */
	uint64_t hash;    /* FNV-1a over the tokens generated so far */
	int64_t order;    /* admission order (oldest prefilled first) */
};

struct strata_infer_sut {
	struct strata_infer_backend be; /* S = be.slots */
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

/* be's caches must outlive the SUT.  0, or -1 with a message. */
int strata_infer_sut_init(struct strata_infer_sut *s, const struct strata_infer_backend *be,
                          int continuous, uint64_t prompt_seed, char *err, size_t err_len);
void strata_infer_sut_release(struct strata_infer_sut *s);
void strata_infer_sut_counters_reset(struct strata_infer_sut *s);
/* The loadgen.h view of s (capacity S). */
void strata_infer_sut_loadgen(struct strata_infer_sut *s, struct strata_loadgen_sut *out);

/* The n prompt tokens of request id, in [0, vocab). */
void strata_infer_prompt(uint64_t seed, int64_t id, int n, int vocab, int *out);

/* Greedy decoding of one prompt alone (one, a backend of >= 1 slot: slot 0)
 * and inside a full batch (many: slot S/2, the other slots holding other
 * prompts of 1 .. n_prompt + 3 tokens, all decoded together step by step).
 * Both caches are reset first; many needs max_len >= n_prompt + 3 + n_out.
 * Fills the check: tokens of both, the largest |logit difference| while the
 * two agreed, and the verdict.  A differing token is a tie, not an error,
 * when the run alone scored the two tokens within tie_tol of each other
 * (rounding can break a near-tie either way: BF16 on a GPU); the sequences
 * then legitimately diverge, so the comparison stops there.  Returns the
 * number of unexplained differences (0: pass), or -1 with a message. */
#define STRATA_INFER_CHECK_MAX 64
struct strata_infer_check {
	int n_prompt, n_out, slots;
	int alone[STRATA_INFER_CHECK_MAX], batched[STRATA_INFER_CHECK_MAX];
	double max_logit_diff;
	double tie_tol;
	int compared;     /* positions compared */
	int tie_at;       /* position of an explained near-tie flip, -1: none */
	int mismatches;   /* unexplained differences */
	int first_mismatch; /* -1: none */
};
int strata_infer_batch_check(const struct strata_infer_backend *one,
                             const struct strata_infer_backend *many, const int *prompt,
                             int n_prompt, int n_out, uint64_t seed, double tie_tol,
                             struct strata_infer_check *out, char *err, size_t err_len);

#endif
