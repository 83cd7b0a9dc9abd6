/* test_nn_infer.c: KV-cache inference (kernels/nn/gpt_infer.c) against the
 * training forward of kernels/nn/gpt.c.
 *
 * Covers: decode logits at every position equal the full forward's at that
 * position; a prompt longer than one attention block prefilled at once, and
 * in two pieces, equal the forward; batched decode of slots at different
 * lengths equals decoding each alone; greedy tokens identical at batch size
 * 1 and inside a batch; reset; argmax ties; and the errors (cache longer than
 * the model's positions, a slot that would overflow, repeated slots, bad
 * ids), none of which changes a slot.  Tolerance: 1e-4 of the row's largest
 * logit (the two paths sum in different orders in FP32).  Not a benchmark.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "kernels/nn/gpt.h"
#include "kernels/nn/gpt_infer.h"

#define V 37
#define TMAX 80

/* A model whose weights are GPT-2's init plus noise of 0.1 (so that logits
 * differ clearly between positions and tokens). */
static void model_init(struct strata_gpt *g, int max_B, int max_T)
{
	const struct strata_gpt_config cfg = { V, TMAX, 2, 4, 32 };
	char err[256] = "";
	if (strata_gpt_init(g, &cfg, max_B, max_T, 11, err, sizeof(err)) != 0) {
		print_error("init: %s\n", err);
		fail();
	}
	uint64_t s = 5;
	for (size_t i = 0; i < g->n_params; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		g->params[i] += 0.2f * ((float)(s >> 40) / (float)(1 << 24) - 0.5f);
	}
}

static void kv_init_ok(struct strata_gpt_kv *kv, const struct strata_gpt *g, int slots,
                       int max_len)
{
	char err[256] = "";
	if (strata_gpt_kv_init(kv, g, slots, max_len, err, sizeof(err)) != 0) {
		print_error("kv init: %s\n", err);
		fail();
	}
}

static int token_at(int seq, int t)
{
	return (seq * 7 + t * t * 3 + t + 1) % V;
}

/* max |a - b| / max |b| over one row of V logits must stay under 1e-4 */
static void assert_row_close(const char *what, int pos, const float *a, const float *b)
{
	double err = 0, scale = 1e-30;
	for (int i = 0; i < V; i++) {
		err = fmax(err, fabs((double)a[i] - b[i]));
		scale = fmax(scale, fabs(b[i]));
	}
	if (err / scale > 1e-4) {
		print_error("%s: position %d: error %.3g of the largest logit %.3g\n", what, pos,
			    err / scale, scale);
		fail();
	}
}

static void test_decode_matches_forward(void **state)
{
	(void)state;
	const int T = 70;
	struct strata_gpt g;
	model_init(&g, 1, T);
	int tok[70];
	for (int t = 0; t < T; t++)
		tok[t] = token_at(0, t);
	strata_gpt_forward(&g, tok, NULL, 1, T);
	struct strata_gpt_kv kv;
	kv_init_ok(&kv, &g, 2, TMAX);
	float logits[V];
	/* slot 1, so that slot indexing is exercised too */
	assert_int_equal(strata_gpt_kv_prefill(&kv, 1, tok, 1, logits), 0);
	assert_row_close("prefill of one token", 0, logits, g.logits);
	for (int t = 1; t < T; t++) {
		const int slot = 1;
		assert_int_equal(strata_gpt_kv_decode(&kv, &slot, &tok[t], 1, logits), 0);
		assert_row_close("decode", t, logits, g.logits + (size_t)t * V);
	}
	assert_int_equal(kv.len[1], T);
	assert_int_equal(kv.len[0], 0);
	strata_gpt_kv_release(&kv);
	strata_gpt_release(&g);
}

static void test_prefill_at_once_and_in_pieces(void **state)
{
	(void)state;
	const int T = 75; /* two causal blocks of 64 */
	struct strata_gpt g;
	model_init(&g, 1, T);
	int tok[75];
	for (int t = 0; t < T; t++)
		tok[t] = token_at(1, t);
	strata_gpt_forward(&g, tok, NULL, 1, T);
	struct strata_gpt_kv kv;
	kv_init_ok(&kv, &g, 3, TMAX);
	float once[V], pieces[V], next_once[V], next_pieces[V];
	assert_int_equal(strata_gpt_kv_prefill(&kv, 0, tok, T, once), 0);
	assert_row_close("prefill at once", T - 1, once, g.logits + (size_t)(T - 1) * V);
	assert_int_equal(strata_gpt_kv_prefill(&kv, 2, tok, 30, pieces), 0);
	assert_row_close("first piece", 29, pieces, g.logits + (size_t)29 * V);
	assert_int_equal(strata_gpt_kv_prefill(&kv, 2, tok + 30, T - 30, pieces), 0);
	assert_row_close("two pieces", T - 1, pieces, once);
	/* and the caches agree: the next decode step gives the same logits */
	const int s0 = 0, s2 = 2, t = 5;
	assert_int_equal(strata_gpt_kv_decode(&kv, &s0, &t, 1, next_once), 0);
	assert_int_equal(strata_gpt_kv_decode(&kv, &s2, &t, 1, next_pieces), 0);
	assert_row_close("decode after pieces", T, next_pieces, next_once);
	strata_gpt_kv_release(&kv);
	strata_gpt_release(&g);
}

static void test_batched_decode_matches_single(void **state)
{
	(void)state;
	struct strata_gpt g;
	model_init(&g, 1, 8);
	struct strata_gpt_kv batched, single;
	kv_init_ok(&batched, &g, 4, 40);
	kv_init_ok(&single, &g, 4, 40);
	const int prompt_len[4] = { 5, 12, 1, 0 }; /* slot 3 stays empty */
	float lb[4 * V], ls[V];
	for (int s = 0; s < 3; s++) {
		int p[12];
		for (int t = 0; t < prompt_len[s]; t++)
			p[t] = token_at(s + 2, t);
		assert_int_equal(strata_gpt_kv_prefill(&batched, s, p, prompt_len[s], lb), 0);
		assert_int_equal(strata_gpt_kv_prefill(&single, s, p, prompt_len[s], ls), 0);
		assert_row_close("prefill", prompt_len[s] - 1, lb, ls);
	}
	const int order[3] = { 2, 0, 1 }; /* not in slot order */
	for (int step = 0; step < 8; step++) {
		int tok[3];
		for (int i = 0; i < 3; i++)
			tok[i] = token_at(order[i], 20 + step);
		assert_int_equal(strata_gpt_kv_decode(&batched, order, tok, 3, lb), 0);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(strata_gpt_kv_decode(&single, &order[i], &tok[i], 1, ls), 0);
			assert_row_close("batched decode", step, lb + (size_t)i * V, ls);
		}
	}
	for (int s = 0; s < 4; s++)
		assert_int_equal(batched.len[s], single.len[s]);
	assert_int_equal(batched.len[0], 5 + 8);
	assert_int_equal(batched.len[3], 0);
	strata_gpt_kv_release(&batched);
	strata_gpt_kv_release(&single);
	strata_gpt_release(&g);
}

/* Greedy generation of 12 tokens after a prompt, alone and inside a batch of
 * three slots with other prompts: the same tokens. */
static void test_greedy_same_alone_and_in_batch(void **state)
{
	(void)state;
	struct strata_gpt g;
	model_init(&g, 1, 8);
	const int prompt[6] = { 3, 14, 15, 9, 26, 5 };
	int alone[12], inside[12];
	float logits[3 * V];

	struct strata_gpt_kv kv;
	kv_init_ok(&kv, &g, 1, 40);
	assert_int_equal(strata_gpt_kv_prefill(&kv, 0, prompt, 6, logits), 0);
	for (int k = 0; k < 12; k++) {
		alone[k] = strata_gpt_argmax(logits, V);
		const int slot = 0;
		assert_int_equal(strata_gpt_kv_decode(&kv, &slot, &alone[k], 1, logits), 0);
	}
	strata_gpt_kv_release(&kv);

	kv_init_ok(&kv, &g, 3, 40);
	const int other1[3] = { 1, 2, 3 }, other2[9] = { 30, 20, 10, 0, 36, 7, 7, 7, 1 };
	int next[3];
	assert_int_equal(strata_gpt_kv_prefill(&kv, 0, other1, 3, logits), 0);
	next[0] = strata_gpt_argmax(logits, V);
	assert_int_equal(strata_gpt_kv_prefill(&kv, 1, prompt, 6, logits), 0);
	next[1] = strata_gpt_argmax(logits, V);
	assert_int_equal(strata_gpt_kv_prefill(&kv, 2, other2, 9, logits), 0);
	next[2] = strata_gpt_argmax(logits, V);
	const int slots[3] = { 0, 1, 2 };
	for (int k = 0; k < 12; k++) {
		inside[k] = next[1];
		assert_int_equal(strata_gpt_kv_decode(&kv, slots, next, 3, logits), 0);
		for (int i = 0; i < 3; i++)
			next[i] = strata_gpt_argmax(logits + (size_t)i * V, V);
	}
	assert_memory_equal(alone, inside, sizeof(alone));
	strata_gpt_kv_release(&kv);
	strata_gpt_release(&g);
}

static void test_errors_and_reset(void **state)
{
	(void)state;
	struct strata_gpt g;
	model_init(&g, 1, 8);
	struct strata_gpt_kv kv;
	char err[256] = "";
	assert_int_equal(strata_gpt_kv_init(&kv, &g, 2, TMAX + 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "max_len"));
	assert_int_equal(strata_gpt_kv_init(&kv, &g, 0, 8, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "slots"));

	kv_init_ok(&kv, &g, 2, 8);
	int tok[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	float logits[2 * V], first[V];
	assert_int_equal(strata_gpt_kv_prefill(&kv, 0, tok, 9, logits), -1); /* 9 > 8 */
	assert_int_equal(kv.len[0], 0);
	assert_int_equal(strata_gpt_kv_prefill(&kv, 0, tok, 6, first), 0);
	assert_int_equal(strata_gpt_kv_prefill(&kv, 0, tok, 3, logits), -1); /* 6 + 3 > 8 */
	assert_int_equal(kv.len[0], 6);
	const int s0 = 0;
	assert_int_equal(strata_gpt_kv_decode(&kv, &s0, tok, 1, logits), 0);
	assert_int_equal(strata_gpt_kv_decode(&kv, &s0, tok, 1, logits), 0);
	assert_int_equal(kv.len[0], 8);
	assert_int_equal(strata_gpt_kv_decode(&kv, &s0, tok, 1, logits), -1); /* full */
	const int both[2] = { 1, 0 };
	assert_int_equal(strata_gpt_kv_decode(&kv, both, tok, 2, logits), -1); /* slot 0 full */
	assert_int_equal(kv.len[1], 0); /* nothing appended to slot 1 either */
	const int twice[2] = { 1, 1 };
	assert_int_equal(strata_gpt_kv_decode(&kv, twice, tok, 2, logits), -1);
	const int s5 = 5, bad_tok = V;
	assert_int_equal(strata_gpt_kv_decode(&kv, &s5, tok, 1, logits), -1);
	assert_int_equal(strata_gpt_kv_prefill(&kv, 1, &bad_tok, 1, logits), -1);
	assert_int_equal(strata_gpt_kv_prefill(&kv, 1, tok, 0, logits), -1);
	/* reset: the slot starts over and gives the first prefill's logits */
	strata_gpt_kv_reset(&kv, 0);
	assert_int_equal(kv.len[0], 0);
	assert_int_equal(strata_gpt_kv_prefill(&kv, 0, tok, 6, logits), 0);
	assert_memory_equal(logits, first, sizeof(first));
	strata_gpt_kv_release(&kv);
	strata_gpt_release(&g);
}

static void test_argmax(void **state)
{
	(void)state;
	const float a[5] = { -1.0f, 2.0f, 0.5f, 2.0f, 1.0f };
	assert_int_equal(strata_gpt_argmax(a, 5), 1); /* the lowest of the ties */
	const float b[3] = { -3.0f, -2.0f, -2.5f };
	assert_int_equal(strata_gpt_argmax(b, 3), 1);
	assert_int_equal(strata_gpt_argmax(b, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_matches_forward),
		cmocka_unit_test(test_prefill_at_once_and_in_pieces),
		cmocka_unit_test(test_batched_decode_matches_single),
		cmocka_unit_test(test_greedy_same_alone_and_in_batch),
		cmocka_unit_test(test_errors_and_reset),
		cmocka_unit_test(test_argmax),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
