/* numa_matrix.h: memory bandwidth and latency from the CPUs of NUMA node i to
 * memory placed on NUMA node j, for every i and j (the measurement behind
 * Intel MLC's --bandwidth_matrix and --latency_matrix, written from their
 * description, not their code).
 *
 * What it is: the placement plan (which PUs a node's threads run on, which
 * node a buffer is bound to), buffers bound with hwloc_alloc_membind and
 * checked with hwloc_get_area_memlocation, and three timed kernels over one
 * buffer:
 *   read     every thread sums its contiguous share of 8-byte words
 *   write    every thread stores a value into its share of 8-byte words
 *   latency  one thread follows a chain of pointers, one per 64-byte line, in
 *            a random cyclic order (Sattolo's algorithm), so every load
 *            depends on the one before and the prefetchers cannot guess
 * Each kernel binds its threads (one per PU of the plan) for the call and
 * puts their previous bindings back.  The kernels time themselves (one cell
 * of a matrix is one call; a benchmark repetition is a whole matrix), with
 * CLOCK_MONOTONIC between two barriers of the thread team.
 * What it is not: a driver (suites/numa_matrix.c decides sizes and records
 * matrices), or loaded-latency (MLC's --loaded_latency).
 */
#ifndef STRATA_KERNELS_CPU_NUMA_MATRIX_H
#define STRATA_KERNELS_CPU_NUMA_MATRIX_H

#include <stddef.h>
#include <stdint.h>

#include <hwloc.h>

#define STRATA_NUMA_MAX_NODES 64
#define STRATA_NUMA_LINE_BYTES 64 /* latency: one pointer per cache line */

/* Who runs where and which memory is where.  Initiators are the NUMA nodes
 * with CPUs (rows), targets the nodes with memory (columns; CPU-less nodes
 * such as HBM or CXL memory are columns only). */
struct strata_numa_plan {
	int n_init, n_mem;
	unsigned init_os[STRATA_NUMA_MAX_NODES];           /* os index of initiator i */
	unsigned mem_os[STRATA_NUMA_MAX_NODES];            /* os index of target j */
	hwloc_bitmap_t mem_nodeset[STRATA_NUMA_MAX_NODES]; /* {mem_os[j]} */
	int threads[STRATA_NUMA_MAX_NODES];                /* threads of initiator i */
	unsigned *pus[STRATA_NUMA_MAX_NODES]; /* (threads[i]) PU os index of each thread */
};

/* Build the plan: initiator i runs threads_per_node threads (0: one per core
 * of the node), thread t on the first PU of core t mod ncores(i).  Returns 0
 * or -1 with err. */
int strata_numa_plan_build(hwloc_topology_t topo, int threads_per_node, struct strata_numa_plan *p,
                           char *err, size_t err_len);
void strata_numa_plan_release(struct strata_numa_plan *p);

/* A buffer bound to one target node. */
struct strata_numa_buf {
	void *p;
	size_t bytes;
	int bound;       /* allocated with hwloc_alloc_membind(BIND) */
	int hwloc_alloc; /* free with hwloc_free (else free) */
	int verified;    /* every page found on the target node (1), not (0), unknown (-1) */
	char how[192];   /* what was done, for the record */
};

/* Allocate bytes on target j and touch them.  On a one-node machine where
 * memory binding is not supported, falls back to plain memory (there is only
 * one place it can be).  Returns 0 or -1 with err. */
int strata_numa_buf_alloc(hwloc_topology_t topo, const struct strata_numa_plan *p, int j,
                          size_t bytes, struct strata_numa_buf *b, char *err, size_t err_len);
/* Check where the buffer's pages are (hwloc_get_area_memlocation, which asks
 * the kernel per page); sets b->verified. */
void strata_numa_buf_verify_place(hwloc_topology_t topo, const struct strata_numa_plan *p, int j,
                                  struct strata_numa_buf *b);
void strata_numa_buf_free(hwloc_topology_t topo, struct strata_numa_buf *b);

/* Fill for the read kernel: word k holds k.  The sum over all words is then
 * n(n-1)/2 mod 2^64, which read checks. */
void strata_numa_fill_words(struct strata_numa_buf *b);
/* Fill for the latency kernel: a single random cycle through every line
 * (Sattolo's algorithm, xorshift64 seeded with seed). */
void strata_numa_fill_chain(struct strata_numa_buf *b, uint64_t seed);

/* The kernels: initiator i's threads over buffer b.  Return the seconds
 * between the team's start and end barriers, or a negative value when a
 * thread could not be bound (err says which). */
double strata_numa_read(hwloc_topology_t topo, const struct strata_numa_plan *p, int i,
                        const struct strata_numa_buf *b, uint64_t *sum, char *err, size_t err_len);
double strata_numa_write(hwloc_topology_t topo, const struct strata_numa_plan *p, int i,
                         struct strata_numa_buf *b, uint64_t value, char *err, size_t err_len);
/* steps dependent loads from line 0; *end_line gets the line reached. */
double strata_numa_latency(hwloc_topology_t topo, const struct strata_numa_plan *p, int i,
                           const struct strata_numa_buf *b, int64_t steps, uint64_t *end_line,
                           char *err, size_t err_len);

/* Checks (untimed).  Number of wrong words after write with value (all
 * words must hold value); whether the chain is one cycle through every line. */
int64_t strata_numa_check_write(const struct strata_numa_buf *b, uint64_t value);
int strata_numa_check_chain(const struct strata_numa_buf *b);
/* n(n-1)/2 mod 2^64 for the read fill of b. */
uint64_t strata_numa_expected_sum(const struct strata_numa_buf *b);
/* The line `steps` hops from line 0, walked untimed (the latency kernel must
 * end there). */
uint64_t strata_numa_walk(const struct strata_numa_buf *b, int64_t steps);

#endif
