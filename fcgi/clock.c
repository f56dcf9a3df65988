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
