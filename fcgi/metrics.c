/*
 * metrics.c: a fixed struct of 64-bit atomic counters in shared memory.
 * Lock-free atomics on naturally aligned 64-bit words work across
 * processes that map the same memory.
 */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fmt.h"
#include "metrics.h"

static const int statuses[] = { 200, 304, 400, 401, 404, 405, 500, 502,
    503, 504 };
#define NSTATUS		(sizeof(statuses) / sizeof(statuses[0]))
#define STATUS_OTHER	NSTATUS

/* Upper bounds of the upstream latency buckets, in ms. */
static const long buckets_ms[] = { 5, 10, 25, 50, 100, 250, 500, 1000,
    2500, 5000, 10000 };
#define NBUCKETS	(sizeof(buckets_ms) / sizeof(buckets_ms[0]))

struct counters {
	atomic_uint_least64_t	requests[MR__COUNT][NSTATUS + 1][MC__COUNT];
	atomic_uint_least64_t	upstream[2];		/* failed, ok */
	atomic_uint_least64_t	latency[NBUCKETS + 1];	/* last: +Inf */
	atomic_uint_least64_t	latency_sum_ms;
	atomic_uint_least64_t	redis_errors;
	atomic_uint_least64_t	collapsed;
	atomic_uint_least64_t	purges;
	/* For /health, not exposed: the upstream as the breaker sees it. */
	atomic_uint_least64_t	upstream_streak;	/* failures in a row */
	atomic_uint_least64_t	upstream_failed_ms;	/* wall ms of the last */
};

static struct counters	 own;		/* until metrics_open maps */
static struct counters	*m = &own;

int
metrics_open(const char *path)
{
	void	*p;
	int	 fd = -1;

	if (m != &own)
		return 0;	/* mapped already: the daemon's, before fork */
	if (path != NULL) {
		if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
			return -1;
		/* Zero-filled by the first process; the same size for all. */
		if (ftruncate(fd, sizeof(struct counters)) == -1) {
			(void)close(fd);
			return -1;
		}
	}
	p = mmap(NULL, sizeof(struct counters), PROT_READ | PROT_WRITE,
	    path != NULL ? MAP_SHARED : MAP_SHARED | MAP_ANONYMOUS, fd, 0);
	if (fd != -1)
		(void)close(fd);
	if (p == MAP_FAILED)
		return -1;
	m = p;
	return 0;
}

static size_t
status_index(int status)
{
	size_t	i;

	for (i = 0; i < NSTATUS; i++)
		if (statuses[i] == status)
			return i;
	return STATUS_OTHER;
}

static enum metrics_cache
cache_index(const char *x)
{
	if (x == NULL)
		return MC_NONE;
	switch (x[0]) {
	case 'H': return MC_HIT;
	case 'M': return MC_MISS;
	case 'S': return MC_STALE;
	case 'B': return MC_BYPASS;
	default:  return MC_NONE;
	}
}

void
metrics_request(enum metrics_route r, int status, const char *x_cache)
{
	if ((unsigned)r >= MR__COUNT)
		r = MR_OTHER;
	atomic_fetch_add_explicit(
	    &m->requests[r][status_index(status)][cache_index(x_cache)], 1,
	    memory_order_relaxed);
}

void
metrics_upstream(int ok, long ms)
{
	size_t	i;

	for (i = 0; i < NBUCKETS && ms > buckets_ms[i]; i++)
		;
	atomic_fetch_add_explicit(&m->upstream[ok != 0], 1,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&m->latency[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->latency_sum_ms,
	    ms > 0 ? (uint64_t)ms : 0, memory_order_relaxed);
}

void
metrics_redis_error(void)
{
	atomic_fetch_add_explicit(&m->redis_errors, 1, memory_order_relaxed);
}

void
metrics_collapsed(void)
{
	atomic_fetch_add_explicit(&m->collapsed, 1, memory_order_relaxed);
}

void
metrics_purge(void)
{
	atomic_fetch_add_explicit(&m->purges, 1, memory_order_relaxed);
}

void
metrics_upstream_outcome(int ok, long long wall_ms)
{
	if (ok) {
		/* Loaded first: no shared write per fetch while all is well. */
		if (atomic_load_explicit(&m->upstream_streak,
		    memory_order_relaxed) != 0)
			atomic_store_explicit(&m->upstream_streak, 0,
			    memory_order_relaxed);
		return;
	}
	atomic_store_explicit(&m->upstream_failed_ms,
	    wall_ms > 0 ? (uint64_t)wall_ms : 0, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->upstream_streak, 1,
	    memory_order_relaxed);
}

void
metrics_upstream_health(unsigned long long *failures, long long *failed_ms)
{
	*failures = atomic_load_explicit(&m->upstream_streak,
	    memory_order_relaxed);
	*failed_ms = (long long)atomic_load_explicit(&m->upstream_failed_ms,
	    memory_order_relaxed);
}

static uint64_t
get(atomic_uint_least64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

int
metrics_format(char *buf, size_t size)
{
	static const char *const routes[] = { "todos", "todo", "health",
	    "metrics", "other" };
	static const char *const caches[] = { "HIT", "MISS", "STALE", "BYPASS",
	    "none" };
	size_t		 off = 0, r, s, c, i;
	uint64_t	 v, cum = 0;
	char		 status[8];

	if (fmt_add(buf, size, &off,
	    "# HELP todos_requests_total Requests answered, by route, status "
	    "and cache result.\n# TYPE todos_requests_total counter\n") == -1)
		return -1;
	for (r = 0; r < MR__COUNT; r++)
		for (s = 0; s <= NSTATUS; s++)
			for (c = 0; c < MC__COUNT; c++) {
				if ((v = get(&m->requests[r][s][c])) == 0)
					continue;
				(void)snprintf(status, sizeof(status), "%d",
				    s < NSTATUS ? statuses[s] : 0);
				if (fmt_add(buf, size, &off,
				    "todos_requests_total{route=\"%s\","
				    "status=\"%s\",cache=\"%s\"} %llu\n",
				    routes[r], s < NSTATUS ? status : "other",
				    caches[c], (unsigned long long)v) == -1)
					return -1;
			}
	if (fmt_add(buf, size, &off,
	    "# HELP todos_upstream_requests_total Upstream exchanges, by "
	    "outcome (200 and 404 are ok).\n"
	    "# TYPE todos_upstream_requests_total counter\n"
	    "todos_upstream_requests_total{outcome=\"ok\"} %llu\n"
	    "todos_upstream_requests_total{outcome=\"error\"} %llu\n"
	    "# HELP todos_upstream_duration_seconds Upstream exchange time.\n"
	    "# TYPE todos_upstream_duration_seconds histogram\n",
	    (unsigned long long)get(&m->upstream[1]),
	    (unsigned long long)get(&m->upstream[0])) == -1)
		return -1;
	for (i = 0; i <= NBUCKETS; i++) {
		cum += get(&m->latency[i]);
		if (i < NBUCKETS ? fmt_add(buf, size, &off,
		    "todos_upstream_duration_seconds_bucket{le=\"%g\"} %llu\n",
		    buckets_ms[i] / 1000.0, (unsigned long long)cum) :
		    fmt_add(buf, size, &off,
		    "todos_upstream_duration_seconds_bucket{le=\"+Inf\"} "
		    "%llu\n", (unsigned long long)cum))
			return -1;
	}
	if (fmt_add(buf, size, &off,
	    "todos_upstream_duration_seconds_sum %.3f\n"
	    "todos_upstream_duration_seconds_count %llu\n"
	    "# HELP todos_redis_errors_total Redis commands that failed.\n"
	    "# TYPE todos_redis_errors_total counter\n"
	    "todos_redis_errors_total %llu\n"
	    "# HELP todos_coalesced_waits_total Requests answered from "
	    "another request's upstream fetch.\n"
	    "# TYPE todos_coalesced_waits_total counter\n"
	    "todos_coalesced_waits_total %llu\n"
	    "# HELP todos_purges_total Entries purged by DELETE.\n"
	    "# TYPE todos_purges_total counter\n"
	    "todos_purges_total %llu\n",
	    get(&m->latency_sum_ms) / 1000.0, (unsigned long long)cum,
	    (unsigned long long)get(&m->redis_errors),
	    (unsigned long long)get(&m->collapsed),
	    (unsigned long long)get(&m->purges)) == -1)
		return -1;
	return (int)off;
}
