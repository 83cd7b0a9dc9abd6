/* params.h: typed suite parameters.
 *
 * Each suite declares a table of strata_param_def rows (name, type, default,
 * help, choices, range).  The same rows drive plan validation, defaults,
 * canonical formatting of metric keys and `strata list`, so the three can
 * never disagree.
 *
 * Sizes: K, M, G, T (and KiB, MiB, GiB, TiB) are powers of 1024, as in
 * nccl-tests' parsesize(); a bare number or a "B" suffix is bytes.  "KB",
 * "MB", "GB" are rejected as ambiguous.
 */
#ifndef STRATA_PARAMS_H
#define STRATA_PARAMS_H

#include <stddef.h>
#include <stdint.h>

enum strata_ptype {
	STRATA_PT_INT,    /* signed 64-bit integer */
	STRATA_PT_SIZE,   /* bytes, with K/M/G/T suffixes (1024-based) */
	STRATA_PT_DOUBLE, /* floating point */
	STRATA_PT_BOOL,   /* true/false */
	STRATA_PT_STRING, /* free text (paths) */
	STRATA_PT_ENUM,   /* one of choices, "a|b|c" */
};

struct strata_param_def {
	const char *name;
	enum strata_ptype type;
	/* Default, written as in a plan: a scalar ("0", "float"), a list
	 * ("[copy, scale, add, triad]") or a range ("{from: 8, to: 64M, factor: 2}").
	 * A list or a range default sweeps like a plan value would. */
	const char *def;
	const char *help;
	const char *choices; /* ENUM only: "float|double" */
	double min, max;     /* INT/SIZE/DOUBLE inclusive range; ignored if min > max */
};

#define STRATA_MAX_PARAMS 48
#define STRATA_VALUE_STR 256

struct strata_value {
	int64_t i;              /* INT, SIZE, BOOL (0/1), ENUM (index in choices) */
	double d;               /* DOUBLE */
	char s[STRATA_VALUE_STR]; /* STRING and ENUM text */
};

struct strata_suite;

/* One concrete parameter set: one value per row of suite->params. */
struct strata_params {
	const struct strata_suite *suite;
	struct strata_value v[STRATA_MAX_PARAMS];
};

/* Parse "64K", "256MiB", "1G", "8", "8B".  Returns 0 or -1 with a message. */
int strata_parse_size(const char *text, int64_t *out, char *err, size_t err_len);

/* Parse one scalar for def, checking type, range and choices.
 * Returns 0 or -1 with a message that names the expected form. */
int strata_value_parse(const struct strata_param_def *def, const char *text,
		       struct strata_value *out, char *err, size_t err_len);

/* Canonical text of a value ("65536" for sizes, "true", "float").  Used in
 * metric keys so two runs' records align exactly. */
void strata_value_format(const struct strata_param_def *def,
			 const struct strata_value *v, char *buf, size_t len);

/* Human name of a type, for `strata list` and error messages. */
const char *strata_ptype_name(enum strata_ptype t);

/* Index of name in the suite's table, or -1. */
int strata_param_index(const struct strata_suite *s, const char *name);

/* Typed getters by name.  Asking for a name the suite did not declare is a
 * programming error and aborts. */
int64_t strata_params_int(const struct strata_params *p, const char *name);
double strata_params_double(const struct strata_params *p, const char *name);
const char *strata_params_str(const struct strata_params *p, const char *name);

#endif
