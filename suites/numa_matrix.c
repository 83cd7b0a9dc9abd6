/* numa_matrix.c: the NUMA bandwidth and latency matrix: threads bound to
 * NUMA node i read, write or chase pointers through memory bound to node j,
 * for every i (nodes with CPUs) and j (nodes with memory), as Intel MLC's
 * --bandwidth_matrix and --latency_matrix do (kernels/cpu/numa_matrix.c).
 *
 * What it is: one run_once measures the whole matrix once, cell by cell
 * (i-major), on the first rank of each host; other ranks of the host idle
 * (they still poll in the runner's MPI calls, so run it with one rank per
 * host, or the idle ranks steal cycles).  Each cell is timed by the kernel
 * itself (a repetition's time is the whole matrix; a cell needs its own), and
 * the per-cell samples of the timed repetitions accumulate in the state like
 * p2p's pair matrix.  Figures of a cell, at the median of its samples:
 *   read, write   GB/s = bytes / seconds / 1e9, bytes = the buffer, each word
 *                 read (or written) once; a write-allocate cache also reads
 *                 each written line, so write traffic is up to 2x the figure
 *   latency       ns per load = seconds / steps x 1e9, one dependent load
 *                 per step through a random single cycle of 64-byte lines
 *                 (includes TLB misses with 4 KiB pages, as MLC's random
 *                 mode without large pages does)
 * Buffers are bound to node j with hwloc_alloc_membind(BIND) and their pages
 * checked with hwloc_get_area_memlocation; the record says if they were.
 * Validation: read's sums, latency's end of chain, and after the timed
 * repetitions every written word (write) or the chain being one full cycle.
 * What it is not: loaded latency, or a STREAM (membw is).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hwloc.h>

#include "harness/stats.h"
#include "harness/suite.h"
#include "kernels/cpu/numa_matrix.h"

enum nm_measure { NM_READ, NM_WRITE, NM_LATENCY };

/* Auto buffer size: 4 x the machine's last-level caches (STREAM's rule 1a,
 * as membw uses), and never under this. */
#define AUTO_CACHE_MULTIPLE 4
#define AUTO_MIN_BYTES (64ull << 20)
#define MAX_MEMORY_SHARE 0.5 /* all buffers of a host together */
#define CHAIN_SEED 0x5eed5eedull

struct cell_samples {
	double *v;
	size_t n, cap;
};

struct nm_state {
	enum nm_measure measure;
	int leader; /* measures (local rank 0) */
	hwloc_topology_t topo;
	struct strata_numa_plan plan;
	struct strata_numa_buf buf[STRATA_NUMA_MAX_NODES];
	size_t bytes;
	int64_t steps;
	uint64_t end_line[STRATA_NUMA_MAX_NODES]; /* latency: where steps hops from line 0 end */
	uint64_t last_value;                      /* write: the value of the last pass */
	int64_t runs, wrong; /* run_once calls; wrong sums or chain ends seen */
	char first_wrong[256];
	struct cell_samples *cells; /* (n_init, n_mem) */
	double *median;             /* (n_init, n_mem) figure at each cell's median; NAN if none */
	json_t *hosts;              /* rank 0 after verify: every host's matrix */
	int local_size;
};

static const struct strata_param_def nm_params[] = {
    {.name = "device",
     .type = STRATA_PT_ENUM,
     .def = "cpu",
     .choices = "cpu",
     .help = "backend (cpu only)"},
    {.name = "measure",
     .type = STRATA_PT_ENUM,
     .def = "[read, write, latency]",
     .choices = "read|write|latency",
     .help = "read: threads of node i sum a buffer on node j; write: they store into it; latency: "
             "one thread chases pointers through it"},
    {.name = "bytes",
     .type = STRATA_PT_SIZE,
     .def = "0",
     .min = 0,
     .max = 1099511627776.0,
     .help =
         "buffer per memory node; 0 = auto: 4 x the last-level caches (hwloc), at least 64 MiB"},
    {.name = "threads",
     .type = STRATA_PT_INT,
     .def = "0",
     .min = 0,
     .max = 4096,
     .help =
         "read/write threads per CPU node (one per core, round robin); 0 = every core of the node"},
    {.name = "steps",
     .type = STRATA_PT_INT,
     .def = "1048576",
     .min = 1,
     .max = 1e12,
     .help = "latency: dependent loads per cell"},
};

static uint64_t llc_total(hwloc_topology_t topo)
{
	static const hwloc_obj_type_t levels[] = {HWLOC_OBJ_L5CACHE, HWLOC_OBJ_L4CACHE,
	                                          HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L2CACHE,
	                                          HWLOC_OBJ_L1CACHE};
	for (size_t t = 0; t < sizeof(levels) / sizeof(levels[0]); t++) {
		uint64_t sum = 0;
		int n = hwloc_get_nbobjs_by_type(topo, levels[t]);
		for (int i = 0; i < n; i++)
			sum +=
			    hwloc_get_obj_by_type(topo, levels[t], (unsigned)i)->attr->cache.size;
		if (sum)
			return sum;
	}
	return 0;
}

static void nm_teardown(void *state)
{
	struct nm_state *s = state;
	if (!s)
		return;
	for (int j = 0; j < s->plan.n_mem; j++)
		strata_numa_buf_free(s->topo, &s->buf[j]);
	for (int k = 0; s->cells && k < s->plan.n_init * s->plan.n_mem; k++)
		free(s->cells[k].v);
	free(s->cells);
	free(s->median);
	json_decref(s->hosts);
	strata_numa_plan_release(&s->plan);
	if (s->topo)
		hwloc_topology_destroy(s->topo);
	free(s);
}

static int nm_setup(const struct strata_case *c, void **state)
{
	struct nm_state *s = calloc(1, sizeof(*s));
	if (!s) {
		strata_case_errorf(c, "numa_matrix: out of memory");
		return STRATA_ERROR;
	}
	*state = s;
	const char *m = strata_params_str(c->params, "measure");
	s->measure = !strcmp(m, "read") ? NM_READ : !strcmp(m, "write") ? NM_WRITE : NM_LATENCY;
	s->leader = c->local_rank == 0;
	s->local_size = c->local_size;
	s->steps = strata_params_int(c->params, "steps");
	char err[512];
	if (hwloc_topology_init(&s->topo) != 0 || hwloc_topology_load(s->topo) != 0) {
		strata_case_errorf(c, "numa_matrix: hwloc cannot load this machine's topology");
		goto fail;
	}
	if (strata_numa_plan_build(s->topo, (int)strata_params_int(c->params, "threads"), &s->plan,
	                           err, sizeof(err)) != 0) {
		strata_case_errorf(c, "%s", err);
		goto fail;
	}
	uint64_t bytes = (uint64_t)strata_params_int(c->params, "bytes");
	if (bytes == 0) {
		bytes = AUTO_CACHE_MULTIPLE * llc_total(s->topo);
		if (bytes < AUTO_MIN_BYTES)
			bytes = AUTO_MIN_BYTES;
	}
	s->bytes = (size_t)(bytes / STRATA_NUMA_LINE_BYTES * STRATA_NUMA_LINE_BYTES);
	double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
	if (phys > 0 && (double)s->bytes * s->plan.n_mem > MAX_MEMORY_SHARE * phys) {
		strata_case_errorf(c,
		                   "numa_matrix: %d buffers x %zu bytes exceed %.0f%% of memory "
		                   "(%.3g GB); lower bytes",
		                   s->plan.n_mem, s->bytes, MAX_MEMORY_SHARE * 100, phys / 1e9);
		nm_teardown(s);
		*state = NULL;
		return STRATA_SKIP;
	}
	size_t ncell = (size_t)s->plan.n_init * (size_t)s->plan.n_mem;
	s->cells = calloc(ncell, sizeof(*s->cells));
	s->median = calloc(ncell, sizeof(*s->median));
	if (!s->cells || !s->median) {
		strata_case_errorf(c, "numa_matrix: out of memory");
		goto fail;
	}
	for (size_t k = 0; k < ncell; k++)
		s->median[k] = NAN;
	if (!s->leader)
		return STRATA_OK;
	for (int j = 0; j < s->plan.n_mem; j++) {
		if (strata_numa_buf_alloc(s->topo, &s->plan, j, s->bytes, &s->buf[j], err,
		                          sizeof(err)) != 0) {
			strata_case_errorf(c, "%s", err);
			goto fail;
		}
		if (s->measure == NM_READ)
			strata_numa_fill_words(&s->buf[j]);
		else if (s->measure == NM_LATENCY) {
			strata_numa_fill_chain(&s->buf[j], CHAIN_SEED + (uint64_t)j);
			s->end_line[j] = strata_numa_walk(&s->buf[j], s->steps);
		}
		strata_numa_buf_verify_place(s->topo, &s->plan, j, &s->buf[j]);
	}
	return STRATA_OK;
fail:
	nm_teardown(s);
	*state = NULL;
	return STRATA_ERROR;
}

static int push(struct cell_samples *cs, double x)
{
	if (cs->n == cs->cap) {
		size_t cap = cs->cap ? 2 * cs->cap : 16;
		double *nv = realloc(cs->v, cap * sizeof(*nv));
		if (!nv)
			return -1;
		cs->v = nv;
		cs->cap = cap;
	}
	cs->v[cs->n++] = x;
	return 0;
}

static int nm_run_once(void *state, const struct strata_case *c)
{
	struct nm_state *s = state;
	if (!s->leader)
		return STRATA_OK;
	s->runs++;
	char err[512];
	for (int i = 0; i < s->plan.n_init; i++) {
		for (int j = 0; j < s->plan.n_mem; j++) {
			double sec;
			uint64_t got = 0;
			if (s->measure == NM_READ) {
				sec = strata_numa_read(s->topo, &s->plan, i, &s->buf[j], &got, err,
				                       sizeof(err));
				if (sec >= 0 && got != strata_numa_expected_sum(&s->buf[j]) &&
				    !s->wrong++)
					snprintf(s->first_wrong, sizeof(s->first_wrong),
					         "read node %u <- %u: sum %llu, expected %llu",
					         s->plan.init_os[i], s->plan.mem_os[j],
					         (unsigned long long)got,
					         (unsigned long long)strata_numa_expected_sum(
					             &s->buf[j]));
			} else if (s->measure == NM_WRITE) {
				s->last_value = (uint64_t)s->runs * 1000003u +
				                (uint64_t)(i * s->plan.n_mem + j);
				sec = strata_numa_write(s->topo, &s->plan, i, &s->buf[j],
				                        s->last_value, err, sizeof(err));
			} else {
				sec = strata_numa_latency(s->topo, &s->plan, i, &s->buf[j],
				                          s->steps, &got, err, sizeof(err));
				if (sec >= 0 && got != s->end_line[j] && !s->wrong++)
					snprintf(s->first_wrong, sizeof(s->first_wrong),
					         "latency node %u <- %u: chain ended at line %llu, "
					         "expected %llu",
					         s->plan.init_os[i], s->plan.mem_os[j],
					         (unsigned long long)got,
					         (unsigned long long)s->end_line[j]);
			}
			if (sec < 0) {
				strata_case_errorf(c, "%s", err);
				return STRATA_ERROR;
			}
			if (c->timed && push(&s->cells[i * s->plan.n_mem + j], sec) != 0) {
				strata_case_errorf(c, "numa_matrix: out of memory keeping samples");
				return STRATA_ERROR;
			}
		}
	}
	return STRATA_OK;
}

/* A cell's figure from its time. */
static double figure(const struct nm_state *s, double sec)
{
	if (!(sec > 0))
		return NAN;
	if (s->measure == NM_LATENCY)
		return sec / (double)s->steps * 1e9;
	return (double)s->bytes / sec / 1e9;
}

static void medians(struct nm_state *s)
{
	for (int k = 0; k < s->plan.n_init * s->plan.n_mem; k++) {
		struct strata_stats st;
		if (s->cells[k].n && strata_stats_compute(s->cells[k].v, s->cells[k].n, &st) == 0)
			s->median[k] = figure(s, st.median);
	}
}

static json_t *matrix_json(const double *m, int rows, int cols)
{
	json_t *a = json_array();
	for (int i = 0; i < rows; i++) {
		json_t *row = json_array();
		for (int j = 0; j < cols; j++)
			json_array_append_new(row, isfinite(m[i * cols + j])
			                               ? json_real(m[i * cols + j])
			                               : json_null());
		json_array_append_new(a, row);
	}
	return a;
}

/* Every host leader's matrix to rank 0: [n_init, n_mem, cells...]. */
static int gather_hosts(struct nm_state *s, const struct strata_case *c)
{
	int n = s->leader ? 2 + s->plan.n_init * s->plan.n_mem : 0;
	double *mine = malloc((size_t)(n > 0 ? n : 1) * sizeof(*mine));
	if (!mine)
		return -1;
	if (s->leader) {
		mine[0] = s->plan.n_init;
		mine[1] = s->plan.n_mem;
		memcpy(mine + 2, s->median, (size_t)(n - 2) * sizeof(*mine));
	}
	int *counts = NULL, *displ = NULL;
	double *all = NULL;
	char(*names)[MPI_MAX_PROCESSOR_NAME] = NULL;
	char me[MPI_MAX_PROCESSOR_NAME] = "";
	int len = 0;
	MPI_Get_processor_name(me, &len);
	if (c->rank == 0) {
		counts = calloc((size_t)c->nranks, sizeof(*counts));
		displ = calloc((size_t)c->nranks, sizeof(*displ));
		names = calloc((size_t)c->nranks, sizeof(*names));
	}
	MPI_Gather(&n, 1, MPI_INT, counts, 1, MPI_INT, 0, c->comm);
	MPI_Gather(me, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, names, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0,
	           c->comm);
	if (c->rank == 0) {
		int total = 0;
		for (int r = 0; r < c->nranks; r++) {
			displ[r] = total;
			total += counts[r];
		}
		all = malloc((size_t)(total > 0 ? total : 1) * sizeof(*all));
	}
	MPI_Gatherv(mine, n, MPI_DOUBLE, all, counts, displ, MPI_DOUBLE, 0, c->comm);
	if (c->rank == 0 && all) {
		s->hosts = json_array();
		for (int r = 0; r < c->nranks; r++) {
			if (counts[r] < 2)
				continue;
			const double *h = all + displ[r];
			json_array_append_new(s->hosts,
			                      json_pack("{s:s,s:i,s:o}", "host", names[r], "rank",
			                                r, "matrix",
			                                matrix_json(h + 2, (int)h[0], (int)h[1])));
		}
	}
	free(mine);
	free(counts);
	free(displ);
	free(all);
	free(names);
	return 0;
}

static int64_t nm_verify(void *state, const struct strata_case *c)
{
	struct nm_state *s = state;
	int64_t wrong = s->wrong;
	if (s->leader && s->runs > 0) {
		for (int j = 0; j < s->plan.n_mem; j++) {
			if (s->measure == NM_WRITE) {
				int64_t w = strata_numa_check_write(&s->buf[j], s->last_value);
				if (w && !wrong)
					snprintf(s->first_wrong, sizeof(s->first_wrong),
					         "write: %lld words of node %u's buffer do not "
					         "hold the last value",
					         (long long)w, s->plan.mem_os[j]);
				wrong += w;
			} else if (s->measure == NM_LATENCY &&
			           !strata_numa_check_chain(&s->buf[j])) {
				if (!wrong)
					snprintf(s->first_wrong, sizeof(s->first_wrong),
					         "latency: node %u's chain is not one cycle "
					         "through every line",
					         s->plan.mem_os[j]);
				wrong++;
			}
		}
	} else if (s->leader) {
		snprintf(s->first_wrong, sizeof(s->first_wrong), "the matrix was never measured");
		wrong++;
	}
	if (s->leader)
		medians(s);
	if (gather_hosts(s, c) != 0 && !wrong) {
		strata_case_errorf(c, "numa_matrix: out of memory gathering matrices");
		return -1;
	}
	if (wrong)
		strata_case_errorf(c, "numa_matrix, rank %d: %s", c->rank, s->first_wrong);
	return wrong;
}

static int is_local(const struct nm_state *s, int i, int j)
{
	return s->plan.init_os[i] == s->plan.mem_os[j];
}

static size_t nm_metrics(const void *state, const struct strata_case *c, double seconds,
                         struct strata_metric *out, size_t max)
{
	(void)c;
	const struct nm_state *s = state;
	size_t n = 0;
	if (n < max)
		out[n++] = (struct strata_metric){"sweep_time", "ms", seconds * 1e3, 0};
	double loc = 0, rem = 0, worst = NAN;
	int nl = 0, nr = 0;
	int lat = s->measure == NM_LATENCY;
	for (int i = 0; i < s->plan.n_init; i++) {
		for (int j = 0; j < s->plan.n_mem; j++) {
			double v = s->median[i * s->plan.n_mem + j];
			if (!isfinite(v))
				continue;
			if (is_local(s, i, j))
				loc += v, nl++;
			else
				rem += v, nr++;
			if (isnan(worst) || (lat ? v > worst : v < worst))
				worst = v;
		}
	}
	const char *unit = lat ? "ns" : "GB/s";
	if (nl && n < max)
		out[n++] = (struct strata_metric){lat ? "local_latency" : "local_bandwidth", unit,
		                                  loc / nl, !lat};
	if (nr && n < max)
		out[n++] = (struct strata_metric){lat ? "remote_latency" : "remote_bandwidth", unit,
		                                  rem / nr, !lat};
	if (!isnan(worst) && n < max)
		out[n++] = (struct strata_metric){lat ? "worst_latency" : "worst_bandwidth", unit,
		                                  worst, !lat};
	return n;
}

static void nm_describe(const void *state, const struct strata_case *c, json_t *d)
{
	(void)c;
	const struct nm_state *s = state;
	static const char *const names[] = {"read", "write", "latency"};
	json_t *rows = json_array(), *cols = json_array(), *threads = json_array(),
	       *place = json_array();
	for (int i = 0; i < s->plan.n_init; i++) {
		json_array_append_new(rows, json_integer(s->plan.init_os[i]));
		json_t *pus = json_array();
		int nt = s->measure == NM_LATENCY ? 1 : s->plan.threads[i];
		for (int t = 0; t < nt; t++)
			json_array_append_new(pus, json_integer(s->plan.pus[i][t]));
		json_array_append_new(
		    threads, json_pack("{s:i,s:o}", "node", (int)s->plan.init_os[i], "pus", pus));
	}
	for (int j = 0; j < s->plan.n_mem; j++) {
		json_array_append_new(cols, json_integer(s->plan.mem_os[j]));
		json_array_append_new(
		    place, json_pack("{s:i,s:s,s:b,s:o}", "node", (int)s->plan.mem_os[j], "how",
		                     s->buf[j].how, "bound", s->buf[j].bound, "pages_verified",
		                     s->buf[j].verified < 0 ? json_null()
		                                            : json_boolean(s->buf[j].verified)));
	}
	json_object_set_new(d, "measure", json_string(names[s->measure]));
	json_object_set_new(d, "unit", json_string(s->measure == NM_LATENCY ? "ns" : "GB/s"));
	json_object_set_new(d, "cpu_nodes", rows);
	json_object_set_new(d, "memory_nodes", cols);
	json_object_set_new(d, "matrix", matrix_json(s->median, s->plan.n_init, s->plan.n_mem));
	json_object_set_new(
	    d, "matrix_layout",
	    json_string(
	        "matrix[i][j]: threads on cpu_nodes[i], memory on memory_nodes[j]; each cell "
	        "the figure at the median of its timed samples"));
	json_object_set_new(d, "bytes", json_integer((json_int_t)s->bytes));
	if (s->measure == NM_LATENCY)
		json_object_set_new(d, "steps", json_integer(s->steps));
	json_object_set_new(d, "threads", threads);
	json_object_set_new(d, "placement", place);
	json_object_set_new(
	    d, "formula",
	    json_string(
	        s->measure == NM_LATENCY
	            ? "ns per load = cell seconds / steps x 1e9; one dependent load per 64-byte "
	              "line in a random single cycle (Sattolo)"
	            : "GB/s = bytes / cell seconds / 1e9; each 8-byte word read or written once; "
	              "write-allocate reads of written lines not counted"));
	if (s->hosts)
		json_object_set_new(d, "hosts", json_incref(s->hosts));
	if (s->local_size > 1)
		json_object_set_new(
		    d, "warning",
		    json_sprintf(
		        "%d ranks on this host: only the first measures, the others poll in "
		        "MPI and may steal cycles; run numa_matrix with one rank per host",
		        s->local_size));
}

const struct strata_suite strata_suite_numa_matrix = {
    .name = "numa_matrix",
    .summary = "NUMA bandwidth (read, write) and latency from every CPU node to every memory node "
               "(MLC-style matrix)",
    .flags = 0,
    .params = nm_params,
    .n_params = sizeof(nm_params) / sizeof(nm_params[0]),
    .setup = nm_setup,
    .run_once = nm_run_once,
    .verify = nm_verify,
    .teardown = nm_teardown,
    .metrics = nm_metrics,
    .describe = nm_describe,
};
