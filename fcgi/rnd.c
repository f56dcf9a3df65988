/*
 * rnd.c: getrandom(2), with a per-thread xorshift generator behind it.
 *
 * Drawn fresh on every call rather than seeded once: a generator seeded
 * before the daemon forks would hand every worker the same sequence.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"
#include "rnd.h"

static _Thread_local uint64_t	state;	/* fallback generator; 0: unseeded */

/* xorshift64*: cheap, and only used when the kernel does not answer. */
static uint64_t
fallback(void)
{
	if (state == 0)
		state = ((uint64_t)getpid() << 32) ^
		    (uint64_t)clock_mono_us() ^ (uint64_t)(uintptr_t)&state ^
		    0x9e3779b97f4a7c15ULL;
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545f4914f6cdd1dULL;
}

void
rnd_bytes(void *buf, size_t n)
{
	unsigned char	*p = buf;
	uint64_t	 x;
	ssize_t		 got;
	size_t		 k;

	while (n > 0) {
		got = getrandom(p, n, GRND_NONBLOCK);
		if (got > 0) {
			p += got;
			n -= (size_t)got;
			continue;
		}
		if (got == -1 && errno == EINTR)
			continue;
		x = fallback();
		k = n < sizeof(x) ? n : sizeof(x);
		memcpy(p, &x, k);
		p += k;
		n -= k;
	}
}

long
rnd_between(long lo, long hi)
{
	uint64_t	x;

	if (hi <= lo)
		return lo;
	rnd_bytes(&x, sizeof(x));
	/* The modulo bias is below 2^-40 for any span jitter uses. */
	return lo + (long)(x % ((uint64_t)(hi - lo) + 1));
}
