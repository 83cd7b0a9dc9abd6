/* test_nn_grad.c: the transformer's layers (kernels/nn/gpt_layers.c)
 * checked one by one: every backward against central finite differences of
 * its own forward, and the forwards against plain double-precision
 * references written here.
 *
 * How: for a layer y = f(x, w) and a fixed random R, the objective
 * J = sum_i R_i y_i is evaluated in double over the FP32 outputs; backward
 * with dout = R must give dJ/dx and dJ/dw.  Each checked coordinate's
 * central difference (J(x+h) - J(x-h)) / 2h is compared with the analytic
 * value, the error scaled by the largest analytic value of that tensor
 * (FP32 rounding of J makes small gradients noisy in absolute terms, never
 * large ones).  Gradient buffers start non-zero, so that backward is also
 * seen to add rather than overwrite.  Shapes are small, but attention and matmul also run at sizes
 * that take their blocked / split paths.  Not a benchmark.
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

#include "kernels/nn/gpt_layers.h"

/* ---- helpers ------------------------------------------------------------------ */

static uint64_t rng_state = 42;

static double rnd_uniform(void) /* [0, 1) */
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

static float rnd_normal(void)
{
	const double u1 = rnd_uniform() + 1e-12, u2 = rnd_uniform();
	return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

static float *rnd_floats(long n, float scale)
{
	float *p = malloc(sizeof(float) * (size_t)n);
	assert_non_null(p);
	for (long i = 0; i < n; i++)
		p[i] = scale * rnd_normal();
	return p;
}

static float *zeros(long n)
{
	float *p = calloc((size_t)n, sizeof(float));
	assert_non_null(p);
	return p;
}

/* Gradient buffers start at PRE, not zero, and PRE is taken off after
 * backward: the check then also proves that backward adds. */
#define PRE 0.5f

static float *prefilled(long n)
{
	float *p = malloc(sizeof(float) * (size_t)n);
	assert_non_null(p);
	for (long i = 0; i < n; i++)
		p[i] = PRE;
	return p;
}

static void take_pre(float *p, long n)
{
	for (long i = 0; i < n; i++)
		p[i] -= PRE;
}

/* The objective J(ctx) of one layer: sum R * forward outputs, in double. */
typedef double (*objective_fn)(void *ctx);

static double dot_rd(const float *r, const float *y, long n)
{
	double s = 0.0;
	for (long i = 0; i < n; i++)
		s += (double)r[i] * y[i];
	return s;
}

/* Relative error allowed between finite differences and backward, as a
 * fraction of the tensor's largest gradient.  FP32 noise here stays below
 * 5e-5; each of ten deliberate bugs tried (a dropped term, a wrong index or
 * mask, a missing scale, overwriting instead of adding) gave 0.02 or more. */
#define FD_TOL 1e-3

/* Compare grad (n) of J with respect to x (n) at up to max_checks
 * coordinates (all of them when n is small, else an even spread with the
 * first and last).  h: the step. */
static void check_grad(const char *what, objective_fn J, void *ctx, float *x, const float *grad,
                       long n, float h, long max_checks)
{
	double gmax = 0.0;
	for (long i = 0; i < n; i++)
		gmax = fmax(gmax, fabs(grad[i]));
	if (gmax == 0.0)
		gmax = 1.0;
	const long step = n <= max_checks ? 1 : (n + max_checks - 1) / max_checks;
	double worst = 0.0;
	long worst_i = -1;
	double worst_num = 0.0;
	for (long i = 0;; i += step) {
		if (i >= n)
			i = n - 1;
		const float x0 = x[i];
		const float xp = x0 + h, xm = x0 - h;
		x[i] = xp;
		const double jp = J(ctx);
		x[i] = xm;
		const double jm = J(ctx);
		x[i] = x0;
		const double num = (jp - jm) / ((double)xp - (double)xm);
		const double err = fabs(num - grad[i]) / gmax;
		if (err > worst) {
			worst = err;
			worst_i = i;
			worst_num = num;
		}
		if (i == n - 1)
			break;
	}
	if (getenv("STRATA_FD_VERBOSE"))
		fprintf(stderr, "%-24s worst %.3g (largest gradient %.3g)\n", what, worst, gmax);
	if (worst > FD_TOL) {
		print_error("%s: coordinate %ld: finite difference %.6g, backward %.6g (error %.3g "
			    "of the largest gradient %.3g)\n",
			    what, worst_i, worst_num, worst_i >= 0 ? grad[worst_i] : 0.0f, worst, gmax);
		fail();
	}
}

/* ---- exp ---------------------------------------------------------------------------- */

static void test_expf_accuracy(void **state)
{
	(void)state;
	double worst = 0.0;
	for (double x = -87.0; x <= 88.0; x += 0.0137) {
		const double want = exp((double)(float)x);
		const double got = strata_nn_expf((float)x);
		worst = fmax(worst, fabs(got - want) / want);
	}
	assert_true(worst < 3e-7);
	/* saturates instead of overflowing */
	assert_true(isfinite(strata_nn_expf(1000.0f)));
	assert_true(strata_nn_expf(-1000.0f) >= 0.0f && strata_nn_expf(-1000.0f) < 1e-37f);
}

/* ---- encoder ------------------------------------------------------------------------- */

struct enc_ctx {
	int B, T, C;
	const int *inp;
	float *wte, *wpe, *out;
	const float *r;
};

static double enc_J(void *p)
{
	struct enc_ctx *c = p;
	strata_nn_encoder_forward(c->out, c->inp, c->wte, c->wpe, c->B, c->T, c->C);
	return dot_rd(c->r, c->out, (long)c->B * c->T * c->C);
}

static void test_encoder(void **state)
{
	(void)state;
	const int B = 2, T = 3, C = 4, V = 5;
	const int inp[] = { 1, 3, 1, 4, 1, 0 }; /* token 1 three times */
	struct enc_ctx c = { B, T, C, inp, rnd_floats(V * C, 1), rnd_floats(T * C, 1),
			     zeros(B * T * C), rnd_floats(B * T * C, 1) };
	float *dwte = prefilled(V * C), *dwpe = prefilled(T * C);
	strata_nn_encoder_backward(dwte, dwpe, c.r, inp, B, T, C);
	take_pre(dwte, V * C);
	take_pre(dwpe, T * C);
	check_grad("encoder dwte", enc_J, &c, c.wte, dwte, V * C, 1e-2f, 1000);
	check_grad("encoder dwpe", enc_J, &c, c.wpe, dwpe, T * C, 1e-2f, 1000);
	/* forward: out[b,t] = wte[inp] + wpe[t] */
	enc_J(&c);
	for (int bt = 0; bt < B * T; bt++)
		for (int k = 0; k < C; k++)
			assert_float_equal(c.out[bt * C + k],
					   c.wte[inp[bt] * C + k] + c.wpe[(bt % T) * C + k], 0);
	free(c.wte), free(c.wpe), free(c.out), free((void *)c.r), free(dwte), free(dwpe);
}

/* ---- layernorm ----------------------------------------------------------------------- */

struct ln_ctx {
	int N, C;
	float *inp, *w, *b, *out, *mean, *rstd;
	const float *r;
};

static double ln_J(void *p)
{
	struct ln_ctx *c = p;
	strata_nn_layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C);
	return dot_rd(c->r, c->out, (long)c->N * c->C);
}

static void run_layernorm(int N, int C)
{
	struct ln_ctx c = { N, C, rnd_floats(N * C, 1), rnd_floats(C, 1), rnd_floats(C, 1),
			    zeros(N * C), zeros(N), zeros(N), rnd_floats(N * C, 1) };
	for (int i = 0; i < N * C; i++)
		c.inp[i] += 0.5f; /* a mean away from zero */
	ln_J(&c);
	/* forward against a double reference */
	for (int n = 0; n < N; n++) {
		double m = 0, v = 0;
		for (int k = 0; k < C; k++)
			m += c.inp[n * C + k];
		m /= C;
		for (int k = 0; k < C; k++)
			v += (c.inp[n * C + k] - m) * (c.inp[n * C + k] - m);
		v /= C;
		for (int k = 0; k < C; k++) {
			const double want = (c.inp[n * C + k] - m) / sqrt(v + 1e-5) * c.w[k] + c.b[k];
			assert_true(fabs(c.out[n * C + k] - want) < 1e-5 * (1 + fabs(want)));
		}
	}
	float *dinp = prefilled(N * C), *dw = prefilled(C), *db = prefilled(C);
	strata_nn_layernorm_backward(dinp, dw, db, c.r, c.inp, c.w, c.mean, c.rstd, N, C);
	take_pre(dinp, N * C);
	take_pre(dw, C);
	take_pre(db, C);
	check_grad("layernorm dinp", ln_J, &c, c.inp, dinp, N * C, 1e-2f, 400);
	check_grad("layernorm dw", ln_J, &c, c.w, dw, C, 1e-2f, 400);
	check_grad("layernorm db", ln_J, &c, c.b, db, C, 1e-2f, 400);
	free(c.inp), free(c.w), free(c.b), free(c.out), free(c.mean), free(c.rstd);
	free((void *)c.r), free(dinp), free(dw), free(db);
}

static void test_layernorm(void **state)
{
	(void)state;
	run_layernorm(4, 9);
	run_layernorm(300, 64); /* parallel path */
}

/* ---- matmul --------------------------------------------------------------------------- */

struct mm_ctx {
	int N, IC, OC;
	float *inp, *w, *bias, *out;
	const float *r;
};

static double mm_J(void *p)
{
	struct mm_ctx *c = p;
	strata_nn_matmul_forward(c->out, c->inp, c->w, c->bias, c->N, c->IC, c->OC);
	return dot_rd(c->r, c->out, (long)c->N * c->OC);
}

static void run_matmul(int N, int IC, int OC, int with_bias)
{
	struct mm_ctx c = { N,
			    IC,
			    OC,
			    rnd_floats((long)N * IC, 1),
			    rnd_floats((long)OC * IC, 1),
			    with_bias ? rnd_floats(OC, 1) : NULL,
			    zeros((long)N * OC),
			    rnd_floats((long)N * OC, 1) };
	mm_J(&c);
	for (int n = 0; n < N; n++)
		for (int o = 0; o < OC; o++) {
			double want = with_bias ? c.bias[o] : 0.0;
			for (int i = 0; i < IC; i++)
				want += (double)c.inp[(long)n * IC + i] * c.w[(long)o * IC + i];
			assert_true(fabs(c.out[(long)n * OC + o] - want) < 1e-4 * (1 + fabs(want)));
		}
	float *dinp = prefilled((long)N * IC), *dw = prefilled((long)OC * IC);
	float *db = with_bias ? prefilled(OC) : NULL;
	strata_nn_matmul_backward(dinp, dw, db, c.r, c.inp, c.w, N, IC, OC);
	take_pre(dinp, (long)N * IC);
	take_pre(dw, (long)OC * IC);
	if (db)
		take_pre(db, OC);
	check_grad("matmul dinp", mm_J, &c, c.inp, dinp, (long)N * IC, 1e-2f, 150);
	check_grad("matmul dw", mm_J, &c, c.w, dw, (long)OC * IC, 1e-2f, 150);
	if (with_bias)
		check_grad("matmul dbias", mm_J, &c, c.bias, db, OC, 1e-2f, 150);
	free(c.inp), free(c.w), free(c.bias), free(c.out), free((void *)c.r);
	free(dinp), free(dw), free(db);
}

static void test_matmul(void **state)
{
	(void)state;
	run_matmul(5, 7, 6, 1);
	run_matmul(5, 7, 6, 0);
	/* above gpt_layers.c's PAR_MIN_MACS (2^17), so that threads share them */
	run_matmul(150, 40, 30, 1); /* rows split across threads */
	run_matmul(3, 200, 300, 1); /* columns split across threads */
}

/* ---- attention --------------------------------------------------------------------------- */

struct att_ctx {
	int B, T, C, NH;
	float *qkv, *out, *att;
	const float *r;
};

static double att_J(void *p)
{
	struct att_ctx *c = p;
	strata_nn_attention_forward(c->out, c->att, c->qkv, c->B, c->T, c->C, c->NH);
	return dot_rd(c->r, c->out, (long)c->B * c->T * c->C);
}

/* Plain causal attention in double: out and the probabilities. */
static void attention_reference(double *out, double *att, const float *qkv, int B, int T, int C,
                                int NH)
{
	const int hs = C / NH;
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++) {
				const float *q = qkv + ((long)b * T + t) * 3 * C + h * hs;
				double *a = att + (((long)b * NH + h) * T + t) * T;
				double mx = -1e300, sum = 0;
				for (int j = 0; j < T; j++) {
					a[j] = 0;
					if (j > t)
						continue;
					const float *k = qkv + ((long)b * T + j) * 3 * C + C + h * hs;
					for (int i = 0; i < hs; i++)
						a[j] += (double)q[i] * k[i];
					a[j] /= sqrt((double)hs);
					mx = fmax(mx, a[j]);
				}
				for (int j = 0; j <= t; j++)
					sum += (a[j] = exp(a[j] - mx));
				for (int j = 0; j <= t; j++)
					a[j] /= sum;
				for (int i = 0; i < hs; i++) {
					double o = 0;
					for (int j = 0; j <= t; j++)
						o += a[j] * qkv[((long)b * T + j) * 3 * C + 2 * C + h * hs + i];
					out[((long)b * T + t) * C + h * hs + i] = o;
				}
			}
}

static void run_attention(int B, int T, int C, int NH, long max_checks)
{
	const long nqkv = (long)B * T * 3 * C, nout = (long)B * T * C, natt = (long)B * NH * T * T;
	struct att_ctx c = { B, T, C, NH, rnd_floats(nqkv, 1), zeros(nout), zeros(natt),
			     rnd_floats(nout, 1) };
	/* garbage in att must not matter */
	for (long i = 0; i < natt; i++)
		c.att[i] = 7.0f;
	att_J(&c);
	double *out_ref = malloc(sizeof(double) * (size_t)nout);
	double *att_ref = malloc(sizeof(double) * (size_t)natt);
	assert_non_null(out_ref);
	assert_non_null(att_ref);
	attention_reference(out_ref, att_ref, c.qkv, B, T, C, NH);
	for (long i = 0; i < nout; i++)
		assert_true(fabs(c.out[i] - out_ref[i]) < 1e-5 * (1 + fabs(out_ref[i])));
	for (long i = 0; i < natt; i++)
		assert_true(fabs(c.att[i] - att_ref[i]) < 1e-6); /* zero above the diagonal too */

	float *dqkv = prefilled(nqkv);
	strata_nn_attention_backward(dqkv, c.r, c.qkv, c.att, B, T, C, NH);
	take_pre(dqkv, nqkv);
	check_grad("attention dqkv", att_J, &c, c.qkv, dqkv, nqkv, 1e-2f, max_checks);
	/* the _ws form with a dirty scratch gives the same, added */
	float *dqkv2 = zeros(nqkv), *ws = rnd_floats(natt, 3);
	strata_nn_attention_backward_ws(dqkv2, ws, c.r, c.qkv, c.att, B, T, C, NH);
	strata_nn_attention_backward_ws(dqkv2, ws, c.r, c.qkv, c.att, B, T, C, NH);
	for (long i = 0; i < nqkv; i++)
		assert_true(fabs(dqkv2[i] - 2 * dqkv[i]) < 1e-5 * (1 + fabs(dqkv[i])));
	free(c.qkv), free(c.out), free(c.att), free((void *)c.r), free(out_ref), free(att_ref);
	free(dqkv), free(dqkv2), free(ws);
}

static void test_attention_small(void **state)
{
	(void)state;
	run_attention(2, 5, 8, 2, 100000); /* every coordinate */
	run_attention(1, 1, 4, 1, 100000); /* one position */
}

static void test_attention_blocks(void **state)
{
	(void)state;
	/* both above PAR_MIN_MACS: (batch, head) pairs shared among threads */
	run_attention(1, 150, 8, 2, 600); /* three causal row blocks, the last partial */
	run_attention(3, 64, 12, 3, 300); /* exactly one block, 9 (batch, head) pairs */
}

/* ---- GELU -------------------------------------------------------------------------------- */

struct gelu_ctx {
	long N;
	float *inp, *out;
	const float *r;
};

static double gelu_J(void *p)
{
	struct gelu_ctx *c = p;
	strata_nn_gelu_forward(c->out, c->inp, c->N);
	return dot_rd(c->r, c->out, c->N);
}

static void test_gelu(void **state)
{
	(void)state;
	const long N = 161;
	struct gelu_ctx c = { N, zeros(N), zeros(N), rnd_floats(N, 1) };
	for (long i = 0; i < N; i++)
		c.inp[i] = -8.0f + 0.1f * (float)i; /* -8 .. 8, both tails and the bend */
	gelu_J(&c);
	for (long i = 0; i < N; i++) {
		const double x = c.inp[i];
		const double want = 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
		assert_true(fabs(c.out[i] - want) < 1e-6 * (1 + fabs(want)));
	}
	float *dinp = prefilled(N);
	strata_nn_gelu_backward(dinp, c.inp, c.r, N);
	take_pre(dinp, N);
	check_grad("gelu dinp", gelu_J, &c, c.inp, dinp, N, 1e-2f, 1000);
	free(c.inp), free(c.out), free((void *)c.r), free(dinp);
}

/* ---- residual ------------------------------------------------------------------------------ */

struct res_ctx {
	long N;
	float *a, *b, *out;
	const float *r;
};

static double res_J(void *p)
{
	struct res_ctx *c = p;
	strata_nn_residual_forward(c->out, c->a, c->b, c->N);
	return dot_rd(c->r, c->out, c->N);
}

static void test_residual(void **state)
{
	(void)state;
	const long N = 37;
	struct res_ctx c = { N, rnd_floats(N, 1), rnd_floats(N, 1), zeros(N), rnd_floats(N, 1) };
	float *da = prefilled(N), *db = prefilled(N);
	strata_nn_residual_backward(da, db, c.r, N);
	take_pre(da, N);
	take_pre(db, N);
	check_grad("residual da", res_J, &c, c.a, da, N, 1e-2f, 1000);
	check_grad("residual db", res_J, &c, c.b, db, N, 1e-2f, 1000);
	free(c.a), free(c.b), free(c.out), free((void *)c.r), free(da), free(db);
}

/* ---- softmax cross-entropy ------------------------------------------------------------------ */

struct xent_ctx {
	int N, V;
	float *logits, *probs, *losses;
	const int *targets;
	const float *dl;
};

static double xent_J(void *p)
{
	struct xent_ctx *c = p;
	strata_nn_softmax_xent_forward(c->probs, c->losses, c->logits, c->targets, c->N, c->V);
	return dot_rd(c->dl, c->losses, c->N);
}

static void test_softmax_xent(void **state)
{
	(void)state;
	const int N = 4, V = 7;
	const int targets[] = { 0, 6, 3, 3 };
	float dl[] = { 0.25f, 0.5f, 1.0f, 2.0f };
	struct xent_ctx c = { N, V, rnd_floats(N * V, 2), zeros(N * V), zeros(N), targets, dl };
	c.logits[1 * V + 2] = 30.0f; /* a peaked row: target's probability ~e^-30 */
	xent_J(&c);
	for (int n = 0; n < N; n++) {
		double mx = -1e300, sum = 0, psum = 0;
		for (int v = 0; v < V; v++)
			mx = fmax(mx, c.logits[n * V + v]);
		for (int v = 0; v < V; v++)
			sum += exp(c.logits[n * V + v] - mx);
		for (int v = 0; v < V; v++) {
			const double p = exp(c.logits[n * V + v] - mx) / sum;
			assert_true(fabs(c.probs[n * V + v] - p) < 1e-6);
			psum += c.probs[n * V + v];
		}
		assert_true(fabs(psum - 1.0) < 1e-5);
		const double loss = log(sum) - (c.logits[n * V + targets[n]] - mx);
		assert_true(fabs(c.losses[n] - loss) < 1e-5 * (1 + loss));
	}
	float *dlogits = prefilled(N * V);
	strata_nn_softmax_xent_backward(dlogits, c.probs, targets, dl, N, V);
	take_pre(dlogits, N * V);
	check_grad("softmax_xent dlogits", xent_J, &c, c.logits, dlogits, N * V, 1e-2f, 1000);
	free(c.logits), free(c.probs), free(c.losses), free(dlogits);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expf_accuracy),   cmocka_unit_test(test_encoder),
		cmocka_unit_test(test_layernorm),       cmocka_unit_test(test_matmul),
		cmocka_unit_test(test_attention_small), cmocka_unit_test(test_attention_blocks),
		cmocka_unit_test(test_gelu),            cmocka_unit_test(test_residual),
		cmocka_unit_test(test_softmax_xent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
