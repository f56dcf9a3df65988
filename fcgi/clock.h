/*
 * clock.h: the two clocks the responder reads.  Wall time stamps entries
 * (shared across fronts through Redis); monotonic time measures intervals
 * (back-off, latency) and never jumps.
 */
#ifndef CLOCK_H
#define CLOCK_H

#include <time.h>

long long	clock_wall_ms(void);	/* Unix time, ms */
long long	clock_mono_ms(void);	/* arbitrary origin, ms */
long long	clock_mono_us(void);	/* arbitrary origin, microseconds */

/* The time ms from now on clock id, as a timespec (for timed waits). */
struct timespec	clock_after(clockid_t id, long long ms);

#endif /* CLOCK_H */
