/* test_numa_matrix.c: the NUMA matrix's placement plan on synthetic
 * topologies (2 and 4 nodes), its kernels and checks on this machine, the
 * kernels bound to the PUs of a 2-node synthetic topology mapped onto this
 * machine's CPUs, and the refusal to place memory on a node that is not
 * there. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/cpu/numa_matrix.h"

static hwloc_topology_t load(const char *synthetic, int this_system)
{
	hwloc_topology_t t;
	assert_int_equal(hwloc_topology_init(&t), 0);
	if (synthetic)
		assert_int_equal(hwloc_topology_set_synthetic(t, synthetic), 0);
	if (this_system) /* bind for real: the synthetic PUs are this machine's */
		hwloc_topology_set_flags(t, HWLOC_TOPOLOGY_FLAG_IS_THISSYSTEM);
	assert_int_equal(hwloc_topology_load(t), 0);
	return t;
}

static void test_plan_two_nodes(void **unused)
{
	(void)unused;
	hwloc_topology_t t = load("numa:2 core:4 pu:1", 0);
	struct strata_numa_plan p;
	char err[256];
	assert_int_equal(strata_numa_plan_build(t, 0, &p, err, sizeof(err)), 0);
	assert_int_equal(p.n_init, 2);
	assert_int_equal(p.n_mem, 2);
	assert_int_equal(p.init_os[1], 1);
	assert_int_equal(p.mem_os[1], 1);
	assert_true(hwloc_bitmap_isset(p.mem_nodeset[1], 1) &&
	            hwloc_bitmap_weight(p.mem_nodeset[1]) == 1);
	assert_int_equal(p.threads[0], 4);
	for (int k = 0; k < 4; k++) {
		assert_int_equal(p.pus[0][k], (unsigned)k);       /* node 0: PUs 0-3 */
		assert_int_equal(p.pus[1][k], (unsigned)(4 + k)); /* node 1: PUs 4-7 */
	}
	strata_numa_plan_release(&p);
	/* 6 threads on 4 cores: round robin. */
	assert_int_equal(strata_numa_plan_build(t, 6, &p, err, sizeof(err)), 0);
	assert_int_equal(p.threads[1], 6);
	assert_int_equal(p.pus[1][4], 4);
	assert_int_equal(p.pus[1][5], 5);
	strata_numa_plan_release(&p);
	hwloc_topology_destroy(t);
}

static void test_plan_four_nodes_smt(void **unused)
{
	(void)unused;
	hwloc_topology_t t = load("pack:2 numa:2 core:8 pu:2", 0);
	struct strata_numa_plan p;
	char err[256];
	assert_int_equal(strata_numa_plan_build(t, 0, &p, err, sizeof(err)), 0);
	assert_int_equal(p.n_init, 4);
	assert_int_equal(p.n_mem, 4);
	/* One thread per core, on the core's first hardware thread. */
	assert_int_equal(p.threads[2], 8);
	for (int k = 0; k < 8; k++)
		assert_int_equal(p.pus[2][k], (unsigned)(32 + 2 * k));
	strata_numa_plan_release(&p);
	hwloc_topology_destroy(t);
}

static void test_kernels_this_machine(void **unused)
{
	(void)unused;
	hwloc_topology_t t = load(NULL, 0);
	struct strata_numa_plan p;
	struct strata_numa_buf b;
	char err[512];
	assert_int_equal(strata_numa_plan_build(t, 0, &p, err, sizeof(err)), 0);
	if (strata_numa_buf_alloc(t, &p, 0, 4 << 20, &b, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	strata_numa_buf_verify_place(t, &p, 0, &b);
	assert_int_not_equal(b.verified, 0); /* on node 0, or the kernel cannot say */

	strata_numa_fill_words(&b);
	uint64_t sum = 0;
	assert_true(strata_numa_read(t, &p, 0, &b, &sum, err, sizeof(err)) > 0);
	assert_true(sum == strata_numa_expected_sum(&b));
	assert_true(strata_numa_write(t, &p, 0, &b, 77, err, sizeof(err)) > 0);
	assert_int_equal(strata_numa_check_write(&b, 77), 0);
	((uint64_t *)b.p)[12345] = 76; /* one wrong word is caught */
	assert_int_equal(strata_numa_check_write(&b, 77), 1);

	strata_numa_fill_chain(&b, 42);
	assert_true(strata_numa_check_chain(&b));
	uint64_t end = 0;
	assert_true(strata_numa_latency(t, &p, 0, &b, 5000, &end, err, sizeof(err)) > 0);
	assert_true(end == strata_numa_walk(&b, 5000));
	assert_true(strata_numa_walk(&b, (int64_t)(b.bytes / STRATA_NUMA_LINE_BYTES)) ==
	            0); /* one cycle */
	/* A line pointing back to the start early splits the cycle: caught. */
	char *base = b.p;
	uint64_t second = strata_numa_walk(&b, 1);
	*(void **)(base + second * STRATA_NUMA_LINE_BYTES) = base;
	assert_false(strata_numa_check_chain(&b));
	strata_numa_buf_free(t, &b);
	strata_numa_plan_release(&p);
	hwloc_topology_destroy(t);
}

/* A synthetic 2-node machine whose PUs 0 and 1 are this machine's: threads
 * of "node 1" really run on PU 1; memory on node 1 is refused, never placed
 * elsewhere in silence. */
static void test_two_node_synthetic_on_this_machine(void **unused)
{
	(void)unused;
	hwloc_topology_t real = load(NULL, 0);
	int pus = hwloc_get_nbobjs_by_type(real, HWLOC_OBJ_PU);
	hwloc_topology_destroy(real);
	if (pus < 2)
		skip();
	hwloc_topology_t t = load("numa:2 core:1 pu:1", 1);
	struct strata_numa_plan p;
	struct strata_numa_buf b;
	char err[512];
	assert_int_equal(strata_numa_plan_build(t, 0, &p, err, sizeof(err)), 0);
	assert_int_equal(p.n_init, 2);
	assert_int_equal(p.pus[1][0], 1);
	/* A plain buffer stands in for node 0's memory. */
	memset(&b, 0, sizeof(b));
	b.bytes = 1 << 20;
	b.p = aligned_alloc(4096, b.bytes);
	strata_numa_fill_words(&b);
	for (int i = 0; i < 2; i++) {
		uint64_t sum = 0;
		if (strata_numa_read(t, &p, i, &b, &sum, err, sizeof(err)) <= 0)
			fail_msg("node %d: %s", i, err);
		assert_true(sum == strata_numa_expected_sum(&b));
	}
	free(b.p);
	int rc = strata_numa_buf_alloc(t, &p, 1, 1 << 20, &b, err, sizeof(err));
	if (rc == 0) { /* only if this machine really has a node 1 */
		strata_numa_buf_verify_place(t, &p, 1, &b);
		assert_int_not_equal(b.verified, 0);
		strata_numa_buf_free(t, &b);
	} else {
		assert_non_null(strstr(err, "NUMA node 1"));
	}
	strata_numa_plan_release(&p);
	hwloc_topology_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plan_two_nodes),
	    cmocka_unit_test(test_plan_four_nodes_smt),
	    cmocka_unit_test(test_kernels_this_machine),
	    cmocka_unit_test(test_two_node_synthetic_on_this_machine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
