/*
 * fill.h: getting an entry into the cache, with one upstream fetch per key
 * across processes and fronts.
 *
 * The first request for a missing (or expired) key takes a lock in Redis
 * (SET lock token NX PX) and fetches; others wait and pick up the entry as
 * soon as it is stored, polling every FILL_POLL_MS.  Only the token's owner
 * releases the lock; a dead owner's lock expires after the upstream
 * timeout, and the next request fetches.  A failed fetch, or a 404 that is
 * not stored (NEGATIVE_TTL=0), leaves a short note with the owner's token
 * as the lock goes, so its waiters answer at once, with the same outcome.
 *
 * A lock command that fails (a timeout: Redis may still run it later, or
 * never) leaves its owner unsure whether it holds the lock.  It gives the
 * lock up: releases it by token at once and leaves a "gone" note under its
 * token, so that a waiter who finds the lock set after all takes it over
 * instead of waiting out its TTL.  So does an owner whose release failed.
 *
 * Within one process the threads that want the same key share one fill
 * (a flight): the first runs the protocol above, the others wait for its
 * outcome without asking Redis or the upstream at all.
 *
 * Also here: the circuit breaker in front of the upstream, and the layout
 * of the keys.  Nothing here knows about HTTP requests or replies.
 */
#ifndef FILL_H
#define FILL_H

#include <pthread.h>
#include <stddef.h>

#include "breaker.h"
#include "cache.h"
#include "config.h"
#include "entry.h"
#include "err.h"
#include "upstream.h"

#define FILL_POLL_MS	10
/*
 * Memory blocks this big and bigger (big bodies, their entries and the
 * commands that store them) are mapped on their own and given back to the
 * system when freed (fill_shared_init sets glibc's M_MMAP_THRESHOLD).
 */
#define FILL_MAP_BYTES	(256 * 1024)
#define FILL_KEY_MAX	(CONFIG_PREFIX_MAX + 48)
#define FILL_TOKEN_MAX	48

/* What the threads of one process share. */
struct fill_shared {
	struct upstream_pool	*pool;		/* upstream connections */
	pthread_mutex_t		 mu;		/* guards all below */
	struct breaker		 breaker;
	struct flight		*flights;	/* fills in progress */
};

/* One thread's: its own Redis connection and libcurl handle. */
struct fill {
	const struct config	*cfg;
	struct fill_shared	*shared;
	struct cache		*cache;
	struct upstream		*upstream;
	char			 token_base[24];
	unsigned long		 tokens;
};

/* The Redis keys of one upstream path. */
struct fill_keys {
	char	 path[32];		/* /todos or /todos/<id> */
	char	 entry[FILL_KEY_MAX];	/* <prefix>/todos/1 */
	char	 lock[FILL_KEY_MAX];	/* <prefix>lock:/todos/1 */
	char	 fail[FILL_KEY_MAX];	/* <prefix>fail:/todos/1 */
	char	 gone[FILL_KEY_MAX];	/* <prefix>gone:/todos/1, + :<token> */
	size_t	 entry_len, lock_len, fail_len, gone_len;
};

enum fill_mode {
	FILL_WAIT,	/* lead if the lock is free, else wait for the owner */
	FILL_TRY,	/* lead if the lock is free, else do nothing */
	FILL_NOSTORE	/* Redis is down: fetch, store nothing */
};

/* What a fill brought; entry memory is the fill_out's own. */
struct fill_out {
	enum err	 err;		/* ERR_OK: e is a 200; ERR_NOT_FOUND:
					   e is a 404; else the failure */
	struct entry	 e;
	char		*mem;		/* backs e: the entry as encoded */
	size_t		 mem_len;
	int		 collapsed;	/* e came from another's fetch */
	int		 stored;	/* e was written to Redis */
	int		 cached;	/* e is in Redis: stored here or by
					   the fill it collapsed into */
	enum err	 bypassed;	/* not ERR_OK: Redis failed (down or
					   erroring), nothing was stored */
	int		 fwd_status;	/* upstream's status; 0: not asked */
	long		 upstream_ms;	/* time spent asking it */
	long		 retry_after;	/* ERR_CIRCUIT_OPEN: seconds */
};

/* 0, or -1 when it cannot be set up (call after curl_global_init). */
int	fill_shared_init(struct fill_shared *sh, const struct config *cfg);
void	fill_shared_destroy(struct fill_shared *sh);

/* Is the circuit open (no upstream calls now)?  For /health. */
int	fill_circuit_open(struct fill_shared *sh);

void	fill_init(struct fill *f, const struct config *cfg,
	    struct fill_shared *shared, struct cache *cache,
	    struct upstream *upstream);

/* Builds the keys of path; -1 if they do not fit. */
int	fill_keys(struct fill_keys *k, const char *prefix, const char *path);

/*
 * Fills k as mode says; *out is always set, free it with fill_out_free.
 * FILL_WAIT and FILL_NOSTORE join a flight of this process for the same
 * key if there is one (out->collapsed); FILL_TRY never waits.
 */
void	fill_run(struct fill *f, const struct fill_keys *k,
	    enum fill_mode mode, struct fill_out *out);
void	fill_out_free(struct fill_out *out);

/* Copies an entry into out (for a waiter, or to keep a stale copy). */
enum err fill_keep(const struct entry *e, struct fill_out *out);

/*
 * Adds the gzip form to the entry stored[len] that this process just
 * wrote for k, if it is worth it and Redis still holds that very entry.
 * Takes a while (gzip.h): run it after the answer is sent.
 */
void	fill_compress(struct fill *f, const struct fill_keys *k,
	    const char *stored, size_t len);

#endif /* FILL_H */
