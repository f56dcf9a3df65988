/*
 * reply.c: build and write answers.  The head is formatted into one stack
 * buffer so that a hit costs two FCGX_PutStr calls and no allocation.
 */
#include <stdio.h>

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
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default:  return "Unknown";
	}
}

/* Accounts for n bytes that snprintf put at *off; -1 if they did not fit. */
static int
add(size_t size, size_t *off, int n)
{
	if (n < 0 || (size_t)n >= size - *off)
		return -1;
	*off += (size_t)n;
	return 0;
}

int
reply_head(char *buf, size_t size, const struct reply *r,
    size_t content_length)
{
	size_t	off = 0;

	if (size == 0)
		return -1;
	if (add(size, &off, snprintf(buf, size,
	    "Status: %d %s\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: %zu\r\n",
	    r->status, reply_status_text(r->status), content_length)) == -1)
		return -1;
	if (r->x_cache != NULL && add(size, &off, snprintf(buf + off,
	    size - off, "X-Cache: %s\r\n", r->x_cache)) == -1)
		return -1;
	if (r->age >= 0 && add(size, &off, snprintf(buf + off,
	    size - off, "Age: %ld\r\n", r->age)) == -1)
		return -1;
	if (r->max_age >= 0) {
		if (add(size, &off, snprintf(buf + off, size - off,
		    "Cache-Control: max-age=%ld\r\n", r->max_age)) == -1)
			return -1;
	} else if (add(size, &off, snprintf(buf + off, size - off,
	    "Cache-Control: no-store\r\n")) == -1)
		return -1;
	if (r->allow && add(size, &off, snprintf(buf + off, size - off,
	    "Allow: GET, HEAD\r\n")) == -1)
		return -1;
	if (add(size, &off, snprintf(buf + off, size - off,
	    "\r\n")) == -1)
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

int
reply_send(FCGX_Stream *out, const struct reply *r, const char *body,
    size_t len, int head_only)
{
	char	head[REPLY_HEAD_MAX];
	int	n;

	if ((n = reply_head(head, sizeof(head), r, len)) == -1)
		return -1;
	if (FCGX_PutStr(head, n, out) != n)
		return -1;
	if (head_only || len == 0)
		return 0;
	/* FCGX_PutStr takes an int; bodies are bounded far below INT_MAX. */
	if (len > 0x7fffffff || FCGX_PutStr(body, (int)len, out) != (int)len)
		return -1;
	return 0;
}

int
reply_error(FCGX_Stream *out, enum err e, int head_only)
{
	struct reply	r = { err_status(e), NULL, -1, -1, e == ERR_METHOD };
	char		body[REPLY_ERROR_MAX];
	int		n;

	if ((n = reply_error_body(body, sizeof(body), e)) == -1)
		return -1;
	return reply_send(out, &r, body, (size_t)n, head_only);
}
