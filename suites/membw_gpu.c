/* membw_gpu.c: the membw suite with device cuda: STREAM kernels on device
 * memory (kernels/cuda/stream_cuda.h) and copy-engine bandwidth between host
 * and device (kernels/cuda/copy_cuda.h), timed with CUDA events.
 *
 * What it is: the experiment.  kernel copy/scale/add/triad/dot run on three
 * device arrays sized as a multiple of the L2 cache (auto: the smallest
 * multiple of at least 8 x L2 and 256 MiB) so the cache is defeated; bytes
 * counted as STREAM (and BabelStream for dot).  kernel h2d/d2h/d2d/bidir
 * copy one buffer of array_bytes with cudaMemcpyAsync, host memory pinned
 * (hwloc_alloc_membind on the NUMA node `numa`, then cudaHostRegister) or
 * pageable, so a sweep over numa shows which node is local to the GPU (numa
 * -1: the nearest, by hwloc, else by cudaDevAttrHostNumaId); bytes
 * counted as nvbandwidth.  One run_once is a batch of back-to-back launches
 * (about STRATA_GPU_BATCH_TARGET_S) between CUDA events.  Peaks: HBM from the
 * table of known GPUs; PCIe from NVML's link generation and width.
 * What it is not: peer-to-peer or NVLink bandwidth.  Without the CUDA backend
 * every case skips.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gpu/gpu_case.h"
#include "kernels/gpu/stream_gpu_pattern.h"
#include "strata_config.h"
#include "suites/gpu_backends.h"
#if STRATA_HAVE_CUDA
#include "kernels/cuda/copy_cuda.h"
#include "kernels/cuda/stream_cuda.h"
#endif

/* Auto sizes. */
#define STREAM_MIN_BYTES (256ull << 20)  /* BabelStream's default, 2^25 doubles */
#define STREAM_MIN_L2_MULTIPLE 8
#define COPY_AUTO_BYTES (256ull << 20)

static const char *const kernel_names[] = { "copy", "scale", "add", "triad", "dot",
					    "h2d", "d2h", "d2d", "bidir" };
enum { FIRST_COPY_KERNEL = 5, NKERNELS = 9 };

struct strata_membw_gpu_state {
	struct strata_gpu_case gc;
	int kernel;              /* index in kernel_names */
	int64_t requested_bytes;
	size_t array_bytes;      /* per array (stream) or per buffer (copy) */
	char size_rule[320];
	int pinned, numa, numa_local;
	char numa_rule[256];
	void *st, *cp;           /* struct strata_stream_cuda / strata_copy_cuda */
	int launches;
	double last_event_s;
	double bytes_per_launch;
	double peak_gbps;
	char peak_source[320];
	int64_t runs;
	int checked;
	int64_t wrong;
	char first_wrong[256];
};

static int is_copy(int kernel)
{
	return kernel >= FIRST_COPY_KERNEL;
}

#if STRATA_HAVE_CUDA
/* A copy with a host buffer (every one but device to device). */
static int has_host_buffer(int kernel)
{
	return is_copy(kernel) && kernel != FIRST_COPY_KERNEL + STRATA_COPY_D2D;
}
#endif

int strata_membw_gpu_setup(const struct strata_case *c, struct strata_membw_gpu_state **out)
{
	const struct strata_params *p = c->params;
	const char *name = strata_params_str(p, "kernel");
	struct strata_membw_gpu_state *s = calloc(1, sizeof(*s));
	*out = NULL;
	if (!s) {
		strata_case_errorf(c, "membw: out of memory");
		return STRATA_ERROR;
	}
	s->kernel = -1;
	for (int i = 0; i < NKERNELS; i++)
		if (strcmp(name, kernel_names[i]) == 0)
			s->kernel = i;
	if (s->kernel < 0) {
		strata_case_errorf(c, "membw: unknown kernel '%s'", name);
		free(s);
		return STRATA_ERROR;
	}
	s->requested_bytes = strata_params_int(p, "array_bytes");
	s->pinned = strcmp(strata_params_str(p, "host_memory"), "pinned") == 0;
	s->numa = (int)strata_params_int(p, "numa");
	int rc = strata_gpu_case_open(&s->gc, c, strata_params_int(p, "gpu"), "membw");
	if (rc != STRATA_OK) {
		free(s);
		return rc;
	}
#if STRATA_HAVE_CUDA
	char why[1024];
	const long long l2 = s->gc.info.l2_bytes > 0 ? s->gc.info.l2_bytes : (1 << 20);
	if (!is_copy(s->kernel)) {
		size_t bytes;
		if (s->requested_bytes > 0) {
			bytes = (size_t)s->requested_bytes / 16 * 16; /* whole double2 vectors */
			snprintf(s->size_rule, sizeof(s->size_rule),
				 "array_bytes from the plan, rounded down to 16 bytes; %.2f x L2 (%lld B)",
				 (double)bytes / (double)l2, l2);
		} else {
			unsigned long long mult = (STREAM_MIN_BYTES + (unsigned long long)l2 - 1) /
						  (unsigned long long)l2;
			if (mult < STREAM_MIN_L2_MULTIPLE)
				mult = STREAM_MIN_L2_MULTIPLE;
			bytes = (size_t)(mult * (unsigned long long)l2) / 16 * 16;
			snprintf(s->size_rule, sizeof(s->size_rule),
				 "auto: %llu x L2 (%lld B): the smallest multiple of the L2 size that is "
				 ">= %d x L2 and >= 256 MiB, so the L2 cache cannot hold an array",
				 mult, l2, STREAM_MIN_L2_MULTIPLE);
		}
		if (bytes < 16) {
			strata_case_errorf(c, "membw: array_bytes %lld is below 16 (two doubles)",
					   (long long)s->requested_bytes);
			rc = STRATA_ERROR;
			goto fail;
		}
		s->array_bytes = bytes;
		rc = strata_gpu_case_check_memory(&s->gc, c, 3.0 * (double)bytes, "membw");
		if (rc != STRATA_OK)
			goto fail;
		if (strata_stream_cuda_create(bytes / 8, (struct strata_stream_cuda **)&s->st, why,
					      sizeof(why)) != 0) {
			strata_case_errorf(c, "membw %s on GPU %d: %s", name, s->gc.device, why);
			rc = STRATA_ERROR;
			goto fail;
		}
		const int arrays = s->kernel == STRATA_STREAM_GPU_ADD ||
						   s->kernel == STRATA_STREAM_GPU_TRIAD ? 3 : 2;
		s->bytes_per_launch = (double)arrays * (double)bytes;
		if (s->gc.model) {
			s->peak_gbps = s->gc.model->hbm_gbps;
			snprintf(s->peak_source, sizeof(s->peak_source), "table: %s HBM (%s)",
				 s->gc.model->model, s->gc.model->source);
		}
	} else {
		s->array_bytes = s->requested_bytes > 0 ? (size_t)s->requested_bytes / 8 * 8
							 : COPY_AUTO_BYTES;
		snprintf(s->size_rule, sizeof(s->size_rule), "%s",
			 s->requested_bytes > 0 ? "array_bytes from the plan, rounded down to 8 bytes"
						: "auto: 256 MiB per copy");
		const int need_host = has_host_buffer(s->kernel);
		/* The node nearest the GPU: hwloc's, else the driver's own answer
		 * (an hwloc without PCI discovery, as in many containers, does not
		 * see the GPU at all). */
		const int near = s->gc.loc.found ? s->gc.loc.numa_node : s->gc.info.host_numa_id;
		const char *near_by = s->gc.loc.found ? "hwloc"
						      : "cudaDevAttrHostNumaId (hwloc does not see the GPU)";
		if (!need_host) {
			snprintf(s->numa_rule, sizeof(s->numa_rule),
				 "none: a device-to-device copy uses no host memory (numa %d ignored)",
				 s->numa);
			s->numa = -1;
		} else if (s->numa == -1 && near >= 0) {
			s->numa = near;
			snprintf(s->numa_rule, sizeof(s->numa_rule),
				 "numa -1: node %d, the nearest the GPU by %s", near, near_by);
		} else if (s->numa == -1) {
			snprintf(s->numa_rule, sizeof(s->numa_rule),
				 "numa -1: GPU locality unknown (hwloc and CUDA), memory not bound");
		} else {
			snprintf(s->numa_rule, sizeof(s->numa_rule), "numa %d from the plan", s->numa);
		}
		s->numa_local = need_host && near >= 0 && s->numa == near;
		double dev_bytes = (double)s->array_bytes *
				   (s->kernel == FIRST_COPY_KERNEL + STRATA_COPY_D2D ||
							    s->kernel == FIRST_COPY_KERNEL + STRATA_COPY_BIDIR
						    ? 2.0 : 1.0);
		rc = strata_gpu_case_check_memory(&s->gc, c, dev_bytes, "membw");
		if (rc != STRATA_OK)
			goto fail;
		struct strata_copy_cuda_config cfg = {
			.dir = (enum strata_copy_dir)(s->kernel - FIRST_COPY_KERNEL),
			.bytes = s->array_bytes, .pinned = s->pinned,
			.numa = need_host ? s->numa : -1,
		};
		int cr = strata_copy_cuda_create(&cfg, (struct strata_copy_cuda **)&s->cp, why,
						 sizeof(why));
		if (cr != 0) {
			strata_case_errorf(c, "membw %s on GPU %d: %s", name, s->gc.device, why);
			rc = cr > 0 ? STRATA_SKIP : STRATA_ERROR;
			goto fail;
		}
		s->bytes_per_launch = (double)strata_copy_cuda_bytes_per_launch(s->cp);
		const struct strata_nvml_facts *f = &s->gc.facts;
		if (cfg.dir == STRATA_COPY_D2D) {
			if (s->gc.model) {
				s->peak_gbps = s->gc.model->hbm_gbps / 2; /* each byte read and written */
				snprintf(s->peak_source, sizeof(s->peak_source),
					 "table: %s HBM / 2 (a device copy reads and writes each byte)",
					 s->gc.model->model);
			}
		} else if (s->gc.nvml_ok) {
			/* The link the GPU trains to under load, not the idle one
			 * read before the case (strata_nvml_pcie_peak_link). */
			int gen = -1, width = -1;
			const char *which = strata_nvml_pcie_peak_link(f, &gen, &width);
			if (which) {
				double dir = strata_gpu_pcie_gbps(gen, width);
				s->peak_gbps = cfg.dir == STRATA_COPY_BIDIR ? 2 * dir : dir;
				snprintf(s->peak_source, sizeof(s->peak_source),
					 "PCIe gen%d x%d (NVML %s link), %.2f GB/s per direction%s",
					 gen, width, which, dir,
					 cfg.dir == STRATA_COPY_BIDIR ? ", both directions" : "");
			}
		}
	}
	double planned = strata_params_double(p, "peak_gbps");
	if (planned > 0) {
		s->peak_gbps = planned;
		snprintf(s->peak_source, sizeof(s->peak_source), "plan (peak_gbps)");
	} else if (s->peak_gbps <= 0) {
		snprintf(s->peak_source, sizeof(s->peak_source),
			 "unknown (GPU not in the table or link not reported); set peak_gbps");
	}
	/* Batch size from one launch, after one to warm up. */
	double one = 0;
	for (int i = 0; i < 2; i++) {
		int r = is_copy(s->kernel)
				? strata_copy_cuda_run(s->cp, 1, &one, why, sizeof(why))
				: strata_stream_cuda_run(s->st, s->kernel, 1, &one, why, sizeof(why));
		if (r != 0) {
			strata_case_errorf(c, "membw %s on GPU %d: %s", name, s->gc.device, why);
			rc = STRATA_ERROR;
			goto fail;
		}
	}
	s->launches = strata_gpu_batch_size(one, STRATA_GPU_BATCH_TARGET_S, STRATA_GPU_BATCH_MAX);
	*out = s;
	return STRATA_OK;
fail:
	strata_membw_gpu_teardown(s);
	return rc;
#else
	strata_gpu_case_close(&s->gc);
	free(s);
	strata_case_errorf(c, "membw: %s", STRATA_GPU_NOT_BUILT);
	return STRATA_SKIP;
#endif
}

int strata_membw_gpu_run_once(struct strata_membw_gpu_state *s, const struct strata_case *c)
{
#if STRATA_HAVE_CUDA
	char why[512];
	strata_gpu_case_before_run(&s->gc, c);
	int r = is_copy(s->kernel)
			? strata_copy_cuda_run(s->cp, s->launches, &s->last_event_s, why, sizeof(why))
			: strata_stream_cuda_run(s->st, s->kernel, s->launches, &s->last_event_s, why,
						 sizeof(why));
	if (r != 0) {
		strata_case_errorf(c, "membw %s on GPU %d: %s", kernel_names[s->kernel], s->gc.device,
				   why);
		return STRATA_ERROR;
	}
	strata_gpu_case_after_run(&s->gc, c, s->launches);
	s->runs++;
	return STRATA_OK;
#else
	(void)s;
	strata_case_errorf(c, "membw: %s", STRATA_GPU_NOT_BUILT);
	return STRATA_ERROR;
#endif
}

int64_t strata_membw_gpu_verify(struct strata_membw_gpu_state *s, const struct strata_case *c)
{
	strata_gpu_case_stop(&s->gc);
#if STRATA_HAVE_CUDA
	char why[512];
	int64_t wrong;
	if (is_copy(s->kernel)) {
		struct strata_copy_cuda_error first;
		wrong = strata_copy_cuda_check(s->cp, &first, why, sizeof(why));
		if (wrong > 0)
			snprintf(s->first_wrong, sizeof(s->first_wrong),
				 "first wrong 8-byte word %lld of the %s = 0x%016llx, expected 0x%016llx",
				 (long long)first.word, first.buffer, (unsigned long long)first.actual,
				 (unsigned long long)first.expected);
	} else {
		struct strata_stream_cuda_error first;
		wrong = strata_stream_cuda_check(s->st, s->kernel, &first, why, sizeof(why));
		if (wrong > 0)
			snprintf(s->first_wrong, sizeof(s->first_wrong), "first %s[%llu] = %.17g, "
				 "expected %.17g", first.array == 3 ? "dot" : first.array == 0 ? "a"
						   : first.array == 1 ? "b" : "c",
				 (unsigned long long)first.index, first.actual, first.expected);
	}
	if (wrong < 0) {
		strata_case_errorf(c, "membw check on GPU %d: %s", s->gc.device, why);
		return -1;
	}
	s->checked = 1;
	s->wrong = wrong;
	if (wrong > 0)
		strata_case_errorf(c, "membw %s on GPU %d, rank %d: %lld wrong%s; %s",
				   kernel_names[s->kernel], s->gc.device, c->rank, (long long)wrong,
				   s->runs == 0 ? " (never ran)" : "", s->first_wrong);
	return wrong;
#else
	(void)c;
	return 0;
#endif
}

void strata_membw_gpu_teardown(struct strata_membw_gpu_state *s)
{
	if (!s)
		return;
#if STRATA_HAVE_CUDA
	strata_stream_cuda_destroy(s->st);
	strata_copy_cuda_destroy(s->cp);
#endif
	strata_gpu_case_close(&s->gc);
	free(s);
}

double strata_membw_gpu_device_seconds(const struct strata_membw_gpu_state *s)
{
	return s->last_event_s;
}

/* GB/s = bytes / t / 1e9 per launch; seconds is one run_once (a batch). */
size_t strata_membw_gpu_metrics(const struct strata_membw_gpu_state *s,
				const struct strata_case *c, double seconds,
				struct strata_metric *out, size_t max)
{
	size_t n = 0;
	if (seconds <= 0 || s->launches < 1)
		return 0;
	const double t = seconds / s->launches;
	const double gbps = s->bytes_per_launch / t / 1e9;
	const int nranks = c->nranks > 0 ? c->nranks : 1;
	if (n < max)
		out[n++] = (struct strata_metric){ "bandwidth", "GB/s", gbps, 1 };
	if (n < max)
		out[n++] = (struct strata_metric){ "aggregate_bandwidth", "GB/s",
						   (double)nranks * gbps, 1 };
	if (s->peak_gbps > 0 && n < max)
		out[n++] = (struct strata_metric){ "peak_fraction", "fraction",
						   gbps / s->peak_gbps, 1 };
	if (n < max)
		out[n++] = (struct strata_metric){ "time", "ms", t * 1e3, 0 };
	return n;
}

void strata_membw_gpu_describe(const struct strata_membw_gpu_state *s,
			       const struct strata_case *c, json_t *details)
{
	(void)c;
	json_object_set_new(details, "backend", json_string(is_copy(s->kernel)
							    ? "cuda: cudaMemcpyAsync (copy engines)"
							    : "cuda: STREAM kernels"));
	json_object_set_new(details, "kernel", json_string(kernel_names[s->kernel]));
	json_object_set_new(details, "array_bytes", json_integer((json_int_t)s->array_bytes));
	json_object_set_new(details, "array_bytes_requested", json_integer(s->requested_bytes));
	json_object_set_new(details, "size_rule", json_string(s->size_rule));
	json_object_set_new(details, "bytes_per_launch", json_real(s->bytes_per_launch));
	json_object_set_new(details, "launches_per_repetition", json_integer(s->launches));
	json_object_set_new(details, "timing",
			    json_string("each repetition runs the kernel (or copy) "
					"launches_per_repetition times back to back between two CUDA "
					"events; the sample is the events' elapsed time; figures use "
					"sample / launches_per_repetition"));
	json_object_set_new(details, "peak_gbps", json_real(s->peak_gbps));
	json_object_set_new(details, "peak_source", json_string(s->peak_source));
#if STRATA_HAVE_CUDA
	if (!is_copy(s->kernel)) {
		int blocks = 0, threads = 0, per_sm = 0;
		if (s->st)
			strata_stream_cuda_grid(s->st, &blocks, &threads, &per_sm);
		json_object_set_new(details, "grid",
				    json_pack("{s:i,s:i,s:i,s:i,s:s}", "blocks", blocks,
					      "threads_per_block", threads, "blocks_per_sm", per_sm,
					      "sms", s->gc.info.sms, "rule",
					      "SMs x resident blocks per SM "
					      "(cudaOccupancyMaxActiveBlocksPerMultiprocessor), "
					      "grid-stride loop, double2 (16-byte) loads and stores"));
		json_object_set_new(details, "counting_rule",
				    json_string("STREAM / BabelStream: copy, scale and dot count 2 "
						"arrays x 8 bytes x n, add and triad 3; write-allocate "
						"not counted; GB = 1e9 bytes"));
		json_object_set_new(details, "validation",
				    json_string("every element of a, b, c on the device against its "
						"expected value, |x - e| <= 1e-13 |e|; dot against its "
						"exact value within gamma_n(2^-53)"));
	} else {
		const char *alloc = !has_host_buffer(s->kernel) ? "cudaMalloc only (no host buffer)"
				    : s->numa >= 0 && s->pinned
					    ? "hwloc_alloc_membind (bind, strict) on the node, pages "
					      "touched, then cudaHostRegister"
				    : s->numa >= 0 ? "hwloc_alloc_membind (bind, strict) on the node, "
						     "pages touched; not registered"
				    : s->pinned ? "cudaMallocHost" : "malloc";
		json_object_set_new(details, "host_memory",
				    json_string(!has_host_buffer(s->kernel) ? "none (device to device)"
						: s->pinned   ? "pinned (page-locked)"
							      : "pageable (staged by the driver)"));
		json_object_set_new(details, "numa_node", json_integer(s->numa));
		json_object_set_new(details, "numa_rule", json_string(s->numa_rule));
		json_object_set_new(details, "numa_local_to_gpu", json_boolean(s->numa_local));
		json_object_set_new(details, "allocation", json_string(alloc));
		json_object_set_new(details, "counting_rule",
				    json_string("nvbandwidth: bytes of the buffer per copy (bidir: "
						"both directions); GB = 1e9 bytes"));
		json_object_set_new(details, "validation",
				    json_string("every 8-byte word of each destination compared with "
						"the source's hashed pattern"));
	}
#endif
	strata_gpu_case_describe(&s->gc, details, s->bytes_per_launch / 1e9, "GB");
}
