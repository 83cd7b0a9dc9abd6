/* perfctr.h: Linux perf_event counters (cycles, instructions, last-level
 * cache misses, and the kernel's software counters) summed over every thread
 * of this process while enabled.
 *
 * What it is: per-thread counting fds (perf_event_open(2), pid = each task in
 * /proc/self/task, cpu = -1, user space only) opened once per case and
 * enabled only around the timed phase, so the counts cover the timed
 * repetitions and the votes and barriers between them, never setup or
 * verification.  Counts are scaled for multiplexing as perf(1) does:
 * value x time_enabled / time_running (perf_event_open(2), "read_format").
 * Where the kernel refuses a counter (no PMU in a VM, perf_event_paranoid,
 * seccomp), that counter is recorded as unavailable with the reason.
 * What it is not: a sampler, or a count of threads created after opening
 * (OpenMP and OpenBLAS pools exist by then: setup and warm-up created them).
 */
#ifndef STRATA_PERFCTR_H
#define STRATA_PERFCTR_H

#include <stdint.h>

enum strata_perf_counter {
	STRATA_PERF_CYCLES,
	STRATA_PERF_INSTRUCTIONS,
	STRATA_PERF_LLC_MISSES,
	STRATA_PERF_TASK_CLOCK, /* ns */
	STRATA_PERF_CONTEXT_SWITCHES,
	STRATA_PERF_CPU_MIGRATIONS,
	STRATA_PERF_PAGE_FAULTS,
	STRATA_PERF_N,
};

struct strata_perfctr {
	int opened;
	int n_tasks;
	int *fd;                      /* (n_tasks, STRATA_PERF_N), -1 where not open */
	int available[STRATA_PERF_N]; /* opened on at least one thread */
	char why[STRATA_PERF_N][192]; /* reason when not available */
};

/* Record name of counter i ("cycles", "instructions", "llc_misses",
 * "task_clock_ns", "context_switches", "cpu_migrations", "page_faults"). */
const char *strata_perfctr_name(int i);

/* Open every counter on every thread of this process, disabled.  Returns
 * how many counters are available (0 when none: why[] says why). */
int strata_perfctr_open(struct strata_perfctr *p);
void strata_perfctr_enable(struct strata_perfctr *p);
void strata_perfctr_disable(struct strata_perfctr *p);
/* Scaled sums over threads; -1 for an unavailable counter. */
void strata_perfctr_read(const struct strata_perfctr *p, double values[STRATA_PERF_N]);
void strata_perfctr_close(struct strata_perfctr *p);

#endif
