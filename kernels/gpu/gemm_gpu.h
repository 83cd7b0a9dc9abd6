/* gemm_gpu.h: the host-side arithmetic of the GPU GEMM (cuBLASLt) backend:
 * data types and their numerics, the inputs, the error bound a sampled
 * output element is checked against, and the record of the cuBLASLt
 * algorithm that was chosen.
 *
 * What it is: plain C (no CUDA headers), built with or without the CUDA
 * backend, so it is unit-tested on machines without a GPU.  The device code
 * (kernels/cuda/gemm_cuda.cu) fills its matrices with the same generator
 * (strata_gemm_gpu_input, from gemm_gpu_input.h) that the host reference
 * uses here.  What it is not: the GEMM, a timer or a driver.
 *
 * Dimension letters: M rows of op(A) and C, N columns of op(B) and C, K the
 * inner dimension.  Storage is column-major (cuBLAS):
 *   A: (M, K), lda = M; or (K, M), lda = K when transa (op(A) = A^T)
 *   B: (K, N), ldb = K; or (N, K), ldb = N when transb
 *   C = D: (M, N), ldc = M
 */
#ifndef STRATA_KERNELS_GPU_GEMM_GPU_H
#define STRATA_KERNELS_GPU_GEMM_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/gpu/gpu_peak.h"

#ifdef __cplusplus
extern "C" {
#endif

enum strata_gemm_gpu_dtype {
	STRATA_GEMM_GPU_FLOAT64 = 0, /* A, B, C double; compute 64F */
	STRATA_GEMM_GPU_FLOAT32,     /* A, B, C float; compute 32F (no TF32) */
	STRATA_GEMM_GPU_TFLOAT32,    /* A, B, C float; compute 32F_FAST_TF32 */
	STRATA_GEMM_GPU_FLOAT16,     /* A, B, C half; compute 32F */
	STRATA_GEMM_GPU_BFLOAT16,    /* A, B, C bf16; compute 32F */
	STRATA_GEMM_GPU_FLOAT8_E4M3, /* A, B fp8 e4m3; C bf16; compute 32F; sm_89+ */
	STRATA_GEMM_GPU_NDTYPES,
};

/* What a data type means for the GEMM and its check. */
struct strata_gemm_gpu_numerics {
	const char *name;      /* plan spelling: "bfloat16", "float8_e4m3", ... */
	const char *a_type;    /* element type of A and B: "bf16", "fp8_e4m3", ... */
	const char *c_type;    /* element type of C/D */
	const char *compute;   /* cuBLAS compute type, as its enum is named */
	size_t ab_bytes;       /* bytes per element of A and B */
	size_t c_bytes;        /* bytes per element of C */
	int input_steps;       /* inputs are multiples of 1/input_steps in [-1, 1] */
	double u_acc;          /* unit roundoff assumed for the accumulation */
	double u_out;          /* unit roundoff of rounding the result to c_type */
	enum strata_gpu_prec prec; /* the peak it is compared with */
	int min_cc_major, min_cc_minor; /* oldest compute capability that runs it */
};

/* The numerics of t (NULL when out of range).  Inputs are exact in every
 * input type (multiples of 1/256 need 8 significant bits: exact in bf16,
 * fp16, tf32; fp8 e4m3 has 4, so its inputs are multiples of 1/16), every
 * product is exact in the accumulator, and so the only errors are the
 * accumulation's and the final rounding to c_type.
 * u_acc: 2^-53 for float64; 2^-24 for float32 (FFMA, round to nearest);
 * 2^-22 for the tensor-core types, because tensor cores align the addends
 * of their multi-term adders and truncate instead of rounding (Fasi, Higham,
 * Mikaitis, Pranesh, "Numerical behavior of NVIDIA tensor cores", PeerJ
 * Comput. Sci. 7:e330, 2021), taken as 4 fp32 units; fp8 is checked with the
 * same u_acc because cuBLASLt accumulates in fp32 unless
 * CUBLASLT_MATMUL_DESC_FAST_ACCUM is set, which strata never sets. */
const struct strata_gemm_gpu_numerics *strata_gemm_gpu_numerics(enum strata_gemm_gpu_dtype t);

/* Parse a plan's dtype name.  Returns 0 or -1. */
int strata_gemm_gpu_dtype_parse(const char *name, enum strata_gemm_gpu_dtype *out);

/* Higham's gamma_k(u) = k u / (1 - k u); INFINITY when k u >= 1 (Accuracy and
 * Stability of Numerical Algorithms, 2nd ed., Lemma 3.1). */
double strata_gemm_gpu_gamma(int64_t k, double u);

/* The bound on |computed - exact| for one element of C whose exact value is
 * ref and whose K products have absolute sum abs_sum:
 *     gamma_K(u_acc) * abs_sum            (the accumulation, any order)
 *   + u_out * (|ref| + gamma_K(u_acc) * abs_sum)   (rounding to c_type)
 *   + gamma_K(2^-53) * abs_sum            (the double reference)
 * It scales with K and with the type, and is rigorous for any summation
 * order, so a correct GEMM never fails it; wrong data, a wrong layout, a
 * stale output or NaN fail it by far. */
double strata_gemm_gpu_tolerance(enum strata_gemm_gpu_dtype t, int64_t k, double ref,
				 double abs_sum);

/* The exact value of C(i, j) (in double: exact for the generator's inputs
 * while K * 2^16 < 2^53) and the absolute sum of its K products.  Inputs are
 * regenerated, so nothing is read from the device. */
double strata_gemm_gpu_reference(enum strata_gemm_gpu_dtype t, uint64_t seed, int64_t i,
				 int64_t j, int64_t k, double *abs_sum);

/* The value of one element of C as stored on the device (c_type of t:
 * double, float, IEEE half or bfloat16 bits), converted exactly to double. */
double strata_gemm_gpu_c_value(enum strata_gemm_gpu_dtype t, const void *elem);
/* IEEE binary16 and bfloat16 bit patterns to double (exact). */
double strata_half_to_double(uint16_t h);
double strata_bf16_to_double(uint16_t b);

/* The cuBLASLt algorithm chosen (or one candidate), as recorded. */
struct strata_gemm_algo {
	int algo_id;          /* CUBLASLT_ALGO_CONFIG_ID */
	int tile_id;          /* CUBLASLT_ALGO_CONFIG_TILE_ID */
	int stages_id;        /* CUBLASLT_ALGO_CONFIG_STAGES_ID */
	int splitk;           /* CUBLASLT_ALGO_CONFIG_SPLITK_NUM (1 = none) */
	int reduction;        /* CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME */
	int swizzle;          /* CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING */
	int custom;           /* CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION */
	int cluster_id;       /* CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID (Hopper+), -1 if absent */
	char tile[24];        /* "128x256", or "id 24" when the name is unknown */
	char stages[24];      /* "64x3", ... */
	char cluster[24];     /* "2x1x1", "AUTO", ... */
	size_t workspace_bytes; /* the heuristic's workspace for it */
	float waves;          /* the heuristic's wavesCount */
	int heuristic_rank;   /* 0 = the heuristic's first choice */
	double ms;            /* mean time per call when timed, ms; < 0 = not timed */
	int failed;           /* 1: it failed to run (status in note) */
	char note[96];
};

/* One line for the record: "algo 31, tile 128x256, stages 64x3, split-k 1,
 * reduction 0, swizzle 0, custom 0, cluster 2x1x1, workspace 4194304 B,
 * heuristic #0".  Returns what snprintf returns. */
int strata_gemm_algo_format(const struct strata_gemm_algo *a, char *buf, size_t len);

/* Name of an enum value in a generated {value, name} table ending with
 * value -1 (kernels/cuda's cublaslt_names.h); writes "id N" when absent. */
struct strata_lt_name {
	int value;
	const char *name;
};
void strata_lt_name_lookup(const struct strata_lt_name *table, int value, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
