/* gpt_cuda_kernels.h: the launchers of the transformer's CUDA kernels
 * (gpt_cuda_kernels.cu), private to kernels/cuda/gpt_cuda*.c.
 *
 * What it is: one extern "C" launcher per kernel; each enqueues on `stream`
 * (a cudaStream_t) and returns the launch's cudaError_t as an int (0 =
 * cudaSuccess).  BF16 buffers are strata_bf16 (the bits of __nv_bfloat16) so
 * that C can hold them.  Shapes use gpt.h's letters; N is a row count
 * (B*T in training); "+=" marks kernels that add into their output, as the
 * CPU layers of gpt_layers.h do.  What it is not: the model's logic (order of
 * calls, buffers, matmuls), which is in gpt_cuda.c.
 */
#ifndef STRATA_KERNELS_CUDA_GPT_CUDA_KERNELS_H
#define STRATA_KERNELS_CUDA_GPT_CUDA_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint16_t strata_bf16;

/* out (N,C) = wte[inp[n]] + wpe[pos[n]]; pos NULL: pos[n] = n % T */
int strata_gptk_encoder_forward(float *out, const int *inp, const int *pos, const float *wte,
				const float *wpe, int N, int T, int C, void *stream);
/* dwte[inp[n]] += dout[n] (atomics); dwpe[t] += sum_b dout[b,t] */
int strata_gptk_encoder_backward(float *dwte, float *dwpe, const float *dout, const int *inp,
				 int B, int T, int C, void *stream);

/* out (N,C) = (x - mean) * rstd * w + b, x FP32; mean, rstd (N) kept
 * (either may be NULL in inference) */
int strata_gptk_layernorm_forward(strata_bf16 *out, float *mean, float *rstd, const float *inp,
				  const float *w, const float *b, int N, int C, void *stream);
/* dinp (N,C) += the input gradient; dw, db (C) += the parameter gradients */
int strata_gptk_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
				   const float *inp, const float *w, const float *mean,
				   const float *rstd, int N, int C, void *stream);

/* dbias (OC) += sum over rows of dout (N,OC), FP32 or BF16 dout */
int strata_gptk_bias_grad_f32(float *dbias, const float *dout, int N, int OC, void *stream);
int strata_gptk_bias_grad_bf16(float *dbias, const strata_bf16 *dout, int N, int OC,
			       void *stream);
/* out (N,OC) with row stride ld += bias (OC) (when the matmul epilogue
 * could not add it) */
int strata_gptk_add_bias(strata_bf16 *out, const strata_bf16 *bias, int N, int OC, int ld,
			 void *stream);

/* out (n) = a + b */
int strata_gptk_residual_forward(float *out, const float *a, const strata_bf16 *b, long n,
				 void *stream);
/* GELU, tanh approximation (Hendrycks & Gimpel 2016, as GPT-2) */
int strata_gptk_gelu_forward(strata_bf16 *out, const strata_bf16 *inp, long n, void *stream);
/* dinp (n) = gelu'(inp) * dout (overwrites) */
int strata_gptk_gelu_backward(strata_bf16 *dinp, const strata_bf16 *inp, const float *dout,
			      long n, void *stream);
int strata_gptk_f32_to_bf16(strata_bf16 *out, const float *in, long n, void *stream);
int strata_gptk_bf16_to_f32(float *out, const strata_bf16 *in, long n, void *stream);

/* qkv (B,T,3C) -> q, k, v (B,NH,T,hs) */
int strata_gptk_permute_qkv(strata_bf16 *q, strata_bf16 *k, strata_bf16 *v,
			    const strata_bf16 *qkv, int B, int T, int NH, int hs, void *stream);
/* y (B,NH,T,hs) -> out (B,T,C) */
int strata_gptk_unpermute(strata_bf16 *out, const strata_bf16 *y, int B, int T, int NH, int hs,
			  void *stream);
/* dout (B,T,C) FP32 -> dy (B,NH,T,hs) BF16 */
int strata_gptk_permute_dout(strata_bf16 *dy, const float *dout, int B, int T, int NH, int hs,
			     void *stream);
/* dq, dk, dv (B,NH,T,hs) FP32 -> dqkv (B,T,3C) BF16 */
int strata_gptk_unpermute_dqkv(strata_bf16 *dqkv, const float *dq, const float *dk,
			       const float *dv, int B, int T, int NH, int hs, void *stream);
/* att (rows, T) = causal softmax of preatt (already scaled); a row r is query
 * position r % T; zeros above the diagonal */
int strata_gptk_attn_softmax_forward(strata_bf16 *att, const float *preatt, long rows, int T,
				     void *stream);
/* dpreatt (rows, T) = att * (datt - sum_j att datt), zero above the diagonal */
int strata_gptk_attn_softmax_backward(strata_bf16 *dpreatt, const strata_bf16 *att,
				      const float *datt, long rows, int T, void *stream);

/* losses (N) = -log softmax(logits[n, 0..V))[targets[n]]; logits row stride ld */
int strata_gptk_xent_forward(float *losses, const strata_bf16 *logits, const int *targets, int N,
			     int V, int ld, void *stream);
/* logits (N, V) overwritten by (softmax - onehot(target)) * dloss */
int strata_gptk_xent_backward(strata_bf16 *logits, const int *targets, float dloss, int N, int V,
			      int ld, void *stream);

/* AdamW (Loshchilov & Hutter 2019, algorithm 2) over n elements, written as
 * kernels/nn/adamw.c writes it:
 *   g = grad * grad_scale; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2
 *   p -= lr * ((m c1) / (sqrt(v c2) + eps) + wd * p)
 * with c1 = 1 / (1 - b1^t), c2 = 1 / (1 - b2^t); then p16 = bf16(p). */
int strata_gptk_adamw(float *p, strata_bf16 *p16, const float *grad, float *m, float *v, long n,
		      float lr, float beta1, float beta2, float c1, float c2, float eps, float wd,
		      float grad_scale, void *stream);

/* ---- inference ---- */
/* Store row r's k and v (from qkv (n,3C)) at cache position (slot[r], pos[r]):
 * kcache, vcache (S, Lmax, C) for one layer */
int strata_gptk_kv_store(strata_bf16 *kcache, strata_bf16 *vcache, const strata_bf16 *qkv,
			 const int *slot, const int *pos, int n, int C, int max_len, void *stream);
/* out (n,C): row r's query against its slot's cache positions 0..pos[r] */
int strata_gptk_kv_attention(strata_bf16 *out, const strata_bf16 *qkv, const strata_bf16 *kcache,
			     const strata_bf16 *vcache, const int *slot, const int *pos, int n,
			     int C, int NH, int max_len, void *stream);
/* *max_len = the largest max_len kv_attention launches with on the current
 * device: its scores take max_len floats of dynamic shared memory, at most
 * the kernel's cudaFuncAttributes::maxDynamicSharedSizeBytes (without an
 * opt-in, 48 KiB less its static shared memory) */
int strata_gptk_kv_attention_max_len(int *max_len);

#ifdef __cplusplus
}
#endif

#endif
