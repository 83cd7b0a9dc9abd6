/* runner.c: `strata run`: plan distribution, the results directory, the
 * manifest, the variant/case loop and signal handling.  The measurement of
 * one case lives in measure.c; this file decides what runs and records it. */
#define _GNU_SOURCE
#include "harness/runner.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include "harness/case_instr.h"
#include "harness/measure.h"
#include "harness/plan.h"
#include "harness/results.h"
#include "harness/suite.h"
#include "harness/sysinfo.h"
#include "harness/timer.h"
#include "harness/topo_run.h"
#include "harness/watchdog.h"

#define ERR_LEN 2048

static volatile sig_atomic_t got_signal;

/* First SIGINT/SIGTERM: stop at the next repetition boundary and keep
 * everything (got_signal is read by the stop vote).  A second one means the
 * first could not take effect (a rank stuck outside any case, an operator
 * pressing ^C twice): leave at once; results already written stay, and the
 * manifest still says complete:false. */
static int64_t first_signal_ns;

static void on_signal(int sig)
{
	int64_t now = strata_now_ns(); /* clock_gettime is async-signal-safe */
	if (!got_signal) {
		got_signal = sig;
		first_signal_ns = now;
		return;
	}
	/* At a time limit Slurm sends SIGTERM, SIGCONT, SIGTERM within a few
	 * milliseconds (3 ms measured, Slurm 22.05): that is one request to stop
	 * cleanly, not two.  A second signal counts only a second later. */
	if (now - first_signal_ns < 1000000000LL)
		return;
	static const char msg[] = "strata: second signal: exiting now (the run stays marked incomplete)\n";
	ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)ignored;
	_exit(STRATA_EXIT_RUNTIME);
}

void strata_runner_install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int strata_runner_signal(void)
{
	return got_signal;
}

static json_t *iso_time_json(int64_t wall_ms)
{
	time_t s = (time_t)(wall_ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	char buf[64];
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	return json_sprintf("%s.%03dZ", buf, (int)(wall_ms % 1000));
}

/* Broadcast a NUL-terminated string from rank 0 (NULL on rank 0 means "").  */
static char *bcast_string(MPI_Comm comm, int rank, const char *s)
{
	long long len = rank == 0 ? (long long)(s ? strlen(s) : 0) : 0;
	MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, comm);
	char *buf = malloc((size_t)len + 1);
	if (rank == 0 && len)
		memcpy(buf, s, (size_t)len);
	MPI_Bcast(buf, (int)len, MPI_CHAR, 0, comm);
	buf[len] = '\0';
	return buf;
}

/* Gather one string per rank on rank 0 (caller frees each and the array). */
static char **gather_strings(MPI_Comm comm, int rank, int nranks, const char *mine)
{
	int len = (int)strlen(mine) + 1;
	int *lens = NULL, *displ = NULL;
	char *buf = NULL;
	if (rank == 0) {
		lens = calloc((size_t)nranks, sizeof(*lens));
		displ = calloc((size_t)nranks, sizeof(*displ));
	}
	MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, comm);
	if (rank == 0) {
		int total = 0;
		for (int r = 0; r < nranks; r++) {
			displ[r] = total;
			total += lens[r];
		}
		buf = malloc((size_t)total);
	}
	MPI_Gatherv(mine, len, MPI_CHAR, buf, lens, displ, MPI_CHAR, 0, comm);
	char **out = NULL;
	if (rank == 0) {
		out = calloc((size_t)nranks, sizeof(*out));
		for (int r = 0; r < nranks; r++)
			out[r] = strdup(buf + displ[r]);
	}
	free(buf);
	free(lens);
	free(displ);
	return out;
}

struct run_state {
	struct strata_rank_info ri;
	struct strata_plan plan;
	struct strata_results res;
	char dir[4096];
	json_t *manifest; /* rank 0 */
	int64_t start_ms;
	size_t n_by_outcome[STRATA_TIMED_OUT + 1];
	int required_skipped;
	int write_failed; /* rank 0 could not append a record: the run stops */
};

/* Who, what and where; written with complete:false before the first case
 * and rewritten atomically at the end. */
static json_t *build_manifest(struct run_state *S, const struct strata_run_options *opt,
			      char **host_json, char **bindings, char **pids)
{
	json_t *m = json_object();
	json_object_set_new(m, "schema_version", json_integer(STRATA_SCHEMA_VERSION));
	json_object_set_new(m, "type", json_string("manifest"));
	const char *slash = strrchr(S->dir, '/');
	json_object_set_new(m, "run_id", json_string(slash ? slash + 1 : S->dir));
	json_object_set_new(m, "strata", strata_sysinfo_versions());
	json_t *argv = json_array();
	for (int i = 0; i < opt->argc; i++)
		json_array_append_new(argv, json_string(opt->argv[i]));
	json_object_set_new(m, "command_line", argv);
	char cwd[4096];
	json_object_set_new(m, "working_directory", json_string(getcwd(cwd, sizeof(cwd)) ? cwd : "?"));
	json_object_set_new(m, "plan_file", json_string(opt->plan_path));
	json_object_set_new(m, "plan", strata_plan_to_json(&S->plan));
	json_object_set_new(m, "start_time", iso_time_json(S->start_ms));
	json_object_set_new(m, "end_time", json_null());
	json_object_set_new(m, "complete", json_false());
	json_object_set_new(m, "interrupted_by", json_null());
	json_object_set_new(m, "exit_code", json_null());

	json_t *layout = json_array(), *hosts = json_array(), *systems = json_array();
	for (int r = 0; r < S->ri.nranks; r++) {
		json_array_append_new(layout, json_pack("{s:i,s:s,s:s,s:s}", "rank", r, "host",
							S->ri.hostnames[r], "binding", bindings[r],
							"pid", pids[r]));
		json_t *h = NULL;
		size_t i;
		json_t *it;
		json_array_foreach(hosts, i, it) {
			if (!strcmp(json_string_value(json_object_get(it, "hostname")), S->ri.hostnames[r]))
				h = it;
		}
		if (!h) {
			h = json_pack("{s:s,s:[]}", "hostname", S->ri.hostnames[r], "ranks");
			json_array_append_new(hosts, h);
		}
		json_array_append_new(json_object_get(h, "ranks"), json_integer(r));
		if (host_json[r][0]) {
			json_t *sys = json_loads(host_json[r], 0, NULL);
			if (sys)
				json_array_append_new(systems, sys);
		}
	}
	json_object_set_new(m, "ranks", json_integer(S->ri.nranks));
	json_object_set_new(m, "hosts", hosts);
	json_object_set_new(m, "rank_layout", layout);
	json_object_set_new(m, "systems", systems);
	json_object_set_new(m, "environment", strata_sysinfo_env());
	json_object_set_new(m, "launcher", strata_sysinfo_launcher());
	json_object_set_new(m, "method",
			    json_pack("{s:s,s:s,s:s,s:s}", "timer", STRATA_TIMER_NAME, "synchronisation",
				      "stop vote (MPI_Allreduce) then MPI_Barrier before every repetition",
				      "figure", "slowest rank per repetition",
				      "statistics",
				      "n, min, max, median, mean, stddev (n-1), p99 (type-7 quantile); 95% CI of the median "
				      "(binomial order statistics) and of the mean (Student t); figures of merit at the median "
				      "(median), minimum (best) and mean (mean) time"));
	return m;
}

static void finish_manifest(struct run_state *S, int exit_code, int complete)
{
	json_t *m = S->manifest;
	json_object_set_new(m, "end_time", iso_time_json(strata_wall_ms()));
	json_object_set_new(m, "complete", json_boolean(complete));
	json_object_set_new(m, "exit_code", json_integer(exit_code));
	if (strata_runner_signal())
		json_object_set_new(m, "interrupted_by",
				    json_string(strata_runner_signal() == SIGINT ? "SIGINT" : "SIGTERM"));
	json_object_set_new(m, "summary",
			    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "passed",
				      (json_int_t)S->n_by_outcome[STRATA_PASSED], "failed",
				      (json_int_t)S->n_by_outcome[STRATA_FAILED], "skipped",
				      (json_int_t)S->n_by_outcome[STRATA_SKIPPED], "error",
				      (json_int_t)S->n_by_outcome[STRATA_ERRORED], "interrupted",
				      (json_int_t)S->n_by_outcome[STRATA_INTERRUPTED], "timeout",
				      (json_int_t)S->n_by_outcome[STRATA_TIMED_OUT]));
}

static int write_manifest(struct run_state *S)
{
	char path[4200], err[ERR_LEN];
	snprintf(path, sizeof(path), "%s/manifest.json", S->dir);
	if (strata_write_json_atomic(path, S->manifest, err, sizeof(err)) != 0) {
		fprintf(stderr, "strata: %s\n", err);
		return -1;
	}
	return 0;
}

/* One console line per finished case (between cases, never while measuring). */
static void print_case(size_t idx, size_t total, enum strata_outcome o, const json_t *rec)
{
	const char *key = json_string_value(json_object_get(rec, "metric_key"));
	printf("[%zu/%zu] %-11s %s", idx, total, strata_outcome_name(o), key);
	json_t *metrics = json_object_get(rec, "metrics");
	const char *name;
	json_t *m;
	int shown = 0;
	json_object_foreach(metrics, name, m) {
		if (shown++ == 2)
			break;
		printf("  %s %.4g %s", name, json_real_value(json_object_get(m, "median")),
		       json_string_value(json_object_get(m, "unit")));
	}
	const char *reason = json_string_value(json_object_get(rec, "reason"));
	if (reason)
		printf("\n    %s", reason);
	printf("\n");
	fflush(stdout);
}

/* The environment as it was before any variant touched it, so switching
 * variants restores what the user had set rather than unsetting it. */
struct env_saved {
	char *name;
	char *value; /* NULL: was unset */
};

static struct env_saved *save_env(const struct strata_plan *plan, size_t *n)
{
	struct env_saved *saved = NULL;
	*n = 0;
	for (size_t vi = 0; vi < plan->n_variants; vi++) {
		for (size_t j = 0; j < plan->variants[vi].n_env; j++) {
			const char *name = plan->variants[vi].env[j].name;
			size_t k;
			for (k = 0; k < *n && strcmp(saved[k].name, name); k++)
				;
			if (k < *n)
				continue;
			struct env_saved *ns = realloc(saved, (*n + 1) * sizeof(*ns));
			if (!ns)
				return saved;
			saved = ns;
			const char *cur = getenv(name);
			saved[*n].name = strdup(name);
			saved[*n].value = cur ? strdup(cur) : NULL;
			(*n)++;
		}
	}
	return saved;
}

/* Put the saved environment back, then apply variant v (if any).  Set
 * directly with setenv, never through a shell. */
static void apply_env(const struct env_saved *saved, size_t n, const struct strata_variant *v)
{
	for (size_t i = 0; i < n; i++) {
		if (saved[i].value)
			setenv(saved[i].name, saved[i].value, 1);
		else
			unsetenv(saved[i].name);
	}
	for (size_t i = 0; v && i < v->n_env; i++)
		setenv(v->env[i].name, v->env[i].value, 1);
}

static void free_env(struct env_saved *saved, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(saved[i].name);
		free(saved[i].value);
	}
	free(saved);
}

/* Record one finished trial: results.jsonl, MLLOG, console. */
static void record_trial(struct run_state *S, size_t idx, size_t total, const char *key,
			 enum strata_outcome o, json_t *rec, json_t *interleave)
{
	S->n_by_outcome[o]++;
	if (S->ri.rank != 0) {
		json_decref(interleave);
		return;
	}
	json_t *full = json_pack("{s:i,s:s,s:s,s:I}", "schema_version", STRATA_SCHEMA_VERSION, "type",
				 "case", "run_id",
				 json_string_value(json_object_get(S->manifest, "run_id")), "case_index",
				 (json_int_t)idx);
	json_object_update(full, rec);
	json_decref(rec);
	if (interleave)
		json_object_set_new(full, "interleave", interleave);
	/* A suite's own MLPerf events (the train suite's run_start, eval_accuracy,
	 * run_stop ... with their times) go to mllog.txt, not into the record. */
	json_t *details = json_object_get(full, "details");
	json_t *events = json_object_get(details, "mllog_events");
	size_t ei;
	json_t *ev;
	json_array_foreach(events, ei, ev) {
		json_t *meta = json_deep_copy(json_object_get(ev, "metadata"));
		if (!json_is_object(meta)) {
			json_decref(meta);
			meta = json_object();
		}
		json_object_set_new(meta, "metric_key", json_string(key));
		strata_results_mllog_at(&S->res, json_integer_value(json_object_get(ev, "time_ms")),
					json_string_value(json_object_get(ev, "event_type")),
					json_string_value(json_object_get(ev, "key")),
					json_deep_copy(json_object_get(ev, "value")), meta);
	}
	if (events)
		json_object_del(details, "mllog_events");
	char err[ERR_LEN];
	if (!S->write_failed && strata_results_append(&S->res, full, err, sizeof(err)) != 0) {
		/* Disk full, quota, file system gone read-only: measuring on
		 * without a place to keep the results would waste the allocation. */
		fprintf(stderr, "strata: %s; stopping the run (the records before it are intact)\n", err);
		S->write_failed = 1;
	}
	const char *name;
	json_t *m;
	json_object_foreach(json_object_get(full, "metrics"), name, m) {
		strata_results_mllog(&S->res, "POINT_IN_TIME", "result",
				     json_real(json_real_value(json_object_get(m, "median"))),
				     json_pack("{s:s,s:s,s:s}", "metric_key", key, "metric", name, "unit",
					       json_string_value(json_object_get(m, "unit"))));
	}
	strata_results_mllog(&S->res, "INTERVAL_END", "case_stop", json_string(key),
			     json_pack("{s:s,s:I}", "status", strata_outcome_name(o), "case_index",
				       (json_int_t)idx));
	print_case(idx, total, o, full);
	if (S->ri.records) /* what later cases may read (suite.h run_records) */
		json_array_append_new(S->ri.records,
				      json_pack("{s:O?,s:O?,s:O?,s:s,s:O?}", "suite",
						json_object_get(full, "suite"), "backend",
						json_object_get(full, "backend"), "params",
						json_object_get(full, "params"), "outcome",
						strata_outcome_name(o), "metrics",
						json_object_get(full, "metrics")));
	json_decref(full);
}

/* Rank 0's verdict on the results file, shared so every rank stops together
 * (once per case, outside any timing). */
static int results_broken(struct run_state *S)
{
	MPI_Bcast(&S->write_failed, 1, MPI_INT, 0, S->ri.comm);
	return S->write_failed;
}

/* The watchdog is about to abort the run (rank 0): say why in the manifest,
 * which already says complete: false. */
static void on_watchdog_abort(const char *why, void *arg)
{
	struct run_state *S = arg;
	if (!S->manifest)
		return;
	json_object_set_new(S->manifest, "end_time", iso_time_json(strata_wall_ms()));
	json_object_set_new(S->manifest, "exit_code", json_integer(STRATA_EXIT_RUNTIME));
	json_object_set_new(S->manifest, "aborted", json_string(why));
	write_manifest(S);
}

static void mllog_case_start(struct run_state *S, const char *key, size_t idx)
{
	if (S->ri.rank == 0)
		strata_results_mllog(&S->res, "INTERVAL_START", "case_start", json_string(key),
				     json_pack("{s:I}", "case_index", (json_int_t)idx));
}

/* Variants one after the other: every case of variant 1, then of variant 2. */
static int run_sequential(struct run_state *S, const struct env_saved *saved, size_t n_saved)
{
	size_t total = S->plan.n_cases * S->plan.n_variants, idx = 0;
	for (size_t vi = 0; vi < S->plan.n_variants; vi++) {
		const struct strata_variant *var = &S->plan.variants[vi];
		apply_env(saved, n_saved, var);
		for (size_t ci = 0; ci < S->plan.n_cases; ci++) {
			const struct strata_case_spec *spec = &S->plan.cases[ci];
			struct strata_params params;
			strata_variant_params(var, spec, &params);
			char key[2048];
			strata_metric_key(&spec->params, var->label, key, sizeof(key));
			mllog_case_start(S, key, ++idx);
			struct strata_trial *t = strata_trial_begin(&S->ri, spec, &params, var->label, 1.0);
			strata_trial_warmup(t);
			while (strata_trial_measure(t, 0))
				;
			json_t *rec = NULL;
			enum strata_outcome o = strata_trial_end(t, &rec);
			if (o == STRATA_SKIPPED && spec->required)
				S->required_skipped++;
			record_trial(S, idx, total, key, o, rec, NULL);
			if (results_broken(S) || o == STRATA_INTERRUPTED)
				return -1;
		}
	}
	return 0;
}

/* Variants interleaved: for each case, every variant is set up, then blocks
 * of repetitions alternate A, B, A, B ... so drift of the machine (thermal,
 * noisy neighbours, other jobs) hits every variant alike, and sample i of
 * one variant can be paired with sample i of another. */
static int run_interleaved(struct run_state *S, const struct env_saved *saved, size_t n_saved)
{
	size_t nv = S->plan.n_variants, total = S->plan.n_cases * nv, idx = 0;
	struct strata_trial **trials = calloc(nv, sizeof(*trials));
	char(*keys)[2048] = calloc(nv, sizeof(*keys));
	int stop = 0;
	for (size_t ci = 0; ci < S->plan.n_cases && !stop; ci++) {
		const struct strata_case_spec *spec = &S->plan.cases[ci];
		for (size_t vi = 0; vi < nv; vi++) {
			const struct strata_variant *var = &S->plan.variants[vi];
			struct strata_params params;
			strata_variant_params(var, spec, &params);
			strata_metric_key(&spec->params, var->label, keys[vi], sizeof(keys[vi]));
			mllog_case_start(S, keys[vi], idx + vi + 1);
			apply_env(saved, n_saved, var);
			trials[vi] = strata_trial_begin(&S->ri, spec, &params, var->label, (double)nv);
		}
		for (size_t vi = 0; vi < nv; vi++) {
			apply_env(saved, n_saved, &S->plan.variants[vi]);
			strata_trial_warmup(trials[vi]);
		}
		int64_t blocks = 0;
		for (int any = 1; any;) {
			any = 0;
			for (size_t vi = 0; vi < nv; vi++) {
				if (!strata_trial_live(trials[vi]))
					continue;
				apply_env(saved, n_saved, &S->plan.variants[vi]);
				any |= strata_trial_measure(trials[vi], spec->run.variant_block);
			}
			blocks++;
		}
		json_t *labels = json_array();
		for (size_t vi = 0; vi < nv; vi++)
			json_array_append_new(labels, json_string(S->plan.variants[vi].label));
		for (size_t vi = 0; vi < nv; vi++) {
			apply_env(saved, n_saved, &S->plan.variants[vi]);
			json_t *rec = NULL;
			enum strata_outcome o = strata_trial_end(trials[vi], &rec);
			if (o == STRATA_SKIPPED && spec->required)
				S->required_skipped++;
			json_t *il = json_pack("{s:s,s:I,s:I,s:O,s:i}", "order", "interleaved", "block",
					       (json_int_t)spec->run.variant_block, "blocks",
					       (json_int_t)blocks, "variants", labels, "position", (int)vi);
			record_trial(S, ++idx, total, keys[vi], o, rec, il);
			if (o == STRATA_INTERRUPTED)
				stop = 1;
		}
		if (results_broken(S))
			stop = 1;
		json_decref(labels);
	}
	free(trials);
	free(keys);
	return stop ? -1 : 0;
}

static void run_cases(struct run_state *S)
{
	size_t n_saved = 0;
	struct env_saved *saved = save_env(&S->plan, &n_saved);
	/* The plan-wide setting decides the order (per-case overrides of it
	 * would make the order of cases ambiguous). */
	if (S->plan.n_variants > 1 && S->plan.run.variants_interleaved)
		run_interleaved(S, saved, n_saved);
	else
		run_sequential(S, saved, n_saved);
	apply_env(saved, n_saved, NULL);
	free_env(saved, n_saved);
}

static int exit_code_of(const struct run_state *S)
{
	if (S->n_by_outcome[STRATA_ERRORED] || S->n_by_outcome[STRATA_INTERRUPTED] ||
	    S->n_by_outcome[STRATA_TIMED_OUT] || S->required_skipped || strata_runner_signal() ||
	    S->write_failed)
		return STRATA_EXIT_RUNTIME;
	if (S->n_by_outcome[STRATA_FAILED])
		return STRATA_EXIT_VALIDATION;
	return STRATA_EXIT_OK;
}

/* Rank 0 reads and validates; everyone learns whether that worked. */
static int load_plan(struct run_state *S, const struct strata_run_options *opt)
{
	char err[ERR_LEN] = "";
	char *text = NULL;
	size_t len = 0;
	int ok = 1;
	if (S->ri.rank == 0) {
		ok = strata_read_file(opt->plan_path, &text, &len, err, sizeof(err)) == 0 &&
		     strata_plan_parse(text, len, opt->plan_path, &S->plan, err, sizeof(err)) == 0;
		if (!ok)
			fprintf(stderr, "strata: %s\n", err);
	}
	MPI_Bcast(&ok, 1, MPI_INT, 0, S->ri.comm);
	if (!ok) {
		free(text);
		return -1;
	}
	char *shared = bcast_string(S->ri.comm, S->ri.rank, text);
	free(text);
	int rc = 0;
	if (S->ri.rank != 0 &&
	    strata_plan_parse(shared, strlen(shared), opt->plan_path, &S->plan, err, sizeof(err)) != 0) {
		fprintf(stderr, "strata: rank %d: %s\n", S->ri.rank, err);
		rc = -1;
	}
	free(shared);
	MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MIN, S->ri.comm);
	return rc;
}

static int open_results(struct run_state *S, const struct strata_run_options *opt)
{
	char err[ERR_LEN];
	int ok = 1;
	if (S->ri.rank == 0) {
		ok = strata_results_make_dir(opt->results_base, opt->out_dir, S->dir, sizeof(S->dir), err,
					     sizeof(err)) == 0 &&
		     strata_results_open(&S->res, S->dir, err, sizeof(err)) == 0;
		if (!ok)
			fprintf(stderr, "strata: %s\n", err);
	}
	MPI_Bcast(&ok, 1, MPI_INT, 0, S->ri.comm);
	return ok ? 0 : -1;
}

static void rank_layout(struct run_state *S)
{
	MPI_Comm local;
	MPI_Comm_split_type(S->ri.comm, MPI_COMM_TYPE_SHARED, S->ri.rank, MPI_INFO_NULL, &local);
	MPI_Comm_rank(local, &S->ri.local_rank);
	MPI_Comm_size(local, &S->ri.local_size);
	MPI_Comm_free(&local);
	char name[MPI_MAX_PROCESSOR_NAME] = "";
	int len = 0;
	MPI_Get_processor_name(name, &len);
	S->ri.hostnames = gather_strings(S->ri.comm, S->ri.rank, S->ri.nranks, name);
	S->ri.records = S->ri.rank == 0 ? json_array() : NULL;
}

static void free_strings(char **v, int n)
{
	if (!v)
		return;
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int strata_runner_run(const struct strata_run_options *opt)
{
	struct run_state S;
	memset(&S, 0, sizeof(S));
	S.ri.comm = MPI_COMM_WORLD;
	MPI_Comm_rank(S.ri.comm, &S.ri.rank);
	MPI_Comm_size(S.ri.comm, &S.ri.nranks);
	S.start_ms = strata_wall_ms();
	strata_runner_install_signals();

	if (load_plan(&S, opt) != 0)
		return STRATA_EXIT_BAD_INPUT;
	if (open_results(&S, opt) != 0) {
		strata_plan_release(&S.plan);
		return STRATA_EXIT_RUNTIME;
	}
	rank_layout(&S);

	/* Facts every rank contributes: its binding, its pid, and (one rank per
	 * host) that host's hardware summary. */
	char *binding = strata_sysinfo_binding(), pid[32];
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	char *host = NULL;
	if (S.ri.local_rank == 0) {
		json_t *h = strata_sysinfo_host();
		json_object_set_new(h, "topology", strata_topo_run_summary()); /* GPUs, NICs, NVMe, distances */
		host = json_dumps(h, JSON_COMPACT);
		json_decref(h);
	}
	char **bindings = gather_strings(S.ri.comm, S.ri.rank, S.ri.nranks, binding);
	char **pids = gather_strings(S.ri.comm, S.ri.rank, S.ri.nranks, pid);
	char **hosts = gather_strings(S.ri.comm, S.ri.rank, S.ri.nranks, host ? host : "");
	free(binding);
	free(host);

	int manifest_ok = 1;
	if (S.ri.rank == 0) {
		S.manifest = build_manifest(&S, opt, hosts, bindings, pids);
		manifest_ok = write_manifest(&S) == 0;
		printf("strata: plan %s: %zu case(s) x %zu variant(s) on %d rank(s); results in %s\n",
		       S.plan.name, S.plan.n_cases, S.plan.n_variants, S.ri.nranks, S.dir);
		fflush(stdout);
		strata_results_mllog(&S.res, "INTERVAL_START", "run_start", json_null(),
				     json_pack("{s:s,s:i}", "plan", S.plan.name, "ranks", S.ri.nranks));
	}
	free_strings(bindings, S.ri.nranks);
	free_strings(pids, S.ri.nranks);
	free_strings(hosts, S.ri.nranks);
	MPI_Bcast(&manifest_ok, 1, MPI_INT, 0, S.ri.comm);
	if (manifest_ok) /* topology XML per host; traces and clock offsets when a case is traced */
		strata_run_instr_begin(&S.ri, S.dir, &S.plan, S.manifest);

	int code = STRATA_EXIT_RUNTIME;
	if (manifest_ok) {
		strata_watchdog_start(&S.ri);
		strata_watchdog_on_abort(on_watchdog_abort, &S);
		run_cases(&S);
		strata_watchdog_stop();
		strata_run_instr_end(&S.ri, S.dir, S.manifest);
		/* Every rank contributes to the verdict (a signal may have reached only some). */
		int sig = strata_runner_signal();
		MPI_Allreduce(MPI_IN_PLACE, &sig, 1, MPI_INT, MPI_MAX, S.ri.comm);
		if (sig && !got_signal)
			got_signal = sig;
		code = exit_code_of(&S);
	}
	if (S.ri.rank == 0) {
		int complete = manifest_ok && !strata_runner_signal() && !S.write_failed;
		strata_results_mllog(&S.res, "INTERVAL_END", "run_stop", json_null(),
				     json_pack("{s:s,s:i}", "status", code == 0 ? "success" : complete ? "failed" : "aborted",
					       "exit_code", code));
		if (manifest_ok) {
			finish_manifest(&S, code, complete);
			if (write_manifest(&S) != 0)
				code = STRATA_EXIT_RUNTIME;
		}
		printf("strata: %s: %zu passed, %zu failed, %zu skipped, %zu error, %zu timeout%s; exit %d\n",
		       S.dir, S.n_by_outcome[STRATA_PASSED], S.n_by_outcome[STRATA_FAILED],
		       S.n_by_outcome[STRATA_SKIPPED], S.n_by_outcome[STRATA_ERRORED],
		       S.n_by_outcome[STRATA_TIMED_OUT], complete ? "" : " (INCOMPLETE: interrupted)", code);
		printf("strata: results written to %s\n", S.dir);
		json_decref(S.manifest);
		strata_results_close(&S.res);
	}
	free_strings(S.ri.hostnames, S.ri.nranks);
	json_decref(S.ri.records);
	strata_plan_release(&S.plan);
	return code;
}
