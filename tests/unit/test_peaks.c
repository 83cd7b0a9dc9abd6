/* test_peaks.c: hardware peaks from manifests (datasheet tables, NIC rates,
 * PCIe links), the peaks file (values, errors with file:line:column), and
 * how a record's figures are recovered from its raw samples. */
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

#include "reports/peaks.h"
#include "reports/run.h"

#define NEAR(a, b, eps) assert_true(fabs((a) - (b)) <= (eps))

static double peak_of(const char *system_json, const char *key)
{
	char text[2048];
	snprintf(text, sizeof(text), "{\"systems\": [%s]}", system_json);
	json_t *m = json_loads(text, 0, NULL);
	assert_non_null(m);
	struct strata_peaks p;
	strata_peaks_from_manifest(m, &p);
	const struct strata_peak *pk = strata_peaks_get(&p, key);
	double v = pk ? pk->value : NAN;
	strata_peaks_release(&p);
	json_decref(m);
	return v;
}

static void test_datasheets(void **unused)
{
	(void)unused;
	/* 8 x DDR4-3200 x 8 B = 204.8 GB/s per socket */
	NEAR(peak_of("{\"cpu_model\": \"AMD EPYC 7763 64-Core Processor\", \"sockets\": 2}",
	             "memory_bandwidth"),
	     409.6, 1e-9);
	/* 12 x DDR5-4800 */
	NEAR(peak_of("{\"cpu_model\": \"AMD EPYC 9654 96-Core Processor\", \"sockets\": 1}",
	             "memory_bandwidth"),
	     460.8, 1e-9);
	/* Sapphire Rapids: 8 x DDR5-4800 */
	NEAR(peak_of("{\"cpu_model\": \"Intel(R) Xeon(R) Platinum 8480+\", \"sockets\": 2}",
	             "memory_bandwidth"),
	     614.4, 1e-9);
	/* Gold 5xxx run slower memory than the table's rows: no guess */
	assert_true(
	    isnan(peak_of("{\"cpu_model\": \"Intel(R) Xeon(R) Gold 5318Y\", \"sockets\": 2}",
	                  "memory_bandwidth")));
	assert_true(
	    isnan(peak_of("{\"cpu_model\": \"AMD EPYC\", \"sockets\": 1}", "memory_bandwidth")));
	/* GPUs by name; the PCIe card is told apart from the SXM module */
	NEAR(peak_of("{\"gpus\": [{\"name\": \"NVIDIA H100 80GB HBM3\"}]}", "gpu_tflops.bfloat16"),
	     989.5, 1e-9);
	NEAR(peak_of("{\"gpus\": [{\"name\": \"NVIDIA H100 PCIe\"}]}", "gpu_tflops.bfloat16"), 756,
	     1e-9);
	NEAR(peak_of("{\"gpus\": [{\"name\": \"NVIDIA H200\"}]}", "gpu_memory_bandwidth"), 4800,
	     1e-9);
	NEAR(peak_of("{\"gpus\": [{\"name\": \"NVIDIA A100-SXM4-40GB\"}]}", "gpu_memory_bandwidth"),
	     1555, 1e-9);
	/* A run with GPU cases: the CUDA devices it used (gpus.devices) and the
	 * peaks it derived for them win over the name table (an idle gen1 link
	 * is not the peak: derived_peaks holds the maximum). */
	const char *cuda =
	    "{\"gpus\": {\"software\": {}, \"devices\": [{\"name\": \"NVIDIA H100 80GB HBM3\", "
	    "\"derived_peaks\": {\"model\": \"H100 SXM5 80GB\", \"table_source\": \"datasheet\", "
	    "\"dense_tflops\": {\"fp64\": 67, \"tf32\": 494.5, \"fp8\": 1979}, \"hbm_gbps\": 3350, "
	    "\"nvlink_gbps_per_direction\": 450, \"nvlink_rule\": \"18 links\", "
	    "\"pcie_gbps_per_direction\": 63.015, \"pcie_rule\": \"gen5 x16\"}}]}}";
	NEAR(peak_of(cuda, "gpu_tflops.float8_e4m3"), 1979, 1e-9);
	NEAR(peak_of(cuda, "gpu_tflops.tfloat32"), 494.5, 1e-9);
	NEAR(peak_of(cuda, "gpu_memory_bandwidth"), 3350, 1e-9);
	NEAR(peak_of(cuda, "nvlink_bandwidth"), 450, 1e-9);
	NEAR(peak_of(cuda, "pcie_bandwidth"), 63.015, 1e-9);
	/* link facts: Gen4 x16 = 16 x 16 GT/s x 128/130 / 8; 2 x 200 Gb/s NICs = 50 GB/s */
	NEAR(peak_of("{\"gpus\": [{\"name\": \"X\", \"pcie_gen\": 4, \"pcie_width\": 16}]}",
	             "pcie_bandwidth"),
	     16 * 16 * 128.0 / 130 / 8, 1e-9);
	NEAR(peak_of(
	         "{\"nics\": [{\"name\": \"mlx5_0\", \"rate_gbps\": 200}, {\"name\": \"mlx5_1\", "
	         "\"speed_mbps\": 200000}]}",
	         "network_bandwidth"),
	     50, 1e-9);
	/* hwloc-only devices (no model names): nothing guessed */
	assert_true(isnan(peak_of("{\"topology\": {\"gpus\": [{\"names\": [\"cuda0\"]}]}}",
	                          "gpu_memory_bandwidth")));
}

static const char *load_file(const char *text, struct strata_peaks *p)
{
	static char err[1024], path[64];
	snprintf(path, sizeof(path), "/tmp/strata-test-peaks-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	err[0] = '\0';
	strata_peaks_load_file(path, p, err, sizeof(err));
	unlink(path);
	const char *colon = strchr(err, ':');
	return colon ? colon + 1 : err; /* without the temporary file's name */
}

static void test_peaks_file(void **unused)
{
	(void)unused;
	struct strata_peaks p = {0};
	strata_peaks_set(&p, "memory_bandwidth", 100, "datasheet");
	assert_string_equal(
	    load_file("memory_bandwidth: {value: 300, source: measured by the vendor}\n"
	              "cpu_gflops_per_core:\n  float64: 41.6\n"
	              "storage_bandwidth: 12.5\n",
	              &p),
	    "");
	NEAR(strata_peaks_get(&p, "memory_bandwidth")->value, 300, 0); /* the file wins */
	assert_non_null(
	    strstr(strata_peaks_get(&p, "memory_bandwidth")->source, "measured by the vendor"));
	NEAR(strata_peaks_get(&p, "cpu_gflops_per_core.float64")->value, 41.6, 0);
	NEAR(strata_peaks_get(&p, "storage_bandwidth")->value, 12.5, 0);
	assert_string_equal(
	    load_file("memory_bandwith: 3\n", &p),
	    "1:1: unknown peak 'memory_bandwith' (known: memory_bandwidth, network_bandwidth, "
	    "intranode_bandwidth, storage_bandwidth, gpu_memory_bandwidth, nvlink_bandwidth, "
	    "pcie_bandwidth, cpu_gflops_per_core.DTYPE, gpu_tflops.DTYPE)");
	assert_string_equal(load_file("gpu_tflops:\n  float128: 3\n", &p),
	                    "2:3: gpu_tflops: unknown data type 'float128'");
	assert_string_equal(load_file("network_bandwidth: -4\n", &p),
	                    "1:20: network_bandwidth: a peak must be > 0");
	assert_string_equal(load_file("network_bandwidth: lots\n", &p),
	                    "1:20: network_bandwidth: expected a number, got 'lots'");
	strata_peaks_release(&p);
}

static void test_figures_from_samples(void **unused)
{
	(void)unused;
	/* busbw = c / t, latency = c' t, worst pair constant */
	json_t *rec =
	    json_pack("{s:{s:f,s:f,s:f},s:[f,f,f],s:{s:{s:s,s:b,s:f,s:f,s:f},s:{s:s,s:b,s:f,s:f,s:"
	              "f},s:{s:s,s:b,s:f,s:f,s:f}}}",
	              "stats", "median", 2.0, "min", 1.0, "mean", 2.5, "samples_s", 1.0, 2.0, 4.5,
	              "metrics", "busbw", "unit", "GB/s", "higher_is_better", 1, "median", 5.0,
	              "best", 10.0, "mean", 4.0, "latency", "unit", "us", "higher_is_better", 0,
	              "median", 2e6, "best", 1e6, "mean", 2.5e6, "worst_pair", "unit", "GB/s",
	              "higher_is_better", 1, "median", 7.0, "best", 7.0, "mean", 7.0);
	assert_int_equal(strata_record_power(rec, "busbw"), -1);
	assert_int_equal(strata_record_power(rec, "latency"), 1);
	assert_int_equal(strata_record_power(rec, "worst_pair"), 0);
	assert_int_equal(strata_record_power(rec, "nothing"), -2);
	double *v;
	size_t n;
	assert_int_equal(strata_record_figures(rec, "busbw", &v, &n), 0);
	assert_int_equal(n, 3);
	NEAR(v[0], 10, 1e-12);
	NEAR(v[1], 5, 1e-12);
	NEAR(v[2], 10 / 4.5, 1e-12);
	free(v);
	NEAR(strata_record_figure_at(rec, "latency", 3.0), 3e6, 1e-6);
	json_decref(rec);
}

static void test_param_matches(void **unused)
{
	(void)unused;
	json_t *p = json_pack("{s:i,s:s,s:b,s:f}", "size", 65536, "dtype", "float", "inplace", 0,
	                      "sleep_us", 50.0);
	assert_true(strata_param_matches(p, "size", "64K"));
	assert_true(strata_param_matches(p, "size", "65536"));
	assert_false(strata_param_matches(p, "size", "64"));
	assert_true(strata_param_matches(p, "dtype", "float"));
	assert_false(strata_param_matches(p, "dtype", "double"));
	assert_true(strata_param_matches(p, "inplace", "false"));
	assert_true(strata_param_matches(p, "sleep_us", "50"));
	assert_false(strata_param_matches(p, "nope", "1"));
	json_decref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_datasheets),
	    cmocka_unit_test(test_peaks_file),
	    cmocka_unit_test(test_figures_from_samples),
	    cmocka_unit_test(test_param_matches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
