/* train_gpu.h: the device-cuda half of the train suite (suites/train.c): one
 * GPU per training rank, BF16 compute with FP32 master weights
 * (kernels/cuda/gpt_cuda.h), the gradient summed over the ranks by NCCL in
 * buckets overlapped with the backward (kernels/cuda/train_cuda.h).
 *
 * What it is: train.c keeps everything a training run is (the data, the
 * loader, the schedule, the checks, the time to train, the record) and asks
 * this file for what happens on the GPU: opening the rank's GPU, the model on
 * it, one optimizer step with its phase times, a forward for the validation
 * loss, copies of the weights, the all-reduce alone, the MFU peak, telemetry
 * and the record's GPU objects.  One step: forward with the loss (the inputs
 * copied to the device first: host_to_device), zero_grad, backward whose
 * grads-ready callback sends buckets, the last bucket, the GPU synchronised
 * (backward), the wait for the last all-reduce (allreduce_exposed), then on
 * the GPU the gradient's norm (for clipping), AdamW with grad_scale = (1 /
 * ranks) x min(1, clip / norm of the mean gradient), and the GPU synchronised
 * again (optimizer), so the runner's host-clock repetition covers every
 * kernel of the step.
 * What it is not: CUDA (plain C, built with or without the backend; without
 * it, or without a GPU, open skips with the reason), or a second training
 * loop.
 */
#ifndef STRATA_SUITES_TRAIN_GPU_H
#define STRATA_SUITES_TRAIN_GPU_H

#include <stddef.h>

#include <jansson.h>
#include <mpi.h>

#include "harness/suite.h"
#include "kernels/nn/gpt.h"

struct strata_train_gpu; /* opaque */

/* Phase times of one step, seconds. */
struct strata_train_gpu_phases {
	double h2d_s;               /* CUDA events around the copy of inputs and targets */
	double forward_s;           /* host clock, forward with the loss, less h2d_s */
	double backward_s;          /* host clock, until the GPU finished the backward */
	double allreduce_exposed_s; /* host clock blocked on the last all-reduce */
	double optimizer_s;         /* norm, AdamW, GPU synchronised */
};

/* Collective over comm (the training ranks; every one calls it): open this
 * rank's GPU (the local rank among the training ranks of its host, modulo
 * the devices it sees; kernels/gpu/gpu_case.h), check there is one GPU per
 * training rank on each host, and make the NCCL communicator over comm.
 * Returns STRATA_OK, or STRATA_SKIP / STRATA_ERROR with the reason in c->err,
 * the same on every rank of comm; *out is NULL unless OK. */
int strata_train_gpu_open(const struct strata_case *c, MPI_Comm comm, size_t bucket_bytes,
			  int overlap, struct strata_train_gpu **out);
void strata_train_gpu_close(struct strata_train_gpu *g);

/* Collective over the training ranks: STRATA_SKIP (reason in c->err) when a
 * rank's GPU has less free memory than the model needs for (B, T)
 * (strata_train_gpu_model_bytes, + 5% + 256 MiB as gpu_case.h), else OK. */
int strata_train_gpu_check_memory(struct strata_train_gpu *g, const struct strata_case *c,
				  const struct strata_gpt_config *cfg, int B, int T);

/* The model on the GPU from the CPU model init (its config, weights and
 * tensor table; init may be made with max_B = max_T = 1), for micro-batches
 * up to (B, T), and fresh AdamW state.  The first call creates it; later
 * calls with the same shape load init's weights and reset the optimizer
 * (time_to_train's fresh runs: the buffers and cuBLASLt's algorithm choices
 * are kept).  Returns 0 or -1 with err. */
int strata_train_gpu_model(struct strata_train_gpu *g, const struct strata_gpt *init, int B,
			   int T, float beta1, float beta2, float eps, float weight_decay,
			   char *err, size_t err_len);

/* One optimizer step on inputs and targets (B, T) at learning rate lr,
 * clipping the mean gradient's global L2 norm to grad_clip (0: off).
 * Returns 0 with *loss and *ph, or -1 with err. */
int strata_train_gpu_step(struct strata_train_gpu *g, const int *inputs, const int *targets,
			  int B, int T, float lr, double grad_clip, float *loss,
			  struct strata_train_gpu_phases *ph, char *err, size_t err_len);
/* The mean loss of a forward (no backward), for the validation loss. */
int strata_train_gpu_loss(struct strata_train_gpu *g, const int *inputs, const int *targets,
			  int B, int T, float *loss, char *err, size_t err_len);
/* FP32 master weights to and from host memory (n_params floats, gpt.h's
 * layout). */
int strata_train_gpu_get_params(struct strata_train_gpu *g, float *params, char *err,
				size_t err_len);
int strata_train_gpu_set_params(struct strata_train_gpu *g, const float *params, char *err,
				size_t err_len);
/* Collective over comm: the whole gradient (zeroed first) all-reduced in the
 * step's buckets, nothing else running; *seconds = host time on this rank. */
int strata_train_gpu_allreduce_all(struct strata_train_gpu *g, double *seconds, char *err,
				   size_t err_len);
/* Buckets the last step sent. */
size_t strata_train_gpu_buckets(const struct strata_train_gpu *g);
/* Bytes of device memory the model needs for (B, T) with AdamW (what
 * strata_gpt_cuda_memory's model_bytes will say); 0 without CUDA. */
double strata_train_gpu_model_bytes(const struct strata_gpt_config *cfg, int B, int T);
/* Device memory: the model's bytes, and the device-wide peak in use. */
void strata_train_gpu_memory(const struct strata_train_gpu *g, double *model_bytes,
			     double *device_peak_bytes);

/* Rank 0: the per-GPU peak MFU is computed against: the gemm suite's best
 * BF16 GFLOP/s on cuda earlier in this run (c->run_records), else the GPU's
 * datasheet dense BF16 peak (kernels/gpu/gpu_peak.h), else 0; source says
 * which. */
void strata_train_gpu_find_peak(const struct strata_train_gpu *g, const struct strata_case *c,
				double *gflops, char *source, size_t source_len);

/* Around each run_once (energy of the timed phase, steps counted), and the
 * end of the measured part (first thing in verify). */
void strata_train_gpu_before_run(struct strata_train_gpu *g, const struct strata_case *c);
void strata_train_gpu_after_run(struct strata_train_gpu *g, const struct strata_case *c,
				int steps);
void strata_train_gpu_stop(struct strata_train_gpu *g);

/* The record's gpu, quiescence, telemetry, health and energy objects (work:
 * GFLOP per step), and gpu_memory and nccl facts. */
void strata_train_gpu_describe(const struct strata_train_gpu *g, json_t *details,
			       double gflop_per_step);

#endif
