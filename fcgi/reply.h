/*
 * reply.h: the status line, headers and JSON bodies that go back to the
 * client over the FastCGI stream.  Every answer with a body, errors
 * included, is application/json with a Content-Length.
 *
 * reply_head(), reply_cache_status() and reply_error_body() are pure and
 * unit-tested; the two senders only add the writes.
 */
#ifndef REPLY_H
#define REPLY_H

#include <stddef.h>

#include <fcgiapp.h>

#include "err.h"

#define REPLY_HEAD_MAX		1024
#define REPLY_ERROR_MAX		256
#define REPLY_CSTATUS_MAX	160
#define REPLY_CACHE_NAME	"todos-fcgi"

/*
 * Where an answer goes: a FastCGI stream, or (fcgx NULL) a file
 * descriptor, stdout when run as a CGI program.
 */
struct out {
	FCGX_Stream	*fcgx;
	int		 fd;
};

/* Everything but the body; zero-initialise, then set what applies. */
struct reply {
	int		 status;
	const char	*content_type;	/* NULL: application/json */
	const char	*x_cache;	/* HIT, MISS, STALE, BYPASS; NULL: none */
	const char	*cache_status;	/* Cache-Status value; NULL: none */
	int		 has_age;
	long		 age;
	int		 cacheable;	/* else Cache-Control: no-store */
	long		 max_age;
	long		 swr;		/* stale-while-revalidate; <= 0: none */
	long		 sie;		/* stale-if-error; <= 0: none */
	const char	*etag;		/* with quotes; NULL: none */
	size_t		 etag_len;
	int		 vary;		/* Vary: Accept-Encoding */
	int		 gzip;		/* Content-Encoding: gzip */
	const char	*allow;		/* Allow (405); NULL: none */
	long		 retry_after;	/* seconds; <= 0: none */
	int		 auth;		/* WWW-Authenticate: Bearer (401) */
};

/* The parts of an RFC 9211 Cache-Status entry this cache reports. */
struct cstatus {
	int		 hit;
	const char	*fwd;		/* uri-miss, stale, bypass; NULL */
	int		 fwd_status;	/* upstream status; 0: none */
	int		 has_ttl;
	long		 ttl;		/* freshness left; negative: stale */
	int		 stored;
	int		 collapsed;
	const char	*detail;	/* a token; NULL: none */
};

/* "OK", "Not Found", ...; "Unknown" for codes it does not name. */
const char	*reply_status_text(int status);

/*
 * Formats the FastCGI response head for r and a body of content_length
 * bytes (a 304 gets neither Content-Type nor Content-Length), ending with
 * the empty line.  Returns its length, or -1 if it does not fit in size.
 */
int		 reply_head(char *buf, size_t size, const struct reply *r,
		    size_t content_length);

/* Formats a Cache-Status value; its length, or -1 if it does not fit. */
int		 reply_cache_status(char *buf, size_t size,
		    const struct cstatus *cs);

/* {"error":"...","status":N} for e.  Returns its length, or -1. */
int		 reply_error_body(char *buf, size_t size, enum err e);

/*
 * Sends head and, unless head_only, body[len].  Returns 0, or -1 when the
 * stream failed (the client went away; nothing more to do).
 */
int		 reply_send(const struct out *out, const struct reply *r,
		    const char *body, size_t len, int head_only);

/*
 * Sends the JSON error answer for e with the status err_status(e); extra
 * (may be NULL) adds its headers (X-Cache, Allow, Retry-After, ...).
 */
int		 reply_error(const struct out *out, enum err e,
		    const struct reply *extra, int head_only);

#endif /* REPLY_H */
