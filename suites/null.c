/* null.c: a suite that measures nothing but the runner itself (like fio's
 * null engine).  It exercises setup/warm-up/repetitions/verify/teardown
 * without hardware, and can be told to fail, skip or sleep so tests can check
 * how the runner records each outcome.  It is not a benchmark of anything. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness/suite.h"

struct null_state {
	char probe_name[STRATA_VALUE_STR];
	char probe_value[256];   /* what run_once last saw; "(unset)" if unset */
	int64_t iterations;  /* run_once calls so far */
	int64_t timed_iterations; /* of them, timed (counted on the faulty rank only) */
	double sleep_s;      /* per iteration */
	const char *fail;    /* none|setup|verify|run|skip|die|hang */
	int faulty;          /* this rank is the one that dies or hangs */
};

static const struct strata_param_def null_params[] = {
	{ .name = "device", .type = STRATA_PT_ENUM, .def = "cpu", .choices = "cpu",
	  .help = "backend (the null suite has only cpu)" },
	{ .name = "sleep_us", .type = STRATA_PT_DOUBLE, .def = "0", .min = 0, .max = 60e6,
	  .help = "microseconds each iteration sleeps" },
	{ .name = "fail", .type = STRATA_PT_ENUM, .def = "none", .choices = "none|setup|verify|run|skip|die|hang",
	  .help = "test hook: make this stage fail (or setup skip); die: fault_rank kills itself with SIGKILL, "
		  "hang: fault_rank sleeps for an hour, both at its 3rd timed repetition" },
	{ .name = "fault_rank", .type = STRATA_PT_INT, .def = "-1", .min = -1, .max = 1 << 30,
	  .help = "test hook: the rank that dies or hangs (-1: the last rank)" },
	{ .name = "bytes", .type = STRATA_PT_SIZE, .def = "0", .min = 0, .max = 1e18,
	  .help = "nominal bytes per iteration, to exercise rate metrics" },
	{ .name = "env_probe", .type = STRATA_PT_STRING, .def = "\"\"",
	  .help = "test hook: record this environment variable's value as run_once saw it" },
};

static int null_setup(const struct strata_case *c, void **state)
{
	const char *fail = strata_params_str(c->params, "fail");
	if (strcmp(fail, "skip") == 0) {
		strata_case_errorf(c, "null suite asked to skip");
		return STRATA_SKIP;
	}
	if (strcmp(fail, "setup") == 0) {
		strata_case_errorf(c, "null suite asked to fail in setup");
		return STRATA_ERROR;
	}
	struct null_state *s = calloc(1, sizeof(*s));
	if (!s) {
		strata_case_errorf(c, "out of memory");
		return STRATA_ERROR;
	}
	s->sleep_s = strata_params_double(c->params, "sleep_us") * 1e-6;
	snprintf(s->probe_name, sizeof(s->probe_name), "%s", strata_params_str(c->params, "env_probe"));
	s->fail = fail;
	int64_t fr = strata_params_int(c->params, "fault_rank");
	s->faulty = c->rank == (fr < 0 ? c->nranks - 1 : fr);
	*state = s;
	return STRATA_OK;
}

static int null_run_once(void *state, const struct strata_case *c)
{
	struct null_state *s = state;
	s->iterations++;
	if (s->probe_name[0]) {
		const char *v = getenv(s->probe_name);
		snprintf(s->probe_value, sizeof(s->probe_value), "%s", v ? v : "(unset)");
	}
	if (strcmp(s->fail, "run") == 0) {
		strata_case_errorf(c, "null suite asked to fail in run");
		return STRATA_ERROR;
	}
	if (s->faulty && c->timed && ++s->timed_iterations == 3) {
		/* A crashed node or an OOM kill; a rank stuck in a driver call. */
		if (strcmp(s->fail, "die") == 0)
			raise(SIGKILL);
		for (int i = 0; i < 3600 && strcmp(s->fail, "hang") == 0; i++) {
			struct timespec sec = { .tv_sec = 1 };
			nanosleep(&sec, NULL);
		}
	}
	if (s->sleep_s > 0) {
		struct timespec ts = { .tv_sec = (time_t)s->sleep_s,
				       .tv_nsec = (long)((s->sleep_s - (time_t)s->sleep_s) * 1e9) };
		nanosleep(&ts, NULL);
	}
	return STRATA_OK;
}

static int64_t null_verify(void *state, const struct strata_case *c)
{
	struct null_state *s = state;
	if (strcmp(s->fail, "verify") == 0) {
		strata_case_errorf(c, "null suite asked to fail verification (rank %d)", c->rank);
		return 1;
	}
	return s->iterations > 0 ? 0 : 1;
}

static void null_teardown(void *state)
{
	free(state);
}

static size_t null_metrics(const void *state, const struct strata_case *c, double seconds,
			   struct strata_metric *out, size_t max)
{
	(void)state;
	size_t n = 0;
	if (n < max)
		out[n++] = (struct strata_metric){ "time", "us", seconds * 1e6, 0 };
	double bytes = (double)strata_params_int(c->params, "bytes");
	if (bytes > 0 && seconds > 0 && n < max)
		out[n++] = (struct strata_metric){ "rate", "GB/s", bytes / seconds / 1e9, 1 };
	return n;
}

static void null_describe(const void *state, const struct strata_case *c, json_t *details)
{
	const struct null_state *s = state;
	(void)c;
	json_object_set_new(details, "iterations", json_integer(s->iterations));
	if (s->probe_name[0])
		json_object_set_new(details, "env_probe", json_string(s->probe_value));
}

const struct strata_suite strata_suite_null = {
	.name = "null",
	.summary = "measures only the runner's own overhead; test hooks for failure paths",
	.params = null_params,
	.n_params = sizeof(null_params) / sizeof(null_params[0]),
	.setup = null_setup,
	.run_once = null_run_once,
	.verify = null_verify,
	.teardown = null_teardown,
	.metrics = null_metrics,
	.describe = null_describe,
};
