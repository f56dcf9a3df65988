/*
 * serve.h: one request, from its parameters to its answer.  This is the
 * only module that knows the order of things:
 *
 *	route -> cache -> fill (lock, upstream, body, entry, cache) -> reply
 *
 * and the only one that decides what X-Cache and Cache-Status say.
 */
#ifndef SERVE_H
#define SERVE_H

#include <fcgiapp.h>

#include "reply.h"

#include "background.h"
#include "cache.h"
#include "config.h"
#include "fill.h"
#include "local.h"
#include "track.h"
#include "upstream.h"

/*
 * One request as the server handed it over: its parameters (FastCGI
 * params, or the environment of a CGI program) and where the answer goes.
 */
struct request {
	char		**envp;
	struct out	  out;
};

/* What the threads of a responder process share; worker.c sets it up. */
struct serve_shared {
	const struct config	*cfg;
	struct fill_shared	 fill;		/* breaker, flights */
	struct local		*local;		/* may be NULL */
	struct track		*track;		/* may be NULL */
	struct background	*background;	/* refreshes, gzip forms */
};

/* What one request thread keeps between its requests. */
struct serve {
	struct serve_shared	*sh;
	const struct config	*cfg;
	struct cache		*cache;		/* this thread's; not owned */
	struct fill		 fill;
	unsigned long		 seen_epoch;	/* of track, when last synced */
	unsigned long		 seen_gen;	/* of cache, when last synced */
	int			 tracking;	/* seen_gen's reads are tracked */
	int			 status;	/* of the answer in hand */
	const char		*x_cache;	/* of the answer in hand */
	long			 upstream_ms;	/* of the answer in hand */
};

void	serve_init(struct serve *s, struct serve_shared *sh,
	    struct cache *cache, struct upstream *upstream);

/*
 * Answers req on req->out.  Always writes a complete answer; work that
 * must not delay it (a stale entry's refresh, the gzip form of an entry
 * just stored) goes to sh->background.
 */
void	serve_request(struct serve *s, struct request *req);

#endif /* SERVE_H */
