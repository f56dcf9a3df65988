/*
 * clock.h: the two clocks the responder reads.  Wall time stamps entries
 * (shared across fronts through Redis); monotonic time measures intervals
 * (back-off, latency) and never jumps.
 */
#ifndef CLOCK_H
#define CLOCK_H

long long	clock_wall_ms(void);	/* Unix time, ms */
long long	clock_mono_ms(void);	/* arbitrary origin, ms */
long long	clock_mono_us(void);	/* arbitrary origin, microseconds */

#endif /* CLOCK_H */
