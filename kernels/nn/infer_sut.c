/* infer_sut.c: the transformer as a LoadGen system under test (see
 * infer_sut.h for what it is and is not). */
#include "kernels/nn/infer_sut.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a, 64-bit (Fowler, Noll, Vo; IETF draft-eastlake-fnv): offset basis
 * and prime. */
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv_int(uint64_t h, int64_t v)
{
	for (int i = 0; i < 8; i++) {
		h ^= (uint64_t)(v >> (8 * i)) & 0xff;
		h *= FNV_PRIME;
	}
	return h;
}

void strata_infer_prompt(uint64_t seed, int64_t id, int n, int vocab, int *out)
{
	struct strata_loadgen_rng r;
	strata_loadgen_rng_seed(&r, seed, (uint64_t)id + 1000);
	for (int i = 0; i < n; i++)
		out[i] = (int)(strata_loadgen_rng_u64(&r) % (uint64_t)vocab);
}

/* ---- the CPU backend ------------------------------------------------------------ */

static int cpu_reset(void *ctx, int slot, char *err, size_t err_len)
{
	(void)err;
	(void)err_len;
	strata_gpt_kv_reset(ctx, slot);
	return 0;
}

static int cpu_prefill(void *ctx, int slot, const int *tokens, int n, float *logits, char *err,
		       size_t err_len)
{
	if (strata_gpt_kv_prefill(ctx, slot, tokens, n, logits) == 0)
		return 0;
	snprintf(err, err_len, "prefill of %d tokens into slot %d failed (cache full?)", n, slot);
	return -1;
}

static int cpu_decode(void *ctx, const int *slots, const int *tokens, int n, float *logits,
		      char *err, size_t err_len)
{
	if (strata_gpt_kv_decode(ctx, slots, tokens, n, logits) == 0)
		return 0;
	snprintf(err, err_len, "decode step over %d slots failed (a cache full?)", n);
	return -1;
}

void strata_infer_backend_cpu(struct strata_infer_backend *b, struct strata_gpt_kv *kv)
{
	*b = (struct strata_infer_backend){ .ctx = kv, .slots = kv->slots, .max_len = kv->max_len,
					    .vocab = kv->g->cfg.vocab, .reset = cpu_reset,
					    .prefill = cpu_prefill, .decode = cpu_decode };
}

/* ---- the SUT ------------------------------------------------------------------ */

int strata_infer_sut_init(struct strata_infer_sut *s, const struct strata_infer_backend *be,
			  int continuous, uint64_t prompt_seed, char *err, size_t err_len)
{
	memset(s, 0, sizeof(*s));
	int S = be->slots, V = be->vocab;
	s->be = *be;
	s->continuous = continuous;
	s->prompt_seed = prompt_seed;
	s->slot = calloc((size_t)S, sizeof(*s->slot));
	s->logits = malloc((size_t)S * (size_t)V * sizeof(*s->logits));
	s->step_slots = malloc((size_t)S * sizeof(int));
	s->step_tokens = malloc((size_t)S * sizeof(int));
	s->prompt = malloc((size_t)(be->max_len > 0 ? be->max_len : 1) * sizeof(int));
	if (!s->slot || !s->logits || !s->step_slots || !s->step_tokens || !s->prompt) {
		strata_infer_sut_release(s);
		snprintf(err, err_len, "infer_sut: out of memory for %d slots", S);
		return -1;
	}
	for (int i = 0; i < S; i++)
		s->slot[i].id = -1;
	return 0;
}

void strata_infer_sut_release(struct strata_infer_sut *s)
{
	free(s->slot);
	free(s->logits);
	free(s->step_slots);
	free(s->step_tokens);
	free(s->prompt);
	memset(s, 0, sizeof(*s));
}

void strata_infer_sut_counters_reset(struct strata_infer_sut *s)
{
	s->prefills = s->prefill_tokens = s->decode_steps = s->decode_rows = s->completed = 0;
	s->output_hash_sum = 0;
}

static int sut_admit(void *ctx, const struct strata_loadgen_request *r, char *err, size_t err_len)
{
	struct strata_infer_sut *s = ctx;
	if (!s->continuous && s->batch_running)
		return STRATA_LOADGEN_BUSY; /* static: wait for the whole batch */
	if (r->prompt_tokens + r->output_tokens - 1 > s->be.max_len) {
		snprintf(err, err_len,
			 "request %lld: prompt %d + output %d - 1 tokens exceed the cache length %d",
			 (long long)r->id, r->prompt_tokens, r->output_tokens, s->be.max_len);
		return -1;
	}
	for (int i = 0; i < s->be.slots; i++) {
		struct strata_infer_slot *sl = &s->slot[i];
		if (sl->id >= 0)
			continue;
		if (s->be.reset(s->be.ctx, i, err, err_len) != 0)
			return -1;
		*sl = (struct strata_infer_slot){ .id = r->id, .prompt_tokens = r->prompt_tokens,
						  .output_tokens = r->output_tokens,
						  .hash = fnv_int(FNV_OFFSET, r->id),
						  .order = s->admitted++ };
		s->held++;
		return STRATA_LOADGEN_ADMITTED;
	}
	return STRATA_LOADGEN_BUSY;
}

/* Record token tok for slot i, and finish the request when it has all. */
static void emit(struct strata_infer_sut *s, int i, int tok, const struct strata_loadgen_sink *sink)
{
	struct strata_infer_slot *sl = &s->slot[i];
	sl->last_token = tok;
	sl->emitted++;
	sl->hash = fnv_int(sl->hash, tok);
	sink->token(sink->ctx, sl->id, 1);
	if (sl->emitted < sl->output_tokens)
		return;
	s->completed++;
	s->output_hash_sum += sl->hash;
	int64_t id = sl->id;
	sl->id = -1;
	s->held--;
	if (s->held == 0)
		s->batch_running = 0;
	sink->done(sink->ctx, id);
}

static int sut_step(void *ctx, const struct strata_loadgen_sink *sink, char *err, size_t err_len)
{
	struct strata_infer_sut *s = ctx;
	int S = s->be.slots, V = s->be.vocab;
	s->batch_running = 1;
	/* The oldest request not prefilled yet, if any. */
	int pick = -1;
	for (int i = 0; i < S; i++)
		if (s->slot[i].id >= 0 && !s->slot[i].prefilled &&
		    (pick < 0 || s->slot[i].order < s->slot[pick].order))
			pick = i;
	if (pick >= 0) {
		struct strata_infer_slot *sl = &s->slot[pick];
		strata_infer_prompt(s->prompt_seed, sl->id, sl->prompt_tokens, V, s->prompt);
		if (s->be.prefill(s->be.ctx, pick, s->prompt, sl->prompt_tokens, s->logits, err,
				  err_len) != 0)
			return -1;
		sl->prefilled = 1;
		s->prefills++;
		s->prefill_tokens += sl->prompt_tokens;
		emit(s, pick, strata_gpt_argmax(s->logits, V), sink);
		return 0;
	}
	int n = 0;
	for (int i = 0; i < S; i++) {
		if (s->slot[i].id < 0)
			continue;
		s->step_slots[n] = i;
		s->step_tokens[n] = s->slot[i].last_token;
		n++;
	}
	if (n == 0)
		return 0;
	if (s->be.decode(s->be.ctx, s->step_slots, s->step_tokens, n, s->logits, err, err_len) != 0)
		return -1;
	s->decode_steps++;
	s->decode_rows += n;
	for (int j = 0; j < n; j++)
		emit(s, s->step_slots[j], strata_gpt_argmax(s->logits + (size_t)j * (size_t)V, V), sink);
	return 0;
}

static void sut_reset(void *ctx)
{
	struct strata_infer_sut *s = ctx;
	for (int i = 0; i < s->be.slots; i++)
		s->slot[i].id = -1;
	s->held = 0;
	s->batch_running = 0;
}

void strata_infer_sut_loadgen(struct strata_infer_sut *s, struct strata_loadgen_sut *out)
{
	*out = (struct strata_loadgen_sut){ .ctx = s, .capacity = s->be.slots, .admit = sut_admit,
					    .step = sut_step, .reset = sut_reset };
}

/* ---- batch invariance ---------------------------------------------------------- */

static double max_abs_diff(const float *a, const float *b, int n)
{
	double m = 0;
	for (int i = 0; i < n; i++)
		m = fmax(m, fabs((double)a[i] - (double)b[i]));
	return m;
}

int strata_infer_batch_check(const struct strata_infer_backend *one,
			     const struct strata_infer_backend *many, const int *prompt,
			     int n_prompt, int n_out, uint64_t seed, double tie_tol,
			     struct strata_infer_check *out, char *err, size_t err_len)
{
	int V = one->vocab, S = many->slots, mid = S / 2;
	int longest = n_prompt + 3; /* the other prompts are 1 .. n_prompt + 3 tokens */
	memset(out, 0, sizeof(*out));
	out->n_prompt = n_prompt;
	out->n_out = n_out;
	out->slots = S;
	out->tie_tol = tie_tol;
	out->tie_at = -1;
	out->first_mismatch = -1;
	if (n_out < 1 || n_out > STRATA_INFER_CHECK_MAX || n_prompt < 1 || many->vocab != V ||
	    n_prompt + n_out - 1 > one->max_len || longest + n_out > many->max_len) {
		snprintf(err, err_len, "batch check: %d + %d tokens do not fit the caches (%d, %d)",
			 n_prompt, n_out, one->max_len, many->max_len);
		return -1;
	}
	float *ref = malloc((size_t)n_out * (size_t)V * sizeof(*ref));
	float *logits = malloc((size_t)S * (size_t)V * sizeof(*logits));
	int *last = malloc((size_t)S * sizeof(int)), *ids = malloc((size_t)S * sizeof(int));
	int *other = malloc((size_t)longest * sizeof(int));
	int rc = -1;
	if (!ref || !logits || !last || !ids || !other) {
		snprintf(err, err_len, "batch check: out of memory");
		goto out_free;
	}

	/* Alone: prefill, then n_out - 1 decode steps of one row. */
	if (one->reset(one->ctx, 0, err, err_len) != 0 ||
	    one->prefill(one->ctx, 0, prompt, n_prompt, ref, err, err_len) != 0)
		goto out_free;
	out->alone[0] = strata_gpt_argmax(ref, V);
	for (int j = 1; j < n_out; j++) {
		int slot0 = 0;
		float *lj = ref + (size_t)j * (size_t)V;
		if (one->decode(one->ctx, &slot0, &out->alone[j - 1], 1, lj, err, err_len) != 0)
			goto out_free;
		out->alone[j] = strata_gpt_argmax(lj, V);
	}

	/* In a full batch: every slot prefilled (slot mid with the prompt, the
	 * others with prompts of other lengths), then decoded together, each
	 * slot fed its own tokens. */
	for (int k = 0; k < S; k++) {
		const int *p = prompt;
		int len = n_prompt;
		if (k != mid) {
			len = 1 + (k * 5 + 2) % longest;
			strata_infer_prompt(seed, 1000000 + k, len, V, other);
			p = other;
		}
		if (many->reset(many->ctx, k, err, err_len) != 0 ||
		    many->prefill(many->ctx, k, p, len, logits, err, err_len) != 0)
			goto out_free;
		last[k] = strata_gpt_argmax(logits, V);
		if (k == mid)
			out->max_logit_diff = max_abs_diff(logits, ref, V);
		ids[k] = k;
	}
	out->batched[0] = last[mid];
	for (int j = 1; j < n_out; j++) {
		if (many->decode(many->ctx, ids, last, S, logits, err, err_len) != 0)
			goto out_free;
		for (int k = 0; k < S; k++)
			last[k] = strata_gpt_argmax(logits + (size_t)k * (size_t)V, V);
		out->batched[j] = last[mid];
		if (out->batched[j - 1] == out->alone[j - 1]) /* same context so far */
			out->max_logit_diff = fmax(out->max_logit_diff,
						   max_abs_diff(logits + (size_t)mid * (size_t)V,
								ref + (size_t)j * (size_t)V, V));
	}
	/* The verdict: compare until the first difference; a difference the
	 * alone run scored as a near-tie ends the comparison without blame. */
	for (int j = 0; j < n_out; j++) {
		out->compared = j + 1;
		int a = out->alone[j], b = out->batched[j];
		if (a == b)
			continue;
		const float *lj = ref + (size_t)j * (size_t)V;
		if (fabs((double)lj[a] - (double)lj[b]) <= tie_tol) {
			out->tie_at = j;
			break;
		}
		out->mismatches = n_out - j; /* every later token has another context */
		out->first_mismatch = j;
		break;
	}
	rc = out->mismatches;
out_free:
	free(ref);
	free(logits);
	free(last);
	free(ids);
	free(other);
	return rc;
}
