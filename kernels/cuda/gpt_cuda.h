/* gpt_cuda.h: the transformer of kernels/nn/gpt.h on one CUDA GPU, BF16
 * compute with FP32 master weights, as a plain C API (no CUDA types).
 *
 * What it is: the same model, parameter layout and semantics as gpt.h (the
 * CPU backend is the reference it is validated against, see
 * tests/unit/test_gpt_cuda.c):
 *   - parameters: FP32 master copy in gpt.h's flat layer-major layout, and a
 *     BF16 copy of the same array that the matmuls read, refreshed by every
 *     optimizer step and by set_params;
 *   - gradients: FP32, the same flat layout, so the training suite can
 *     all-reduce contiguous ranges with NCCL in FP32;
 *   - forward with the loss, backward with gpt.h's grads-ready order (final
 *     layernorm, layers L-1..0, then the embeddings), AdamW on the device.
 * Linear layers go through cuBLASLt (BF16 A/B, FP32 accumulation; the bias
 * added by the BIAS epilogue in the forward, by a kernel where the bias is not
 * 16-byte aligned; weight gradients accumulated in
 * FP32 with beta = 1); the attention's Q K^T and att V, and their backward,
 * through cublasGemmStridedBatchedEx (one batch per (sequence, head)); the
 * rest is CUDA kernels in gpt_cuda_kernels.cu.  The inference side (KV cache,
 * prefill and batched decode with gpt_infer.h's semantics) is at the end.
 *
 * Precision (what is rounded to BF16 and what stays FP32): the residual
 * stream and its gradient, layernorm statistics, softmax sums, the loss,
 * master weights, gradients and AdamW moments are FP32; layernorm outputs,
 * matmul outputs, attention probabilities, the GELU output, logits and the
 * activation gradients that feed a matmul are BF16.
 *
 * What it is not: multi-GPU (the caller all-reduces the gradient ranges),
 * activation recomputation, flash attention, a tokenizer.  The current
 * device must be set (strata_cuda_device_use) before create, and every call
 * on one model must come from the same thread.  Only built with the CUDA
 * backend (STRATA_HAVE_CUDA).
 *
 * Errors: functions that can fail return 0 or -1 with "file:line: call:
 * error" in err (kernels/cuda/cuda_check.h).  After a CUDA error the model's
 * stream may be unusable; destroy it.
 */
#ifndef STRATA_KERNELS_CUDA_GPT_CUDA_H
#define STRATA_KERNELS_CUDA_GPT_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/nn/gpt.h"

#ifdef __cplusplus
extern "C" {
#endif

struct strata_gpt_cuda; /* opaque */

/* Workspace offered to cuBLASLt: 32 MiB, as the cuBLAS documentation
 * recommends for Hopper (cublasSetWorkspace: 32 MiB on sm_90). */
#define STRATA_GPT_CUDA_WORKSPACE_BYTES (32u << 20)

/* Build the model on the current device for micro-batches up to (max_B,
 * max_T) from a CPU model: its config, its FP32 parameters (so the CPU and the
 * GPU start from identical weights) and its tensor table (for the AdamW decay
 * mask).  Only init->cfg, params, tensors and n_tensors are read; a CPU model
 * made with max_B = max_T = 1 is enough.  Every buffer is allocated here, so
 * forward and backward allocate nothing.  Returns 0 or -1 with err (shape,
 * out of device memory, CUDA error). */
int strata_gpt_cuda_create(const struct strata_gpt *init, int max_B, int max_T,
			   struct strata_gpt_cuda **out, char *err, size_t err_len);
void strata_gpt_cuda_destroy(struct strata_gpt_cuda *g);

const struct strata_gpt_config *strata_gpt_cuda_config(const struct strata_gpt_cuda *g);
size_t strata_gpt_cuda_param_count(const struct strata_gpt_cuda *g);

/* The model's CUDA stream (a cudaStream_t): every call enqueues its work on
 * it.  Work the caller launches on other streams that reads or writes the
 * model's buffers must be ordered against it with events. */
void *strata_gpt_cuda_stream(const struct strata_gpt_cuda *g);
/* Device pointers of the FP32 gradient and master parameter arrays
 * (n_params each, gpt.h's layout). */
float *strata_gpt_cuda_grads_device(struct strata_gpt_cuda *g);
float *strata_gpt_cuda_params_device(struct strata_gpt_cuda *g);

/* Forward over inputs (B, T) token ids (host memory, copied to the device
 * here through a pinned staging buffer); with targets (B, T) also the mean
 * softmax cross-entropy, written to *mean_loss (-1 when targets is NULL).
 * Waits for the GPU when targets are given (the loss comes back to the
 * host).  B <= max_B, T <= max_T, ids < V (checked on the host). */
int strata_gpt_cuda_forward(struct strata_gpt_cuda *g, const int *inputs, const int *targets,
			    int B, int T, float *mean_loss, char *err, size_t err_len);
/* Seconds the host-to-device copy of the last forward's inputs and targets
 * took on the GPU (CUDA events around the copies; waits for them). */
int strata_gpt_cuda_h2d_seconds(struct strata_gpt_cuda *g, double *seconds, char *err,
				size_t err_len);
/* The last forward's logits (B, T, V), converted from BF16 to FP32 into
 * host memory.  Only valid between a forward and the next backward (the
 * backward overwrites the logits with their gradient). */
int strata_gpt_cuda_get_logits(struct strata_gpt_cuda *g, float *logits, char *err,
			       size_t err_len);

/* Called by backward as soon as the work that finishes a contiguous range of
 * the gradient has been enqueued on `stream` (the model's, a cudaStream_t):
 * the final layernorm's range, then each layer's block from L-1 down to 0,
 * then the embeddings' (wte, wpe), the order and ranges of gpt.h's
 * strata_gpt_grads_ready_fn.  grads is the base of the whole FP32 gradient
 * array (the range is grads + offset, count floats).  To overlap an
 * all-reduce with the rest of the backward, record an event on `stream`,
 * make a communication stream wait for it and launch the collective there;
 * later backward kernels never touch a range already handed out.  Before the
 * next optimizer step or zero_grad the model's stream must wait for what the
 * caller launched (cudaStreamWaitEvent). */
typedef void (*strata_gpt_cuda_grads_ready_fn)(void *ctx, float *grads, size_t offset,
					       size_t count, void *stream);

/* grads = 0 (enqueued). */
int strata_gpt_cuda_zero_grad(struct strata_gpt_cuda *g, char *err, size_t err_len);
/* Backward of the last forward (which had targets): adds d mean_loss /
 * d params into grads (so micro-batches accumulate, as gpt.h).  ready may be
 * NULL.  Enqueued; does not wait for the GPU. */
int strata_gpt_cuda_backward(struct strata_gpt_cuda *g, strata_gpt_cuda_grads_ready_fn ready,
			     void *ctx, char *err, size_t err_len);

/* AdamW on the device, the same update as kernels/nn/adamw.h (decoupled
 * weight decay, bias correction, decay only where init's tensor table says),
 * moments FP32.  init allocates the moments (zeros) and resets the step
 * count; step applies one update at learning rate lr to the FP32 master
 * weights with grads * grad_scale (1 / ranks after a summing all-reduce),
 * then refreshes the BF16 copy. */
int strata_gpt_cuda_adamw_init(struct strata_gpt_cuda *g, float beta1, float beta2, float eps,
			       float weight_decay, char *err, size_t err_len);
int strata_gpt_cuda_adamw_step(struct strata_gpt_cuda *g, float lr, float grad_scale, char *err,
			       size_t err_len);

/* Copies between host FP32 arrays (n_params) and the device; they wait for
 * the GPU.  set_params also refreshes the BF16 copy (e.g. after loading a
 * checkpoint); set_grads is for tests of the optimizer. */
int strata_gpt_cuda_get_params(struct strata_gpt_cuda *g, float *params, char *err,
			       size_t err_len);
int strata_gpt_cuda_set_params(struct strata_gpt_cuda *g, const float *params, char *err,
			       size_t err_len);
int strata_gpt_cuda_get_grads(struct strata_gpt_cuda *g, float *grads, char *err,
			      size_t err_len);
int strata_gpt_cuda_set_grads(struct strata_gpt_cuda *g, const float *grads, char *err,
			      size_t err_len);

/* Wait for everything enqueued on the model's stream. */
int strata_gpt_cuda_synchronize(struct strata_gpt_cuda *g, char *err, size_t err_len);

/* Device memory: what this model allocated itself (parameters, gradients,
 * moments, activations, workspace, KV caches made from it), and the largest
 * device-wide use (total - free, cudaMemGetInfo) seen after create and after
 * every forward, backward and optimizer step, which also counts the CUDA
 * context and what cuBLAS allocates internally. */
struct strata_gpt_cuda_memory {
	size_t model_bytes;
	size_t device_used_peak_bytes;
	size_t device_total_bytes;
};
void strata_gpt_cuda_memory(const struct strata_gpt_cuda *g, struct strata_gpt_cuda_memory *out);

/* ---- inference: KV cache (gpt_infer.h's semantics on the GPU) ------------- */

/* Per layer and slot, the keys and values (BF16) of every position already
 * seen; prefill appends a prompt to one slot, decode appends one token to
 * each of a set of slots (batched through every matmul, attention per slot
 * over its own cache).  Logits come back to the host as FP32.  The cache
 * reads the model's BF16 weights (after the last optimizer step or
 * set_params) and must be destroyed before the model. */
struct strata_gpt_cuda_kv; /* opaque */

/* slots S, max_len Lmax <= Tmax.  0 or -1 with err. */
int strata_gpt_cuda_kv_create(struct strata_gpt_cuda *g, int slots, int max_len,
			      struct strata_gpt_cuda_kv **out, char *err, size_t err_len);
void strata_gpt_cuda_kv_destroy(struct strata_gpt_cuda_kv *kv);
/* Forget slot's cache (its length becomes 0). */
int strata_gpt_cuda_kv_reset(struct strata_gpt_cuda_kv *kv, int slot, char *err,
			     size_t err_len);
/* Positions cached in slot, or -1 for a bad slot. */
int strata_gpt_cuda_kv_len(const struct strata_gpt_cuda_kv *kv, int slot);
/* Append n tokens to slot's sequence and write the logits (V) of the last
 * one to host memory.  -1 with err when the slot would exceed Lmax. */
int strata_gpt_cuda_kv_prefill(struct strata_gpt_cuda_kv *kv, int slot, const int *tokens, int n,
			       float *logits, char *err, size_t err_len);
/* One decode step: append tokens[i] to slot slots[i] for i < n (distinct
 * slots, n <= S) and write logits (n, V) to host memory.  -1 with err when a
 * slot is full. */
int strata_gpt_cuda_kv_decode(struct strata_gpt_cuda_kv *kv, const int *slots, const int *tokens,
			      int n, float *logits, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif
