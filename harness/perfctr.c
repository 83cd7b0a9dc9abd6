/* perfctr.c: perf_event counters over every thread of the process (see
 * perfctr.h).  Linux only; elsewhere every counter is unavailable. */
#define _GNU_SOURCE
#include "harness/perfctr.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#endif

#define MAX_TASKS 4096

const char *strata_perfctr_name(int i)
{
	static const char *const names[STRATA_PERF_N] = {
	    "cycles",           "instructions",   "llc_misses",  "task_clock_ns",
	    "context_switches", "cpu_migrations", "page_faults",
	};
	return i >= 0 && i < STRATA_PERF_N ? names[i] : "?";
}

#ifdef __linux__
static void attr_of(int i, struct perf_event_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	a->disabled = 1;
	a->exclude_kernel = 1; /* allowed at perf_event_paranoid <= 2 for one's own threads */
	a->exclude_hv = 1;
	a->read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
	static const struct {
		unsigned type;
		unsigned long long config;
	} ev[STRATA_PERF_N] = {
	    {PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES},
	    {PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS},
	    /* "cache-misses": on x86 the last-level cache (perf_event_open(2)). */
	    {PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES},
	    {PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK},
	    {PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES},
	    {PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS},
	    {PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS},
	};
	a->type = ev[i].type;
	a->config = ev[i].config;
	if (a->type == PERF_TYPE_SOFTWARE)
		a->exclude_kernel = 0; /* software events are counted by the kernel itself */
}

static int paranoid(void)
{
	int v = -99;
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -99;
		fclose(f);
	}
	return v;
}

static void explain(int err, char *why, size_t len)
{
	switch (err) {
	case ENOENT:
	case EOPNOTSUPP:
		snprintf(why, len,
		         "perf_event_open: %s: this CPU or hypervisor exposes no such hardware "
		         "event (a VM without a virtual PMU?)",
		         strerror(err));
		break;
	case EACCES:
	case EPERM:
		snprintf(why, len,
		         "perf_event_open: %s (kernel.perf_event_paranoid = %d; lower it, or "
		         "grant CAP_PERFMON)",
		         strerror(err), paranoid());
		break;
	case ENOSYS:
		snprintf(why, len,
		         "perf_event_open: %s (kernel without perf events, or blocked by seccomp)",
		         strerror(err));
		break;
	default:
		snprintf(why, len, "perf_event_open: %s", strerror(err));
	}
}
#endif

int strata_perfctr_open(struct strata_perfctr *p)
{
	memset(p, 0, sizeof(*p));
#ifndef __linux__
	for (int i = 0; i < STRATA_PERF_N; i++)
		snprintf(p->why[i], sizeof(p->why[i]), "perf_event is Linux only");
	return 0;
#else
	int tids[MAX_TASKS], n = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	while (d && (de = readdir(d)) && n < MAX_TASKS) {
		int tid = atoi(de->d_name);
		if (tid > 0)
			tids[n++] = tid;
	}
	if (d)
		closedir(d);
	if (n == 0)
		tids[n++] = 0; /* the calling thread */
	p->fd = malloc((size_t)n * STRATA_PERF_N * sizeof(*p->fd));
	if (!p->fd) {
		for (int i = 0; i < STRATA_PERF_N; i++)
			snprintf(p->why[i], sizeof(p->why[i]), "out of memory");
		return 0;
	}
	p->n_tasks = n;
	p->opened = 1;
	int avail = 0;
	for (int i = 0; i < STRATA_PERF_N; i++) {
		struct perf_event_attr a;
		attr_of(i, &a);
		int first_err = 0;
		for (int t = 0; t < n; t++) {
			int fd = (int)syscall(SYS_perf_event_open, &a, tids[t], -1, -1,
			                      PERF_FLAG_FD_CLOEXEC);
			if (fd < 0 && !first_err)
				first_err = errno;
			/* A thread that exited since the listing is simply not counted. */
			p->fd[t * STRATA_PERF_N + i] = fd;
			if (fd >= 0)
				p->available[i] = 1;
			if (fd < 0 && t == 0 && first_err != ESRCH) {
				/* Refused on the first thread: refused everywhere; do not try the
				 * rest. */
				for (int u = 1; u < n; u++)
					p->fd[u * STRATA_PERF_N + i] = -1;
				break;
			}
		}
		if (p->available[i])
			avail++;
		else
			explain(first_err ? first_err : ESRCH, p->why[i], sizeof(p->why[i]));
	}
	return avail;
#endif
}

#ifdef __linux__
static void ioctl_all(struct strata_perfctr *p, unsigned long req)
{
	for (int k = 0; p->opened && k < p->n_tasks * STRATA_PERF_N; k++)
		if (p->fd[k] >= 0)
			ioctl(p->fd[k], req, 0);
}
#endif

void strata_perfctr_enable(struct strata_perfctr *p)
{
#ifdef __linux__
	ioctl_all(p, PERF_EVENT_IOC_ENABLE);
#else
	(void)p;
#endif
}

void strata_perfctr_disable(struct strata_perfctr *p)
{
#ifdef __linux__
	ioctl_all(p, PERF_EVENT_IOC_DISABLE);
#else
	(void)p;
#endif
}

void strata_perfctr_read(const struct strata_perfctr *p, double values[STRATA_PERF_N])
{
	for (int i = 0; i < STRATA_PERF_N; i++) {
		values[i] = p->available[i] ? 0 : -1;
#ifdef __linux__
		for (int t = 0; p->opened && t < p->n_tasks; t++) {
			int fd = p->fd[t * STRATA_PERF_N + i];
			uint64_t buf[3]; /* value, time_enabled, time_running */
			if (fd < 0 || read(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
				continue;
			double v = (double)buf[0];
			if (buf[2] > 0 && buf[2] < buf[1])
				v *= (double)buf[1] / (double)buf[2];
			values[i] += v;
		}
#endif
	}
}

void strata_perfctr_close(struct strata_perfctr *p)
{
	for (int k = 0; p->opened && k < p->n_tasks * STRATA_PERF_N; k++)
		if (p->fd[k] >= 0)
			close(p->fd[k]);
	free(p->fd);
	memset(p, 0, sizeof(*p));
}
