/* test_plan.c: plan parsing, sweeping, defaults and every bad-input error
 * (each must name file:line:column and the key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "harness/plan.h"
#include "harness/suite.h"

static char err[2048];

static int parse(const char *text, struct strata_plan *plan)
{
	err[0] = '\0';
	return strata_plan_parse(text, strlen(text), "plan.yaml", plan, err, sizeof(err));
}

static void test_minimal_plan_gets_defaults(void **unused)
{
	(void)unused;
	struct strata_plan plan;
	assert_int_equal(parse("name: p\ncases:\n  - suite: null\n", &plan), 0);
	assert_string_equal(plan.name, "p");
	assert_int_equal(plan.n_cases, 1);
	assert_int_equal(plan.n_variants, 1);
	assert_string_equal(plan.variants[0].label, "default");
	struct strata_run_settings d = strata_run_settings_default();
	assert_int_equal(plan.cases[0].run.repetitions, d.repetitions);
	assert_int_equal(plan.cases[0].line, 3);
	assert_string_equal(strata_params_str(&plan.cases[0].params, "fail"), "none");
	strata_plan_release(&plan);
}

static void test_lists_sweep_cartesian(void **unused)
{
	(void)unused;
	struct strata_plan plan;
	assert_int_equal(parse("name: p\ncases:\n  - suite: null\n    sleep_us: [0, 1, 2]\n"
			       "    bytes: [1K, 2K]\n", &plan), 0);
	assert_int_equal(plan.n_cases, 6);
	/* last parameter of the table (bytes) varies fastest */
	assert_int_equal(strata_params_int(&plan.cases[0].params, "bytes"), 1024);
	assert_int_equal(strata_params_int(&plan.cases[1].params, "bytes"), 2048);
	assert_true(strata_params_double(&plan.cases[2].params, "sleep_us") == 1.0);
	strata_plan_release(&plan);
}

static void test_range_factor_and_step(void **unused)
{
	(void)unused;
	struct strata_plan plan;
	assert_int_equal(parse("name: p\ncases:\n  - suite: null\n    bytes: {from: 8, to: 1K, factor: 2}\n",
			       &plan), 0);
	assert_int_equal(plan.n_cases, 8); /* 8,16,...,1024 */
	assert_int_equal(strata_params_int(&plan.cases[7].params, "bytes"), 1024);
	strata_plan_release(&plan);
	assert_int_equal(parse("name: p\ncases:\n  - suite: null\n    sleep_us: {from: 0, to: 10, step: 2.5}\n",
			       &plan), 0);
	assert_int_equal(plan.n_cases, 5);
	strata_plan_release(&plan);
}

static void test_run_overrides_and_variants(void **unused)
{
	(void)unused;
	struct strata_plan plan;
	const char *text = "name: p\n"
			   "run:\n  warmup: {iterations: 3, seconds: 0.5}\n"
			   "  repetitions: {count: 7, min_seconds: 1, max_count: 99}\n  timeout_s: 12\n"
			   "cases:\n  - suite: null\n    run: {repetitions: {count: 4}}\n    required: true\n"
			   "  - suite: null\n"
			   "variants:\n  - label: base\n  - label: tree\n    env: {NCCL_ALGO: Tree}\n";
	assert_int_equal(parse(text, &plan), 0);
	assert_int_equal(plan.cases[0].run.repetitions, 4);
	assert_int_equal(plan.cases[0].run.warmup_iterations, 3);
	assert_int_equal(plan.cases[0].required, 1);
	assert_int_equal(plan.cases[1].run.repetitions, 7);
	assert_int_equal(plan.cases[1].run.max_repetitions, 99);
	assert_true(plan.cases[1].run.timeout_s == 12.0);
	assert_int_equal(plan.n_variants, 2);
	assert_string_equal(plan.variants[1].env[0].name, "NCCL_ALGO");
	assert_string_equal(plan.variants[1].env[0].value, "Tree");
	strata_plan_release(&plan);
}

static void test_variant_params_and_order(void **unused)
{
	(void)unused;
	struct strata_plan plan;
	const char *text = "name: p\nrun: {variants: {order: sequential, block: 3}}\n"
			   "cases:\n  - {suite: null, sleep_us: 5}\n  - {suite: gemm, m: 8, n: 8, k: 8}\n"
			   "variants:\n  - label: a\n  - label: b\n    params: {sleep_us: 7, threads: 1}\n";
	assert_int_equal(parse(text, &plan), 0);
	assert_int_equal(plan.run.variants_interleaved, 0);
	assert_int_equal(plan.cases[0].run.variant_block, 3);
	struct strata_params eff;
	strata_variant_params(&plan.variants[1], &plan.cases[0], &eff);
	assert_true(strata_params_double(&eff, "sleep_us") == 7.0);
	assert_true(strata_params_double(&plan.cases[0].params, "sleep_us") == 5.0); /* untouched */
	strata_variant_params(&plan.variants[1], &plan.cases[1], &eff);
	assert_int_equal(strata_params_int(&eff, "threads"), 1);
	strata_variant_params(&plan.variants[0], &plan.cases[1], &eff);
	assert_int_equal(strata_params_int(&eff, "threads"), 0);
	strata_plan_release(&plan);
	struct strata_run_settings d = strata_run_settings_default();
	assert_int_equal(d.variants_interleaved, 1);
}

static void test_metric_key_is_canonical(void **unused)
{
	(void)unused;
	struct strata_plan a, b;
	assert_int_equal(parse("name: p\ncases:\n  - suite: null\n    bytes: 1K\n", &a), 0);
	assert_int_equal(parse("name: q\ncases:\n  - {suite: null, bytes: 1024B}\n", &b), 0);
	char ka[512], kb[512];
	strata_metric_key(&a.cases[0].params, "v", ka, sizeof(ka));
	strata_metric_key(&b.cases[0].params, "v", kb, sizeof(kb));
	assert_string_equal(ka, kb);
	assert_string_equal(ka, "null[device=cpu,sleep_us=0,fail=none,fault_rank=-1,bytes=1024,env_probe=]@v");
	strata_plan_release(&a);
	strata_plan_release(&b);
}

/* Each bad input: the plan text, and what the message must contain. */
static const struct bad {
	const char *text;
	const char *loc;
	const char *words;
} bad_inputs[] = {
	{ "name: p\ncases:\n  - suite: nosuch\n", "plan.yaml:3:12:", "unknown suite 'nosuch'" },
	{ "name: p\ncases:\n  - suite: null\n    colour: red\n", "plan.yaml:4:5:", "unknown key 'colour'" },
	{ "name: p\ncases:\n  - suite: null\n    bytes: lots\n", "plan.yaml:4:12:", "bytes" },
	{ "name: p\ncases:\n  - suite: null\n    sleep_us: -5\n", "plan.yaml:4:15:", "out of range" },
	{ "name: p\ncases:\n  - suite: null\n    fail: sometimes\n", "plan.yaml:4:11:", "must be one of" },
	{ "name: p\ncases:\n  - suite: null\n    bytes: 1GB\n", "plan.yaml:4:12:", "ambiguous" },
	{ "name: p\ncases:\n  - suite: null\n    bytes: {from: 8, to: 4}\n", "plan.yaml:4:12:", "factor" },
	{ "name: p\ncases:\n  - suite: null\n    bytes: {from: 8, to: 64, factor: 1}\n", "plan.yaml:4:", "factor must be a number > 1" },
	{ "name: p\ncases:\n  - suite: null\n    bytes: 1\n    bytes: 2\n", "plan.yaml:5:5:", "given twice" },
	{ "name: p\ncases:\n  - bytes: 1\n", "plan.yaml:3:5:", "no 'suite'" },
	{ "name: p\ncases: []\n", "plan.yaml:2:8:", "non-empty list" },
	{ "cases:\n  - suite: null\n", "plan.yaml:1:1:", "no 'name'" },
	{ "name: p\n", "plan.yaml:1:1:", "no 'cases'" },
	{ "name: p\nbogus: 1\ncases:\n  - suite: null\n", "plan.yaml:2:1:", "unknown top-level key 'bogus'" },
	{ "name: p\nrun:\n  repetitions: {count: 0}\ncases:\n  - suite: null\n", "plan.yaml:3:24:", "run.repetitions.count" },
	{ "name: p\nrun:\n  warmup: {laps: 1}\ncases:\n  - suite: null\n", "plan.yaml:3:12:", "unknown key 'laps'" },
	{ "name: p\nrun:\n  timeout_s: soon\ncases:\n  - suite: null\n", "plan.yaml:3:14:", "run.timeout_s" },
	{ "name: p\ncases:\n  - suite: null\nvariants:\n  - label: a b\n", "plan.yaml:5:12:", "variants.label" },
	{ "name: p\ncases:\n  - suite: null\nvariants:\n  - label: a\n    env: {1BAD: x}\n", "plan.yaml:6:11:", "not a variable name" },
	{ "name: p\ncases:\n  - suite: null\n    required: maybe\n", "plan.yaml:4:15:", "required" },
	{ "name: p\ncases:\n  - suite: null\nvariants:\n  - label: a\n    params: {colour: red}\n",
	  "plan.yaml:6:14:", "no suite in this plan has a parameter 'colour'" },
	{ "name: p\ncases:\n  - suite: null\nvariants:\n  - label: a\n    params: {sleep_us: -1}\n",
	  "plan.yaml:6:24:", "out of range" },
	{ "name: p\nrun: {variants: {order: random}}\ncases:\n  - suite: null\n", "plan.yaml:2:25:",
	  "run.variants.order" },
	{ "name: p\ncases:\n  - suite: null\n   bytes: [1\n", "plan.yaml:", "YAML syntax error" },
	/* found by tests/fuzz/fuzz_plan: a repeated key leaked, an empty plan had no position */
	{ "name: p\nname: q\ncases:\n  - suite: null\n", "plan.yaml:2:1:", "key 'name' given twice (first at line 1)" },
	{ "", "plan.yaml:1:1:", "empty plan" },
};

static void test_bad_inputs_name_file_line_and_key(void **unused)
{
	(void)unused;
	for (size_t i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]); i++) {
		struct strata_plan plan;
		int rc = parse(bad_inputs[i].text, &plan);
		if (rc == 0 || !strstr(err, bad_inputs[i].loc) || !strstr(err, bad_inputs[i].words))
			fail_msg("bad input %zu not rejected as expected:\n%s\ngot rc=%d err='%s'\nwant '%s' and '%s'",
				 i, bad_inputs[i].text, rc, err, bad_inputs[i].loc, bad_inputs[i].words);
	}
}

static void test_every_suite_default_expands(void **unused)
{
	(void)unused;
	/* Each suite's defaults must parse: a suite with a broken default table
	 * would only fail at run time otherwise. */
	for (size_t i = 0; i < strata_suite_count(); i++) {
		char text[256];
		snprintf(text, sizeof(text), "name: p\ncases:\n  - suite: %s\n", strata_suite_at(i)->name);
		struct strata_plan plan;
		if (parse(text, &plan) != 0)
			fail_msg("suite %s defaults do not parse: %s", strata_suite_at(i)->name, err);
		assert_true(plan.n_cases >= 1);
		strata_plan_release(&plan);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_plan_gets_defaults),
		cmocka_unit_test(test_lists_sweep_cartesian),
		cmocka_unit_test(test_range_factor_and_step),
		cmocka_unit_test(test_run_overrides_and_variants),
		cmocka_unit_test(test_variant_params_and_order),
		cmocka_unit_test(test_metric_key_is_canonical),
		cmocka_unit_test(test_bad_inputs_name_file_line_and_key),
		cmocka_unit_test(test_every_suite_default_expands),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
