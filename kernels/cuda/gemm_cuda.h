/* gemm_cuda.h: the measured cuBLASLt matmul of the gemm suite (device cuda),
 * as a plain C API.
 *
 * What it is: one D = 1 * op(A) op(B) + 0 * C cuBLASLt call (C = D, column-
 * major, layouts in kernels/gpu/gemm_gpu.h), with its matrices filled on the
 * device by the shared generator, the algorithm chosen by timing the
 * heuristic's top candidates, batches of back-to-back launches timed with
 * CUDA events, and the check of sampled output elements against an FP64
 * host reference.  What it is not: a driver or a printer; the current device
 * must be set (strata_cuda_device_use) before create, on the calling thread.
 * Only built with the CUDA backend.
 */
#ifndef STRATA_KERNELS_CUDA_GEMM_CUDA_H
#define STRATA_KERNELS_CUDA_GEMM_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/gpu/gemm_gpu.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Workspace offered to cuBLASLt: 32 MiB, what the cuBLAS documentation
 * recommends for Hopper (cuBLAS "cublasSetWorkspace": 32 MiB on sm_90). */
#define STRATA_GEMM_CUDA_WORKSPACE_BYTES (32u << 20)
/* Timing of each candidate algorithm in setup: warm-up launches, then
 * launches timed with one pair of events. */
#define STRATA_GEMM_CUDA_ALGO_WARMUP 2
#define STRATA_GEMM_CUDA_ALGO_TIMED 10
/* Elements checked one by one besides the four corners, one whole row and
 * one whole column. */
#define STRATA_GEMM_CUDA_SAMPLES 256

struct strata_gemm_cuda_config {
	enum strata_gemm_gpu_dtype dtype;
	int64_t m, n, k;
	int transa, transb;   /* 1: op(X) = X^T */
	uint64_t seed;
	int top_k;            /* candidates asked of the heuristic (>= 1) */
	size_t workspace_bytes;
};

struct strata_gemm_cuda; /* opaque */

/* Allocate and fill A, B (and C with zeros), create the cuBLASLt
 * descriptors, ask the heuristic for top_k algorithms, time each and keep
 * the fastest.  Returns 0; 1 (skip, with the reason in err) when cuBLASLt
 * offers no algorithm for this type/layout on this GPU; -1 on error. */
int strata_gemm_cuda_create(const struct strata_gemm_cuda_config *cfg,
			    struct strata_gemm_cuda **out, char *err, size_t err_len);
void strata_gemm_cuda_destroy(struct strata_gemm_cuda *g);

/* The candidates in heuristic order, with their times; and the chosen one. */
size_t strata_gemm_cuda_candidates(const struct strata_gemm_cuda *g,
				   const struct strata_gemm_algo **list);
const struct strata_gemm_algo *strata_gemm_cuda_chosen(const struct strata_gemm_cuda *g);
/* Bytes of device memory A, B, C and the workspace take. */
size_t strata_gemm_cuda_bytes(const struct strata_gemm_cuda *g);

/* Launch the chosen algorithm `launches` times back to back on the case's
 * stream between two events, wait for the end event, and return the events'
 * elapsed time (seconds) in *event_s.  Returns 0 or -1 with err. */
int strata_gemm_cuda_run(struct strata_gemm_cuda *g, int launches, double *event_s, char *err,
			 size_t err_len);

/* What the check found. */
struct strata_gemm_cuda_check {
	int64_t checked;         /* distinct elements compared with the reference */
	int64_t wrong;           /* of those, outside the tolerance (NaN always) */
	int64_t nonfinite;       /* NaN/Inf anywhere in C (every element scanned on the device) */
	int64_t first_i, first_j; /* first wrong element, -1 when none */
	double first_expected, first_actual, first_tolerance;
	double max_rel_err;      /* max |c - ref| / tolerance over the checked elements */
};

/* Check C after at least one run: every element scanned for NaN/Inf on the
 * device; the four corners, STRATA_GEMM_CUDA_SAMPLES seeded elements, one
 * whole row and one whole column against strata_gemm_gpu_reference() within
 * strata_gemm_gpu_tolerance(), each distinct element once (a sample that
 * repeats one, or lies on the row or column, is not counted again), so
 * checked and wrong count elements.  Returns the wrong count (max of wrong and
 * nonfinite), or -1 with err on a CUDA error. */
int64_t strata_gemm_cuda_check(struct strata_gemm_cuda *g, struct strata_gemm_cuda_check *out,
			       char *err, size_t err_len);

/* Device launchers of gemm_cuda_fill.cu (used by gemm_cuda.c). */
int strata_gemm_cuda_fill(void *x, int dtype, int matrix, int64_t rows, int64_t cols, int trans,
			  uint64_t seed, int steps, void *stream);
int strata_gemm_cuda_count_nonfinite(const void *c, int dtype, int64_t n,
				     unsigned long long *d_count, void *stream);

#ifdef __cplusplus
}
#endif

#endif
