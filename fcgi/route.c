/*
 * route.c: allow-list parser for the two resources this responder serves.
 */
#include <stdio.h>
#include <string.h>

#include "route.h"

#define BASE	"/get_todos"

/*
 * The id segment: decimal digits only, leading zeros dropped, at least one
 * significant digit, at most ROUTE_ID_MAX.  seg is not NUL-terminated.
 */
static enum err
parse_id(const char *seg, size_t len, long *id)
{
	size_t		i;
	long long	v = 0;

	for (i = 0; i < len; i++)
		if (seg[i] < '0' || seg[i] > '9')
			return ERR_BAD_ID;
	while (len > 0 && *seg == '0') {
		seg++;
		len--;
	}
	if (len == 0 || len > 10)
		return ERR_BAD_ID;
	for (i = 0; i < len; i++)
		v = v * 10 + (seg[i] - '0');	/* <= 9999999999: no overflow */
	if (v > ROUTE_ID_MAX)
		return ERR_BAD_ID;
	*id = (long)v;
	return ERR_OK;
}

/* Is s[len] exactly the NUL-terminated path? */
static int
same(const char *s, size_t len, const char *path)
{
	return len == strlen(path) && memcmp(s, path, len) == 0;
}

enum err
route_parse(const char *method, const char *uri, struct route *r)
{
	struct route	 out;
	const char	*seg;
	size_t		 len;
	enum err	 e;

	memset(r, 0, sizeof(*r));
	memset(&out, 0, sizeof(out));
	if (uri == NULL)
		return ERR_NOT_FOUND;

	len = strcspn(uri, "?#");
	if (same(uri, len, "/health") || same(uri, len, "/metrics")) {
		out.kind = uri[1] == 'h' ? ROUTE_HEALTH : ROUTE_METRICS;
		if (method != NULL && strcmp(method, "HEAD") == 0)
			out.head = 1;
		else if (method == NULL || strcmp(method, "GET") != 0)
			return ERR_METHOD;
		*r = out;
		return ERR_OK;
	}
	if (len < sizeof(BASE) - 1 || memcmp(uri, BASE, sizeof(BASE) - 1))
		return ERR_NOT_FOUND;
	seg = uri + sizeof(BASE) - 1;
	len -= sizeof(BASE) - 1;

	if (len == 0)
		out.kind = ROUTE_TODOS;
	else if (*seg != '/' || len == 1 || memchr(seg + 1, '/', len - 1))
		return ERR_NOT_FOUND;	/* /get_todosX, /get_todos/, a/b */
	else
		out.kind = ROUTE_TODO;

	if (method == NULL)
		return ERR_METHOD;
	if (strcmp(method, "HEAD") == 0)
		out.head = 1;
	else if (strcmp(method, "DELETE") == 0)
		out.purge = 1;
	else if (strcmp(method, "GET") != 0)
		return ERR_METHOD;

	if (out.kind == ROUTE_TODO &&
	    (e = parse_id(seg + 1, len - 1, &out.id)) != ERR_OK)
		return e;
	*r = out;
	return ERR_OK;
}

int
route_path(const struct route *r, char *buf, size_t size)
{
	int	n;

	if (r->kind == ROUTE_TODOS)
		n = snprintf(buf, size, "/todos");
	else if (r->kind == ROUTE_TODO)
		n = snprintf(buf, size, "/todos/%ld", r->id);
	else
		return -1;
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}
