/* gpt_layers.h: the transformer's layers, one forward/backward pair each, on
 * the CPU in FP32 (OpenBLAS for matmuls, OpenMP for the rest).
 *
 * What it is: the pieces gpt.c chains (and gpt_infer.c reuses for decoding),
 * exposed so that tests/unit/test_nn_grad.c can check every backward against
 * finite differences of its forward.  What it is not: a tensor library; the
 * shapes are fixed by the comments.  Backward functions ADD into the
 * gradients they are given (d-inputs and d-params), so callers zero them.
 * Letters as in gpt.h; N is any number of rows (B*T in training).
 */
#ifndef STRATA_KERNELS_NN_GPT_LAYERS_H
#define STRATA_KERNELS_NN_GPT_LAYERS_H

/* out (B,T,C) = wte[inp] + wpe[t] */
void strata_nn_encoder_forward(float *out, const int *inp, const float *wte, const float *wpe,
                               int B, int T, int C);
void strata_nn_encoder_backward(float *dwte, float *dwpe, const float *dout, const int *inp,
                                int B, int T, int C);

/* out (N,C) = (x - mean) / sqrt(var + 1e-5) * w + b; keeps mean (N), rstd (N) */
void strata_nn_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                                 const float *w, const float *b, int N, int C);
void strata_nn_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                                  const float *inp, const float *w, const float *mean,
                                  const float *rstd, int N, int C);

/* out (N,OC) = inp (N,IC) W^T + bias, W (OC,IC), bias (OC) or NULL */
void strata_nn_matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                              int N, int IC, int OC);
/* dinp (N,IC) += dout W; dw (OC,IC) += dout^T inp; dbias (OC) += sum dout (when not NULL) */
void strata_nn_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                               const float *inp, const float *w, int N, int IC, int OC);

/* Causal multi-head attention over qkv (B,T,3C) laid out [q | k | v] per
 * token, heads hs = C/NH wide: out (B,T,C); keeps att (B,NH,T,T), the softmax
 * probabilities (zero above the diagonal), for backward. */
void strata_nn_attention_forward(float *out, float *att, const float *qkv, int B, int T, int C,
                                 int NH);
void strata_nn_attention_backward(float *dqkv, const float *dout, const float *qkv,
                                  const float *att, int B, int T, int C, int NH);
/* The same with the caller's scratch datt (B,NH,T,T) (overwritten), so that
 * nothing is allocated during backward; the form above allocates it (and
 * aborts when out of memory: it has no error channel). */
void strata_nn_attention_backward_ws(float *dqkv, float *datt, const float *dout,
                                     const float *qkv, const float *att, int B, int T, int C,
                                     int NH);

/* GELU, tanh approximation (Hendrycks & Gimpel 2016, as GPT-2): out (N) */
void strata_nn_gelu_forward(float *out, const float *inp, long N);
void strata_nn_gelu_backward(float *dinp, const float *inp, const float *dout, long N);

/* out = a + b (N); backward adds dout into both */
void strata_nn_residual_forward(float *out, const float *a, const float *b, long N);
void strata_nn_residual_backward(float *da, float *db, const float *dout, long N);

/* probs (N,V) = softmax(logits); losses (N) = -log probs[target] */
void strata_nn_softmax_xent_forward(float *probs, float *losses, const float *logits,
                                    const int *targets, int N, int V);
/* dlogits (N,V) += (probs - onehot(target)) * dloss[n] */
void strata_nn_softmax_xent_backward(float *dlogits, const float *probs, const int *targets,
                                     const float *dlosses, int N, int V);

/* x (n) = softmax(x) in place, n >= 1 (max-subtracted; the loops of the
 * attention softmax, for callers outside this file such as gpt_infer.c). */
void strata_nn_softmax_inplace(float *x, int n);

/* exp(x) branch-free and without libm, so loops over it vectorise (Cephes'
 * expf; relative error about 1e-7; x clamped to [-87.3, 88.3]). */
float strata_nn_expf(float x);

/* The layers run OpenBLAS at one thread inside their own OpenMP regions (see
 * gpt_layers.c for why).  enter sets OpenBLAS to one thread and returns the
 * previous count; leave restores it.  Nested pairs are cheap no-ops. */
int strata_nn_blas_enter(void);
void strata_nn_blas_leave(int prev);

#endif
