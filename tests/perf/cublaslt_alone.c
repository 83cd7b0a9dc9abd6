/* cublaslt_alone.c: the cuBLASLt call strata's gemm suite measures, timed
 * alone in a small standalone program, as the reference of
 * tests/perf/compare_gpu_gemm.sh (goal: strata >= 0.97 x this).
 *
 * What it is: the same matmul (column-major, alpha 1, beta 0, C = D), the
 * same types and compute types, the same 32 MiB workspace, the same
 * algorithm choice (the heuristic's top K, each timed, the fastest kept),
 * inputs of the same kind (multiples of 1/16 in [-1, 1], so tensor-core
 * activity is alike), then `iters` back-to-back launches between two CUDA
 * events, `reps` times; prints one line per rep and the median TFLOP/s.
 * What it is not: part of strata or of any test run by ctest; it needs a GPU.
 * Build (compare_gpu_gemm.sh does it under /tmp):
 *   gcc -O2 -std=gnu11 -I/usr/local/cuda/include cublaslt_alone.c \
 *       -L/usr/local/cuda/lib64 -lcublasLt -lcublas -lcudart -lm -o cublaslt_alone
 * Usage: cublaslt_alone DTYPE M N K [transa 0|1] [transb 0|1] [iters] [reps] [topk]
 *   DTYPE: float64 float32 tfloat32 float16 bfloat16 float8_e4m3
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#define CK(x)                                                                              \
	do {                                                                               \
		cudaError_t e_ = (x);                                                      \
		if (e_ != cudaSuccess) {                                                   \
			fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x,         \
				cudaGetErrorString(e_));                                   \
			exit(1);                                                           \
		}                                                                          \
	} while (0)
#define CB(x)                                                                              \
	do {                                                                               \
		cublasStatus_t s_ = (x);                                                   \
		if (s_ != CUBLAS_STATUS_SUCCESS) {                                         \
			fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x,         \
				cublasGetStatusString(s_));                                \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

static uint16_t to_half(double v)
{
	if (v == 0)
		return 0;
	int e;
	double m = frexp(fabs(v), &e); /* |v| = m 2^e, m in [0.5, 1) */
	uint16_t sign = v < 0 ? 0x8000 : 0;
	uint16_t exp = (uint16_t)(e - 1 + 15), frac = (uint16_t)((2 * m - 1) * 1024);
	return sign | (uint16_t)(exp << 10) | frac;
}

static uint8_t to_e4m3(double v)
{
	if (v == 0)
		return 0;
	int e;
	double m = frexp(fabs(v), &e);
	uint8_t sign = v < 0 ? 0x80 : 0;
	uint8_t exp = (uint8_t)(e - 1 + 7), frac = (uint8_t)((2 * m - 1) * 8);
	return sign | (uint8_t)(exp << 3) | frac;
}

static void fill(void *dst, size_t n, int kind, unsigned seed)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		double v = ((int)(x % 33) - 16) / 16.0;
		float f = (float)v;
		uint32_t fb;
		memcpy(&fb, &f, 4);
		switch (kind) {
		case 8: ((double *)dst)[i] = v; break;
		case 4: ((float *)dst)[i] = f; break;
		case 16: ((uint16_t *)dst)[i] = to_half(v); break;
		case 2: ((uint16_t *)dst)[i] = (uint16_t)(fb >> 16); break; /* bf16 */
		case 1: ((uint8_t *)dst)[i] = to_e4m3(v); break;
		}
	}
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: %s DTYPE M N K [transa] [transb] [iters] [reps] [topk]\n", argv[0]);
		return 2;
	}
	const char *dt = argv[1];
	int64_t m = atoll(argv[2]), n = atoll(argv[3]), k = atoll(argv[4]);
	int ta = argc > 5 ? atoi(argv[5]) : 0, tb = argc > 6 ? atoi(argv[6]) : 0;
	int iters = argc > 7 ? atoi(argv[7]) : 50, reps = argc > 8 ? atoi(argv[8]) : 5;
	int topk = argc > 9 ? atoi(argv[9]) : 8;
	cudaDataType_t at = CUDA_R_32F, ct = CUDA_R_32F, st = CUDA_R_32F;
	cublasComputeType_t comp = CUBLAS_COMPUTE_32F;
	size_t ab = 4, cb = 4;
	int kind = 4;
	if (!strcmp(dt, "float64")) {
		at = ct = st = CUDA_R_64F, comp = CUBLAS_COMPUTE_64F, ab = cb = 8, kind = 8;
	} else if (!strcmp(dt, "tfloat32")) {
		comp = CUBLAS_COMPUTE_32F_FAST_TF32;
	} else if (!strcmp(dt, "float16")) {
		at = ct = CUDA_R_16F, ab = cb = 2, kind = 16;
	} else if (!strcmp(dt, "bfloat16")) {
		at = ct = CUDA_R_16BF, ab = cb = 2, kind = 2;
	} else if (!strcmp(dt, "float8_e4m3")) {
		at = CUDA_R_8F_E4M3, ct = CUDA_R_16BF, ab = 1, cb = 2, kind = 1;
	} else if (strcmp(dt, "float32")) {
		fprintf(stderr, "unknown dtype %s\n", dt);
		return 2;
	}
	size_t a_n = (size_t)m * k, b_n = (size_t)k * n, c_n = (size_t)m * n, ws = 32u << 20;
	void *ha = malloc(a_n * ab), *hb = malloc(b_n * ab), *a, *b, *c, *w;
	fill(ha, a_n, kind, 1);
	fill(hb, b_n, kind, 2);
	CK(cudaMalloc(&a, a_n * ab));
	CK(cudaMalloc(&b, b_n * ab));
	CK(cudaMalloc(&c, c_n * cb));
	CK(cudaMalloc(&w, ws));
	CK(cudaMemcpy(a, ha, a_n * ab, cudaMemcpyHostToDevice));
	CK(cudaMemcpy(b, hb, b_n * ab, cudaMemcpyHostToDevice));
	CK(cudaMemset(c, 0, c_n * cb));
	cudaStream_t s;
	cudaEvent_t e0, e1;
	CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	CK(cudaEventCreate(&e0));
	CK(cudaEventCreate(&e1));

	cublasLtHandle_t lt;
	cublasLtMatmulDesc_t op;
	cublasLtMatrixLayout_t la, lb, lc;
	cublasLtMatmulPreference_t pref;
	cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
	CB(cublasLtCreate(&lt));
	CB(cublasLtMatmulDescCreate(&op, comp, st));
	CB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof(opa)));
	CB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof(opb)));
	CB(cublasLtMatrixLayoutCreate(&la, at, ta ? k : m, ta ? m : k, ta ? k : m));
	CB(cublasLtMatrixLayoutCreate(&lb, at, tb ? n : k, tb ? k : n, tb ? n : k));
	CB(cublasLtMatrixLayoutCreate(&lc, ct, m, n, m));
	CB(cublasLtMatmulPreferenceCreate(&pref));
	uint64_t wsz = ws;
	CB(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsz,
						sizeof(wsz)));
	cublasLtMatmulHeuristicResult_t heur[64];
	int got = 0;
	CB(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, lc, lc, pref, topk > 64 ? 64 : topk, heur,
					  &got));
	double one_d = 1, zero_d = 0;
	float one_f = 1, zero_f = 0;
	const void *alpha = st == CUDA_R_64F ? (const void *)&one_d : (const void *)&one_f;
	const void *beta = st == CUDA_R_64F ? (const void *)&zero_d : (const void *)&zero_f;
	int best = -1;
	float best_ms = 1e30f;
	for (int i = 0; i < got; i++) { /* as strata: 2 warm-up, 10 timed, lowest mean */
		int ok = 1;
		for (int r = 0; r < 12 && ok; r++) {
			if (r == 2)
				CK(cudaEventRecord(e0, s));
			ok = cublasLtMatmul(lt, op, alpha, a, la, b, lb, beta, c, lc, c, lc, &heur[i].algo,
					    w, ws, s) == CUBLAS_STATUS_SUCCESS;
		}
		CK(cudaEventRecord(e1, s));
		CK(cudaEventSynchronize(e1));
		float ms;
		CK(cudaEventElapsedTime(&ms, e0, e1));
		if (ok && ms < best_ms)
			best_ms = ms, best = i;
	}
	if (best < 0) {
		fprintf(stderr, "no algorithm ran\n");
		return 1;
	}
	double flops = 2.0 * m * n * k, *tf = calloc((size_t)reps, sizeof(double));
	for (int r = 0; r < reps; r++) {
		CK(cudaEventRecord(e0, s));
		for (int i = 0; i < iters; i++)
			CB(cublasLtMatmul(lt, op, alpha, a, la, b, lb, beta, c, lc, c, lc, &heur[best].algo,
					  w, ws, s));
		CK(cudaEventRecord(e1, s));
		CK(cudaEventSynchronize(e1));
		float ms;
		CK(cudaEventElapsedTime(&ms, e0, e1));
		tf[r] = flops * iters / (ms * 1e-3) / 1e12;
		printf("rep %d: %.3f TFLOP/s\n", r, tf[r]);
	}
	for (int i = 1; i < reps; i++) /* insertion sort for the median */
		for (int j = i; j > 0 && tf[j - 1] > tf[j]; j--) {
			double t = tf[j];
			tf[j] = tf[j - 1];
			tf[j - 1] = t;
		}
	printf("median_tflops %.4f\n", reps % 2 ? tf[reps / 2] : (tf[reps / 2 - 1] + tf[reps / 2]) / 2);
	return 0;
}
