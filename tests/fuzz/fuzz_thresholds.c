/* fuzz_thresholds.c: libFuzzer target for the acceptance thresholds parser
 * (strata_thresholds_load, reports/check.h): any bytes must give rules or an
 * error naming the file with line and column, never a crash, a leak or
 * undefined behaviour.  Parsed rules are then evaluated (strata_check_run)
 * against a small run of two hosts, as `strata check` does.  The input
 * reaches the path-based loader through a memfd (/proc/self/fd/N). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "reports/check.h"

/* Two records (a rate and a latency) over 4 ranks on 2 hosts. */
static void small_run(struct strata_run *run)
{
	memset(run, 0, sizeof(*run));
	snprintf(run->dir, sizeof(run->dir), "fuzz");
	run->manifest =
	    json_pack("{s:s,s:[{s:s,s:[i,i]},{s:s,s:[i,i]}]}", "run_id", "fuzz", "hosts",
	              "hostname", "a", "ranks", 0, 1, "hostname", "b", "ranks", 2, 3);
	run->records = json_array();
	const char *suites[2] = {"membw", "allreduce"};
	for (int i = 0; i < 2; i++) {
		json_t *per_rank = json_array();
		for (int r = 0; r < 4; r++)
			json_array_append_new(
			    per_rank,
			    json_pack("{s:i,s:s,s:i,s:f,s:f,s:f,s:f,s:{s:s,s:s,s:f}}", "rank", r,
			              "host", r < 2 ? "a" : "b", "n", 5, "median_s", 1e-3 * (r + 1),
			              "mean_s", 1e-3, "min_s", 1e-3, "max_s", 2e-3, "metric",
			              "name", i ? "latency" : "rate", "unit", i ? "us" : "GB/s",
			              "value", 10.0 + r));
		json_t *rec = json_pack(
		    "{s:s,s:s,s:s,s:{s:s,s:I},s:s,s:{s:{s:s,s:b,s:f,s:f,s:f,s:[f,f]}},s:{s:i,s:f},"
		    "s:[f,f,f],s:o}",
		    "suite", suites[i], "variant", "default", "metric_key",
		    i ? "allreduce[size=8]@default" : "membw[kernel=copy]@default", "params",
		    i ? "dtype" : "kernel", i ? "float" : "copy", "size", (json_int_t)8, "status",
		    "passed", "metrics", i ? "latency" : "rate", "unit", i ? "us" : "GB/s",
		    "higher_is_better", !i, "median", 12.5, "best", 10.0, "mean", 13.0,
		    "ci95_median", 11.0, 14.0, "stats", "n", 3, "median", 1e-3, "samples_s", 1e-3,
		    1.1e-3, 0.9e-3, "per_rank", per_rank);
		json_array_append_new(run->records, rec);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	static struct strata_run run;
	static int fd = -1;
	if (!sink) {
		sink = fopen("/dev/null", "w");
		small_run(&run);
		fd = memfd_create("thresholds.yaml", 0);
		if (fd < 0)
			abort();
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	char path[64], err[2048] = "";
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct strata_thresholds t;
	if (strata_thresholds_load(path, &t, err, sizeof(err)) != 0) {
		int line = 0, col = 0;
		char fmt[96];
		snprintf(fmt, sizeof(fmt), "%s:%%d:%%d: ", path);
		if (sscanf(err, fmt, &line, &col) != 2 || line < 1 || col < 1) {
			fprintf(stderr,
			        "fuzz_thresholds: an error without file:line:column: '%s'\n", err);
			abort();
		}
		return 0;
	}
	struct strata_peaks peaks = {0};
	struct strata_check_result res;
	strata_check_run(&run, &t, &peaks, sink, sink, sink, &res);
	strata_thresholds_release(&t);
	return 0;
}
