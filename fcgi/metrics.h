/*
 * metrics.h: counters for GET /metrics (Prometheus text format), exact
 * totals across every responder process of one front.
 *
 * The counters live in one shared memory map, incremented with atomic adds
 * (no lock, no system call, no Redis round trip).  With METRICS_FILE set
 * (lighttpd/run sets it to RUNDIR/metrics) every process maps that file;
 * the daemon (--listen) maps anonymous memory before it forks, which its
 * workers share.  With neither, each process counts for itself.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>

enum metrics_route { MR_TODOS, MR_TODO, MR_HEALTH, MR_METRICS, MR_OTHER,
    MR__COUNT };
enum metrics_cache { MC_HIT, MC_MISS, MC_STALE, MC_BYPASS, MC_NONE,
    MC__COUNT };

/* Maps path (NULL: anonymous memory); 0, or -1 (then counts per process). */
int	metrics_open(const char *path);

void	metrics_request(enum metrics_route, int status, const char *x_cache);
void	metrics_upstream(int ok, long ms);	/* one upstream exchange */
void	metrics_redis_error(void);
void	metrics_collapsed(void);		/* a waiter got another's fill */
void	metrics_purge(void);

/*
 * One fetch's outcome as the circuit breaker judges it (ok: a usable 200
 * or a 404), at wall_ms.  Kept for /health, over every process of the
 * front: the failures in a row (0 after any success) and when the last
 * failure was (Unix ms; 0: none since the map was made).
 */
void	metrics_upstream_outcome(int ok, long long wall_ms);
void	metrics_upstream_health(unsigned long long *failures,
	    long long *failed_ms);

#define METRICS_MAX	65536	/* the exposition's size, at most */

/*
 * Writes the exposition into buf.  Returns its length, or -1 if it does
 * not fit.
 */
int	metrics_format(char *buf, size_t size);

#endif /* METRICS_H */
