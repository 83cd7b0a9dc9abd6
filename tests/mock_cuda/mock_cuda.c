/* mock_cuda.c: a host-only stand-in for the cudart, cuBLAS and cuBLASLt
 * calls that kernels/cuda/gpt_cuda.c and gpt_cuda_infer.c make, and C copies
 * of the kernel launchers of gpt_cuda_kernels.h, so that the CUDA
 * transformer's host code (GEMM operands, transposes, leading dimensions,
 * batch strides, buffer offsets, grads-ready ranges, the bias-epilogue
 * fallback) runs and is checked against the CPU model on a machine without a
 * GPU: tests/unit/test_gpt_cuda.c linked with these instead of the CUDA
 * libraries is the ctest test_gpt_cuda_mock (tests/CMakeLists.txt).  The
 * cuBLASLt part also serves kernels/cuda/gemm_cuda.c (the gemm suite, through
 * strata_mock_cuda and gemm_suite.sh): every type of cuBLASLt's table of
 * supported combinations that strata uses (64F in double, 32F, TF32 with its
 * inputs rounded to 10 fraction bits, FP16, BF16, FP8 E4M3 with BF16 C/D and
 * FP8's TN, multiple-of-16 and sm_89 rules), answered CUBLAS_STATUS_NOT_
 * SUPPORTED otherwise; a heuristic with three candidates distinct in every
 * CUBLASLT_ALGO_CONFIG_* (the split-K one sums K in four chunks) within the
 * preference's workspace; MOCK_GEMM_CORRUPT, MOCK_GEMM_FAIL_ALGO and
 * MOCK_GEMM_STALE_AFTER inject a wrong (or NaN) element, failing algorithms
 * and products that write nothing.
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
	(void)st; /* every stream runs at once: the synchronous copy (mock_device.c) */
	return cudaMemcpy2D(d, dp, s, sp, w, h, k);
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

/* Element conversions, shared with mock_gemm.c's fill (so the stand-in's
 * inputs and outputs round the same way): every type goes through float
 * first except FP64, as the CUDA conversions of gemm_cuda_fill.cu do. */
double mock_gemm_load(const void *p, cudaDataType t, long i);
void mock_gemm_store(void *p, cudaDataType t, long i, double v);

/* float to IEEE binary16, round to nearest even (__float2half_rn). */
static uint16_t f2h(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
	const uint32_t a = u & 0x7fffffffu;
	if (a > 0x7f800000u)
		return sign | 0x7e00u;
	if (a >= 0x477ff000u) /* >= 65520: past half-way from 65504 to 2^16 */
		return sign | 0x7c00u;
	if (a < 0x38800000u) { /* below 2^-14: subnormal, units of 2^-24 (exact product) */
		float v;
		memcpy(&v, &a, 4);
		return sign | (uint16_t)lrintf(v * 0x1p24f);
	}
	uint32_t r = a - (112u << 23); /* rebias 127 -> 15 */
	r += 0xfffu + ((r >> 13) & 1u);
	return sign | (uint16_t)(r >> 13);
}

static float h2f(uint16_t h)
{
	const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
	float v = e == 0 ? ldexpf((float)m, -24)
		  : e == 31 ? (m ? NAN : INFINITY) : ldexpf((float)(m | 0x400), e - 25);
	return h & 0x8000u ? -v : v;
}

/* float to FP8 E4M3 (bias 7, no infinities, 0x7f NaN, max 448), round to
 * nearest even, saturating like __nv_fp8_e4m3(float) (__NV_SATFINITE). */
static uint8_t f2e4m3(float f)
{
	if (isnan(f))
		return 0x7f;
	const uint8_t sign = signbit(f) ? 0x80 : 0;
	const float a = fabsf(f);
	if (a == 0.0f)
		return sign;
	if (a >= 448.0f)
		return sign | 0x7e;
	int e2;
	frexpf(a, &e2);
	int e = e2 - 1 < -6 ? -6 : e2 - 1;            /* a = 1.x 2^e, or subnormal */
	int n = (int)rintf(ldexpf(a, 3 - e));         /* significand in units of 2^(e-3) */
	if (n == 16) {
		n = 8;
		e++;
	}
	if (n < 8) /* subnormal (e == -6) */
		return sign | (uint8_t)n;
	if (e + 7 > 15 || (e + 7 == 15 && n - 8 == 7))
		return sign | 0x7e;
	return sign | (uint8_t)(((e + 7) << 3) | (n - 8));
}

static float e4m32f(uint8_t b)
{
	const int e = (b >> 3) & 0xf, m = b & 7;
	float v = e == 0 ? ldexpf((float)m, -9)
		  : (e == 15 && m == 7) ? NAN : ldexpf((float)(m | 8), e - 10);
	return b & 0x80 ? -v : v;
}

static float e5m22f(uint8_t b)
{
	return h2f((uint16_t)(b << 8)); /* E5M2 is the top byte of a binary16 */
}

double mock_gemm_load(const void *p, cudaDataType t, long i)
{
	switch (t) {
	case CUDA_R_64F: return ((const double *)p)[i];
	case CUDA_R_32F: return ((const float *)p)[i];
	case CUDA_R_16F: return h2f(((const uint16_t *)p)[i]);
	case CUDA_R_16BF: return bf2f(((const uint16_t *)p)[i]);
	case CUDA_R_8F_E4M3: return e4m32f(((const uint8_t *)p)[i]);
	case CUDA_R_8F_E5M2: return e5m22f(((const uint8_t *)p)[i]);
	default: fprintf(stderr, "MOCK: load of data type %d\n", (int)t); abort();
	}
}

void mock_gemm_store(void *p, cudaDataType t, long i, double v)
{
	switch (t) {
	case CUDA_R_64F: ((double *)p)[i] = v; break;
	case CUDA_R_32F: ((float *)p)[i] = (float)v; break;
	case CUDA_R_16F: ((uint16_t *)p)[i] = f2h((float)v); break;
	case CUDA_R_16BF: ((uint16_t *)p)[i] = f2bf((float)v); break;
	case CUDA_R_8F_E4M3: ((uint8_t *)p)[i] = f2e4m3((float)v); break;
	default: fprintf(stderr, "MOCK: store of data type %d\n", (int)t); abort();
	}
}

static void die(const char *what)
{
	fprintf(stderr, "MOCK: %s\n", what);
	abort();
}

/* float to TF32 as the tensor cores read it (cvt.rna.tf32.f32: 10 fraction
 * bits, nearest, ties away from zero). */
static float to_tf32(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	if ((u & 0x7f800000u) != 0x7f800000u)
		u = (u + 0x1000u) & 0xffffe000u;
	memcpy(&f, &u, 4);
	return f;
}

enum acc_kind { ACC_F32, ACC_TF32, ACC_F64 };

struct gemm_call {
	int ta, tb, m, n, k;
	enum acc_kind acc;
	int splitk;           /* K in this many chunks, summed at the end (split-K) */
	double alpha, beta;
	const void *A, *B;
	cudaDataType at, bt, dt;
	long lda, ldb, ldd;
	void *D;
	const uint16_t *bias; /* bf16, per row of D, or NULL */
};

/* column-major D (m,n) = alpha op(A) op(B) + beta D + bias.  op(A)'s rows and
 * op(B)'s columns are unpacked once, so the inner loop is a plain dot product
 * in the compute type (float, or double for 64F). */
static void gemm(const struct gemm_call *g)
{
	const int m = g->m, n = g->n, k = g->k;
	if (g->lda < (g->ta ? k : m) || g->ldb < (g->tb ? n : k) || g->ldd < m)
		die("leading dimension smaller than the rows");
	const size_t elems = ((size_t)m + (size_t)n) * (size_t)(k ? k : 1);
	double *ad = malloc(elems * sizeof(double));
	float *af = malloc(elems * sizeof(float));
	if (!ad || !af)
		die("out of memory");
	double *bd = ad + (size_t)m * (size_t)k;
	float *bf_ = af + (size_t)m * (size_t)k;
	for (int i = 0; i < m; i++)
		for (int p = 0; p < k; p++)
			ad[(size_t)i * k + p] = mock_gemm_load(g->A, g->at, g->ta ? p + (long)i * g->lda
									   : i + (long)p * g->lda);
	for (int j = 0; j < n; j++)
		for (int p = 0; p < k; p++)
			bd[(size_t)j * k + p] = mock_gemm_load(g->B, g->bt, g->tb ? j + (long)p * g->ldb
									   : p + (long)j * g->ldb);
	if (g->acc != ACC_F64) {
		for (size_t x = 0; x < (size_t)m * k; x++)
			af[x] = g->acc == ACC_TF32 ? to_tf32((float)ad[x]) : (float)ad[x];
		for (size_t x = 0; x < (size_t)n * k; x++)
			bf_[x] = g->acc == ACC_TF32 ? to_tf32((float)bd[x]) : (float)bd[x];
	}
	const int splits = g->splitk > 1 ? g->splitk : 1;
	const int chunk = (k + splits - 1) / splits;
	for (int j = 0; j < n; j++) {
		for (int i = 0; i < m; i++) {
			const long d = i + (long)j * g->ldd;
			if (g->acc == ACC_F64) {
				const double *a = ad + (size_t)i * k, *b = bd + (size_t)j * k;
				double total = 0.0;
				for (int p0 = 0; p0 < k; p0 += chunk) {
					double part = 0.0;
					for (int p = p0; p < k && p < p0 + chunk; p++)
						part += a[p] * b[p];
					total += part;
				}
				double v = g->alpha * total;
				if (g->beta != 0.0)
					v += g->beta * mock_gemm_load(g->D, g->dt, d);
				mock_gemm_store(g->D, g->dt, d, v);
				continue;
			}
			const float *a = af + (size_t)i * k, *b = bf_ + (size_t)j * k;
			float total = 0.0f;
			for (int p0 = 0; p0 < k; p0 += chunk) {
				float part = 0.0f;
				for (int p = p0; p < k && p < p0 + chunk; p++)
					part += a[p] * b[p];
				total += part;
			}
			float v = (float)g->alpha * total;
			if (g->beta != 0.0)
				v += (float)g->beta * (float)mock_gemm_load(g->D, g->dt, d);
			if (g->bias)
				v += bf2f(g->bias[i]);
			mock_gemm_store(g->D, g->dt, d, v);
		}
	}
	free(ad);
	free(af);
}

struct mdesc {
	cublasComputeType_t compute;
	cudaDataType_t scale;
	int ta, tb, epi, fast_accum;
	const void *bias;
	int bias_type;
};
struct mlayout {
	cudaDataType t;
	uint64_t rows, cols;
	int64_t ld;
};
struct mpref {
	uint64_t max_workspace;
};

/* The heuristic's candidates, best first; an algo carries its index under
 * a tag, so a matmul with an algo that did not come from the heuristic (or
 * was overwritten) is caught.  Distinct in every CUBLASLT_ALGO_CONFIG_*. */
#define ALGO_TAG 0x4d4f434b00000000ull /* "MOCK" */
static const struct mock_algo {
	int32_t id;
	uint32_t tile, stages, reduction, swizzle, custom;
	int32_t splitk;
	uint16_t cluster;
	int tile_m, tile_n;
	size_t workspace;
} mock_algos[] = {
	{ 66, CUBLASLT_MATMUL_TILE_128x128, CUBLASLT_MATMUL_STAGES_64x4,
	  CUBLASLT_REDUCTION_SCHEME_NONE, 0, 0, 1, CUBLASLT_CLUSTER_SHAPE_1x1x1, 128, 128, 0 },
	{ 67, CUBLASLT_MATMUL_TILE_128x256, CUBLASLT_MATMUL_STAGES_128x3,
	  CUBLASLT_REDUCTION_SCHEME_NONE, 1, 1, 1, CUBLASLT_CLUSTER_SHAPE_2x1x1, 128, 256,
	  (size_t)1 << 20 },
	{ 21, CUBLASLT_MATMUL_TILE_64x128, CUBLASLT_MATMUL_STAGES_32x5,
	  CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE, 0, 2, 4, CUBLASLT_CLUSTER_SHAPE_1x2x1, 64, 128,
	  (size_t)4 << 20 },
};
#define N_MOCK_ALGOS (int)(sizeof(mock_algos) / sizeof(mock_algos[0]))
static int n_not_supported;

static const struct mock_algo *algo_of(const cublasLtMatmulAlgo_t *algo)
{
	if (!algo)
		return &mock_algos[0]; /* cuBLASLt runs its own heuristic */
	if ((algo->data[0] & ~0xffull) != ALGO_TAG || (algo->data[0] & 0xff) >= N_MOCK_ALGOS)
		die("cublasLtMatmul with an algo that no heuristic returned");
	return &mock_algos[algo->data[0] & 0xff];
}

static int is_fp8(cudaDataType t)
{
	return t == CUDA_R_8F_E4M3 || t == CUDA_R_8F_E5M2;
}

/* Shapes that do not chain are the caller's bug: abort.  A combination
 * cuBLASLt does not support (its table of supported data types; FP8's layout,
 * size and compute-capability rules) is CUBLAS_STATUS_NOT_SUPPORTED, with the
 * reason on stderr, as the library answers it. */
static cublasStatus_t lt_check(const struct mdesc *m, const struct mlayout *a,
			       const struct mlayout *b, const struct mlayout *c,
			       const struct mlayout *d)
{
	char why[160] = "";
	int dev = 0, major = 0, minor = 0;
	if (c->rows != d->rows || c->cols != d->cols || c->ld != d->ld || c->t != d->t)
		die("C and D layouts differ");
	const uint64_t M = d->rows, N = d->cols, K = m->ta ? a->rows : a->cols;
	if ((m->ta ? a->cols : a->rows) != M || (m->tb ? b->rows : b->cols) != N ||
	    (m->tb ? b->cols : b->rows) != K)
		die("Lt shapes do not chain");
	cudaGetDevice(&dev);
	cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
	cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
	const int cc = major * 10 + minor;
	const cudaDataType at = a->t, bt = b->t, ct = c->t;
	switch (m->compute) {
	case CUBLAS_COMPUTE_64F:
		if (m->scale != CUDA_R_64F || at != CUDA_R_64F || bt != CUDA_R_64F || ct != CUDA_R_64F)
			snprintf(why, sizeof(why), "64F compute needs 64F scale, A, B, C");
		break;
	case CUBLAS_COMPUTE_32F_FAST_TF32:
		if (m->scale != CUDA_R_32F || at != CUDA_R_32F || bt != CUDA_R_32F || ct != CUDA_R_32F)
			snprintf(why, sizeof(why), "32F_FAST_TF32 compute needs 32F scale, A, B, C");
		else if (cc < 80)
			snprintf(why, sizeof(why), "TF32 needs compute capability 8.0");
		break;
	case CUBLAS_COMPUTE_32F:
		if (m->scale != CUDA_R_32F) {
			snprintf(why, sizeof(why), "32F compute needs 32F scale");
		} else if (at == CUDA_R_32F || at == CUDA_R_16F || at == CUDA_R_16BF) {
			if (bt != at || (ct != at && ct != CUDA_R_32F))
				snprintf(why, sizeof(why), "A %d, B %d, C %d: no such combination",
					 (int)at, (int)bt, (int)ct);
			else if (at == CUDA_R_16BF && cc < 80)
				snprintf(why, sizeof(why), "BF16 needs compute capability 8.0");
		} else if (is_fp8(at) && is_fp8(bt)) {
			if (at == CUDA_R_8F_E5M2 && bt == CUDA_R_8F_E5M2)
				snprintf(why, sizeof(why), "FP8 with both A and B E5M2");
			else if (ct != CUDA_R_16BF && ct != CUDA_R_16F && ct != CUDA_R_32F)
				snprintf(why, sizeof(why), "FP8 with C type %d", (int)ct);
			else if (cc < 89)
				snprintf(why, sizeof(why), "FP8 needs compute capability 8.9");
			else if (major < 10 && !(m->ta && !m->tb))
				snprintf(why, sizeof(why), "FP8 before Blackwell needs TN (transa T, transb N)");
			else if (M % 16 || N % 16 || K % 16 || a->ld % 16 || b->ld % 16 || c->ld % 16)
				snprintf(why, sizeof(why), "FP8 needs m, n, k and leading dimensions "
					 "multiples of 16");
		} else {
			snprintf(why, sizeof(why), "A %d, B %d: no such combination", (int)at, (int)bt);
		}
		break;
	default:
		snprintf(why, sizeof(why), "compute type %d", (int)m->compute);
	}
	if (!why[0])
		return CUBLAS_STATUS_SUCCESS;
	n_not_supported++;
	fprintf(stderr, "MOCK: cuBLASLt matmul not supported: %s\n", why);
	return CUBLAS_STATUS_NOT_SUPPORTED;
}

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
	struct mdesc *m = calloc(1, sizeof(struct mdesc));
	if (!m)
		return CUBLAS_STATUS_ALLOC_FAILED;
	m->compute = c;
	m->scale = s;
	*d = (cublasLtMatmulDesc_t)m;
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d)
{
	free(d);
	return CUBLAS_STATUS_SUCCESS;
}
/* The attribute's size must be its type's, as cuBLASLt checks. */
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d,
					      cublasLtMatmulDescAttributes_t a, const void *buf,
					      size_t size)
{
	struct mdesc *m = (struct mdesc *)d;
	int32_t v = 0;
	size_t want = a == CUBLASLT_MATMUL_DESC_BIAS_POINTER ? sizeof(void *)
		      : a == CUBLASLT_MATMUL_DESC_FAST_ACCUM ? sizeof(int8_t) : sizeof(int32_t);
	if (size != want) {
		fprintf(stderr, "MOCK: desc attribute %d of %zu bytes, not %zu\n", (int)a, size, want);
		return CUBLAS_STATUS_INVALID_VALUE;
	}
	if (size == 4)
		memcpy(&v, buf, 4);
	switch (a) {
	case CUBLASLT_MATMUL_DESC_TRANSA: m->ta = v == CUBLAS_OP_T; break;
	case CUBLASLT_MATMUL_DESC_TRANSB: m->tb = v == CUBLAS_OP_T; break;
	case CUBLASLT_MATMUL_DESC_EPILOGUE: m->epi = v; break;
	case CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE: m->bias_type = v; break;
	case CUBLASLT_MATMUL_DESC_FAST_ACCUM: m->fast_accum = *(const int8_t *)buf; break;
	case CUBLASLT_MATMUL_DESC_BIAS_POINTER: memcpy(&m->bias, buf, sizeof(void *)); break;
	default: die("desc attribute");
	}
	return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType t, uint64_t rows,
					  uint64_t cols, int64_t ld)
{
	if (ld < (int64_t)rows)
		return CUBLAS_STATUS_INVALID_VALUE;
	struct mlayout *m = calloc(1, sizeof(*m));
	if (!m)
		return CUBLAS_STATUS_ALLOC_FAILED;
	m->t = t;
	m->rows = rows;
	m->cols = cols;
	m->ld = ld;
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
	/* cuBLASLt's default maximum workspace is 0 */
	*p = (cublasLtMatmulPreference_t)calloc(1, sizeof(struct mpref));
	return *p ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_ALLOC_FAILED;
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
	if (a == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES && size != 8)
		die("workspace attr size");
	if (a != CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES && size != 4)
		die("alignment attr size");
	if (a == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES)
		memcpy(&((struct mpref *)p)->max_workspace, buf, 8);
	return CUBLAS_STATUS_SUCCESS;
}
/* Up to req of mock_algos that fit the preference's workspace, in order. */
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t op,
					      cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
					      cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
					      cublasLtMatmulPreference_t pref, int req,
					      cublasLtMatmulHeuristicResult_t *res, int *ret)
{
	(void)h;
	struct mdesc *m = (struct mdesc *)op;
	const struct mlayout *ld = (const struct mlayout *)d;
	n_heur++;
	*ret = 0;
	if (req < 1)
		return CUBLAS_STATUS_INVALID_VALUE;
	memset(res, 0, sizeof(*res) * (size_t)req);
	if (m->bias && getenv("MOCK_NO_BIAS_EPILOGUE")) {
		n_fallback_refusals++;
		return CUBLAS_STATUS_SUCCESS;
	}
	cublasStatus_t st = lt_check(m, (const struct mlayout *)a, (const struct mlayout *)b,
				     (const struct mlayout *)c, ld);
	if (st != CUBLAS_STATUS_SUCCESS)
		return st;
	const uint64_t max_ws = ((const struct mpref *)pref)->max_workspace;
	for (int i = 0; i < N_MOCK_ALGOS && *ret < req; i++) {
		const struct mock_algo *x = &mock_algos[i];
		if (x->workspace > max_ws)
			continue;
		cublasLtMatmulHeuristicResult_t *r = &res[*ret];
		r->algo.data[0] = ALGO_TAG | (uint64_t)i;
		r->workspaceSize = x->workspace;
		r->state = CUBLAS_STATUS_SUCCESS;
		/* CTAs (tiles x splits) over the H100's 132 SMs */
		r->wavesCount = (float)(((ld->rows + x->tile_m - 1) / x->tile_m) *
					((ld->cols + x->tile_n - 1) / x->tile_n) * x->splitk) / 132.0f;
		(*ret)++;
	}
	return *ret ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_SUPPORTED;
}
/* Sizes as cublasLt.h gives the attributes' types; a wrong size is
 * CUBLAS_STATUS_INVALID_VALUE, as in cuBLASLt. */
cublasStatus_t cublasLtMatmulAlgoConfigGetAttribute(const cublasLtMatmulAlgo_t *algo,
						    cublasLtMatmulAlgoConfigAttributes_t attr,
						    void *buf, size_t size, size_t *written)
{
	const struct mock_algo *x = algo_of(algo);
	union {
		int32_t i32;
		uint32_t u32;
		uint16_t u16;
	} v;
	size_t need = 4;
	switch (attr) {
	case CUBLASLT_ALGO_CONFIG_ID: v.i32 = x->id; break;
	case CUBLASLT_ALGO_CONFIG_TILE_ID: v.u32 = x->tile; break;
	case CUBLASLT_ALGO_CONFIG_SPLITK_NUM: v.i32 = x->splitk; break;
	case CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME: v.u32 = x->reduction; break;
	case CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING: v.u32 = x->swizzle; break;
	case CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION: v.u32 = x->custom; break;
	case CUBLASLT_ALGO_CONFIG_STAGES_ID: v.u32 = x->stages; break;
	case CUBLASLT_ALGO_CONFIG_INNER_SHAPE_ID: v.u16 = 0; need = 2; break;
	case CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID: v.u16 = x->cluster; need = 2; break;
	default: return CUBLAS_STATUS_INVALID_VALUE;
	}
	if (written)
		*written = need;
	if (size == 0 && written)
		return CUBLAS_STATUS_SUCCESS;
	if (!buf || size != need) {
		fprintf(stderr, "MOCK: algo config attribute %d of %zu bytes, not %zu\n", (int)attr,
			size, need);
		return CUBLAS_STATUS_INVALID_VALUE;
	}
	memcpy(buf, &v, need);
	return CUBLAS_STATUS_SUCCESS;
}

/* MOCK_GEMM_CORRUPT: after each product, add 1 to one element of D
 * ("I,J"; any other value: D(m-1, n-1)), or write NaN there ("nan:I,J"). */
static void corrupt(void *D, cudaDataType dt, long ldd, uint64_t M, uint64_t N)
{
	const char *env = getenv("MOCK_GEMM_CORRUPT");
	long i = (long)M - 1, j = (long)N - 1;
	int nan = 0;
	if (!env || !*env)
		return;
	if (strncmp(env, "nan:", 4) == 0) {
		nan = 1;
		env += 4;
	}
	if (sscanf(env, "%ld,%ld", &i, &j) != 2 || i < 0 || j < 0 || i >= (long)M || j >= (long)N) {
		i = (long)M - 1;
		j = (long)N - 1;
	}
	const long x = i + j * ldd;
	mock_gemm_store(D, dt, x, nan ? NAN : mock_gemm_load(D, dt, x) + 1.0);
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t op, const void *alpha,
			      const void *A, cublasLtMatrixLayout_t la, const void *B,
			      cublasLtMatrixLayout_t lb, const void *beta, const void *C,
			      cublasLtMatrixLayout_t lc, void *D, cublasLtMatrixLayout_t ld,
			      const cublasLtMatmulAlgo_t *algo, void *ws, size_t wsb,
			      cudaStream_t s)
{
	(void)h;
	(void)s;
	const struct mdesc *m = (const struct mdesc *)op;
	const struct mlayout *a = (const struct mlayout *)la, *b = (const struct mlayout *)lb;
	const struct mlayout *c = (const struct mlayout *)lc, *d = (const struct mlayout *)ld;
	if (C != D)
		die("C != D");
	cublasStatus_t st = lt_check(m, a, b, c, d);
	if (st != CUBLAS_STATUS_SUCCESS)
		return st;
	const struct mock_algo *x = algo_of(algo);
	if (x->workspace > wsb || (x->workspace && !ws))
		return CUBLAS_STATUS_INVALID_VALUE;
	/* MOCK_GEMM_FAIL_ALGO="66,21": algorithms (CUBLASLT_ALGO_CONFIG_ID) that fail to run */
	for (const char *f = getenv("MOCK_GEMM_FAIL_ALGO"); f && *f; f += strcspn(f, ","), f += !!*f)
		if (atoi(f) == x->id)
			return CUBLAS_STATUS_EXECUTION_FAILED;
	if (is_fp8(a->t) && ((uintptr_t)A % 16 || (uintptr_t)B % 16 || (uintptr_t)D % 16))
		die("FP8 matmul with a pointer that is not 16-byte aligned");
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
	/* MOCK_GEMM_STALE_AFTER=N: every product after the process's Nth "runs"
	 * without writing D (a kernel that silently does nothing) */
	const char *stale = getenv("MOCK_GEMM_STALE_AFTER");
	if (stale && *stale && n_lt > atoi(stale))
		return CUBLAS_STATUS_SUCCESS;
	const int f64 = m->scale == CUDA_R_64F;
	struct gemm_call g = {
		.ta = m->ta, .tb = m->tb, .m = (int)d->rows, .n = (int)d->cols,
		.k = (int)(m->ta ? a->rows : a->cols),
		.acc = m->compute == CUBLAS_COMPUTE_64F ? ACC_F64
		       : m->compute == CUBLAS_COMPUTE_32F_FAST_TF32 ? ACC_TF32 : ACC_F32,
		.splitk = x->splitk,
		.alpha = f64 ? *(const double *)alpha : *(const float *)alpha,
		.beta = f64 ? *(const double *)beta : *(const float *)beta,
		.A = A, .B = B, .at = a->t, .bt = b->t, .dt = d->t,
		.lda = (long)a->ld, .ldb = (long)b->ld, .ldd = (long)d->ld, .D = D,
		.bias = m->epi ? (const uint16_t *)m->bias : NULL,
	};
	gemm(&g);
	corrupt(D, d->t, (long)d->ld, d->rows, d->cols);
	return CUBLAS_STATUS_SUCCESS;
}
const char *cublasGetStatusString(cublasStatus_t s)
{
	switch (s) {
	case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
	case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
	case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
	case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
	case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
	default: return "mock cublas status";
	}
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
	for (int i = 0; i < batch; i++) {
		struct gemm_call g = {
			.ta = ta == CUBLAS_OP_T, .tb = tb == CUBLAS_OP_T, .m = m, .n = n, .k = k,
			.acc = ACC_F32, .splitk = 1, .alpha = *(const float *)alpha, .beta = 0.0,
			.A = (const char *)A + (size_t)(i * sa) * ea, .at = at, .lda = lda,
			.B = (const char *)B + (size_t)(i * sb) * eb, .bt = bt, .ldb = ldb,
			.D = (char *)C + (size_t)(i * sc) * ec, .dt = ct, .ldd = ldc,
		};
		gemm(&g);
	}
	return CUBLAS_STATUS_SUCCESS;
}

static void mock_report(void)
{
	fprintf(stderr, "MOCK: %d heuristic calls, %d Lt matmuls (%d with the bias epilogue, %d refused, %d not supported), %d batched\n",
		n_heur, n_lt, n_bias_epilogues, n_fallback_refusals, n_not_supported, n_batched);
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
