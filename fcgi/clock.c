/*
 * clock.c: millisecond readings of CLOCK_REALTIME and CLOCK_MONOTONIC.
 */
#include <time.h>

#include "clock.h"

static long long
ms(clockid_t id)
{
	struct timespec	ts;

	if (clock_gettime(id, &ts) == -1)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
clock_wall_ms(void)
{
	return ms(CLOCK_REALTIME);
}

long long
clock_mono_ms(void)
{
	return ms(CLOCK_MONOTONIC);
}

long long
clock_mono_us(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct timespec
clock_after(clockid_t id, long long ms)
{
	struct timespec	ts;

	(void)clock_gettime(id, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}
