/*
 * fuzz_route.c: libFuzzer target for route_parse() and route_path().
 *
 * Input: the first byte picks the method, the rest is the URI.  'G', 'H',
 * 'D', 'P' and 'g' pick "GET", "HEAD", "DELETE", "POST" and "get", 'N' a
 * NULL method; any other byte picks one of those six by its value.  The URI
 * ends at the first NUL byte (route_parse takes a C string) and is copied
 * into a heap buffer of exactly its length + 1, so ASan sees any read past
 * the terminator.  An empty input passes a NULL URI.
 *
 * What must hold, from route.h:
 *   - on ERR_OK for /health or /metrics (query ignored): GET or HEAD,
 *     id 0, no purge, and route_path() refuses them;
 *   - on other ERR_OK: kind is ROUTE_TODOS or ROUTE_TODO; a ROUTE_TODO id is in
 *     1..ROUTE_ID_MAX and is the decimal number of the URI's last segment
 *     (leading zeros dropped), a ROUTE_TODOS id is 0; head and purge follow
 *     the method, and only GET, HEAD and DELETE get here; route_path()
 *     fits in 32 bytes and gives "/todos" or "/todos/<id>" with the same id,
 *     returns -1 for a buffer one byte short and its length otherwise;
 *   - on error: one of ERR_NOT_FOUND, ERR_METHOD, ERR_BAD_ID, and *r zeroed
 *     (it is filled with junk before the call, so "left as it was" fails).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "route.h"

#define BASE	"/get_todos"

static const struct {
	uint8_t		 key;
	const char	*name;		/* NULL: no method at all */
} methods[] = {
	{ 'G', "GET" },
	{ 'H', "HEAD" },
	{ 'D', "DELETE" },
	{ 'P', "POST" },
	{ 'g', "get" },			/* methods are case-sensitive */
	{ 'N', NULL },
};

#define NMETHODS	(sizeof(methods) / sizeof(methods[0]))

/* A heap copy of s[len] plus a NUL, of exactly that size; NULL: s NULL. */
static char *
copy(const char *s, size_t len)
{
	char	*p;

	if (s == NULL)
		return NULL;
	if ((p = malloc(len + 1)) == NULL)
		abort();
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* Does the path part of uri end at p (NUL, query or fragment)? */
static int
path_ends(const char *p)
{
	return *p == '\0' || *p == '?' || *p == '#';
}

/*
 * The decimal digits at s, leading zeros dropped, as a number; -1 if there
 * are none or more than 10 significant ones.  *end is set past the digits.
 */
static long long
number(const char *s, const char **end)
{
	long long	v = 0;
	size_t		n = 0;

	while (*s == '0')
		s++;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (++n > 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	*end = s;
	return n == 0 ? -1 : v;
}

static void
check_path(const struct route *r)
{
	char		 path[32], *small;
	const char	*end;
	size_t		 len;
	int		 n;

	n = route_path(r, path, sizeof(path));
	CHECK(n > 0 && (size_t)n < sizeof(path));
	len = (size_t)n;
	CHECK(strlen(path) == len);
	if (r->kind == ROUTE_TODOS)
		CHECK(strcmp(path, "/todos") == 0);
	else {
		CHECK(strncmp(path, "/todos/", 7) == 0);
		CHECK(path[7] != '0');		/* canonical: no leading 0 */
		CHECK(number(path + 7, &end) == r->id && *end == '\0');
	}

	/* The size is respected, to the byte. */
	if ((small = malloc(len)) == NULL)
		abort();
	CHECK(route_path(r, small, len) == -1);
	free(small);
	if ((small = malloc(len + 1)) == NULL)
		abort();
	CHECK(route_path(r, small, len + 1) == n);
	CHECK(memcmp(small, path, len + 1) == 0);
	free(small);
}

static void
check_ok(const char *method, const char *uri, const struct route *r)
{
	const char	*end;

	CHECK(method != NULL && uri != NULL);
	if (r->kind == ROUTE_HEALTH || r->kind == ROUTE_METRICS) {
		char	path[32];
		size_t	len = strcspn(uri, "?#");

		CHECK(strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0);
		CHECK(r->head == (strcmp(method, "HEAD") == 0));
		CHECK(r->id == 0 && r->purge == 0);
		CHECK(len == strlen(r->kind == ROUTE_HEALTH ? "/health" :
		    "/metrics"));
		CHECK(memcmp(uri, r->kind == ROUTE_HEALTH ? "/health" :
		    "/metrics", len) == 0);
		CHECK(route_path(r, path, sizeof(path)) == -1);
		return;
	}
	CHECK(strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
	    strcmp(method, "DELETE") == 0);
	CHECK(r->head == (strcmp(method, "HEAD") == 0));
	CHECK(r->purge == (strcmp(method, "DELETE") == 0));
	CHECK(strncmp(uri, BASE, sizeof(BASE) - 1) == 0);
	uri += sizeof(BASE) - 1;
	switch (r->kind) {
	case ROUTE_TODOS:
		CHECK(r->id == 0);
		CHECK(path_ends(uri));
		break;
	case ROUTE_TODO:
		CHECK(r->id >= 1 && r->id <= ROUTE_ID_MAX);
		CHECK(*uri == '/');
		CHECK(number(uri + 1, &end) == r->id && path_ends(end));
		break;
	default:
		CHECK(0);
	}
	check_path(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct route	 r;
	const char	*name, *uri = NULL;
	const uint8_t	*nul;
	char		*m, *u;
	size_t		 i, len = 0;
	enum err	 e;

	name = methods[0].name;
	if (size > 0) {
		name = methods[data[0] % NMETHODS].name;
		for (i = 0; i < NMETHODS; i++)
			if (methods[i].key == data[0])
				name = methods[i].name;
		uri = (const char *)data + 1;
		len = size - 1;
		if ((nul = memchr(uri, '\0', len)) != NULL)
			len = (size_t)(nul - (const uint8_t *)uri);
	}
	m = copy(name, name == NULL ? 0 : strlen(name));
	u = copy(uri, len);

	memset(&r, 0xa5, sizeof(r));
	e = route_parse(m, u, &r);
	if (e == ERR_OK)
		check_ok(m, u, &r);
	else {
		CHECK(e == ERR_NOT_FOUND || e == ERR_METHOD || e == ERR_BAD_ID);
		CHECK(r.kind == 0 && r.id == 0 && r.head == 0 && r.purge == 0);
	}
	free(m);
	free(u);
	return 0;
}
