/* mock_device.c: the CUDA runtime's device layer for the host stand-in
 * (strata_mock_cuda and test_gpt_cuda_mock): device count and selection,
 * device properties and attributes, library versions, synchronous copies
 * and sets, host registration, and CUDA events that measure host time.
 *
 * What it is: definitions that take the place of cudart's, so that
 * kernels/cuda/cuda_device.c, gemm_cuda.c, copy_cuda.c and nccl_coll.c run
 * unchanged on "device" memory that is host memory (mock_cuda.c's
 * cudaMalloc).  Every "kernel" and copy has already run when it is enqueued,
 * so an event records the host clock and the elapsed time between two events
 * is the host time of the work between them (at least 1 microsecond, so a
 * rate is never infinite).  The device is an H100 SXM unless the environment
 * says otherwise:
 *   MOCK_CUDA_DEVICES  devices each process sees (default 1)
 *   MOCK_CUDA_NAME     device name (default "NVIDIA H100 80GB HBM3")
 *   MOCK_CUDA_CC       compute capability as "major.minor" (default 9.0)
 *   MOCK_CUDA_BUS_BY_RANK=1  device d's PCI bus is 0x18 + d + 8 x the Open MPI
 *                      local rank, as when each rank sees only its own GPU
 *                      (Slurm --gpus-per-task, a per-rank CUDA_VISIBLE_DEVICES)
 * What it is not: a model of a GPU's speed, of asynchrony or of streams.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cublasLt.h>
#include <cuda_runtime_api.h>

/* ---- devices ---------------------------------------------------------------- */

static _Thread_local int current_device;

static int device_count(void)
{
	const char *env = getenv("MOCK_CUDA_DEVICES");
	/* 0 is a host without a GPU: cudaGetDeviceCount finds none */
	return env && *env ? (atoi(env) > 0 ? atoi(env) : 0) : 1;
}

/* PCI bus number of device dev (see MOCK_CUDA_BUS_BY_RANK). */
static int device_bus(int dev)
{
	const char *by_rank = getenv("MOCK_CUDA_BUS_BY_RANK");
	const char *local = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
	int offset = by_rank && atoi(by_rank) == 1 && local ? 8 * atoi(local) : 0;
	return 0x18 + dev + offset;
}

static const char *device_name(void)
{
	const char *env = getenv("MOCK_CUDA_NAME");
	return env && *env ? env : "NVIDIA H100 80GB HBM3";
}

static void device_cc(int *major, int *minor)
{
	const char *env = getenv("MOCK_CUDA_CC");
	*major = 9;
	*minor = 0;
	if (env && sscanf(env, "%d.%d", major, minor) != 2) {
		*major = 9;
		*minor = 0;
	}
}

cudaError_t cudaGetDeviceCount(int *count)
{
	*count = device_count();
	return cudaSuccess;
}
cudaError_t cudaSetDevice(int dev)
{
	if (dev < 0 || dev >= device_count())
		return cudaErrorInvalidDevice;
	current_device = dev;
	return cudaSuccess;
}
cudaError_t cudaGetDevice(int *dev)
{
	*dev = current_device;
	return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void)
{
	return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *v, enum cudaDeviceAttr a, int dev)
{
	int major, minor;
	if (dev < 0 || dev >= device_count())
		return cudaErrorInvalidDevice;
	device_cc(&major, &minor);
	switch (a) {
	case cudaDevAttrComputeCapabilityMajor: *v = major; break;
	case cudaDevAttrComputeCapabilityMinor: *v = minor; break;
	case cudaDevAttrMultiProcessorCount: *v = 132; break;
	case cudaDevAttrClockRate: *v = 1980000; break;
	case cudaDevAttrMemoryClockRate: *v = 2619000; break;
	case cudaDevAttrGlobalMemoryBusWidth: *v = 5120; break;
	case cudaDevAttrAsyncEngineCount: *v = 3; break;
	case cudaDevAttrL2CacheSize: *v = 50 << 20; break;
	case cudaDevAttrMaxThreadsPerMultiProcessor: *v = 2048; break;
	case cudaDevAttrMaxThreadsPerBlock: *v = 1024; break;
	case cudaDevAttrMaxSharedMemoryPerBlock: *v = 48 << 10; break;
	case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = 227 << 10; break;
	case cudaDevAttrWarpSize: *v = 32; break;
	case cudaDevAttrHostNumaId: *v = 0; break;
	default: return cudaErrorInvalidValue;
	}
	return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int dev)
{
	if (dev < 0 || dev >= device_count())
		return cudaErrorInvalidDevice;
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", device_name());
	device_cc(&p->major, &p->minor);
	p->multiProcessorCount = 132;
	p->totalGlobalMem = (size_t)80 << 30;
	p->l2CacheSize = 50 << 20;
	p->warpSize = 32;
	p->maxThreadsPerBlock = 1024;
	p->maxThreadsPerMultiProcessor = 2048;
	p->sharedMemPerBlock = 48 << 10;
	p->sharedMemPerBlockOptin = 227 << 10;
	p->asyncEngineCount = 3;
	p->pciBusID = device_bus(dev);
	return cudaSuccess;
}

cudaError_t cudaDeviceGetPCIBusId(char *id, int len, int dev)
{
	if (dev < 0 || dev >= device_count())
		return cudaErrorInvalidDevice;
	snprintf(id, (size_t)len, "0000:%02X:00.0", device_bus(dev));
	return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int *v)
{
	*v = CUDART_VERSION;
	return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int *v)
{
	*v = CUDART_VERSION;
	return cudaSuccess;
}
size_t cublasLtGetVersion(void)
{
	return (size_t)CUBLAS_VER_MAJOR * 10000 + CUBLAS_VER_MINOR * 100 + CUBLAS_VER_PATCH;
}

/* ---- synchronous copies, sets, host registration ----------------------------- */

void mock_membw_copy_fault(void *d, size_t n);

cudaError_t cudaMemcpy(void *d, const void *s, size_t n, enum cudaMemcpyKind k)
{
	(void)k;
	memmove(d, s, n);
	mock_membw_copy_fault(d, n); /* MOCK_COPY_CORRUPT: see the membw section */
	return cudaSuccess;
}
cudaError_t cudaMemcpy2D(void *d, size_t dp, const void *s, size_t sp, size_t w, size_t h,
			 enum cudaMemcpyKind k)
{
	(void)k;
	if (w > dp || w > sp)
		return cudaErrorInvalidPitchValue;
	for (size_t r = 0; r < h; r++)
		memcpy((char *)d + r * dp, (const char *)s + r * sp, w);
	return cudaSuccess;
}
cudaError_t cudaMemset(void *d, int v, size_t n)
{
	memset(d, v, n);
	return cudaSuccess;
}
cudaError_t cudaHostRegister(void *p, size_t n, unsigned int flags)
{
	(void)flags;
	return p && n ? cudaSuccess : cudaErrorInvalidValue;
}
cudaError_t cudaHostUnregister(void *p)
{
	return p ? cudaSuccess : cudaErrorInvalidValue;
}

/* ---- events: host time ------------------------------------------------------- */

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

cudaError_t cudaEventCreate(cudaEvent_t *e)
{
	double *t = calloc(1, sizeof(double));
	*e = (cudaEvent_t)t;
	return t ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned int flags)
{
	(void)flags;
	return cudaEventCreate(e);
}
cudaError_t cudaEventDestroy(cudaEvent_t e)
{
	free(e);
	return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s)
{
	(void)s;
	*(double *)(void *)e = now_s();
	return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e)
{
	(void)e;
	return cudaSuccess;
}
cudaError_t cudaEventQuery(cudaEvent_t e)
{
	(void)e;
	return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b)
{
	double d = (*(double *)(void *)b - *(double *)(void *)a) * 1e3;
	*ms = (float)(d > 1e-3 ? d : 1e-3);
	return cudaSuccess;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned int flags)
{
	(void)s;
	(void)e;
	(void)flags;
	return cudaSuccess;
}

/* ---- membw ------------------------------------------------------------------- */

/* MOCK_COPY_CORRUPT=1 (tests only): every synchronous cudaMemcpy of at least
 * 16 bytes adds 1 to its middle 8-byte word.  copy_cuda.c stages each device
 * source (d2h, d2d, bidir) and reads each device destination back for its
 * check (h2d, d2d, bidir) with cudaMemcpy, so every direction ends with that
 * word wrong (d2d twice: +2, never undone) and its check must name it. */
void mock_membw_copy_fault(void *d, size_t n)
{
	const char *env = getenv("MOCK_COPY_CORRUPT");
	if (!env || atoi(env) != 1 || n < 16)
		return;
	unsigned long long w;
	char *at = (char *)d + n / 8 / 2 * 8;
	memcpy(&w, at, sizeof(w));
	w += 1;
	memcpy(at, &w, sizeof(w));
}
