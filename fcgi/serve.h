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

#include "cache.h"
#include "config.h"
#include "fill.h"
#include "upstream.h"

/* What a responder process keeps between requests. */
struct serve {
	const struct config	*cfg;
	struct cache		*cache;		/* not owned */
	struct fill		 fill;
	int			 refresh;	/* serve_after has work */
	struct fill_keys	 refresh_keys;
};

void	serve_init(struct serve *s, const struct config *cfg,
	    struct cache *cache, struct upstream *upstream);

/* Answers req on req->out.  Always writes a complete answer. */
void	serve_request(struct serve *s, FCGX_Request *req);

/*
 * Work that must not delay the answer, run after FCGX_Finish_r: the
 * refresh of an entry served stale-while-revalidate.
 */
void	serve_after(struct serve *s);

#endif /* SERVE_H */
