/* case_instr.h: what the measurement loop records about a case besides its
 * timings: the binding it ran under (harness/topo_run.h), its trace spans
 * (harness/trace.h; GPU activity through harness/gpu_trace.h) and its
 * perf_event counters (harness/perfctr.h).  measure.c calls these hooks at
 * fixed points of a trial; each costs a flag test when its feature is off.
 *
 * Tracing: with run.trace.enabled, a case's timed repetitions run untraced
 * (the record's figures never include tracing), and after them a dedicated
 * traced pass of run.trace.max_repetitions repetitions runs with a span per
 * repetition and per runner MPI call (and CUPTI on, for GPU cases).  The
 * record's "trace" object compares the traced pass with the timed phase:
 * overhead_pct = (traced median / untraced median - 1) x 100, both the
 * slowest rank's time per repetition.
 */
#ifndef STRATA_CASE_INSTR_H
#define STRATA_CASE_INSTR_H

#include <stdint.h>

#include <jansson.h>

#include "harness/measure.h"
#include "harness/perfctr.h"
#include "harness/plan.h"
#include "harness/timer.h"
#include "harness/trace.h"

struct strata_case_instr {
	int trace;   /* spans for this case (setting on, trace open) */
	int tracing; /* inside the traced pass */
	int gpu;     /* GPU activity being recorded (CUPTI) */
	int64_t case_index;
	strata_monotime_ns t_case;
	int perf_wanted; /* setting on and a CPU case */
	int perf_tried;
	struct strata_perfctr perf;
	json_t *binding;        /* rank 0 */
	json_t *trace_info;     /* rank 0 */
	double traced_median_s; /* rank 0: slowest rank per traced repetition */
	int64_t traced_n;
	char trace_note[256]; /* why the traced pass was short or missing */
};

/* Start of a trial, before the suite's setup (collective: the binding is
 * applied and gathered here).  rec is rank 0's record (NULL elsewhere). */
void strata_instr_case_begin(struct strata_case_instr *in, const struct strata_rank_info *ri,
                             const struct strata_case_spec *spec, const char *backend,
                             const char *key);

/* Spans of a phase ("setup", "warmup", "timed", "verify", "teardown"):
 * begin returns the start time; end records [t0, now] with a repetition
 * count (-1: none). */
strata_monotime_ns strata_instr_phase_begin(struct strata_case_instr *in, const char *name);
void strata_instr_phase_end(struct strata_case_instr *in, const char *name, strata_monotime_ns t0,
                            int64_t count);

/* Around each block of timed repetitions: counters on, then off + span. */
strata_monotime_ns strata_instr_timed_begin(struct strata_case_instr *in);
void strata_instr_timed_end(struct strata_case_instr *in, strata_monotime_ns t0, int64_t count);

/* Inside the traced pass only (test in->tracing first). */
void strata_instr_mpi(struct strata_case_instr *in, const char *call, const char *what,
                      strata_monotime_ns t0, strata_monotime_ns t1);
void strata_instr_rep_begin(struct strata_case_instr *in);
void strata_instr_rep_end(struct strata_case_instr *in, int64_t rep, strata_monotime_ns t0,
                          strata_monotime_ns t1);

/* Whether a traced pass should run now (trace on for the case). */
int strata_instr_wants_trace_pass(const struct strata_case_instr *in);
/* Before and after the traced pass.  end is collective: the per-repetition
 * slowest rank is reduced to rank 0; note (may be NULL) says why the pass
 * ended early. */
void strata_instr_trace_begin(struct strata_case_instr *in, int64_t reps);
void strata_instr_trace_end(struct strata_case_instr *in, const struct strata_rank_info *ri,
                            const double *samples_s, int64_t n, strata_monotime_ns t0,
                            const char *note);

/* End of a trial, after teardown (collective: counters are summed over
 * ranks).  On rank 0 adds "binding", "trace" and "perf" to rec. */
void strata_instr_case_end(struct strata_case_instr *in, const struct strata_rank_info *ri,
                           json_t *rec);

/* Once per run (harness/run_instr.c), collective over ri->comm.  begin:
 * every host's topology XML into the results directory; when any case of
 * the plan is traced, RUN/trace/ and every rank's trace file opened and the
 * first clock-offset measurement taken; rank 0 adds "topology_files" and
 * "trace" to the manifest.  end: the last clock measurement, traces closed,
 * RUN/trace/clock-offsets.json and RUN/trace/summary.json written, the
 * launcher's binding restored.  dir matters on rank 0 only. */
struct strata_plan;
void strata_run_instr_begin(const struct strata_rank_info *ri, const char *dir,
                            const struct strata_plan *plan, json_t *manifest);
void strata_run_instr_end(const struct strata_rank_info *ri, const char *dir, json_t *manifest);

#endif
