/*
 * upstream.h: fetch a path below UPSTREAM_URL into a bounded buffer, with
 * one libcurl easy handle per process, so that connections (and TLS
 * sessions) are kept alive and reused across misses.  Nothing here knows
 * about Redis or about the JSON inside the body.
 */
#ifndef UPSTREAM_H
#define UPSTREAM_H

#include <stddef.h>

#include "err.h"

struct upstream;

/*
 * base is UPSTREAM_URL without a trailing slash.  The whole exchange is
 * bounded by timeout_ms, the body by max_bytes.  Call after
 * curl_global_init().  NULL when libcurl cannot be set up.
 */
struct upstream	*upstream_new(const char *base, long timeout_ms,
		    size_t max_bytes);
void		 upstream_free(struct upstream *);

/*
 * GET base + path.  ERR_OK for a 2xx answer, with *body and *len pointing into
 * a buffer owned by u, valid until the next upstream_fetch; otherwise
 * ERR_NOT_FOUND (404), ERR_UPSTREAM_STATUS (other statuses),
 * ERR_UPSTREAM_TIMEOUT, ERR_UPSTREAM_TOO_BIG or ERR_UPSTREAM_CONNECT, with
 * *body NULL.  *ms is the time the exchange took.
 */
enum err	 upstream_fetch(struct upstream *u, const char *path,
		    const char **body, size_t *len, long *ms);

#endif /* UPSTREAM_H */
