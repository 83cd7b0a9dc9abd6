/* case_instr.c: binding, trace spans and counters of one case (see
 * case_instr.h). */
#define _GNU_SOURCE
#include "harness/case_instr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/gpu_trace.h"
#include "harness/stats.h"
#include "harness/topo_run.h"

/* Trials in the order every rank runs them (the same on every rank), so a
 * span's case index names the same case in every rank's trace. */
static int64_t case_counter;

void strata_instr_case_begin(struct strata_case_instr *in, const struct strata_rank_info *ri,
                             const struct strata_case_spec *spec, const char *backend,
                             const char *key)
{
	memset(in, 0, sizeof(*in));
	in->case_index = ++case_counter;
	in->t_case = strata_now_ns();
	in->binding = strata_topo_run_bind(ri, (enum strata_bind_policy)spec->run.binding);
	in->trace = spec->run.trace_enabled && strata_trace_is_open();
	in->perf_wanted = spec->run.perf_counters && backend && !strcmp(backend, "cpu");
	if (ri->rank == 0 && spec->run.trace_enabled) {
		in->trace_info = json_pack("{s:b,s:I}", "enabled", 1, "max_repetitions",
		                           (json_int_t)spec->run.trace_max_repetitions);
		if (!in->trace)
			json_object_set_new(
			    in->trace_info, "note",
			    json_string(
			        "no trace open (not under `strata run`): nothing recorded"));
	}
	if (in->trace) {
		strata_trace_set_case(in->case_index, key);
		char why[256];
		if (backend && strcmp(backend, "cpu") &&
		    strata_gpu_trace_start(why, sizeof(why)) == 0)
			in->gpu = 1;
		else if (ri->rank == 0)
			json_object_set_new(in->trace_info, "cupti",
			                    json_string(backend && strcmp(backend, "cpu")
			                                    ? why
			                                    : "off: CPU case (CUPTI traces only "
			                                      "cases with a GPU backend)"));
		if (in->gpu) {
			strata_gpu_trace_push(key);
			if (ri->rank == 0)
				json_object_set_new(in->trace_info, "cupti", json_string("on"));
		}
	}
}

strata_monotime_ns strata_instr_phase_begin(struct strata_case_instr *in, const char *name)
{
	if (in->gpu)
		strata_gpu_trace_push(name);
	return strata_now_ns();
}

void strata_instr_phase_end(struct strata_case_instr *in, const char *name, strata_monotime_ns t0,
                            int64_t count)
{
	if (in->gpu)
		strata_gpu_trace_pop();
	if (!in->trace)
		return;
	struct strata_trace_args a = STRATA_TRACE_ARGS_NONE;
	a.count = count;
	strata_trace_span(STRATA_TRACE_CAT_PHASE, name, t0, strata_now_ns(), &a);
}

strata_monotime_ns strata_instr_timed_begin(struct strata_case_instr *in)
{
	if (in->perf_wanted && !in->perf_tried) {
		/* Opened at the first timed block: the thread pools of the suite
		 * and its libraries exist by then. */
		in->perf_tried = 1;
		strata_perfctr_open(&in->perf);
	}
	if (in->perf.opened)
		strata_perfctr_enable(&in->perf);
	return strata_instr_phase_begin(in, "timed");
}

void strata_instr_timed_end(struct strata_case_instr *in, strata_monotime_ns t0, int64_t count)
{
	if (in->perf.opened)
		strata_perfctr_disable(&in->perf);
	strata_instr_phase_end(in, "timed", t0, count);
}

void strata_instr_mpi(struct strata_case_instr *in, const char *call, const char *what,
                      strata_monotime_ns t0, strata_monotime_ns t1)
{
	if (!in->tracing)
		return;
	struct strata_trace_args a = STRATA_TRACE_ARGS_NONE;
	a.coll_id = strata_trace_next_coll();
	a.detail = what;
	strata_trace_span(STRATA_TRACE_CAT_MPI, call, t0, t1, &a);
}

void strata_instr_rep_begin(struct strata_case_instr *in)
{
	if (in->gpu)
		strata_gpu_trace_push("repetition");
}

void strata_instr_rep_end(struct strata_case_instr *in, int64_t rep, strata_monotime_ns t0,
                          strata_monotime_ns t1)
{
	if (in->gpu)
		strata_gpu_trace_pop();
	if (!in->tracing)
		return;
	struct strata_trace_args a = STRATA_TRACE_ARGS_NONE;
	a.rep = rep;
	strata_trace_span(STRATA_TRACE_CAT_REP, "repetition", t0, t1, &a);
}

int strata_instr_wants_trace_pass(const struct strata_case_instr *in)
{
	return in->trace;
}

void strata_instr_trace_begin(struct strata_case_instr *in, int64_t reps)
{
	/* Per repetition: the vote, the barrier, the repetition; plus slack. */
	strata_trace_reserve(4 * reps + 16);
	if (in->gpu) {
		strata_gpu_trace_enable();
		strata_gpu_trace_push("traced repetitions");
	}
	in->tracing = 1;
}

void strata_instr_trace_end(struct strata_case_instr *in, const struct strata_rank_info *ri,
                            const double *samples_s, int64_t n, strata_monotime_ns t0,
                            const char *note)
{
	in->tracing = 0;
	if (in->gpu)
		strata_gpu_trace_pop();
	struct strata_trace_args a = STRATA_TRACE_ARGS_NONE;
	a.count = n;
	strata_trace_span(STRATA_TRACE_CAT_PHASE, "traced", t0, strata_now_ns(), &a);
	if (in->gpu) {
		long spans = strata_gpu_trace_collect();
		if (ri->rank == 0)
			json_object_set_new(in->trace_info, "gpu_spans_rank0", json_integer(spans));
	}
	if (note)
		snprintf(in->trace_note, sizeof(in->trace_note), "%s", note);
	/* The slowest rank per traced repetition, as for the timed figures. */
	int m = (int)n;
	MPI_Allreduce(MPI_IN_PLACE, &m, 1, MPI_INT, MPI_MIN, ri->comm);
	in->traced_n = m;
	double *step = ri->rank == 0 && m > 0 ? malloc((size_t)m * sizeof(*step)) : NULL;
	int ok = ri->rank != 0 || m == 0 || step;
	MPI_Bcast(&ok, 1, MPI_INT, 0, ri->comm);
	if (m > 0 && ok)
		MPI_Reduce(samples_s, step, m, MPI_DOUBLE, MPI_MAX, 0, ri->comm);
	struct strata_stats st;
	if (ri->rank == 0 && step && strata_stats_compute(step, (size_t)m, &st) == 0)
		in->traced_median_s = st.median;
	free(step);
}

static json_t *perf_json(struct strata_case_instr *in, const struct strata_rank_info *ri)
{
	double v[STRATA_PERF_N];
	strata_perfctr_read(&in->perf, v);
	/* Sum over ranks; a counter any rank lacks is unavailable. */
	double sum[STRATA_PERF_N], mn[STRATA_PERF_N];
	MPI_Reduce(v, sum, STRATA_PERF_N, MPI_DOUBLE, MPI_SUM, 0, ri->comm);
	MPI_Reduce(v, mn, STRATA_PERF_N, MPI_DOUBLE, MPI_MIN, 0, ri->comm);
	if (ri->rank != 0)
		return NULL;
	json_t *p = json_object(), *unavail = json_object();
	for (int i = 0; i < STRATA_PERF_N; i++) {
		if (mn[i] < 0) {
			json_object_set_new(p, strata_perfctr_name(i), json_null());
			json_object_set_new(unavail, strata_perfctr_name(i),
			                    json_string(in->perf.why[i][0]
			                                    ? in->perf.why[i]
			                                    : "unavailable on some rank"));
		} else {
			json_object_set_new(p, strata_perfctr_name(i),
			                    json_integer((json_int_t)(sum[i] + 0.5)));
		}
	}
	if (mn[STRATA_PERF_CYCLES] > 0 && mn[STRATA_PERF_INSTRUCTIONS] >= 0)
		json_object_set_new(
		    p, "ipc", json_real(sum[STRATA_PERF_INSTRUCTIONS] / sum[STRATA_PERF_CYCLES]));
	if (json_object_size(unavail))
		json_object_set_new(p, "unavailable", unavail);
	else
		json_decref(unavail);
	json_object_set_new(
	    p, "scope",
	    json_string("every thread of every rank, summed; timed phase only (repetitions and "
	                "the votes and barriers between them); user space for hardware events; "
	                "scaled for multiplexing (x enabled/running)"));
	return p;
}

void strata_instr_case_end(struct strata_case_instr *in, const struct strata_rank_info *ri,
                           json_t *rec)
{
	json_t *perf = NULL;
	if (in->perf_wanted && in->perf_tried) {
		/* Every rank reached the timed phase (the vote is collective), so every
		 * rank takes part, whether its counters opened or not. */
		perf = perf_json(in, ri);
		strata_perfctr_close(&in->perf);
	}
	if (in->gpu)
		strata_gpu_trace_pop();
	if (in->trace) {
		strata_trace_case_span(in->t_case, strata_now_ns());
		strata_trace_flush();
	}
	if (ri->rank != 0) {
		json_decref(perf);
		return;
	}
	if (in->binding) {
		const char *w = json_string_value(json_object_get(in->binding, "warning"));
		if (w)
			fprintf(stderr, "strata: warning: %s: %s\n",
			        json_string_value(json_object_get(rec, "metric_key")) ?: "case", w);
		json_object_set_new(rec, "binding", in->binding);
		in->binding = NULL;
	}
	if (in->trace_info) {
		if (in->trace) {
			json_object_set_new(in->trace_info, "file_rank0",
			                    json_string(strata_trace_file()));
			json_object_set_new(in->trace_info, "case_index",
			                    json_integer(in->case_index));
			json_object_set_new(in->trace_info, "traced_repetitions",
			                    json_integer(in->traced_n));
			double untraced = json_real_value(
			    json_object_get(json_object_get(rec, "stats"), "median"));
			if (in->traced_n > 0 && untraced > 0) {
				json_object_set_new(in->trace_info, "untraced_median_s",
				                    json_real(untraced));
				json_object_set_new(in->trace_info, "traced_median_s",
				                    json_real(in->traced_median_s));
				json_object_set_new(
				    in->trace_info, "overhead_pct",
				    json_real((in->traced_median_s / untraced - 1.0) * 100.0));
				json_object_set_new(
				    in->trace_info, "overhead_method",
				    json_string(
				        "median of the traced pass vs median of the untraced timed "
				        "repetitions, slowest rank per repetition, same case and "
				        "state"));
			}
			if (in->trace_note[0])
				json_object_set_new(in->trace_info, "note",
				                    json_string(in->trace_note));
		}
		json_object_set_new(rec, "trace", in->trace_info);
		in->trace_info = NULL;
	}
	if (perf)
		json_object_set_new(rec, "perf", perf);
}
