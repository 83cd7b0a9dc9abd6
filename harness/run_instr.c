/* run_instr.c: the once-per-run part of topology and tracing (see
 * strata_run_instr_begin in case_instr.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/case_instr.h"
#include "harness/gpu_trace.h"
#include "harness/mpi_text.h"
#include "harness/results.h"
#include "harness/suite.h"
#include "harness/topo_run.h"

/* Ping-pong exchanges per rank and measurement (the shortest is kept). */
#define CLOCK_ROUNDS 16

static json_t *clock_start; /* rank 0 */
static int traced;

static int any_case_traced(const struct strata_plan *plan)
{
	for (size_t i = 0; i < plan->n_cases; i++)
		if (plan->cases[i].run.trace_enabled)
			return 1;
	return 0;
}

/* A traced case on a GPU backend: CUPTI is then started before any case
 * runs, so that NVTX finds CUPTI as its injection library before NCCL or
 * cuBLAS make their first NVTX call. */
static int any_gpu_case_traced(const struct strata_plan *plan)
{
	for (size_t i = 0; i < plan->n_cases; i++) {
		const struct strata_case_spec *c = &plan->cases[i];
		int dev = strata_param_index(c->suite, "device");
		if (c->run.trace_enabled && dev >= 0 && strcmp(c->params.v[dev].s, "cpu"))
			return 1;
	}
	return 0;
}

void strata_run_instr_begin(const struct strata_rank_info *ri, const char *dir,
                            const struct strata_plan *plan, json_t *manifest)
{
	char err[4600] = "";
	if (strata_topo_run_write_xml(ri, dir, err, sizeof(err)) != 0 && ri->rank == 0)
		fprintf(stderr, "strata: warning: %s\n", err);
	if (ri->rank == 0 && manifest) {
		json_t *files = json_array();
		json_t *sys;
		size_t i;
		json_array_foreach(json_object_get(manifest, "systems"), i, sys) {
			const char *f = json_string_value(
			    json_object_get(json_object_get(sys, "topology"), "xml_file"));
			if (f)
				json_array_append_new(files, json_string(f));
		}
		json_object_set_new(manifest, "topology_files", files);
	}
	traced = any_case_traced(plan);
	if (!traced)
		return;
	int ok = 1;
	if (ri->rank == 0) {
		char tdir[4200];
		snprintf(tdir, sizeof(tdir), "%s/trace", dir);
		if (mkdir(tdir, 0777) != 0 && errno != EEXIST) {
			fprintf(stderr,
			        "strata: %s: cannot create: %s; traces kept in memory and written "
			        "by rank 0\n",
			        tdir, strerror(errno));
			ok = 0;
		}
	}
	char *shared_dir = strata_mpi_bcast_text(ri->comm, 0, dir);
	MPI_Bcast(&ok, 1, MPI_INT, 0, ri->comm);
	char host[MPI_MAX_PROCESSOR_NAME] = "";
	int len = 0;
	MPI_Get_processor_name(host, &len);
	if (strata_trace_open(ri->rank, ri->nranks, host, ok ? shared_dir : NULL, err,
	                      sizeof(err)) != 0)
		fprintf(stderr, "strata: rank %d: %s\n", ri->rank, err);
	free(shared_dir);
	char why[256];
	if (any_gpu_case_traced(plan))
		(void)strata_gpu_trace_start(why, sizeof(why)); /* each case records the answer */
	clock_start = strata_clocksync_measure(ri->comm, CLOCK_ROUNDS, "start");
	if (ri->rank == 0 && manifest)
		json_object_set_new(
		    manifest, "trace",
		    json_pack("{s:s,s:s,s:s,s:s,s:s}", "files",
		              "trace/rank-<rank>.json (Chrome trace event format)", "clock_offsets",
		              "trace/clock-offsets.json", "summary", "trace/summary.json", "merge",
		              "strata trace merge RUN -> trace/merged.json", "clock",
		              "CLOCK_MONOTONIC per rank, aligned to rank 0 by ping-pong offsets"));
}

void strata_run_instr_end(const struct strata_rank_info *ri, const char *dir, json_t *manifest)
{
	(void)manifest;
	if (traced) {
		json_t *clock_end = strata_clocksync_measure(ri->comm, CLOCK_ROUNDS, "end");
		char err[4600] = "";
		if (strata_trace_close(ri->comm, dir, err, sizeof(err)) != 0 && ri->rank == 0)
			fprintf(stderr, "strata: warning: %s\n", err);
		strata_gpu_trace_stop();
		if (ri->rank == 0) {
			json_t *offsets = json_pack(
			    "{s:s,s:i,s:s,s:[o,o]}", "type", "clock_offsets", "reference_rank", 0,
			    "clock", "CLOCK_MONOTONIC", "measurements", clock_start, clock_end);
			char path[4200];
			snprintf(path, sizeof(path), "%s/trace/clock-offsets.json", dir);
			if (strata_write_json_atomic(path, offsets, err, sizeof(err)) != 0)
				fprintf(stderr, "strata: warning: %s\n", err);
			json_decref(offsets);
			if (strata_trace_merge(dir, 0, err, sizeof(err)) != 0)
				fprintf(stderr, "strata: warning: trace summary: %s\n", err);
		} else {
			json_decref(clock_end);
		}
		clock_start = NULL;
		traced = 0;
	}
	strata_topo_run_end();
}
