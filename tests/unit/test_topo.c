/* test_topo.c: topology summary, binding plans, NIC choice and binding read
 * back, on hwloc synthetic topologies and the XML fixture of a two-socket
 * node with 8 GPUs and 8 NICs (tests/fixtures/topo/, see make_fixtures.py for
 * its shape and what follows from it). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness/topo.h"
#include "harness/topo_run.h"

static char fixture[4096];

static void find_fixture(void)
{
	/* __FILE__ is this source's absolute path in CMake builds. */
	snprintf(fixture, sizeof(fixture), "%s", __FILE__);
	char *slash = strrchr(fixture, '/');
	*slash = '\0';
	slash = strrchr(fixture, '/'); /* tests/ */
	*slash = '\0';
	strcat(fixture, "/fixtures/topo/two-socket-8gpu-8nic.xml");
}

static void load(struct strata_topo *t, const char *xml, const char *syn)
{
	char err[1024];
	if (strata_topo_load(t, xml, syn, err, sizeof(err)) != 0)
		fail_msg("load: %s", err);
}

static char *plan_cpus(const struct strata_topo *t, enum strata_bind_policy p, int i, int k,
                       int *threads, int *gpu, int *nic)
{
	struct strata_bind_plan plan;
	char err[512];
	if (strata_bind_plan_compute(t, p, i, k, &plan, err, sizeof(err)) != 0)
		fail_msg("plan %s %d/%d: %s", strata_bind_policy_name(p), i, k, err);
	char *s = strata_topo_set_string(plan.cpuset);
	if (threads)
		*threads = plan.threads;
	if (gpu)
		*gpu = plan.gpu;
	if (nic)
		*nic = plan.nic;
	strata_bind_plan_release(&plan);
	return s;
}

static void expect_cpus(const struct strata_topo *t, enum strata_bind_policy p, int i, int k,
                        const char *cpus, int threads)
{
	int th;
	char *got = plan_cpus(t, p, i, k, &th, NULL, NULL);
	if (strcmp(got, cpus) || th != threads)
		fail_msg("%s rank %d of %d: cpus %s threads %d, expected %s threads %d",
		         strata_bind_policy_name(p), i, k, got, th, cpus, threads);
	free(got);
}

static void test_policy_names(void **unused)
{
	(void)unused;
	enum strata_bind_policy p;
	assert_int_equal(strata_bind_policy_parse("gpu-local", &p), 0);
	assert_int_equal(p, STRATA_BIND_GPU_LOCAL);
	assert_int_equal(strata_bind_policy_parse("numa", &p), 0);
	assert_int_equal(p, STRATA_BIND_NUMA);
	assert_int_equal(strata_bind_policy_parse("socket", &p), -1);
	assert_int_equal(strata_bind_policy_parse(NULL, &p), -1);
	assert_string_equal(strata_bind_policy_name(STRATA_BIND_CORE), "core");
}

/* pack:2 numa:2 core:8 pu:2: 4 NUMA nodes of 8 cores of 2 PUs, PUs 0-63. */
static void test_synthetic_core_and_numa(void **unused)
{
	(void)unused;
	struct strata_topo t;
	load(&t, NULL, "pack:2 numa:2 core:8 pu:2");
	assert_int_equal(t.n_gpus, 0);
	/* core: 32 cores in 4 blocks of 8 (16 PUs). */
	expect_cpus(&t, STRATA_BIND_CORE, 0, 4, "0-15", 16);
	expect_cpus(&t, STRATA_BIND_CORE, 3, 4, "48-63", 16);
	/* core: 3 ranks get 10, 11, 11 cores. */
	expect_cpus(&t, STRATA_BIND_CORE, 0, 3, "0-19", 20);
	expect_cpus(&t, STRATA_BIND_CORE, 1, 3, "20-41", 22);
	/* core: more ranks than cores: core i mod 32, two ranks share it. */
	expect_cpus(&t, STRATA_BIND_CORE, 33, 64, "2-3", 1);
	/* numa: one node each, or neighbours sharing a node, or two nodes each. */
	expect_cpus(&t, STRATA_BIND_NUMA, 1, 4, "16-31", 16);
	expect_cpus(&t, STRATA_BIND_NUMA, 5, 8, "32-47", 8);
	expect_cpus(&t, STRATA_BIND_NUMA, 1, 2, "32-63", 32);
	/* gpu-local without GPUs is an error that says so. */
	struct strata_bind_plan plan;
	char err[512];
	assert_int_equal(
	    strata_bind_plan_compute(&t, STRATA_BIND_GPU_LOCAL, 0, 1, &plan, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no GPU"));
	/* none computes nothing. */
	assert_int_equal(
	    strata_bind_plan_compute(&t, STRATA_BIND_NONE, 0, 1, &plan, err, sizeof(err)), 0);
	assert_null(plan.cpuset);
	assert_int_equal(
	    strata_bind_plan_compute(&t, STRATA_BIND_CORE, 4, 4, &plan, err, sizeof(err)), -1);
	/* Applying needs the real machine. */
	char *actual = NULL;
	hwloc_bitmap_t one = hwloc_bitmap_alloc();
	hwloc_bitmap_only(one, 0);
	assert_int_equal(strata_topo_bind_apply(&t, one, &actual, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not this machine"));
	free(actual);
	hwloc_bitmap_free(one);
	strata_topo_release(&t);
}

static void test_fixture_devices_and_summary(void **unused)
{
	(void)unused;
	struct strata_topo t;
	load(&t, fixture, NULL);
	assert_int_equal(t.n_gpus, 8); /* the BMC's VGA is not one */
	assert_int_equal(t.n_nics, 8);
	json_t *s = strata_topo_summary(&t);
	assert_int_equal(json_integer_value(json_object_get(s, "packages")), 2);
	assert_int_equal(json_integer_value(json_object_get(s, "pus")), 32);
	assert_int_equal(json_array_size(json_object_get(s, "gpus")), 8);
	assert_int_equal(json_array_size(json_object_get(s, "nvme")), 2);
	assert_int_equal(json_array_size(json_object_get(s, "storage")), 0);
	json_t *g4 = json_array_get(json_object_get(s, "gpus"), 4);
	assert_string_equal(json_string_value(json_object_get(g4, "pci_bus_id")), "0000:92:00.0");
	assert_int_equal(json_integer_value(json_array_get(json_object_get(g4, "numa_nodes"), 0)),
	                 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(g4, "names"), 0)),
	                    "cuda4");
	json_t *nv1 = json_array_get(json_object_get(s, "nvme"), 1);
	assert_string_equal(json_string_value(json_object_get(nv1, "pci_bus_id")), "0000:b1:00.0");
	assert_int_equal(json_integer_value(json_array_get(json_object_get(nv1, "numa_nodes"), 0)),
	                 1);
	json_t *nic0 = json_array_get(json_object_get(s, "nics"), 0);
	assert_string_equal(json_string_value(json_object_get(nic0, "type")), "infiniband");
	json_t *dist = json_object_get(s, "numa_distances");
	assert_true(json_is_object(dist));
	assert_int_equal(json_integer_value(
	                     json_array_get(json_array_get(json_object_get(dist, "matrix"), 0), 1)),
	                 21);
	assert_int_equal(json_array_size(json_object_get(s, "gpu_nic")), 8);
	json_decref(s);

	/* The XML export loads back to the same devices. */
	char *xml = strata_topo_xml(&t);
	assert_non_null(xml);
	char path[] = "/tmp/strata-topo-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, xml, strlen(xml)), (ssize_t)strlen(xml));
	close(fd);
	free(xml);
	struct strata_topo back;
	load(&back, path, NULL);
	assert_int_equal(back.n_gpus, 8);
	assert_int_equal(back.n_nics, 8);
	strata_topo_release(&back);
	unlink(path);

	/* The tree names GPUs and NICs where they hang. */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	strata_topo_print_tree(&t, f);
	fclose(f);
	assert_non_null(
	    strstr(buf, "PCI 0000:12:00.0 [10de:2330] class 0302 \"cuda0\" \"nvml0\"  <- GPU 0"));
	assert_non_null(strstr(buf, "\"mlx5_3\" \"ib3\"  <- NIC 3 (infiniband)"));
	assert_non_null(strstr(buf, "NUMANode P#1"));
	free(buf);
	strata_topo_release(&t);
}

static void test_fixture_nic_choice(void **unused)
{
	(void)unused;
	struct strata_topo t;
	load(&t, fixture, NULL);
	struct strata_gpu_nic c[8];
	strata_topo_gpu_nics(&t, c);
	/* GPUs 0-2: the NIC in their own switch.  GPU 3: no NIC in its switch;
	 * NIC 3 on the same socket is the fewest hops.  GPUs 4/5 and 6/7 share a
	 * switch with two NICs each: spread, not both on the first. */
	static const int want_nic[8] = {0, 1, 2, 3, 4, 5, 6, 7};
	static const char *const want_path[8] = {"pcie-switch", "pcie-switch", "pcie-switch",
	                                         "numa",        "pcie-switch", "pcie-switch",
	                                         "pcie-switch", "pcie-switch"};
	for (int g = 0; g < 8; g++) {
		if (c[g].nic != want_nic[g] || strcmp(c[g].path, want_path[g]))
			fail_msg("GPU %d: NIC %d via %s, expected NIC %d via %s", g, c[g].nic,
			         c[g].path, want_nic[g], want_path[g]);
	}
	assert_int_equal(c[0].hops, 4);
	assert_int_equal(c[3].hops, 6);
	strata_topo_release(&t);
}

static void test_fixture_gpu_local(void **unused)
{
	(void)unused;
	struct strata_topo t;
	load(&t, fixture, NULL);
	/* One rank per GPU: GPUs 0-3 on socket 0 (PUs 0-15), 4-7 on socket 1;
	 * four ranks share each socket's PUs, so 4 threads each. */
	for (int i = 0; i < 8; i++) {
		int th, gpu, nic;
		char *cpus = plan_cpus(&t, STRATA_BIND_GPU_LOCAL, i, 8, &th, &gpu, &nic);
		assert_string_equal(cpus, i < 4 ? "0-15" : "16-31");
		assert_int_equal(th, 4);
		assert_int_equal(gpu, i);
		assert_int_equal(nic, i);
		free(cpus);
	}
	/* Two ranks per GPU: rank 9 drives GPU 1; 8 ranks share a socket. */
	int th, gpu, nic;
	char *cpus = plan_cpus(&t, STRATA_BIND_GPU_LOCAL, 9, 16, &th, &gpu, &nic);
	assert_string_equal(cpus, "0-15");
	assert_int_equal(gpu, 1);
	assert_int_equal(th, 2);
	free(cpus);
	/* core on the fixture: 8 ranks of 2 cores (4 PUs) each. */
	expect_cpus(&t, STRATA_BIND_CORE, 5, 8, "20-23", 4);
	strata_topo_release(&t);
}

static void test_bind_this_machine(void **unused)
{
	(void)unused;
	struct strata_topo t;
	load(&t, NULL, NULL);
	char err[512];
	hwloc_bitmap_t before = hwloc_bitmap_alloc();
	char *was = strata_topo_binding_get(&t, before);
	assert_non_null(was);
	/* Bind to the first PU we may use, read it back, put it back. */
	hwloc_bitmap_t one = hwloc_bitmap_alloc();
	hwloc_bitmap_only(one,
	                  (unsigned)hwloc_bitmap_first(hwloc_topology_get_allowed_cpuset(t.topo)));
	char *actual = NULL;
	assert_int_equal(strata_topo_bind_apply(&t, one, &actual, err, sizeof(err)), 0);
	char *want = strata_topo_set_string(one);
	assert_string_equal(actual, want);
	free(actual);
	free(want);
	assert_int_equal(strata_topo_bind_apply(&t, before, &actual, err, sizeof(err)), 0);
	assert_string_equal(actual, was);
	free(actual);
	free(was);
	hwloc_bitmap_free(one);
	hwloc_bitmap_free(before);
	strata_topo_release(&t);
}

static void test_binding_record_warns_on_mismatch(void **unused)
{
	(void)unused;
	json_t *ok =
	    json_pack("[{s:i,s:s,s:s,s:b},{s:i,s:s,s:s,s:b}]", "rank", 0, "asked", "0-3", "actual",
	              "0-3", "ok", 1, "rank", 1, "asked", "4-7", "actual", "4-7", "ok", 1);
	json_t *b = strata_topo_binding_record(STRATA_BIND_CORE, ok);
	assert_true(json_is_true(json_object_get(b, "ok")));
	assert_null(json_object_get(b, "warning"));
	json_decref(b);
	json_t *bad =
	    json_pack("[{s:i,s:s,s:s,s:b},{s:i,s:s,s:s,s:b,s:s}]", "rank", 0, "asked", "0-3",
	              "actual", "0-3", "ok", 1, "rank", 1, "asked", "4-7", "actual", "0-7", "ok", 0,
	              "error", "hwloc_set_cpubind(4-7, process): Invalid argument");
	b = strata_topo_binding_record(STRATA_BIND_CORE, bad);
	assert_true(json_is_false(json_object_get(b, "ok")));
	assert_int_equal(json_integer_value(json_object_get(b, "mismatched_ranks")), 1);
	const char *w = json_string_value(json_object_get(b, "warning"));
	assert_non_null(w);
	assert_non_null(strstr(w, "rank 1 asked 4-7, got 0-7"));
	json_decref(b);
}

static void test_xml_names(void **unused)
{
	(void)unused;
	char buf[128];
	strata_topo_xml_name("node-01.cluster", buf, sizeof(buf));
	assert_string_equal(buf, "topology-node-01.cluster.xml");
	strata_topo_xml_name("a/b c", buf, sizeof(buf));
	assert_string_equal(buf, "topology-a_b_c.xml");
}

int main(void)
{
	find_fixture();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policy_names),
	    cmocka_unit_test(test_synthetic_core_and_numa),
	    cmocka_unit_test(test_fixture_devices_and_summary),
	    cmocka_unit_test(test_fixture_nic_choice),
	    cmocka_unit_test(test_fixture_gpu_local),
	    cmocka_unit_test(test_bind_this_machine),
	    cmocka_unit_test(test_binding_record_warns_on_mismatch),
	    cmocka_unit_test(test_xml_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
