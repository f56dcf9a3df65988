/*
 * reply.c: build and write answers.  The head is formatted into one stack
 * buffer so that a hit costs two FCGX_PutStr calls and no allocation.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "fmt.h"
#include "reply.h"

const char *
reply_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default:  return "Unknown";
	}
}

int
reply_head(char *buf, size_t size, const struct reply *r,
    size_t content_length)
{
	size_t	off = 0;

	if (fmt_add(buf, size, &off, "Status: %d %s\r\n", r->status,
	    reply_status_text(r->status)) == -1)
		return -1;
	if (r->status != 304 && fmt_add(buf, size, &off,
	    "Content-Type: %s\r\nContent-Length: %zu\r\n", r->content_type ?
	    r->content_type : "application/json", content_length) == -1)
		return -1;
	if (r->x_cache != NULL &&
	    fmt_add(buf, size, &off, "X-Cache: %s\r\n", r->x_cache) == -1)
		return -1;
	if (r->cache_status != NULL && fmt_add(buf, size, &off,
	    "Cache-Status: %s\r\n", r->cache_status) == -1)
		return -1;
	if (r->has_age && fmt_add(buf, size, &off, "Age: %ld\r\n", r->age) == -1)
		return -1;
	if (!r->cacheable) {
		if (fmt_add(buf, size, &off, "Cache-Control: no-store\r\n") == -1)
			return -1;
	} else if (fmt_add(buf, size, &off, "Cache-Control: max-age=%ld",
	    r->max_age) == -1 ||
	    (r->swr > 0 && fmt_add(buf, size, &off,
	    ", stale-while-revalidate=%ld", r->swr) == -1) ||
	    (r->sie > 0 && fmt_add(buf, size, &off, ", stale-if-error=%ld",
	    r->sie) == -1) ||
	    fmt_add(buf, size, &off, "\r\n") == -1)
		return -1;
	if (r->etag != NULL && (r->etag_len > 0x7fffffff ||
	    fmt_add(buf, size, &off, "ETag: %.*s\r\n", (int)r->etag_len,
	    r->etag) == -1))
		return -1;
	if (r->gzip && fmt_add(buf, size, &off, "Content-Encoding: gzip\r\n") == -1)
		return -1;
	if (r->vary && fmt_add(buf, size, &off, "Vary: Accept-Encoding\r\n") == -1)
		return -1;
	if (r->allow != NULL &&
	    fmt_add(buf, size, &off, "Allow: %s\r\n", r->allow) == -1)
		return -1;
	if (r->retry_after > 0 && fmt_add(buf, size, &off,
	    "Retry-After: %ld\r\n", r->retry_after) == -1)
		return -1;
	if (r->auth && fmt_add(buf, size, &off,
	    "WWW-Authenticate: Bearer realm=\"todos-fcgi\"\r\n") == -1)
		return -1;
	if (fmt_add(buf, size, &off, "\r\n") == -1)
		return -1;
	return (int)off;
}

int
reply_cache_status(char *buf, size_t size, const struct cstatus *cs)
{
	size_t	off = 0;

	if (fmt_add(buf, size, &off, "%s", REPLY_CACHE_NAME) == -1 ||
	    (cs->hit && fmt_add(buf, size, &off, "; hit") == -1) ||
	    (cs->fwd != NULL &&
	    fmt_add(buf, size, &off, "; fwd=%s", cs->fwd) == -1) ||
	    (cs->fwd_status > 0 &&
	    fmt_add(buf, size, &off, "; fwd-status=%d", cs->fwd_status) == -1) ||
	    (cs->stored && fmt_add(buf, size, &off, "; stored") == -1) ||
	    (cs->collapsed && fmt_add(buf, size, &off, "; collapsed") == -1) ||
	    (cs->has_ttl && fmt_add(buf, size, &off, "; ttl=%ld", cs->ttl) == -1) ||
	    (cs->detail != NULL &&
	    fmt_add(buf, size, &off, "; detail=%s", cs->detail) == -1))
		return -1;
	return (int)off;
}

int
reply_error_body(char *buf, size_t size, enum err e)
{
	int	n;

	/* err_str() texts are constants without quotes or backslashes. */
	n = snprintf(buf, size, "{\"error\":\"%s\",\"status\":%d}",
	    err_str(e), err_status(e));
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

/* All of buf[len] to out; -1 when the other side is gone. */
static int
put(const struct out *out, const char *buf, size_t len)
{
	ssize_t	n;

	if (out->fcgx != NULL)
		/* FCGX_PutStr takes an int; bodies are bounded far below. */
		return len <= 0x7fffffff &&
		    FCGX_PutStr(buf, (int)len, out->fcgx) == (int)len ? 0 : -1;
	while (len > 0) {
		if ((n = write(out->fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
reply_send(const struct out *out, const struct reply *r, const char *body,
    size_t len, int head_only)
{
	char	head[REPLY_HEAD_MAX];
	int	n;

	if ((n = reply_head(head, sizeof(head), r, len)) == -1)
		return -1;
	if (put(out, head, (size_t)n) == -1)
		return -1;
	if (head_only || len == 0 || r->status == 304)
		return 0;
	return put(out, body, len);
}

int
reply_error(const struct out *out, enum err e, const struct reply *extra,
    int head_only)
{
	struct reply	r = { 0 };
	char		body[REPLY_ERROR_MAX];
	int		n;

	if (extra != NULL)
		r = *extra;
	r.status = err_status(e);
	r.etag = NULL;
	if ((n = reply_error_body(body, sizeof(body), e)) == -1)
		return -1;
	return reply_send(out, &r, body, (size_t)n, head_only);
}
