/* trace.h: per-rank traces in the Chrome trace event format (JSON object
 * form, {"traceEvents": [...]}), which Perfetto and chrome://tracing open.
 *
 * What it is: a recorder of complete spans ("ph": "X") that the runner emits
 * around each case and phase, each traced repetition and each MPI call it
 * makes while tracing (with a collective id, the same on every rank for the
 * same call, so one collective can be followed across ranks), plus the GPU
 * activity CUPTI reports (kernels/cuda/cupti_trace.c).  Each rank writes its
 * own file, RUN/trace/rank-<r>.json; a rank that cannot open the file (no
 * shared file system) keeps it in memory and rank 0 writes it at the end.
 * Times are CLOCK_MONOTONIC in microseconds ("ts", "dur"), pid = rank,
 * tid 0 = the runner, tids >= 100 = GPU streams.  Clocks of different hosts
 * are aligned afterwards (trace/clock-offsets.json, `strata trace merge`).
 * What it is not: a sampler or profiler; spans cost one array append while a
 * trace is on and a flag test while it is off, and events are formatted and
 * written only between cases, never inside a timed region.
 *
 * The state is process-wide (one trace per rank per run), like the signal
 * flag: the runner opens and closes it, the measurement loop records into it.
 */
#ifndef STRATA_TRACE_H
#define STRATA_TRACE_H

#include <stdint.h>

#include <jansson.h>
#include <mpi.h>

/* Categories ("cat"): also what the summary groups by. */
#define STRATA_TRACE_CAT_CASE "case"     /* one span per case (name: metric key) */
#define STRATA_TRACE_CAT_PHASE "phase"   /* setup, warmup, timed, traced, verify, teardown */
#define STRATA_TRACE_CAT_REP "rep"       /* one traced repetition (run_once) */
#define STRATA_TRACE_CAT_MPI "mpi"       /* an MPI call of the runner (args.coll_id) */
#define STRATA_TRACE_CAT_KERNEL "kernel" /* GPU kernel (CUPTI) */
#define STRATA_TRACE_CAT_NCCL "nccl"     /* GPU kernel whose name starts with nccl */
#define STRATA_TRACE_CAT_MEMCPY "memcpy" /* GPU copy */
#define STRATA_TRACE_CAT_MEMSET "memset" /* GPU memset */
#define STRATA_TRACE_CAT_NVTX "nvtx"     /* NVTX range as CUPTI saw it */

#define STRATA_TRACE_TID_RUNNER 0
#define STRATA_TRACE_TID_GPU_BASE 100 /* + device * 1000 + stream id */

/* Optional arguments of a span; -1 / NULL leave one out. */
struct strata_trace_args {
	int64_t coll_id;    /* collective id (MPI spans) */
	int64_t rep;        /* repetition number (rep spans) */
	int64_t count;      /* repetitions in a phase span */
	int64_t bytes;      /* bytes moved (GPU copies and memsets) */
	const char *detail; /* free text (what an MPI call is for); static */
};

#define STRATA_TRACE_ARGS_NONE ((struct strata_trace_args){-1, -1, -1, -1, NULL})

/* Open this rank's trace: RUN/trace/rank-<rank>.json (dir is the run
 * directory as every rank sees it; rank 0 has created RUN/trace).  Returns 0;
 * -1 only when out of memory (a file that cannot be opened falls back to
 * memory). */
int strata_trace_open(int rank, int nranks, const char *host, const char *dir, char *err,
                      size_t err_len);
int strata_trace_is_open(void);
/* RUN-relative path of this rank's file ("trace/rank-3.json"). */
const char *strata_trace_file(void);

/* The case spans that follow belong to: index (1-based, counts trials in the
 * order every rank runs them) and metric key. */
void strata_trace_set_case(int64_t index, const char *key);
int64_t strata_trace_case_index(void);

/* Record a span [t0_ns, t1_ns] (CLOCK_MONOTONIC).  cat and name must stay
 * valid until the next flush (static strings); use _copy for names built on
 * the fly.  No-ops when no trace is open. */
void strata_trace_span(const char *cat, const char *name, int64_t t0_ns, int64_t t1_ns,
                       const struct strata_trace_args *a);
void strata_trace_span_copy(const char *cat, const char *name, int64_t t0_ns, int64_t t1_ns,
                            int tid, const struct strata_trace_args *a);
/* The span of the whole current case, named by its metric key. */
void strata_trace_case_span(int64_t t0_ns, int64_t t1_ns);
/* A GPU thread row's name (metadata event), e.g. "GPU 0 stream 7". */
void strata_trace_thread_name(int tid, const char *name);
/* Make room for n more spans, so recording inside a traced pass never
 * reallocates. */
void strata_trace_reserve(int64_t n);
/* The next collective id (while tracing: every rank calls the same
 * collectives in the same order, so ids agree across ranks). */
int64_t strata_trace_next_coll(void);

/* Format the recorded spans into the file (between cases). */
void strata_trace_flush(void);

/* Collective over comm: finish every rank's file; ranks whose file lives in
 * memory send it to rank 0, which writes it.  Returns 0, or -1 on rank 0
 * when a file could not be written (err). */
int strata_trace_close(MPI_Comm comm, const char *dir_rank0, char *err, size_t err_len);

/* ---- offline: summary and merge (harness/trace_merge.c) -------------------- */

/* Read RUN/trace/rank-*.json and RUN/trace/clock-offsets.json; write
 * RUN/trace/summary.json (time per phase, per-rank skew, collective arrival
 * skew, top spans, top GPU kernels, communication/computation overlap) and,
 * when merged != 0, RUN/trace/merged.json: every rank's events on rank 0's
 * clock, one process row per rank.  No MPI.  Returns 0 or -1 with err. */
int strata_trace_merge(const char *run_dir, int merged, char *err, size_t err_len);

/* The summary of already-loaded, aligned events: ranks[r] is rank r's event
 * array (ts in microseconds on the common clock).  Exposed for tests. */
json_t *strata_trace_summarize(json_t *const *ranks, int nranks);

/* Rank r's clock offset (microseconds to add to rank r's ts to get rank 0's
 * clock) at rank-r time ts_us, interpolated linearly between the
 * measurements of clock-offsets.json ({"measurements": [{"offset_ns": [...],
 * "t_ref_ns": [...]}, ...]}); 0 when there is none. */
double strata_trace_offset_us(const json_t *offsets, int rank, double ts_us);

/* `strata trace merge RUN` (argv[1] is "trace").  Returns an exit code. */
int strata_trace_main(int argc, char **argv);

/* ---- clock offsets over MPI (harness/clocksync.c) ------------------------ */

/* Collective: estimate every rank's CLOCK_MONOTONIC offset from rank 0's by
 * ping-pong with rank 0, rounds exchanges per rank, keeping the exchange with
 * the shortest round trip (Cristian 1989; NTP's on-wire offset, RFC 5905
 * section 8: theta = T2 - (T1 + T4) / 2 with the reply sent at T2 = T3).
 * Returns on rank 0 {"when": when, "offset_ns": [...], "rtt_ns": [...],
 * "t_ref_ns": [...]} (t_ref: rank 0's clock at the kept exchange; the error of
 * offset r is at most rtt_ns[r] / 2), NULL elsewhere. */
json_t *strata_clocksync_measure(MPI_Comm comm, int rounds, const char *when);

#endif
