/* plan.c: YAML plan -> validated, expanded case list.
 *
 * The document is loaded with libyaml's node API so that every node keeps its
 * start mark; every error therefore names file:line:column.  Parameter
 * defaults are written in the same plan syntax and parsed by the same code,
 * so a default can sweep exactly as a plan value can.
 */
#include "harness/plan.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "harness/suite.h"
#include "harness/topo.h"

#define MAX_VALUES_PER_PARAM 4096

struct vlist {
	struct strata_value *v;
	size_t n;
};

struct ctx {
	yaml_document_t *doc;
	const char *source;
	char *err;
	size_t err_len;
};

static int errat(struct ctx *x, const yaml_node_t *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int errat(struct ctx *x, const yaml_node_t *node, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (node)
		snprintf(x->err, x->err_len, "%s:%zu:%zu: %s", x->source,
			 (size_t)node->start_mark.line + 1, (size_t)node->start_mark.column + 1, msg);
	else
		snprintf(x->err, x->err_len, "%s: %s", x->source, msg);
	return -1;
}

struct strata_run_settings strata_run_settings_default(void)
{
	return (struct strata_run_settings){
		.warmup_iterations = 2,
		.warmup_seconds = 0,
		.repetitions = 10,
		.min_seconds = 0,
		.max_repetitions = 1000000,
		.timeout_s = 600,
		.variants_interleaved = 1,
		.variant_block = 5,
		.binding = STRATA_BIND_NONE,
		.trace_enabled = 0,
		.trace_max_repetitions = 20,
		.perf_counters = 1,
	};
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *node(struct ctx *x, int id)
{
	return yaml_document_get_node(x->doc, id);
}

static int vlist_push(struct vlist *l, const struct strata_value *v)
{
	if (l->n >= MAX_VALUES_PER_PARAM)
		return -1;
	struct strata_value *nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv)
		return -1;
	l->v = nv;
	l->v[l->n++] = *v;
	return 0;
}

static int parse_scalar_value(struct ctx *x, const yaml_node_t *n,
			      const struct strata_param_def *def, struct strata_value *out)
{
	const char *text = scalar(n);
	if (!text)
		return errat(x, n, "%s: expected a single value here", def->name);
	char why[512];
	if (strata_value_parse(def, text, out, why, sizeof(why)) != 0)
		return errat(x, n, "%s", why);
	return 0;
}

static double value_as_double(const struct strata_param_def *def, const struct strata_value *v)
{
	return def->type == STRATA_PT_DOUBLE ? v->d : (double)v->i;
}

/* {from: X, to: Y, factor: F} or {from: X, to: Y, step: D}, inclusive. */
static int expand_range(struct ctx *x, yaml_node_t *map, const struct strata_param_def *def,
			struct vlist *out)
{
	if (def->type != STRATA_PT_INT && def->type != STRATA_PT_SIZE &&
	    def->type != STRATA_PT_DOUBLE)
		return errat(x, map, "%s: a {from, to, factor|step} range needs a numeric parameter (%s is %s)",
			     def->name, def->name, strata_ptype_name(def->type));
	struct strata_value from, to, step;
	int have_from = 0, have_to = 0, have_step = 0, have_factor = 0;
	double factor = 0;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(x, p->key), *v = node(x, p->value);
		const char *key = scalar(k);
		if (!key)
			return errat(x, k, "%s: range keys must be plain words", def->name);
		if (strcmp(key, "from") == 0) {
			if (parse_scalar_value(x, v, def, &from))
				return -1;
			have_from = 1;
		} else if (strcmp(key, "to") == 0) {
			if (parse_scalar_value(x, v, def, &to))
				return -1;
			have_to = 1;
		} else if (strcmp(key, "step") == 0) {
			struct strata_param_def unbounded = *def;
			unbounded.min = 1;
			unbounded.max = 0;
			if (parse_scalar_value(x, v, &unbounded, &step))
				return -1;
			if (value_as_double(def, &step) <= 0)
				return errat(x, v, "%s: step must be > 0", def->name);
			have_step = 1;
		} else if (strcmp(key, "factor") == 0) {
			const char *t = scalar(v);
			char *end;
			errno = 0;
			factor = t ? strtod(t, &end) : 0;
			if (!t || errno || *end || !(factor > 1.0) || !isfinite(factor))
				return errat(x, v, "%s: factor must be a number > 1", def->name);
			have_factor = 1;
		} else {
			return errat(x, k, "%s: unknown key '%s' in a range (use from, to, and factor or step)",
				     def->name, key);
		}
	}
	if (!have_from || !have_to)
		return errat(x, map, "%s: a range needs both 'from' and 'to'", def->name);
	if (have_step == have_factor)
		return errat(x, map, "%s: a range needs exactly one of 'factor' or 'step'", def->name);
	double a = value_as_double(def, &from), b = value_as_double(def, &to);
	if (b < a)
		return errat(x, map, "%s: range 'to' is smaller than 'from'", def->name);
	if (have_factor && a <= 0)
		return errat(x, map, "%s: a geometric range needs 'from' > 0", def->name);
	for (double cur = a; cur <= b * (1 + 1e-12);) {
		struct strata_value v = { 0 };
		if (def->type == STRATA_PT_DOUBLE)
			v.d = cur;
		else
			v.i = (int64_t)llround(cur);
		if (vlist_push(out, &v) != 0)
			return errat(x, map, "%s: range gives more than %d values", def->name,
				     MAX_VALUES_PER_PARAM);
		double next = have_factor ? cur * factor : cur + value_as_double(def, &step);
		if (def->type != STRATA_PT_DOUBLE && llround(next) == llround(cur))
			next = cur + 1; /* integer ranges always advance */
		cur = next;
	}
	return 0;
}

/* A plan value: scalar, list of scalars, or range mapping. */
static int node_values(struct ctx *x, yaml_node_t *n, const struct strata_param_def *def,
		       struct vlist *out)
{
	struct strata_value v;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		if (parse_scalar_value(x, n, def, &v) || vlist_push(out, &v))
			return -1;
		return 0;
	case YAML_SEQUENCE_NODE:
		if (n->data.sequence.items.start == n->data.sequence.items.top)
			return errat(x, n, "%s: empty list", def->name);
		for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
			yaml_node_t *item = node(x, *it);
			if (parse_scalar_value(x, item, def, &v))
				return -1;
			if (vlist_push(out, &v))
				return errat(x, item, "%s: more than %d values", def->name, MAX_VALUES_PER_PARAM);
		}
		return 0;
	case YAML_MAPPING_NODE:
		return expand_range(x, n, def, out);
	default:
		return errat(x, n, "%s: unsupported value", def->name);
	}
}

/* Parse the default of a parameter, written in plan syntax. */
static int default_values(const struct strata_suite *s, const struct strata_param_def *def,
			  struct vlist *out, char *err, size_t err_len)
{
	char source[160];
	snprintf(source, sizeof(source), "<default of %s.%s>", s->name, def->name);
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_parser_initialize(&parser);
	const char *text = def->def ? def->def : "";
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
	int rc = -1;
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, err_len, "%s: not valid YAML: %s", source, parser.problem);
		yaml_parser_delete(&parser);
		return -1;
	}
	struct ctx x = { .doc = &doc, .source = source, .err = err, .err_len = err_len };
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root)
		snprintf(err, err_len, "%s: empty default", source);
	else
		rc = node_values(&x, root, def, out);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

static int get_int(struct ctx *x, yaml_node_t *n, const char *what, int64_t min, int64_t *out)
{
	const char *t = scalar(n);
	char *end;
	errno = 0;
	long long v = t ? strtoll(t, &end, 10) : 0;
	if (!t || errno || end == t || *end)
		return errat(x, n, "%s expects an integer", what);
	if (v < min)
		return errat(x, n, "%s must be >= %lld", what, (long long)min);
	*out = v;
	return 0;
}

static int get_double(struct ctx *x, yaml_node_t *n, const char *what, double *out)
{
	const char *t = scalar(n);
	char *end;
	errno = 0;
	double v = t ? strtod(t, &end) : 0;
	if (!t || errno || end == t || *end || !isfinite(v))
		return errat(x, n, "%s expects a number", what);
	if (v < 0)
		return errat(x, n, "%s must be >= 0", what);
	*out = v;
	return 0;
}

static int get_bool(struct ctx *x, yaml_node_t *n, const char *what, int *out)
{
	const char *t = scalar(n);
	if (t && (!strcmp(t, "true") || !strcmp(t, "yes") || !strcmp(t, "on")))
		*out = 1;
	else if (t && (!strcmp(t, "false") || !strcmp(t, "no") || !strcmp(t, "off")))
		*out = 0;
	else
		return errat(x, n, "%s expects true or false", what);
	return 0;
}

/* Iterate the pairs of a mapping node: K (key node), V (value node) and KEY
 * (key text, NULL when the key is not a scalar). */
#define FOR_PAIRS(x, map, K, V, KEY)                                                           \
	for (yaml_node_pair_t *p_ = (map)->data.mapping.pairs.start;                           \
	     p_ < (map)->data.mapping.pairs.top &&                                             \
	     ((K) = node((x), p_->key), (V) = node((x), p_->value), (KEY) = scalar(K)) != (void *)1; \
	     p_++)

static int expect_map(struct ctx *x, yaml_node_t *n, const char *what)
{
	if (!n || n->type != YAML_MAPPING_NODE)
		return errat(x, n, "%s must be a mapping (key: value lines)", what);
	/* YAML forbids a key twice in one mapping; libyaml does not check, and
	 * the second would silently win. */
	for (yaml_node_pair_t *a = n->data.mapping.pairs.start; a < n->data.mapping.pairs.top; a++) {
		yaml_node_t *ka = node(x, a->key);
		const char *sa = scalar(ka);
		for (yaml_node_pair_t *b = a + 1; sa && b < n->data.mapping.pairs.top; b++) {
			yaml_node_t *kb = node(x, b->key);
			const char *sb = scalar(kb);
			if (sb && !strcmp(sa, sb))
				return errat(x, kb, "%s: key '%s' given twice (first at line %zu)", what, sb,
					     (size_t)ka->start_mark.line + 1);
		}
	}
	return 0;
}

static int parse_run(struct ctx *x, yaml_node_t *map, struct strata_run_settings *rs)
{
	yaml_node_t *k, *v;
	const char *key;
	if (expect_map(x, map, "run"))
		return -1;
	FOR_PAIRS(x, map, k, v, key) {
		if (!key)
			return errat(x, k, "run: keys must be plain words");
		if (!strcmp(key, "warmup")) {
			yaml_node_t *k2, *v2;
			const char *key2;
			if (expect_map(x, v, "run.warmup"))
				return -1;
			FOR_PAIRS(x, v, k2, v2, key2) {
				if (key2 && !strcmp(key2, "iterations")) {
					if (get_int(x, v2, "run.warmup.iterations", 0, &rs->warmup_iterations))
						return -1;
				} else if (key2 && !strcmp(key2, "seconds")) {
					if (get_double(x, v2, "run.warmup.seconds", &rs->warmup_seconds))
						return -1;
				} else {
					return errat(x, k2, "run.warmup: unknown key '%s' (known: iterations, seconds)",
						     key2 ? key2 : "?");
				}
			}
		} else if (!strcmp(key, "repetitions")) {
			yaml_node_t *k2, *v2;
			const char *key2;
			if (expect_map(x, v, "run.repetitions"))
				return -1;
			FOR_PAIRS(x, v, k2, v2, key2) {
				if (key2 && !strcmp(key2, "count")) {
					if (get_int(x, v2, "run.repetitions.count", 1, &rs->repetitions))
						return -1;
				} else if (key2 && !strcmp(key2, "min_seconds")) {
					if (get_double(x, v2, "run.repetitions.min_seconds", &rs->min_seconds))
						return -1;
				} else if (key2 && !strcmp(key2, "max_count")) {
					if (get_int(x, v2, "run.repetitions.max_count", 1, &rs->max_repetitions))
						return -1;
				} else {
					return errat(x, k2,
						     "run.repetitions: unknown key '%s' (known: count, min_seconds, max_count)",
						     key2 ? key2 : "?");
				}
			}
		} else if (!strcmp(key, "variants")) {
			yaml_node_t *k2, *v2;
			const char *key2;
			if (expect_map(x, v, "run.variants"))
				return -1;
			FOR_PAIRS(x, v, k2, v2, key2) {
				if (key2 && !strcmp(key2, "order")) {
					const char *o = scalar(v2);
					if (o && !strcmp(o, "interleaved"))
						rs->variants_interleaved = 1;
					else if (o && !strcmp(o, "sequential"))
						rs->variants_interleaved = 0;
					else
						return errat(x, v2, "run.variants.order must be interleaved or sequential");
				} else if (key2 && !strcmp(key2, "block")) {
					if (get_int(x, v2, "run.variants.block", 1, &rs->variant_block))
						return -1;
				} else {
					return errat(x, k2, "run.variants: unknown key '%s' (known: order, block)",
						     key2 ? key2 : "?");
				}
			}
		} else if (!strcmp(key, "timeout_s")) {
			if (get_double(x, v, "run.timeout_s", &rs->timeout_s))
				return -1;
			if (rs->timeout_s <= 0)
				return errat(x, v, "run.timeout_s must be > 0");
		} else if (!strcmp(key, "binding")) {
			enum strata_bind_policy bp;
			if (strata_bind_policy_parse(scalar(v), &bp) != 0)
				return errat(x, v, "run.binding must be none, core, numa or gpu-local");
			rs->binding = (int)bp;
		} else if (!strcmp(key, "trace")) {
			yaml_node_t *k2, *v2;
			const char *key2;
			if (expect_map(x, v, "run.trace"))
				return -1;
			FOR_PAIRS(x, v, k2, v2, key2) {
				if (key2 && !strcmp(key2, "enabled")) {
					if (get_bool(x, v2, "run.trace.enabled", &rs->trace_enabled))
						return -1;
				} else if (key2 && !strcmp(key2, "max_repetitions")) {
					if (get_int(x, v2, "run.trace.max_repetitions", 1, &rs->trace_max_repetitions))
						return -1;
				} else {
					return errat(x, k2, "run.trace: unknown key '%s' (known: enabled, max_repetitions)",
						     key2 ? key2 : "?");
				}
			}
		} else if (!strcmp(key, "perf_counters")) {
			if (get_bool(x, v, "run.perf_counters", &rs->perf_counters))
				return -1;
		} else {
			return errat(x, k, "run: unknown key '%s' (known: warmup, repetitions, timeout_s, variants, "
				     "binding, trace, perf_counters)",
				     key);
		}
	}
	if (rs->max_repetitions < rs->repetitions)
		return errat(x, map, "run.repetitions.max_count (%lld) is below count (%lld)",
			     (long long)rs->max_repetitions, (long long)rs->repetitions);
	return 0;
}

static void known_params(const struct strata_suite *s, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < s->n_params && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "", s->params[i].name);
}

static int push_case(struct strata_plan *plan, const struct strata_case_spec *c)
{
	struct strata_case_spec *nc = realloc(plan->cases, (plan->n_cases + 1) * sizeof(*nc));
	if (!nc)
		return -1;
	plan->cases = nc;
	plan->cases[plan->n_cases++] = *c;
	return 0;
}

static int parse_case(struct ctx *x, yaml_node_t *map, struct strata_plan *plan)
{
	yaml_node_t *k, *v;
	const char *key;
	if (expect_map(x, map, "each entry of cases"))
		return -1;
	const struct strata_suite *suite = NULL;
	FOR_PAIRS(x, map, k, v, key) {
		if (key && !strcmp(key, "suite")) {
			const char *name = scalar(v);
			suite = name ? strata_suite_find(name) : NULL;
			if (!suite)
				return errat(x, v, "suite: unknown suite '%s' (see `strata list`)",
					     name ? name : "?");
		}
	}
	if (!suite)
		return errat(x, map, "case has no 'suite' key");

	struct strata_case_spec base = { .suite = suite, .run = plan->run,
					 .line = (int)map->start_mark.line + 1 };
	base.params.suite = suite;
	struct vlist lists[STRATA_MAX_PARAMS] = { { 0 } };
	int given[STRATA_MAX_PARAMS] = { 0 };
	int rc = -1;

	FOR_PAIRS(x, map, k, v, key) {
		if (!key) {
			errat(x, k, "case keys must be plain words");
			goto out;
		}
		if (!strcmp(key, "suite"))
			continue;
		if (!strcmp(key, "run")) {
			if (parse_run(x, v, &base.run))
				goto out;
			continue;
		}
		if (!strcmp(key, "required")) {
			if (get_bool(x, v, "required", &base.required))
				goto out;
			continue;
		}
		int idx = strata_param_index(suite, key);
		if (idx < 0) {
			char known[1024];
			known_params(suite, known, sizeof(known));
			errat(x, k, "unknown key '%s' for suite %s (known: %s, run, required)", key,
			      suite->name, known);
			goto out;
		}
		if (given[idx]) {
			errat(x, k, "key '%s' given twice", key);
			goto out;
		}
		given[idx] = 1;
		if (node_values(x, v, &suite->params[idx], &lists[idx]))
			goto out;
	}
	for (size_t i = 0; i < suite->n_params; i++) {
		if (given[i])
			continue;
		if (default_values(suite, &suite->params[i], &lists[i], x->err, x->err_len))
			goto out;
	}

	/* Cartesian product, last parameter fastest. */
	size_t total = 1;
	for (size_t i = 0; i < suite->n_params; i++) {
		total *= lists[i].n;
		if (total + plan->n_cases > STRATA_PLAN_MAX_CASES) {
			errat(x, map, "case expands to more than %d cases", STRATA_PLAN_MAX_CASES);
			goto out;
		}
	}
	size_t pos[STRATA_MAX_PARAMS] = { 0 };
	for (size_t done = 0; done < total; done++) {
		struct strata_case_spec c = base;
		for (size_t i = 0; i < suite->n_params; i++)
			c.params.v[i] = lists[i].v[pos[i]];
		if (push_case(plan, &c)) {
			errat(x, map, "out of memory");
			goto out;
		}
		for (size_t i = suite->n_params; i-- > 0;) {
			if (++pos[i] < lists[i].n)
				break;
			pos[i] = 0;
		}
	}
	rc = 0;
out:
	for (size_t i = 0; i < STRATA_MAX_PARAMS; i++)
		free(lists[i].v);
	return rc;
}

static int valid_env_name(const char *s)
{
	if (!s || !(isalpha((unsigned char)*s) || *s == '_'))
		return 0;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_'))
			return 0;
	return 1;
}

static int valid_label(const char *s)
{
	if (!s || !*s || strlen(s) >= 64)
		return 0;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

/* A variant's parameter overrides: each must be a parameter of at least one
 * suite in the plan and a valid value for every such suite. */
static int parse_variant_params(struct ctx *x, yaml_node_t *map, const struct strata_plan *plan,
				struct strata_variant *var)
{
	yaml_node_t *k, *v;
	const char *key;
	if (expect_map(x, map, "variants.params"))
		return -1;
	FOR_PAIRS(x, map, k, v, key) {
		const char *val = scalar(v);
		if (!key || !val)
			return errat(x, v, "variants.params: each entry is 'parameter: single value'");
		int used = 0;
		for (size_t i = 0; i < plan->n_cases; i++) {
			int idx = strata_param_index(plan->cases[i].suite, key);
			if (idx < 0)
				continue;
			used = 1;
			struct strata_value tmp;
			char why[512];
			if (strata_value_parse(&plan->cases[i].suite->params[idx], val, &tmp, why, sizeof(why)))
				return errat(x, v, "variants.params: %s (suite %s)", why,
					     plan->cases[i].suite->name);
		}
		if (!used)
			return errat(x, k, "variants.params: no suite in this plan has a parameter '%s'", key);
		struct strata_env_kv *np = realloc(var->params, (var->n_params + 1) * sizeof(*np));
		if (!np)
			return errat(x, v, "out of memory");
		var->params = np;
		var->params[var->n_params].name = strdup(key);
		var->params[var->n_params].value = strdup(val);
		var->n_params++;
	}
	return 0;
}

void strata_variant_params(const struct strata_variant *v, const struct strata_case_spec *c,
			   struct strata_params *out)
{
	*out = c->params;
	for (size_t i = 0; i < v->n_params; i++) {
		int idx = strata_param_index(c->suite, v->params[i].name);
		char why[512];
		struct strata_value tmp;
		if (idx >= 0 &&
		    strata_value_parse(&c->suite->params[idx], v->params[i].value, &tmp, why, sizeof(why)) == 0)
			out->v[idx] = tmp;
	}
}

static int parse_variants(struct ctx *x, yaml_node_t *seq, struct strata_plan *plan)
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE || seq->data.sequence.items.start == seq->data.sequence.items.top)
		return errat(x, seq, "variants must be a non-empty list");
	for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *map = node(x, *it), *k, *v;
		const char *key;
		if (expect_map(x, map, "each variant"))
			return -1;
		struct strata_variant var;
		memset(&var, 0, sizeof(var));
		struct strata_variant *nv = realloc(plan->variants, (plan->n_variants + 1) * sizeof(*nv));
		if (!nv)
			return errat(x, map, "out of memory");
		plan->variants = nv;
		plan->variants[plan->n_variants++] = var;
		struct strata_variant *cur = &plan->variants[plan->n_variants - 1];
		FOR_PAIRS(x, map, k, v, key) {
			if (key && !strcmp(key, "label")) {
				const char *l = scalar(v);
				if (!valid_label(l))
					return errat(x, v, "variants.label must be 1-63 characters of [A-Za-z0-9_.-]");
				for (size_t i = 0; i + 1 < plan->n_variants; i++)
					if (!strcmp(plan->variants[i].label, l))
						return errat(x, v, "variants.label '%s' is used twice", l);
				snprintf(cur->label, sizeof(cur->label), "%s", l);
			} else if (key && !strcmp(key, "env")) {
				yaml_node_t *k2, *v2;
				const char *key2;
				if (expect_map(x, v, "variants.env"))
					return -1;
				FOR_PAIRS(x, v, k2, v2, key2) {
					if (!valid_env_name(key2))
						return errat(x, k2, "variants.env: '%s' is not a variable name", key2 ? key2 : "?");
					const char *val = scalar(v2);
					if (!val)
						return errat(x, v2, "variants.env.%s must be a single value", key2);
					struct strata_env_kv *ne = realloc(cur->env, (cur->n_env + 1) * sizeof(*ne));
					if (!ne)
						return errat(x, v2, "out of memory");
					cur->env = ne;
					cur->env[cur->n_env].name = strdup(key2);
					cur->env[cur->n_env].value = strdup(val);
					cur->n_env++;
				}
			} else if (key && !strcmp(key, "params")) {
				if (parse_variant_params(x, v, plan, cur))
					return -1;
			} else {
				return errat(x, k, "variants: unknown key '%s' (known: label, env, params)",
					     key ? key : "?");
			}
		}
		if (!cur->label[0])
			return errat(x, map, "each variant needs a label");
	}
	return 0;
}

int strata_plan_parse(const char *text, size_t len, const char *source, struct strata_plan *plan,
		      char *err, size_t err_len)
{
	memset(plan, 0, sizeof(*plan));
	plan->source = strdup(source);
	plan->run = strata_run_settings_default();
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, err_len, "%s:%zu:%zu: YAML syntax error: %s%s%s", source,
			 (size_t)parser.problem_mark.line + 1, (size_t)parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "unknown",
			 parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		strata_plan_release(plan);
		return -1;
	}
	struct ctx x = { .doc = &doc, .source = source, .err = err, .err_len = err_len };
	int rc = -1;
	yaml_node_t *root = yaml_document_get_root_node(&doc), *k, *v, *cases = NULL, *run = NULL,
		    *variants = NULL;
	const char *key;
	if (!root) {
		snprintf(err, err_len, "%s:1:1: empty plan (no YAML document)", source);
		goto out;
	}
	if (expect_map(&x, root, "a plan"))
		goto out;
	FOR_PAIRS(&x, root, k, v, key) {
		if (key && !strcmp(key, "name")) {
			if (!scalar(v) || !*scalar(v)) {
				errat(&x, v, "name must be a non-empty text");
				goto out;
			}
			plan->name = strdup(scalar(v));
		} else if (key && !strcmp(key, "description")) {
			if (!scalar(v)) {
				errat(&x, v, "description must be text");
				goto out;
			}
			plan->description = strdup(scalar(v));
		} else if (key && !strcmp(key, "run")) {
			run = v;
		} else if (key && !strcmp(key, "cases")) {
			cases = v;
		} else if (key && !strcmp(key, "variants")) {
			variants = v;
		} else {
			errat(&x, k, "unknown top-level key '%s' (known: name, description, run, cases, variants)",
			      key ? key : "?");
			goto out;
		}
	}
	if (!plan->name) {
		errat(&x, root, "plan has no 'name'");
		goto out;
	}
	if (run && parse_run(&x, run, &plan->run))
		goto out;
	if (!cases) {
		errat(&x, root, "plan has no 'cases'");
		goto out;
	}
	if (cases->type != YAML_SEQUENCE_NODE || cases->data.sequence.items.start == cases->data.sequence.items.top) {
		errat(&x, cases, "cases must be a non-empty list");
		goto out;
	}
	for (yaml_node_item_t *it = cases->data.sequence.items.start; it < cases->data.sequence.items.top; it++)
		if (parse_case(&x, node(&x, *it), plan))
			goto out;
	if (variants) {
		if (parse_variants(&x, variants, plan))
			goto out;
	} else {
		plan->variants = calloc(1, sizeof(*plan->variants));
		if (!plan->variants) {
			errat(&x, root, "out of memory");
			goto out;
		}
		snprintf(plan->variants[0].label, sizeof(plan->variants[0].label), "default");
		plan->n_variants = 1;
	}
	rc = 0;
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc)
		strata_plan_release(plan);
	return rc;
}

int strata_read_file(const char *path, char **text, size_t *len, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (n + 1 < cap)
			break;
		if (cap > (64u << 20)) {
			snprintf(err, err_len, "%s: larger than 64 MiB", path);
			free(buf);
			fclose(f);
			return -1;
		}
		char *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	int bad = ferror(f);
	fclose(f);
	if (!buf || bad) {
		snprintf(err, err_len, "%s: cannot read", path);
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

void strata_plan_release(struct strata_plan *plan)
{
	free(plan->source);
	free(plan->name);
	free(plan->description);
	free(plan->cases);
	for (size_t i = 0; i < plan->n_variants; i++) {
		for (size_t j = 0; j < plan->variants[i].n_env; j++) {
			free(plan->variants[i].env[j].name);
			free(plan->variants[i].env[j].value);
		}
		free(plan->variants[i].env);
		for (size_t j = 0; j < plan->variants[i].n_params; j++) {
			free(plan->variants[i].params[j].name);
			free(plan->variants[i].params[j].value);
		}
		free(plan->variants[i].params);
	}
	free(plan->variants);
	memset(plan, 0, sizeof(*plan));
}

json_t *strata_params_to_json(const struct strata_params *p)
{
	json_t *o = json_object();
	for (size_t i = 0; i < p->suite->n_params; i++) {
		const struct strata_param_def *d = &p->suite->params[i];
		const struct strata_value *v = &p->v[i];
		json_t *j;
		switch (d->type) {
		case STRATA_PT_INT:
		case STRATA_PT_SIZE:
			j = json_integer(v->i);
			break;
		case STRATA_PT_DOUBLE:
			j = json_real(v->d);
			break;
		case STRATA_PT_BOOL:
			j = json_boolean(v->i);
			break;
		default:
			j = json_string(v->s);
		}
		json_object_set_new(o, d->name, j);
	}
	return o;
}

static json_t *run_to_json(const struct strata_run_settings *r)
{
	json_t *o = json_pack("{s:{s:I,s:f},s:{s:I,s:f,s:I},s:f,s:{s:s,s:I}}", "warmup", "iterations",
			      (json_int_t)r->warmup_iterations, "seconds", r->warmup_seconds, "repetitions",
			      "count", (json_int_t)r->repetitions, "min_seconds", r->min_seconds, "max_count",
			      (json_int_t)r->max_repetitions, "timeout_s", r->timeout_s, "variants", "order",
			      r->variants_interleaved ? "interleaved" : "sequential", "block",
			      (json_int_t)r->variant_block);
	json_object_set_new(o, "binding", json_string(strata_bind_policy_name((enum strata_bind_policy)r->binding)));
	json_object_set_new(o, "trace", json_pack("{s:b,s:I}", "enabled", r->trace_enabled, "max_repetitions",
						  (json_int_t)r->trace_max_repetitions));
	json_object_set_new(o, "perf_counters", json_boolean(r->perf_counters));
	return o;
}

json_t *strata_plan_to_json(const struct strata_plan *plan)
{
	json_t *cases = json_array(), *variants = json_array();
	for (size_t i = 0; i < plan->n_cases; i++) {
		const struct strata_case_spec *c = &plan->cases[i];
		json_array_append_new(cases, json_pack("{s:s,s:o,s:o,s:b,s:i}", "suite", c->suite->name,
						       "params", strata_params_to_json(&c->params), "run",
						       run_to_json(&c->run), "required", c->required,
						       "line", c->line));
	}
	for (size_t i = 0; i < plan->n_variants; i++) {
		json_t *env = json_object();
		for (size_t j = 0; j < plan->variants[i].n_env; j++)
			json_object_set_new(env, plan->variants[i].env[j].name,
					    json_string(plan->variants[i].env[j].value));
		json_t *params = json_object();
		for (size_t j = 0; j < plan->variants[i].n_params; j++)
			json_object_set_new(params, plan->variants[i].params[j].name,
					    json_string(plan->variants[i].params[j].value));
		json_array_append_new(variants, json_pack("{s:s,s:o,s:o}", "label", plan->variants[i].label,
							  "env", env, "params", params));
	}
	return json_pack("{s:s,s:s*,s:s,s:o,s:o,s:o}", "name", plan->name, "description",
			 plan->description, "source", plan->source, "run", run_to_json(&plan->run),
			 "cases", cases, "variants", variants);
}

void strata_metric_key(const struct strata_params *p, const char *variant, char *buf, size_t len)
{
	size_t off = (size_t)snprintf(buf, len, "%s[", p->suite->name);
	for (size_t i = 0; i < p->suite->n_params && off < len; i++) {
		char val[STRATA_VALUE_STR];
		strata_value_format(&p->suite->params[i], &p->v[i], val, sizeof(val));
		off += (size_t)snprintf(buf + off, len - off, "%s%s=%s", i ? "," : "",
					p->suite->params[i].name, val);
	}
	if (off < len)
		snprintf(buf + off, len - off, "]@%s", variant);
}
