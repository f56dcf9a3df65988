/*
 * cache.h: one Redis connection per thread that talks to Redis; get and
 * set an entry by key.  Nothing here knows about HTTP or about the entry format.
 *
 * The connection is made lazily and remade by itself: after a failure no
 * connect is tried again until a back-off (100 ms doubling to 2 s) has
 * passed, so a dead Redis costs a request nothing but ERR_CACHE_DOWN.
 * Every command is bounded by the REDIS_TIMEOUT_MS read/write timeout.
 */
#ifndef CACHE_H
#define CACHE_H

#include <stddef.h>

#include "config.h"
#include "err.h"

struct cache;

/*
 * Counts the connections made so far: a new number means a new connection,
 * which has forgotten any CLIENT TRACKING state of the old one.
 */
unsigned long	 cache_generation(const struct cache *c);

/*
 * Counts the connections that any cache of this process lost after
 * making them: what they read is no longer tracked by Redis.
 */
unsigned long	 cache_losses(void);

/*
 * CLIENT TRACKING on REDIRECT id on the current connection: from now on
 * Redis sends invalidations for the keys this connection reads to the
 * connection with that client id.
 */
enum err	 cache_track(struct cache *c, long long id);

/* Copies target; connects on first use.  NULL only when out of memory. */
struct cache	*cache_new(const struct redis_target *target,
		    long timeout_ms);
void		 cache_free(struct cache *);

/*
 * GET key.  ERR_OK with *val set on a hit, ERR_OK with *val NULL on a miss,
 * ERR_CACHE_DOWN (no connection) or ERR_CACHE_REPLY (Redis said error).
 * *val points into memory owned by c, valid until the next cache_* call.
 */
enum err	 cache_get(struct cache *c, const char *key, size_t keylen,
		    const char **val, size_t *len);

/*
 * GET of n keys in one round trip (MGET).  Same contract as cache_get for
 * each vals[i] and lens[i]; all valid until the next cache_* call.
 */
enum err	 cache_mget(struct cache *c, size_t n, const char *const *keys,
		    const size_t *keylens, const char **vals, size_t *lens);

/* Frees what the last cache_get or cache_mget kept, before a long wait. */
void		 cache_release(struct cache *c);

/*
 * SET key val PX ttl_ms, but only while lock still holds token (the fill
 * that fetched val still owns the key: no purge came in between).
 * ERR_OK, ERR_CACHE_LOCKED when the lock is gone or another's,
 * ERR_CACHE_DOWN or ERR_CACHE_REPLY.
 */
enum err	 cache_store(struct cache *c, const char *key, size_t keylen,
		    const char *val, size_t len, long long ttl_ms,
		    const char *lock, size_t locklen, const char *token,
		    size_t tokenlen);

/*
 * SET key token NX PX ttl_ms: ERR_OK when taken, ERR_CACHE_LOCKED when
 * someone else holds it, or ERR_CACHE_DOWN / ERR_CACHE_REPLY.
 */
enum err	 cache_lock(struct cache *c, const char *key, size_t keylen,
		    const char *token, size_t tokenlen, long long ttl_ms);

/* What a lock's owner leaves for its waiters as it lets go. */
struct cache_note {
	const char	*key;
	size_t		 keylen;
	const char	*val;
	size_t		 len;
	long long	 ttl_ms;	/* > 0 */
};

/*
 * Deletes key only if it still holds token (the owner's release) and, in
 * the same step, sets note (if not NULL) with its TTL.  urgent tries a
 * connection even during the back-off: for right after a lock command
 * failed, when a lock may stand that nobody else would release.
 */
enum err	 cache_unlock(struct cache *c, const char *key, size_t keylen,
		    const char *token, size_t tokenlen,
		    const struct cache_note *note, int urgent);

/*
 * SET key val KEEPTTL, but only while key still holds old exactly (a
 * compare-and-set: a newer entry written meanwhile is left alone).
 */
enum err	 cache_replace(struct cache *c, const char *key, size_t keylen,
		    const char *old, size_t oldlen, const char *val,
		    size_t len);

/* PING: ERR_OK when Redis answers (for /health). */
enum err	 cache_ping(struct cache *c);

/*
 * DEL key and its fill lock, in one step, so that a fill under way
 * cannot store what it fetched before (cache_store); *removed is 1 if
 * key was there, else 0.
 */
enum err	 cache_purge(struct cache *c, const char *key, size_t keylen,
		    const char *lock, size_t locklen, long long *removed);

#endif /* CACHE_H */
