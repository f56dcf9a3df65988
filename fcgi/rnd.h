/*
 * rnd.h: random numbers that differ between processes and threads, for
 * what must not move in lock step (retry pauses) or collide (lock
 * tokens).  Not for secrets: no promise beyond "unpredictable enough
 * that two processes started together draw differently".
 */
#ifndef RND_H
#define RND_H

#include <stddef.h>

/*
 * Fills buf with n random bytes from the kernel (getrandom(2)).  Should
 * the kernel not answer at once (no entropy yet, or no getrandom), the
 * bytes come from a per-thread generator seeded with the process id,
 * the time and the thread's address.  Thread-safe; never fails.
 */
void	rnd_bytes(void *buf, size_t n);

/* A number in lo..hi (inclusive, lo <= hi), uniform enough for jitter. */
long	rnd_between(long lo, long hi);

#endif /* RND_H */
