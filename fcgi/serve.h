/*
 * serve.h: one request, from its parameters to its answer.  This is the
 * only module that knows the order of things:
 *
 *	route -> cache -> (upstream -> body -> entry -> cache) -> reply
 */
#ifndef SERVE_H
#define SERVE_H

#include <fcgiapp.h>

#include "cache.h"
#include "config.h"
#include "upstream.h"

/* What a responder process keeps between requests; none of it owned. */
struct serve {
	const struct config	*cfg;
	struct cache		*cache;
	struct upstream		*upstream;
};

/* Answers req on req->out.  Always writes a complete answer. */
void	serve_request(struct serve *s, FCGX_Request *req);

#endif /* SERVE_H */
