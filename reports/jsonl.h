/* jsonl.h: reading back what a run wrote, however it ended.
 *
 * A run killed mid-write (SIGKILL, a node crash, a full disk before strata
 * cut its file back) can leave results.jsonl with a truncated last line,
 * and a damaged disk or a careless edit can leave anything anywhere.  These
 * readers keep every record that parses, skip what does not, and say what
 * they skipped; they never fail on content.  Every reporter (report,
 * compare, history, check) reads runs through strata_run_load(), which uses
 * them.
 *
 * Not a validator: a line that is a JSON object is a record, whatever its
 * fields (reporters treat absent or mistyped fields as missing).
 */
#ifndef STRATA_JSONL_H
#define STRATA_JSONL_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* What a reader skipped. */
struct strata_jsonl_status {
	size_t lines;          /* lines read (blank ones included) */
	size_t records;        /* objects appended */
	size_t bad_lines;      /* lines that were not a JSON object */
	size_t first_bad_line; /* 1-based, 0 when none */
	int last_line_bad;     /* the last line was bad: a write cut short */
};

/* One line (without or with its newline; embedded NULs are not JSON) as a
 * JSON object, or NULL. */
json_t *strata_jsonl_parse_line(const char *line, size_t len);

/* Append every line of f that is a JSON object to records (an array);
 * count the others.  Returns 0, or -1 on a read error of f itself. */
int strata_jsonl_read(FILE *f, json_t *records, struct strata_jsonl_status *st);

/* A warning for st ("results.jsonl: line 7 of 7 is truncated or corrupt
 * (a run killed mid-write?); read the 6 records before it"), or "" when
 * nothing was skipped.  name is the file's name for the message. */
void strata_jsonl_warning(const char *name, const struct strata_jsonl_status *st, char *buf,
                          size_t len);

/* manifest.json: the object, or NULL with the reason (file:line:column)
 * in err when it is missing, truncated or not an object. */
json_t *strata_manifest_load(const char *path, char *err, size_t err_len);

#endif
