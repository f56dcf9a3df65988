/*
 * serve.c: the life of one request.
 *
 * A hit is one Redis GET and a reply from hiredis's buffer.  A miss, or a
 * Redis that is down (BYPASS), asks the upstream, compacts and checks the
 * JSON, and (unless Redis is down) stores the entry with an EX of
 * CACHE_TTL.  Every failure ends in reply_error(), which picks the status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "clock.h"
#include "entry.h"
#include "log.h"
#include "reply.h"
#include "route.h"
#include "serve.h"

#define KEY_MAX	(CONFIG_PREFIX_MAX + 32)

/* Writes the answer from a decoded entry; 0 if it was served. */
static int
serve_hit(FCGX_Request *req, const struct route *r, const char *val,
    size_t len)
{
	struct entry	 e;
	struct reply	 rep;
	long long	 now = clock_wall_ms();

	if (entry_decode(val, len, &e) != ERR_OK || e.status != 200) {
		log_warn("%s: corrupt entry, refetching", __func__);
		return -1;
	}
	rep = (struct reply){ 200, "HIT", entry_age(&e, now),
	    entry_fresh_left(&e, now), 0 };
	(void)reply_send(req->out, &rep, e.body, e.body_len, r->head);
	return 0;
}

/* Fetches, checks and (if store) stores; answers either way. */
static enum err
serve_fill(struct serve *s, FCGX_Request *req, const struct route *r,
    const char *path, const char *key, size_t keylen, int bypass, int store)
{
	struct entry	 e;
	struct reply	 rep;
	const char	*raw;
	char		*body = NULL, *enc = NULL;
	size_t		 rawlen, bodylen, enclen;
	long		 ms;
	enum err	 err;

	if ((err = upstream_fetch(s->upstream, path, &raw, &rawlen, &ms)) !=
	    ERR_OK)
		goto fail;
	if ((err = body_compact(raw, rawlen, &body, &bodylen)) != ERR_OK) {
		log_warn("%s: %s: %s", __func__, path, err_str(err));
		goto fail;
	}
	e = (struct entry){ clock_wall_ms(), s->cfg->cache_ttl, 200, body,
	    bodylen };
	if (store) {
		if ((err = entry_encode(&e, &enc, &enclen)) != ERR_OK)
			goto fail;
		/* A failed store still answers; the next request refills. */
		(void)cache_set(s->cache, key, keylen, enc, enclen,
		    s->cfg->cache_ttl);
	}
	log_debug("%s: %s from upstream in %ld ms (%s)", __func__, path, ms,
	    bypass ? "BYPASS" : "MISS");
	rep = (struct reply){ 200, bypass ? "BYPASS" : "MISS", 0,
	    s->cfg->cache_ttl, 0 };
	(void)reply_send(req->out, &rep, body, bodylen, r->head);
	err = ERR_OK;
fail:
	free(enc);
	free(body);
	return err;
}

void
serve_request(struct serve *s, FCGX_Request *req)
{
	const char	*method, *uri, *val;
	char		 path[32], key[KEY_MAX];
	struct route	 r;
	size_t		 vlen;
	enum err	 err;
	int		 head, n;

	method = FCGX_GetParam("REQUEST_METHOD", req->envp);
	uri = FCGX_GetParam("REQUEST_URI", req->envp);
	head = method != NULL && strcmp(method, "HEAD") == 0;

	if ((err = route_parse(method, uri, &r)) != ERR_OK)
		goto fail;
	if (route_path(&r, path, sizeof(path)) == -1 ||
	    (n = snprintf(key, sizeof(key), "%s%s", s->cfg->cache_prefix,
	    path)) < 0 || (size_t)n >= sizeof(key)) {
		err = ERR_INTERNAL;
		goto fail;
	}

	err = cache_get(s->cache, key, (size_t)n, &val, &vlen);
	if (err == ERR_OK && val != NULL &&
	    serve_hit(req, &r, val, vlen) == 0)
		return;
	/*
	 * BYPASS when the GET failed.  Still store unless the connection is
	 * gone: an error reply (a key of the wrong type, Redis loading) may
	 * well accept the SET, which repairs the key.
	 */
	if ((err = serve_fill(s, req, &r, path, key, (size_t)n,
	    err != ERR_OK, err != ERR_CACHE_DOWN)) == ERR_OK)
		return;
fail:
	(void)reply_error(req->out, err, head);
}
