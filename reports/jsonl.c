/* jsonl.c: tolerant readers of results.jsonl and manifest.json (see
 * jsonl.h).  Reads only; never changes a run directory. */
#define _GNU_SOURCE
#include "reports/jsonl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

json_t *strata_jsonl_parse_line(const char *line, size_t len)
{
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len == 0 || memchr(line, '\0', len))
		return NULL;
	json_error_t je;
	json_t *v = json_loadb(line, len, 0, &je);
	if (v && !json_is_object(v)) {
		json_decref(v);
		return NULL;
	}
	return v;
}

static int blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

int strata_jsonl_read(FILE *f, json_t *records, struct strata_jsonl_status *st)
{
	memset(st, 0, sizeof(*st));
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		st->lines++;
		st->last_line_bad = 0;
		if (blank(line, (size_t)len))
			continue;
		json_t *rec = strata_jsonl_parse_line(line, (size_t)len);
		if (!rec) {
			st->bad_lines++;
			if (!st->first_bad_line)
				st->first_bad_line = st->lines;
			st->last_line_bad = 1;
			continue;
		}
		json_array_append_new(records, rec);
		st->records++;
	}
	int rc = ferror(f) ? -1 : 0;
	free(line);
	return rc;
}

void strata_jsonl_warning(const char *name, const struct strata_jsonl_status *st, char *buf,
                          size_t len)
{
	buf[0] = '\0';
	if (!st->bad_lines)
		return;
	if (st->bad_lines == 1 && st->last_line_bad)
		snprintf(buf, len,
		         "%s: line %zu of %zu is truncated or corrupt (a run killed mid-write?); "
		         "read the %zu "
		         "record(s) before it",
		         name, st->first_bad_line, st->lines, st->records);
	else
		snprintf(buf, len,
		         "%s: %zu of %zu line(s) are corrupt (the first is line %zu) and were "
		         "skipped; read "
		         "%zu record(s)",
		         name, st->bad_lines, st->lines, st->first_bad_line, st->records);
}

json_t *strata_manifest_load(const char *path, char *err, size_t err_len)
{
	if (access(path, F_OK) != 0) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return NULL;
	}
	json_error_t je;
	json_t *m = json_load_file(path, 0, &je);
	if (!m) {
		snprintf(err, err_len, "%s:%d:%d: %s", path, je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(m)) {
		snprintf(err, err_len, "%s:1:1: not a JSON object", path);
		json_decref(m);
		return NULL;
	}
	return m;
}
