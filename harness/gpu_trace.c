/* gpu_trace.c: GPU activity into the trace (see gpu_trace.h): glue between
 * the trace writer and kernels/cuda/cupti_trace.c, stubs without CUDA. */
#include "harness/gpu_trace.h"

#include <stdio.h>
#include <string.h>

#include "harness/trace.h"
#include "strata_config.h"

#if STRATA_HAVE_CUDA
#include "kernels/cuda/cupti_trace.h"

static int started; /* 0 not tried, 1 ready, -1 unavailable */
static char why_not[256];
static int named_tids[256];
static int n_named;

static void name_tid(int tid, unsigned device, unsigned stream)
{
	for (int i = 0; i < n_named; i++)
		if (named_tids[i] == tid)
			return;
	if (n_named < (int)(sizeof(named_tids) / sizeof(named_tids[0])))
		named_tids[n_named++] = tid;
	char name[64];
	snprintf(name, sizeof(name), "GPU %u stream %u", device, stream);
	strata_trace_thread_name(tid, name);
}

static void sink(const struct strata_gpu_activity *a, void *arg)
{
	long *count = arg;
	int tid = STRATA_TRACE_TID_GPU_BASE + (int)a->device * 1000 + (int)(a->stream % 1000);
	name_tid(tid, a->device, a->stream);
	struct strata_trace_args args = STRATA_TRACE_ARGS_NONE;
	args.detail = a->detail;
	args.bytes = a->bytes > 0 ? (int64_t)a->bytes : -1;
	strata_trace_span_copy(a->cat, a->name, a->t0_ns, a->t1_ns, tid, &args);
	(*count)++;
}

int strata_gpu_trace_start(char *why, size_t why_len)
{
	if (!started)
		started = strata_cupti_start(why_not, sizeof(why_not)) == 0 ? 1 : -1;
	if (started < 0)
		snprintf(why, why_len, "%s", why_not);
	return started > 0 ? 0 : -1;
}

void strata_gpu_trace_enable(void)
{
	if (started > 0)
		strata_cupti_enable();
}

long strata_gpu_trace_collect(void)
{
	long count = 0;
	if (started > 0) {
		strata_cupti_disable();
		strata_cupti_collect(sink, &count);
	}
	return count;
}

void strata_gpu_trace_push(const char *name)
{
	if (started > 0)
		strata_cupti_range_push(name);
}

void strata_gpu_trace_pop(void)
{
	if (started > 0)
		strata_cupti_range_pop();
}

void strata_gpu_trace_stop(void)
{
	if (started > 0)
		strata_cupti_stop();
	started = 0;
	n_named = 0;
}

#else /* !STRATA_HAVE_CUDA */

int strata_gpu_trace_start(char *why, size_t why_len)
{
	snprintf(why, why_len, "not built with CUDA (no CUPTI)");
	return -1;
}

void strata_gpu_trace_enable(void)
{
}

long strata_gpu_trace_collect(void)
{
	return 0;
}

void strata_gpu_trace_push(const char *name)
{
	(void)name;
}

void strata_gpu_trace_pop(void)
{
}

void strata_gpu_trace_stop(void)
{
}

#endif
