/*
 * local.h: the in-process cache in front of Redis, one per responder.
 *
 * It holds copies of fresh entries (the exact bytes Redis holds), keyed
 * like Redis, bounded in bytes (least recently used goes first), each kept
 * only until its entry's freshness ends.  Coherence with Redis comes from
 * Redis itself: the cache connection reads with CLIENT TRACKING on, and
 * the invalidation channel (track.c) calls local_invalidate() for every key
 * another client changes or deletes, or local_disable() when it loses
 * Redis.  A disabled cache holds nothing and finds nothing.
 *
 * The request thread calls local_get/local_done/local_put; the
 * invalidation thread calls local_invalidate/local_disable.  A mutex
 * guards everything; a hit allocates nothing and makes no system call.
 */
#ifndef LOCAL_H
#define LOCAL_H

#include <stddef.h>

struct local;

/* max_bytes == 0: no cache (every call is a cheap no-op). */
struct local	*local_new(size_t max_bytes);
void		 local_free(struct local *);

/*
 * Looks key up.  On a hit returns 1 with *val and *len pointing at the
 * stored bytes, and the cache stays locked until local_done().  Returns 0
 * (nothing locked) on a miss, an expired copy, or a disabled cache.
 */
int		 local_get(struct local *l, const char *key, size_t keylen,
		    long long now_ms, const char **val, size_t *len);
void		 local_done(struct local *l);

/*
 * A token for a Redis read about to be made: local_put() of what that read
 * returned is refused if any invalidation arrived in between, so a copy is
 * never older than what Redis said last.
 */
unsigned long	 local_mark(struct local *l);

/* Copies val (an entry fresh until expires_ms) in, if mark still holds. */
void		 local_put(struct local *l, unsigned long mark, const char *key,
		    size_t keylen, const char *val, size_t len,
		    long long expires_ms);

/* Invalidation thread: key changed in Redis (NULL: everything did). */
void		 local_invalidate(struct local *l, const char *key,
		    size_t keylen);

/* Empties the cache and keeps it empty until local_enable(). */
void		 local_disable(struct local *l);
void		 local_enable(struct local *l);
int		 local_enabled(struct local *l);

#endif /* LOCAL_H */
