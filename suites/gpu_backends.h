/* gpu_backends.h: the device-cuda halves of the gemm, membw and collective
 * suites (suites/gemm_gpu.c, suites/membw_gpu.c, suites/coll_gpu.c).
 *
 * What it is: each suite's setup picks its backend from the case's `device`
 * parameter; for cuda it calls the setup here and keeps the returned state
 * beside its own, then forwards its other hooks.  The hooks have the meaning
 * of harness/suite.h's.  What it is not: CUDA: these files are plain C built
 * with or without the CUDA backend; without it every setup skips with
 * "strata was built without CUDA".
 */
#ifndef STRATA_SUITES_GPU_BACKENDS_H
#define STRATA_SUITES_GPU_BACKENDS_H

#include <stdint.h>

#include <jansson.h>

#include "harness/suite.h"

/* Launches per repetition: about this much GPU time, so the launch and
 * synchronisation latency of one batch is small beside it. */
#define STRATA_GPU_BATCH_TARGET_S 0.02
#define STRATA_GPU_BATCH_MAX 1000

/* ---- gemm, device cuda (cuBLASLt) --------------------------------------- */
struct strata_gemm_gpu_state;
int strata_gemm_gpu_setup(const struct strata_case *c, struct strata_gemm_gpu_state **out);
int strata_gemm_gpu_run_once(struct strata_gemm_gpu_state *s, const struct strata_case *c);
int64_t strata_gemm_gpu_verify(struct strata_gemm_gpu_state *s, const struct strata_case *c);
void strata_gemm_gpu_teardown(struct strata_gemm_gpu_state *s);
size_t strata_gemm_gpu_metrics(const struct strata_gemm_gpu_state *s, const struct strata_case *c,
			       double seconds, struct strata_metric *out, size_t max);
void strata_gemm_gpu_describe(const struct strata_gemm_gpu_state *s, const struct strata_case *c,
			      json_t *details);
double strata_gemm_gpu_device_seconds(const struct strata_gemm_gpu_state *s);

/* ---- membw, device cuda (STREAM kernels, copy engines) ------------------- */
struct strata_membw_gpu_state;
int strata_membw_gpu_setup(const struct strata_case *c, struct strata_membw_gpu_state **out);
int strata_membw_gpu_run_once(struct strata_membw_gpu_state *s, const struct strata_case *c);
int64_t strata_membw_gpu_verify(struct strata_membw_gpu_state *s, const struct strata_case *c);
void strata_membw_gpu_teardown(struct strata_membw_gpu_state *s);
size_t strata_membw_gpu_metrics(const struct strata_membw_gpu_state *s,
				const struct strata_case *c, double seconds,
				struct strata_metric *out, size_t max);
void strata_membw_gpu_describe(const struct strata_membw_gpu_state *s,
			       const struct strata_case *c, json_t *details);
double strata_membw_gpu_device_seconds(const struct strata_membw_gpu_state *s);

/* ---- collectives, device cuda (NCCL) -------------------------------------- *
 * kind is an enum strata_coll_kind; counts come from strata_coll_counts_get. */
struct strata_coll_gpu_state;
struct strata_coll_counts;
int strata_coll_gpu_setup(int kind, const struct strata_case *c,
			  const struct strata_coll_counts *counts, int dtype_index, int inplace,
			  int root, struct strata_coll_gpu_state **out);
int strata_coll_gpu_run_once(struct strata_coll_gpu_state *s, const struct strata_case *c);
int64_t strata_coll_gpu_verify(struct strata_coll_gpu_state *s, const struct strata_case *c);
void strata_coll_gpu_teardown(struct strata_coll_gpu_state *s);
/* Collectives per run_once (the runner's time is divided by it). */
int strata_coll_gpu_launches(const struct strata_coll_gpu_state *s);
void strata_coll_gpu_describe(const struct strata_coll_gpu_state *s, const struct strata_case *c,
			      double bytes_per_launch, json_t *details);

#endif
