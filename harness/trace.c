/* trace.c: the per-rank Chrome-trace writer (see trace.h). */
#define _GNU_SOURCE
#include "harness/trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/mpi_text.h"

struct event {
	int64_t t0_ns, t1_ns;
	const char *cat;
	const char *name;
	int owned; /* name was copied */
	int tid;
	int64_t case_index;
	struct strata_trace_args a;
};

static struct {
	int open;
	int rank, nranks;
	char host[256];
	char file[64]; /* "trace/rank-<r>.json" */
	FILE *f;
	int in_memory; /* f is an open_memstream */
	char *mem;     /* open_memstream buffer */
	size_t mem_len;
	int64_t written; /* events written so far (comma placement) */
	struct event *ev;
	size_t n, cap;
	int64_t case_index;
	char case_key[2048];
	int64_t coll;
	int64_t dropped; /* spans lost to out-of-memory */
} T;

static int ensure(size_t more)
{
	if (T.n + more <= T.cap)
		return 0;
	size_t cap = T.cap ? T.cap : 1024;
	while (cap < T.n + more)
		cap *= 2;
	struct event *nev = realloc(T.ev, cap * sizeof(*nev));
	if (!nev)
		return -1;
	T.ev = nev;
	T.cap = cap;
	return 0;
}

static void write_event_json(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	if (s) {
		fprintf(T.f, "%s%s", T.written ? ",\n" : "\n", s);
		T.written++;
		free(s);
	}
	json_decref(o);
}

static void write_meta(const char *what, int tid, const char *key, json_t *value)
{
	json_t *o = json_pack("{s:s,s:s,s:i,s:i,s:{s:o}}", "name", what, "ph", "M", "pid", T.rank,
	                      "tid", tid, "args", key, value);
	write_event_json(o);
}

int strata_trace_open(int rank, int nranks, const char *host, const char *dir, char *err,
                      size_t err_len)
{
	if (T.open)
		return 0;
	memset(&T, 0, sizeof(T));
	T.rank = rank;
	T.nranks = nranks;
	snprintf(T.host, sizeof(T.host), "%s", host ? host : "?");
	snprintf(T.file, sizeof(T.file), "trace/rank-%d.json", rank);
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : ".", T.file);
	T.f = dir ? fopen(path, "w") : NULL;
	if (!T.f) {
		T.f = open_memstream(&T.mem, &T.mem_len);
		T.in_memory = 1;
	}
	if (!T.f) {
		snprintf(err, err_len, "trace: cannot open %s nor a memory stream: %s", path,
		         strerror(errno));
		return -1;
	}
	T.open = 1;
	fprintf(T.f, "{\"traceEvents\":[");
	char name[400];
	snprintf(name, sizeof(name), "rank %d (%s)", rank, T.host);
	write_meta("process_name", 0, "name", json_string(name));
	write_meta("process_sort_index", 0, "sort_index", json_integer(rank));
	write_meta("thread_name", STRATA_TRACE_TID_RUNNER, "name", json_string("runner"));
	return 0;
}

int strata_trace_is_open(void)
{
	return T.open;
}

const char *strata_trace_file(void)
{
	return T.file;
}

void strata_trace_set_case(int64_t index, const char *key)
{
	T.case_index = index;
	snprintf(T.case_key, sizeof(T.case_key), "%s", key ? key : "");
}

int64_t strata_trace_case_index(void)
{
	return T.case_index;
}

static void push(const char *cat, const char *name, int owned, int64_t t0, int64_t t1, int tid,
                 const struct strata_trace_args *a)
{
	if (ensure(1) != 0) {
		T.dropped++;
		if (owned)
			free((char *)name);
		return;
	}
	T.ev[T.n++] = (struct event){.t0_ns = t0,
	                             .t1_ns = t1,
	                             .cat = cat,
	                             .name = name,
	                             .owned = owned,
	                             .tid = tid,
	                             .case_index = T.case_index,
	                             .a = a ? *a : STRATA_TRACE_ARGS_NONE};
}

void strata_trace_span(const char *cat, const char *name, int64_t t0_ns, int64_t t1_ns,
                       const struct strata_trace_args *a)
{
	if (T.open)
		push(cat, name, 0, t0_ns, t1_ns, STRATA_TRACE_TID_RUNNER, a);
}

void strata_trace_span_copy(const char *cat, const char *name, int64_t t0_ns, int64_t t1_ns,
                            int tid, const struct strata_trace_args *a)
{
	if (!T.open)
		return;
	char *copy = strdup(name ? name : "");
	if (!copy) {
		T.dropped++;
		return;
	}
	push(cat, copy, 1, t0_ns, t1_ns, tid, a);
}

void strata_trace_case_span(int64_t t0_ns, int64_t t1_ns)
{
	if (T.open)
		strata_trace_span_copy(STRATA_TRACE_CAT_CASE, T.case_key, t0_ns, t1_ns,
		                       STRATA_TRACE_TID_RUNNER, NULL);
}

void strata_trace_thread_name(int tid, const char *name)
{
	if (T.open)
		write_meta("thread_name", tid, "name", json_string(name));
}

void strata_trace_reserve(int64_t n)
{
	if (T.open && n > 0)
		ensure((size_t)n);
}

int64_t strata_trace_next_coll(void)
{
	return ++T.coll;
}

void strata_trace_flush(void)
{
	if (!T.open)
		return;
	for (size_t i = 0; i < T.n; i++) {
		const struct event *e = &T.ev[i];
		json_t *args = json_object();
		json_object_set_new(args, "case", json_integer(e->case_index));
		if (e->a.coll_id >= 0)
			json_object_set_new(args, "coll_id", json_integer(e->a.coll_id));
		if (e->a.rep >= 0)
			json_object_set_new(args, "rep", json_integer(e->a.rep));
		if (e->a.count >= 0)
			json_object_set_new(args, "count", json_integer(e->a.count));
		if (e->a.bytes >= 0)
			json_object_set_new(args, "bytes", json_integer(e->a.bytes));
		if (e->a.detail)
			json_object_set_new(args, "detail", json_string(e->a.detail));
		/* Microseconds with nanosecond digits: Chrome's unit, no precision lost. */
		json_t *o =
		    json_pack("{s:s,s:s,s:s,s:f,s:f,s:i,s:i,s:o}", "name", e->name ? e->name : "",
		              "cat", e->cat, "ph", "X", "ts", (double)e->t0_ns / 1e3, "dur",
		              (double)(e->t1_ns - e->t0_ns) / 1e3, "pid", T.rank, "tid", e->tid,
		              "args", args);
		if (o)
			write_event_json(o);
		if (e->owned)
			free((char *)e->name);
	}
	T.n = 0;
	fflush(T.f);
}

int strata_trace_close(MPI_Comm comm, const char *dir_rank0, char *err, size_t err_len)
{
	int rc = 0;
	char *text = NULL;
	if (T.open) {
		strata_trace_flush();
		json_t *other =
		    json_pack("{s:i,s:i,s:s,s:s,s:s,s:I}", "rank", T.rank, "ranks", T.nranks,
		              "host", T.host, "clock", "CLOCK_MONOTONIC (ts, dur in microseconds)",
		              "align", "trace/clock-offsets.json; strata trace merge RUN",
		              "dropped_spans", (json_int_t)T.dropped);
		char *o = json_dumps(other, JSON_COMPACT);
		fprintf(T.f, "\n],\"displayTimeUnit\":\"ms\",\"otherData\":%s}\n", o ? o : "{}");
		free(o);
		json_decref(other);
		if (fclose(T.f) != 0 && !T.in_memory) {
			snprintf(err, err_len, "trace: %s: write failed", T.file);
			rc = -1;
		}
		if (T.in_memory)
			text = T.mem; /* fclose made it final */
	}
	free(T.ev);
	int rank = T.rank;
	memset(&T, 0, sizeof(T));
	/* Files kept in memory go to rank 0.  Every rank takes part in the gather
	 * when anyone needs it. */
	int need = text != NULL, any = 0;
	MPI_Allreduce(&need, &any, 1, MPI_INT, MPI_MAX, comm);
	if (any) {
		char **all = strata_mpi_gather_text(comm, 0, text ? text : "");
		int n = 0;
		MPI_Comm_size(comm, &n);
		MPI_Comm_rank(comm, &rank);
		for (int r = 0; all && r < n; r++) {
			if (!all[r][0])
				continue;
			char path[4200];
			snprintf(path, sizeof(path), "%s/trace/rank-%d.json",
			         dir_rank0 ? dir_rank0 : ".", r);
			FILE *f = fopen(path, "w");
			size_t len = strlen(all[r]);
			int bad = !f || fwrite(all[r], 1, len, f) != len;
			if (f && fclose(f) != 0)
				bad = 1;
			if (bad) {
				snprintf(err, err_len, "trace: %s: cannot write: %s", path,
				         strerror(errno));
				rc = -1;
			}
		}
		strata_mpi_text_free(all, n);
	}
	free(text);
	return rc;
}
