/* gemm_gpu.c: numerics, reference, tolerance and algorithm record of the GPU
 * GEMM backend (see gemm_gpu.h).  Plain C, no CUDA; nothing here prints.
 */
#include "kernels/gpu/gemm_gpu.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/gpu/gemm_gpu_input.h"

#define U53 0x1p-53
#define U24 0x1p-24
#define U_TENSOR 0x1p-22 /* see strata_gemm_gpu_numerics in the header */

static const struct strata_gemm_gpu_numerics numerics[STRATA_GEMM_GPU_NDTYPES] = {
	[STRATA_GEMM_GPU_FLOAT64] = { "float64", "fp64", "fp64", "CUBLAS_COMPUTE_64F", 8, 8, 256,
				      U53, U53, STRATA_GPU_FP64, 0, 0 },
	[STRATA_GEMM_GPU_FLOAT32] = { "float32", "fp32", "fp32", "CUBLAS_COMPUTE_32F", 4, 4, 256,
				      U24, U24, STRATA_GPU_FP32, 0, 0 },
	[STRATA_GEMM_GPU_TFLOAT32] = { "tfloat32", "fp32 (tf32 in the tensor cores)", "fp32",
				       "CUBLAS_COMPUTE_32F_FAST_TF32", 4, 4, 256, U_TENSOR, U24,
				       STRATA_GPU_TF32, 8, 0 },
	[STRATA_GEMM_GPU_FLOAT16] = { "float16", "fp16", "fp16", "CUBLAS_COMPUTE_32F", 2, 2, 256,
				      U_TENSOR, 0x1p-11, STRATA_GPU_FP16, 7, 0 },
	[STRATA_GEMM_GPU_BFLOAT16] = { "bfloat16", "bf16", "bf16", "CUBLAS_COMPUTE_32F", 2, 2, 256,
				       U_TENSOR, 0x1p-8, STRATA_GPU_BF16, 8, 0 },
	[STRATA_GEMM_GPU_FLOAT8_E4M3] = { "float8_e4m3", "fp8_e4m3", "bf16", "CUBLAS_COMPUTE_32F", 1,
					  2, 16, U_TENSOR, 0x1p-8, STRATA_GPU_FP8, 8, 9 },
};

const struct strata_gemm_gpu_numerics *strata_gemm_gpu_numerics(enum strata_gemm_gpu_dtype t)
{
	return (unsigned)t < STRATA_GEMM_GPU_NDTYPES ? &numerics[t] : NULL;
}

int strata_gemm_gpu_dtype_parse(const char *name, enum strata_gemm_gpu_dtype *out)
{
	for (int i = 0; i < STRATA_GEMM_GPU_NDTYPES; i++) {
		if (name && strcmp(name, numerics[i].name) == 0) {
			*out = (enum strata_gemm_gpu_dtype)i;
			return 0;
		}
	}
	return -1;
}

double strata_gemm_gpu_gamma(int64_t k, double u)
{
	double ku = (double)k * u;
	return ku >= 1.0 ? INFINITY : ku / (1.0 - ku);
}

double strata_gemm_gpu_tolerance(enum strata_gemm_gpu_dtype t, int64_t k, double ref,
				 double abs_sum)
{
	const struct strata_gemm_gpu_numerics *nm = strata_gemm_gpu_numerics(t);
	if (!nm)
		return 0.0;
	double acc = strata_gemm_gpu_gamma(k, nm->u_acc) * abs_sum;
	return acc + nm->u_out * (fabs(ref) + acc) + strata_gemm_gpu_gamma(k, U53) * abs_sum;
}

double strata_gemm_gpu_reference(enum strata_gemm_gpu_dtype t, uint64_t seed, int64_t i,
				 int64_t j, int64_t k, double *abs_sum)
{
	const struct strata_gemm_gpu_numerics *nm = strata_gemm_gpu_numerics(t);
	int steps = nm ? nm->input_steps : 256;
	double s = 0.0, sa = 0.0;
	for (int64_t l = 0; l < k; l++) {
		double p = strata_gemm_gpu_input(seed, 0, i, l, steps) *
			   strata_gemm_gpu_input(seed, 1, l, j, steps);
		s += p;
		sa += fabs(p);
	}
	if (abs_sum)
		*abs_sum = sa;
	return s;
}

double strata_half_to_double(uint16_t h)
{
	/* IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 fraction bits. */
	int sign = h >> 15, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
	double v;
	if (exp == 0)
		v = ldexp((double)frac, -24); /* subnormal: frac x 2^-14 x 2^-10 */
	else if (exp == 31)
		v = frac ? NAN : INFINITY;
	else
		v = ldexp((double)(frac | 0x400), exp - 25);
	return sign ? -v : v;
}

double strata_bf16_to_double(uint16_t b)
{
	/* bfloat16 is the top half of an IEEE binary32. */
	uint32_t bits = (uint32_t)b << 16;
	float f;
	memcpy(&f, &bits, sizeof(f));
	return (double)f;
}

double strata_gemm_gpu_c_value(enum strata_gemm_gpu_dtype t, const void *elem)
{
	switch (t) {
	case STRATA_GEMM_GPU_FLOAT64: {
		double d;
		memcpy(&d, elem, sizeof(d));
		return d;
	}
	case STRATA_GEMM_GPU_FLOAT32:
	case STRATA_GEMM_GPU_TFLOAT32: {
		float f;
		memcpy(&f, elem, sizeof(f));
		return (double)f;
	}
	case STRATA_GEMM_GPU_FLOAT16: {
		uint16_t h;
		memcpy(&h, elem, sizeof(h));
		return strata_half_to_double(h);
	}
	case STRATA_GEMM_GPU_BFLOAT16:
	case STRATA_GEMM_GPU_FLOAT8_E4M3: { /* fp8 GEMMs write bf16 */
		uint16_t b;
		memcpy(&b, elem, sizeof(b));
		return strata_bf16_to_double(b);
	}
	default:
		return NAN;
	}
}

int strata_gemm_algo_format(const struct strata_gemm_algo *a, char *buf, size_t len)
{
	return snprintf(buf, len,
			"algo %d, tile %s, stages %s, split-k %d, reduction %d, swizzle %d, "
			"custom %d, cluster %s, workspace %zu B, heuristic #%d",
			a->algo_id, a->tile[0] ? a->tile : "?", a->stages[0] ? a->stages : "?",
			a->splitk, a->reduction, a->swizzle, a->custom,
			a->cluster_id < 0 ? "n/a" : a->cluster[0] ? a->cluster : "?",
			a->workspace_bytes, a->heuristic_rank);
}

void strata_lt_name_lookup(const struct strata_lt_name *table, int value, char *buf, size_t len)
{
	for (const struct strata_lt_name *e = table; e && e->value >= 0; e++) {
		if (e->value == value) {
			snprintf(buf, len, "%s", e->name);
			return;
		}
	}
	snprintf(buf, len, "id %d", value);
}
