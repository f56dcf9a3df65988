/*
 * reply.h: the status line, headers and JSON bodies that go back to the
 * client over the FastCGI stream.  Every answer, errors included, is
 * application/json with a Content-Length.
 *
 * reply_head() and reply_error_body() are pure and unit-tested; the two
 * senders only add the FCGX_PutStr calls.
 */
#ifndef REPLY_H
#define REPLY_H

#include <stddef.h>

#include <fcgiapp.h>

#include "err.h"

#define REPLY_HEAD_MAX	1024
#define REPLY_ERROR_MAX	256

struct reply {
	int		 status;
	const char	*x_cache;	/* "HIT", "MISS", "BYPASS"; NULL: none */
	long		 age;		/* Age header; <0: none */
	long		 max_age;	/* Cache-Control: max-age; <0: no-store */
	int		 allow;		/* add Allow: GET, HEAD (405) */
};

/* "OK", "Not Found", ...; "Unknown" for codes it does not name. */
const char	*reply_status_text(int status);

/*
 * Formats the FastCGI response head for r and a body of content_length
 * bytes, ending with the empty line.  Returns its length, or -1 if it does
 * not fit in size.
 */
int		 reply_head(char *buf, size_t size, const struct reply *r,
		    size_t content_length);

/* {"error":"...","status":N} for e.  Returns its length, or -1. */
int		 reply_error_body(char *buf, size_t size, enum err e);

/*
 * Sends head and, unless head_only, body[len].  Returns 0, or -1 when the
 * stream failed (the client went away; nothing more to do).
 */
int		 reply_send(FCGX_Stream *out, const struct reply *r,
		    const char *body, size_t len, int head_only);

/* Sends the JSON error answer for e, with the status err_status(e). */
int		 reply_error(FCGX_Stream *out, enum err e, int head_only);

#endif /* REPLY_H */
