/* gpt_cuda_internal.h: the CUDA transformer's state and the helpers its two
 * host files share (gpt_cuda.c: training; gpt_cuda_infer.c: KV-cache
 * inference).  Private to kernels/cuda; the public API is gpt_cuda.h.
 */
#ifndef STRATA_KERNELS_CUDA_GPT_CUDA_INTERNAL_H
#define STRATA_KERNELS_CUDA_GPT_CUDA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "kernels/cuda/gpt_cuda.h"
#include "kernels/cuda/gpt_cuda_kernels.h"
#include "kernels/nn/gpt.h"

/* A kernel launcher's result as a CUDA check (err, err_len, fail in scope). */
#define STRATA_GPTK_CHECK(call) STRATA_CUDA_CHECK((cudaError_t)(call))

/* A run of consecutive parameter tensors with the same decay flag. */
struct strata_gptc_run {
	size_t offset, count;
	int decay;
};

/* What cublasLtMatmulAlgoGetHeuristic is told about a product (zeroed then
 * filled, so that memcmp compares it), and its answer. */
struct strata_gptc_lt_key {
	int32_t transa, transb, m, n, k, lda, ldb, ldd, dtype, bias, beta_nonzero;
	uint32_t align_a, align_b, align_d, align_bias;
};
struct strata_gptc_lt_entry {
	struct strata_gptc_lt_key key;
	int found; /* 0: no algorithm for this product */
	cublasLtMatmulAlgo_t algo;
};
/* Distinct products of one model: training has about 12 shapes, inference
 * a few per row count; round-robin replacement beyond that. */
#define STRATA_GPTC_LT_CACHE 128

struct strata_gpt_cuda {
	struct strata_gpt_config cfg;
	int max_B, max_T;
	int B, T;         /* of the last forward */
	int have_loss;    /* the last forward had targets and backward may run */
	int Vp;           /* logits row stride: V rounded up to 64 (aligned rows) */
	size_t n_params;
	/* Offsets (floats) of the tensors in gpt.h's flat array, from the
	 * tensor table: per layer and kind, and the global ones. */
	size_t *loff;     /* (L, STRATA_GPT_N_KINDS) */
	size_t goff[STRATA_GPT_N_KINDS];
	/* Grads-ready ranges. */
	size_t lnf_off, lnf_count, emb_off, emb_count;
	size_t *layer_off, *layer_count; /* (L) */
	struct strata_gptc_run *runs;
	size_t n_runs;

	cudaStream_t stream;
	cudaEvent_t h2d0, h2d1;
	int h2d_recorded;
	cublasLtHandle_t lt;
	cublasHandle_t blas;
	void *workspace;
	size_t workspace_bytes;
	struct strata_gptc_lt_entry lt_cache[STRATA_GPTC_LT_CACHE];
	int lt_cache_n, lt_cache_next;
	long lt_heuristic_calls; /* cache misses, for tests */
	size_t model_bytes, used_peak_bytes, total_bytes;

	/* parameters (n_params): FP32 master, BF16 copy, gradients, moments */
	float *params, *grads, *m, *v;
	strata_bf16 *params16;
	int adam_ready;
	int64_t adam_t;
	float beta1, beta2, eps, weight_decay;

	/* inputs (max_B * max_T): device, and pinned host staging */
	int *inputs, *targets, *h_inputs, *h_targets;
	float *h_losses;  /* pinned (max N) */

	/* activations of the last forward (N = B*T rows) */
	float *resid;     /* (2L+1, N, C): encoder out, then after attn / MLP of each layer */
	float *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd; /* (L, N) */
	float *lnf_mean, *lnf_rstd; /* (N) */
	strata_bf16 *ln1, *ln2;  /* (L, N, C) */
	strata_bf16 *lnf;        /* (N, C) */
	strata_bf16 *qkv;        /* (L, N, 3C) */
	strata_bf16 *att;        /* (L, B, NH, T, T) softmax probabilities */
	strata_bf16 *atty;       /* (L, N, C) attention output, heads side by side */
	strata_bf16 *fch, *fch_gelu; /* (L, N, 4C) before and after GELU */
	strata_bf16 *logits;     /* (N, Vp); backward overwrites it with dlogits */
	float *losses;           /* (N) */

	/* scratch, one layer at a time */
	strata_bf16 *q, *k, *vh, *yh; /* (B, NH, T, hs): yh = att V, then its gradient */
	float *preatt;           /* (B, NH, T, T) scores, then their gradient datt */
	strata_bf16 *dpreatt;    /* (B, NH, T, T) */
	strata_bf16 *branch;     /* (N, C) attproj / fcproj output */
	float *dres;             /* (N, C) gradient of the residual stream */
	strata_bf16 *dres16;     /* (N, C) the same in BF16 (a matmul's dout) */
	float *dln;              /* (N, C) gradient of a layernorm output */
	float *datty;            /* (N, C) */
	float *dfch;             /* (N, 4C) gradient of the GELU output */
	strata_bf16 *dfch16;     /* (N, 4C) gradient of the GELU input */
	float *dq, *dk, *dv;     /* (B, NH, T, hs) */
	strata_bf16 *dqkv;       /* (N, 3C) */
};

/* Offset of tensor `kind` of layer l, or of a global tensor. */
#define STRATA_GPTC_L(g, l, kind) ((g)->loff[(size_t)(l) * STRATA_GPT_N_KINDS + (kind)])
#define STRATA_GPTC_G(g, kind) ((g)->goff[(kind)])

/* cudaMalloc counted in g->model_bytes. */
int strata_gptc_alloc(struct strata_gpt_cuda *g, void **p, size_t bytes, char *err,
		      size_t err_len);
/* Record the device-wide memory in use (cudaMemGetInfo) into the peak. */
void strata_gptc_sample_memory(struct strata_gpt_cuda *g);

/* out (N,OC) BF16, row stride ldo = inp (N,IC) BF16 W^T + bias: W (OC,IC)
 * BF16 row-major, bias (OC) BF16 or NULL (gpt_layers.h's matmul_forward). */
int strata_gptc_linear_forward(struct strata_gpt_cuda *g, strata_bf16 *out, int ldo,
			       const strata_bf16 *inp, const strata_bf16 *w,
			       const strata_bf16 *bias, int N, int IC, int OC, char *err,
			       size_t err_len);

/* BF16 rows of a device matrix (rows, cols) with row stride ld -> host FP32
 * (rows, cols); waits for the stream. */
int strata_gptc_copy_bf16_rows(struct strata_gpt_cuda *g, float *host, const strata_bf16 *dev,
			       int rows, int cols, int ld, char *err, size_t err_len);

#endif
