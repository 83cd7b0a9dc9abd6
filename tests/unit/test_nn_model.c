/* test_nn_model.c: the whole transformer (kernels/nn/gpt.c) and its
 * optimizer (kernels/nn/adamw.c).
 *
 * Covers: presets and shape errors naming the field; parameter count of
 * GPT-2 small (124,439,808 with wpe) and the tensor table; the PaLM FLOPs
 * formulas against hand-computed figures; seeded initialisation (same seed
 * same checksum, another seed another, GPT-2's scales); forward at a smaller
 * (B, T) than allocated; a fresh model's loss near ln V; the whole-model
 * gradient against finite differences; the grads-ready ranges and their
 * order; backward adding and zero_grad; bad inputs; checkpoint round trip
 * and rejected files (each error naming the field); AdamW steps against
 * hand-computed values; the learning-rate schedule; and that a few hundred
 * AdamW steps on a repetitive sequence drive the loss down.  Not a
 * benchmark.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <math.h>

#include "kernels/nn/adamw.h"
#include "kernels/nn/gpt.h"

static struct strata_gpt_config small_cfg(void)
{
	/* V, Tmax, L, NH, C: every dimension distinct and small */
	return (struct strata_gpt_config){ 11, 8, 2, 2, 8 };
}

static void init_ok(struct strata_gpt *g, const struct strata_gpt_config *cfg, int B, int T,
                    uint64_t seed)
{
	char err[256] = "";
	if (strata_gpt_init(g, cfg, B, T, seed, err, sizeof(err)) != 0) {
		print_error("init: %s\n", err);
		fail();
	}
}

/* ---- shapes --------------------------------------------------------------------- */

static void test_presets_and_check(void **state)
{
	(void)state;
	struct strata_gpt_config c;
	assert_int_equal(strata_gpt_preset("tiny", &c), 0);
	assert_int_equal(c.vocab, 64);
	assert_int_equal(c.max_seq, 64);
	assert_int_equal(c.layers, 2);
	assert_int_equal(c.heads, 4);
	assert_int_equal(c.d_model, 64);
	assert_int_equal(strata_gpt_preset("gpt2-small", &c), 0);
	assert_int_equal(c.vocab, 50257);
	assert_int_equal(c.max_seq, 1024);
	assert_int_equal(c.layers, 12);
	assert_int_equal(c.heads, 12);
	assert_int_equal(c.d_model, 768);
	assert_int_equal(strata_gpt_preset("gpt2-huge", &c), -1);
	assert_string_equal(strata_gpt_preset_names[0], "tiny");
	assert_null(strata_gpt_preset_names[2]);

	char err[256];
	struct strata_gpt_config bad = small_cfg();
	assert_int_equal(strata_gpt_config_check(&bad, err, sizeof(err)), 0);
	bad.heads = 3; /* 8 % 3 != 0 */
	assert_int_equal(strata_gpt_config_check(&bad, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "d_model"));
	bad = small_cfg();
	bad.layers = 0;
	assert_int_equal(strata_gpt_config_check(&bad, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "layers"));
	bad = small_cfg();
	bad.vocab = -5;
	assert_int_equal(strata_gpt_config_check(&bad, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "vocab"));

	struct strata_gpt g;
	c = small_cfg();
	assert_int_equal(strata_gpt_init(&g, &c, 1, 9, 1, err, sizeof(err)), -1); /* T > Tmax */
	assert_non_null(strstr(err, "seq_len"));
}

static void test_param_count_and_table(void **state)
{
	(void)state;
	struct strata_gpt_config c;
	strata_gpt_preset("gpt2-small", &c);
	assert_int_equal(strata_gpt_param_count(&c), 124439808);
	size_t off, count;
	strata_gpt_layer_range(&c, 0, &off, &count);
	assert_int_equal(off, (50257 + 1024) * 768);
	assert_int_equal(count, 12 * 768 * 768 + 13 * 768);
	strata_gpt_layer_range(&c, 11, &off, &count);
	assert_int_equal(off + count, 124439808 - 2 * 768);

	struct strata_gpt g;
	c = small_cfg();
	init_ok(&g, &c, 1, 4, 1);
	assert_int_equal(g.n_tensors, 2 + 12 * 2 + 2);
	size_t next = 0;
	for (size_t i = 0; i < g.n_tensors; i++) {
		const struct strata_gpt_tensor *t = &g.tensors[i];
		assert_int_equal(t->offset, next); /* contiguous, in array order */
		next += t->count;
		const int two_d = t->kind == STRATA_GPT_WTE || t->kind == STRATA_GPT_WPE ||
				  t->kind == STRATA_GPT_QKVW || t->kind == STRATA_GPT_ATTPROJW ||
				  t->kind == STRATA_GPT_FCW || t->kind == STRATA_GPT_FCPROJW;
		assert_int_equal(t->decay, two_d);
		if (i >= 2 && i < g.n_tensors - 2) {
			assert_int_equal(t->layer, (int)(i - 2) / 12);
			assert_int_equal(t->kind, STRATA_GPT_LN1W + (int)(i - 2) % 12);
		} else {
			assert_int_equal(t->layer, -1);
		}
	}
	assert_int_equal(next, g.n_params);
	assert_int_equal(g.tensors[2 + 2].count, 3 * 8 * 8);      /* qkvw (3C, C) */
	assert_int_equal(g.tensors[2 + 10].count, 8 * 4 * 8);     /* fcprojw (C, 4C) */
	assert_int_equal(g.tensors[g.n_tensors - 1].kind, STRATA_GPT_LNFB);
	strata_gpt_release(&g);
}

static void test_flops_formula(void **state)
{
	(void)state;
	struct strata_gpt_config c;
	strata_gpt_preset("gpt2-small", &c);
	/* N = 124,439,808 - 1024*768 (wpe) = 123,653,376
	 * train: 6N + 12 L C T = 741,920,256 + 12*12*768*1024 (113,246,208) */
	assert_true(strata_gpt_train_flops_per_token(&c, 1024) == 855166464.0);
	/* forward: 2N + 4 L C T = 247,306,752 + 37,748,736 */
	assert_true(strata_gpt_forward_flops_per_token(&c, 1024) == 285055488.0);
	/* the attention term scales with T */
	assert_true(strata_gpt_train_flops_per_token(&c, 512) == 741920256.0 + 56623104.0);
}

/* ---- initialisation and forward ------------------------------------------------------ */

static double std_of(const float *p, size_t n)
{
	double s = 0, s2 = 0;
	for (size_t i = 0; i < n; i++) {
		s += p[i];
		s2 += (double)p[i] * p[i];
	}
	return sqrt(s2 / n - (s / n) * (s / n));
}

static void test_init_seeded(void **state)
{
	(void)state;
	struct strata_gpt_config c;
	strata_gpt_preset("tiny", &c);
	struct strata_gpt a, b, d;
	init_ok(&a, &c, 1, 8, 1234);
	init_ok(&b, &c, 2, 16, 1234);
	init_ok(&d, &c, 1, 8, 1235);
	assert_true(strata_gpt_params_checksum(&a) == strata_gpt_params_checksum(&b));
	assert_true(strata_gpt_params_checksum(&a) != strata_gpt_params_checksum(&d));
	assert_memory_equal(a.params, b.params, a.n_params * sizeof(float));
	/* GPT-2's scales: 0.02, and 0.02/sqrt(2L) = 0.01 for the residual projections */
	for (size_t i = 0; i < a.n_tensors; i++) {
		const struct strata_gpt_tensor *t = &a.tensors[i];
		const float *p = a.params + t->offset;
		switch (t->kind) {
		case STRATA_GPT_WTE:
		case STRATA_GPT_QKVW:
		case STRATA_GPT_FCW:
			assert_true(fabs(std_of(p, t->count) - 0.02) < 0.002);
			break;
		case STRATA_GPT_ATTPROJW:
		case STRATA_GPT_FCPROJW:
			assert_true(fabs(std_of(p, t->count) - 0.01) < 0.001);
			break;
		case STRATA_GPT_LN1W:
		case STRATA_GPT_LN2W:
		case STRATA_GPT_LNFW:
			for (size_t k = 0; k < t->count; k++)
				assert_true(p[k] == 1.0f);
			break;
		case STRATA_GPT_WPE:
			break;
		default:
			for (size_t k = 0; k < t->count; k++)
				assert_true(p[k] == 0.0f);
		}
	}
	strata_gpt_release(&a);
	strata_gpt_release(&b);
	strata_gpt_release(&d);
}

static void test_fresh_loss_near_ln_v(void **state)
{
	(void)state;
	struct strata_gpt_config c;
	strata_gpt_preset("tiny", &c);
	struct strata_gpt g;
	init_ok(&g, &c, 4, 64, 7);
	int in[4 * 64], tg[4 * 64];
	for (int i = 0; i < 4 * 64; i++) {
		in[i] = (i * 37 + 5) % 64;
		tg[i] = (i * 11 + 3) % 64;
	}
	const float loss = strata_gpt_forward(&g, in, tg, 4, 64);
	assert_true(fabsf(loss - logf(64.0f)) < 0.05f);
	assert_true(g.mean_loss == loss);
	/* without targets: logits only, mean_loss -1 */
	assert_true(strata_gpt_forward(&g, in, NULL, 4, 64) == -1.0f);
	assert_true(g.mean_loss == -1.0f);
	strata_gpt_release(&g);
}

/* A model allocated for (3, 8) run at (2, 5) gives the logits of one
 * allocated for exactly (2, 5): buffers are used compact from their start. */
static void test_forward_smaller_than_allocated(void **state)
{
	(void)state;
	const struct strata_gpt_config c = small_cfg();
	struct strata_gpt big, exact;
	init_ok(&big, &c, 3, 8, 99);
	init_ok(&exact, &c, 2, 5, 99);
	const int in[10] = { 1, 2, 3, 4, 5, 10, 9, 8, 7, 6 }, tg[10] = { 2, 3, 4, 5, 6, 0, 1, 2, 3, 4 };
	/* a full-size forward first, so stale values sit in the big buffers */
	int in_full[24], tg_full[24];
	for (int i = 0; i < 24; i++)
		in_full[i] = tg_full[i] = i % 11;
	strata_gpt_forward(&big, in_full, tg_full, 3, 8);
	const float lb = strata_gpt_forward(&big, in, tg, 2, 5);
	const float le = strata_gpt_forward(&exact, in, tg, 2, 5);
	assert_true(lb == le);
	assert_memory_equal(big.logits, exact.logits, sizeof(float) * 10 * 11);
	strata_gpt_zero_grad(&big);
	strata_gpt_zero_grad(&exact);
	strata_gpt_backward(&big, NULL, NULL);
	strata_gpt_backward(&exact, NULL, NULL);
	assert_memory_equal(big.grads, exact.grads, sizeof(float) * big.n_params);
	strata_gpt_release(&big);
	strata_gpt_release(&exact);
}

static void test_forward_rejects_bad_input(void **state)
{
	(void)state;
	const struct strata_gpt_config c = small_cfg();
	struct strata_gpt g;
	init_ok(&g, &c, 2, 4, 1);
	int in[12] = { 0 }, tg[12] = { 0 };
	assert_true(isnan(strata_gpt_forward(&g, in, tg, 3, 4))); /* B > max_B */
	assert_true(isnan(strata_gpt_forward(&g, in, tg, 2, 5))); /* T > max_T */
	in[3] = 11;                                                /* id >= V */
	assert_true(isnan(strata_gpt_forward(&g, in, tg, 2, 4)));
	in[3] = 0;
	tg[0] = -1;
	assert_true(isnan(strata_gpt_forward(&g, in, tg, 2, 4)));
	strata_gpt_release(&g);
}

/* ---- backward -------------------------------------------------------------------------- */

struct fd_model {
	struct strata_gpt *g;
	const int *in, *tg;
	int B, T;
};

static double model_loss(struct fd_model *m)
{
	return strata_gpt_forward(m->g, m->in, m->tg, m->B, m->T);
}

/* Whole-model gradient check: weights drawn larger than GPT-2's 0.02 (so
 * that every path carries signal), a spread of coordinates in every tensor,
 * each compared with the tensor's largest gradient (as test_nn_grad.c). */
static void test_model_gradcheck(void **state)
{
	(void)state;
	const struct strata_gpt_config c = small_cfg();
	struct strata_gpt g;
	init_ok(&g, &c, 3, 8, 5);
	uint64_t s = 77;
	for (size_t i = 0; i < g.n_params; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		g.params[i] += 0.3f * ((float)(s >> 40) / (float)(1 << 24) - 0.5f);
	}
	const int B = 2, T = 6;
	const int in[12] = { 1, 5, 2, 9, 9, 0, 3, 3, 10, 4, 7, 1 };
	const int tg[12] = { 5, 2, 9, 9, 0, 3, 3, 10, 4, 7, 1, 6 };
	struct fd_model m = { &g, in, tg, B, T };
	model_loss(&m);
	strata_gpt_zero_grad(&g);
	strata_gpt_backward(&g, NULL, NULL);
	float *grad = malloc(sizeof(float) * g.n_params);
	assert_non_null(grad);
	memcpy(grad, g.grads, sizeof(float) * g.n_params);

	const float h = 1e-2f;
	for (size_t k = 0; k < g.n_tensors; k++) {
		const struct strata_gpt_tensor *t = &g.tensors[k];
		double gmax = 0.0;
		for (size_t i = 0; i < t->count; i++)
			gmax = fmax(gmax, fabs(grad[t->offset + i]));
		if (t->kind == STRATA_GPT_WPE)
			gmax = fmax(gmax, 1e-3); /* rows T..Tmax have no gradient */
		assert_true(gmax > 0.0);
		const size_t step = t->count > 12 ? t->count / 12 : 1;
		double worst = 0.0;
		for (size_t i = 0; i < t->count; i += step) {
			float *p = g.params + t->offset + i;
			const float p0 = *p, pp = p0 + h, pm = p0 - h;
			*p = pp;
			const double lp = model_loss(&m);
			*p = pm;
			const double lm = model_loss(&m);
			*p = p0;
			const double num = (lp - lm) / ((double)pp - (double)pm);
			worst = fmax(worst, fabs(num - grad[t->offset + i]) / gmax);
		}
		if (worst > 2e-3) {
			print_error("tensor %zu (kind %d, layer %d): error %.3g of its largest "
				    "gradient %.3g\n",
				    k, (int)t->kind, t->layer, worst, gmax);
			fail();
		}
	}
	free(grad);
	strata_gpt_release(&g);
}

struct ranges {
	size_t off[64], count[64];
	int n;
};

static void record_range(void *ctx, size_t offset, size_t count)
{
	struct ranges *r = ctx;
	assert_true(r->n < 64);
	r->off[r->n] = offset;
	r->count[r->n] = count;
	r->n++;
}

static void test_grads_ready_order(void **state)
{
	(void)state;
	struct strata_gpt_config c = small_cfg();
	c.layers = 3;
	struct strata_gpt g;
	init_ok(&g, &c, 1, 4, 3);
	const int in[4] = { 1, 2, 3, 4 }, tg[4] = { 2, 3, 4, 5 };
	strata_gpt_forward(&g, in, tg, 1, 4);
	struct ranges r = { .n = 0 };
	strata_gpt_zero_grad(&g);
	strata_gpt_backward(&g, record_range, &r);
	assert_int_equal(r.n, 1 + 3 + 1);
	/* lnf first, then layers 2, 1, 0, then the embeddings */
	assert_int_equal(r.off[0], g.n_params - 2 * 8);
	assert_int_equal(r.count[0], 2 * 8);
	for (int l = 2; l >= 0; l--) {
		size_t off, count;
		strata_gpt_layer_range(&c, l, &off, &count);
		assert_int_equal(r.off[1 + (2 - l)], off);
		assert_int_equal(r.count[1 + (2 - l)], count);
	}
	assert_int_equal(r.off[4], 0);
	assert_int_equal(r.count[4], (11 + 8) * 8);
	/* exactly once: each float of the array in one range */
	unsigned char *seen = calloc(g.n_params, 1);
	assert_non_null(seen);
	for (int i = 0; i < r.n; i++)
		for (size_t k = r.off[i]; k < r.off[i] + r.count[i]; k++) {
			assert_true(k < g.n_params);
			assert_int_equal(seen[k], 0);
			seen[k] = 1;
		}
	for (size_t k = 0; k < g.n_params; k++)
		assert_int_equal(seen[k], 1);
	free(seen);
	strata_gpt_release(&g);
}

static void test_backward_adds_and_zero_grad(void **state)
{
	(void)state;
	const struct strata_gpt_config c = small_cfg();
	struct strata_gpt g;
	init_ok(&g, &c, 1, 5, 3);
	const int in[5] = { 1, 2, 3, 4, 5 }, tg[5] = { 2, 3, 4, 5, 6 };
	strata_gpt_forward(&g, in, tg, 1, 5);
	strata_gpt_zero_grad(&g);
	strata_gpt_backward(&g, NULL, NULL);
	float *once = malloc(sizeof(float) * g.n_params);
	assert_non_null(once);
	memcpy(once, g.grads, sizeof(float) * g.n_params);
	strata_gpt_backward(&g, NULL, NULL);
	for (size_t i = 0; i < g.n_params; i++)
		assert_true(fabsf(g.grads[i] - 2 * once[i]) <= 1e-6f * (1 + fabsf(once[i])));
	strata_gpt_zero_grad(&g);
	for (size_t i = 0; i < g.n_params; i++)
		assert_true(g.grads[i] == 0.0f);
	/* a forward without targets has no loss: backward leaves grads alone */
	strata_gpt_forward(&g, in, NULL, 1, 5);
	strata_gpt_backward(&g, NULL, NULL);
	for (size_t i = 0; i < g.n_params; i++)
		assert_true(g.grads[i] == 0.0f);
	free(once);
	strata_gpt_release(&g);
}

/* ---- checkpoints ------------------------------------------------------------------------- */

static void tmp_path(char *buf, size_t n, const char *name)
{
	const char *dir = getenv("TMPDIR");
	snprintf(buf, n, "%s/strata_test_nn_%ld_%s", dir ? dir : "/tmp", (long)getpid(), name);
}

static void patch_file(const char *path, long offset, const void *bytes, size_t n)
{
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, offset, SEEK_SET), 0);
	assert_int_equal(fwrite(bytes, 1, n, f), n);
	fclose(f);
}

static void copy_file(const char *from, const char *to)
{
	FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
	assert_non_null(a);
	assert_non_null(b);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), a)) > 0)
		assert_int_equal(fwrite(buf, 1, n, b), n);
	fclose(a);
	fclose(b);
}

static void expect_load_error(struct strata_gpt *g, const char *path, const char *field)
{
	char err[512] = "";
	assert_int_equal(strata_gpt_load(g, path, err, sizeof(err)), -1);
	if (!strstr(err, field) || !strstr(err, path)) {
		print_error("error \"%s\" should name %s and the file\n", err, field);
		fail();
	}
}

static void test_checkpoint_roundtrip_and_rejects(void **state)
{
	(void)state;
	const struct strata_gpt_config c = small_cfg();
	struct strata_gpt a, b;
	init_ok(&a, &c, 1, 4, 10);
	init_ok(&b, &c, 1, 4, 20);
	char path[512], bad[600], err[512] = "";
	tmp_path(path, sizeof(path), "ckpt.bin");
	snprintf(bad, sizeof(bad), "%s.bad", path);
	assert_int_equal(strata_gpt_save(&a, path, err, sizeof(err)), 0);
	struct strata_gpt_config got;
	assert_int_equal(strata_gpt_load_config(path, &got, err, sizeof(err)), 0);
	assert_memory_equal(&got, &c, sizeof(c));
	assert_true(strata_gpt_params_checksum(&a) != strata_gpt_params_checksum(&b));
	assert_int_equal(strata_gpt_load(&b, path, err, sizeof(err)), 0);
	assert_true(strata_gpt_params_checksum(&a) == strata_gpt_params_checksum(&b));
	const uint64_t loaded = strata_gpt_params_checksum(&b);

	/* a model of another shape */
	struct strata_gpt_config c3 = c;
	c3.layers = 3;
	struct strata_gpt other;
	init_ok(&other, &c3, 1, 4, 1);
	expect_load_error(&other, path, "layers");
	strata_gpt_release(&other);

	/* corrupted headers, each rejected with the field named */
	copy_file(path, bad);
	patch_file(bad, 0, "X", 1);
	expect_load_error(&b, bad, "magic");
	assert_int_equal(strata_gpt_load_config(bad, &got, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "magic"));

	copy_file(path, bad);
	const unsigned char v9[4] = { 9, 0, 0, 0 };
	patch_file(bad, 8, v9, 4);
	expect_load_error(&b, bad, "version");

	copy_file(path, bad);
	const unsigned char l3[4] = { 3, 0, 0, 0 }; /* layers 2 -> 3: n_params disagrees */
	patch_file(bad, 20, l3, 4);
	expect_load_error(&b, bad, "n_params");

	copy_file(path, bad);
	const unsigned char h5[4] = { 5, 0, 0, 0 }; /* heads 5 does not divide d_model 8 */
	patch_file(bad, 24, h5, 4);
	expect_load_error(&b, bad, "d_model");

	copy_file(path, bad);
	const unsigned char junk = 0x5a; /* a parameter byte */
	patch_file(bad, 64 + 100, &junk, 1);
	expect_load_error(&b, bad, "params_fnv1a");
	assert_true(strata_gpt_params_checksum(&b) == loaded); /* weights untouched */

	copy_file(path, bad);
	assert_int_equal(truncate(bad, 64 + 40), 0);
	expect_load_error(&b, bad, "n_params");

	expect_load_error(&b, "/nonexistent/dir/ckpt.bin", "cannot open");
	unlink(bad);
	unlink(path);
	strata_gpt_release(&a);
	strata_gpt_release(&b);
}

/* ---- AdamW ---------------------------------------------------------------------------------- */

static void test_adamw_by_hand(void **state)
{
	(void)state;
	/* three parameters, the middle one without weight decay */
	struct strata_gpt_tensor t[3] = {
		{ STRATA_GPT_QKVW, 0, 0, 1, 1 },
		{ STRATA_GPT_QKVB, 0, 1, 1, 0 },
		{ STRATA_GPT_FCW, 0, 2, 1, 1 },
	};
	struct strata_gpt g = { .n_params = 3, .tensors = t, .n_tensors = 3 };
	struct strata_adamw o;
	assert_int_equal(strata_adamw_init(&o, &g, 0.9f, 0.999f, 1e-8f, 0.1f), 0);
	float p[3] = { 1.0f, -2.0f, 0.5f };
	const float g1[3] = { 0.5f, -0.1f, 0.0f }, g2[3] = { 0.2f, 0.3f, -1.0f };
	/* Worked in double: step 1 has mhat = g, vhat = g^2, so the update is
	 * sign(g) (0 where g = 0); p0 = 1 - 0.01 (1 + 0.1 * 1) = 0.989. */
	strata_adamw_step(&o, p, g1, 0.01f);
	assert_int_equal(o.step, 1);
	assert_float_equal(p[0], 0.989, 1e-6);
	assert_float_equal(p[1], -1.990000001, 1e-6);
	assert_float_equal(p[2], 0.4995, 1e-6);
	assert_float_equal(o.m[0], 0.05, 1e-7);
	assert_float_equal(o.v[0], 0.00025, 1e-7); /* 1 - 0.999f is 0.00100005 */
	strata_adamw_step(&o, p, g2, 0.01f);
	assert_float_equal(p[0], 0.979025248, 1e-6);
	assert_float_equal(p[1], -1.994941899, 1e-6);
	assert_float_equal(p[2], 0.506441868, 1e-6);
	assert_float_equal(o.m[2], -0.1, 1e-7);
	assert_float_equal(o.v[2], 0.001, 1e-7);
	strata_adamw_release(&o);
}

static void test_lr_schedule(void **state)
{
	(void)state;
	/* warm-up 10, total 100, 1e-3 down to 1e-4 */
	assert_float_equal(strata_lr_at(0, 10, 100, 1e-3, 1e-4), 1e-4, 1e-15);
	assert_float_equal(strata_lr_at(4, 10, 100, 1e-3, 1e-4), 5e-4, 1e-15);
	assert_float_equal(strata_lr_at(9, 10, 100, 1e-3, 1e-4), 1e-3, 1e-15);  /* end of warm-up */
	assert_float_equal(strata_lr_at(10, 10, 100, 1e-3, 1e-4), 1e-3, 1e-15); /* peak */
	assert_float_equal(strata_lr_at(55, 10, 100, 1e-3, 1e-4), 5.5e-4, 1e-15); /* half way */
	assert_float_equal(strata_lr_at(77, 10, 100, 1e-3, 1e-4), 0.0002374037332934512, 1e-15);
	assert_float_equal(strata_lr_at(99, 10, 100, 1e-3, 1e-4), 0.00010027412784140692, 1e-15);
	assert_float_equal(strata_lr_at(100, 10, 100, 1e-3, 1e-4), 1e-4, 1e-15); /* end */
	assert_float_equal(strata_lr_at(500, 10, 100, 1e-3, 1e-4), 1e-4, 1e-15); /* after */
	assert_float_equal(strata_lr_at(0, 0, 100, 1e-3, 1e-4), 1e-3, 1e-15);   /* no warm-up */
}

/* ---- learning ---------------------------------------------------------------------------------- */

/* The tiny preset on one fixed sequence with period 13 (every next token
 * determined by the current one): 300 AdamW steps take the loss from ln 64
 * (4.16) to well under 0.5. */
static void test_learning_works(void **state)
{
	(void)state;
	struct strata_gpt_config c;
	strata_gpt_preset("tiny", &c);
	const int B = 4, T = 32;
	struct strata_gpt g;
	init_ok(&g, &c, B, T, 1);
	struct strata_adamw o;
	assert_int_equal(strata_adamw_init(&o, &g, 0.9f, 0.95f, 1e-8f, 0.01f), 0);
	int in[4 * 32], tg[4 * 32];
	const int period[13] = { 5, 17, 3, 42, 8, 8, 61, 0, 29, 33, 12, 50, 7 };
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++) {
			in[b * T + t] = period[(b * 3 + t) % 13];
			tg[b * T + t] = period[(b * 3 + t + 1) % 13];
		}
	float first = 0, last = 0;
	for (int step = 0; step < 300; step++) {
		const float loss = strata_gpt_forward(&g, in, tg, B, T);
		if (step == 0)
			first = loss;
		last = loss;
		strata_gpt_zero_grad(&g);
		strata_gpt_backward(&g, NULL, NULL);
		strata_adamw_step(&o, g.params, g.grads,
				  (float)strata_lr_at(step, 20, 300, 3e-3, 3e-4));
	}
	assert_true(fabsf(first - logf(64.0f)) < 0.1f);
	if (!(last < 0.3f)) {
		print_error("loss %.4f -> %.4f after 300 steps\n", first, last);
		fail();
	}
	strata_adamw_release(&o);
	strata_gpt_release(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_presets_and_check),
		cmocka_unit_test(test_param_count_and_table),
		cmocka_unit_test(test_flops_formula),
		cmocka_unit_test(test_init_seeded),
		cmocka_unit_test(test_fresh_loss_near_ln_v),
		cmocka_unit_test(test_forward_smaller_than_allocated),
		cmocka_unit_test(test_forward_rejects_bad_input),
		cmocka_unit_test(test_model_gradcheck),
		cmocka_unit_test(test_grads_ready_order),
		cmocka_unit_test(test_backward_adds_and_zero_grad),
		cmocka_unit_test(test_checkpoint_roundtrip_and_rejects),
		cmocka_unit_test(test_adamw_by_hand),
		cmocka_unit_test(test_lr_schedule),
		cmocka_unit_test(test_learning_works),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
