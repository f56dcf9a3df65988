/*
 * track.h: the invalidation channel of the in-process cache.
 *
 * A thread keeps a second Redis connection subscribed to
 * __redis__:invalidate and hands every key it names to local_invalidate().
 * The cache connection is told to send its invalidations there with
 * CLIENT TRACKING on REDIRECT <id of this connection> (RESP2, Redis 6+).
 * While it is subscribed the in-process cache is on; when it is lost, the
 * cache is emptied and disabled (local_disable) until a new one is
 * subscribed.  Each request thread keeps copies only of what its own
 * connection read while redirecting to the current channel (serve.c).
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
