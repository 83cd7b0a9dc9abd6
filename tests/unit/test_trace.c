/* test_trace.c: the trace writer (one MPI rank), the summary on events with
 * known skews and overlaps, the clock offset interpolation, and merge on
 * synthetic per-rank traces whose clocks differ by known offsets. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <math.h>
#include <mpi.h>

#include "harness/trace.h"

static char *tmpdir(void)
{
	char *d = strdup("/tmp/strata-trace-XXXXXX");
	if (!mkdtemp(d))
		fail_msg("mkdtemp");
	char sub[256];
	snprintf(sub, sizeof(sub), "%s/trace", d);
	mkdir(sub, 0777);
	return d;
}

static void rmtree(const char *d)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", d);
}

static json_t *ev(const char *cat, const char *name, double ts, double dur, int64_t case_i,
                  int64_t coll)
{
	json_t *e =
	    json_pack("{s:s,s:s,s:s,s:f,s:f,s:i,s:i,s:{s:I}}", "name", name, "cat", cat, "ph", "X",
	              "ts", ts, "dur", dur, "pid", 0, "tid", 0, "args", "case", (json_int_t)case_i);
	if (coll >= 0)
		json_object_set_new(json_object_get(e, "args"), "coll_id", json_integer(coll));
	return e;
}

static void test_writer_round_trip(void **unused)
{
	(void)unused;
	char *d = tmpdir(), err[512];
	assert_int_equal(strata_trace_open(0, 1, "h", d, err, sizeof(err)), 0);
	assert_string_equal(strata_trace_file(), "trace/rank-0.json");
	strata_trace_set_case(1, "null[x=1]@v");
	struct strata_trace_args a = STRATA_TRACE_ARGS_NONE;
	a.count = 3;
	strata_trace_span(STRATA_TRACE_CAT_PHASE, "timed", 1000, 5000, &a);
	a = STRATA_TRACE_ARGS_NONE;
	a.coll_id = strata_trace_next_coll();
	a.detail = "stop vote";
	strata_trace_span(STRATA_TRACE_CAT_MPI, "MPI_Allreduce", 5000, 5500, &a);
	strata_trace_case_span(0, 6000);
	strata_trace_flush();
	strata_trace_span_copy(STRATA_TRACE_CAT_KERNEL, "void gemm<float>(int)", 7000, 9000, 107,
	                       NULL);
	assert_int_equal(strata_trace_close(MPI_COMM_WORLD, d, err, sizeof(err)), 0);
	assert_false(strata_trace_is_open());

	char path[512];
	snprintf(path, sizeof(path), "%s/trace/rank-0.json", d);
	json_error_t je;
	json_t *doc = json_load_file(path, 0, &je);
	if (!doc)
		fail_msg("%s:%d: %s", path, je.line, je.text);
	json_t *evs = json_object_get(doc, "traceEvents");
	int seen_timed = 0, seen_mpi = 0, seen_case = 0, seen_kernel = 0, seen_meta = 0;
	size_t i;
	json_t *e;
	json_array_foreach(evs, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *ph = json_string_value(json_object_get(e, "ph"));
		json_t *args = json_object_get(e, "args");
		if (!strcmp(ph, "M")) {
			seen_meta++;
			continue;
		}
		assert_string_equal(ph, "X");
		assert_int_equal(json_integer_value(json_object_get(e, "pid")), 0);
		if (!strcmp(name, "timed")) {
			seen_timed = 1;
			assert_true(json_real_value(json_object_get(e, "ts")) ==
			            1.0); /* ns -> us */
			assert_true(json_real_value(json_object_get(e, "dur")) == 4.0);
			assert_int_equal(json_integer_value(json_object_get(args, "count")), 3);
			assert_int_equal(json_integer_value(json_object_get(args, "case")), 1);
		} else if (!strcmp(name, "MPI_Allreduce")) {
			seen_mpi = 1;
			assert_int_equal(json_integer_value(json_object_get(args, "coll_id")), 1);
			assert_string_equal(json_string_value(json_object_get(args, "detail")),
			                    "stop vote");
		} else if (!strcmp(name, "null[x=1]@v")) {
			seen_case = 1;
		} else if (!strcmp(name, "void gemm<float>(int)")) {
			seen_kernel = 1;
			assert_int_equal(json_integer_value(json_object_get(e, "tid")), 107);
		}
	}
	assert_true(seen_timed && seen_mpi && seen_case && seen_kernel);
	assert_true(seen_meta >= 3);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(doc, "otherData"), "rank")), 0);
	json_decref(doc);
	rmtree(d);
	free(d);
}

/* A rank whose directory is not reachable keeps its trace in memory and
 * rank 0 writes it. */
static void test_writer_memory_fallback(void **unused)
{
	(void)unused;
	char *d = tmpdir(), err[512];
	assert_int_equal(strata_trace_open(0, 1, "h", "/nonexistent/strata", err, sizeof(err)), 0);
	strata_trace_set_case(1, "k");
	strata_trace_span(STRATA_TRACE_CAT_PHASE, "setup", 0, 10, NULL);
	assert_int_equal(strata_trace_close(MPI_COMM_WORLD, d, err, sizeof(err)), 0);
	char path[512];
	snprintf(path, sizeof(path), "%s/trace/rank-0.json", d);
	json_t *doc = json_load_file(path, 0, NULL);
	assert_non_null(doc);
	assert_true(json_array_size(json_object_get(doc, "traceEvents")) >= 4);
	json_decref(doc);
	rmtree(d);
	free(d);
}

static void test_summary_known_values(void **unused)
{
	(void)unused;
	json_t *r[2] = {json_array(), json_array()};
	/* Case 1: rank 1's setup takes 30 us longer; collective 1 arrives 5 us
	 * later on rank 1, collective 2 7 us later on rank 0. */
	json_array_append_new(r[0], ev("case", "k1", 0, 1000, 1, -1));
	json_array_append_new(r[1], ev("case", "k1", 0, 1000, 1, -1));
	json_array_append_new(r[0], ev("phase", "setup", 0, 10, 1, -1));
	json_array_append_new(r[1], ev("phase", "setup", 0, 40, 1, -1));
	json_array_append_new(r[0], ev("mpi", "MPI_Barrier", 100, 2, 1, 1));
	json_array_append_new(r[1], ev("mpi", "MPI_Barrier", 105, 2, 1, 1));
	json_array_append_new(r[0], ev("mpi", "MPI_Allreduce", 207, 2, 1, 2));
	json_array_append_new(r[1], ev("mpi", "MPI_Allreduce", 200, 9, 1, 2));
	json_array_append_new(r[0], ev("rep", "repetition", 300, 50, 1, -1));
	json_array_append_new(r[1], ev("rep", "repetition", 300, 60, 1, -1));
	/* GPU on rank 0: a kernel 400-500 and an NCCL kernel 450-550.  Comm:
	 * rank 0 [100,102] + [207,209] + [450,550] = 104 us, rank 1 [105,107] +
	 * [200,209] = 11 us; compute overlaps 50 us of it. */
	json_array_append_new(r[0], ev("kernel", "gemm", 400, 100, 1, -1));
	json_array_append_new(r[0], ev("nccl", "ncclDevKernel_AllReduce", 450, 100, 1, -1));
	json_t *s = strata_trace_summarize(r, 2);
	json_t *setup = json_object_get(json_object_get(s, "time_per_phase"), "setup");
	assert_true(fabs(json_real_value(json_object_get(setup, "skew_s")) - 30e-6) < 1e-12);
	assert_int_equal(json_integer_value(json_object_get(setup, "slowest_rank")), 1);
	json_t *coll = json_object_get(s, "collectives");
	assert_int_equal(json_integer_value(json_object_get(coll, "count")), 2);
	json_t *skew = json_object_get(coll, "arrival_skew_s");
	assert_true(fabs(json_real_value(json_object_get(skew, "max")) - 7e-6) < 1e-12);
	assert_true(fabs(json_real_value(json_object_get(skew, "median")) - 6e-6) < 1e-12);
	json_t *top = json_array_get(json_object_get(s, "top_spans"), 0);
	assert_string_equal(json_string_value(json_object_get(top, "name")), "repetition");
	assert_int_equal(json_integer_value(json_object_get(top, "count")), 2);
	json_t *k = json_array_get(json_object_get(s, "top_kernels"), 0);
	assert_string_equal(json_string_value(json_object_get(k, "name")), "gemm");
	json_t *ov = json_object_get(s, "overlap");
	assert_true(fabs(json_real_value(json_object_get(ov, "overlap_s")) - 50e-6) < 1e-12);
	assert_true(fabs(json_real_value(json_object_get(ov, "fraction_of_comm_overlapped")) -
	                 50.0 / 115.0) < 1e-9);
	json_t *c1 = json_array_get(json_object_get(s, "cases"), 0);
	assert_string_equal(json_string_value(json_object_get(c1, "key")), "k1");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(c1, "collectives"), "count")), 2);
	json_decref(s);
	json_decref(r[0]);
	json_decref(r[1]);
}

static void test_offset_interpolation(void **unused)
{
	(void)unused;
	/* Rank 1's clock runs 1000 us ahead of rank 0's at the start (offset
	 * -1000 us) and 1010 us ahead at the end, 1 s later on rank 0. */
	json_t *o =
	    json_pack("{s:[{s:[i,I],s:[I,I]},{s:[i,I],s:[I,I]}]}", "measurements", "offset_ns", 0,
	              (json_int_t)-1000000, "t_ref_ns", (json_int_t)5000000000LL,
	              (json_int_t)5000000000LL, "offset_ns", 0, (json_int_t)-1010000, "t_ref_ns",
	              (json_int_t)6000000000LL, (json_int_t)6000000000LL);
	/* On rank 1's clock the start is 5001000 us, the end 6001010 us. */
	assert_true(fabs(strata_trace_offset_us(o, 1, 5001000.0) + 1000.0) < 1e-6);
	assert_true(fabs(strata_trace_offset_us(o, 1, 6001010.0) + 1010.0) < 1e-6);
	assert_true(fabs(strata_trace_offset_us(o, 1, 5501005.0) + 1005.0) < 1e-6);
	assert_true(fabs(strata_trace_offset_us(o, 1, 1.0) + 1000.0) < 1e-6); /* held outside */
	assert_true(strata_trace_offset_us(o, 0, 123.0) == 0.0);
	assert_true(strata_trace_offset_us(NULL, 1, 123.0) == 0.0);
	json_decref(o);
}

static void write_rank(const char *d, int rank, double shift_us)
{
	/* The same three true instants (10, 20, 30 us on rank 0's clock), seen
	 * on a clock that is shift_us ahead. */
	json_t *evs = json_array();
	json_array_append_new(evs, json_pack("{s:s,s:s,s:i,s:i,s:{s:s}}", "name", "process_name",
	                                     "ph", "M", "pid", rank, "tid", 0, "args", "name",
	                                     rank ? "rank 1 (b)" : "rank 0 (a)"));
	json_array_append_new(evs, ev("case", "k", 10 + shift_us, 20, 1, -1));
	json_array_append_new(evs, ev("mpi", "MPI_Barrier", 20 + shift_us, 1, 1, 1));
	json_array_append_new(evs, ev("phase", "setup", 30 + shift_us, 1, 1, -1));
	json_t *doc = json_pack("{s:o}", "traceEvents", evs);
	char path[512];
	snprintf(path, sizeof(path), "%s/trace/rank-%d.json", d, rank);
	assert_int_equal(json_dump_file(doc, path, 0), 0);
	json_decref(doc);
}

static void test_merge_aligns_known_offsets(void **unused)
{
	(void)unused;
	char *d = tmpdir(), err[1024], path[512];
	const double shift_us = 2.5e6; /* rank 1's host booted 2.5 s earlier */
	write_rank(d, 0, 0);
	write_rank(d, 1, shift_us);
	/* As clocksync would record it: offset = rank 0 - rank 1 = -shift. */
	json_t *m =
	    json_pack("{s:[i,I],s:[I,I],s:[i,i]}", "offset_ns", 0, (json_int_t)(-shift_us * 1e3),
	              "t_ref_ns", (json_int_t)0, (json_int_t)0, "rtt_ns", 0, 900);
	json_t *o = json_pack("{s:i,s:[o]}", "reference_rank", 0, "measurements", m);
	snprintf(path, sizeof(path), "%s/trace/clock-offsets.json", d);
	assert_int_equal(json_dump_file(o, path, 0), 0);
	json_decref(o);
	if (strata_trace_merge(d, 1, err, sizeof(err)) != 0)
		fail_msg("merge: %s", err);

	snprintf(path, sizeof(path), "%s/trace/merged.json", d);
	json_t *doc = json_load_file(path, 0, NULL);
	assert_non_null(doc);
	double seen[2][3] = {{0}};
	int pids[2] = {0, 0}, meta = 0;
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(doc, "traceEvents"), i, e) {
		int pid = (int)json_integer_value(json_object_get(e, "pid"));
		assert_true(pid == 0 || pid == 1);
		if (!strcmp(json_string_value(json_object_get(e, "ph")), "M")) {
			meta++;
			continue;
		}
		pids[pid] = 1;
		const char *cat = json_string_value(json_object_get(e, "cat"));
		int k = !strcmp(cat, "case") ? 0 : !strcmp(cat, "mpi") ? 1 : 2;
		seen[pid][k] = json_real_value(json_object_get(e, "ts"));
	}
	assert_true(pids[0] && pids[1]);
	assert_int_equal(meta, 2);
	for (int k = 0; k < 3; k++)
		if (fabs(seen[0][k] - seen[1][k]) > 1e-3 ||
		    fabs(seen[0][k] - (10.0 + 10.0 * k)) > 1e-3)
			fail_msg("event %d: rank 0 at %.3f, rank 1 at %.3f us after merge", k,
			         seen[0][k], seen[1][k]);
	json_decref(doc);

	/* The summary sees the collective as simultaneous once aligned. */
	snprintf(path, sizeof(path), "%s/trace/summary.json", d);
	json_t *s = json_load_file(path, 0, NULL);
	assert_non_null(s);
	json_t *skew = json_object_get(json_object_get(s, "collectives"), "arrival_skew_s");
	assert_true(fabs(json_real_value(json_object_get(skew, "max"))) < 1e-9);
	json_decref(s);

	/* Without offsets the 2.5 s shows up as skew: the alignment did the work. */
	snprintf(path, sizeof(path), "%s/trace/clock-offsets.json", d);
	unlink(path);
	assert_int_equal(strata_trace_merge(d, 0, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/trace/summary.json", d);
	s = json_load_file(path, 0, NULL);
	skew = json_object_get(json_object_get(s, "collectives"), "arrival_skew_s");
	assert_true(fabs(json_real_value(json_object_get(skew, "max")) - 2.5) < 1e-9);
	json_decref(s);
	rmtree(d);
	free(d);
}

static void test_merge_errors(void **unused)
{
	(void)unused;
	char err[1024];
	assert_int_equal(strata_trace_merge("/nonexistent/run", 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no trace directory"));
	char *d = tmpdir(), path[512];
	snprintf(path, sizeof(path), "%s/trace/rank-0.json", d);
	FILE *f = fopen(path, "w");
	fputs("{\"traceEvents\": [", f); /* cut short */
	fclose(f);
	assert_int_equal(strata_trace_merge(d, 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "rank-0.json"));
	rmtree(d);
	free(d);
}

static void test_clocksync_one_rank(void **unused)
{
	(void)unused;
	json_t *m = strata_clocksync_measure(MPI_COMM_WORLD, 4, "start");
	assert_non_null(m);
	assert_int_equal(json_array_size(json_object_get(m, "offset_ns")), 1);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(m, "offset_ns"), 0)), 0);
	json_decref(m);
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_writer_round_trip),
	    cmocka_unit_test(test_writer_memory_fallback),
	    cmocka_unit_test(test_summary_known_values),
	    cmocka_unit_test(test_offset_interpolation),
	    cmocka_unit_test(test_merge_aligns_known_offsets),
	    cmocka_unit_test(test_merge_errors),
	    cmocka_unit_test(test_clocksync_one_rank),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	MPI_Finalize();
	return rc;
}
