/* params.c: parsing, validation and canonical formatting of suite parameters. */
#include "harness/params.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/suite.h"

const char *strata_ptype_name(enum strata_ptype t)
{
	switch (t) {
	case STRATA_PT_INT: return "int";
	case STRATA_PT_SIZE: return "size";
	case STRATA_PT_DOUBLE: return "float";
	case STRATA_PT_BOOL: return "bool";
	case STRATA_PT_STRING: return "string";
	case STRATA_PT_ENUM: return "enum";
	}
	return "?";
}

/* Binary multipliers, as nccl-tests' parsesize() uses (K = 1024). */
static int size_suffix(const char *suf, int64_t *mult)
{
	static const struct { const char *s; int64_t m; } rows[] = {
		{ "", 1 }, { "B", 1 },
		{ "K", 1LL << 10 }, { "KiB", 1LL << 10 },
		{ "M", 1LL << 20 }, { "MiB", 1LL << 20 },
		{ "G", 1LL << 30 }, { "GiB", 1LL << 30 },
		{ "T", 1LL << 40 }, { "TiB", 1LL << 40 },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (strcmp(suf, rows[i].s) == 0) {
			*mult = rows[i].m;
			return 0;
		}
	}
	return -1;
}

int strata_parse_size(const char *text, int64_t *out, char *err, size_t err_len)
{
	const char *p = text;
	while (isspace((unsigned char)*p))
		p++;
	if (!isdigit((unsigned char)*p)) {
		snprintf(err, err_len, "'%s' is not a size (write e.g. 8, 64K, 256MiB, 1G)", text);
		return -1;
	}
	errno = 0;
	char *end;
	unsigned long long n = strtoull(p, &end, 10);
	if (errno == ERANGE) {
		snprintf(err, err_len, "size '%s' is too large", text);
		return -1;
	}
	char suf[8];
	size_t len = strlen(end);
	while (len > 0 && isspace((unsigned char)end[len - 1]))
		len--;
	if (len >= sizeof(suf)) {
		snprintf(err, err_len, "'%s' has an unknown size suffix", text);
		return -1;
	}
	memcpy(suf, end, len);
	suf[len] = '\0';
	int64_t mult;
	if (size_suffix(suf, &mult) != 0) {
		if (strcmp(suf, "KB") == 0 || strcmp(suf, "MB") == 0 || strcmp(suf, "GB") == 0 ||
		    strcmp(suf, "TB") == 0)
			snprintf(err, err_len,
				 "'%s': suffix %s is ambiguous; write %c or %ciB (powers of 1024, as nccl-tests)",
				 text, suf, suf[0], suf[0]);
		else
			snprintf(err, err_len, "'%s' has unknown size suffix '%s' (use B, K, M, G, T or KiB, MiB, GiB, TiB)",
				 text, suf);
		return -1;
	}
	if (n > (unsigned long long)(INT64_MAX / mult)) {
		snprintf(err, err_len, "size '%s' is too large", text);
		return -1;
	}
	*out = (int64_t)n * mult;
	return 0;
}

static int parse_int(const char *text, int64_t *out)
{
	errno = 0;
	char *end;
	long long v = strtoll(text, &end, 10);
	if (errno || end == text || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *text, double *out)
{
	errno = 0;
	char *end;
	double v = strtod(text, &end);
	if (errno || end == text || *end != '\0' || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

/* Index of text among "a|b|c", or -1. */
static int choice_index(const char *choices, const char *text)
{
	int idx = 0;
	size_t tl = strlen(text);
	for (const char *p = choices; *p;) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		if (n == tl && strncmp(p, text, n) == 0)
			return idx;
		idx++;
		if (!bar)
			break;
		p = bar + 1;
	}
	return -1;
}

static int check_range(const struct strata_param_def *def, double v, const char *text,
		       char *err, size_t err_len)
{
	if (def->min > def->max)
		return 0;
	if (v < def->min || v > def->max) {
		snprintf(err, err_len, "%s = %s is out of range [%.17g, %.17g]", def->name, text,
			 def->min, def->max);
		return -1;
	}
	return 0;
}

int strata_value_parse(const struct strata_param_def *def, const char *text,
		       struct strata_value *out, char *err, size_t err_len)
{
	memset(out, 0, sizeof(*out));
	switch (def->type) {
	case STRATA_PT_INT:
		if (parse_int(text, &out->i) != 0) {
			snprintf(err, err_len, "%s expects an integer, got '%s'", def->name, text);
			return -1;
		}
		return check_range(def, (double)out->i, text, err, err_len);
	case STRATA_PT_SIZE: {
		char why[160];
		if (strata_parse_size(text, &out->i, why, sizeof(why)) != 0) {
			snprintf(err, err_len, "%s: %s", def->name, why);
			return -1;
		}
		return check_range(def, (double)out->i, text, err, err_len);
	}
	case STRATA_PT_DOUBLE:
		if (parse_double(text, &out->d) != 0) {
			snprintf(err, err_len, "%s expects a number, got '%s'", def->name, text);
			return -1;
		}
		return check_range(def, out->d, text, err, err_len);
	case STRATA_PT_BOOL:
		if (strcmp(text, "true") == 0 || strcmp(text, "yes") == 0 || strcmp(text, "on") == 0)
			out->i = 1;
		else if (strcmp(text, "false") == 0 || strcmp(text, "no") == 0 || strcmp(text, "off") == 0)
			out->i = 0;
		else {
			snprintf(err, err_len, "%s expects true or false, got '%s'", def->name, text);
			return -1;
		}
		return 0;
	case STRATA_PT_STRING:
		if (strlen(text) >= sizeof(out->s)) {
			snprintf(err, err_len, "%s is longer than %zu characters", def->name,
				 sizeof(out->s) - 1);
			return -1;
		}
		strcpy(out->s, text);
		return 0;
	case STRATA_PT_ENUM: {
		int idx = choice_index(def->choices, text);
		if (idx < 0) {
			snprintf(err, err_len, "%s must be one of %s, got '%s'", def->name,
				 def->choices, text);
			return -1;
		}
		out->i = idx;
		snprintf(out->s, sizeof(out->s), "%s", text);
		return 0;
	}
	}
	snprintf(err, err_len, "%s has an unknown type", def->name);
	return -1;
}

void strata_value_format(const struct strata_param_def *def, const struct strata_value *v,
			 char *buf, size_t len)
{
	switch (def->type) {
	case STRATA_PT_INT:
	case STRATA_PT_SIZE:
		snprintf(buf, len, "%lld", (long long)v->i);
		return;
	case STRATA_PT_DOUBLE:
		/* The fewest digits that read back as the same double (0.9, not
		 * 0.90000000000000002; labels and keys stay exact), without an
		 * exponent between 1e-4 and 1e15 (1000, not 1e+03). */
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, len, "%.*g", prec, v->d);
			if (strtod(buf, NULL) == v->d) {
				double a = fabs(v->d);
				int digits = a >= 1 && a < 1e15 ? (int)floor(log10(a)) + 1 : 0;
				if (digits > prec)
					snprintf(buf, len, "%.*g", digits, v->d);
				break;
			}
		}
		return;
	case STRATA_PT_BOOL:
		snprintf(buf, len, "%s", v->i ? "true" : "false");
		return;
	case STRATA_PT_STRING:
	case STRATA_PT_ENUM:
		snprintf(buf, len, "%s", v->s);
		return;
	}
	snprintf(buf, len, "?");
}

int strata_param_index(const struct strata_suite *s, const char *name)
{
	for (size_t i = 0; i < s->n_params; i++)
		if (strcmp(s->params[i].name, name) == 0)
			return (int)i;
	return -1;
}

static const struct strata_value *lookup(const struct strata_params *p, const char *name,
					 enum strata_ptype *type)
{
	int i = strata_param_index(p->suite, name);
	if (i < 0) {
		fprintf(stderr, "strata: internal error: suite %s has no parameter '%s'\n",
			p->suite->name, name);
		abort();
	}
	*type = p->suite->params[i].type;
	return &p->v[i];
}

int64_t strata_params_int(const struct strata_params *p, const char *name)
{
	enum strata_ptype t;
	const struct strata_value *v = lookup(p, name, &t);
	return t == STRATA_PT_DOUBLE ? (int64_t)v->d : v->i;
}

double strata_params_double(const struct strata_params *p, const char *name)
{
	enum strata_ptype t;
	const struct strata_value *v = lookup(p, name, &t);
	return t == STRATA_PT_DOUBLE ? v->d : (double)v->i;
}

const char *strata_params_str(const struct strata_params *p, const char *name)
{
	enum strata_ptype t;
	const struct strata_value *v = lookup(p, name, &t);
	return v->s;
}
