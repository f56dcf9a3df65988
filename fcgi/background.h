/*
 * background.h: work that must not delay an answer, run by a pool of
 * threads beside the request threads: the refresh of an entry served
 * stale-while-revalidate, and the gzip form of an entry just stored.
 *
 * Jobs wait in bounded queues (queue.c), one per kind and key at a time;
 * when one is full the job is dropped (the next stale hit asks again) and
 * the request goes on.  Refreshes run on nthreads threads, each with its
 * own Redis connection and libcurl handle; the fill lock in Redis still
 * makes one upstream fetch per key across processes and fronts.  Gzip
 * forms are made by one more thread, at idle CPU priority.
 */
#ifndef BACKGROUND_H
#define BACKGROUND_H

#include <stddef.h>

#include "config.h"
#include "fill.h"

#define BACKGROUND_QUEUE_MAX	1024	/* refreshes waiting */
#define BACKGROUND_GZIP_MAX	64	/* gzip forms waiting, each with its entry */
#define BACKGROUND_GZIP_STOP_MS	2000	/* a stop waits this long for one */

struct background;

/*
 * Starts nthreads refresh threads and the gzip thread (0: none; the jobs
 * then wait for background_drain).  NULL if it cannot be set up.
 */
struct background	*background_start(const struct config *cfg,
			    struct fill_shared *shared, int nthreads);

/*
 * Stops the pools: jobs running finish, jobs waiting are dropped.  1; 0 if
 * the gzip thread was still busy BACKGROUND_GZIP_STOP_MS later (it gets a
 * core only when nothing else wants one): it was left running, and nothing
 * it uses freed (the process is about to exit).
 */
int			 background_stop(struct background *);

/* Queues the refresh of k.  0 queued, -1 dropped. */
int			 background_refresh(struct background *,
			    const struct fill_keys *k);

/*
 * Queues the gzip form of the entry a fill just stored for k (out->stored),
 * if it is worth one (a 200 without one, GZIP_MIN_BYTES or more): takes
 * out->mem, the entry as encoded, queued or dropped (out->e no longer
 * valid then).  0 queued, -1 not.
 */
int			 background_compress(struct background *,
			    const struct fill_keys *k, struct fill_out *out);

/* Runs every waiting job in the caller's thread, with f (CGI). */
void			 background_drain(struct background *,
			    struct fill *f);

#endif /* BACKGROUND_H */
