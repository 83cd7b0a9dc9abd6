/* ydoc.h: a YAML file loaded with libyaml's node API for the reporters'
 * input files (thresholds, peaks), so every error names file:line:column
 * and the key, as harness/plan.c does for plans.  Not a general YAML
 * binding: scalars, mappings and sequences, read by small helpers. */
#ifndef STRATA_YDOC_H
#define STRATA_YDOC_H

#include <stddef.h>

#include <yaml.h>

struct strata_ydoc {
	yaml_document_t doc;
	int loaded;
	const char *source; /* file name used in messages */
	char *err;
	size_t err_len;
};

/* Load path.  Returns 0, or -1 with "file:line:column: ..." in err. */
int strata_ydoc_load(struct strata_ydoc *y, const char *path, char *err, size_t err_len);
void strata_ydoc_release(struct strata_ydoc *y);

yaml_node_t *strata_ydoc_root(struct strata_ydoc *y);
yaml_node_t *strata_ydoc_node(struct strata_ydoc *y, int id);
/* The text of a scalar node, or NULL for any other node. */
const char *strata_ydoc_scalar(const yaml_node_t *n);

/* Write "file:line:column: message" for node (or "file: message") into the
 * error buffer; returns -1. */
int strata_ydoc_error(struct strata_ydoc *y, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A scalar as a finite number (plain decimal or exponent form), or -1 with an
 * error naming key. */
int strata_ydoc_number(struct strata_ydoc *y, const yaml_node_t *n, const char *key, double *out);

/* Iterate the pairs of a mapping node: for (p = ...start; p < ...top; p++). */
#define STRATA_YDOC_PAIRS(node)                                                                    \
	yaml_node_pair_t *p_ = (node)->data.mapping.pairs.start;                                   \
	p_ < (node)->data.mapping.pairs.top;                                                       \
	p_++

#endif
