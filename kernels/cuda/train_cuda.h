/* train_cuda.h: the data-parallel half of the train suite's CUDA path: the
 * gradient all-reduce in buckets on a communication stream, overlapped with
 * the backward pass, and the gradient's global L2 norm for clipping, as a
 * plain C API (no CUDA or NCCL types).
 *
 * What it is: the model (gpt_cuda.h) enqueues its backward on its stream and
 * announces each finished range of the flat FP32 gradient (its grads-ready
 * callback, gpt.h's order: from the end of the array towards its start).
 * Adjacent ranges are gathered into a pending bucket; when it holds at least
 * bucket_bytes, an event is recorded on the model's stream, the communication
 * stream waits for it, and ncclAllReduce (FP32, sum, in place) of the bucket
 * is enqueued there, while the host goes on enqueuing the layers below: the
 * gradient buckets of PyTorch DDP (Li et al., "PyTorch Distributed", VLDB
 * 2020, section 3.2.3), as kernels/nn/grad_buckets.h does with MPI on the CPU.
 * wait() blocks the host until the step's last all-reduce has finished (so,
 * called once the backward's own kernels have finished, the time it blocks is
 * the all-reduce the backward did not hide: "exposed") and then makes the
 * model's stream wait for the communication stream, so that the optimizer
 * and the next zero_grad come after every all-reduce.  The sum is not
 * divided here: the caller folds 1/ranks into AdamW's grad_scale.
 * l2norm() adds the squares in a fixed order (a fixed grid whatever the GPU,
 * per-block partial sums in double, one block adding those), so ranks that
 * hold identical gradients get bit-identical norms, hence identical clipping
 * and identical weights.
 * Without a communicator (one rank, or a build without NCCL) nothing is sent:
 * the buckets are only counted.
 *
 * What it is not: an MPI user (the suite makes the communicator with
 * nccl_coll.h's unique id and comm_init), gradient compression, BF16
 * communication, or a timer of the backward itself.  Only built with the
 * CUDA backend (STRATA_HAVE_CUDA).  Errors: 0 or -1 with "file:line: call:
 * error" in err (cuda_check.h).
 */
#ifndef STRATA_KERNELS_CUDA_TRAIN_CUDA_H
#define STRATA_KERNELS_CUDA_TRAIN_CUDA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct strata_train_cuda;   /* opaque */
struct strata_nccl_comm;    /* nccl_coll.h */

/* model_stream: the model's cudaStream_t (strata_gpt_cuda_stream); comm: the
 * NCCL communicator of the training ranks, or NULL (nothing is sent);
 * bucket_bytes >= 4.  The current device must be the model's.  0 or -1. */
int strata_train_cuda_create(struct strata_train_cuda **out, void *model_stream,
			     struct strata_nccl_comm *comm, size_t bucket_bytes, char *err,
			     size_t err_len);
void strata_train_cuda_destroy(struct strata_train_cuda *t);

/* Start a step over the device gradient grads (n floats): forget the last
 * step's buckets.  overlap 0: nothing is sent during backward; flush then
 * sends the whole array [0, n) in buckets from its end. */
void strata_train_cuda_begin(struct strata_train_cuda *t, float *grads, size_t n, int overlap);
/* The grads-ready callback (gpt_cuda.h's strata_gpt_cuda_grads_ready_fn) with
 * ctx = t.  A failure is kept and returned by the next flush or wait. */
void strata_train_cuda_ready(void *ctx, float *grads, size_t offset, size_t count, void *stream);
/* Send what is pending (overlap 0: every bucket), ordered after everything
 * enqueued on the model's stream so far.  0 or -1 with err. */
int strata_train_cuda_flush(struct strata_train_cuda *t, char *err, size_t err_len);
/* Block until every all-reduce sent since begin has finished (NCCL's
 * asynchronous errors are polled meanwhile), *seconds = the host time spent
 * blocking; then the model's stream waits for the communication stream.
 * 0 or -1 with err. */
int strata_train_cuda_wait(struct strata_train_cuda *t, double *seconds, char *err,
			   size_t err_len);
/* Buckets sent since begin (counted also without a communicator). */
size_t strata_train_cuda_buckets(const struct strata_train_cuda *t);

/* *norm = sqrt(sum of x[i]^2) over the device array x (n floats), on the
 * model's stream after what is enqueued there, in a fixed order (see the top
 * of the file); waits for it.  0 or -1 with err. */
int strata_train_cuda_l2norm(struct strata_train_cuda *t, const float *x, size_t n,
			     double *norm, char *err, size_t err_len);

/* Launcher of train_cuda_kernels.cu (private to this module and its mock):
 * partial (STRATA_TRAINK_SUMSQ_BLOCKS doubles) = per-block sums of x[i]^2 over
 * a fixed grid, then out[0] = their sum, both in a fixed order; enqueued on
 * stream.  Returns the launch's cudaError_t as an int. */
#define STRATA_TRAINK_SUMSQ_BLOCKS 1024
#define STRATA_TRAINK_SUMSQ_THREADS 256
int strata_traink_sumsq(const float *x, size_t n, double *partial, double *out, void *stream);

#ifdef __cplusplus
}
#endif

#endif
