/* gpu_trace.h: GPU activity into this rank's trace.  With the CUDA backend
 * built, CUPTI's Activity API (kernels/cuda/cupti_trace.c) records kernels
 * (names demangled; NCCL's as category "nccl"), copies, memsets and the NVTX
 * ranges strata emits around cases and phases, with GPU timestamps moved onto
 * CLOCK_MONOTONIC; without it, or without a GPU, start says why not and the
 * rest do nothing.  What it is not: always on; the runner enables it only
 * for a case's traced pass. */
#ifndef STRATA_GPU_TRACE_H
#define STRATA_GPU_TRACE_H

#include <stddef.h>

/* Start CUPTI once per process (later calls return the first answer).
 * Returns 0 when GPU activity can be recorded, -1 with why otherwise. */
int strata_gpu_trace_start(char *why, size_t why_len);
/* Record GPU activity from now on. */
void strata_gpu_trace_enable(void);
/* Stop recording, flush CUPTI's buffers and add every record to the trace
 * as a span.  Returns the number of spans added. */
long strata_gpu_trace_collect(void);
/* NVTX ranges (no-ops unless started). */
void strata_gpu_trace_push(const char *name);
void strata_gpu_trace_pop(void);
/* Flush and detach CUPTI at the end of the run. */
void strata_gpu_trace_stop(void);

#endif
