/* cuda_device.c: device count, facts, selection and library versions (see
 * cuda_device.h).  Host C against the CUDA runtime; no kernels.
 */
#include "kernels/cuda/cuda_device.h"

#include <stdio.h>
#include <string.h>

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include "kernels/cuda/cuda_check.h"
#include "strata_config.h"
#if STRATA_HAVE_NCCL
#include <nccl.h>
#endif

int strata_cuda_device_count(int *count, char *why, size_t why_len)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	*count = 0;
	if (e == cudaSuccess) {
		*count = n;
		if (n == 0)
			snprintf(why, why_len, "no CUDA device: skipped (cudaGetDeviceCount found none)");
		return 0;
	}
	cudaGetLastError(); /* clear the sticky-free error so later calls start clean */
	if (e == cudaErrorNoDevice)
		snprintf(why, why_len, "no CUDA device: skipped (cudaGetDeviceCount: %s)",
			 cudaGetErrorString(e));
	else if (e == cudaErrorInsufficientDriver || e == cudaErrorStubLibrary)
		snprintf(why, why_len,
			 "no CUDA driver: skipped (cudaGetDeviceCount: %s: %s; the NVIDIA driver "
			 "(libcuda.so.1) is missing or older than CUDA runtime %d)",
			 cudaGetErrorName(e), cudaGetErrorString(e), CUDART_VERSION);
	else
		snprintf(why, why_len, "no CUDA device: skipped (cudaGetDeviceCount: %s: %s)",
			 cudaGetErrorName(e), cudaGetErrorString(e));
	return -1;
}

static int attr(enum cudaDeviceAttr a, int dev, int fallback)
{
	int v = 0;
	return cudaDeviceGetAttribute(&v, a, dev) == cudaSuccess ? v : fallback;
}

int strata_cuda_device_query(int index, struct strata_cuda_device *d, char *err, size_t err_len)
{
	struct cudaDeviceProp prop;
	memset(d, 0, sizeof(*d));
	d->index = index;
	STRATA_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
	snprintf(d->name, sizeof(d->name), "%s", prop.name);
	STRATA_CUDA_CHECK(cudaDeviceGetPCIBusId(d->pci_bus_id, (int)sizeof(d->pci_bus_id), index));
	d->cc_major = prop.major;
	d->cc_minor = prop.minor;
	d->sms = prop.multiProcessorCount;
	d->mem_total_bytes = (long long)prop.totalGlobalMem;
	d->mem_free_bytes = -1;
	d->l2_bytes = prop.l2CacheSize;
	d->clock_khz = attr(cudaDevAttrClockRate, index, 0);
	d->mem_clock_khz = attr(cudaDevAttrMemoryClockRate, index, 0);
	d->mem_bus_bits = attr(cudaDevAttrGlobalMemoryBusWidth, index, 0);
	d->async_engines = attr(cudaDevAttrAsyncEngineCount, index, 0);
	d->host_numa_id = attr(cudaDevAttrHostNumaId, index, -1);
	return 0;
fail:
	return -1;
}

int strata_cuda_device_use(int index, struct strata_cuda_device *d, char *err, size_t err_len)
{
	size_t free_b = 0, total_b = 0;
	STRATA_CUDA_CHECK(cudaSetDevice(index));
	STRATA_CUDA_CHECK(cudaFree(NULL)); /* create the primary context now, not in timing */
	if (strata_cuda_device_query(index, d, err, err_len) != 0)
		return -1;
	STRATA_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
	d->mem_free_bytes = (long long)free_b;
	return 0;
fail:
	return -1;
}

void strata_cuda_versions_get(struct strata_cuda_versions *v)
{
	memset(v, 0, sizeof(*v));
	if (cudaRuntimeGetVersion(&v->runtime) != cudaSuccess)
		v->runtime = 0;
	if (cudaDriverGetVersion(&v->driver) != cudaSuccess)
		v->driver = 0;
	v->cublaslt = (long long)cublasLtGetVersion();
#if STRATA_HAVE_NCCL
	if (ncclGetVersion(&v->nccl) != ncclSuccess)
		v->nccl = 0;
	v->nccl_compiled = NCCL_VERSION_CODE;
#endif
}
