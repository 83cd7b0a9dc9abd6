/* ydoc.c: YAML input files for the reporters (see ydoc.h). */
#include "reports/ydoc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int strata_ydoc_load(struct strata_ydoc *y, const char *path, char *err, size_t err_len)
{
	memset(y, 0, sizeof(*y));
	y->source = path;
	y->err = err;
	y->err_len = err_len;
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	yaml_parser_t parser;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	int ok = yaml_parser_load(&parser, &y->doc);
	if (!ok)
		snprintf(err, err_len, "%s:%zu:%zu: YAML syntax error: %s%s%s", path,
		         (size_t)parser.problem_mark.line + 1,
		         (size_t)parser.problem_mark.column + 1,
		         parser.problem ? parser.problem : "unknown", parser.context ? " " : "",
		         parser.context ? parser.context : "");
	yaml_parser_delete(&parser);
	fclose(f);
	if (!ok)
		return -1;
	y->loaded = 1;
	if (!yaml_document_get_root_node(&y->doc)) {
		snprintf(err, err_len, "%s:1:1: empty document", path);
		strata_ydoc_release(y);
		return -1;
	}
	return 0;
}

void strata_ydoc_release(struct strata_ydoc *y)
{
	if (y->loaded)
		yaml_document_delete(&y->doc);
	y->loaded = 0;
}

yaml_node_t *strata_ydoc_root(struct strata_ydoc *y)
{
	return yaml_document_get_root_node(&y->doc);
}

yaml_node_t *strata_ydoc_node(struct strata_ydoc *y, int id)
{
	return yaml_document_get_node(&y->doc, id);
}

const char *strata_ydoc_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

int strata_ydoc_error(struct strata_ydoc *y, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n)
		snprintf(y->err, y->err_len, "%s:%zu:%zu: %s", y->source,
		         (size_t)n->start_mark.line + 1, (size_t)n->start_mark.column + 1, msg);
	else
		snprintf(y->err, y->err_len, "%s: %s", y->source, msg);
	return -1;
}

int strata_ydoc_number(struct strata_ydoc *y, const yaml_node_t *n, const char *key, double *out)
{
	const char *t = strata_ydoc_scalar(n);
	char *end = NULL;
	errno = 0;
	double v = t ? strtod(t, &end) : 0;
	if (!t || !*t || errno || *end || !isfinite(v))
		return strata_ydoc_error(y, n, "%s: expected a number, got '%s'", key,
		                         t ? t : "(not a scalar)");
	*out = v;
	return 0;
}
