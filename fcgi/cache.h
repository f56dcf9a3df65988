/*
 * cache.h: one Redis connection per responder process; get and set an
 * entry by key.  Nothing here knows about HTTP or about the entry format.
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

/* SET key val EX ttl.  ERR_OK, ERR_CACHE_DOWN or ERR_CACHE_REPLY. */
enum err	 cache_set(struct cache *c, const char *key, size_t keylen,
		    const char *val, size_t len, long ttl);

#endif /* CACHE_H */
