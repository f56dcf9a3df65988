/*
 * entry.h: the format of a cached answer as stored in Redis; pure.
 *
 * An entry is a small text head of "name=value" lines, an empty line, then
 * the body bytes exactly as they are sent to the client:
 *
 *	t=1764082366123		stored-at, Unix time in milliseconds
 *	ttl=60			seconds of freshness from t
 *	s=200			HTTP status of the answer (200, or 404 cached
 *				negatively, with an empty body)
 *	etag="8c9f0e6d2a1b3c4d"	strong validator of the body (200 only)
 *	gz=2311			the last 2311 bytes are the body gzipped
 *				(only when that is smaller)
 *
 *	{"userId":1,"id":1,...}
 *
 * Decoders ignore names they do not know, so later fields (an ETag, a
 * content encoding) can be added without breaking readers of this format;
 * a change that old readers must not see gets a new CACHE_PREFIX version.
 */
#ifndef ENTRY_H
#define ENTRY_H

#include <stddef.h>

#include "err.h"

#define ENTRY_HEAD_MAX	512	/* a longer head is corrupt */

#define ENTRY_ETAG_MAX	64

struct entry {
	long long	 stored_ms;	/* Unix ms */
	long		 ttl;		/* seconds of freshness */
	int		 status;	/* 200 or 404 */
	const char	*etag;		/* with its quotes; NULL: none */
	size_t		 etag_len;	/* not NUL-terminated when decoded */
	const char	*body;		/* not NUL-terminated */
	size_t		 body_len;
	const char	*gz;		/* body gzipped; NULL: none */
	size_t		 gz_len;
};

/* Where an entry stands at a given time (see entry_freshness). */
enum freshness {
	ENTRY_FRESH,		/* age < ttl: serve it */
	ENTRY_STALE_SWR,	/* within stale-while-revalidate: serve it,
				   refresh after answering */
	ENTRY_STALE		/* older: only if the upstream fails */
};

/*
 * Encodes e into a new buffer.  On ERR_OK *out is the caller's to free()
 * and *outlen its length; on failure *out is NULL.
 */
enum err	entry_encode(const struct entry *e, char **out, size_t *outlen);

/*
 * Decodes buf[len].  On ERR_OK e->body and e->etag point into buf (no
 * copy), so e is valid only as long as buf is.  On ERR_ENTRY_CORRUPT *e is zeroed.
 */
enum err	entry_decode(const char *buf, size_t len, struct entry *e);

/* Where e stands at now_ms, given the stale-while-revalidate window. */
enum freshness	entry_freshness(const struct entry *e, long long now_ms,
		    long swr);

/* Whole seconds since e was stored at now_ms; never negative. */
long		entry_age(const struct entry *e, long long now_ms);

#endif /* ENTRY_H */
