/*
 * breaker.h: the circuit breaker in front of the upstream, one per
 * responder process.  After `threshold` failures in a row it opens: no
 * upstream calls for `cooldown_ms`; then one request is let through as a
 * probe, and its outcome closes or reopens the circuit; until it is
 * recorded nobody else is let through.  Pure: the caller passes the
 * monotonic time, and serializes the calls (one breaker per process, shared
 * by its threads).
 */
#ifndef BREAKER_H
#define BREAKER_H

struct breaker {
	int		 threshold;
	long		 cooldown_ms;
	int		 failures;	/* in a row */
	long long	 open_until;	/* 0: closed */
	int		 probing;	/* half-open: the probe is out */
};

void	breaker_init(struct breaker *b, int threshold, long cooldown_ms);

#define BREAKER_PROBE	2

/*
 * 1: call the upstream (closed), BREAKER_PROBE: call it as the probe
 * (half-open), then record the outcome either way; 0: open, or half-open
 * with the probe still out.
 */
int	breaker_allow(struct breaker *b, long long now_ms);

/* Open (or half-open with the probe out) at now_ms?  Asks, takes nothing. */
int	breaker_open(const struct breaker *b, long long now_ms);

/*
 * Records the outcome of an allowed call; probe: it was let through as the
 * probe.  Only the probe's outcome lets another probe out: a call let
 * through before the circuit opened may end while the probe is out.
 */
void	breaker_record(struct breaker *b, int ok, int probe, long long now_ms);

/*
 * An allowed call whose outcome says nothing of the upstream (it was given
 * less than the full time, and ran out): no verdict; if it was the probe,
 * another may go out.
 */
void	breaker_abstain(struct breaker *b, int probe);

/* Whole seconds (>= 1) until a probe is let through; for Retry-After. */
long	breaker_retry_after(const struct breaker *b, long long now_ms);

#endif /* BREAKER_H */
