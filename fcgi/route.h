/*
 * route.h: the request line (method, REQUEST_URI) -> a route or an error.
 *
 * Pure: no I/O, no allocation.  The URI is treated as hostile and matched
 * against an allow-list of shapes; nothing is percent-decoded, so "%31" is
 * not "1" and "%2e%2e" is never a dot segment.
 */
#ifndef ROUTE_H
#define ROUTE_H

#include <stddef.h>

#include "err.h"

#define ROUTE_ID_MAX	2147483647L	/* ids fit in 31 bits */

enum route_kind {
	ROUTE_TODOS,		/* GET /get_todos */
	ROUTE_TODO,		/* GET /get_todos/<id> */
	ROUTE_HEALTH,		/* GET /health: never cached */
	ROUTE_METRICS		/* GET /metrics: never cached */
};

struct route {
	enum route_kind	 kind;
	long		 id;	/* ROUTE_TODO: 1..ROUTE_ID_MAX, canonical */
	int		 head;	/* HEAD: answer without a body */
	int		 purge;	/* DELETE: remove the cached entry */
};

/*
 * Parses method and uri (either may be NULL).  The query string is ignored.
 * Returns ERR_OK and fills *r, or ERR_NOT_FOUND (unknown path), ERR_METHOD
 * (known path, method not GET, HEAD or DELETE) or ERR_BAD_ID, leaving *r
 * zeroed.  Whether DELETE is allowed is the caller's decision; /health and
 * /metrics take GET and HEAD only.
 * Leading zeros are accepted and dropped: /get_todos/007 is id 7.
 */
enum err	route_parse(const char *method, const char *uri,
		    struct route *r);

/*
 * Writes the upstream path of r ("/todos" or "/todos/<id>"), which is also
 * the cache key's suffix, into buf.  Returns its length, or -1 if it does
 * not fit or r is not a todos route.
 */
int		route_path(const struct route *r, char *buf, size_t size);

#endif /* ROUTE_H */
