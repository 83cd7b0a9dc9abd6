/* loadgen_clock.c: the clocks of the LoadGen-style driver (loadgen.h): the
 * real one (CLOCK_MONOTONIC; waits sleep, then spin) and the virtual one the
 * tests drive.  Not the run loop that reads them (loadgen.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <time.h>

#include "kernels/nn/loadgen.h"

/* Waiting for an arrival: sleep until this long before it, spin the rest. */
#define SPIN_NS 200000

static int64_t real_now_ns(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void real_wait_until_ns(void *ctx, int64_t t_ns)
{
	int64_t now = real_now_ns(ctx);
	if (t_ns - now > SPIN_NS) {
		int64_t wake = t_ns - SPIN_NS;
		struct timespec ts = {.tv_sec = (time_t)(wake / 1000000000LL),
		                      .tv_nsec = (long)(wake % 1000000000LL)};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
	while (real_now_ns(ctx) < t_ns)
		;
}

void strata_loadgen_clock_real(struct strata_loadgen_clock *clk)
{
	*clk = (struct strata_loadgen_clock){
	    .ctx = NULL, .now_ns = real_now_ns, .wait_until_ns = real_wait_until_ns};
}

static int64_t virtual_now_ns(void *ctx)
{
	return ((struct strata_loadgen_vclock *)ctx)->now_ns;
}

static void virtual_wait_until_ns(void *ctx, int64_t t_ns)
{
	struct strata_loadgen_vclock *v = ctx;
	if (t_ns > v->now_ns)
		v->now_ns = t_ns;
}

void strata_loadgen_clock_virtual(struct strata_loadgen_clock *clk, struct strata_loadgen_vclock *v)
{
	*clk = (struct strata_loadgen_clock){
	    .ctx = v, .now_ns = virtual_now_ns, .wait_until_ns = virtual_wait_until_ns};
}

void strata_loadgen_vclock_advance(struct strata_loadgen_vclock *v, int64_t dt_ns)
{
	if (dt_ns > 0)
		v->now_ns += dt_ns;
}
