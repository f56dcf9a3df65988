/*
 * err.c: error text and the mapping from failure to HTTP status.
 */
#include "err.h"

static const struct {
	int		 status;
	const char	*text;
} errs[ERR__COUNT] = {
	[ERR_OK] =		{ 200, "ok" },
	[ERR_NOT_FOUND] =	{ 404, "not found" },
	[ERR_BAD_ID] =		{ 400, "id must be a positive integer below 2^31" },
	[ERR_METHOD] =		{ 405, "method not allowed" },
	[ERR_UPSTREAM_STATUS] =	{ 502, "upstream answered with an error" },
	[ERR_UPSTREAM_CONNECT] = { 502, "upstream unreachable" },
	[ERR_UPSTREAM_TIMEOUT] = { 504, "upstream timed out" },
	[ERR_UPSTREAM_TOO_BIG] = { 502, "upstream answer too large" },
	[ERR_UPSTREAM_JSON] =	{ 502, "upstream answer is not the expected JSON" },
	[ERR_UNAUTHORIZED] =	{ 401, "missing or wrong bearer token" },
	[ERR_CIRCUIT_OPEN] =	{ 503, "upstream failing, not called for now" },
	[ERR_WAIT_TIMEOUT] =	{ 504, "upstream timed out" },
	[ERR_CACHE_DOWN] =	{ 503, "cache unavailable" },
	[ERR_CACHE_LOCKED] =	{ 503, "cache busy" },
	[ERR_CACHE_REPLY] =	{ 503, "cache error" },
	[ERR_ENTRY_CORRUPT] =	{ 500, "corrupt cache entry" },
	[ERR_NOMEM] =		{ 500, "out of memory" },
	[ERR_INTERNAL] =	{ 500, "internal error" },
	[ERR_HEADERS_TOO_BIG] =	{ 431, "request headers too large" },
	[ERR_BODY_TOO_BIG] =	{ 413, "request body too large" },
};

const char *
err_str(enum err e)
{
	if ((unsigned)e >= ERR__COUNT)
		e = ERR_INTERNAL;
	return errs[e].text;
}

int
err_status(enum err e)
{
	if ((unsigned)e >= ERR__COUNT)
		e = ERR_INTERNAL;
	return errs[e].status;
}
