/* gpt_layers.c: the transformer's layers on the CPU in FP32, one
 * forward/backward pair each (see gpt_layers.h for the shapes).
 *
 * What it is: matmuls as cblas_sgemm calls, attention as sgemm per (batch,
 * head) over causal row blocks, and OpenMP loops for the element-wise
 * layers.  What it is not: a tensor library, or a reference implementation
 * (tests/unit/test_nn_grad.c checks these against finite differences).
 *
 * Threads: every parallel loop here, matmuls included, runs on OpenMP's
 * threads; OpenBLAS is held at one thread for the length of each call and
 * each OpenMP thread runs sgemm on its own slice of the output.  Debian's
 * OpenBLAS is the pthread build, whose worker threads spin after each call
 * while libgomp's spin between regions: letting both pools run on the same
 * cores cost 35% of sgemm throughput and doubled the element-wise loops on
 * a 2-core machine, where one pool with sliced sgemm reaches the same GFLOP/s
 * as OpenBLAS's own threading.  So the functions set OpenBLAS to one thread
 * on entry and restore the previous count on exit (process-wide: do not call
 * them from several threads at once).
 */
#include "kernels/nn/gpt_layers.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

/* Below this many elements an element-wise loop stays on one thread (the
 * fork/join would cost more than the work). */
#define PAR_MIN_ELEMS 16384L
/* Below this many multiply-adds a matmul or an attention call stays on one
 * thread (about 30 us of work, the order of waking a team on a busy host). */
#define PAR_MIN_MACS (1L << 17)
/* Rows of the causal blocks of attention: the sgemm of block i computes
 * columns 0..(i+1)*ATT_BLOCK only, skipping most of the masked upper
 * triangle. */
#define ATT_BLOCK 64
/* Layernorm's epsilon, as GPT-2 (and PyTorch's default). */
#define LN_EPS 1e-5f

/* ---- OpenBLAS threads ------------------------------------------------------- */

int strata_nn_blas_enter(void)
{
	const int prev = openblas_get_num_threads();
	if (prev != 1)
		openblas_set_num_threads(1);
	return prev;
}

void strata_nn_blas_leave(int prev)
{
	if (prev != 1)
		openblas_set_num_threads(prev);
}

/* ---- element-wise maths -------------------------------------------------------- */

/* expf without libm, so that loops over it vectorise: Cephes' expf (S. L.
 * Moshier, Cephes Math Library, expf.c): x = n ln2 + r with |r| <= ln2/2
 * (ln2 split in two constants for exactness), e^r by its degree-6 minimax
 * polynomial (relative error about 1e-7), 2^n put into the exponent bits.
 * Input clamped to [-87.3, 88.3] (no overflow to inf, no denormals);
 * branch-free. */
static inline float exp_fast(float x)
{
	x = x < -87.3f ? -87.3f : x;
	x = x > 88.3f ? 88.3f : x;
	/* round(x / ln2) by the 1.5 * 2^23 trick (round-to-nearest in the add) */
	const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
	float r = x - n * 0.693359375f;
	r = r - n * -2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * r * r + r + 1.0f;
	union {
		uint32_t u;
		float f;
	} scale;
	scale.u = (uint32_t)((int32_t)n + 127) << 23;
	return p * scale.f;
}

float strata_nn_expf(float x)
{
	return exp_fast(x);
}

/* tanh(u) = 1 - 2 / (e^{2u} + 1): exact identity; with the clamp in
 * strata_nn_expf it saturates to +-1 without inf/inf. */
static inline float tanh_fast(float u)
{
	return 1.0f - 2.0f / (exp_fast(2.0f * u) + 1.0f);
}

/* ---- encoder -------------------------------------------------------------------- */

void strata_nn_encoder_forward(float *out, const int *inp, const float *wte, const float *wpe,
                               int B, int T, int C)
{
	const long BT = (long)B * T;
#pragma omp parallel for schedule(static) if (BT * C >= PAR_MIN_ELEMS)
	for (long bt = 0; bt < BT; bt++) {
		const int t = (int)(bt % T);
		float *o = out + bt * C;                     /* (C) */
		const float *te = wte + (long)inp[bt] * C; /* (C) */
		const float *pe = wpe + (long)t * C;       /* (C) */
#pragma omp simd
		for (int c = 0; c < C; c++)
			o[c] = te[c] + pe[c];
	}
}

void strata_nn_encoder_backward(float *dwte, float *dwpe, const float *dout, const int *inp,
                                int B, int T, int C)
{
	/* Two positions may hold the same token: threads split the columns, so
	 * no two of them touch the same float. */
	const long BT = (long)B * T;
#pragma omp parallel if (BT * C >= PAR_MIN_ELEMS)
	{
		const int nt = omp_get_num_threads(), id = omp_get_thread_num();
		const int c0 = (int)((long)C * id / nt), c1 = (int)((long)C * (id + 1) / nt);
		for (long bt = 0; bt < BT; bt++) {
			const int t = (int)(bt % T);
			const float *d = dout + bt * C;
			float *te = dwte + (long)inp[bt] * C;
			float *pe = dwpe + (long)t * C;
#pragma omp simd
			for (int c = c0; c < c1; c++) {
				te[c] += d[c];
				pe[c] += d[c];
			}
		}
	}
}

/* ---- layernorm -------------------------------------------------------------- */

void strata_nn_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                                 const float *w, const float *b, int N, int C)
{
#pragma omp parallel for schedule(static) if ((long)N * C >= PAR_MIN_ELEMS)
	for (int n = 0; n < N; n++) {
		const float *x = inp + (long)n * C; /* (C) */
		float *o = out + (long)n * C;       /* (C) */
		float s = 0.0f;
#pragma omp simd reduction(+ : s)
		for (int c = 0; c < C; c++)
			s += x[c];
		const float m = s / C;
		float v = 0.0f;
#pragma omp simd reduction(+ : v)
		for (int c = 0; c < C; c++)
			v += (x[c] - m) * (x[c] - m);
		const float r = 1.0f / sqrtf(v / C + LN_EPS);
#pragma omp simd
		for (int c = 0; c < C; c++)
			o[c] = (x[c] - m) * r * w[c] + b[c];
		mean[n] = m;
		rstd[n] = r;
	}
}

/* With xhat = (x - mean) rstd and g = w * dout (the gradient of xhat):
 *   dx = rstd (g - mean(g) - xhat mean(g xhat)),  dw = sum_n xhat dout,
 *   db = sum_n dout
 * (the layernorm backward of Ba et al. 2016, written as llm.c's
 * layernorm_backward). */
void strata_nn_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                                  const float *inp, const float *w, const float *mean,
                                  const float *rstd, int N, int C)
{
#pragma omp parallel if ((long)N * C >= PAR_MIN_ELEMS)
	{
#pragma omp for schedule(static) nowait
		for (int n = 0; n < N; n++) {
			const float *x = inp + (long)n * C;
			const float *d = dout + (long)n * C;
			float *dx = dinp + (long)n * C;
			const float m = mean[n], r = rstd[n];
			float g_mean = 0.0f, gx_mean = 0.0f;
#pragma omp simd reduction(+ : g_mean, gx_mean)
			for (int c = 0; c < C; c++) {
				const float g = w[c] * d[c];
				g_mean += g;
				gx_mean += g * (x[c] - m) * r;
			}
			g_mean /= C;
			gx_mean /= C;
#pragma omp simd
			for (int c = 0; c < C; c++) {
				const float xhat = (x[c] - m) * r;
				dx[c] += r * (w[c] * d[c] - g_mean - xhat * gx_mean);
			}
		}
		/* dw, db sum over rows: each thread owns a range of columns. */
		const int nt = omp_get_num_threads(), id = omp_get_thread_num();
		const int c0 = (int)((long)C * id / nt), c1 = (int)((long)C * (id + 1) / nt);
		for (int n = 0; n < N; n++) {
			const float *x = inp + (long)n * C;
			const float *d = dout + (long)n * C;
			const float m = mean[n], r = rstd[n];
#pragma omp simd
			for (int c = c0; c < c1; c++) {
				dw[c] += (x[c] - m) * r * d[c];
				db[c] += d[c];
			}
		}
	}
}

/* ---- matmul ----------------------------------------------------------------- */

/* One thread's share of C (M,N) = alpha op(A) op(B) + beta C, row-major:
 * thread id of nt takes a range of rows when M is large, else a range of
 * columns (decode steps have a handful of rows).  Bias, when given, is
 * copied into the slice first and the product added to it. */
static void sgemm_slice(int id, int nt, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M,
                        int N, int K, float alpha, const float *A, int lda, const float *Bm,
                        int ldb, float beta, float *Cm, int ldc, const float *bias)
{
	int m0 = 0, m1 = M, n0 = 0, n1 = N;
	if (M >= 32 * nt) {
		m0 = (int)((long)M * id / nt) & ~7;
		m1 = id == nt - 1 ? M : (int)((long)M * (id + 1) / nt) & ~7;
	} else {
		n0 = (int)((long)N * id / nt) & ~15;
		n1 = id == nt - 1 ? N : (int)((long)N * (id + 1) / nt) & ~15;
	}
	if (m1 <= m0 || n1 <= n0)
		return;
	if (bias) {
		for (int m = m0; m < m1; m++)
			memcpy(Cm + (long)m * ldc + n0, bias + n0, sizeof(float) * (size_t)(n1 - n0));
		beta = 1.0f;
	}
	if (K == 0) {
		if (beta == 0.0f)
			for (int m = m0; m < m1; m++)
				memset(Cm + (long)m * ldc + n0, 0, sizeof(float) * (size_t)(n1 - n0));
		return;
	}
	const float *a = ta == CblasNoTrans ? A + (long)m0 * lda : A + m0;
	const float *bb = tb == CblasNoTrans ? Bm + n0 : Bm + (long)n0 * ldb;
	cblas_sgemm(CblasRowMajor, ta, tb, m1 - m0, n1 - n0, K, alpha, a, lda, bb, ldb, beta,
		    Cm + (long)m0 * ldc + n0, ldc);
}

void strata_nn_matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                              int N, int IC, int OC)
{
	const int prev = strata_nn_blas_enter();
#pragma omp parallel if ((long)N * IC * OC >= PAR_MIN_MACS)
	sgemm_slice(omp_get_thread_num(), omp_get_num_threads(), CblasNoTrans, CblasTrans, N, OC,
		    IC, 1.0f, inp, IC, w, IC, 0.0f, out, OC, bias);
	strata_nn_blas_leave(prev);
}

void strata_nn_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                               const float *inp, const float *w, int N, int IC, int OC)
{
	const int prev = strata_nn_blas_enter();
#pragma omp parallel if ((long)N * IC * OC >= PAR_MIN_MACS)
	{
		const int id = omp_get_thread_num(), nt = omp_get_num_threads();
		/* dinp (N,IC) += dout (N,OC) W (OC,IC) */
		if (dinp)
			sgemm_slice(id, nt, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, w,
				    IC, 1.0f, dinp, IC, NULL);
		/* dw (OC,IC) += dout^T (OC,N) inp (N,IC) */
		sgemm_slice(id, nt, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, inp, IC,
			    1.0f, dw, IC, NULL);
		/* dbias (OC) += sum over rows of dout: threads own column ranges */
		if (dbias) {
			const int o0 = (int)((long)OC * id / nt), o1 = (int)((long)OC * (id + 1) / nt);
			for (int n = 0; n < N; n++) {
				const float *d = dout + (long)n * OC;
#pragma omp simd
				for (int o = o0; o < o1; o++)
					dbias[o] += d[o];
			}
		}
	}
	strata_nn_blas_leave(prev);
}

/* ---- attention ------------------------------------------------------------------- */

void strata_nn_softmax_inplace(float *a, int n)
{
	float mx = a[0];
#pragma omp simd reduction(max : mx)
	for (int j = 0; j < n; j++)
		mx = a[j] > mx ? a[j] : mx;
	float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
	for (int j = 0; j < n; j++) {
		a[j] = exp_fast(a[j] - mx);
		sum += a[j];
	}
	const float inv = 1.0f / sum;
#pragma omp simd
	for (int j = 0; j < n; j++)
		a[j] *= inv;
}

/* Row t of the probabilities: softmax of a[0..t], zero from t+1 to T. */
static void causal_softmax_row(float *a, int t, int T)
{
	strata_nn_softmax_inplace(a, t + 1);
	if (t + 1 < T)
		memset(a + t + 1, 0, sizeof(float) * (size_t)(T - t - 1));
}

/* One (batch, head): scores S = q k^T / sqrt(hs) per causal row block (only
 * columns up to the block's last row), softmax per row, out = P v. */
static void attention_head_forward(float *o, int ldo, float *att, const float *q,
                                   const float *k, const float *v, int ld, int T, int hs)
{
	const float scale = 1.0f / sqrtf((float)hs);
	for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
		const int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
		float *a = att + (long)r0 * T; /* rows r0..r1 of (T,T) */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, hs, scale,
			    q + (long)r0 * ld, ld, k, ld, 0.0f, a, T);
		for (int t = r0; t < r1; t++)
			causal_softmax_row(att + (long)t * T, t, T);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, hs, r1, 1.0f, a, T,
			    v, ld, 0.0f, o + (long)r0 * ldo, ldo);
	}
}

void strata_nn_attention_forward(float *out, float *att, const float *qkv, int B, int T, int C,
                                 int NH)
{
	const int hs = C / NH;
	const int prev = strata_nn_blas_enter();
#pragma omp parallel for schedule(static) if ((long)B * T * T * C >= PAR_MIN_MACS)
	for (int bh = 0; bh < B * NH; bh++) {
		const int b = bh / NH, h = bh % NH;
		const float *q = qkv + (long)b * T * 3 * C + (long)h * hs; /* (T, hs), ld 3C */
		attention_head_forward(out + (long)b * T * C + (long)h * hs, C,
				       att + (long)bh * T * T, q, q + C, q + 2 * C, 3 * C, T, hs);
	}
	strata_nn_blas_leave(prev);
}

/* One (batch, head) backward, with P the probabilities and dS scratch
 * (T,T):  dP = dO v^T;  dS = P (dP - rowsum(P dP)) / sqrt(hs) (softmax
 * backward, scale folded in);  dq += dS k;  dk += dS^T q;  dv += P^T dO.
 * Row blocks for dP and dq (columns up to the block's end), column blocks
 * for dk and dv (rows from the block's start): the upper triangle, zero in
 * P and dS, is skipped except inside the diagonal blocks. */
static void attention_head_backward(float *dq, float *dk, float *dv, float *ds, const float *dO,
                                    int ldo, const float *P, const float *q, const float *k,
                                    const float *v, int ld, int T, int hs)
{
	const float scale = 1.0f / sqrtf((float)hs);
	for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
		const int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
		float *d = ds + (long)r0 * T;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, hs, 1.0f,
			    dO + (long)r0 * ldo, ldo, v, ld, 0.0f, d, T);
		for (int t = r0; t < r1; t++) {
			const float *p = P + (long)t * T;
			float *dst = ds + (long)t * T;
			float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
			for (int j = 0; j <= t; j++)
				dot += p[j] * dst[j];
#pragma omp simd
			for (int j = 0; j <= t; j++)
				dst[j] = p[j] * (dst[j] - dot) * scale;
			if (t + 1 < r1)
				memset(dst + t + 1, 0, sizeof(float) * (size_t)(r1 - t - 1));
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, hs, r1, 1.0f, d, T,
			    k, ld, 1.0f, dq + (long)r0 * ld, ld);
	}
	for (int c0 = 0; c0 < T; c0 += ATT_BLOCK) {
		const int c1 = c0 + ATT_BLOCK < T ? c0 + ATT_BLOCK : T;
		const long off = (long)c0 * T + c0; /* (c0, c0) of a (T,T) */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c1 - c0, hs, T - c0, 1.0f,
			    P + off, T, dO + (long)c0 * ldo, ldo, 1.0f, dv + (long)c0 * ld, ld);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c1 - c0, hs, T - c0, 1.0f,
			    ds + off, T, q + (long)c0 * ld, ld, 1.0f, dk + (long)c0 * ld, ld);
	}
}

void strata_nn_attention_backward_ws(float *dqkv, float *datt, const float *dout,
                                     const float *qkv, const float *att, int B, int T, int C,
                                     int NH)
{
	const int hs = C / NH;
	const int prev = strata_nn_blas_enter();
#pragma omp parallel for schedule(static) if ((long)B * T * T * C >= PAR_MIN_MACS)
	for (int bh = 0; bh < B * NH; bh++) {
		const int b = bh / NH, h = bh % NH;
		const long qoff = (long)b * T * 3 * C + (long)h * hs;
		const float *q = qkv + qoff;
		float *dq = dqkv + qoff;
		attention_head_backward(dq, dq + C, dq + 2 * C, datt + (long)bh * T * T,
					dout + (long)b * T * C + (long)h * hs, C,
					att + (long)bh * T * T, q, q + C, q + 2 * C, 3 * C, T, hs);
	}
	strata_nn_blas_leave(prev);
}

void strata_nn_attention_backward(float *dqkv, const float *dout, const float *qkv,
                                  const float *att, int B, int T, int C, int NH)
{
	float *datt = malloc(sizeof(float) * (size_t)B * NH * T * T);
	if (!datt)
		abort(); /* no error channel in this signature; gpt.c uses the _ws form */
	strata_nn_attention_backward_ws(dqkv, datt, dout, qkv, att, B, T, C, NH);
	free(datt);
}

/* ---- GELU -------------------------------------------------------------------------- */

#define GELU_K 0.7978845608028654f /* sqrt(2 / pi) */
#define GELU_A 0.044715f

/* gelu(x) = x/2 (1 + tanh(k (x + a x^3))) (Hendrycks & Gimpel 2016, eq. for
 * the tanh approximation); its derivative
 * 1/2 (1 + th) + x/2 (1 - th^2) k (1 + 3 a x^2). */
void strata_nn_gelu_forward(float *out, const float *inp, long N)
{
#pragma omp parallel for simd schedule(static) if (parallel : N >= PAR_MIN_ELEMS)
	for (long i = 0; i < N; i++) {
		const float x = inp[i];
		out[i] = 0.5f * x * (1.0f + tanh_fast(GELU_K * (x + GELU_A * x * x * x)));
	}
}

void strata_nn_gelu_backward(float *dinp, const float *inp, const float *dout, long N)
{
#pragma omp parallel for simd schedule(static) if (parallel : N >= PAR_MIN_ELEMS)
	for (long i = 0; i < N; i++) {
		const float x = inp[i];
		const float th = tanh_fast(GELU_K * (x + GELU_A * x * x * x));
		const float dgelu = 0.5f * (1.0f + th) +
				    0.5f * x * (1.0f - th * th) * GELU_K * (1.0f + 3.0f * GELU_A * x * x);
		dinp[i] += dgelu * dout[i];
	}
}

/* ---- residual ------------------------------------------------------------------------ */

void strata_nn_residual_forward(float *out, const float *a, const float *b, long N)
{
#pragma omp parallel for simd schedule(static) if (parallel : N >= PAR_MIN_ELEMS)
	for (long i = 0; i < N; i++)
		out[i] = a[i] + b[i];
}

void strata_nn_residual_backward(float *da, float *db, const float *dout, long N)
{
#pragma omp parallel for simd schedule(static) if (parallel : N >= PAR_MIN_ELEMS)
	for (long i = 0; i < N; i++) {
		da[i] += dout[i];
		db[i] += dout[i];
	}
}

/* ---- softmax cross-entropy --------------------------------------------------------- */

/* loss = -log softmax(z)[y] = log sum exp(z - max) - (z[y] - max): the
 * log-sum-exp form, finite even where the probability underflows. */
void strata_nn_softmax_xent_forward(float *probs, float *losses, const float *logits,
                                    const int *targets, int N, int V)
{
#pragma omp parallel for schedule(static) if ((long)N * V >= PAR_MIN_ELEMS)
	for (int n = 0; n < N; n++) {
		const float *z = logits + (long)n * V;
		float *p = probs + (long)n * V;
		float mx = z[0];
#pragma omp simd reduction(max : mx)
		for (int i = 0; i < V; i++)
			mx = z[i] > mx ? z[i] : mx;
		float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
		for (int i = 0; i < V; i++) {
			p[i] = exp_fast(z[i] - mx);
			sum += p[i];
		}
		const float inv = 1.0f / sum;
#pragma omp simd
		for (int i = 0; i < V; i++)
			p[i] *= inv;
		if (losses && targets)
			losses[n] = logf(sum) - (z[targets[n]] - mx);
	}
}

void strata_nn_softmax_xent_backward(float *dlogits, const float *probs, const int *targets,
                                     const float *dlosses, int N, int V)
{
#pragma omp parallel for schedule(static) if ((long)N * V >= PAR_MIN_ELEMS)
	for (int n = 0; n < N; n++) {
		const float *p = probs + (long)n * V;
		float *d = dlogits + (long)n * V;
		const float dl = dlosses[n];
#pragma omp simd
		for (int i = 0; i < V; i++)
			d[i] += p[i] * dl;
		d[targets[n]] -= dl;
	}
}
