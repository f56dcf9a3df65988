/*
 * breaker.c: closed -> (threshold failures) -> open -> (cool-down over)
 * -> one probe -> closed or open again.
 */
#include "breaker.h"

void
breaker_init(struct breaker *b, int threshold, long cooldown_ms)
{
	b->threshold = threshold;
	b->cooldown_ms = cooldown_ms;
	b->failures = 0;
	b->open_until = 0;
	b->probing = 0;
}

int
breaker_allow(struct breaker *b, long long now_ms)
{
	if (b->open_until == 0)
		return 1;
	if (now_ms < b->open_until)
		return 0;
	/* Half-open: one probe, whose record() decides. */
	if (b->probing)
		return 0;
	b->probing = 1;
	return BREAKER_PROBE;
}

int
breaker_open(const struct breaker *b, long long now_ms)
{
	return b->open_until != 0 && (now_ms < b->open_until || b->probing);
}

void
breaker_record(struct breaker *b, int ok, int probe, long long now_ms)
{
	if (probe)
		b->probing = 0;
	if (ok) {
		b->failures = 0;
		b->open_until = 0;
		b->probing = 0;
		return;
	}
	if (b->open_until != 0 || ++b->failures >= b->threshold) {
		b->open_until = now_ms + b->cooldown_ms;
		b->failures = 0;
	}
}

void
breaker_abstain(struct breaker *b, int probe)
{
	if (probe)
		b->probing = 0;
}

long
breaker_retry_after(const struct breaker *b, long long now_ms)
{
	long long	left = b->open_until - now_ms;

	return left <= 1000 ? 1 : (long)((left + 999) / 1000);
}
