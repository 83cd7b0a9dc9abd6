/* test_nn_infer_sut.c: the transformer as a LoadGen SUT (kernels/nn/
 * infer_sut.h) on the tiny preset: greedy outputs do not depend on the
 * batching (the order-free sum of per-request token hashes is the same for
 * batch 1, static and continuous batches); static batching admits nothing
 * while a batch runs; the batch-invariance check agrees; requests that do
 * not fit the cache are refused with a message. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/nn/gpt.h"
#include "kernels/nn/gpt_infer.h"
#include "kernels/nn/infer_sut.h"
#include "kernels/nn/loadgen.h"

struct fixture {
	struct strata_gpt g;
};

static int setup(void **state)
{
	static struct fixture f;
	struct strata_gpt_config cfg;
	char err[256];
	assert_int_equal(strata_gpt_preset("tiny", &cfg), 0);
	if (strata_gpt_init(&f.g, &cfg, 1, 1, 5, err, sizeof(err)) != 0)
		fail_msg("init: %s", err);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	strata_gpt_release(&f->g);
	return 0;
}

struct outcome {
	uint64_t hash;
	int64_t completed, prefills, decode_steps, decode_rows;
	int64_t issued;
};

/* An Offline run of n requests through an S-slot SUT. */
static struct outcome offline(struct strata_gpt *g, int S, int continuous, int n,
			      const char *prompt, const char *output)
{
	struct strata_gpt_kv kv;
	struct strata_infer_backend be;
	struct strata_infer_sut sut;
	struct strata_loadgen_sut lsut;
	struct strata_loadgen_clock clk;
	char err[256];
	if (strata_gpt_kv_init(&kv, g, S, 40, err, sizeof(err)) != 0)
		fail_msg("kv: %s", err);
	strata_infer_backend_cpu(&be, &kv);
	if (strata_infer_sut_init(&sut, &be, continuous, 9, err, sizeof(err)) != 0)
		fail_msg("sut: %s", err);
	strata_infer_sut_loadgen(&sut, &lsut);
	strata_loadgen_clock_real(&clk);
	struct strata_loadgen_settings s;
	strata_loadgen_settings_default(&s);
	s.scenario = STRATA_LOADGEN_OFFLINE;
	s.min_queries = n;
	s.min_duration_s = 0;
	s.seed = 3;
	assert_int_equal(strata_loadgen_lengths_parse(prompt, &s.prompt, err, sizeof(err)), 0);
	assert_int_equal(strata_loadgen_lengths_parse(output, &s.output, err, sizeof(err)), 0);
	struct strata_loadgen_result r;
	if (strata_loadgen_run(&s, &lsut, &clk, &r, err, sizeof(err)) != 0)
		fail_msg("run: %s", err);
	struct outcome o = { .hash = sut.output_hash_sum, .completed = sut.completed,
			     .prefills = sut.prefills, .decode_steps = sut.decode_steps,
			     .decode_rows = sut.decode_rows, .issued = r.issued };
	assert_int_equal(r.completed, n);
	assert_true(r.valid);
	strata_loadgen_result_release(&r);
	strata_infer_sut_release(&sut);
	strata_gpt_kv_release(&kv);
	return o;
}

static void test_outputs_independent_of_batching(void **state)
{
	struct fixture *f = *state;
	const char *prompt = "uniform:3,9,17", *output = "2..12";
	struct outcome one = offline(&f->g, 1, 1, 24, prompt, output);
	struct outcome cont = offline(&f->g, 6, 1, 24, prompt, output);
	struct outcome stat = offline(&f->g, 6, 0, 24, prompt, output);
	printf("hashes: batch 1 %016llx, continuous %016llx, static %016llx\n",
	       (unsigned long long)one.hash, (unsigned long long)cont.hash,
	       (unsigned long long)stat.hash);
	assert_int_equal(one.completed, 24);
	assert_true(one.hash != 0);
	assert_true(one.hash == cont.hash);
	assert_true(one.hash == stat.hash);
	/* A different prompt seed changes the outputs (the hash is not constant). */
	struct outcome other = offline(&f->g, 6, 1, 24, "uniform:4,10,18", output);
	assert_true(other.hash != one.hash);
	/* Batch 1 decodes one row per step; batches more. */
	assert_int_equal(one.decode_rows, one.decode_steps);
	assert_true(cont.decode_rows > 2 * cont.decode_steps);
	assert_int_equal(one.prefills, 24);
}

static void test_static_batches(void **state)
{
	struct fixture *f = *state;
	/* 12 requests of 5 output tokens, 4 slots, all at time 0: static runs 3
	 * batches of 4, each 4 prefills then 4 decode steps of 4 rows. */
	struct outcome st = offline(&f->g, 4, 0, 12, "6", "5");
	assert_int_equal(st.prefills, 12);
	assert_int_equal(st.decode_steps, 3 * 4);
	assert_int_equal(st.decode_rows, 3 * 4 * 4);
	/* Outputs 2 and 8 alternating: static batches wait for their longest
	 * request, continuous ones refill, so continuous needs fewer steps. */
	struct outcome s2 = offline(&f->g, 4, 0, 16, "6", "2,8,8,8");
	struct outcome c2 = offline(&f->g, 4, 1, 16, "6", "2,8,8,8");
	printf("static: %lld decode steps, %lld rows; continuous: %lld steps, %lld rows\n",
	       (long long)s2.decode_steps, (long long)s2.decode_rows, (long long)c2.decode_steps,
	       (long long)c2.decode_rows);
	assert_int_equal(s2.decode_steps, 4 * 7);
	assert_int_equal(s2.decode_rows, c2.decode_rows); /* the same tokens either way */
	assert_true(c2.decode_steps < s2.decode_steps);
	assert_true(s2.hash == c2.hash);
}

/* A backend wrapper that tampers with the logits of one slot after each
 * decode step: "bump" makes token 0 win by far (a real error), "tie" makes
 * the runner-up win by 1e-6 (batched side) or lose by 1e-6 (batch-1 side):
 * a near-tie that rounding could break either way. */
struct tamper {
	struct strata_infer_backend inner;
	int slot, mode, steps; /* mode 0 none, 1 bump, 2 tie win, 3 tie lose */
};

static void top2(const float *l, int V, int *a, int *b)
{
	*a = 0;
	*b = 1;
	if (l[1] > l[0]) {
		*a = 1;
		*b = 0;
	}
	for (int i = 2; i < V; i++) {
		if (l[i] > l[*a]) {
			*b = *a;
			*a = i;
		} else if (l[i] > l[*b]) {
			*b = i;
		}
	}
}

static int tamper_reset(void *ctx, int slot, char *err, size_t len)
{
	struct tamper *t = ctx;
	return t->inner.reset(t->inner.ctx, slot, err, len);
}

static int tamper_prefill(void *ctx, int slot, const int *tok, int n, float *logits, char *err,
			  size_t len)
{
	struct tamper *t = ctx;
	return t->inner.prefill(t->inner.ctx, slot, tok, n, logits, err, len);
}

static int tamper_decode(void *ctx, const int *slots, const int *tok, int n, float *logits,
			 char *err, size_t len)
{
	struct tamper *t = ctx;
	int rc = t->inner.decode(t->inner.ctx, slots, tok, n, logits, err, len);
	if (rc != 0 || ++t->steps != 3)
		return rc;
	for (int i = 0; i < n; i++) {
		if (slots[i] != t->slot)
			continue;
		float *l = logits + (size_t)i * (size_t)t->inner.vocab;
		int a, b;
		top2(l, t->inner.vocab, &a, &b);
		if (t->mode == 1)
			l[0] = l[a] + 10;
		else if (t->mode == 2)
			l[b] = l[a] + 1e-6f;
		else if (t->mode == 3)
			l[b] = l[a] - 1e-6f;
	}
	return 0;
}

static struct strata_infer_backend tampered(struct tamper *t)
{
	struct strata_infer_backend b = t->inner;
	b.ctx = t;
	b.reset = tamper_reset;
	b.prefill = tamper_prefill;
	b.decode = tamper_decode;
	return b;
}

static void test_batch_check_and_refusal(void **state)
{
	struct fixture *f = *state;
	int prompt[12];
	char err[256];
	struct strata_gpt_kv one, many;
	struct strata_infer_backend b1, bS;
	struct strata_infer_check k;
	assert_int_equal(strata_gpt_kv_init(&one, &f->g, 1, 22, err, sizeof(err)), 0);
	assert_int_equal(strata_gpt_kv_init(&many, &f->g, 8, 25, err, sizeof(err)), 0);
	strata_infer_backend_cpu(&b1, &one);
	strata_infer_backend_cpu(&bS, &many);
	strata_infer_prompt(1, -1, 12, f->g.cfg.vocab, prompt);
	int rc = strata_infer_batch_check(&b1, &bS, prompt, 12, 10, 1, 1e-4, &k, err, sizeof(err));
	printf("batch check: %d mismatches, max |logit diff| %g\n", rc, k.max_logit_diff);
	assert_int_equal(rc, 0);
	assert_int_equal(k.compared, 10);
	assert_int_equal(k.tie_at, -1);
	assert_true(k.max_logit_diff >= 0 && k.max_logit_diff < 1e-4);
	for (int j = 0; j < 10; j++)
		assert_int_equal(k.alone[j], k.batched[j]);

	/* A real error in the batched path (slot S/2's 3rd decode step): caught,
	 * from position 3 on. */
	struct tamper tm = { .inner = bS, .slot = 4, .mode = 1 };
	struct strata_infer_backend bad = tampered(&tm);
	rc = strata_infer_batch_check(&b1, &bad, prompt, 12, 10, 1, 1e-4, &k, err, sizeof(err));
	assert_int_equal(rc, 7);
	assert_int_equal(k.first_mismatch, 3);
	/* A near-tie broken the other way: not an error, the comparison stops. */
	struct tamper t1 = { .inner = b1, .slot = 0, .mode = 3 };
	struct tamper tS = { .inner = bS, .slot = 4, .mode = 2 };
	struct strata_infer_backend n1 = tampered(&t1), nS = tampered(&tS);
	rc = strata_infer_batch_check(&n1, &nS, prompt, 12, 10, 1, 1e-4, &k, err, sizeof(err));
	assert_int_equal(rc, 0);
	assert_int_equal(k.tie_at, 3);
	assert_int_equal(k.compared, 4);
	/* ... unless the tolerance is tighter than the tie. */
	t1.steps = tS.steps = 0;
	rc = strata_infer_batch_check(&n1, &nS, prompt, 12, 10, 1, 1e-9, &k, err, sizeof(err));
	assert_int_equal(rc, 7);
	strata_gpt_kv_release(&one);
	strata_gpt_kv_release(&many);

	/* A request longer than the cache is refused with a message naming it. */
	struct strata_gpt_kv kv;
	struct strata_infer_backend be;
	struct strata_infer_sut sut;
	struct strata_loadgen_sut lsut;
	assert_int_equal(strata_gpt_kv_init(&kv, &f->g, 2, 16, err, sizeof(err)), 0);
	strata_infer_backend_cpu(&be, &kv);
	assert_int_equal(strata_infer_sut_init(&sut, &be, 1, 1, err, sizeof(err)), 0);
	strata_infer_sut_loadgen(&sut, &lsut);
	struct strata_loadgen_request big = { .id = 7, .prompt_tokens = 12, .output_tokens = 6 };
	err[0] = '\0';
	assert_int_equal(lsut.admit(lsut.ctx, &big, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "request 7"));
	struct strata_loadgen_request ok = { .id = 8, .prompt_tokens = 12, .output_tokens = 5 };
	assert_int_equal(lsut.admit(lsut.ctx, &ok, err, sizeof(err)), STRATA_LOADGEN_ADMITTED);
	strata_infer_sut_release(&sut);
	strata_gpt_kv_release(&kv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outputs_independent_of_batching),
		cmocka_unit_test(test_static_batches),
		cmocka_unit_test(test_batch_check_and_refusal),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
