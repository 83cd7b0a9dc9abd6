/* timer.h: the one clock strata measures with.
 *
 * CLOCK_MONOTONIC via clock_gettime, in integer nanoseconds (the unit is in
 * the type's name so nobody mixes it with seconds).  Recorded in every
 * manifest as the timer used.
 */
#ifndef STRATA_TIMER_H
#define STRATA_TIMER_H

#include <stdint.h>
#include <time.h>

typedef int64_t strata_monotime_ns;

#define STRATA_TIMER_NAME "clock_gettime(CLOCK_MONOTONIC)"

static inline strata_monotime_ns strata_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Wall-clock milliseconds since the epoch, for MLLOG time_ms and manifests. */
static inline int64_t strata_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

#endif
