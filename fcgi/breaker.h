/*
 * breaker.h: the circuit breaker in front of the upstream, one per
 * responder process.  After `threshold` failures in a row it opens: no
 * upstream calls for `cooldown_ms`; then one request is let through as a
 * probe, and its outcome closes or reopens the circuit.  Pure: the caller
 * passes the monotonic time.
 */
#ifndef BREAKER_H
#define BREAKER_H

struct breaker {
	int		 threshold;
	long		 cooldown_ms;
	int		 failures;	/* in a row */
	long long	 open_until;	/* 0: closed */
};

void	breaker_init(struct breaker *b, int threshold, long cooldown_ms);

/* 1: call the upstream (closed, or this is the probe); 0: open. */
int	breaker_allow(struct breaker *b, long long now_ms);

/* Records the outcome of an allowed call. */
void	breaker_record(struct breaker *b, int ok, long long now_ms);

/* Whole seconds (>= 1) until a probe is let through; for Retry-After. */
long	breaker_retry_after(const struct breaker *b, long long now_ms);

#endif /* BREAKER_H */
