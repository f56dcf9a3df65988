/*
 * track.h: the invalidation channel of the in-process cache.
 *
 * A thread keeps a second Redis connection subscribed to
 * __redis__:invalidate and hands every key it names to local_invalidate().
 * The cache connection is told to send its invalidations there with
 * CLIENT TRACKING on REDIRECT <id of this connection> (RESP2, Redis 6+).
 * When this connection is lost, the in-process cache is emptied and
 * disabled (local_disable) until a new one is subscribed and the cache
 * connection redirects to it again.
 */
#ifndef TRACK_H
#define TRACK_H

#include "config.h"
#include "local.h"

struct track;

/* Starts the thread; NULL if it cannot (then the local cache stays off). */
struct track	*track_start(const struct redis_target *target,
		    long timeout_ms, struct local *local);

/* Stops and joins the thread. */
void		 track_stop(struct track *);

/*
 * The subscribed connection's client id (0: none) and a counter that
 * changes every time the connection is made or lost.
 */
long long	 track_id(struct track *, unsigned long *epoch);

#endif /* TRACK_H */
