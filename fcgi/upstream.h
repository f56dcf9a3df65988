/*
 * upstream.h: fetch a path below UPSTREAM_URL into a bounded buffer, with
 * one libcurl easy handle per thread.  The handles of a process share one
 * pool of connections (and DNS answers and TLS sessions), so connections
 * are kept alive and reused across misses, whichever thread has them.
 * Nothing here knows about Redis or about the JSON inside the body.
 */
#ifndef UPSTREAM_H
#define UPSTREAM_H

#include <stddef.h>

#include "err.h"

struct upstream;
struct upstream_pool;

/* The connections a process's handles share.  NULL if it cannot be made. */
struct upstream_pool	*upstream_pool_new(void);
void			 upstream_pool_free(struct upstream_pool *);

/*
 * base is UPSTREAM_URL without a trailing slash.  The whole exchange is
 * bounded by timeout_ms, the body by max_bytes; pool may be NULL (the
 * handle keeps its own connections).  Call after curl_global_init().
 * NULL when libcurl cannot be set up.
 */
struct upstream	*upstream_new(const char *base, long timeout_ms,
		    size_t max_bytes, struct upstream_pool *pool);
void		 upstream_free(struct upstream *);

/* What one fetch brought back. */
struct upstream_answer {
	const char	*body;		/* 200 only; owned by the upstream */
	size_t		 len;
	long		 status;	/* HTTP status; 0: no answer */
	long		 ms;		/* time the exchange took */
};

/*
 * GET base + path, the whole exchange bounded by timeout_ms (at most the
 * configured limit).  ERR_OK for a 200 answer, with a->body valid until the
 * next upstream_fetch; otherwise ERR_NOT_FOUND (404), ERR_UPSTREAM_STATUS
 * (any other status), ERR_UPSTREAM_TIMEOUT, ERR_UPSTREAM_TOO_BIG or
 * ERR_UPSTREAM_CONNECT, with a->body NULL.  A connect that fails is tried
 * once more after a short random pause; nothing is retried once the
 * request has been sent.
 */
enum err	 upstream_fetch(struct upstream *u, const char *path,
		    long timeout_ms, struct upstream_answer *a);

/*
 * Done with the last answer's body.  A buffer grown past
 * UPSTREAM_KEEP_BYTES for a big body is freed, not kept for the next
 * fetch: each thread has its own, and most bodies are small.
 */
#define UPSTREAM_KEEP_BYTES	(256 * 1024)
void		 upstream_done(struct upstream *u);

/*
 * The pause before that second try: 20..69 ms, drawn from a per-process
 * random source, so that processes refused in the same millisecond do
 * not retry in the same millisecond.
 */
long		 upstream_jitter_ms(void);

#endif /* UPSTREAM_H */
