/* run.h: a results directory read back from disk, and what the reporters
 * need to ask of its records.  Reporters read only; they never re-run
 * anything and never touch MPI.
 *
 * Figures from raw samples: a record keeps its per-repetition times
 * (samples_s) and, per figure of merit, the value at the median, minimum and
 * mean time.  Every figure strata's suites compute is c * t^p with p = -1
 * (rates: bytes or FLOPs over time), +1 (latencies, times) or 0 (figures
 * that do not depend on the repetition's time, such as a p2p worst pair).
 * strata_record_power() recovers p from the record itself, so a figure's
 * per-repetition values are c * t_i^p without the reporter knowing the
 * suite.
 */
#ifndef STRATA_RUN_H
#define STRATA_RUN_H

#include <stddef.h>

#include <jansson.h>

#include "reports/jsonl.h"

/* A run read back from disk (through reports/jsonl.h's tolerant readers).
 * records is a JSON array of the records that parsed; lines that did not
 * (a run killed mid-write) are skipped and counted, and warning says so. */
struct strata_run {
	char dir[4096];
	json_t *manifest;
	json_t *records;
	size_t bad_line; /* 0, or the first line of results.jsonl that did not parse */
	struct strata_jsonl_status jsonl;
	char warning[5600]; /* "" when every line parsed */
};

/* Read dir.  A missing or damaged manifest.json leaves an empty manifest
 * and a warning (the records are still worth reporting); neither manifest
 * nor results.jsonl is an error ("not a strata run directory"). */
int strata_run_load(const char *dir, struct strata_run *run, char *err, size_t err_len);
void strata_run_release(struct strata_run *run);

/* o[key] as a string, or "-" when absent or not a string. */
const char *strata_json_str(const json_t *o, const char *key);
/* o[key] as a number (integer or real), or NAN. */
double strata_json_num(const json_t *o, const char *key);
/* A parameter value as text: strings as they are, integers in decimal, reals %g. */
void strata_json_value_text(const json_t *v, char *buf, size_t len);

/* The case part of the metric key ("suite[p=v,...]", without "@variant"):
 * equal for every variant of a case and across runs of the same plan. */
void strata_record_case_key(const json_t *rec, char *buf, size_t len);
/* The parameters part of the metric key ("p=v,..."). */
void strata_record_params_text(const json_t *rec, char *buf, size_t len);

/* Name of the record's first figure of merit, or NULL. */
const char *strata_record_first_metric(const json_t *rec);
/* metrics[name] or NULL. */
const json_t *strata_record_metric(const json_t *rec, const char *name);

/* p in figure = c * t^p (see above): -1, 0 or +1.  Returns -2 when the
 * record cannot tell (no stats, or the figure is not such a function). */
int strata_record_power(const json_t *rec, const char *metric);

/* The figure at time t_s, from the record's own median pair. NAN when
 * the power is unknown. */
double strata_record_figure_at(const json_t *rec, const char *metric, double t_s);

/* Per-repetition values of a figure, in repetition order (malloc'd into
 * *out, *n of them).  Returns 0, or -1 when the record has no samples or
 * the figure is not a function of the time. */
int strata_record_figures(const json_t *rec, const char *metric, double **out, size_t *n);

/* params[name] equals value written as text ("64K" or "65536" for an
 * integer, "true", "float"): the loose comparison thresholds files and
 * history filters use. */
int strata_param_matches(const json_t *params, const char *name, const char *value);

/* A host's GPUs and NICs (an entry of manifest.systems): the CUDA devices a
 * run with GPU cases used (gpus.devices: names, memory, NVML facts, derived
 * peaks), or its own "gpus" / "nics" arrays, else those of its hwloc
 * topology summary (names only). */
const json_t *strata_system_gpus(const json_t *sys);
const json_t *strata_system_nics(const json_t *sys);
/* A device's name: "name", "model", or its hwloc names joined by '/'. */
void strata_device_name(const json_t *dev, char *buf, size_t len);

/* Number of distinct hosts in the manifest (>= 1). */
size_t strata_run_n_hosts(const struct strata_run *run);

#endif
