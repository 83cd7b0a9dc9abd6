/* cupti_trace.h: GPU activity through CUPTI's Activity API, behind a plain C
 * interface (harness/gpu_trace.c is the only caller).
 *
 * What it is: kernels (CONCURRENT_KERNEL; names demangled), memory copies
 * (MEMCPY, MEMCPY2 peer-to-peer), memsets and NVTX ranges (MARKER) recorded
 * into CUPTI's buffers while enabled, then handed to a sink as spans whose
 * times are CLOCK_MONOTONIC nanoseconds (CUPTI is given that clock through
 * cuptiActivityRegisterTimestampCallback and converts the GPU's timestamps to
 * it; a measured offset corrects what remains).  Started only when a CUDA
 * device is present.  What it is not: the Callback or Profiling (counter)
 * API, or a metric collector.
 */
#ifndef STRATA_KERNELS_CUDA_CUPTI_TRACE_H
#define STRATA_KERNELS_CUDA_CUPTI_TRACE_H

#include <stddef.h>
#include <stdint.h>

/* One activity, as the sink gets it. */
struct strata_gpu_activity {
	const char *cat;  /* "kernel", "nccl", "memcpy", "memset", "nvtx" (static) */
	const char *name; /* demangled kernel name, "memcpy HtoD", NVTX text; valid for the call */
	int64_t t0_ns, t1_ns; /* CLOCK_MONOTONIC */
	uint32_t device, stream;
	uint64_t bytes;     /* copies and memsets, else 0 */
	const char *detail; /* static text or NULL */
};

typedef void (*strata_gpu_activity_sink)(const struct strata_gpu_activity *a, void *arg);

/* Check for a CUDA device and set CUPTI up (buffers, clock, NVTX
 * injection).  Returns 0, or -1 with the reason in why. */
int strata_cupti_start(char *why, size_t why_len);
/* Enable / disable the activity kinds above. */
void strata_cupti_enable(void);
void strata_cupti_disable(void);
/* Flush CUPTI's buffers and pass every record to sink.  Returns the number
 * of records passed, or -1 on a CUPTI error. */
long strata_cupti_collect(strata_gpu_activity_sink sink, void *arg);
/* Records CUPTI dropped since start (buffers full). */
uint64_t strata_cupti_dropped(void);
/* NVTX ranges (nvtxRangePushA / nvtxRangePop). */
void strata_cupti_range_push(const char *name);
void strata_cupti_range_pop(void);
/* Flush and finalize CUPTI. */
void strata_cupti_stop(void);

#endif
