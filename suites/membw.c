/* membw.c: the memory-bandwidth suite: STREAM's Copy, Scale, Add and Triad on
 * the CPU (this file); on device cuda, STREAM (and Dot) on device memory and
 * copy-engine bandwidth host <-> device (suites/membw_gpu.c, to which every
 * hook forwards when the case's device is cuda).
 *
 * What it is: the experiment around kernels/cpu/stream.c.  Each rank allocates
 * its own three arrays (first-touched by its own OpenMP team), one case runs
 * one kernel repeatedly (each kernel is idempotent given its inputs), verify
 * checks every element STREAM-style, and a time becomes GB/s by STREAM's byte
 * counting (McCalpin, stream.c v5.10: 2 arrays for copy/scale, 3 for
 * add/triad, write-allocate traffic not counted).
 * What it is not: a timer (the runner times run_once), a STREAM run under the
 * Run Rules (results are "based on a variant of the STREAM benchmark"), or a
 * cross-rank benchmark: ranks never talk; the aggregate is computed from the
 * slowest rank's time that the runner passes to metrics().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hwloc.h>
#include <omp.h>

#include "harness/suite.h"
#include "kernels/cpu/stream.h"
#include "suites/gpu_backends.h"

/* STREAM's sizing rule (stream.c, INSTRUCTIONS 1a): "Each array must be at
 * least 4 times the size of the available cache memory". */
#define AUTO_CACHE_MULTIPLE 4
/* Refuse (skip) a case whose arrays on this host would need more than this
 * share of physical memory: the OS, MPI and other ranks need the rest. */
#define MAX_MEMORY_SHARE 0.8

/* The last-level cache as hwloc sees it from this process. */
struct llc_info {
	int found;           /* 0: hwloc reported no cache at all */
	int level;           /* 3 for an L3 */
	uint64_t instance_bytes; /* size of one instance (the first one covering us) */
	unsigned instances;  /* instances whose CPUs intersect this process's binding */
	uint64_t bytes;      /* sum over those instances: the cache this rank can use */
	char why[160];       /* what went wrong when found == 0 */
};

struct membw_state {
	/* First member, so a test may reach the arrays through the state pointer
	 * (C11 6.7.2.1p15) to corrupt an element on purpose. */
	struct strata_stream arrays;
	enum strata_stream_kernel kernel;
	int64_t requested_bytes; /* array_bytes as planned; 0 = auto */
	uint64_t array_bytes;    /* used: n * 8 */
	uint64_t bytes_per_iter; /* STREAM's count for this kernel */
	int threads_requested;   /* threads as planned; 0 = omp_get_max_threads() */
	int64_t runs;            /* run_once calls, so verify can tell "never ran" */
	struct llc_info llc;
	struct strata_membw_gpu_state *gpu; /* device cuda: suites/membw_gpu.c; NULL on cpu */
};

static const struct strata_param_def membw_params[] = {
	{ .name = "device", .type = STRATA_PT_ENUM, .def = "cpu", .choices = "cpu|cuda",
	  .help = "backend: cpu (host memory, OpenMP) or cuda (the rank's GPU; skipped, with "
		  "the reason, where there is none)" },
	{ .name = "kernel", .type = STRATA_PT_ENUM, .def = "[copy, scale, add, triad]",
	  .choices = "copy|scale|add|triad|dot|h2d|d2h|d2d|bidir",
	  .help = "STREAM kernel: copy c=a, scale b=3c, add c=a+b, triad a=b+3c; cuda only: "
		  "dot (BabelStream's sum a.b), and copy engines h2d, d2h, d2d, bidir "
		  "(h2d and d2h at once)" },
	{ .name = "array_bytes", .type = STRATA_PT_SIZE, .def = "0", .min = 0,
	  .max = 1099511627776.0 /* 1 TiB */,
	  .help = "bytes per array per rank (3 arrays), or per copy; 0 = auto: cpu 4 x the "
		  "last-level cache (hwloc, STREAM's rule); cuda STREAM the smallest multiple of "
		  "the L2 size >= 8 x L2 and >= 256 MiB; cuda copies 256 MiB" },
	{ .name = "threads", .type = STRATA_PT_INT, .def = "0", .min = 0, .max = 65536,
	  .help = "cpu: OpenMP threads per rank; 0 = omp_get_max_threads()" },
	{ .name = "gpu", .type = STRATA_PT_INT, .def = "-1", .min = -1, .max = 1024,
	  .help = "cuda: device ordinal to use; -1 = local rank modulo the visible devices" },
	{ .name = "host_memory", .type = STRATA_PT_ENUM, .def = "pinned", .choices = "pinned|pageable",
	  .help = "cuda copies: page-locked (cudaHostRegister) or pageable host memory" },
	{ .name = "numa", .type = STRATA_PT_INT, .def = "-1", .min = -1, .max = 4096,
	  .help = "cuda copies: NUMA node (os index) of the host buffer (hwloc_alloc_membind); "
		  "-1 = the node nearest the GPU; a node this host lacks is skipped" },
	{ .name = "peak_gbps", .type = STRATA_PT_DOUBLE, .def = "0", .min = 0, .max = 1e9,
	  .help = "cuda: theoretical peak per GPU, GB/s, for peak_fraction; 0 = HBM from the "
		  "table of known GPUs (STREAM), PCIe generation x width from NVML (copies)" },
};

/* The largest cache level hwloc knows (L5 down to L1), summed over the
 * instances whose CPUs intersect this process's binding: the cache an
 * unbound process can fill is all of them, a rank bound to one CCX only its
 * own.  hwloc_get_obj_by_type() of that level gives the per-instance size. */
static void llc_find(struct llc_info *llc)
{
	static const hwloc_obj_type_t levels[] = {
		HWLOC_OBJ_L5CACHE, HWLOC_OBJ_L4CACHE, HWLOC_OBJ_L3CACHE,
		HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L1CACHE,
	};
	*llc = (struct llc_info){ 0 };
	hwloc_topology_t topo;
	if (hwloc_topology_init(&topo) != 0) {
		snprintf(llc->why, sizeof(llc->why), "hwloc_topology_init failed");
		return;
	}
	if (hwloc_topology_load(topo) != 0) {
		snprintf(llc->why, sizeof(llc->why), "hwloc_topology_load failed");
		goto out_topo;
	}
	hwloc_bitmap_t bound = hwloc_bitmap_alloc();
	if (!bound) {
		snprintf(llc->why, sizeof(llc->why), "out of memory");
		goto out_topo;
	}
	if (hwloc_get_cpubind(topo, bound, HWLOC_CPUBIND_PROCESS) != 0 ||
	    hwloc_bitmap_iszero(bound))
		hwloc_bitmap_copy(bound, hwloc_topology_get_topology_cpuset(topo));

	for (size_t t = 0; t < sizeof(levels) / sizeof(levels[0]) && !llc->found; t++) {
		int count = hwloc_get_nbobjs_by_type(topo, levels[t]);
		for (int i = 0; i < count; i++) {
			hwloc_obj_t obj = hwloc_get_obj_by_type(topo, levels[t], (unsigned)i);
			if (!obj || !obj->attr || obj->attr->cache.size == 0)
				continue;
			if (obj->cpuset && !hwloc_bitmap_intersects(obj->cpuset, bound))
				continue;
			if (!llc->found) {
				llc->found = 1;
				llc->level = (int)obj->attr->cache.depth;
				llc->instance_bytes = obj->attr->cache.size;
			}
			llc->instances++;
			llc->bytes += obj->attr->cache.size;
		}
	}
	if (!llc->found)
		snprintf(llc->why, sizeof(llc->why), "hwloc reports no cache on this host");
	hwloc_bitmap_free(bound);
out_topo:
	hwloc_topology_destroy(topo);
}

static int kernel_from_params(const struct strata_params *p, enum strata_stream_kernel *k)
{
	const char *name = strata_params_str(p, "kernel");
	for (int i = 0; i < STRATA_STREAM_NKERNELS; i++) {
		if (strcmp(name, strata_stream_kernel_name((enum strata_stream_kernel)i)) == 0) {
			*k = (enum strata_stream_kernel)i;
			return 0;
		}
	}
	return -1;
}

/* Threads a parallel region with num_threads(want) really gets (dynamic
 * adjustment or thread limits may give fewer). */
static int team_size(int want)
{
	int got = 1;
#pragma omp parallel num_threads(want)
	{
#pragma omp single
		got = omp_get_num_threads();
	}
	return got;
}

static int membw_setup(const struct strata_case *c, void **state)
{
	struct membw_state *s = calloc(1, sizeof(*s));
	if (!s) {
		strata_case_errorf(c, "membw: out of memory");
		return STRATA_ERROR;
	}
	int rc = STRATA_ERROR;
	if (strcmp(strata_params_str(c->params, "device"), "cuda") == 0) {
		rc = strata_membw_gpu_setup(c, &s->gpu);
		if (rc != STRATA_OK)
			goto out_free;
		*state = s;
		return STRATA_OK;
	}
	if (kernel_from_params(c->params, &s->kernel) != 0) {
		strata_case_errorf(c, "membw: kernel %s needs device: cuda: skipped",
				   strata_params_str(c->params, "kernel"));
		rc = STRATA_SKIP;
		goto out_free;
	}
	s->requested_bytes = strata_params_int(c->params, "array_bytes");
	s->threads_requested = (int)strata_params_int(c->params, "threads");
	llc_find(&s->llc);

	uint64_t bytes = (uint64_t)s->requested_bytes;
	if (bytes == 0) {
		if (!s->llc.found) {
			strata_case_errorf(c, "membw: array_bytes: 0 (auto) needs the last-level cache "
					   "size, but %s; set array_bytes in the plan", s->llc.why);
			rc = STRATA_SKIP;
			goto out_free;
		}
		/* 4 x LLC, rounded up to a whole number of doubles (8 bytes). */
		bytes = AUTO_CACHE_MULTIPLE * s->llc.bytes;
		bytes = (bytes + sizeof(double) - 1) / sizeof(double) * sizeof(double);
	}
	size_t n = (size_t)(bytes / sizeof(double));
	if (n == 0) {
		strata_case_errorf(c, "membw: array_bytes = %llu is less than one double (8 bytes)",
				   (unsigned long long)bytes);
		goto out_free;
	}
	s->array_bytes = (uint64_t)n * sizeof(double);

	/* All ranks of this host hold 3 arrays each. */
	double phys_bytes = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
	double host_bytes = 3.0 * (double)s->array_bytes * (c->local_size > 0 ? c->local_size : 1);
	if (phys_bytes > 0 && host_bytes > MAX_MEMORY_SHARE * phys_bytes) {
		strata_case_errorf(c, "membw: 3 arrays x %llu bytes x %d ranks on this host = %.3g GB "
				   "exceeds %.0f%% of physical memory (%.3g GB); lower array_bytes",
				   (unsigned long long)s->array_bytes, c->local_size, host_bytes / 1e9,
				   MAX_MEMORY_SHARE * 100, phys_bytes / 1e9);
		rc = STRATA_SKIP;
		goto out_free;
	}

	int threads = s->threads_requested > 0 ? s->threads_requested : omp_get_max_threads();
	threads = team_size(threads);
	char why[256];
	if (strata_stream_init(&s->arrays, n, threads, why, sizeof(why)) != 0) {
		strata_case_errorf(c, "membw: %s", why);
		goto out_free;
	}
	s->bytes_per_iter = strata_stream_bytes(s->kernel, n);
	*state = s;
	return STRATA_OK;

out_free:
	free(s);
	return rc;
}

static int membw_run_once(void *state, const struct strata_case *c)
{
	struct membw_state *s = state;
	if (s->gpu)
		return strata_membw_gpu_run_once(s->gpu, c);
	if (strata_stream_run(&s->arrays, s->kernel) != 0) {
		strata_case_errorf(c, "membw: invalid kernel %d", (int)s->kernel);
		return STRATA_ERROR;
	}
	s->runs++;
	return STRATA_OK;
}

/* STREAM's checkSTREAMresults, element by element: see strata_stream_check. */
static int64_t membw_verify(void *state, const struct strata_case *c)
{
	struct membw_state *s = state;
	if (s->gpu)
		return strata_membw_gpu_verify(s->gpu, c);
	struct strata_stream_error first = { 0 };
	int64_t wrong = strata_stream_check(&s->arrays, s->kernel, &first);
	if (wrong < 0) {
		strata_case_errorf(c, "membw: cannot check kernel %d", (int)s->kernel);
		return wrong;
	}
	if (wrong > 0)
		strata_case_errorf(c, "membw %s, rank %d: %lld wrong elements of 3 x %zu%s; first "
				   "%c[%zu] = %.17g, expected %.17g (relative tolerance %g)",
				   strata_stream_kernel_name(s->kernel), c->rank, (long long)wrong,
				   s->arrays.n, s->runs == 0 ? " (the kernel never ran)" : "",
				   first.array, first.index, first.actual, first.expected,
				   STRATA_STREAM_EPSILON);
	return wrong;
}

static void membw_teardown(void *state)
{
	struct membw_state *s = state;
	if (!s)
		return;
	strata_membw_gpu_teardown(s->gpu);
	strata_stream_release(&s->arrays);
	free(s);
}

/* GB/s = bytes / s / 1e9 (decimal, as STREAM's MB/s are 1e6).  The aggregate
 * is nranks x per-rank bytes over the slowest rank's time (the runner passes
 * that time), which assumes every rank moved the same bytes: true for an
 * explicit array_bytes, and for auto when ranks see the same cache. */
static size_t membw_metrics(const void *state, const struct strata_case *c, double seconds,
			    struct strata_metric *out, size_t max)
{
	const struct membw_state *s = state;
	size_t n = 0;
	if (s->gpu)
		return strata_membw_gpu_metrics(s->gpu, c, seconds, out, max);
	if (seconds <= 0)
		return 0;
	double bytes = (double)s->bytes_per_iter;
	int nranks = c->nranks > 0 ? c->nranks : 1;
	if (n < max)
		out[n++] = (struct strata_metric){ "bandwidth", "GB/s", bytes / seconds / 1e9, 1 };
	if (n < max)
		out[n++] = (struct strata_metric){ "aggregate_bandwidth", "GB/s",
						   (double)nranks * bytes / seconds / 1e9, 1 };
	if (n < max)
		out[n++] = (struct strata_metric){ "time", "ms", seconds * 1e3, 0 };
	return n;
}

static const char *proc_bind_name(omp_proc_bind_t b)
{
	switch (b) {
	case omp_proc_bind_false: return "false";
	case omp_proc_bind_true: return "true";
	case omp_proc_bind_master: return "primary";
	case omp_proc_bind_close: return "close";
	case omp_proc_bind_spread: return "spread";
	}
	return "unknown";
}

static json_t *env_or_unset(const char *name)
{
	const char *v = getenv(name);
	return json_string(v ? v : "unset");
}

static void membw_describe(const void *state, const struct strata_case *c, json_t *details)
{
	const struct membw_state *s = state;
	if (s->gpu) {
		strata_membw_gpu_describe(s->gpu, c, details);
		return;
	}
	const int arrays = s->kernel == STRATA_STREAM_COPY || s->kernel == STRATA_STREAM_SCALE ? 2 : 3;
	char rule[320];

	json_object_set_new(details, "kernel", json_string(strata_stream_kernel_name(s->kernel)));
	json_object_set_new(details, "array_bytes", json_integer((json_int_t)s->array_bytes));
	json_object_set_new(details, "array_bytes_requested", json_integer(s->requested_bytes));
	json_object_set_new(details, "elements", json_integer((json_int_t)s->arrays.n));
	json_object_set_new(details, "element_bytes", json_integer((json_int_t)sizeof(double)));
	json_object_set_new(details, "arrays_allocated", json_integer(3));
	json_object_set_new(details, "alignment_bytes", json_integer(STRATA_STREAM_ALIGN_BYTES));
	json_object_set_new(details, "threads", json_integer(s->arrays.threads));
	json_object_set_new(details, "threads_requested", json_integer(s->threads_requested));

	if (s->requested_bytes == 0)
		snprintf(rule, sizeof(rule),
			 "auto: %d x last-level cache (STREAM rule 1a); hwloc L%d, %u instance(s) of "
			 "%llu bytes intersecting this process's CPU binding = %llu bytes; rounded up "
			 "to a multiple of 8 bytes",
			 AUTO_CACHE_MULTIPLE, s->llc.level, s->llc.instances,
			 (unsigned long long)s->llc.instance_bytes, (unsigned long long)s->llc.bytes);
	else
		snprintf(rule, sizeof(rule), "array_bytes from the plan (%lld), rounded down to whole "
			 "doubles", (long long)s->requested_bytes);
	json_object_set_new(details, "size_rule", json_string(rule));

	json_t *llc = json_object();
	if (s->llc.found) {
		json_object_set_new(llc, "level", json_integer(s->llc.level));
		json_object_set_new(llc, "instance_bytes", json_integer((json_int_t)s->llc.instance_bytes));
		json_object_set_new(llc, "instances", json_integer(s->llc.instances));
		json_object_set_new(llc, "bytes", json_integer((json_int_t)s->llc.bytes));
		json_object_set_new(llc, "source", json_string("hwloc_get_obj_by_type, largest cache "
							       "level, instances covering the "
							       "process cpubind"));
	} else {
		json_object_set_new(llc, "error", json_string(s->llc.why));
	}
	json_object_set_new(details, "llc", llc);

	snprintf(rule, sizeof(rule),
		 "STREAM (McCalpin stream.c v5.10): %d arrays x 8 bytes x %zu elements; copy/scale "
		 "count 2 arrays, add/triad 3; write-allocate traffic not counted; GB = 1e9 bytes",
		 arrays, s->arrays.n);
	json_object_set_new(details, "bytes_per_iteration", json_integer((json_int_t)s->bytes_per_iter));
	json_object_set_new(details, "counting_rule", json_string(rule));
	json_object_set_new(details, "validation",
			    json_string("every element of a, b, c: the written array against its "
					"expected value, the others unchanged; |x - e| <= 1e-13 |e| "
					"(STREAM's epsilon for double)"));

	json_t *omp = json_object();
	json_object_set_new(omp, "OMP_PROC_BIND", env_or_unset("OMP_PROC_BIND"));
	json_object_set_new(omp, "OMP_PLACES", env_or_unset("OMP_PLACES"));
	json_object_set_new(omp, "OMP_NUM_THREADS", env_or_unset("OMP_NUM_THREADS"));
	json_object_set_new(omp, "proc_bind", json_string(proc_bind_name(omp_get_proc_bind())));
	json_object_set_new(omp, "num_places", json_integer(omp_get_num_places()));
	json_object_set_new(omp, "schedule", json_string("static"));
	json_object_set_new(details, "openmp", omp);
}

/* CUDA events of the last batch (device cuda); 0 on cpu: the host clock. */
static double membw_device_seconds(const void *state)
{
	const struct membw_state *s = state;
	return s->gpu ? strata_membw_gpu_device_seconds(s->gpu) : 0.0;
}

const struct strata_suite strata_suite_membw = {
	.name = "membw",
	.summary = "memory bandwidth: STREAM copy/scale/add/triad (cpu, cuda; cuda also dot) and "
		   "copy engines h2d/d2h/d2d/bidir (cuda)",
	.flags = 0,
	.params = membw_params,
	.n_params = sizeof(membw_params) / sizeof(membw_params[0]),
	.setup = membw_setup,
	.run_once = membw_run_once,
	.verify = membw_verify,
	.teardown = membw_teardown,
	.metrics = membw_metrics,
	.describe = membw_describe,
	.device_seconds = membw_device_seconds,
};
