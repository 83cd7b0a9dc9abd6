/* mock_cuda.c: a host-only stand-in for the cudart, cuBLAS and cuBLASLt
 * calls that kernels/cuda/gpt_cuda.c and gpt_cuda_infer.c make, and C copies
 * of the kernel launchers of gpt_cuda_kernels.h, so that the CUDA
 * transformer's host code (GEMM operands, transposes, leading dimensions,
 * batch strides, buffer offsets, grads-ready ranges, the bias-epilogue
 * fallback) runs and is checked against the CPU model on a machine without a
 * GPU: tests/unit/test_gpt_cuda.c linked with these instead of the CUDA
 * libraries is the ctest test_gpt_cuda_mock (tests/CMakeLists.txt).
 *
 * What it is: "device" memory is host memory, allocated at its exact size and
 * filled with NaN bytes (so ASan catches a product that reads past a buffer
 * and a read of unset memory shows up as NaN); cuBLASLt descriptors are
 * recorded and every product checks that its layouts chain (op(A) m x k,
 * op(B) k x n, D m x n, leading dimensions >= rows) and that a bias epilogue's
 * bias is 16-byte aligned; the KV attention launch fails beyond the
 * kernel's shared memory limit, as on a GPU without an opt-in; BF16 is rounded to
 * nearest even as the GPU rounds it, so the errors against the FP32 CPU
 * model are those of the real backend up to summation order.  With
 * MOCK_NO_BIAS_EPILOGUE set the heuristic refuses every bias epilogue (the
 * fallback path).  What it is not: a test of the CUDA kernels themselves
 * (gpt_cuda_kernels.cu; these are C copies of their arithmetic), of
 * concurrency, or of cuBLASLt's algorithm choice; a GPU run of
 * test_gpt_cuda is.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "kernels/cuda/gpt_cuda_kernels.h"

static size_t allocated;
static int n_bias_epilogues, n_lt, n_batched, n_fallback_refusals, n_heur;

static uint16_t f2bf(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

static float bf2f(uint16_t b)
{
	uint32_t u = (uint32_t)b << 16;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

/* ---- cudart --------------------------------------------------------------- */

cudaError_t cudaMalloc(void **p, size_t bytes)
{
	if (posix_memalign(p, 256, bytes ? bytes : 1) != 0)
		return cudaErrorMemoryAllocation;
	/* garbage, as a GPU would give: NaN bytes */
	memset(*p, 0xff, bytes);
	allocated += bytes;
	return cudaSuccess;
}
cudaError_t cudaFree(void *p)
{
	free(p);
	return cudaSuccess;
}
cudaError_t cudaMallocHost(void **p, size_t bytes)
{
	*p = malloc(bytes ? bytes : 1);
	return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFreeHost(void *p)
{
	free(p);
	return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, enum cudaMemcpyKind k, cudaStream_t st)
{
	(void)k;
	(void)st;
	memcpy(d, s, n);
	return cudaSuccess;
}
cudaError_t cudaMemcpy2DAsync(void *d, size_t dp, const void *s, size_t sp, size_t w, size_t h,
			      enum cudaMemcpyKind k, cudaStream_t st)
{
	(void)k;
	(void)st;
	if (w > dp || w > sp)
		return cudaErrorInvalidPitchValue;
	for (size_t r = 0; r < h; r++)
		memcpy((char *)d + r * dp, (const char *)s + r * sp, w);
	return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t st)
{
	(void)st;
	memset(d, v, n);
	return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned int f)
{
	(void)f;
	*s = (cudaStream_t)malloc(8);
	return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s)
{
	free(s);
	return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s)
{
	(void)s;
	return cudaSuccess;
}
const char *cudaGetErrorName(cudaError_t e)
{
	(void)e;
	return "mockError";
}
const char *cudaGetErrorString(cudaError_t e)
{
	(void)e;
	return "mock error";
}
cudaError_t cudaGetLastError(void)
{
	return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t *f, size_t *t)
{
	*t = (size_t)80 << 30;
	*f = *t - allocated - ((size_t)500 << 20);
	return cudaSuccess;
}

/* ---- GEMM ----------------------------------------------------------------- */

static float ld_elem(const void *p, cudaDataType t, long i)
{
	return t == CUDA_R_16BF ? bf2f(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

static void st_elem(void *p, cudaDataType t, long i, float v)
{
	if (t == CUDA_R_16BF)
		((uint16_t *)p)[i] = f2bf(v);
	else
		((float *)p)[i] = v;
}

static void die(const char *what)
{
	fprintf(stderr, "MOCK: %s\n", what);
	abort();
}

/* column-major D (m,n) = alpha op(A) op(B) + beta D + bias */
static void gemm(int ta, int tb, int m, int n, int k, float alpha, const void *A, cudaDataType at,
		 long lda, const void *B, cudaDataType bt, long ldb, float beta, void *D,
		 cudaDataType dt, long ldd, const uint16_t *bias)
{
	if (lda < (ta ? k : m) || ldb < (tb ? n : k) || ldd < m)
		die("leading dimension smaller than the rows");
	for (int j = 0; j < n; j++) {
		for (int i = 0; i < m; i++) {
			float acc = 0.0f;
			for (int p = 0; p < k; p++) {
				const float a = ld_elem(A, at, ta ? p + (long)i * lda : i + (long)p * lda);
				const float b = ld_elem(B, bt, tb ? j + (long)p * ldb : p + (long)j * ldb);
				acc += a * b;
			}
			float v = alpha * acc;
			if (beta != 0.0f)
				v += beta * ld_elem(D, dt, i + (long)j * ldd);
			if (bias)
				v += bf2f(bias[i]);
			st_elem(D, dt, i + (long)j * ldd, v);
		}
	}
}

struct mdesc {
	int ta, tb, epi;
	const void *bias;
	int bias_type;
};
struct mlayout {
	cudaDataType t;
	uint64_t rows, cols;
	int64_t ld;
};

cublasStatus_t cublasLtCreate(cublasLtHandle_t *h)
{
	*h = (cublasLtHandle_t)malloc(8);
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t h)
{
	free(h);
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d, cublasComputeType_t c,
					cudaDataType_t s)
{
	if (c != CUBLAS_COMPUTE_32F || s != CUDA_R_32F)
		die("compute/scale type");
	*d = (cublasLtMatmulDesc_t)calloc(1, sizeof(struct mdesc));
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d)
{
	free(d);
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d,
					      cublasLtMatmulDescAttributes_t a, const void *buf,
					      size_t size)
{
	struct mdesc *m = (struct mdesc *)d;
	int32_t v = 0;
	if (size == 4)
		memcpy(&v, buf, 4);
	switch (a) {
	case CUBLASLT_MATMUL_DESC_TRANSA: m->ta = v == CUBLAS_OP_T; break;
	case CUBLASLT_MATMUL_DESC_TRANSB: m->tb = v == CUBLAS_OP_T; break;
	case CUBLASLT_MATMUL_DESC_EPILOGUE: m->epi = v; break;
	case CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE: m->bias_type = v; break;
	case CUBLASLT_MATMUL_DESC_BIAS_POINTER:
		if (size != sizeof(void *))
			die("bias pointer size");
		memcpy(&m->bias, buf, sizeof(void *));
		break;
	default: die("desc attribute");
	}
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType t, uint64_t rows,
					  uint64_t cols, int64_t ld)
{
	struct mlayout *m = calloc(1, sizeof(*m));
	m->t = t;
	m->rows = rows;
	m->cols = cols;
	m->ld = ld;
	if (ld < (int64_t)rows)
		return CUBLAS_STATUS_INVALID_VALUE;
	*l = (cublasLtMatrixLayout_t)m;
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l)
{
	free(l);
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p)
{
	*p = (cublasLtMatmulPreference_t)malloc(8);
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p)
{
	free(p);
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
						    cublasLtMatmulPreferenceAttributes_t a,
						    const void *buf, size_t size)
{
	(void)p;
	(void)buf;
	if (a == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES && size != 8)
		die("workspace attr size");
	if (a != CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES && size != 4)
		die("alignment attr size");
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t op,
					      cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
					      cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
					      cublasLtMatmulPreference_t pref, int req,
					      cublasLtMatmulHeuristicResult_t *res, int *ret)
{
	(void)h;
	(void)a;
	(void)b;
	(void)c;
	(void)d;
	(void)pref;
	(void)req;
	struct mdesc *m = (struct mdesc *)op;
	n_heur++;
	memset(res, 0, sizeof(*res));
	if (m->bias && getenv("MOCK_NO_BIAS_EPILOGUE")) {
		n_fallback_refusals++;
		*ret = 0;
		return CUBLAS_STATUS_SUCCESS;
	}
	*ret = 1;
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t op, const void *alpha,
			      const void *A, cublasLtMatrixLayout_t la, const void *B,
			      cublasLtMatrixLayout_t lb, const void *beta, const void *C,
			      cublasLtMatrixLayout_t lc, void *D, cublasLtMatrixLayout_t ld,
			      const cublasLtMatmulAlgo_t *algo, void *ws, size_t wsb,
			      cudaStream_t s)
{
	(void)h;
	(void)algo;
	(void)ws;
	(void)wsb;
	(void)s;
	const struct mdesc *m = (const struct mdesc *)op;
	const struct mlayout *a = (const struct mlayout *)la, *b = (const struct mlayout *)lb;
	const struct mlayout *c = (const struct mlayout *)lc, *d = (const struct mlayout *)ld;
	if (C != D || c->rows != d->rows || c->cols != d->cols || c->ld != d->ld || c->t != d->t)
		die("C != D");
	const int M = (int)d->rows, N = (int)d->cols;
	const int K = (int)(m->ta ? a->rows : a->cols);
	if ((int)(m->ta ? a->cols : a->rows) != M || (int)(m->tb ? b->rows : b->cols) != N ||
	    (int)(m->tb ? b->cols : b->rows) != K)
		die("Lt shapes do not chain");
	if (a->t != CUDA_R_16BF || b->t != CUDA_R_16BF)
		die("A/B not bf16");
	if (m->epi == CUBLASLT_EPILOGUE_BIAS) {
		if (!m->bias || m->bias_type != CUDA_R_16BF || d->t != CUDA_R_16BF)
			die("bias epilogue setup");
		/* No preference states the bias's alignment, and an epilogue may
		 * load it 16 bytes at a time: a GPU can fault on anything less. */
		if ((uintptr_t)m->bias % 16 != 0)
			die("bias epilogue with a bias that is not 16-byte aligned");
		n_bias_epilogues++;
	} else if (m->epi != 0) {
		die("epilogue");
	}
	n_lt++;
	gemm(m->ta, m->tb, M, N, K, *(const float *)alpha, A, a->t, a->ld, B, b->t, b->ld,
	     *(const float *)beta, D, d->t, d->ld, m->epi ? (const uint16_t *)m->bias : NULL);
	return CUBLAS_STATUS_SUCCESS;
}
const char *cublasGetStatusString(cublasStatus_t s)
{
	(void)s;
	return "mock cublas status";
}
cublasStatus_t cublasCreate_v2(cublasHandle_t *h)
{
	*h = (cublasHandle_t)malloc(8);
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy_v2(cublasHandle_t h)
{
	free(h);
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream_v2(cublasHandle_t h, cudaStream_t s)
{
	(void)h;
	(void)s;
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t ta,
					  cublasOperation_t tb, int m, int n, int k,
					  const void *alpha, const void *A, cudaDataType at, int lda,
					  long long sa, const void *B, cudaDataType bt, int ldb,
					  long long sb, const void *beta, void *C, cudaDataType ct,
					  int ldc, long long sc, int batch, cublasComputeType_t comp,
					  cublasGemmAlgo_t algo)
{
	(void)h;
	(void)algo;
	if (comp != CUBLAS_COMPUTE_32F || at != CUDA_R_16BF || bt != CUDA_R_16BF)
		die("batched types");
	if (*(const float *)beta != 0.0f)
		die("batched beta");
	n_batched++;
	const size_t ea = 2, eb = 2, ec = ct == CUDA_R_16BF ? 2 : 4;
	for (int i = 0; i < batch; i++)
		gemm(ta == CUBLAS_OP_T, tb == CUBLAS_OP_T, m, n, k, *(const float *)alpha,
		     (const char *)A + (size_t)(i * sa) * ea, at, lda,
		     (const char *)B + (size_t)(i * sb) * eb, bt, ldb, 0.0f,
		     (char *)C + (size_t)(i * sc) * ec, ct, ldc, NULL);
	return CUBLAS_STATUS_SUCCESS;
}

static void mock_report(void)
{
	fprintf(stderr, "MOCK: %d heuristic calls, %d Lt matmuls (%d with the bias epilogue, %d refused), %d batched\n",
		n_heur, n_lt, n_bias_epilogues, n_fallback_refusals, n_batched);
}

/* ---- kernels: C copies of gpt_cuda_kernels.cu's arithmetic ----------------- */

typedef strata_bf16 bf;

int strata_gptk_encoder_forward(float *out, const int *inp, const int *pos, const float *wte,
				const float *wpe, int N, int T, int C, void *s)
{
	(void)s;
	for (long n = 0; n < N; n++)
		for (int c = 0; c < C; c++)
			out[n * C + c] = wte[(long)inp[n] * C + c] + wpe[(long)(pos ? pos[n] : n % T) * C + c];
	return 0;
}
int strata_gptk_encoder_backward(float *dwte, float *dwpe, const float *dout, const int *inp,
				 int B, int T, int C, void *s)
{
	(void)s;
	for (long n = 0; n < (long)B * T; n++)
		for (int c = 0; c < C; c++)
			dwte[(long)inp[n] * C + c] += dout[n * C + c];
	for (long i = 0; i < (long)T * C; i++) {
		float a = 0;
		for (int b = 0; b < B; b++)
			a += dout[(long)b * T * C + i];
		dwpe[i] += a;
	}
	return 0;
}
int strata_gptk_layernorm_forward(bf *out, float *mean, float *rstd, const float *inp,
				  const float *w, const float *b, int N, int C, void *s)
{
	(void)s;
	for (long n = 0; n < N; n++) {
		const float *x = inp + n * C;
		float sm = 0, v = 0;
		for (int c = 0; c < C; c++)
			sm += x[c];
		const float m = sm / C;
		for (int c = 0; c < C; c++)
			v += (x[c] - m) * (x[c] - m);
		const float r = 1.0f / sqrtf(v / C + 1e-5f);
		for (int c = 0; c < C; c++)
			out[n * C + c] = f2bf((x[c] - m) * r * w[c] + b[c]);
		if (mean)
			mean[n] = m;
		if (rstd)
			rstd[n] = r;
	}
	return 0;
}
int strata_gptk_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
				   const float *inp, const float *w, const float *mean,
				   const float *rstd, int N, int C, void *s)
{
	(void)s;
	for (long n = 0; n < N; n++) {
		const float *x = inp + n * C, *dy = dout + n * C;
		const float m = mean[n], r = rstd[n];
		float s1 = 0, s2 = 0;
		for (int c = 0; c < C; c++) {
			s1 += dy[c] * w[c];
			s2 += dy[c] * w[c] * (x[c] - m) * r;
		}
		s1 /= C;
		s2 /= C;
		for (int c = 0; c < C; c++) {
			const float xh = (x[c] - m) * r;
			dinp[n * C + c] += r * (dy[c] * w[c] - s1 - xh * s2);
			dw[c] += dy[c] * xh;
			db[c] += dy[c];
		}
	}
	return 0;
}
int strata_gptk_bias_grad_f32(float *dbias, const float *dout, int N, int OC, void *s)
{
	(void)s;
	for (long n = 0; n < N; n++)
		for (int c = 0; c < OC; c++)
			dbias[c] += dout[n * OC + c];
	return 0;
}
int strata_gptk_bias_grad_bf16(float *dbias, const bf *dout, int N, int OC, void *s)
{
	(void)s;
	for (long n = 0; n < N; n++)
		for (int c = 0; c < OC; c++)
			dbias[c] += bf2f(dout[n * OC + c]);
	return 0;
}
int strata_gptk_add_bias(bf *out, const bf *bias, int N, int OC, int ld, void *s)
{
	(void)s;
	for (long n = 0; n < N; n++)
		for (int c = 0; c < OC; c++)
			out[n * ld + c] = f2bf(bf2f(out[n * ld + c]) + bf2f(bias[c]));
	return 0;
}
int strata_gptk_residual_forward(float *out, const float *a, const bf *b, long n, void *s)
{
	(void)s;
	for (long i = 0; i < n; i++)
		out[i] = a[i] + bf2f(b[i]);
	return 0;
}
#define GK 0.7978845608028654f
#define GA 0.044715f
int strata_gptk_gelu_forward(bf *out, const bf *inp, long n, void *s)
{
	(void)s;
	for (long i = 0; i < n; i++) {
		const float x = bf2f(inp[i]);
		out[i] = f2bf(0.5f * x * (1.0f + tanhf(GK * (x + GA * x * x * x))));
	}
	return 0;
}
int strata_gptk_gelu_backward(bf *dinp, const bf *inp, const float *dout, long n, void *s)
{
	(void)s;
	for (long i = 0; i < n; i++) {
		const float x = bf2f(inp[i]);
		const float th = tanhf(GK * (x + GA * x * x * x));
		const float g = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * GK * (1.0f + 3.0f * GA * x * x);
		dinp[i] = f2bf(g * dout[i]);
	}
	return 0;
}
int strata_gptk_f32_to_bf16(bf *out, const float *in, long n, void *s)
{
	(void)s;
	for (long i = 0; i < n; i++)
		out[i] = f2bf(in[i]);
	return 0;
}
int strata_gptk_bf16_to_f32(float *out, const bf *in, long n, void *s)
{
	(void)s;
	for (long i = 0; i < n; i++)
		out[i] = bf2f(in[i]);
	return 0;
}
static long btc(long i, int T, int NH, int hs, long stride)
{
	const long d = i % hs, t = (i / hs) % T, h = (i / ((long)hs * T)) % NH,
		   b = i / ((long)hs * T * NH);
	return (b * T + t) * stride + h * hs + d;
}
int strata_gptk_permute_qkv(bf *q, bf *k, bf *v, const bf *qkv, int B, int T, int NH, int hs,
			    void *s)
{
	(void)s;
	const long C = (long)NH * hs;
	for (long i = 0; i < (long)B * T * C; i++) {
		const long src = btc(i, T, NH, hs, 3 * C);
		q[i] = qkv[src];
		k[i] = qkv[src + C];
		v[i] = qkv[src + 2 * C];
	}
	return 0;
}
int strata_gptk_unpermute(bf *out, const bf *y, int B, int T, int NH, int hs, void *s)
{
	(void)s;
	const long C = (long)NH * hs;
	for (long i = 0; i < (long)B * T * C; i++)
		out[btc(i, T, NH, hs, C)] = y[i];
	return 0;
}
int strata_gptk_permute_dout(bf *dy, const float *dout, int B, int T, int NH, int hs, void *s)
{
	(void)s;
	const long C = (long)NH * hs;
	for (long i = 0; i < (long)B * T * C; i++)
		dy[i] = f2bf(dout[btc(i, T, NH, hs, C)]);
	return 0;
}
int strata_gptk_unpermute_dqkv(bf *dqkv, const float *dq, const float *dk, const float *dv,
			       int B, int T, int NH, int hs, void *s)
{
	(void)s;
	const long C = (long)NH * hs;
	for (long i = 0; i < (long)B * T * C; i++) {
		const long d = btc(i, T, NH, hs, 3 * C);
		dqkv[d] = f2bf(dq[i]);
		dqkv[d + C] = f2bf(dk[i]);
		dqkv[d + 2 * C] = f2bf(dv[i]);
	}
	return 0;
}
int strata_gptk_attn_softmax_forward(bf *att, const float *pre, long rows, int T, void *s)
{
	(void)s;
	for (long r = 0; r < rows; r++) {
		const int t = (int)(r % T);
		const float *p = pre + r * T;
		float mx = -INFINITY, sm = 0;
		for (int j = 0; j <= t; j++)
			mx = fmaxf(mx, p[j]);
		for (int j = 0; j <= t; j++)
			sm += expf(p[j] - mx);
		for (int j = 0; j < T; j++)
			att[r * T + j] = f2bf(j <= t ? expf(p[j] - mx) / sm : 0.0f);
	}
	return 0;
}
int strata_gptk_attn_softmax_backward(bf *dpre, const bf *att, const float *datt, long rows, int T,
				      void *s)
{
	(void)s;
	for (long r = 0; r < rows; r++) {
		const int t = (int)(r % T);
		float sm = 0;
		for (int j = 0; j <= t; j++)
			sm += bf2f(att[r * T + j]) * datt[r * T + j];
		for (int j = 0; j < T; j++)
			dpre[r * T + j] = f2bf(j <= t ? bf2f(att[r * T + j]) * (datt[r * T + j] - sm) : 0.0f);
	}
	return 0;
}
int strata_gptk_xent_forward(float *losses, const bf *logits, const int *tg, int N, int V, int ld,
			     void *s)
{
	(void)s;
	for (long n = 0; n < N; n++) {
		const bf *x = logits + n * ld;
		float mx = -INFINITY, sm = 0;
		for (int v = 0; v < V; v++)
			mx = fmaxf(mx, bf2f(x[v]));
		for (int v = 0; v < V; v++)
			sm += expf(bf2f(x[v]) - mx);
		losses[n] = logf(sm) + mx - bf2f(x[tg[n]]);
	}
	return 0;
}
int strata_gptk_xent_backward(bf *logits, const int *tg, float dloss, int N, int V, int ld, void *s)
{
	(void)s;
	for (long n = 0; n < N; n++) {
		bf *x = logits + n * ld;
		float mx = -INFINITY, sm = 0;
		for (int v = 0; v < V; v++)
			mx = fmaxf(mx, bf2f(x[v]));
		for (int v = 0; v < V; v++)
			sm += expf(bf2f(x[v]) - mx);
		for (int v = 0; v < V; v++)
			x[v] = f2bf((expf(bf2f(x[v]) - mx) / sm - (v == tg[n])) * dloss);
	}
	return 0;
}
int strata_gptk_adamw(float *p, bf *p16, const float *grad, float *m, float *v, long n, float lr,
		      float b1, float b2, float c1, float c2, float eps, float wd, float gs, void *s)
{
	(void)s;
	for (long i = 0; i < n; i++) {
		const float g = grad[i] * gs;
		const float mi = b1 * m[i] + (1.0f - b1) * g;
		const float vi = b2 * v[i] + (1.0f - b2) * g * g;
		m[i] = mi;
		v[i] = vi;
		const float up = (mi * c1) / (sqrtf(vi * c2) + eps);
		p[i] = p[i] - lr * (up + wd * p[i]);
		p16[i] = f2bf(p[i]);
	}
	return 0;
}
int strata_gptk_kv_store(bf *kc, bf *vc, const bf *qkv, const int *slot, const int *pos, int n,
			 int C, int max_len, void *s)
{
	(void)s;
	for (long r = 0; r < n; r++) {
		if (pos[r] >= max_len)
			die("kv position beyond max_len");
		for (int c = 0; c < C; c++) {
			const long d = ((long)slot[r] * max_len + pos[r]) * C + c;
			kc[d] = qkv[r * 3 * C + C + c];
			vc[d] = qkv[r * 3 * C + 2 * C + c];
		}
	}
	return 0;
}
/* kv_attention_kernel's cudaFuncAttributes::maxDynamicSharedSizeBytes
 * without an opt-in: 48 KiB less its static shared memory, 144 bytes for
 * buf[33] as ptxas -v reports it for sm_80 and sm_90 (132 rounded up) */
#define KV_ATTENTION_MAX_DYNAMIC_SHMEM (48 * 1024 - 144)
int strata_gptk_kv_attention_max_len(int *max_len)
{
	*max_len = KV_ATTENTION_MAX_DYNAMIC_SHMEM / (int)sizeof(float);
	return 0;
}
int strata_gptk_kv_attention(bf *out, const bf *qkv, const bf *kc, const bf *vc, const int *slot,
			     const int *pos, int n, int C, int NH, int max_len, void *s)
{
	(void)s;
	const int hs = C / NH;
	/* the launch fails beyond the kernel's dynamic shared memory limit */
	if ((size_t)max_len * sizeof(float) > KV_ATTENTION_MAX_DYNAMIC_SHMEM)
		return cudaErrorInvalidValue;
	float *sc = malloc((size_t)max_len * sizeof(float));
	for (int r = 0; r < n; r++) {
		for (int h = 0; h < NH; h++) {
			const int len = pos[r] + 1;
			const bf *q = qkv + (long)r * 3 * C + h * hs;
			const bf *kb = kc + (long)slot[r] * max_len * C + h * hs;
			const bf *vb = vc + (long)slot[r] * max_len * C + h * hs;
			float mx = -INFINITY, sm = 0;
			for (int j = 0; j < len; j++) {
				float a = 0;
				for (int d = 0; d < hs; d++)
					a += bf2f(q[d]) * bf2f(kb[(long)j * C + d]);
				sc[j] = a / sqrtf((float)hs);
				mx = fmaxf(mx, sc[j]);
			}
			for (int j = 0; j < len; j++) {
				sc[j] = expf(sc[j] - mx);
				sm += sc[j];
			}
			for (int d = 0; d < hs; d++) {
				float a = 0;
				for (int j = 0; j < len; j++)
					a += sc[j] * bf2f(vb[(long)j * C + d]);
				out[(long)r * C + h * hs + d] = f2bf(a / sm);
			}
		}
	}
	free(sc);
	return 0;
}
__attribute__((destructor)) static void report_at_exit(void)
{
	mock_report();
}
