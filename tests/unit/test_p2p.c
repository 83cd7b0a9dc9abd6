/* test_p2p.c: unit tests of the p2p suite and its kernel: the round-robin
 * schedule, the message pattern and its check, the figures of merit, the
 * parameter table, and a real run as an MPI singleton (which must skip: a
 * point-to-point test needs two ranks).  Multi-rank runs are integration
 * tests under mpirun, not here. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mpi.h>

#include "harness/suite.h"
#include "kernels/cpu/mpi_p2p.h"

/* ---- schedule ---------------------------------------------------------------- */

/* Every unordered pair exactly once, disjoint pairs in each round, partner
 * symmetric, and for odd n exactly one rank idle per round. */
static void check_schedule(int n)
{
	int rounds = strata_p2p_rounds(n);
	assert_int_equal(rounds, n % 2 == 0 ? n - 1 : n);
	int *met = calloc((size_t)n * n, sizeof(*met)); /* (n, n) times i met j */
	assert_non_null(met);
	for (int r = 0; r < rounds; r++) {
		int idle = 0;
		for (int x = 0; x < n; x++) {
			int p = strata_p2p_partner(n, r, x);
			if (p < 0) {
				idle++;
				continue;
			}
			assert_true(p < n);
			assert_int_not_equal(p, x);
			/* Symmetric, hence disjoint: x is p's only partner this round. */
			assert_int_equal(strata_p2p_partner(n, r, p), x);
			met[x * n + p]++;
		}
		assert_int_equal(idle, n % 2);
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			assert_int_equal(met[i * n + j], i == j ? 0 : 1);
	free(met);
}

static void test_schedule_small(void **st)
{
	(void)st;
	static const int ns[] = { 2, 3, 4, 5, 8 };
	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++)
		check_schedule(ns[k]);
}

static void test_schedule_many(void **st)
{
	(void)st;
	for (int n = 2; n <= 64; n++)
		check_schedule(n);
	check_schedule(1000);
	check_schedule(1001);
}

static void test_schedule_edges(void **st)
{
	(void)st;
	assert_int_equal(strata_p2p_rounds(0), 0);
	assert_int_equal(strata_p2p_rounds(1), 0);
	assert_int_equal(strata_p2p_partner(1, 0, 0), -1);
	assert_int_equal(strata_p2p_partner(4, 3, 0), -1); /* no round 3 of 3 */
	assert_int_equal(strata_p2p_partner(4, -1, 0), -1);
	assert_int_equal(strata_p2p_partner(4, 0, 4), -1);
	assert_int_equal(strata_p2p_partner(2, 0, 0), 1);
	assert_int_equal(strata_p2p_partner(2, 0, 1), 0);
}

/* ---- pattern ------------------------------------------------------------------ */

static void test_pattern_roundtrip(void **st)
{
	(void)st;
	static const size_t sizes[] = { 0, 1, 7, 8, 9, 4096, 65537 };
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k];
		uint8_t *buf = malloc(n + 1);
		assert_non_null(buf);
		strata_p2p_pattern_fill(buf, n, 3);
		assert_int_equal(strata_p2p_pattern_check(buf, n, 3, NULL), 0);
		for (size_t i = 0; i < n; i += 997)
			assert_int_equal(buf[i], strata_p2p_pattern_byte(3, n, i));
		/* Poison differs in every byte. */
		strata_p2p_pattern_poison(buf, n, 3);
		assert_int_equal(strata_p2p_pattern_check(buf, n, 3, NULL), (int64_t)n);
		free(buf);
	}
}

static void test_pattern_catches_corrupted_byte(void **st)
{
	(void)st;
	const size_t n = 1 << 20;
	uint8_t *buf = malloc(n);
	assert_non_null(buf);
	static const size_t offsets[] = { 0, 5, 8, 4095, 123457, (1 << 20) - 1 };
	for (size_t k = 0; k < sizeof(offsets) / sizeof(offsets[0]); k++) {
		size_t off = offsets[k];
		strata_p2p_pattern_fill(buf, n, 1);
		uint8_t good = buf[off];
		buf[off] ^= 0x10; /* one bit of one byte */
		struct strata_p2p_error e = { 0 };
		assert_int_equal(strata_p2p_pattern_check(buf, n, 1, &e), 1);
		assert_int_equal(e.offset, off);
		assert_int_equal(e.expected, good);
		assert_int_equal(e.actual, good ^ 0x10);
	}
	free(buf);
}

/* A message from the wrong rank, of the wrong size or shifted does not pass. */
static void test_pattern_distinguishes(void **st)
{
	(void)st;
	const size_t n = 4096;
	uint8_t *buf = malloc(n + 8);
	assert_non_null(buf);
	strata_p2p_pattern_fill(buf, n, 2);
	assert_true(strata_p2p_pattern_check(buf, n, 3, NULL) > (int64_t)n / 2);
	assert_true(strata_p2p_pattern_check(buf, n - 8, 2, NULL) > (int64_t)n / 4);
	assert_true(strata_p2p_pattern_check(buf + 8, n - 8, 2, NULL) > (int64_t)n / 4);
	free(buf);
}

/* The slot check finds a corrupted byte in a later slot and says which. */
static void test_slots_check(void **st)
{
	(void)st;
	struct strata_p2p_bufs b;
	char err[256];
	assert_int_equal(strata_p2p_bufs_init(&b, STRATA_P2P_BANDWIDTH, 1000, 8, 0, 5, err,
					      sizeof(err)), 0);
	assert_int_equal(b.slots, 8);
	/* Poisoned for sender 5: every byte wrong. */
	assert_int_equal(strata_p2p_slots_check(&b, 5, NULL), 8 * 1000);
	for (int s = 0; s < b.slots; s++)
		strata_p2p_pattern_fill(b.recv + (size_t)s * 1000, 1000, 5);
	assert_int_equal(strata_p2p_slots_check(&b, 5, NULL), 0);
	b.recv[6 * 1000 + 17] ^= 0xFF;
	struct strata_p2p_error e;
	assert_int_equal(strata_p2p_slots_check(&b, 5, &e), 1);
	assert_int_equal(e.slot, 6);
	assert_int_equal(e.offset, 17);
	/* The send buffer carries the owner's pattern. */
	assert_int_equal(strata_p2p_pattern_check(b.send, 1000, 0, NULL), 0);
	strata_p2p_bufs_release(&b);
	strata_p2p_bufs_release(&b); /* twice is harmless */
}

static void test_slots_count(void **st)
{
	(void)st;
	assert_int_equal(strata_p2p_slots(STRATA_P2P_LATENCY, 1 << 20, 64), 1);
	assert_int_equal(strata_p2p_slots(STRATA_P2P_BANDWIDTH, 8, 64), 64);
	assert_int_equal(strata_p2p_slots(STRATA_P2P_BIBW, 1 << 20, 64), 64);
	assert_int_equal(strata_p2p_slots(STRATA_P2P_BIBW, 4 << 20, 64), 16);
	assert_int_equal(strata_p2p_slots(STRATA_P2P_BANDWIDTH, 1 << 30, 64), 1);
	assert_int_equal(strata_p2p_slots(STRATA_P2P_BANDWIDTH, 0, 64), 64);
}

/* ---- formulas ----------------------------------------------------------------- */

/* |a - b| <= tol (this cmocka predates assert_double_equal). */
#define assert_near(a, b, tol) assert_true(fabs((double)(a) - (double)(b)) <= (tol))

static void test_bandwidth_formula(void **st)
{
	(void)st;
	/* osu_bw: 1 MiB x 64 messages in 10 ms = 67108864 B / 0.01 s = 6.7108864 GB/s. */
	assert_int_equal(strata_p2p_bytes_moved(STRATA_P2P_BANDWIDTH, 1 << 20, 64), 67108864);
	assert_near(strata_p2p_bandwidth_gbps(STRATA_P2P_BANDWIDTH, 1 << 20, 64, 0.01),
			    6.7108864, 1e-12);
	/* osu_bibw counts both directions: twice the bytes in the same time. */
	assert_int_equal(strata_p2p_bytes_moved(STRATA_P2P_BIBW, 1 << 20, 64), 134217728);
	assert_near(strata_p2p_bandwidth_gbps(STRATA_P2P_BIBW, 1 << 20, 64, 0.01),
			    13.4217728, 1e-12);
	/* 1 GB = 1e9 bytes: 1e9 bytes in one second is 1 GB/s. */
	assert_near(strata_p2p_bandwidth_gbps(STRATA_P2P_BANDWIDTH, 1000000000, 1, 1.0),
			    1.0, 1e-15);
	assert_near(strata_p2p_bandwidth_gbps(STRATA_P2P_BANDWIDTH, 8, 64, 0), 0, 0);
}

static void test_latency_formula(void **st)
{
	(void)st;
	/* osu_latency: 100 round trips in 1 ms = 1000 us / 200 one-way = 5 us. */
	assert_near(strata_p2p_latency_us(1e-3, 100), 5.0, 1e-12);
	assert_near(strata_p2p_latency_us(1e-3, 0), 0.0, 0);
}

static void test_mode_names(void **st)
{
	(void)st;
	for (int m = 0; m < STRATA_P2P_NMODES; m++)
		assert_int_equal(strata_p2p_mode_parse(strata_p2p_mode_name(m)), m);
	assert_int_equal(strata_p2p_mode_parse("nope"), -1);
	assert_null(strata_p2p_mode_name(STRATA_P2P_NMODES));
}

/* ---- the suite ------------------------------------------------------------------ */

/* Parameters of the p2p suite with each row's default, or the override given
 * (name, text, ..., NULL); list defaults take their first element. */
static void make_params(struct strata_params *p, ...)
{
	const struct strata_suite *s = strata_suite_find("p2p");
	assert_non_null(s);
	memset(p, 0, sizeof(*p));
	p->suite = s;
	for (size_t i = 0; i < s->n_params; i++) {
		const struct strata_param_def *d = &s->params[i];
		char text[STRATA_VALUE_STR];
		const char *def = d->def;
		if (def[0] == '[') { /* first element of a list */
			size_t n = strcspn(def + 1, ",]");
			snprintf(text, sizeof(text), "%.*s", (int)n, def + 1);
		} else if (def[0] == '{') { /* "from" of a range */
			const char *f = strstr(def, "from:");
			assert_non_null(f);
			f += 5;
			while (*f == ' ')
				f++;
			size_t n = strcspn(f, ",}");
			snprintf(text, sizeof(text), "%.*s", (int)n, f);
		} else {
			snprintf(text, sizeof(text), "%s", def);
		}
		va_list ap;
		va_start(ap, p);
		for (const char *name; (name = va_arg(ap, const char *)) != NULL;) {
			const char *val = va_arg(ap, const char *);
			if (strcmp(name, d->name) == 0)
				snprintf(text, sizeof(text), "%s", val);
		}
		va_end(ap);
		char err[256];
		int rc = strata_value_parse(d, text, &p->v[i], err, sizeof(err));
		if (rc != 0)
			fail_msg("default of %s ('%s'): %s", d->name, text, err);
	}
}

static void test_param_table(void **st)
{
	(void)st;
	const struct strata_suite *s = strata_suite_find("p2p");
	assert_non_null(s);
	assert_true(s->flags & STRATA_SUITE_COLLECTIVE);
	static const char *const names[] = { "device", "mode", "size", "window", "pattern" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_true(strata_param_index(s, names[i]) >= 0);
	assert_non_null(s->setup);
	assert_non_null(s->run_once);
	assert_non_null(s->verify);
	assert_non_null(s->teardown);
	assert_non_null(s->metrics);
	assert_non_null(s->describe);
	struct strata_params p;
	make_params(&p, NULL);
	assert_string_equal(strata_params_str(&p, "mode"), "latency");
	assert_int_equal(strata_params_int(&p, "window"), 64);
	assert_string_equal(strata_params_str(&p, "pattern"), "pair");
}

/* One rank (MPI singleton): setup must skip with a reason naming the need. */
static void test_singleton_skips(void **st)
{
	(void)st;
	const struct strata_suite *s = strata_suite_find("p2p");
	static const char *const patterns[] = { "pair", "all-pairs" };
	for (size_t k = 0; k < 2; k++) {
		struct strata_params p;
		make_params(&p, "pattern", patterns[k], NULL);
		char err[512] = "";
		int rank, nranks;
		MPI_Comm_rank(MPI_COMM_WORLD, &rank);
		MPI_Comm_size(MPI_COMM_WORLD, &nranks);
		assert_int_equal(nranks, 1);
		struct strata_case c = { .comm = MPI_COMM_WORLD, .rank = rank, .nranks = nranks,
					 .local_rank = 0, .local_size = 1, .params = &p,
					 .err = err, .err_len = sizeof(err) };
		void *state = NULL;
		assert_int_equal(s->setup(&c, &state), STRATA_SKIP);
		assert_null(state);
		assert_non_null(strstr(err, "at least 2 ranks"));
	}
}

/* The kernel on MPI_COMM_SELF: bibw is the one exchange a rank can do with
 * itself (receives are posted before sends), so it checks the window,
 * the slot layout and the pattern end to end with a real MPI library. */
static void test_bibw_with_self(void **st)
{
	(void)st;
	MPI_Comm self;
	assert_int_equal(MPI_Comm_dup(MPI_COMM_SELF, &self), MPI_SUCCESS);
	MPI_Comm_set_errhandler(self, MPI_ERRORS_RETURN);
	static const size_t sizes[] = { 0, 1, 4096, 3 << 20 };
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct strata_p2p_bufs b;
		char err[512];
		assert_int_equal(strata_p2p_bufs_init(&b, STRATA_P2P_BIBW, sizes[k], 32, 0, 0, err,
						      sizeof(err)), 0);
		assert_int_equal(strata_p2p_slots_check(&b, 0, NULL), (int64_t)(b.slots * sizes[k]));
		int rc = strata_p2p_exchange(&b, STRATA_P2P_BIBW, self, 0, 0, err, sizeof(err));
		if (rc != 0)
			fail_msg("%s", err);
		assert_int_equal(strata_p2p_slots_check(&b, 0, NULL), 0);
		strata_p2p_bufs_release(&b);
	}
	MPI_Comm_free(&self);
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schedule_small),
		cmocka_unit_test(test_schedule_many),
		cmocka_unit_test(test_schedule_edges),
		cmocka_unit_test(test_pattern_roundtrip),
		cmocka_unit_test(test_pattern_catches_corrupted_byte),
		cmocka_unit_test(test_pattern_distinguishes),
		cmocka_unit_test(test_slots_check),
		cmocka_unit_test(test_slots_count),
		cmocka_unit_test(test_bandwidth_formula),
		cmocka_unit_test(test_latency_formula),
		cmocka_unit_test(test_mode_names),
		cmocka_unit_test(test_param_table),
		cmocka_unit_test(test_singleton_skips),
		cmocka_unit_test(test_bibw_with_self),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	MPI_Finalize();
	return failed;
}
