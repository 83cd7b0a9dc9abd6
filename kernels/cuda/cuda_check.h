/* cuda_check.h: the error-check macros of the CUDA backend (private to
 * kernels/cuda; the suites never see CUDA types).
 *
 * Every CUDA runtime, cuBLAS(Lt) and NCCL call is wrapped: on failure the
 * macro writes "file:line: call: error name: error string" into the caller's
 * error buffer (err, err_len must be in scope) and jumps to the caller's
 * `fail` label, where the function releases what it holds and returns -1
 * (kernel style, as STYLE.md asks).  Nothing here prints or exits.
 */
#ifndef STRATA_KERNELS_CUDA_CUDA_CHECK_H
#define STRATA_KERNELS_CUDA_CUDA_CHECK_H

#include <stdio.h>

#include <cuda_runtime_api.h>

#define STRATA_CUDA_CHECK(call)                                                              \
	do {                                                                                 \
		cudaError_t strata_e_ = (call);                                              \
		if (strata_e_ != cudaSuccess) {                                              \
			snprintf(err, err_len, "%s:%d: %s: %s: %s", __FILE__, __LINE__, #call, \
				 cudaGetErrorName(strata_e_), cudaGetErrorString(strata_e_)); \
			goto fail;                                                           \
		}                                                                            \
	} while (0)

/* A kernel launch: the launch error at once, execution errors at the next
 * synchronising call. */
#define STRATA_CUDA_CHECK_LAUNCH(what) STRATA_CUDA_CHECK(cudaGetLastError())

#define STRATA_CUBLAS_CHECK(call)                                                            \
	do {                                                                                 \
		cublasStatus_t strata_s_ = (call);                                           \
		if (strata_s_ != CUBLAS_STATUS_SUCCESS) {                                    \
			snprintf(err, err_len, "%s:%d: %s: %s (%d)", __FILE__, __LINE__, #call,   \
				 cublasGetStatusString(strata_s_), (int)strata_s_);           \
			goto fail;                                                           \
		}                                                                            \
	} while (0)

#define STRATA_NCCL_CHECK(call, comm)                                                        \
	do {                                                                                 \
		ncclResult_t strata_r_ = (call);                                             \
		if (strata_r_ != ncclSuccess) {                                              \
			const char *strata_last_ = (comm) ? ncclGetLastError(comm) : NULL;   \
			snprintf(err, err_len, "%s:%d: %s: %s%s%s", __FILE__, __LINE__, #call,   \
				 ncclGetErrorString(strata_r_), strata_last_ ? ": " : "",     \
				 strata_last_ ? strata_last_ : "");                           \
			goto fail;                                                           \
		}                                                                            \
	} while (0)

#endif
