/* numa_matrix.c: placement, buffers and kernels of the NUMA matrix (see
 * numa_matrix.h).  Nothing here prints. */
#define _GNU_SOURCE
#include "kernels/cpu/numa_matrix.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- the plan ------------------------------------------------------------------ */

int strata_numa_plan_build(hwloc_topology_t topo, int threads_per_node, struct strata_numa_plan *p,
                           char *err, size_t err_len)
{
	memset(p, 0, sizeof(*p));
	hwloc_obj_t node = NULL;
	while ((node = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, node))) {
		int has_cpus = node->cpuset && !hwloc_bitmap_iszero(node->cpuset);
		if (p->n_mem >= STRATA_NUMA_MAX_NODES ||
		    (has_cpus && p->n_init >= STRATA_NUMA_MAX_NODES)) {
			snprintf(err, err_len, "numa_matrix: more than %d NUMA nodes",
			         STRATA_NUMA_MAX_NODES);
			goto fail;
		}
		int j = p->n_mem++;
		p->mem_os[j] = node->os_index;
		p->mem_nodeset[j] = hwloc_bitmap_alloc();
		if (!p->mem_nodeset[j]) {
			snprintf(err, err_len, "numa_matrix: out of memory");
			goto fail;
		}
		hwloc_bitmap_only(p->mem_nodeset[j], node->os_index);
		if (!has_cpus)
			continue;
		int i = p->n_init++;
		p->init_os[i] = node->os_index;
		/* One PU per core of the node: the first PU of each core. */
		int ncores =
		    hwloc_get_nbobjs_inside_cpuset_by_type(topo, node->cpuset, HWLOC_OBJ_CORE);
		hwloc_obj_type_t unit = ncores > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
		if (ncores <= 0)
			ncores = hwloc_get_nbobjs_inside_cpuset_by_type(topo, node->cpuset,
			                                                HWLOC_OBJ_PU);
		if (ncores <= 0) {
			snprintf(err, err_len, "numa_matrix: NUMA node %u has no PU",
			         node->os_index);
			goto fail;
		}
		int t = threads_per_node > 0 ? threads_per_node : ncores;
		p->threads[i] = t;
		p->pus[i] = calloc((size_t)t, sizeof(*p->pus[i]));
		if (!p->pus[i]) {
			snprintf(err, err_len, "numa_matrix: out of memory");
			goto fail;
		}
		for (int k = 0; k < t; k++) {
			hwloc_obj_t core = hwloc_get_obj_inside_cpuset_by_type(
			    topo, node->cpuset, unit, (unsigned)(k % ncores));
			p->pus[i][k] = (unsigned)hwloc_bitmap_first(core->cpuset);
		}
	}
	if (p->n_init == 0 || p->n_mem == 0) {
		snprintf(err, err_len, "numa_matrix: hwloc sees no NUMA node with CPUs and memory");
		goto fail;
	}
	return 0;
fail:
	strata_numa_plan_release(p);
	return -1;
}

void strata_numa_plan_release(struct strata_numa_plan *p)
{
	for (int j = 0; j < STRATA_NUMA_MAX_NODES; j++)
		if (p->mem_nodeset[j])
			hwloc_bitmap_free(p->mem_nodeset[j]);
	for (int i = 0; i < STRATA_NUMA_MAX_NODES; i++)
		free(p->pus[i]);
	memset(p, 0, sizeof(*p));
}

/* ---- buffers ---------------------------------------------------------------------- */

int strata_numa_buf_alloc(hwloc_topology_t topo, const struct strata_numa_plan *p, int j,
                          size_t bytes, struct strata_numa_buf *b, char *err, size_t err_len)
{
	memset(b, 0, sizeof(*b));
	b->verified = -1;
	bytes = bytes / STRATA_NUMA_LINE_BYTES * STRATA_NUMA_LINE_BYTES;
	if (bytes < 2 * STRATA_NUMA_LINE_BYTES) {
		snprintf(err, err_len, "numa_matrix: buffer of %zu bytes is too small", bytes);
		return -1;
	}
	b->bytes = bytes;
	/* STRICT: bound where asked, or an error (never silently elsewhere). */
	b->p = hwloc_alloc_membind(topo, bytes, p->mem_nodeset[j], HWLOC_MEMBIND_BIND,
	                           HWLOC_MEMBIND_BYNODESET | HWLOC_MEMBIND_STRICT);
	if (b->p) {
		b->bound = 1;
		b->hwloc_alloc = 1;
		snprintf(b->how, sizeof(b->how), "hwloc_alloc_membind(node %u, BIND)",
		         p->mem_os[j]);
	} else if (p->n_mem == 1) {
		int why = errno;
		if (posix_memalign(&b->p, 4096, bytes) != 0)
			b->p = NULL;
		snprintf(b->how, sizeof(b->how),
		         "plain allocation: the only NUMA node (hwloc_alloc_membind: %s)",
		         strerror(why));
	}
	if (!b->p) {
		snprintf(err, err_len,
		         "numa_matrix: cannot allocate %zu bytes bound to NUMA node %u: %s", bytes,
		         p->mem_os[j], strerror(errno));
		return -1;
	}
	memset(b->p, 0, bytes); /* touch: BIND places every page on the node */
	return 0;
}

void strata_numa_buf_verify_place(hwloc_topology_t topo, const struct strata_numa_plan *p, int j,
                                  struct strata_numa_buf *b)
{
	hwloc_bitmap_t where = hwloc_bitmap_alloc();
	b->verified = -1;
	if (where &&
	    hwloc_get_area_memlocation(topo, b->p, b->bytes, where, HWLOC_MEMBIND_BYNODESET) == 0 &&
	    !hwloc_bitmap_iszero(where))
		b->verified = hwloc_bitmap_isequal(where, p->mem_nodeset[j]);
	hwloc_bitmap_free(where);
}

void strata_numa_buf_free(hwloc_topology_t topo, struct strata_numa_buf *b)
{
	if (b->p && b->hwloc_alloc)
		hwloc_free(topo, b->p, b->bytes);
	else
		free(b->p);
	memset(b, 0, sizeof(*b));
}

void strata_numa_fill_words(struct strata_numa_buf *b)
{
	uint64_t *w = b->p;
	size_t n = b->bytes / sizeof(*w);
	for (size_t k = 0; k < n; k++)
		w[k] = k;
}

uint64_t strata_numa_expected_sum(const struct strata_numa_buf *b)
{
	uint64_t n = b->bytes / sizeof(uint64_t);
	/* n(n-1)/2 without overflow before the division: halve the even factor. */
	return n % 2 ? n * ((n - 1) / 2) : (n / 2) * (n - 1);
}

static uint64_t xorshift64(uint64_t *s)
{
	/* Marsaglia, "Xorshift RNGs", J. Stat. Software 8(14), 2003: (13, 7, 17). */
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

void strata_numa_fill_chain(struct strata_numa_buf *b, uint64_t seed)
{
	size_t n = b->bytes / STRATA_NUMA_LINE_BYTES;
	char *base = b->p;
	/* Sattolo's algorithm (a Fisher-Yates shuffle with j < i): next[] is a
	 * uniformly random permutation with a single cycle, stored in place as
	 * each line's successor index, then turned into pointers. */
	uint64_t s = seed ? seed : 0x9e3779b97f4a7c15ull;
	for (size_t k = 0; k < n; k++)
		*(uint64_t *)(base + k * STRATA_NUMA_LINE_BYTES) = k;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)(xorshift64(&s) % i);
		uint64_t *a = (uint64_t *)(base + i * STRATA_NUMA_LINE_BYTES);
		uint64_t *c = (uint64_t *)(base + j * STRATA_NUMA_LINE_BYTES);
		uint64_t tmp = *a;
		*a = *c;
		*c = tmp;
	}
	for (size_t k = 0; k < n; k++) {
		uint64_t next = *(uint64_t *)(base + k * STRATA_NUMA_LINE_BYTES);
		*(void **)(base + k * STRATA_NUMA_LINE_BYTES) =
		    base + next * STRATA_NUMA_LINE_BYTES;
	}
}

int strata_numa_check_chain(const struct strata_numa_buf *b)
{
	size_t n = b->bytes / STRATA_NUMA_LINE_BYTES;
	const char *base = b->p, *q = base;
	for (size_t k = 0; k < n; k++) {
		const char *next = *(char *const *)q;
		if (next < base || next >= base + b->bytes ||
		    (size_t)(next - base) % STRATA_NUMA_LINE_BYTES)
			return 0;
		q = next;
		if (q == base && k + 1 < n)
			return 0; /* back at the start too early: more than one cycle */
	}
	return q == base;
}

uint64_t strata_numa_walk(const struct strata_numa_buf *b, int64_t steps)
{
	const char *base = b->p;
	void *q = b->p;
	for (int64_t k = 0; k < steps; k++)
		q = *(void **)q;
	return (uint64_t)((const char *)q - base) / STRATA_NUMA_LINE_BYTES;
}

int64_t strata_numa_check_write(const struct strata_numa_buf *b, uint64_t value)
{
	const uint64_t *w = b->p;
	size_t n = b->bytes / sizeof(*w);
	int64_t wrong = 0;
	for (size_t k = 0; k < n; k++)
		wrong += w[k] != value;
	return wrong;
}

/* ---- kernels ------------------------------------------------------------------------ */

enum op { OP_READ, OP_WRITE, OP_LATENCY };

/* Run op with initiator i's threads bound one per planned PU. */
static double team(hwloc_topology_t topo, const struct strata_numa_plan *p, int i, enum op op,
                   const struct strata_numa_buf *b, uint64_t value, int64_t steps, uint64_t *out,
                   char *err, size_t err_len)
{
	int nt = op == OP_LATENCY ? 1 : p->threads[i];
	uint64_t *partial = calloc((size_t)nt, sizeof(*partial));
	if (!partial) {
		snprintf(err, err_len, "numa_matrix: out of memory");
		return -1;
	}
	int bad = 0, got = 0;
	unsigned bad_pu = 0;
	int64_t t0 = 0, t1 = 0;
	size_t words = b->bytes / sizeof(uint64_t);
#pragma omp parallel num_threads(nt) reduction(| : bad)
	{
		int t = omp_get_thread_num();
#pragma omp single
		got = omp_get_num_threads();
		hwloc_bitmap_t old = hwloc_bitmap_alloc(), want = hwloc_bitmap_alloc();
		int had_old = old && hwloc_get_cpubind(topo, old, HWLOC_CPUBIND_THREAD) == 0;
		if (want)
			hwloc_bitmap_only(want, p->pus[i][t % p->threads[i]]);
		if (!want || hwloc_set_cpubind(topo, want, HWLOC_CPUBIND_THREAD) != 0) {
			bad = 1;
#pragma omp critical(strata_numa_bad_pu)
			bad_pu = p->pus[i][t % p->threads[i]];
		}
		/* Each thread's share: words [lo, hi). */
		size_t lo = words * (size_t)t / (size_t)got,
		       hi = words * (size_t)(t + 1) / (size_t)got;
#pragma omp barrier
#pragma omp master
		t0 = now_ns();
#pragma omp barrier
		if (op == OP_READ) {
			const uint64_t *w = b->p;
			uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
			size_t k = lo;
			for (; k + 4 <= hi; k += 4) {
				s0 += w[k];
				s1 += w[k + 1];
				s2 += w[k + 2];
				s3 += w[k + 3];
			}
			for (; k < hi; k++)
				s0 += w[k];
			partial[t] = s0 + s1 + s2 + s3;
		} else if (op == OP_WRITE) {
			uint64_t *w = b->p;
			for (size_t k = lo; k < hi; k++)
				w[k] = value;
		} else if (t == 0) {
			void *q = b->p;
			for (int64_t k = 0; k < steps; k++)
				q = *(void **)q;
			partial[0] = (uint64_t)((char *)q - (char *)b->p) / STRATA_NUMA_LINE_BYTES;
		}
#pragma omp barrier
#pragma omp master
		t1 = now_ns();
		if (had_old)
			hwloc_set_cpubind(topo, old, HWLOC_CPUBIND_THREAD);
		hwloc_bitmap_free(old);
		hwloc_bitmap_free(want);
	}
	uint64_t total = 0;
	for (int t = 0; t < got && t < nt; t++)
		total += partial[t];
	free(partial);
	if (got != nt) {
		snprintf(err, err_len,
		         "numa_matrix: asked for %d threads on node %u, OpenMP gave %d", nt,
		         p->init_os[i], got);
		return -1;
	}
	if (bad) {
		snprintf(err, err_len, "numa_matrix: cannot bind a thread to PU %u of node %u",
		         bad_pu, p->init_os[i]);
		return -1;
	}
	if (out)
		*out = total;
	return (double)(t1 - t0) * 1e-9;
}

double strata_numa_read(hwloc_topology_t topo, const struct strata_numa_plan *p, int i,
                        const struct strata_numa_buf *b, uint64_t *sum, char *err, size_t err_len)
{
	return team(topo, p, i, OP_READ, b, 0, 0, sum, err, err_len);
}

double strata_numa_write(hwloc_topology_t topo, const struct strata_numa_plan *p, int i,
                         struct strata_numa_buf *b, uint64_t value, char *err, size_t err_len)
{
	return team(topo, p, i, OP_WRITE, b, value, 0, NULL, err, err_len);
}

double strata_numa_latency(hwloc_topology_t topo, const struct strata_numa_plan *p, int i,
                           const struct strata_numa_buf *b, int64_t steps, uint64_t *end_line,
                           char *err, size_t err_len)
{
	return team(topo, p, i, OP_LATENCY, b, 0, steps, end_line, err, err_len);
}
