/* test_nn_buckets.c: the gradient all-reduce's bucket arithmetic
 * (kernels/nn/grad_buckets.h) on one rank: which ranges go out when, that
 * they cover the array exactly once, and that one rank leaves the
 * gradients as they were.  The two-rank sums are checked end to end by
 * tests/integration/test_train_mpi.sh (ranks hold identical weights). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <mpi.h>

#include "kernels/nn/grad_buckets.h"

#define N 1000

static float grads[N];

static void fill(void)
{
	for (int i = 0; i < N; i++)
		grads[i] = (float)i * 0.5f;
}

/* Every float of [0, N) in exactly one bucket. */
static void assert_cover(const struct strata_grad_buckets *b)
{
	static int seen[N];
	for (int i = 0; i < N; i++)
		seen[i] = 0;
	for (size_t k = 0; k < b->nbuckets; k++)
		for (size_t i = b->off[k]; i < b->off[k] + b->cnt[k]; i++)
			seen[i]++;
	for (int i = 0; i < N; i++)
		assert_int_equal(seen[i], 1);
}

static void test_overlap_buckets_follow_backward(void **st)
{
	(void)st;
	struct strata_grad_buckets b;
	fill();
	assert_int_equal(strata_grad_buckets_init(&b, MPI_COMM_SELF, grads, N, 100 * sizeof(float), 1), 0);
	strata_grad_buckets_begin(&b);
	/* As gpt.h's backward announces: from the end of the array down. */
	strata_grad_buckets_ready(&b, 900, 100); /* 100 pending: sent */
	assert_int_equal(b.nbuckets, 1);
	assert_int_equal(b.off[0], 900);
	assert_int_equal(b.cnt[0], 100);
	strata_grad_buckets_ready(&b, 700, 200); /* 200: sent */
	assert_int_equal(b.nbuckets, 2);
	assert_int_equal(b.off[1], 700);
	assert_int_equal(b.cnt[1], 200);
	strata_grad_buckets_ready(&b, 650, 50); /* 50: waits */
	assert_int_equal(b.nbuckets, 2);
	strata_grad_buckets_ready(&b, 640, 10); /* 60: waits */
	assert_int_equal(b.nbuckets, 2);
	strata_grad_buckets_ready(&b, 0, 640); /* 700: sent as one */
	assert_int_equal(b.nbuckets, 3);
	assert_int_equal(b.off[2], 0);
	assert_int_equal(b.cnt[2], 700);
	assert_true(b.contiguous);
	double exposed = strata_grad_buckets_finish(&b);
	assert_true(exposed >= 0);
	assert_int_equal(b.nbuckets, 3); /* nothing was left to send */
	assert_cover(&b);
	for (int i = 0; i < N; i++) /* one rank: the mean is the value */
		assert_true(grads[i] == (float)i * 0.5f);
	strata_grad_buckets_release(&b);
}

static void test_last_small_bucket_goes_at_finish(void **st)
{
	(void)st;
	struct strata_grad_buckets b;
	fill();
	assert_int_equal(strata_grad_buckets_init(&b, MPI_COMM_SELF, grads, N, 4096 * sizeof(float), 1), 0);
	strata_grad_buckets_begin(&b);
	strata_grad_buckets_ready(&b, 500, 500);
	strata_grad_buckets_ready(&b, 0, 500);
	assert_int_equal(b.nbuckets, 0); /* bucket larger than the model */
	assert_true(strata_grad_buckets_finish(&b) >= 0);
	assert_int_equal(b.nbuckets, 1);
	assert_cover(&b);
	/* A second step starts from nothing. */
	strata_grad_buckets_begin(&b);
	assert_int_equal(b.nbuckets, 0);
	strata_grad_buckets_release(&b);
}

static void test_no_overlap_sends_everything_at_finish(void **st)
{
	(void)st;
	struct strata_grad_buckets b;
	fill();
	assert_int_equal(strata_grad_buckets_init(&b, MPI_COMM_SELF, grads, N, 300 * sizeof(float), 0), 0);
	strata_grad_buckets_begin(&b);
	strata_grad_buckets_ready(&b, 500, 500);
	strata_grad_buckets_ready(&b, 0, 500);
	assert_int_equal(b.nbuckets, 0);
	assert_true(strata_grad_buckets_finish(&b) >= 0);
	/* 1000 floats in buckets of 300 from the end: 700..1000, 400..700,
	 * 100..400, 0..100. */
	assert_int_equal(b.nbuckets, 4);
	assert_int_equal(b.off[0], 700);
	assert_int_equal(b.off[3], 0);
	assert_int_equal(b.cnt[3], 100);
	assert_cover(&b);
	strata_grad_buckets_release(&b);
}

static void test_gap_sends_pending_range(void **st)
{
	(void)st;
	struct strata_grad_buckets b;
	fill();
	assert_int_equal(strata_grad_buckets_init(&b, MPI_COMM_SELF, grads, N, 1000 * sizeof(float), 1), 0);
	strata_grad_buckets_begin(&b);
	strata_grad_buckets_ready(&b, 800, 200);
	strata_grad_buckets_ready(&b, 0, 800 - 100); /* not adjacent: 700..800 missing */
	assert_false(b.contiguous);
	assert_int_equal(b.nbuckets, 1); /* 800..1000 went as it was */
	strata_grad_buckets_ready(&b, 700, 100);
	assert_true(strata_grad_buckets_finish(&b) >= 0);
	assert_cover(&b);
	strata_grad_buckets_release(&b);
}

static void test_refuses_tiny_bucket(void **st)
{
	(void)st;
	struct strata_grad_buckets b;
	assert_int_equal(strata_grad_buckets_init(&b, MPI_COMM_SELF, grads, N, 2, 1), -1);
}

int main(int argc, char **argv)
{
	MPI_Init(&argc, &argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overlap_buckets_follow_backward),
		cmocka_unit_test(test_last_small_bucket_goes_at_finish),
		cmocka_unit_test(test_no_overlap_sends_everything_at_finish),
		cmocka_unit_test(test_gap_sends_pending_range),
		cmocka_unit_test(test_refuses_tiny_bucket),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	MPI_Finalize();
	return rc;
}
