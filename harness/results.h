/* results.h: the run directory and everything written into it.
 *
 * Only rank 0 writes.  results.jsonl gets one record per finished case,
 * appended, flushed and fsync'd at once, so a crash or a Slurm time limit
 * loses nothing already measured.  Files that are rewritten (manifest.json)
 * are replaced atomically: write a temporary file, fsync, rename, fsync the
 * directory.  mllog.txt carries MLPerf-logging-style ":::MLLOG {json}" lines
 * (format of github.com/mlcommons/logging: namespace, time_ms, event_type,
 * key, value, metadata).
 */
#ifndef STRATA_RESULTS_H
#define STRATA_RESULTS_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define STRATA_SCHEMA_VERSION 1

/* strata_results_open refuses a file system with less room than this. */
#define STRATA_RESULTS_MIN_FREE_BYTES (1024 * 1024)

struct strata_results {
	char dir[4096];
	FILE *jsonl;
	FILE *mllog;
};

/* Make a new run directory.  With explicit == NULL: base/<UTC
 * YYYYmmddTHHMMSSZ>-<6 hex>, a fresh id until mkdir succeeds.  With an
 * explicit directory: create it (and parents); refuse one that already holds
 * a manifest.json, so a run never overwrites another.  Returns 0 or -1. */
int strata_results_make_dir(const char *base, const char *explicit_dir, char *out, size_t out_len,
			    char *err, size_t err_len);

/* Create results.jsonl and mllog.txt (new files, never through a symlink)
 * for appending; refuse a file system with less than
 * STRATA_RESULTS_MIN_FREE_BYTES free. */
int strata_results_open(struct strata_results *r, const char *dir, char *err, size_t err_len);
void strata_results_close(struct strata_results *r);

/* Append one record as a line and fsync before returning.  On failure
 * (disk full, quota, I/O error) the file is cut back to the records before,
 * never left with half a line, and -1 returned with the reason. */
int strata_results_append(struct strata_results *r, const json_t *record, char *err, size_t err_len);

/* One MLLOG line.  value and metadata are stolen (may be NULL). */
void strata_results_mllog(struct strata_results *r, const char *event_type, const char *key,
			  json_t *value, json_t *metadata);
/* The same with the event's own wall time (ms since the epoch), for events a
 * suite stamped while it ran (details.mllog_events). */
void strata_results_mllog_at(struct strata_results *r, int64_t time_ms, const char *event_type,
			     const char *key, json_t *value, json_t *metadata);

/* Write obj to path atomically (temp file, fsync, rename, fsync dir). */
int strata_write_json_atomic(const char *path, const json_t *obj, char *err, size_t err_len);

#endif
