/* estimate.h: `strata estimate`: projections for a training or serving job
 * from a run's measured figures (the calculators of ML-infrastructure
 * guides, made honest by real measurements).  Every formula, input and
 * assumption is printed beside the answer.
 *
 * Memory per accelerator, training (Rajbhandari et al., "ZeRO: Memory
 * Optimizations Toward Training Trillion Parameter Models", SC 2020, sec.
 * 3.1): weights and gradients in the training precision, optimizer states
 * in fp32 (Adam with mixed precision: master weights, momentum, variance =
 * 12 bytes per parameter; SGD with momentum: 8; fp32 training: Adam's two
 * moments = 8); ZeRO stages 1/2/3 divide optimizer states / + gradients /
 * + weights by the data-parallel width.  Activations of a transformer layer
 * (Korthikanti et al., "Reducing Activation Recomputation in Large
 * Transformer Models", MLSys 2023, eq. 1, 16-bit, no tensor parallelism):
 * s b h (34 + 5 a s / h) bytes; with selective recomputation 34 s b h; with
 * full recomputation 2 s b h (the layer input only).
 * Serving: weights + KV cache 2 (K and V) x layers x context x batch x
 * hidden x kv_heads / heads x bytes.
 *
 * Step time of data-parallel training on G accelerators:
 *   compute = F x tokens per step / (G x R x u), F = 6 N + 6 L s h FLOP per
 *   token (Kaplan et al., "Scaling Laws for Neural Language Models", 2020,
 *   sec. 2.1; 8 N with full recomputation), R = the measured GEMM rate per
 *   accelerator at the training precision, u = the assumed fraction of that
 *   rate the whole model sustains;
 *   all-reduce of the gradients (ring, nccl-tests doc/PERFORMANCE.md) =
 *   2 (G - 1) / G x S / busbw, S = N x gradient bytes (x 1.5 with ZeRO-3,
 *   ZeRO paper sec. 7), busbw = the measured bus bandwidth at the largest
 *   message; exposed communication = max(0, comm - overlap x compute).
 *   step = compute + exposed communication; data loading is taken as
 *   prefetched, so it limits only when it takes longer than a step.
 * Time and cost of T tokens: T / tokens per step steps; accelerator-hours
 * x price.  Storage: bytes per step / step time, per node.
 */
#ifndef STRATA_ESTIMATE_H
#define STRATA_ESTIMATE_H

#include "reports/doc.h"
#include "reports/run.h"

enum strata_optimizer { STRATA_OPT_ADAM, STRATA_OPT_SGD, STRATA_OPT_NONE };
enum strata_recompute { STRATA_RECOMPUTE_NONE, STRATA_RECOMPUTE_SELECTIVE, STRATA_RECOMPUTE_FULL };

struct strata_estimate_inputs {
	double params;         /* N, parameters (required) */
	const char *precision; /* "bf16" (default), "fp16", "fp32", "fp8" */
	enum strata_optimizer optimizer;
	int zero;             /* 0..3 */
	double gpus;          /* G, accelerators (default: the run's ranks) */
	double gpus_per_node; /* default: the manifest's GPUs per node, else ranks per node */
	double layers, hidden, heads, kv_heads, seq_len,
	    micro_batch; /* model shape, 0: not given */
	enum strata_recompute recompute;
	double global_batch;         /* sequences per step (0: not given) */
	double tokens;               /* T to train on (0: not given) */
	double price;                /* per accelerator-hour (0: not given) */
	const char *currency;        /* "USD" */
	double util;                 /* u, fraction of the measured GEMM rate (0.5) */
	double overlap;              /* fraction of compute that hides communication (0) */
	double gemm_tflops;          /* override the measured GEMM rate (per accelerator) */
	double busbw_gbps;           /* override the measured bus bandwidth */
	double storage_gbps;         /* override the measured storage throughput (per node) */
	double bytes_per_token;      /* dataset bytes per token (2: 16-bit token ids) */
	double memory_gib;           /* accelerator memory (default: the manifest's) */
	int serve;                   /* serving instead of training */
	double serve_batch, context; /* serving: concurrent sequences, context length */
};

void strata_estimate_inputs_default(struct strata_estimate_inputs *in);

/* Build the projection into d (initialised here; the caller releases it
 * whatever the result).  run may be NULL when every measured figure is
 * given by an override.  Returns 0, or -1 with a message (a missing input
 * or a measured figure the run does not have). */
int strata_estimate_build(const struct strata_run *run, const struct strata_estimate_inputs *in,
                          struct strata_doc *d, char *err, size_t err_len);

#endif
