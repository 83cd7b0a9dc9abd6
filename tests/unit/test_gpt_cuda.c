/* test_gpt_cuda.c: the CUDA transformer (kernels/cuda/gpt_cuda.h) against the
 * CPU one (kernels/nn/gpt.h, FP32), which test_nn_grad.c checks against
 * finite differences: forward loss and logits, every gradient tensor, the
 * grads-ready order, AdamW, a few training steps, KV-cache prefill/decode,
 * input checks, and the memory and host-to-device accessors.
 *
 * On a machine without a GPU (or a build without CUDA) every GPU test prints
 * why and is skipped; the comparison helper's own test runs everywhere, so
 * the check that decides pass/fail is known to fail on a wrong gradient.
 * The same file is also linked against tests/mock_cuda/mock_cuda.c (a host
 * stand-in of cudart/cuBLAS(Lt), C copies of the kernels) as the ctest
 * test_gpt_cuda_mock, which runs every test below without a GPU and so
 * checks the backend's host code (operands, layouts, offsets) in CI; only a
 * GPU run checks the CUDA kernels and cuBLASLt itself.
 *
 * Tolerances, norm-wise per tensor: ||gpu - cpu||_2 <= tol ||cpu||_2 +
 * 1e-8 sqrt(n).  The GPU rounds to BF16 (8 significant bits: unit roundoff
 * u = 2^-9 = 0.2%, RMS relative rounding error about u / sqrt(3) = 0.11%)
 * every matmul input (weights, layernorm outputs, attention probabilities,
 * GELU output) and every matmul output it stores (qkv, projections, logits),
 * and accumulates in FP32.  Norm-wise, independent roundings add in
 * quadrature: the forward of L = 2 layers has about 10 on the path to the
 * logits, the backward adds those of dlogits, the residual gradient fed to
 * each matmul, dqkv, dpreatt and the GELU input gradient (about 20 on the
 * longest path, to wpe), plus the softmax backward's cancellation
 * (att (datt - rowsum)).  Measured with a host emulation of this backend
 * (gpt_cuda.c itself over stand-ins of its cudart/cuBLAS calls and C copies
 * of its kernels, BF16 rounded to nearest even as the GPU rounds it; no GPU
 * was at hand when this was written): logits 7.3e-3, the worst
 * gradient tensor 1.5e-2 (every tensor 2e-3 to 1.5e-2).  Tolerances: logits
 * 3e-2, gradients 5e-2, three to four times those.  A wrong layer (a
 * transposed operand, a missing 1/sqrt(hs), a wrong offset, a lost bias
 * gradient) gives errors of order 0.1 to 1, far beyond either; so that the
 * attention's scale and masking matter at all, the comparisons scale qkvw up
 * (QKVW_SHARPEN) to make the scores of order 1 instead of GPT-2's near-zero
 * initial ones.  The loss at initialisation is near ln V whatever the
 * weights, so it gets a plain 1e-2 absolute bound and the logits carry the
 * forward check.  AdamW given identical FP32 gradients runs adamw.c's FP32
 * formula, differing only by fused multiply-adds: 1e-6 absolute on
 * parameters of size 0.01 to 1.  Training steps: the losses of 8 steps agree
 * within 5e-2 (measured 5e-4).
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

#include "kernels/nn/adamw.h"
#include "kernels/nn/gpt.h"
#include "strata_config.h"
#if STRATA_HAVE_CUDA
#include "kernels/cuda/cuda_device.h"
#include "kernels/cuda/gpt_cuda.h"
#endif

#define TOL_LOSS_ABS 1e-2
#define TOL_LOGITS_REL 3e-2
#define TOL_GRAD_REL 5e-2
#define TOL_ADAMW_ABS 1e-6
#define TOL_TRAIN_LOSS_ABS 5e-2
#define ABS_FLOOR_RMS 1e-8

/* ---- the comparison (host only) ------------------------------------------- */

struct cmp {
	double diff_norm, ref_norm, max_abs;
	size_t worst; /* index of the largest |got - ref| */
	size_t n;
};

static struct cmp compare(const float *got, const float *ref, size_t n)
{
	struct cmp c = { 0, 0, 0, 0, n };
	for (size_t i = 0; i < n; i++) {
		const double d = (double)got[i] - (double)ref[i];
		c.diff_norm += d * d;
		c.ref_norm += (double)ref[i] * ref[i];
		const double a = fabs(d);
		if (!isnan(c.max_abs) && (isnan(a) || a > c.max_abs)) { /* the first NaN is the worst */
			c.max_abs = a;
			c.worst = i;
		}
	}
	c.diff_norm = sqrt(c.diff_norm);
	c.ref_norm = sqrt(c.ref_norm);
	return c;
}

static int within(const struct cmp *c, double rel_tol)
{
	return c->diff_norm <= rel_tol * c->ref_norm + ABS_FLOOR_RMS * sqrt((double)c->n);
}

static double rel_err(const struct cmp *c)
{
	return c->ref_norm > 0 ? c->diff_norm / c->ref_norm : c->diff_norm;
}

/* The check itself can fail: BF16-sized noise passes, a wrong sign on a
 * quarter of the elements, a 10% scale error and a NaN do not. */
static void test_compare_catches_wrong_values(void **unused)
{
	(void)unused;
	enum { n = 4096 };
	float *ref = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
	assert_non_null(ref);
	assert_non_null(got);
	uint64_t s = 42;
	for (size_t i = 0; i < n; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		ref[i] = (float)((double)(s >> 11) * 0x1p-53 - 0.5) * 0.01f;
	}
	for (size_t i = 0; i < n; i++) /* relative noise of BF16's unit roundoff */
		got[i] = ref[i] * (1.0f + ((i % 3) - 1.0f) * 0x1p-9f);
	struct cmp c = compare(got, ref, n);
	assert_true(within(&c, TOL_GRAD_REL));
	assert_true(rel_err(&c) < 3e-3);
	for (size_t i = 0; i < n; i++)
		got[i] = i % 4 == 0 ? -ref[i] : ref[i];
	c = compare(got, ref, n);
	assert_false(within(&c, TOL_GRAD_REL));
	for (size_t i = 0; i < n; i++)
		got[i] = ref[i] * 1.1f;
	c = compare(got, ref, n);
	assert_false(within(&c, TOL_GRAD_REL));
	memcpy(got, ref, n * sizeof(float));
	got[17] = NAN;
	c = compare(got, ref, n);
	assert_false(within(&c, TOL_GRAD_REL));
	assert_int_equal(c.worst, 17);
	/* an all-zero reference matched exactly passes; anything else fails */
	memset(ref, 0, n * sizeof(float));
	memset(got, 0, n * sizeof(float));
	c = compare(got, ref, n);
	assert_true(within(&c, TOL_GRAD_REL));
	got[0] = 1e-3f;
	c = compare(got, ref, n);
	assert_false(within(&c, TOL_GRAD_REL));
	free(ref);
	free(got);
}

#if STRATA_HAVE_CUDA

/* ---- GPU tests ------------------------------------------------------------ */

/* Make device 0 current, or print why not and skip the test. */
static void need_gpu(void)
{
	char why[512], err[512];
	int n = 0;
	if (strata_cuda_device_count(&n, why, sizeof(why)) != 0 || n == 0) {
		print_message("test_gpt_cuda: %s\n", why);
		skip();
	}
	struct strata_cuda_device dev;
	if (strata_cuda_device_use(0, &dev, err, sizeof(err)) != 0)
		fail_msg("device 0: %s", err);
}

static const char *const kind_names[STRATA_GPT_N_KINDS] = {
	"wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
	"ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb",
};

/* Seeded token ids in 0..V-1 (a 64-bit LCG, Knuth's MMIX constants). */
static void fill_tokens(int *x, size_t n, int V, uint64_t *s)
{
	for (size_t i = 0; i < n; i++) {
		*s = *s * 6364136223846793005ull + 1442695040888963407ull;
		x[i] = (int)((*s >> 33) % (uint64_t)V);
	}
}

/* Grads-ready calls as they came. */
struct ready_log {
	size_t off[256], count[256];
	int n;
	float *grads;
	void *stream;
};

static void cpu_ready(void *ctx, size_t offset, size_t count)
{
	struct ready_log *r = ctx;
	if (r->n < 256) {
		r->off[r->n] = offset;
		r->count[r->n] = count;
	}
	r->n++;
}

static void gpu_ready(void *ctx, float *grads, size_t offset, size_t count, void *stream)
{
	struct ready_log *r = ctx;
	r->grads = grads;
	r->stream = stream;
	cpu_ready(ctx, offset, count);
}

struct pair {
	struct strata_gpt cpu;
	struct strata_gpt_cuda *gpu;
	int B, T;
	int *in, *tg;
	char err[1024];
};

/* At GPT-2's initialisation q.k is near 0 and every attention row is near
 * uniform, so the attention's scale or masking could be wrong unnoticed:
 * the comparisons scale qkvw up so that the scores are of order 1. */
#define QKVW_SHARPEN 8.0f

static void pair_init(struct pair *p, const struct strata_gpt_config *cfg, int B, int T,
		      uint64_t seed, float qkvw_scale)
{
	memset(p, 0, sizeof(*p));
	p->B = B;
	p->T = T;
	if (strata_gpt_init(&p->cpu, cfg, B, T, seed, p->err, sizeof(p->err)) != 0)
		fail_msg("CPU model: %s", p->err);
	for (size_t i = 0; i < p->cpu.n_tensors; i++) {
		const struct strata_gpt_tensor *t = &p->cpu.tensors[i];
		if (t->kind == STRATA_GPT_QKVW)
			for (size_t j = 0; j < t->count; j++)
				p->cpu.params[t->offset + j] *= qkvw_scale;
	}
	if (strata_gpt_cuda_create(&p->cpu, B, T, &p->gpu, p->err, sizeof(p->err)) != 0)
		fail_msg("GPU model: %s", p->err);
	p->in = malloc((size_t)B * T * sizeof(int));
	p->tg = malloc((size_t)B * T * sizeof(int));
	assert_non_null(p->in);
	assert_non_null(p->tg);
	uint64_t s = seed ^ 0x70c0;
	fill_tokens(p->in, (size_t)B * T, cfg->vocab, &s);
	fill_tokens(p->tg, (size_t)B * T, cfg->vocab, &s);
}

static void pair_release(struct pair *p)
{
	strata_gpt_cuda_destroy(p->gpu);
	strata_gpt_release(&p->cpu);
	free(p->in);
	free(p->tg);
}

/* Forward both; compare loss and logits. */
static void check_forward(struct pair *p, const char *label)
{
	const struct strata_gpt_config *cfg = &p->cpu.cfg;
	const size_t nl = (size_t)p->B * p->T * (size_t)cfg->vocab;
	float loss_gpu = 0;
	const float loss_cpu = strata_gpt_forward(&p->cpu, p->in, p->tg, p->B, p->T);
	if (strata_gpt_cuda_forward(p->gpu, p->in, p->tg, p->B, p->T, &loss_gpu, p->err,
				    sizeof(p->err)) != 0)
		fail_msg("%s: forward: %s", label, p->err);
	float *logits = malloc(nl * sizeof(float));
	assert_non_null(logits);
	if (strata_gpt_cuda_get_logits(p->gpu, logits, p->err, sizeof(p->err)) != 0)
		fail_msg("%s: logits: %s", label, p->err);
	const struct cmp c = compare(logits, p->cpu.logits, nl);
	print_message("%s: loss cpu %.6f gpu %.6f; logits rel err %.2e (max |d| %.2e)\n", label,
		      loss_cpu, loss_gpu, rel_err(&c), c.max_abs);
	free(logits);
	if (!(fabs((double)loss_gpu - loss_cpu) <= TOL_LOSS_ABS))
		fail_msg("%s: loss gpu %.6f cpu %.6f differ by more than %g", label, loss_gpu,
			 loss_cpu, TOL_LOSS_ABS);
	if (!within(&c, TOL_LOGITS_REL))
		fail_msg("%s: logits rel err %.3e > %g (worst element %zu, |d| %.3e)", label,
			 rel_err(&c), TOL_LOGITS_REL, c.worst, c.max_abs);
}

/* Backward both (after check_forward); compare the ready order and every
 * tensor's gradient. */
static void check_backward(struct pair *p, const char *label)
{
	struct ready_log rc = { 0 }, rg = { 0 };
	const size_t n = p->cpu.n_params;
	strata_gpt_zero_grad(&p->cpu);
	strata_gpt_backward(&p->cpu, cpu_ready, &rc);
	if (strata_gpt_cuda_zero_grad(p->gpu, p->err, sizeof(p->err)) != 0 ||
	    strata_gpt_cuda_backward(p->gpu, gpu_ready, &rg, p->err, sizeof(p->err)) != 0)
		fail_msg("%s: backward: %s", label, p->err);
	assert_int_equal(rg.n, rc.n);
	assert_int_equal(rg.n, p->cpu.cfg.layers + 2);
	for (int i = 0; i < rc.n; i++) {
		assert_int_equal(rg.off[i], rc.off[i]);
		assert_int_equal(rg.count[i], rc.count[i]);
	}
	assert_ptr_equal(rg.grads, strata_gpt_cuda_grads_device(p->gpu));
	assert_ptr_equal(rg.stream, strata_gpt_cuda_stream(p->gpu));

	float *grads = malloc(n * sizeof(float));
	assert_non_null(grads);
	if (strata_gpt_cuda_get_grads(p->gpu, grads, p->err, sizeof(p->err)) != 0)
		fail_msg("%s: grads: %s", label, p->err);
	int bad = 0;
	double worst = 0;
	for (size_t i = 0; i < p->cpu.n_tensors; i++) {
		const struct strata_gpt_tensor *t = &p->cpu.tensors[i];
		const struct cmp c = compare(grads + t->offset, p->cpu.grads + t->offset, t->count);
		if (rel_err(&c) > worst)
			worst = rel_err(&c);
		if (!within(&c, TOL_GRAD_REL)) {
			print_message("%s: gradient of %s (layer %d): rel err %.3e > %g (|cpu| %.3e, "
				      "worst element %zu, |d| %.3e)\n",
				      label, kind_names[t->kind], t->layer, rel_err(&c), TOL_GRAD_REL,
				      c.ref_norm, c.worst, c.max_abs);
			bad++;
		}
	}
	print_message("%s: %zu gradient tensors, worst rel err %.2e\n", label, p->cpu.n_tensors,
		      worst);
	free(grads);
	if (bad)
		fail_msg("%s: %d gradient tensors outside tolerance", label, bad);
}

static void run_compare(const struct strata_gpt_config *cfg, int B, int T, const char *label)
{
	struct pair p;
	need_gpu();
	pair_init(&p, cfg, B, T, 1234, QKVW_SHARPEN);
	check_forward(&p, label);
	check_backward(&p, label);
	pair_release(&p);
}

/* The tiny preset: every dimension a multiple of 64. */
static void test_tiny_matches_cpu(void **unused)
{
	(void)unused;
	struct strata_gpt_config cfg;
	assert_int_equal(strata_gpt_preset("tiny", &cfg), 0);
	run_compare(&cfg, 4, 32, "tiny B4 T32");
}

/* Odd shapes: V = 50 (logits padded to 64, 4-byte aligned rows of wte), C
 * = 48 and 3 heads of 16 (parameter tensors at offsets that are not 256-byte
 * multiples in BF16), T = 17 (not a multiple of a warp), T < Tmax. */
static void test_odd_shapes_match_cpu(void **unused)
{
	(void)unused;
	const struct strata_gpt_config cfg = { .vocab = 50, .max_seq = 24, .layers = 2, .heads = 3,
					       .d_model = 48 };
	run_compare(&cfg, 3, 17, "odd V50 C48 NH3 B3 T17");
}

/* C = 20 (5 heads of 4): tensors at offsets that are 8 but not 16 bytes
 * apart in BF16, so some biases (attprojb of layer 0; qkvb, fcb, fcprojb of
 * layer 1) are not 16-byte aligned and must not go to the bias epilogue,
 * whose alignment no cuBLASLt preference states (the mock refuses them). */
static void test_unaligned_bias_matches_cpu(void **unused)
{
	(void)unused;
	const struct strata_gpt_config cfg = { .vocab = 50, .max_seq = 24, .layers = 2, .heads = 5,
					       .d_model = 20 };
	run_compare(&cfg, 2, 9, "unaligned bias V50 C20 NH5 B2 T9");
}

/* A smaller micro-batch than the buffers were made for, and gradient
 * accumulation over two micro-batches (backward adds into grads). */
static void test_accumulation_and_smaller_batch(void **unused)
{
	(void)unused;
	struct strata_gpt_config cfg;
	struct pair p;
	struct ready_log r = { 0 };
	assert_int_equal(strata_gpt_preset("tiny", &cfg), 0);
	need_gpu();
	pair_init(&p, &cfg, 4, 32, 99, QKVW_SHARPEN);
	strata_gpt_zero_grad(&p.cpu);
	assert_int_equal(strata_gpt_cuda_zero_grad(p.gpu, p.err, sizeof(p.err)), 0);
	for (int mb = 0; mb < 2; mb++) {
		const int B = 2, T = mb ? 32 : 20;
		float lg = 0;
		strata_gpt_forward(&p.cpu, p.in + mb * 64, p.tg + mb * 64, B, T);
		strata_gpt_backward(&p.cpu, NULL, NULL);
		if (strata_gpt_cuda_forward(p.gpu, p.in + mb * 64, p.tg + mb * 64, B, T, &lg, p.err,
					    sizeof(p.err)) != 0 ||
		    strata_gpt_cuda_backward(p.gpu, gpu_ready, &r, p.err, sizeof(p.err)) != 0)
			fail_msg("micro-batch %d: %s", mb, p.err);
	}
	float *grads = malloc(p.cpu.n_params * sizeof(float));
	assert_non_null(grads);
	assert_int_equal(strata_gpt_cuda_get_grads(p.gpu, grads, p.err, sizeof(p.err)), 0);
	for (size_t i = 0; i < p.cpu.n_tensors; i++) {
		const struct strata_gpt_tensor *t = &p.cpu.tensors[i];
		const struct cmp c = compare(grads + t->offset, p.cpu.grads + t->offset, t->count);
		if (!within(&c, TOL_GRAD_REL))
			fail_msg("accumulated gradient of %s (layer %d): rel err %.3e",
				 kind_names[t->kind], t->layer, rel_err(&c));
	}
	free(grads);
	pair_release(&p);
}

/* AdamW with identical gradients on both sides: three steps, decay on the
 * tensors the table marks, grad_scale applied. */
static void test_adamw_matches_cpu(void **unused)
{
	(void)unused;
	struct strata_gpt_config cfg;
	struct pair p;
	struct strata_adamw o;
	assert_int_equal(strata_gpt_preset("tiny", &cfg), 0);
	need_gpu();
	pair_init(&p, &cfg, 2, 16, 7, QKVW_SHARPEN);
	const size_t n = p.cpu.n_params;
	float *params = malloc(n * sizeof(float)), *half = malloc(n * sizeof(float));
	assert_non_null(params);
	assert_non_null(half);
	assert_int_equal(strata_adamw_init(&o, &p.cpu, 0.9f, 0.95f, 1e-8f, 0.1f), 0);
	assert_int_equal(strata_gpt_cuda_adamw_init(p.gpu, 0.9f, 0.95f, 1e-8f, 0.1f, p.err,
						    sizeof(p.err)),
			 0);
	for (int step = 0; step < 3; step++) {
		strata_gpt_forward(&p.cpu, p.in, p.tg, p.B, p.T);
		strata_gpt_zero_grad(&p.cpu);
		strata_gpt_backward(&p.cpu, NULL, NULL);
		/* the GPU gets twice the gradient and grad_scale 0.5 */
		for (size_t i = 0; i < n; i++)
			half[i] = 2.0f * p.cpu.grads[i];
		if (strata_gpt_cuda_set_grads(p.gpu, half, p.err, sizeof(p.err)) != 0 ||
		    strata_gpt_cuda_adamw_step(p.gpu, 1e-3f, 0.5f, p.err, sizeof(p.err)) != 0)
			fail_msg("step %d: %s", step, p.err);
		strata_adamw_step(&o, p.cpu.params, p.cpu.grads, 1e-3f);
	}
	assert_int_equal(strata_gpt_cuda_get_params(p.gpu, params, p.err, sizeof(p.err)), 0);
	const struct cmp c = compare(params, p.cpu.params, n);
	print_message("adamw: max |gpu - cpu| over %zu parameters %.2e\n", n, c.max_abs);
	if (!(c.max_abs <= TOL_ADAMW_ABS))
		fail_msg("adamw: parameter %zu differs by %.3e > %g", c.worst, c.max_abs,
			 TOL_ADAMW_ABS);
	/* the BF16 copy follows the master weights: the next forward agrees */
	check_forward(&p, "after adamw");
	strata_adamw_release(&o);
	free(params);
	free(half);
	pair_release(&p);
}

/* A few real training steps on a learnable mapping: the losses agree step by
 * step and fall on both sides. */
static void test_training_steps_agree(void **unused)
{
	(void)unused;
	struct strata_gpt_config cfg;
	struct pair p;
	struct strata_adamw o;
	assert_int_equal(strata_gpt_preset("tiny", &cfg), 0);
	need_gpu();
	pair_init(&p, &cfg, 4, 32, 1234, 1.0f);
	assert_int_equal(strata_adamw_init(&o, &p.cpu, 0.9f, 0.95f, 1e-8f, 0.1f), 0);
	assert_int_equal(strata_gpt_cuda_adamw_init(p.gpu, 0.9f, 0.95f, 1e-8f, 0.1f, p.err,
						    sizeof(p.err)),
			 0);
	uint64_t s = 5;
	float first_cpu = 0, first_gpu = 0, lc = 0, lg = 0;
	for (int step = 0; step < 8; step++) {
		fill_tokens(p.in, (size_t)p.B * p.T, cfg.vocab, &s);
		for (int i = 0; i < p.B * p.T; i++)
			p.tg[i] = (p.in[i] * 7 + 3) % cfg.vocab;
		lc = strata_gpt_forward(&p.cpu, p.in, p.tg, p.B, p.T);
		strata_gpt_zero_grad(&p.cpu);
		strata_gpt_backward(&p.cpu, NULL, NULL);
		strata_adamw_step(&o, p.cpu.params, p.cpu.grads, 3e-3f);
		if (strata_gpt_cuda_forward(p.gpu, p.in, p.tg, p.B, p.T, &lg, p.err, sizeof(p.err)) ||
		    strata_gpt_cuda_zero_grad(p.gpu, p.err, sizeof(p.err)) ||
		    strata_gpt_cuda_backward(p.gpu, NULL, NULL, p.err, sizeof(p.err)) ||
		    strata_gpt_cuda_adamw_step(p.gpu, 3e-3f, 1.0f, p.err, sizeof(p.err)))
			fail_msg("step %d: %s", step, p.err);
		print_message("train step %d: loss cpu %.4f gpu %.4f\n", step, lc, lg);
		if (step == 0) {
			first_cpu = lc;
			first_gpu = lg;
		}
		if (!(fabs((double)lg - lc) <= TOL_TRAIN_LOSS_ABS))
			fail_msg("step %d: loss gpu %.4f cpu %.4f", step, lg, lc);
	}
	/* the CPU goes from about 4.2 to 3.05 in 8 steps of this */
	assert_true(lc < first_cpu - 0.5f);
	assert_true(lg < first_gpu - 0.5f);
	strata_adamw_release(&o);
	pair_release(&p);
}

/* KV cache: prefill logits equal the full forward's last row; a batched
 * decode over two slots at different lengths equals full forwards of the
 * extended sequences. */
static void test_kv_cache_matches_forward(void **unused)
{
	(void)unused;
	const struct strata_gpt_config cfg = { .vocab = 50, .max_seq = 24, .layers = 2, .heads = 3,
					       .d_model = 48 };
	struct pair p;
	struct strata_gpt_cuda_kv *kv = NULL;
	const int V = cfg.vocab;
	int seq0[24], seq1[24];
	float logits[2 * 50], *ref;
	need_gpu();
	pair_init(&p, &cfg, 1, 24, 3, QKVW_SHARPEN);
	uint64_t s = 11;
	fill_tokens(seq0, 24, V, &s);
	fill_tokens(seq1, 24, V, &s);
	if (strata_gpt_cuda_kv_create(p.gpu, 2, 20, &kv, p.err, sizeof(p.err)) != 0)
		fail_msg("kv: %s", p.err);
	/* slot 0: 9 tokens in two prefills (7 then 2); slot 1: 5 tokens */
	if (strata_gpt_cuda_kv_prefill(kv, 0, seq0, 7, logits, p.err, sizeof(p.err)) != 0 ||
	    strata_gpt_cuda_kv_prefill(kv, 0, seq0 + 7, 2, logits, p.err, sizeof(p.err)) != 0)
		fail_msg("prefill: %s", p.err);
	strata_gpt_forward(&p.cpu, seq0, NULL, 1, 9);
	ref = p.cpu.logits + 8 * V;
	struct cmp c = compare(logits, ref, (size_t)V);
	print_message("kv prefill: rel err %.2e\n", rel_err(&c));
	if (!within(&c, TOL_LOGITS_REL))
		fail_msg("prefill logits rel err %.3e", rel_err(&c));
	if (strata_gpt_cuda_kv_prefill(kv, 1, seq1, 5, logits, p.err, sizeof(p.err)) != 0)
		fail_msg("prefill: %s", p.err);
	assert_int_equal(strata_gpt_cuda_kv_len(kv, 0), 9);
	assert_int_equal(strata_gpt_cuda_kv_len(kv, 1), 5);
	/* three decode steps, slots listed in reverse order */
	for (int step = 0; step < 3; step++) {
		const int slots[2] = { 1, 0 };
		const int toks[2] = { seq1[5 + step], seq0[9 + step] };
		if (strata_gpt_cuda_kv_decode(kv, slots, toks, 2, logits, p.err, sizeof(p.err)) != 0)
			fail_msg("decode %d: %s", step, p.err);
		strata_gpt_forward(&p.cpu, seq1, NULL, 1, 6 + step);
		c = compare(logits, p.cpu.logits + (5 + step) * V, (size_t)V);
		if (!within(&c, TOL_LOGITS_REL))
			fail_msg("decode %d slot 1: rel err %.3e", step, rel_err(&c));
		strata_gpt_forward(&p.cpu, seq0, NULL, 1, 10 + step);
		c = compare(logits + V, p.cpu.logits + (9 + step) * V, (size_t)V);
		if (!within(&c, TOL_LOGITS_REL))
			fail_msg("decode %d slot 0: rel err %.3e", step, rel_err(&c));
	}
	/* full, duplicate and bad slots are refused with a reason */
	const int dup[2] = { 0, 0 }, toks2[2] = { 1, 2 };
	assert_int_equal(strata_gpt_cuda_kv_decode(kv, dup, toks2, 2, logits, p.err, sizeof(p.err)),
			 -1);
	assert_non_null(strstr(p.err, "slot 0"));
	assert_int_equal(strata_gpt_cuda_kv_prefill(kv, 1, seq1, 13, logits, p.err, sizeof(p.err)),
			 -1);
	assert_non_null(strstr(p.err, "max_len"));
	/* reset, then the same prompt gives the same logits again */
	assert_int_equal(strata_gpt_cuda_kv_reset(kv, 0, p.err, sizeof(p.err)), 0);
	assert_int_equal(strata_gpt_cuda_kv_len(kv, 0), 0);
	float again[50];
	if (strata_gpt_cuda_kv_prefill(kv, 0, seq0, 9, again, p.err, sizeof(p.err)) != 0)
		fail_msg("prefill after reset: %s", p.err);
	strata_gpt_forward(&p.cpu, seq0, NULL, 1, 9);
	c = compare(again, p.cpu.logits + 8 * V, (size_t)V);
	if (!within(&c, TOL_LOGITS_REL))
		fail_msg("prefill after reset: rel err %.3e", rel_err(&c));
	strata_gpt_cuda_kv_destroy(kv);
	pair_release(&p);
}

/* The KV attention's scores live in dynamic shared memory beside some
 * static shared memory, 48 KiB in all without an opt-in: max_len 12288
 * (exactly 48 KiB of scores) is refused at create rather than failing every
 * launch; 12000 (1152 bytes to spare) is accepted and launches. */
static void test_kv_shared_memory_limit(void **unused)
{
	(void)unused;
	const struct strata_gpt_config cfg = { .vocab = 16, .max_seq = 12288, .layers = 1,
					       .heads = 2, .d_model = 8 };
	struct pair p;
	struct strata_gpt_cuda_kv *kv = NULL;
	const int toks[2] = { 3, 5 };
	float logits[2 * 16];
	need_gpu();
	pair_init(&p, &cfg, 1, 1, 9, 1.0f);
	assert_int_equal(strata_gpt_cuda_kv_create(p.gpu, 1, 12288, &kv, p.err, sizeof(p.err)), -1);
	assert_null(kv);
	assert_non_null(strstr(p.err, "shared memory"));
	if (strata_gpt_cuda_kv_create(p.gpu, 1, 12000, &kv, p.err, sizeof(p.err)) != 0)
		fail_msg("kv: %s", p.err);
	if (strata_gpt_cuda_kv_prefill(kv, 0, toks, 2, logits, p.err, sizeof(p.err)) != 0)
		fail_msg("prefill at max_len 12000: %s", p.err);
	for (int i = 0; i < cfg.vocab; i++)
		assert_true(isfinite(logits[i]));
	strata_gpt_cuda_kv_destroy(kv);
	pair_release(&p);
}

/* Bad arguments come back as -1 with a message, and the accessors answer. */
static void test_checks_and_accessors(void **unused)
{
	(void)unused;
	struct strata_gpt_config cfg;
	struct pair p;
	float loss = 0;
	double h2d_s = -1;
	struct strata_gpt_cuda_memory mem;
	assert_int_equal(strata_gpt_preset("tiny", &cfg), 0);
	need_gpu();
	pair_init(&p, &cfg, 2, 16, 5, 1.0f);
	/* backward before any forward with targets */
	assert_int_equal(strata_gpt_cuda_backward(p.gpu, NULL, NULL, p.err, sizeof(p.err)), -1);
	assert_non_null(strstr(p.err, "targets"));
	assert_int_equal(strata_gpt_cuda_forward(p.gpu, p.in, p.tg, 3, 16, &loss, p.err,
						 sizeof(p.err)),
			 -1);
	assert_non_null(strstr(p.err, "max_B"));
	p.in[5] = cfg.vocab;
	assert_int_equal(strata_gpt_cuda_forward(p.gpu, p.in, p.tg, 2, 16, &loss, p.err,
						 sizeof(p.err)),
			 -1);
	assert_non_null(strstr(p.err, "token 5"));
	p.in[5] = 1;
	/* without targets: no loss, and backward refuses */
	assert_int_equal(strata_gpt_cuda_forward(p.gpu, p.in, NULL, 2, 16, &loss, p.err,
						 sizeof(p.err)),
			 0);
	assert_true(loss == -1.0f);
	assert_int_equal(strata_gpt_cuda_backward(p.gpu, NULL, NULL, p.err, sizeof(p.err)), -1);
	assert_int_equal(strata_gpt_cuda_forward(p.gpu, p.in, p.tg, 2, 16, &loss, p.err,
						 sizeof(p.err)),
			 0);
	assert_true(loss > 0);
	assert_int_equal(strata_gpt_cuda_h2d_seconds(p.gpu, &h2d_s, p.err, sizeof(p.err)), 0);
	assert_true(h2d_s >= 0 && h2d_s < 1.0); /* a few microseconds */
	/* adamw before init */
	assert_int_equal(strata_gpt_cuda_adamw_step(p.gpu, 1e-3f, 1.0f, p.err, sizeof(p.err)), -1);
	strata_gpt_cuda_memory(p.gpu, &mem);
	assert_true(mem.model_bytes >= p.cpu.n_params * (4 + 4 + 2));
	assert_true(mem.device_used_peak_bytes >= mem.model_bytes);
	assert_true(mem.device_total_bytes >= mem.device_used_peak_bytes);
	/* params round-trip exactly */
	float *params = malloc(p.cpu.n_params * sizeof(float));
	assert_non_null(params);
	assert_int_equal(strata_gpt_cuda_get_params(p.gpu, params, p.err, sizeof(p.err)), 0);
	assert_memory_equal(params, p.cpu.params, p.cpu.n_params * sizeof(float));
	free(params);
	assert_int_equal(strata_gpt_cuda_param_count(p.gpu), p.cpu.n_params);
	assert_int_equal(strata_gpt_cuda_config(p.gpu)->d_model, cfg.d_model);
	pair_release(&p);
}

#else /* no CUDA in this build */

static void skip_no_cuda(void **unused)
{
	(void)unused;
	print_message("test_gpt_cuda: built without CUDA (STRATA_HAVE_CUDA 0): skipped\n");
	skip();
}
#define test_tiny_matches_cpu skip_no_cuda
#define test_odd_shapes_match_cpu skip_no_cuda
#define test_unaligned_bias_matches_cpu skip_no_cuda
#define test_kv_shared_memory_limit skip_no_cuda
#define test_accumulation_and_smaller_batch skip_no_cuda
#define test_adamw_matches_cpu skip_no_cuda
#define test_training_steps_agree skip_no_cuda
#define test_kv_cache_matches_forward skip_no_cuda
#define test_checks_and_accessors skip_no_cuda

#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compare_catches_wrong_values),
		cmocka_unit_test(test_tiny_matches_cpu),
		cmocka_unit_test(test_odd_shapes_match_cpu),
		cmocka_unit_test(test_unaligned_bias_matches_cpu),
		cmocka_unit_test(test_accumulation_and_smaller_batch),
		cmocka_unit_test(test_adamw_matches_cpu),
		cmocka_unit_test(test_training_steps_agree),
		cmocka_unit_test(test_kv_cache_matches_forward),
		cmocka_unit_test(test_kv_shared_memory_limit),
		cmocka_unit_test(test_checks_and_accessors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
