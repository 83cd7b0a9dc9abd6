/* cuda_device.h: which CUDA devices this process sees, their facts, choosing
 * one, and the versions of the CUDA libraries, as a plain C API (no CUDA
 * types), for the suites and the manifest.
 *
 * What it is: thin wrappers of cudaGetDeviceCount, cudaDeviceGetAttribute,
 * cudaSetDevice, cudaRuntimeGetVersion and friends that turn every failure
 * into a sentence.  What it is not: NVML (kernels/gpu/nvml.h) or a device
 * allocator.  Only built with the CUDA backend (STRATA_HAVE_CUDA).
 */
#ifndef STRATA_KERNELS_CUDA_CUDA_DEVICE_H
#define STRATA_KERNELS_CUDA_CUDA_DEVICE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct strata_cuda_device {
	int index;               /* CUDA device ordinal in this process */
	char name[256];
	char pci_bus_id[32];     /* "0000:3b:00.0" (cudaDeviceGetPCIBusId) */
	int cc_major, cc_minor;  /* compute capability */
	int sms;                 /* multiprocessors */
	long long mem_total_bytes, mem_free_bytes; /* free: at the query, after the context */
	long long l2_bytes;
	int clock_khz;           /* peak SM clock (cudaDevAttrClockRate) */
	int mem_clock_khz;       /* peak memory clock */
	int mem_bus_bits;
	int async_engines;       /* copy engines */
	int host_numa_id;        /* cudaDevAttrHostNumaId: nearest host NUMA node, -1 unknown */
};

/* How many devices this process can use.  Returns 0 with *count (which may
 * be 0), or -1 with why when the runtime cannot work at all; why is then a
 * skip reason that starts with "no CUDA device" or "no CUDA driver". */
int strata_cuda_device_count(int *count, char *why, size_t why_len);

/* Make device index current for this thread and create its context
 * (cudaSetDevice, cudaFree(0)), then fill *out.  Returns 0 or -1 with err. */
int strata_cuda_device_use(int index, struct strata_cuda_device *out, char *err,
			   size_t err_len);

/* Fill *out for device index without making it current (for the manifest;
 * mem_free_bytes is -1).  Returns 0 or -1 with err. */
int strata_cuda_device_query(int index, struct strata_cuda_device *out, char *err,
			     size_t err_len);

struct strata_cuda_versions {
	int runtime;          /* cudaRuntimeGetVersion: 13000 for 13.0 */
	int driver;           /* cudaDriverGetVersion: 0 without a driver */
	long long cublaslt;   /* cublasLtGetVersion: 130100 for 13.1.0 */
	int nccl;             /* ncclGetVersion: 22809 for 2.28.9; 0 without NCCL */
	int nccl_compiled;    /* NCCL_VERSION_CODE of the header built against; 0 without */
};
void strata_cuda_versions_get(struct strata_cuda_versions *v);

#ifdef __cplusplus
}
#endif

#endif
