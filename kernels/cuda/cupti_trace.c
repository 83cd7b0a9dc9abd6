/* cupti_trace.c: GPU activity through CUPTI's Activity API (see
 * cupti_trace.h).  Compiled only with the CUDA toolkit (kernels/cuda is the
 * strata_cuda library); started only when cudaGetDeviceCount finds a device.
 *
 * Buffers: CUPTI asks for empty buffers and hands them back full, possibly
 * from its own thread, so completed buffers go on a mutex-protected list
 * that collect() drains after cuptiActivityFlushAll (the pattern of CUPTI's
 * activity_trace_async sample, written here from the API reference).
 * Clock: CUPTI takes timestamps from the callback we register
 * (CLOCK_MONOTONIC, the clock of every other span) and maps GPU timestamps
 * onto it by linear interpolation (cupti_activity.h,
 * cuptiActivityRegisterTimestampCallback); where registration fails, the
 * offset between cuptiGetTimestamp and CLOCK_MONOTONIC, measured at enable
 * and at collect with the narrowest bracketing read of 8, is applied instead.
 * Names: kernel names are mangled C++; __cxa_demangle (the Itanium C++ ABI's
 * demangler, from libstdc++ found with dlopen) makes them readable.
 */
#define _GNU_SOURCE
#include "kernels/cuda/cupti_trace.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>
#include <cupti.h>
#include <nvtx3/nvToolsExt.h>

#define BUF_BYTES (8u << 20) /* CUPTI's samples use 8 MiB buffers */
#define BUF_ALIGN 8          /* ACTIVITY_RECORD_ALIGNMENT */
#define MAX_OPEN_MARKERS 4096

struct done_buf {
	uint8_t *buf;
	size_t valid;
	struct done_buf *next;
};

static struct {
	int started;
	int clock_callback; /* CUPTI uses our clock */
	pthread_mutex_t lock;
	struct done_buf *done, *done_tail;
	uint64_t dropped;
	int64_t off0_ns, off1_ns; /* CLOCK_MONOTONIC - CUPTI time, at enable and collect */
	uint64_t c0, c1;          /* CUPTI time of those measurements */
	char *(*demangle)(const char *, char *, size_t *, int *);
	struct {
		uint32_t id;
		uint64_t t0;
		char name[128];
	} open[MAX_OPEN_MARKERS];
	int n_open;
} C = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t CUPTIAPI timestamp_cb(void)
{
	return (uint64_t)mono_ns();
}

/* CLOCK_MONOTONIC - CUPTI time, from the narrowest of 8 bracketing reads. */
static int64_t measure_offset(uint64_t *cupti_at)
{
	int64_t best_w = -1, best_off = 0;
	for (int i = 0; i < 8; i++) {
		uint64_t c = 0;
		int64_t a = mono_ns();
		if (cuptiGetTimestamp(&c) != CUPTI_SUCCESS)
			return 0;
		int64_t b = mono_ns();
		if (best_w < 0 || b - a < best_w) {
			best_w = b - a;
			best_off = (a + b) / 2 - (int64_t)c;
			*cupti_at = c;
		}
	}
	return best_off;
}

static int64_t to_mono(uint64_t t)
{
	if (C.c1 <= C.c0)
		return (int64_t)t + C.off0_ns;
	double f = ((double)t - (double)C.c0) / ((double)C.c1 - (double)C.c0);
	if (f < 0)
		f = 0;
	if (f > 1)
		f = 1;
	return (int64_t)t + C.off0_ns + (int64_t)((double)(C.off1_ns - C.off0_ns) * f);
}

static void CUPTIAPI buffer_requested(uint8_t **buffer, size_t *size, size_t *max_records)
{
	void *p = NULL;
	if (posix_memalign(&p, BUF_ALIGN, BUF_BYTES) != 0)
		p = NULL;
	*buffer = p;
	*size = p ? BUF_BYTES : 0;
	*max_records = 0;
}

static void CUPTIAPI buffer_completed(CUcontext ctx, uint32_t stream, uint8_t *buffer, size_t size,
                                      size_t valid)
{
	(void)ctx;
	(void)stream;
	(void)size;
	struct done_buf *d = malloc(sizeof(*d));
	size_t dropped = 0;
	cuptiActivityGetNumDroppedRecords(NULL, 0, &dropped);
	pthread_mutex_lock(&C.lock);
	C.dropped += dropped;
	if (d) {
		*d = (struct done_buf){buffer, valid, NULL};
		if (C.done_tail)
			C.done_tail->next = d;
		else
			C.done = d;
		C.done_tail = d;
	} else {
		free(buffer);
	}
	pthread_mutex_unlock(&C.lock);
}

static const char *result_string(CUptiResult r)
{
	const char *s = NULL;
	if (cuptiGetResultString(r, &s) != CUPTI_SUCCESS || !s)
		s = "unknown CUPTI error";
	return s;
}

int strata_cupti_start(char *why, size_t why_len)
{
	if (C.started)
		return 0;
	int count = 0;
	cudaError_t ce = cudaGetDeviceCount(&count);
	if (ce != cudaSuccess) {
		snprintf(why, why_len, "no GPU: cudaGetDeviceCount: %s", cudaGetErrorString(ce));
		return -1;
	}
	if (count == 0) {
		snprintf(why, why_len, "no GPU: cudaGetDeviceCount found 0 devices");
		return -1;
	}
	uint32_t version = 0;
	if (cuptiGetVersion(&version) != CUPTI_SUCCESS || version < CUPTI_API_VERSION) {
		snprintf(why, why_len, "CUPTI library API version %u is older than the headers' %u",
		         version, (unsigned)CUPTI_API_VERSION);
		return -1;
	}
	/* NVTX reaches CUPTI through the injection library named here; set it
	 * before the first NVTX call (CUPTI documentation, "NVTX"). */
	Dl_info info;
	if (!getenv("NVTX_INJECTION64_PATH") && dladdr((void *)cuptiGetVersion, &info) &&
	    info.dli_fname)
		setenv("NVTX_INJECTION64_PATH", info.dli_fname, 0);
	C.clock_callback = cuptiActivityRegisterTimestampCallback(timestamp_cb) == CUPTI_SUCCESS;
	CUptiResult r = cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed);
	if (r != CUPTI_SUCCESS) {
		snprintf(why, why_len, "cuptiActivityRegisterCallbacks: %s", result_string(r));
		return -1;
	}
	void *cxx = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
	if (cxx)
		*(void **)&C.demangle = dlsym(cxx, "__cxa_demangle");
	C.started = 1;
	return 0;
}

static const CUpti_ActivityKind kinds[] = {
    CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL,
    CUPTI_ACTIVITY_KIND_MEMCPY,
    CUPTI_ACTIVITY_KIND_MEMCPY2,
    CUPTI_ACTIVITY_KIND_MEMSET,
    CUPTI_ACTIVITY_KIND_MARKER,
};

void strata_cupti_enable(void)
{
	if (!C.started)
		return;
	C.off0_ns = measure_offset(&C.c0);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		cuptiActivityEnable(kinds[i]);
}

void strata_cupti_disable(void)
{
	if (!C.started)
		return;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		cuptiActivityDisable(kinds[i]);
}

static const char *copy_kind(uint8_t k)
{
	switch (k) {
	case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD:
		return "memcpy HtoD";
	case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH:
		return "memcpy DtoH";
	case CUPTI_ACTIVITY_MEMCPY_KIND_DTOD:
		return "memcpy DtoD";
	case CUPTI_ACTIVITY_MEMCPY_KIND_HTOH:
		return "memcpy HtoH";
	case CUPTI_ACTIVITY_MEMCPY_KIND_PTOP:
		return "memcpy PtoP";
	default:
		return "memcpy";
	}
}

static void emit_kernel(const CUpti_ActivityKernel10 *k, strata_gpu_activity_sink sink, void *arg)
{
	char *dm = NULL;
	int status = -1;
	if (C.demangle && k->name)
		dm = C.demangle(k->name, NULL, NULL, &status);
	const char *name = status == 0 && dm ? dm : k->name ? k->name : "?";
	struct strata_gpu_activity a = {
	    .cat = !strncmp(name, "nccl", 4) ? "nccl" : "kernel",
	    .name = name,
	    .t0_ns = to_mono(k->start),
	    .t1_ns = to_mono(k->end),
	    .device = k->deviceId,
	    .stream = k->streamId,
	};
	sink(&a, arg);
	free(dm);
}

static void emit_marker(const CUpti_ActivityMarker2 *m, strata_gpu_activity_sink sink, void *arg)
{
	if (m->flags & CUPTI_ACTIVITY_FLAG_MARKER_START) {
		if (C.n_open < MAX_OPEN_MARKERS) {
			C.open[C.n_open].id = m->id;
			C.open[C.n_open].t0 = m->timestamp;
			snprintf(C.open[C.n_open].name, sizeof(C.open[C.n_open].name), "%s",
			         m->name ? m->name : "");
			C.n_open++;
		}
		return;
	}
	if (!(m->flags & CUPTI_ACTIVITY_FLAG_MARKER_END))
		return;
	for (int i = C.n_open - 1; i >= 0; i--) {
		if (C.open[i].id != m->id)
			continue;
		struct strata_gpu_activity a = {.cat = "nvtx",
		                                .name = C.open[i].name,
		                                .t0_ns = to_mono(C.open[i].t0),
		                                .t1_ns = to_mono(m->timestamp)};
		sink(&a, arg);
		C.open[i] = C.open[--C.n_open];
		return;
	}
}

static long parse(uint8_t *buf, size_t valid, strata_gpu_activity_sink sink, void *arg)
{
	long n = 0;
	CUpti_Activity *rec = NULL;
	while (cuptiActivityGetNextRecord(buf, valid, &rec) == CUPTI_SUCCESS) {
		struct strata_gpu_activity a = {0};
		switch (rec->kind) {
		case CUPTI_ACTIVITY_KIND_KERNEL:
		case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL:
			emit_kernel((const CUpti_ActivityKernel10 *)rec, sink, arg);
			n++;
			break;
		case CUPTI_ACTIVITY_KIND_MEMCPY: {
			const CUpti_ActivityMemcpy6 *m = (const CUpti_ActivityMemcpy6 *)rec;
			a = (struct strata_gpu_activity){.cat = "memcpy",
			                                 .name = copy_kind(m->copyKind),
			                                 .t0_ns = to_mono(m->start),
			                                 .t1_ns = to_mono(m->end),
			                                 .device = m->deviceId,
			                                 .stream = m->streamId,
			                                 .bytes = m->bytes};
			sink(&a, arg);
			n++;
			break;
		}
		case CUPTI_ACTIVITY_KIND_MEMCPY2: {
			const CUpti_ActivityMemcpyPtoP4 *m = (const CUpti_ActivityMemcpyPtoP4 *)rec;
			a = (struct strata_gpu_activity){.cat = "memcpy",
			                                 .name = "memcpy PtoP",
			                                 .t0_ns = to_mono(m->start),
			                                 .t1_ns = to_mono(m->end),
			                                 .device = m->deviceId,
			                                 .stream = m->streamId,
			                                 .bytes = m->bytes};
			sink(&a, arg);
			n++;
			break;
		}
		case CUPTI_ACTIVITY_KIND_MEMSET: {
			const CUpti_ActivityMemset4 *m = (const CUpti_ActivityMemset4 *)rec;
			a = (struct strata_gpu_activity){.cat = "memset",
			                                 .name = "memset",
			                                 .t0_ns = to_mono(m->start),
			                                 .t1_ns = to_mono(m->end),
			                                 .device = m->deviceId,
			                                 .stream = m->streamId,
			                                 .bytes = m->bytes};
			sink(&a, arg);
			n++;
			break;
		}
		case CUPTI_ACTIVITY_KIND_MARKER:
			emit_marker((const CUpti_ActivityMarker2 *)rec, sink, arg);
			n++;
			break;
		default:
			break;
		}
	}
	return n;
}

long strata_cupti_collect(strata_gpu_activity_sink sink, void *arg)
{
	if (!C.started)
		return 0;
	if (cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED) != CUPTI_SUCCESS)
		return -1;
	C.off1_ns = measure_offset(&C.c1);
	if (C.clock_callback) /* CUPTI already speaks CLOCK_MONOTONIC; keep what it measured */
		C.off0_ns = C.off1_ns;
	pthread_mutex_lock(&C.lock);
	struct done_buf *d = C.done;
	C.done = C.done_tail = NULL;
	pthread_mutex_unlock(&C.lock);
	long n = 0;
	while (d) {
		struct done_buf *next = d->next;
		n += parse(d->buf, d->valid, sink, arg);
		free(d->buf);
		free(d);
		d = next;
	}
	return n;
}

uint64_t strata_cupti_dropped(void)
{
	pthread_mutex_lock(&C.lock);
	uint64_t d = C.dropped;
	pthread_mutex_unlock(&C.lock);
	return d;
}

void strata_cupti_range_push(const char *name)
{
	if (C.started)
		nvtxRangePushA(name);
}

void strata_cupti_range_pop(void)
{
	if (C.started)
		nvtxRangePop();
}

static void discard(const struct strata_gpu_activity *a, void *arg)
{
	(void)a;
	(void)arg;
}

void strata_cupti_stop(void)
{
	if (!C.started)
		return;
	strata_cupti_disable();
	strata_cupti_collect(discard, NULL);
	cuptiFinalize();
	C.started = 0;
	C.n_open = 0;
}
