/* plan.h: a YAML run plan, validated and expanded into concrete cases.
 *
 * Schema (docs/plan-schema.md has the full reference):
 *   name: text                      required
 *   description: text
 *   run:                            defaults for every case
 *     warmup: {iterations: N, seconds: S}
 *     repetitions: {count: N, min_seconds: S, max_count: N}
 *     timeout_s: S
 *     variants: {order: interleaved|sequential, block: N}
 *     binding: none|core|numa|gpu-local
 *     trace: {enabled: false, max_repetitions: 20}
 *     perf_counters: true|false
 *   cases:                          required, non-empty
 *     - suite: NAME                 required; then the suite's parameters:
 *       PARAM: scalar | [a, b, ...] | {from: X, to: Y, factor: F | step: D}
 *       run: {...}                  overrides of the run defaults
 *       required: true|false        a skipped required case fails the run
 *   variants:                       every case runs once per variant
 *     - label: NAME
 *       env: {VAR: value}           set with setenv around the variant's work
 *       params: {PARAM: value}      overrides for the suites that have PARAM
 * Lists and ranges sweep: a case expands to the cartesian product of its
 * parameters' value lists (the last parameter of the suite's table varies
 * fastest).  Every error names file:line:column and the key.
 */
#ifndef STRATA_PLAN_H
#define STRATA_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "harness/params.h"

struct strata_run_settings {
	int64_t warmup_iterations; /* untimed iterations before timing */
	double warmup_seconds;     /* and/or untimed time before timing */
	int64_t repetitions;       /* at least this many timed repetitions */
	double min_seconds;        /* and at least this much timed time */
	int64_t max_repetitions;   /* never more than this many */
	double timeout_s;          /* per case; repetitions stop when reached */
	int variants_interleaved;  /* blocks of repetitions alternate between variants */
	int64_t variant_block;     /* repetitions per block when interleaved */
	int binding;               /* enum strata_bind_policy (harness/topo.h), applied at setup */
	int trace_enabled;         /* a traced pass after the timed repetitions (harness/trace.h) */
	int64_t trace_max_repetitions; /* repetitions of the traced pass */
	int perf_counters;         /* perf_event counters over the timed phase of CPU cases */
};

struct strata_case_spec {
	const struct strata_suite *suite;
	struct strata_params params;
	struct strata_run_settings run;
	int required;   /* a skip fails the run */
	int line;       /* 1-based line of the case in the plan */
};

struct strata_env_kv {
	char *name;
	char *value;
};

struct strata_variant {
	char label[64];
	struct strata_env_kv *env;
	size_t n_env;
	struct strata_env_kv *params; /* name -> value text, validated against the cases */
	size_t n_params;
};

struct strata_plan {
	char *source;      /* file name used in messages */
	char *name;
	char *description; /* may be NULL */
	struct strata_run_settings run;
	struct strata_case_spec *cases;
	size_t n_cases;
	struct strata_variant *variants; /* at least one ("default") */
	size_t n_variants;
};

#define STRATA_PLAN_MAX_CASES 100000

/* Parse and validate plan text.  source names the file in messages.
 * Returns 0, or -1 with "file:line:column: message" in err. */
int strata_plan_parse(const char *text, size_t len, const char *source,
		      struct strata_plan *plan, char *err, size_t err_len);

/* Read a whole file into a NUL-terminated buffer (caller frees).
 * Returns 0, or -1 with a message naming the file. */
int strata_read_file(const char *path, char **text, size_t *len, char *err, size_t err_len);

void strata_plan_release(struct strata_plan *plan);

/* The plan as parsed (expanded cases, defaults filled in), for manifests. */
json_t *strata_plan_to_json(const struct strata_plan *plan);

/* Parameters of one case as a JSON object with typed values. */
json_t *strata_params_to_json(const struct strata_params *p);

/* Stable metric key: "suite[p1=v1,p2=v2,...]@variant", parameters in the
 * suite's table order, values canonical, so records of two runs align. */
void strata_metric_key(const struct strata_params *p, const char *variant,
		       char *buf, size_t len);

/* The parameters a case runs with under a variant: the case's own, with the
 * variant's overrides for the parameters its suite has.  Values were
 * validated when the plan was parsed. */
void strata_variant_params(const struct strata_variant *v, const struct strata_case_spec *c,
			   struct strata_params *out);

/* Built-in run defaults. */
struct strata_run_settings strata_run_settings_default(void);

#endif
