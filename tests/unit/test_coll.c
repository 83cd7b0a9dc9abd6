/* test_coll.c: unit tests of the MPI collective suites and their shared
 * driver (kernels/cpu/mpi_coll.c).
 *
 * What is tested: nccl-tests' bus-bandwidth factors for n = 1, 2, 4, 8 and
 * byte counts against hand-computed values; that validation passes on real
 * runs of every collective and catches one corrupted output element; the five
 * suites through their struct strata_suite (setup, run_once, verify, metrics,
 * describe, teardown).  The n-rank cases run on 3 ranks (odd, so per-rank
 * blocks round down): the singleton test process spawns 2 copies of itself
 * with MPI_Comm_spawn and merges them into one communicator.  Run under
 * mpirun with more ranks, it runs only the n-rank checks on MPI_COMM_WORLD.
 * What is not tested: speed.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <mpi.h>

#include "harness/suite.h"
#include "kernels/cpu/mpi_coll.h"

#define SPAWNED_RANKS 2 /* + the parent = 3 ranks */

/* cmocka 1.1 has no assert_double_equal. */
#define assert_near(a, b, tol) near_impl((a), (b), (tol), #a, __FILE__, __LINE__)
static void near_impl(double a, double b, double tol, const char *what, const char *file, int line)
{
	if (!(fabs(a - b) <= tol))
		fail_msg("%s:%d: %s = %.17g, want %.17g (tolerance %g)", file, line, what, a, b, tol);
}

static const enum strata_coll_kind all_kinds[] = {
	STRATA_COLL_ALLREDUCE, STRATA_COLL_ALLGATHER, STRATA_COLL_REDUCE_SCATTER,
	STRATA_COLL_BROADCAST, STRATA_COLL_ALLTOALL,
};
#define N_KINDS (sizeof(all_kinds) / sizeof(all_kinds[0]))

/* ---- formulas ------------------------------------------------------------ */

static void test_busbw_factors(void **unused)
{
	(void)unused;
	/* Hand values of doc/PERFORMANCE.md's factors: 2(n-1)/n, (n-1)/n, 1. */
	static const struct {
		int n;
		double allreduce, one_minus; /* (n-1)/n */
	} rows[] = {
		{ 1, 0.0, 0.0 }, { 2, 1.0, 0.5 }, { 4, 1.5, 0.75 }, { 8, 1.75, 0.875 },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int n = rows[i].n;
		assert_near(strata_coll_busbw_factor(STRATA_COLL_ALLREDUCE, n), rows[i].allreduce, 1e-15);
		assert_near(strata_coll_busbw_factor(STRATA_COLL_ALLGATHER, n), rows[i].one_minus, 1e-15);
		assert_near(strata_coll_busbw_factor(STRATA_COLL_REDUCE_SCATTER, n), rows[i].one_minus, 1e-15);
		assert_near(strata_coll_busbw_factor(STRATA_COLL_ALLTOALL, n), rows[i].one_minus, 1e-15);
		assert_near(strata_coll_busbw_factor(STRATA_COLL_BROADCAST, n), 1.0, 1e-15);
	}
	assert_near(strata_coll_algbw_gbps(1000000000, 1.0), 1.0, 1e-15);
	assert_near(strata_coll_algbw_gbps(64 << 20, 0.5), 134217728.0 / 1e9, 1e-12);
	assert_near(strata_coll_algbw_gbps(100, 0.0), 0.0, 0.0);
}

static void expect_counts(enum strata_coll_kind kind, size_t size, size_t elt, int n, size_t count,
			  size_t send, size_t recv, size_t bytes)
{
	struct strata_coll_counts c;
	strata_coll_counts_get(kind, size, elt, n, &c);
	if (c.count != count || c.send_count != send || c.recv_count != recv || c.bytes != bytes)
		fail_msg("%s size %zu elt %zu n %d: got count %zu send %zu recv %zu bytes %zu, "
			 "want %zu %zu %zu %zu",
			 strata_coll_kind_name(kind), size, elt, n, c.count, c.send_count, c.recv_count,
			 c.bytes, count, send, recv, bytes);
}

static void test_byte_counts(void **unused)
{
	(void)unused;
	const size_t M = 1 << 20;
	/* allreduce, broadcast: count = size/typesize, rounded down, no n rounding. */
	expect_counts(STRATA_COLL_ALLREDUCE, 64 * M, 4, 8, 16 * M, 16 * M, 16 * M, 64 * M);
	expect_counts(STRATA_COLL_ALLREDUCE, 10, 4, 3, 2, 2, 2, 8);
	expect_counts(STRATA_COLL_ALLREDUCE, 8, 8, 2, 1, 1, 1, 8);
	expect_counts(STRATA_COLL_BROADCAST, 13, 8, 5, 1, 1, 1, 8);
	expect_counts(STRATA_COLL_BROADCAST, 3, 4, 1, 0, 0, 0, 0);
	/* allgather: base = (count/n) & ~(16/elt - 1); S = whole output. */
	expect_counts(STRATA_COLL_ALLGATHER, M, 4, 4, 65536, 65536, 262144, M);
	expect_counts(STRATA_COLL_ALLGATHER, 100, 4, 3, 8, 8, 24, 96);   /* 25/3=8 */
	expect_counts(STRATA_COLL_ALLGATHER, 8, 4, 2, 0, 0, 0, 0);       /* 1 & ~3 */
	expect_counts(STRATA_COLL_ALLGATHER, 1000, 8, 3, 40, 40, 120, 960); /* 125/3=41 & ~1 */
	/* reduce_scatter: send = base*n, recv = base; S = whole input. */
	expect_counts(STRATA_COLL_REDUCE_SCATTER, 1000, 8, 3, 40, 120, 40, 960);
	expect_counts(STRATA_COLL_REDUCE_SCATTER, 64 * M, 4, 8, 2 * M, 16 * M, 2 * M, 64 * M);
	expect_counts(STRATA_COLL_REDUCE_SCATTER, 4096, 4, 1, 1024, 1024, 1024, 4096);
	/* alltoall: param = base per peer, send = recv = base*n. */
	expect_counts(STRATA_COLL_ALLTOALL, 1000, 4, 6, 40, 240, 240, 960); /* 250/6=41 & ~3 */
	expect_counts(STRATA_COLL_ALLTOALL, 64 * M, 8, 4, 2 * M, 8 * M, 8 * M, 64 * M);
	expect_counts(STRATA_COLL_ALLTOALL, 48, 4, 2, 4, 8, 8, 32); /* 6 & ~3 = 4 */
}

static struct strata_coll fake_state(enum strata_coll_kind kind, int nranks, size_t bytes)
{
	struct strata_coll cl;
	memset(&cl, 0, sizeof(cl));
	cl.kind = kind;
	cl.nranks = nranks;
	cl.n.bytes = bytes;
	return cl;
}

static void test_metrics(void **unused)
{
	(void)unused;
	struct strata_metric m[STRATA_MAX_METRICS];
	struct strata_coll cl = fake_state(STRATA_COLL_ALLREDUCE, 4, 2000000);
	size_t k = strata_coll_suite_metrics(&cl, NULL, 1e-3, m, STRATA_MAX_METRICS);
	assert_int_equal(k, 3);
	assert_string_equal(m[0].name, "latency");
	assert_string_equal(m[0].unit, "us");
	assert_near(m[0].value, 1000.0, 1e-9);
	assert_int_equal(m[0].higher_is_better, 0);
	assert_string_equal(m[1].name, "algbw");
	assert_near(m[1].value, 2.0, 1e-12); /* 2e6 B / 1 ms */
	assert_int_equal(m[1].higher_is_better, 1);
	assert_string_equal(m[2].name, "busbw");
	assert_near(m[2].value, 3.0, 1e-12); /* x 2(4-1)/4 */
	cl = fake_state(STRATA_COLL_ALLGATHER, 8, 2000000);
	strata_coll_suite_metrics(&cl, NULL, 1e-3, m, STRATA_MAX_METRICS);
	assert_near(m[2].value, 1.75, 1e-12);
	cl = fake_state(STRATA_COLL_BROADCAST, 8, 2000000);
	strata_coll_suite_metrics(&cl, NULL, 1e-3, m, STRATA_MAX_METRICS);
	assert_near(m[2].value, 2.0, 1e-12);
	assert_int_equal(strata_coll_suite_metrics(&cl, NULL, 1e-3, m, 1), 1);
}

/* ---- real runs on a communicator (1 or n ranks) --------------------------- */

/* Runs every collective, dtype, in-place choice and a set of awkward sizes on
 * comm; every rank calls it.  Returns the number of failed expectations
 * summed over ranks (0 = all good); the first is described in why. */
static int coll_checks(MPI_Comm comm, char *why, size_t why_len)
{
	static const size_t sizes[] = { 0, 8, 100, 4096 + 20, (1 << 20) + 4 };
	int rank, nranks, fails = 0;
	char err[512];
	MPI_Comm_rank(comm, &rank);
	MPI_Comm_size(comm, &nranks);
	why[0] = '\0';
#define EXPECT(cond, ...)                                                          \
	do {                                                                       \
		if (!(cond)) {                                                     \
			if (fails++ == 0)                                          \
				snprintf(why, why_len, __VA_ARGS__);               \
		}                                                                  \
	} while (0)

	for (size_t ki = 0; ki < N_KINDS; ki++)
	for (int dt = 0; dt < 2; dt++)
	for (int ip = 0; ip < 2; ip++)
	for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		enum strata_coll_kind kind = all_kinds[ki];
		if (kind == STRATA_COLL_BROADCAST && ip)
			continue;
		struct strata_coll_config cfg = {
			.kind = kind, .dtype = dt ? STRATA_COLL_DOUBLE : STRATA_COLL_FLOAT,
			.size_bytes = sizes[si], .inplace = ip, .root = nranks - 1,
		};
		const char *name = strata_coll_kind_name(kind);
		struct strata_coll cl;
		int rc = strata_coll_init(&cl, &cfg, comm, err, sizeof(err));
		EXPECT(rc == STRATA_OK, "%s init: %s", name, err);
		if (rc != STRATA_OK)
			continue; /* same on every rank: sizes are rank-independent */

		/* 1. Three timed-like runs, then the suite's verify: no wrong element. */
		for (int it = 0; it < 3; it++)
			EXPECT(strata_coll_run(&cl, err, sizeof(err)) == 0, "%s run: %s", name, err);
		err[0] = '\0';
		int64_t wrong = strata_coll_verify(&cl, err, sizeof(err));
		EXPECT(wrong == 0, "%s dtype %d inplace %d size %zu: verify found %lld wrong: %s",
		       name, dt, ip, sizes[si], (long long)wrong, err);

		/* 2. One corrupted output element on the last rank must be caught
		 * (and only that one) by the check ... */
		size_t n_out = cl.n.recv_count;
		int corrupt = rank == nranks - 1 && n_out > 0;
		size_t bad = n_out / 2;
		strata_coll_fill(&cl);
		EXPECT(strata_coll_run(&cl, err, sizeof(err)) == 0, "%s run: %s", name, err);
		if (corrupt) {
			if (cfg.dtype == STRATA_COLL_FLOAT)
				((float *)cl.recv)[bad] += 1.0f;
			else
				((double *)cl.recv)[bad] += 1.0;
		}
		err[0] = '\0';
		wrong = strata_coll_check(&cl, err, sizeof(err));
		EXPECT(wrong == (corrupt ? 1 : 0), "%s size %zu: corrupted element: check found %lld",
		       name, sizes[si], (long long)wrong);
		if (corrupt) {
			char idx[64];
			snprintf(idx, sizeof(idx), "element %zu of %zu", bad, n_out);
			EXPECT(strstr(err, idx) != NULL, "%s: message '%s' lacks '%s'", name, err, idx);
		}
		/* ... and by verify where verify checks what the repetitions left. */
		if (!ip || kind == STRATA_COLL_ALLGATHER) {
			wrong = strata_coll_verify(&cl, err, sizeof(err));
			EXPECT(wrong == (corrupt ? 1 : 0), "%s: verify after corruption found %lld",
			       name, (long long)wrong);
		}

		/* 3. An output nobody wrote (sentinel) is caught: fill, no run.  A
		 * broadcast root's buffer is its input, so it is correct unrun; in
		 * place, inputs fill the output, so only allgather's is testable. */
		if (ip && kind != STRATA_COLL_ALLGATHER) {
			strata_coll_release(&cl);
			continue;
		}
		strata_coll_fill(&cl);
		wrong = strata_coll_check(&cl, err, sizeof(err));
		int64_t want = kind == STRATA_COLL_BROADCAST && rank == cfg.root ? 0
			       : kind == STRATA_COLL_ALLGATHER && ip ? (int64_t)(n_out - cl.n.count)
			       : (int64_t)n_out;
		EXPECT(wrong == want, "%s size %zu: unwritten output: check found %lld, want %lld",
		       name, sizes[si], (long long)wrong, (long long)want);
		strata_coll_release(&cl);
	}
#undef EXPECT
	int total = 0;
	MPI_Allreduce(&fails, &total, 1, MPI_INT, MPI_SUM, comm);
	return total;
}

/* The tabulated expected sums equal direct sums over ranks, across whole
 * cycles of 251 ranks too, and stay exact in float (below 2^24). */
static void test_reduction_table(void **unused)
{
	(void)unused;
	static const int ns[] = { 1, 2, 3, 250, 251, 252, 1000, 60000 };
	double table[STRATA_COLL_RED_MOD];
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		strata_coll_red_sum_table(table, ns[i]);
		for (size_t g = 0; g < 3 * STRATA_COLL_RED_MOD; g += 5) {
			double direct = 0;
			for (int r = 0; r < ns[i]; r++)
				direct += (double)(((size_t)r + g) % STRATA_COLL_RED_MOD);
			assert_near(table[g % STRATA_COLL_RED_MOD], direct, 0.0);
			assert_true(direct < 16777216.0);
		}
	}
}

static void test_single_rank_runs(void **unused)
{
	(void)unused;
	char why[1024];
	int fails = coll_checks(MPI_COMM_SELF, why, sizeof(why));
	if (fails)
		fail_msg("%d failures on 1 rank; first: %s", fails, why);
}

/* Spawn SPAWNED_RANKS copies of this program and run the checks on 3 ranks. */
static void test_three_rank_runs(void **unused)
{
	(void)unused;
	char self[4096];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(len > 0);
	self[len] = '\0';
	char *child_argv[] = { "--coll-child", NULL };
	MPI_Comm inter, comm;
	int errcodes[SPAWNED_RANKS];
	MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
	int rc = MPI_Comm_spawn(self, child_argv, SPAWNED_RANKS, MPI_INFO_NULL, 0, MPI_COMM_SELF,
				&inter, errcodes);
	if (rc != MPI_SUCCESS)
		fail_msg("MPI_Comm_spawn of %d copies of %s failed (rc %d)", SPAWNED_RANKS, self, rc);
	MPI_Intercomm_merge(inter, 0, &comm); /* parent first: rank 0 */
	int nranks;
	MPI_Comm_size(comm, &nranks);
	assert_int_equal(nranks, 1 + SPAWNED_RANKS);
	char why[1024];
	int fails = coll_checks(comm, why, sizeof(why));
	MPI_Comm_free(&comm);
	MPI_Comm_disconnect(&inter);
	if (fails)
		fail_msg("%d failures on 3 ranks (rank 0's first: %s)", fails, why);
}

/* ---- the five suites through struct strata_suite --------------------------- */

/* Defaults of every row, except size (a sweep) and the overrides given. */
static void make_params(const struct strata_suite *s, struct strata_params *p, const char *size,
			const char *inplace, const char *dtype)
{
	char err[256];
	memset(p, 0, sizeof(*p));
	p->suite = s;
	for (size_t i = 0; i < s->n_params; i++) {
		const struct strata_param_def *d = &s->params[i];
		const char *text = d->def;
		if (strcmp(d->name, "size") == 0)
			text = size;
		else if (strcmp(d->name, "inplace") == 0)
			text = inplace;
		else if (strcmp(d->name, "dtype") == 0)
			text = dtype;
		if (strata_value_parse(d, text, &p->v[i], err, sizeof(err)) != 0)
			fail_msg("%s.%s = %s: %s", s->name, d->name, text, err);
	}
}

static void test_suites(void **unused)
{
	(void)unused;
	static const char *names[] = { "allreduce", "allgather", "reduce_scatter", "broadcast",
				       "alltoall" };
	char err[512];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct strata_suite *s = strata_suite_find(names[i]);
		assert_non_null(s);
		assert_true(s->flags & STRATA_SUITE_COLLECTIVE);
		assert_non_null(s->setup);
		assert_non_null(s->describe);
		assert_true(strata_param_index(s, "device") >= 0);
		int has_inplace = strata_param_index(s, "inplace") >= 0;
		assert_int_equal(has_inplace, strcmp(names[i], "broadcast") != 0);
		int si = strata_param_index(s, "size");
		assert_true(si >= 0);
		assert_string_equal(s->params[si].def, "{from: 8, to: 64M, factor: 2}");
		assert_int_equal(si, (int)s->n_params - 1); /* size sweeps fastest */

		for (int ip = 0; ip < 2; ip++) {
			struct strata_params p;
			make_params(s, &p, "4100", ip ? "true" : "false", "double");
			struct strata_case c = { .comm = MPI_COMM_WORLD, .rank = 0, .nranks = 1,
						 .local_rank = 0, .local_size = 1, .params = &p,
						 .err = err, .err_len = sizeof(err) };
			void *state = NULL;
			assert_int_equal(s->setup(&c, &state), STRATA_OK);
			for (int it = 0; it < 4; it++)
				assert_int_equal(s->run_once(state, &c), STRATA_OK);
			assert_int_equal(s->verify(state, &c), 0);

			struct strata_metric m[STRATA_MAX_METRICS];
			size_t k = s->metrics(state, &c, 2e-6, m, STRATA_MAX_METRICS);
			assert_int_equal(k, 3);
			assert_near(m[0].value, 2.0, 1e-12);

			json_t *d = json_object();
			s->describe(state, &c, d);
			/* 4100 doubles -> 512 elements (4096 B) at n = 1; allgather,
			 * reduce_scatter and alltoall round 512 to a multiple of 2. */
			assert_int_equal(json_integer_value(json_object_get(d, "bytes")), 4096);
			assert_int_equal(json_integer_value(json_object_get(d, "size_requested_bytes")),
					 4100);
			assert_int_equal(json_integer_value(json_object_get(d, "count")), 512);
			assert_int_equal(json_integer_value(json_object_get(d, "nranks")), 1);
			assert_string_equal(json_string_value(json_object_get(d, "dtype")), "double");
			assert_non_null(json_object_get(d, "busbw_factor"));
			assert_non_null(strstr(json_string_value(json_object_get(d, "formula")),
					       "algbw = S/t"));
			assert_true(json_is_boolean(json_object_get(d, "inplace")));
			json_decref(d);

			/* A corrupted element of the last repetition's output is caught
			 * where verify checks that output (out of place, broadcast). */
			struct strata_coll *cl = state;
			if (!cl->inplace) {
				((double *)cl->recv)[17] = -5.0;
				err[0] = '\0';
				assert_int_equal(s->verify(state, &c), 1);
				assert_non_null(strstr(err, "element 17 of 512"));
				assert_non_null(strstr(err, "got -5"));
			}
			s->teardown(state);
		}
	}
}

static void test_setup_rejects(void **unused)
{
	(void)unused;
	char err[256];
	struct strata_params p;
	const struct strata_suite *s = strata_suite_find("broadcast");
	make_params(s, &p, "64", "false", "float");
	p.v[strata_param_index(s, "root")].i = 5; /* only rank 0 exists */
	struct strata_case c = { .comm = MPI_COMM_WORLD, .nranks = 1, .params = &p, .err = err,
				 .err_len = sizeof(err) };
	void *state = NULL;
	assert_int_equal(s->setup(&c, &state), STRATA_ERROR);
	assert_non_null(strstr(err, "root 5"));

	s = strata_suite_find("allreduce");
	make_params(s, &p, "16G", "false", "float"); /* 4 G floats > INT_MAX */
	assert_int_equal(s->setup(&c, &state), STRATA_SKIP);
	assert_non_null(strstr(err, "MPI's int count"));
}

/* ---- main ----------------------------------------------------------------- */

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	MPI_Comm parent;
	MPI_Comm_get_parent(&parent);
	int world;
	MPI_Comm_size(MPI_COMM_WORLD, &world);
	int rc = 0;
	char why[1024];

	if (parent != MPI_COMM_NULL) { /* spawned by test_three_rank_runs */
		MPI_Comm comm;
		MPI_Intercomm_merge(parent, 1, &comm);
		coll_checks(comm, why, sizeof(why));
		if (why[0])
			fprintf(stderr, "test_coll child: %s\n", why);
		MPI_Comm_free(&comm);
		MPI_Comm_disconnect(&parent);
	} else if (world > 1) { /* under mpirun: only the n-rank checks */
		int rank;
		MPI_Comm_rank(MPI_COMM_WORLD, &rank);
		int fails = coll_checks(MPI_COMM_WORLD, why, sizeof(why));
		if (why[0])
			fprintf(stderr, "rank %d: %s\n", rank, why);
		if (rank == 0)
			printf("%s: %d ranks: %d failed expectations\n", argv[0], world, fails);
		rc = fails ? 1 : 0;
	} else {
		const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_busbw_factors),
			cmocka_unit_test(test_byte_counts),
			cmocka_unit_test(test_metrics),
			cmocka_unit_test(test_reduction_table),
			cmocka_unit_test(test_single_rank_runs),
			cmocka_unit_test(test_suites),
			cmocka_unit_test(test_setup_rejects),
			cmocka_unit_test(test_three_rank_runs),
		};
		rc = cmocka_run_group_tests(tests, NULL, NULL);
	}
	MPI_Finalize();
	return rc;
}
