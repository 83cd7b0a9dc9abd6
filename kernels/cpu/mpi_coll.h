/* mpi_coll.h: the shared driver of the MPI collective suites (allreduce,
 * allgather, reduce_scatter, broadcast, alltoall).
 *
 * What it is: nccl-tests' per-collective contract (byte count, data init,
 * bandwidth, run: nccl-tests src/common.h, struct testColl) written once for
 * MPI on host memory, plus the glue that turns it into a strata suite.  Each
 * suites/<collective>.c holds only its parameter table and its struct
 * strata_suite.  What it is not: a timer (the runner times run_once), a
 * printer, or an implementation of any collective (MPI does the work).
 *
 * Sizes and bandwidths follow nccl-tests exactly, so figures are comparable
 * (NVIDIA/nccl-tests at a0b82b2, src/common.cu setupArgs() and
 * src/<coll>.cu <Coll>GetCollByteCount() / <Coll>GetBw(), doc/PERFORMANCE.md):
 *
 *   count  = size / typesize                              (rounded down)
 *   base   = (count / n) & ~(16/typesize - 1)             per-rank block, rounded
 *            down to a multiple of 16 bytes (allgather, reduce_scatter, alltoall)
 *
 *   collective      send elems   recv elems   "count" arg   busbw factor
 *   allreduce       count        count        count         2(n-1)/n
 *   allgather       base         base*n       base          (n-1)/n
 *   reduce_scatter  base*n       base         base          (n-1)/n
 *   broadcast       count        count        count         1
 *   alltoall        base*n       base*n       base          (n-1)/n
 *
 *   S = max(send, recv) * typesize   (nccl-tests' "size" column: the whole
 *                                     buffer, e.g. allgather's full output)
 *   algbw = S / t,   busbw = algbw * factor     (GB/s = 1e9 bytes/s)
 *
 * n is the number of ranks, t the time of one collective (the slowest rank's).
 */
#ifndef STRATA_MPI_COLL_H
#define STRATA_MPI_COLL_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#include "harness/suite.h"

enum strata_coll_kind {
	STRATA_COLL_ALLREDUCE,
	STRATA_COLL_ALLGATHER,
	STRATA_COLL_REDUCE_SCATTER,
	STRATA_COLL_BROADCAST,
	STRATA_COLL_ALLTOALL,
};

enum strata_coll_dtype {
	STRATA_COLL_FLOAT,  /* MPI_FLOAT, 4 bytes */
	STRATA_COLL_DOUBLE, /* MPI_DOUBLE, 8 bytes */
};

/* Element counts of one collective call, as nccl-tests computes them. */
struct strata_coll_counts {
	size_t count;      /* the count argument of the call (nccl-tests' "count") */
	size_t send_count; /* elements in each rank's send buffer */
	size_t recv_count; /* elements in each rank's receive buffer */
	size_t bytes;      /* S = max(send, recv) * typesize (nccl-tests' "size") */
};

/* Counts for a requested size in bytes (see the table above).  nranks >= 1,
 * elt_bytes in {4, 8}. */
void strata_coll_counts_get(enum strata_coll_kind kind, size_t size_bytes, size_t elt_bytes,
			    int nranks, struct strata_coll_counts *out);

/* nccl-tests' bus-bandwidth correction factor for n ranks (0 for allreduce,
 * allgather, reduce_scatter and alltoall at n = 1: nothing crosses a link). */
double strata_coll_busbw_factor(enum strata_coll_kind kind, int nranks);

/* algbw in GB/s (1e9 bytes/s) of S bytes moved in seconds; 0 when seconds <= 0. */
double strata_coll_algbw_gbps(size_t bytes, double seconds);

/* "allreduce", ... and the formula text recorded in describe(). */
const char *strata_coll_kind_name(enum strata_coll_kind kind);
const char *strata_coll_formula(enum strata_coll_kind kind);

/* One configured collective on one rank: its buffers and what it ran. */
struct strata_coll {
	enum strata_coll_kind kind;
	enum strata_coll_dtype dtype;
	MPI_Datatype mpi_type;
	size_t elt_bytes;
	MPI_Comm comm;
	int rank, nranks;
	int root;          /* broadcast only */
	int inplace;       /* MPI_IN_PLACE as sendbuf (not broadcast) */
	size_t size_bytes; /* as requested, before rounding */
	struct strata_coll_counts n;
	void *send;        /* NULL when in place, and for broadcast */
	void *recv;        /* output (in place: input and output); broadcast's buffer */
	size_t recv_alloc_count; /* elements allocated in recv (in place may need more) */
	int64_t runs;      /* collectives run since the last fill */
	double *red_sum;   /* reductions: expected sum by (global index mod STRATA_COLL_RED_MOD) */
	/* device cuda: NCCL (suites/coll_gpu.c) does the work and this struct
	 * only carries the counts; NULL on cpu. */
	struct strata_coll_gpu_state *gpu;
	int launches;      /* collectives per run_once: 1 on cpu */
};

struct strata_coll_config {
	enum strata_coll_kind kind;
	enum strata_coll_dtype dtype;
	size_t size_bytes;
	int inplace;
	int root;
};

/* Reduction inputs are small integers (r + g) mod this prime, so sums stay
 * exact in float up to 2^24 / 250 = 67108 ranks. */
#define STRATA_COLL_RED_MOD 251
/* Copy collectives carry a per-element code masked to 24 bits (exact in float). */
#define STRATA_COLL_COPY_MASK ((1u << 24) - 1)
/* table[t] = sum over r = 0..nranks-1 of (r + t) mod STRATA_COLL_RED_MOD, for
 * t = 0..STRATA_COLL_RED_MOD-1: the exact expected sum at global index g is
 * table[g mod STRATA_COLL_RED_MOD]. */
void strata_coll_red_sum_table(double *table, int nranks);

/* What an output element holds before the collective writes it. */
#define STRATA_COLL_SENTINEL (-1.0)

/* Validate the configuration, allocate and fill the buffers.  Returns
 * STRATA_OK, STRATA_SKIP (cannot run here: float sums would be inexact, count
 * beyond MPI's int) or STRATA_ERROR, with a message in err.  Collective: no,
 * only local work. */
int strata_coll_init(struct strata_coll *cl, const struct strata_coll_config *cfg, MPI_Comm comm,
		     char *err, size_t err_len);

/* Write every rank's deterministic input and the sentinel into every output
 * element; resets runs. */
void strata_coll_fill(struct strata_coll *cl);

/* One collective call (collective over cl->comm).  0 or -1 with a message. */
int strata_coll_run(struct strata_coll *cl, char *err, size_t err_len);

/* Compare EVERY output element with its exact expected value.  Returns the
 * number of wrong elements on this rank; the first one (index, expected,
 * actual) goes into err.  Assumes the buffers hold the result of exactly one
 * collective over freshly filled inputs (or, out of place, of any number). */
int64_t strata_coll_check(const struct strata_coll *cl, char *err, size_t err_len);

/* The validation the suites use, after the timed repetitions.  When the
 * repeated collective leaves its buffers a pure function of the inputs (out of
 * place; in-place allgather; broadcast) the output the timed repetitions left
 * is checked as it is.  Otherwise (in-place allreduce, reduce_scatter,
 * alltoall feed each call's output to the next) it re-fills, runs one more
 * collective and checks that, as nccl-tests' BenchTime() does for every case.
 * Collective over cl->comm.  Returns wrong elements on this rank, or -1 on an
 * MPI error (message in err). */
int64_t strata_coll_verify(struct strata_coll *cl, char *err, size_t err_len);

void strata_coll_release(struct strata_coll *cl);

/* ---- suite glue: every collective suite's hooks but setup ---------------- *
 * Parameters read from the case: size (SIZE), dtype (ENUM float|double), and
 * where the suite declares them inplace (BOOL), root (INT), device (ENUM). */
int strata_coll_suite_setup(enum strata_coll_kind kind, const struct strata_case *c,
			    void **state);
int strata_coll_suite_run_once(void *state, const struct strata_case *c);
int64_t strata_coll_suite_verify(void *state, const struct strata_case *c);
void strata_coll_suite_teardown(void *state);
/* latency (us, lower is better), algbw and busbw (GB/s, higher is better). */
size_t strata_coll_suite_metrics(const void *state, const struct strata_case *c, double seconds,
				 struct strata_metric *out, size_t max);
void strata_coll_suite_describe(const void *state, const struct strata_case *c, json_t *details);

/* Parameter rows every collective suite shares, so their tables cannot drift
 * apart (the CUDA issue adds "cuda" to device here, once). */
#define STRATA_COLL_PARAM_DEVICE                                                          \
	{ .name = "device", .type = STRATA_PT_ENUM, .def = "cpu", .choices = "cpu|cuda",  \
	  .help = "backend: cpu (host buffers, MPI) or cuda (NCCL, one GPU per rank by "   \
		  "local rank; skipped, with the reason, where there is none)" }
#define STRATA_COLL_PARAM_DTYPE                                                           \
	{ .name = "dtype", .type = STRATA_PT_ENUM, .def = "float",                        \
	  .choices = "float|double|bfloat16|half",                                          \
	  .help = "element type (MPI_FLOAT or MPI_DOUBLE; cuda: ncclFloat32, ncclFloat64, " \
		  "ncclBfloat16, ncclFloat16); float is nccl-tests' default" }
#define STRATA_COLL_PARAM_OP                                                              \
	{ .name = "op", .type = STRATA_PT_ENUM, .def = "sum", .choices = "sum",           \
	  .help = "reduction operation (MPI_SUM)" }
/* size is always the last row, so the size sweep varies fastest, as nccl-tests sweeps. */
#define STRATA_COLL_PARAM_SIZE(help_text)                                                 \
	{ .name = "size", .type = STRATA_PT_SIZE, .def = "{from: 8, to: 64M, factor: 2}", \
	  .min = 0, .max = 1099511627776.0, .help = (help_text) }

/* The hooks every collective suite shares; a suite adds name, summary,
 * params and its one-line setup. */
#define STRATA_COLL_SUITE_HOOKS                                                           \
	.flags = STRATA_SUITE_COLLECTIVE, .run_once = strata_coll_suite_run_once,         \
	.verify = strata_coll_suite_verify, .teardown = strata_coll_suite_teardown,       \
	.metrics = strata_coll_suite_metrics, .describe = strata_coll_suite_describe

#endif
