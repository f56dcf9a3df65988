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

/* What a responder process keeps between requests. */
struct serve {
	const struct config	*cfg;
	struct cache		*cache;		/* not owned */
	struct local		*local;		/* not owned; may be NULL */
	struct track		*track;		/* not owned; may be NULL */
	unsigned long		 seen_epoch;	/* of track, when last synced */
	unsigned long		 seen_gen;	/* of cache, when last synced */
	struct fill		 fill;
	int			 status;	/* of the answer in hand */
	const char		*x_cache;	/* of the answer in hand */
	long			 upstream_ms;	/* of the answer in hand */
	int			 refresh;	/* serve_after: refresh this */
	struct fill_keys	 refresh_keys;
	char			*compress;	/* serve_after: gzip this entry */
	size_t			 compress_len;
	struct fill_keys	 compress_keys;
};

/* local and track may be NULL: no in-process cache. */
void	serve_init(struct serve *s, const struct config *cfg,
	    struct cache *cache, struct upstream *upstream,
	    struct local *local, struct track *track);

/* Answers req on req->out.  Always writes a complete answer. */
void	serve_request(struct serve *s, struct request *req);

/*
 * Work that must not delay the answer, run after FCGX_Finish_r: the
 * refresh of an entry served stale-while-revalidate, and the gzip form of
 * an entry just filled.
 */
void	serve_after(struct serve *s);

#endif /* SERVE_H */
