/* test_membw.c: unit tests of the STREAM kernels (kernels/cpu/stream.c) and
 * the membw suite (suites/membw.c), run as one MPI singleton rank.
 *
 * Covers: each kernel's values against a reference computed here from the
 * arrays' contents before the kernel ran; the check catching a corrupted
 * element (written array, input array, NaN, a relative error just above the
 * tolerance) and passing one just below it; STREAM's byte counts and the
 * GB/s metrics; the auto array size (>= 4 x the last-level cache hwloc
 * reports).  Not a benchmark: nothing here is timed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hwloc.h>
#include <math.h>
#include <mpi.h>

#include "harness/suite.h"
#include "kernels/cpu/stream.h"

extern const struct strata_suite strata_suite_membw;

/* Odd, so the static schedule leaves uneven chunks and the vector loops a
 * remainder. */
#define SMALL_N 1003
#define THREADS 2

/* ---- helpers --------------------------------------------------------------- */

struct test_case {
	struct strata_params params;
	struct strata_case c;
	char err[512];
};

/* Fill tc with one value per membw parameter, each parsed by
 * strata_value_parse() as the plan loader would. */
static void make_case(struct test_case *tc, const char *kernel, const char *array_bytes,
		      const char *threads)
{
	const struct strata_suite *suite = &strata_suite_membw;
	memset(tc, 0, sizeof(*tc));
	tc->params.suite = suite;
	for (size_t i = 0; i < suite->n_params; i++) {
		const struct strata_param_def *def = &suite->params[i];
		const char *text = def->def;
		if (strcmp(def->name, "kernel") == 0)
			text = kernel;
		else if (strcmp(def->name, "array_bytes") == 0)
			text = array_bytes;
		else if (strcmp(def->name, "threads") == 0)
			text = threads;
		char why[256];
		int rc = strata_value_parse(def, text, &tc->params.v[i], why, sizeof(why));
		if (rc != 0)
			fail_msg("parse %s = %s: %s", def->name, text, why);
	}
	tc->c = (struct strata_case){ .comm = MPI_COMM_WORLD, .rank = 0, .nranks = 1,
				      .local_rank = 0, .local_size = 1, .params = &tc->params,
				      .err = tc->err, .err_len = sizeof(tc->err) };
}

static json_int_t details_int(json_t *d, const char *key)
{
	json_t *v = json_object_get(d, key);
	if (!json_is_integer(v))
		fail_msg("details has no integer '%s'", key);
	return json_integer_value(v);
}

static double *snapshot(const double *x, size_t n)
{
	double *copy = malloc(n * sizeof(double));
	assert_non_null(copy);
	memcpy(copy, x, n * sizeof(double));
	return copy;
}

/* ---- kernels ---------------------------------------------------------------- */

/* Run kernel k twice (idempotence) and compare every element with a reference
 * computed from the arrays as they were before: the written array gets the
 * formula, the other two must be unchanged. */
static void check_kernel(enum strata_stream_kernel k)
{
	struct strata_stream s;
	char err[256];
	assert_int_equal(strata_stream_init(&s, SMALL_N, THREADS, err, sizeof(err)), 0);
	double *a0 = snapshot(s.a, s.n), *b0 = snapshot(s.b, s.n), *c0 = snapshot(s.c, s.n);
	double *ra = snapshot(a0, s.n), *rb = snapshot(b0, s.n), *rc = snapshot(c0, s.n);
	const double q = 3.0; /* STREAM's scalar */
	for (size_t j = 0; j < s.n; j++) {
		switch (k) {
		case STRATA_STREAM_COPY: rc[j] = a0[j]; break;
		case STRATA_STREAM_SCALE: rb[j] = q * c0[j]; break;
		case STRATA_STREAM_ADD: rc[j] = a0[j] + b0[j]; break;
		case STRATA_STREAM_TRIAD: ra[j] = b0[j] + q * c0[j]; break;
		default: fail();
		}
	}
	assert_int_equal(strata_stream_run(&s, k), 0);
	assert_int_equal(strata_stream_run(&s, k), 0);
	for (size_t j = 0; j < s.n; j++) {
		assert_true(s.a[j] == ra[j]);
		assert_true(s.b[j] == rb[j]);
		assert_true(s.c[j] == rc[j]);
	}
	/* The written array must differ from its initial value, or a kernel that
	 * never ran would pass the check. */
	const double *out = k == STRATA_STREAM_TRIAD ? s.a : k == STRATA_STREAM_SCALE ? s.b : s.c;
	const double *out0 = k == STRATA_STREAM_TRIAD ? a0 : k == STRATA_STREAM_SCALE ? b0 : c0;
	for (size_t j = 0; j < s.n; j++)
		assert_true(out[j] != out0[j]);
	assert_int_equal(strata_stream_check(&s, k, NULL), 0);
	free(a0); free(b0); free(c0); free(ra); free(rb); free(rc);
	strata_stream_release(&s);
}

static void test_copy(void **st) { (void)st; check_kernel(STRATA_STREAM_COPY); }
static void test_scale(void **st) { (void)st; check_kernel(STRATA_STREAM_SCALE); }
static void test_add(void **st) { (void)st; check_kernel(STRATA_STREAM_ADD); }
static void test_triad(void **st) { (void)st; check_kernel(STRATA_STREAM_TRIAD); }

static void test_never_ran_is_caught(void **st)
{
	(void)st;
	struct strata_stream s;
	char err[256];
	assert_int_equal(strata_stream_init(&s, SMALL_N, THREADS, err, sizeof(err)), 0);
	for (int k = 0; k < STRATA_STREAM_NKERNELS; k++)
		assert_int_equal(strata_stream_check(&s, (enum strata_stream_kernel)k, NULL),
				 (int64_t)SMALL_N);
	strata_stream_release(&s);
}

/* ---- validation catches corruption ----------------------------------------- */

static void test_check_catches_corruption(void **st)
{
	(void)st;
	struct strata_stream s;
	char err[256];
	struct strata_stream_error first;
	assert_int_equal(strata_stream_init(&s, SMALL_N, THREADS, err, sizeof(err)), 0);
	assert_int_equal(strata_stream_run(&s, STRATA_STREAM_TRIAD), 0);
	assert_int_equal(strata_stream_check(&s, STRATA_STREAM_TRIAD, NULL), 0);

	/* Written array, one element far off. */
	double good = s.a[500];
	s.a[500] = good + 1.0;
	memset(&first, 0, sizeof(first));
	assert_int_equal(strata_stream_check(&s, STRATA_STREAM_TRIAD, &first), 1);
	assert_int_equal(first.array, 'a');
	assert_int_equal(first.index, 500);
	assert_true(first.expected == good);
	assert_true(first.actual == good + 1.0);
	s.a[500] = good;

	/* Relative error 1e-12 > 1e-13 is wrong; 1e-14 is within STREAM's epsilon. */
	s.a[7] = s.a[7] * (1.0 + 1e-12);
	assert_int_equal(strata_stream_check(&s, STRATA_STREAM_TRIAD, NULL), 1);
	s.a[7] = strata_stream_expected(STRATA_STREAM_TRIAD, 'a', 7) * (1.0 + 1e-14);
	assert_int_equal(strata_stream_check(&s, STRATA_STREAM_TRIAD, NULL), 0);

	/* NaN compares false with everything: it must still count as wrong. */
	s.a[3] = NAN;
	assert_int_equal(strata_stream_check(&s, STRATA_STREAM_TRIAD, &first), 1);
	assert_int_equal(first.index, 3);
	s.a[3] = strata_stream_expected(STRATA_STREAM_TRIAD, 'a', 3);

	/* An input the kernel must not have touched, and a second wrong element:
	 * both counted, the lowest index reported first. */
	s.b[900] = -1.0;
	s.c[1002] = 0.0;
	assert_int_equal(strata_stream_check(&s, STRATA_STREAM_TRIAD, &first), 2);
	assert_int_equal(first.array, 'b');
	assert_int_equal(first.index, 900);
	assert_true(first.actual == -1.0);
	strata_stream_release(&s);
}

/* Through the suite: verify passes, then catches a corrupted element and
 * names it in c->err. */
static void test_suite_verify_catches_corruption(void **st)
{
	(void)st;
	const struct strata_suite *suite = &strata_suite_membw;
	struct test_case tc;
	make_case(&tc, "add", "8K", "2");
	void *state = NULL;
	assert_int_equal(suite->setup(&tc.c, &state), STRATA_OK);
	assert_int_equal(suite->run_once(state, &tc.c), STRATA_OK);
	assert_int_equal(suite->run_once(state, &tc.c), STRATA_OK);
	assert_int_equal(suite->verify(state, &tc.c), 0);

	struct strata_stream *arrays = state; /* first member of the suite state */
	assert_int_equal(arrays->n, 8192 / 8);
	arrays->c[123] = 42.0;
	assert_int_equal(suite->verify(state, &tc.c), 1);
	assert_non_null(strstr(tc.err, "c[123] = 42"));
	suite->teardown(state);
}

/* ---- byte counting and metrics ---------------------------------------------- */

static void test_byte_counting(void **st)
{
	(void)st;
	const size_t n = 1000;
	/* STREAM: copy, scale 2 arrays x 8 bytes x n; add, triad 3 x 8 x n. */
	assert_int_equal(strata_stream_bytes(STRATA_STREAM_COPY, n), 16000);
	assert_int_equal(strata_stream_bytes(STRATA_STREAM_SCALE, n), 16000);
	assert_int_equal(strata_stream_bytes(STRATA_STREAM_ADD, n), 24000);
	assert_int_equal(strata_stream_bytes(STRATA_STREAM_TRIAD, n), 24000);
	assert_int_equal(strata_stream_bytes(STRATA_STREAM_NKERNELS, n), 0);

	/* Through the suite: 1 MiB arrays, 1 ms per iteration, 4 ranks. */
	static const struct { const char *kernel; double arrays; } rows[] = {
		{ "copy", 2 }, { "scale", 2 }, { "add", 3 }, { "triad", 3 },
	};
	const struct strata_suite *suite = &strata_suite_membw;
	for (size_t r = 0; r < 4; r++) {
		struct test_case tc;
		make_case(&tc, rows[r].kernel, "1M", "1");
		void *state = NULL;
		assert_int_equal(suite->setup(&tc.c, &state), STRATA_OK);
		json_t *d = json_object();
		suite->describe(state, &tc.c, d);
		double bytes = rows[r].arrays * 8.0 * (1 << 17);
		assert_true((double)details_int(d, "bytes_per_iteration") == bytes);
		assert_int_equal(details_int(d, "elements"), 1 << 17);
		json_decref(d);

		tc.c.nranks = 4;
		struct strata_metric m[STRATA_MAX_METRICS];
		size_t nm = suite->metrics(state, &tc.c, 1e-3, m, STRATA_MAX_METRICS);
		assert_true(nm >= 2);
		assert_string_equal(m[0].name, "bandwidth");
		assert_string_equal(m[0].unit, "GB/s");
		assert_true(fabs(m[0].value - bytes / 1e-3 / 1e9) < 1e-12 * m[0].value);
		assert_string_equal(m[1].name, "aggregate_bandwidth");
		assert_true(fabs(m[1].value - 4 * bytes / 1e-3 / 1e9) < 1e-12 * m[1].value);
		suite->teardown(state);
	}
}

/* A size that is not a whole number of doubles is rounded down. */
static void test_explicit_size_rounding(void **st)
{
	(void)st;
	const struct strata_suite *suite = &strata_suite_membw;
	struct test_case tc;
	make_case(&tc, "copy", "1005", "1");
	void *state = NULL;
	assert_int_equal(suite->setup(&tc.c, &state), STRATA_OK);
	json_t *d = json_object();
	suite->describe(state, &tc.c, d);
	assert_int_equal(details_int(d, "array_bytes"), 1000);
	assert_int_equal(details_int(d, "elements"), 125);
	assert_int_equal(details_int(d, "array_bytes_requested"), 1005);
	json_decref(d);
	suite->teardown(state);

	make_case(&tc, "copy", "7", "1");
	assert_int_equal(suite->setup(&tc.c, &state), STRATA_ERROR);
	assert_non_null(strstr(tc.err, "less than one double"));
}

/* ---- auto size ---------------------------------------------------------------- */

/* Size of the largest cache level hwloc knows, one instance: an independent
 * reading of what the suite must size against. */
static uint64_t hwloc_llc_instance_bytes(void)
{
	static const hwloc_obj_type_t levels[] = { HWLOC_OBJ_L5CACHE, HWLOC_OBJ_L4CACHE,
						   HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L2CACHE,
						   HWLOC_OBJ_L1CACHE };
	hwloc_topology_t topo;
	uint64_t bytes = 0;
	assert_int_equal(hwloc_topology_init(&topo), 0);
	assert_int_equal(hwloc_topology_load(topo), 0);
	for (size_t t = 0; t < 5 && bytes == 0; t++) {
		hwloc_obj_t obj = hwloc_get_obj_by_type(topo, levels[t], 0);
		if (obj)
			bytes = obj->attr->cache.size;
	}
	hwloc_topology_destroy(topo);
	return bytes;
}

static void test_auto_size(void **st)
{
	(void)st;
	uint64_t llc = hwloc_llc_instance_bytes();
	if (llc == 0)
		skip(); /* hwloc sees no cache here: auto size cannot be derived */
	const struct strata_suite *suite = &strata_suite_membw;
	struct test_case tc;
	make_case(&tc, "triad", "0", "0");
	void *state = NULL;
	int rc = suite->setup(&tc.c, &state);
	if (rc == STRATA_SKIP) {
		print_message("auto size skipped here: %s\n", tc.err);
		skip();
	}
	assert_int_equal(rc, STRATA_OK);
	json_t *d = json_object();
	suite->describe(state, &tc.c, d);
	json_int_t array_bytes = details_int(d, "array_bytes");
	json_t *l = json_object_get(d, "llc");
	assert_true(json_is_object(l));
	json_int_t llc_bytes = details_int(l, "bytes");
	/* The suite sums the instances covering this process: at least one. */
	assert_true((uint64_t)llc_bytes >= llc);
	assert_int_equal(details_int(l, "instance_bytes"), (json_int_t)llc);
	/* STREAM's rule 1a: each array >= 4 x cache; and no larger than needed
	 * beyond rounding to 8 bytes. */
	assert_true(array_bytes >= 4 * llc_bytes);
	assert_true(array_bytes < 4 * llc_bytes + 8);
	assert_int_equal(array_bytes % 8, 0);
	assert_int_equal(details_int(d, "elements"), array_bytes / 8);
	assert_int_equal(details_int(d, "array_bytes_requested"), 0);
	print_message("auto: LLC %lld bytes (L%lld) -> array_bytes %lld\n", (long long)llc_bytes,
		      (long long)details_int(l, "level"), (long long)array_bytes);
	json_decref(d);

	assert_int_equal(suite->run_once(state, &tc.c), STRATA_OK);
	assert_int_equal(suite->verify(state, &tc.c), 0);
	suite->teardown(state);
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_scale),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_triad),
		cmocka_unit_test(test_never_ran_is_caught),
		cmocka_unit_test(test_check_catches_corruption),
		cmocka_unit_test(test_suite_verify_catches_corruption),
		cmocka_unit_test(test_byte_counting),
		cmocka_unit_test(test_explicit_size_rounding),
		cmocka_unit_test(test_auto_size),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	MPI_Finalize();
	return failed;
}
