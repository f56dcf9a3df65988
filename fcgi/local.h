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
 * Request threads call local_get/local_release/local_put; the
 * invalidation thread calls local_invalidate/local_disable.  A mutex
 * guards the table and is held only inside these calls, never while a
 * hit is written to a client: a hit takes a reference to its node, which
 * stays readable (even if invalidated or evicted meanwhile) until
 * local_release().  A hit allocates nothing and makes no system call.
 */
#ifndef LOCAL_H
#define LOCAL_H

#include <stddef.h>

struct local;

/* max_bytes == 0: no cache (every call is a cheap no-op). */
struct local	*local_new(size_t max_bytes);
void		 local_free(struct local *);

/*
 * Looks key up.  On a hit returns a reference, with *val and *len pointing
 * at the stored bytes until local_release(ref).  Returns NULL on a miss,
 * an expired copy, or a disabled cache.
 */
struct local_ref;
struct local_ref *local_get(struct local *l, const char *key, size_t keylen,
		    long long now_ms, const char **val, size_t *len);
void		 local_release(struct local *l, struct local_ref *ref);

/*
 * losses counts the Redis connections lost so far by this process: when
 * it moved on since the last call, copies read through a lost connection
 * may no longer be invalidated by Redis, so the cache is emptied.  Cheap
 * when nothing changed (one atomic load).
 */
void		 local_losses(struct local *l, unsigned long losses);

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
