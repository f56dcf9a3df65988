/*
 * err.h: the one error vocabulary of the responder.
 *
 * Every module returns an enum err; err_status() is the single place where a
 * failure becomes an HTTP status, err_str() the text a client sees in
 * {"error": ..., "status": ...}.  Nothing here does I/O.
 */
#ifndef ERR_H
#define ERR_H

enum err {
	ERR_OK = 0,
	ERR_NOT_FOUND,		/* no such route, or the upstream said 404 */
	ERR_BAD_ID,		/* id is not a positive 31-bit decimal */
	ERR_METHOD,		/* method other than GET or HEAD */
	ERR_UPSTREAM_STATUS,	/* upstream answered neither 200 nor 404 */
	ERR_UPSTREAM_CONNECT,	/* refused, DNS failure, reset, TLS ... */
	ERR_UPSTREAM_TIMEOUT,	/* no full answer within UPSTREAM_TIMEOUT_MS */
	ERR_UPSTREAM_TOO_BIG,	/* body passed UPSTREAM_MAX_BYTES */
	ERR_UPSTREAM_JSON,	/* not JSON, or not the shape asked for */
	ERR_UNAUTHORIZED,	/* DELETE without the right bearer token */
	ERR_CIRCUIT_OPEN,	/* upstream circuit open: not called */
	ERR_WAIT_TIMEOUT,	/* another fetch of the key did not finish */
	ERR_CACHE_DOWN,		/* Redis not connected (or in back-off) */
	ERR_CACHE_LOCKED,	/* the fill lock is held by someone else */
	ERR_CACHE_REPLY,	/* Redis answered with an error or odd type */
	ERR_ENTRY_CORRUPT,	/* stored entry does not decode */
	ERR_NOMEM,
	ERR_INTERNAL,		/* a bug or an impossible state */
	ERR_HEADERS_TOO_BIG,	/* the request's PARAMS past PRELUDE_MAX */
	ERR_BODY_TOO_BIG,	/* its body takes it past PRELUDE_MAX */
	ERR__COUNT
};

const char	*err_str(enum err);
int		 err_status(enum err);

#endif /* ERR_H */
