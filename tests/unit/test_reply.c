/*
 * test_reply.c: table-driven tests of the pure half of reply.h and of err.h:
 * reply_head() and reply_cache_status() bytes and truncation,
 * reply_error_body() JSON for every error, err_status()/err_str(),
 * reply_status_text().
 *
 * The FastCGI senders (reply_send, reply_error) are left to the integration
 * tests, which run the responder behind a real lighttpd.  Every row carries
 * its __LINE__; a failing row is printed with what came back.
 */
#include <limits.h>

#include <jansson.h>

#include "unit.h"
#include "err.h"
#include "reply.h"

/* LONG_MIN in decimal, for the widest ttl= */
#if LONG_MAX == 9223372036854775807L
#define LONG_MIN_STR	"-9223372036854775808"
#else
#define LONG_MIN_STR	"-2147483648"
#endif

/* s with CR and LF shown as \r \n, for printing heads on one line. */
static const char *
crlf(const char *s, char *buf, size_t size)
{
	size_t	off = 0;

	for (; *s != '\0' && off + 3 < size; s++) {
		if (*s == '\r' || *s == '\n') {
			buf[off++] = '\\';
			buf[off++] = *s == '\r' ? 'r' : 'n';
		} else
			buf[off++] = *s;
	}
	buf[off] = '\0';
	return buf;
}

struct head_row {
	int		 line;
	struct reply	 r;
	size_t		 content_length;
	const char	*want;
};

#define CT(n)	"Content-Type: application/json\r\nContent-Length: " n "\r\n"
#define TAG(lit)	.etag = lit, .etag_len = sizeof(lit) - 1

static const struct head_row head_rows[] = {
	/* a hit: everything a fresh answer carries, in this order */
	{ __LINE__, { .status = 200, .x_cache = "HIT",
	    .cache_status = "todos-fcgi; hit; ttl=55", .has_age = 1, .age = 5,
	    .cacheable = 1, .max_age = 55, .swr = 30, .sie = 3600,
	    TAG("\"af63dc4c8601ec8c\"") }, 83,
	    "Status: 200 OK\r\n"
	    CT("83")
	    "X-Cache: HIT\r\n"
	    "Cache-Status: todos-fcgi; hit; ttl=55\r\n"
	    "Age: 5\r\n"
	    "Cache-Control: max-age=55, stale-while-revalidate=30, "
	    "stale-if-error=3600\r\n"
	    "ETag: \"af63dc4c8601ec8c\"\r\n"
	    "\r\n" },
	{ __LINE__, { .status = 200, .x_cache = "MISS",
	    .cache_status = "todos-fcgi; fwd=uri-miss; fwd-status=200; "
	    "stored; ttl=60", .has_age = 1, .age = 0, .cacheable = 1,
	    .max_age = 60 }, 24000,
	    "Status: 200 OK\r\n"
	    CT("24000")
	    "X-Cache: MISS\r\n"
	    "Cache-Status: todos-fcgi; fwd=uri-miss; fwd-status=200; stored; "
	    "ttl=60\r\n"
	    "Age: 0\r\n"
	    "Cache-Control: max-age=60\r\n"
	    "\r\n" },
	/* no Age unless has_age; max-age=0 is still cacheable */
	{ __LINE__, { .status = 200, .x_cache = "BYPASS", .age = 9,
	    .cacheable = 1 }, 0,
	    "Status: 200 OK\r\n"
	    CT("0")
	    "X-Cache: BYPASS\r\n"
	    "Cache-Control: max-age=0\r\n"
	    "\r\n" },
	/* a stale answer: max-age=0 and the stale windows */
	{ __LINE__, { .status = 200, .x_cache = "STALE",
	    .cache_status = "todos-fcgi; fwd=stale; fwd-status=502; ttl=-5; "
	    "detail=upstream-error", .has_age = 1, .age = 65,
	    .cacheable = 1, .max_age = 0, .swr = 30, .sie = 3600,
	    TAG("\"x\"") }, 2,
	    "Status: 200 OK\r\n"
	    CT("2")
	    "X-Cache: STALE\r\n"
	    "Cache-Status: todos-fcgi; fwd=stale; fwd-status=502; ttl=-5; "
	    "detail=upstream-error\r\n"
	    "Age: 65\r\n"
	    "Cache-Control: max-age=0, stale-while-revalidate=30, "
	    "stale-if-error=3600\r\n"
	    "ETag: \"x\"\r\n"
	    "\r\n" },
	/* each stale window alone; <= 0 is none */
	{ __LINE__, { .status = 200, .cacheable = 1, .max_age = 10,
	    .swr = 5, .sie = 0 }, 1,
	    "Status: 200 OK\r\n"
	    CT("1")
	    "Cache-Control: max-age=10, stale-while-revalidate=5\r\n"
	    "\r\n" },
	{ __LINE__, { .status = 200, .cacheable = 1, .max_age = 10,
	    .swr = -1, .sie = 7 }, 1,
	    "Status: 200 OK\r\n"
	    CT("1")
	    "Cache-Control: max-age=10, stale-if-error=7\r\n"
	    "\r\n" },
	/* not cacheable: no-store, whatever max-age and the windows say */
	{ __LINE__, { .status = 200, .x_cache = "BYPASS", .max_age = 60,
	    .swr = 30, .sie = 3600 }, 2,
	    "Status: 200 OK\r\n"
	    CT("2")
	    "X-Cache: BYPASS\r\n"
	    "Cache-Control: no-store\r\n"
	    "\r\n" },
	/* etag_len, not a NUL, ends the tag */
	{ __LINE__, { .status = 200, .cacheable = 1, .max_age = 1,
	    .etag = "\"ab\"cd", .etag_len = 4 }, 1,
	    "Status: 200 OK\r\n"
	    CT("1")
	    "Cache-Control: max-age=1\r\n"
	    "ETag: \"ab\"\r\n"
	    "\r\n" },
	/* 304: no Content-Type, no Content-Length, whatever the length */
	{ __LINE__, { .status = 304, .x_cache = "HIT",
	    .cache_status = "todos-fcgi; hit; ttl=55", .has_age = 1, .age = 5,
	    .cacheable = 1, .max_age = 55, .swr = 30, .sie = 3600,
	    TAG("\"af63dc4c8601ec8c\"") }, 83,
	    "Status: 304 Not Modified\r\n"
	    "X-Cache: HIT\r\n"
	    "Cache-Status: todos-fcgi; hit; ttl=55\r\n"
	    "Age: 5\r\n"
	    "Cache-Control: max-age=55, stale-while-revalidate=30, "
	    "stale-if-error=3600\r\n"
	    "ETag: \"af63dc4c8601ec8c\"\r\n"
	    "\r\n" },
	{ __LINE__, { .status = 304, .cacheable = 1, .max_age = 1,
	    TAG("\"\"") }, 0,
	    "Status: 304 Not Modified\r\n"
	    "Cache-Control: max-age=1\r\n"
	    "ETag: \"\"\r\n"
	    "\r\n" },
	/* errors */
	{ __LINE__, { .status = 405, .allow = "GET, HEAD" }, 46,
	    "Status: 405 Method Not Allowed\r\n"
	    CT("46")
	    "Cache-Control: no-store\r\n"
	    "Allow: GET, HEAD\r\n"
	    "\r\n" },
	{ __LINE__, { .status = 405, .allow = "GET, HEAD, DELETE" }, 46,
	    "Status: 405 Method Not Allowed\r\n"
	    CT("46")
	    "Cache-Control: no-store\r\n"
	    "Allow: GET, HEAD, DELETE\r\n"
	    "\r\n" },
	{ __LINE__, { .status = 401, .auth = 1 }, 57,
	    "Status: 401 Unauthorized\r\n"
	    CT("57")
	    "Cache-Control: no-store\r\n"
	    "WWW-Authenticate: Bearer realm=\"todos-fcgi\"\r\n"
	    "\r\n" },
	{ __LINE__, { .status = 503, .cache_status = "todos-fcgi; "
	    "fwd=uri-miss; detail=circuit-open", .retry_after = 3 }, 60,
	    "Status: 503 Service Unavailable\r\n"
	    CT("60")
	    "Cache-Status: todos-fcgi; fwd=uri-miss; detail=circuit-open\r\n"
	    "Cache-Control: no-store\r\n"
	    "Retry-After: 3\r\n"
	    "\r\n" },
	{ __LINE__, { .status = 503, .retry_after = 0 }, 40,
	    "Status: 503 Service Unavailable\r\n"
	    CT("40")
	    "Cache-Control: no-store\r\n"
	    "\r\n" },
	{ __LINE__, { .status = 503, .retry_after = -1 }, 40,
	    "Status: 503 Service Unavailable\r\n"
	    CT("40")
	    "Cache-Control: no-store\r\n"
	    "\r\n" },
	/* a cached 404 */
	{ __LINE__, { .status = 404, .x_cache = "HIT",
	    .cache_status = "todos-fcgi; hit; ttl=8", .has_age = 1, .age = 2,
	    .cacheable = 1, .max_age = 8 }, 41,
	    "Status: 404 Not Found\r\n"
	    CT("41")
	    "X-Cache: HIT\r\n"
	    "Cache-Status: todos-fcgi; hit; ttl=8\r\n"
	    "Age: 2\r\n"
	    "Cache-Control: max-age=8\r\n"
	    "\r\n" },
	{ __LINE__, { .status = 504 }, 44,
	    "Status: 504 Gateway Timeout\r\n"
	    CT("44")
	    "Cache-Control: no-store\r\n"
	    "\r\n" },
	{ __LINE__, { .status = 299 }, 0,
	    "Status: 299 Unknown\r\n"
	    CT("0")
	    "Cache-Control: no-store\r\n"
	    "\r\n" },
	/* every field at once: the order of the headers is fixed */
	{ __LINE__, { .status = 503, .x_cache = "BYPASS",
	    .cache_status = "c", .has_age = 1, .age = 1, .cacheable = 1,
	    .max_age = 2, .swr = 3, .sie = 4, TAG("\"e\""), .allow = "GET",
	    .retry_after = 5, .auth = 1 }, 6,
	    "Status: 503 Service Unavailable\r\n"
	    CT("6")
	    "X-Cache: BYPASS\r\n"
	    "Cache-Status: c\r\n"
	    "Age: 1\r\n"
	    "Cache-Control: max-age=2, stale-while-revalidate=3, "
	    "stale-if-error=4\r\n"
	    "ETag: \"e\"\r\n"
	    "Allow: GET\r\n"
	    "Retry-After: 5\r\n"
	    "WWW-Authenticate: Bearer realm=\"todos-fcgi\"\r\n"
	    "\r\n" },
};

/*
 * Each head is formatted into heap buffers of every size from 0 to its
 * length + 1: -1 below length + 1 (no room for the NUL), the exact bytes at
 * length + 1.  ASan sees any write past the size given.
 */
static void
test_reply_head(void **state)
{
	const struct head_row	*row;
	char			*buf, a[2048], b[2048];
	size_t			 i, size, want;
	int			 n;

	(void)state;
	for (i = 0; i < sizeof(head_rows) / sizeof(head_rows[0]); i++) {
		row = &head_rows[i];
		want = strlen(row->want);
		for (size = 0; size <= want + 1; size++) {
			buf = malloc(size > 0 ? size : 1);
			assert_non_null(buf);
			n = reply_head(buf, size, &row->r, row->content_length);
			if (size <= want && n != -1)
				row_fail(row->line, "status %d into %zu bytes "
				    "(full head %zu): %d, want -1",
				    row->r.status, size, want, n);
			else if (size == want + 1 && (n < 0 ||
			    (size_t)n != want || memcmp(buf, row->want,
			    want + 1) != 0))
				row_fail(row->line, "status %d: %d \"%s\", "
				    "want %zu \"%s\"", row->r.status, n,
				    n < 0 ? "" : crlf(buf, a, sizeof(a)), want,
				    crlf(row->want, b, sizeof(b)));
			free(buf);
		}
	}
	done();
}

/*
 * The longest head the responder can build fits in REPLY_HEAD_MAX, which
 * reply_send() formats into: every field set, every number at its widest,
 * the longest Cache-Status there is room for and an ENTRY_ETAG_MAX tag.
 */
static void
test_reply_head_max(void **state)
{
	static const char	 tag[] = "\"0123456789abcdef0123456789abcdef"
				    "0123456789abcdef0123456789abcd\"";
	struct reply		 r;
	char			 cstatus[REPLY_CSTATUS_MAX];
	char			 buf[REPLY_HEAD_MAX];
	int			 n;

	(void)state;
	memset(cstatus, 'c', sizeof(cstatus) - 1);
	cstatus[sizeof(cstatus) - 1] = '\0';
	memset(&r, 0, sizeof(r));
	r.status = 503;
	r.x_cache = "BYPASS";
	r.cache_status = cstatus;
	r.has_age = 1;
	r.age = LONG_MIN;
	r.cacheable = 1;
	r.max_age = r.swr = r.sie = r.retry_after = LONG_MAX;
	r.etag = tag;
	r.etag_len = sizeof(tag) - 1;
	r.allow = "GET, HEAD, DELETE";
	r.auth = 1;
	n = reply_head(buf, sizeof(buf), &r, SIZE_MAX);
	if (n < 0 || (size_t)n >= sizeof(buf))
		row_fail(__LINE__, "widest head: %d into %zu bytes", n,
		    sizeof(buf));
	done();
}

struct cs_row {
	int		 line;
	struct cstatus	 cs;
	const char	*want;
};

static const struct cs_row cs_rows[] = {
	{ __LINE__, { .hit = 1, .has_ttl = 1, .ttl = 55 },
	    "todos-fcgi; hit; ttl=55" },
	{ __LINE__, { .fwd = "uri-miss", .fwd_status = 200, .stored = 1,
	    .has_ttl = 1, .ttl = 60 },
	    "todos-fcgi; fwd=uri-miss; fwd-status=200; stored; ttl=60" },
	{ __LINE__, { .fwd = "stale", .fwd_status = 502, .has_ttl = 1,
	    .ttl = -5, .detail = "upstream-error" },
	    "todos-fcgi; fwd=stale; fwd-status=502; ttl=-5; "
	    "detail=upstream-error" },
	{ __LINE__, { .fwd = "uri-miss", .collapsed = 1, .has_ttl = 1,
	    .ttl = 60 },
	    "todos-fcgi; fwd=uri-miss; collapsed; ttl=60" },
	/* a hit within stale-while-revalidate */
	{ __LINE__, { .hit = 1, .has_ttl = 1, .ttl = -3,
	    .detail = "stale-while-revalidate" },
	    "todos-fcgi; hit; ttl=-3; detail=stale-while-revalidate" },
	{ __LINE__, { .fwd = "bypass", .fwd_status = 200,
	    .detail = "redis-down" },
	    "todos-fcgi; fwd=bypass; fwd-status=200; detail=redis-down" },
	{ __LINE__, { .fwd = "uri-miss", .detail = "circuit-open" },
	    "todos-fcgi; fwd=uri-miss; detail=circuit-open" },
	{ __LINE__, { .fwd = "uri-miss", .fwd_status = 404, .stored = 1,
	    .has_ttl = 1, .ttl = 10 },
	    "todos-fcgi; fwd=uri-miss; fwd-status=404; stored; ttl=10" },
	/* ttl only with has_ttl, 0 included; fwd-status only when > 0 */
	{ __LINE__, { .hit = 1, .has_ttl = 1, .ttl = 0 },
	    "todos-fcgi; hit; ttl=0" },
	{ __LINE__, { .hit = 1, .ttl = 55 }, "todos-fcgi; hit" },
	{ __LINE__, { .fwd = "uri-miss", .fwd_status = -1 },
	    "todos-fcgi; fwd=uri-miss" },
	{ __LINE__, { .hit = 0 }, "todos-fcgi" },
	/* every parameter at once: the order is fixed */
	{ __LINE__, { .hit = 1, .fwd = "uri-miss", .fwd_status = 599,
	    .stored = 1, .collapsed = 1, .has_ttl = 1, .ttl = LONG_MIN,
	    .detail = "stale-while-revalidate" },
	    "todos-fcgi; hit; fwd=uri-miss; fwd-status=599; stored; "
	    "collapsed; ttl=" LONG_MIN_STR "; detail=stale-while-revalidate" },
};

/*
 * Each value is formatted into heap buffers of every size from 0 to its
 * length + 1, as for reply_head(); and it fits in REPLY_CSTATUS_MAX, the
 * buffer serve.c formats into.
 */
static void
test_reply_cache_status(void **state)
{
	const struct cs_row	*row;
	char			*buf, a[512];
	size_t			 i, size, want;
	int			 n;

	(void)state;
	for (i = 0; i < sizeof(cs_rows) / sizeof(cs_rows[0]); i++) {
		row = &cs_rows[i];
		want = strlen(row->want);
		if (want >= REPLY_CSTATUS_MAX)
			row_fail(row->line, "%zu bytes: does not fit in "
			    "REPLY_CSTATUS_MAX", want);
		for (size = 0; size <= want + 1; size++) {
			buf = malloc(size > 0 ? size : 1);
			assert_non_null(buf);
			n = reply_cache_status(buf, size, &row->cs);
			if (size <= want && n != -1)
				row_fail(row->line, "into %zu bytes (full "
				    "%zu): %d, want -1", size, want, n);
			else if (size == want + 1 && (n < 0 ||
			    (size_t)n != want || memcmp(buf, row->want,
			    want + 1) != 0))
				row_fail(row->line, "%d %s, want %zu \"%s\"",
				    n, n < 0 ? "" : show_str(buf, a,
				    sizeof(a)), want, row->want);
			free(buf);
		}
	}
	done();
}

struct status_row {
	int		 line;
	enum err	 e;
	int		 status;
};

static const struct status_row status_rows[] = {
	{ __LINE__, ERR_OK, 200 },
	{ __LINE__, ERR_NOT_FOUND, 404 },
	{ __LINE__, ERR_BAD_ID, 400 },
	{ __LINE__, ERR_METHOD, 405 },
	{ __LINE__, ERR_UPSTREAM_STATUS, 502 },
	{ __LINE__, ERR_UPSTREAM_CONNECT, 502 },
	{ __LINE__, ERR_UPSTREAM_TIMEOUT, 504 },
	{ __LINE__, ERR_UPSTREAM_TOO_BIG, 502 },
	{ __LINE__, ERR_UPSTREAM_JSON, 502 },
	{ __LINE__, ERR_UNAUTHORIZED, 401 },
	{ __LINE__, ERR_CIRCUIT_OPEN, 503 },
	{ __LINE__, ERR_WAIT_TIMEOUT, 504 },
	{ __LINE__, ERR_CACHE_DOWN, 503 },
	{ __LINE__, ERR_CACHE_LOCKED, 503 },
	{ __LINE__, ERR_CACHE_REPLY, 503 },
	{ __LINE__, ERR_ENTRY_CORRUPT, 500 },
	{ __LINE__, ERR_NOMEM, 500 },
	{ __LINE__, ERR_INTERNAL, 500 },
	{ __LINE__, ERR__COUNT, 500 },		/* out of range */
	{ __LINE__, (enum err)(ERR__COUNT + 1), 500 },
	{ __LINE__, (enum err)1000, 500 },
	{ __LINE__, (enum err)-1, 500 },
};

static void
test_err_status(void **state)
{
	const struct status_row	*row;
	const char		*s;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(status_rows) / sizeof(status_rows[0]); i++) {
		row = &status_rows[i];
		if (err_status(row->e) != row->status)
			row_fail(row->line, "err_status(%d): %d, want %d",
			    (int)row->e, err_status(row->e), row->status);
		s = err_str(row->e);
		if (s == NULL || *s == '\0')
			row_fail(row->line, "err_str(%d): empty", (int)row->e);
		else if ((unsigned)row->e >= ERR__COUNT &&
		    strcmp(s, err_str(ERR_INTERNAL)) != 0)
			row_fail(row->line, "err_str(%d): \"%s\", want the "
			    "ERR_INTERNAL text", (int)row->e, s);
	}
	done();
}

/* Checks that buf[n] is exactly {"error":err_str(e),"status":err_status(e)}. */
static void
check_error_body(int line, enum err e, const char *buf, int n)
{
	json_t		*root, *error, *status;
	json_error_t	 jerr;

	if (n < 0) {
		row_fail(line, "reply_error_body(%d): -1", (int)e);
		return;
	}
	if ((size_t)n != strlen(buf)) {
		row_fail(line, "reply_error_body(%d): returned %d for %zu "
		    "bytes", (int)e, n, strlen(buf));
		return;
	}
	if ((root = json_loadb(buf, (size_t)n, 0, &jerr)) == NULL) {
		row_fail(line, "reply_error_body(%d): '%s' is not JSON: %s",
		    (int)e, buf, jerr.text);
		return;
	}
	error = json_object_get(root, "error");
	status = json_object_get(root, "status");
	if (!json_is_object(root) || json_object_size(root) != 2 ||
	    !json_is_string(error) || !json_is_integer(status))
		row_fail(line, "reply_error_body(%d): '%s': want an object "
		    "with a string \"error\" and an integer \"status\"",
		    (int)e, buf);
	else if (strcmp(json_string_value(error), err_str(e)) != 0 ||
	    json_integer_value(status) != err_status(e))
		row_fail(line, "reply_error_body(%d): '%s', want error \"%s\" "
		    "status %d", (int)e, buf, err_str(e), err_status(e));
	json_decref(root);
}

static void
test_reply_error_body(void **state)
{
	char	buf[REPLY_ERROR_MAX], want[REPLY_ERROR_MAX];
	int	e, n;

	(void)state;
	for (e = ERR_NOT_FOUND; e < ERR__COUNT; e++) {
		memset(buf, 0, sizeof(buf));
		n = reply_error_body(buf, sizeof(buf), (enum err)e);
		check_error_body(__LINE__, (enum err)e, buf, n);
		/* and byte for byte: no spaces, "error" first */
		(void)snprintf(want, sizeof(want),
		    "{\"error\":\"%s\",\"status\":%d}", err_str((enum err)e),
		    err_status((enum err)e));
		if (n >= 0 && strcmp(buf, want) != 0)
			row_fail(__LINE__, "reply_error_body(%d): '%s', want "
			    "'%s'", e, buf, want);
	}
	/* out of range: the internal error */
	n = reply_error_body(buf, sizeof(buf), ERR__COUNT);
	check_error_body(__LINE__, ERR__COUNT, buf, n);
	if (n >= 0 && strstr(buf, "\"status\":500}") == NULL)
		row_fail(__LINE__, "ERR__COUNT: '%s', want status 500", buf);
	done();
}

/* reply_error_body into every size below its length + 1: -1. */
static void
test_reply_error_body_truncated(void **state)
{
	char	full[REPLY_ERROR_MAX], *buf;
	size_t	size, len;
	int	n;

	(void)state;
	n = reply_error_body(full, sizeof(full), ERR_BAD_ID);
	assert_true(n > 0);
	len = (size_t)n;
	for (size = 0; size <= len + 1; size++) {
		buf = malloc(size > 0 ? size : 1);
		assert_non_null(buf);
		n = reply_error_body(buf, size, ERR_BAD_ID);
		if (size <= len && n != -1)
			row_fail(__LINE__, "into %zu bytes (full %zu): %d, "
			    "want -1", size, len, n);
		else if (size == len + 1 && (n != (int)len ||
		    strcmp(buf, full) != 0))
			row_fail(__LINE__, "into %zu bytes: %d", size, n);
		free(buf);
	}
	done();
}

static void
test_reply_status_text(void **state)
{
	static const struct {
		int		 line;
		int		 status;
		const char	*want;
	} rows[] = {
		{ __LINE__, 200, "OK" },
		{ __LINE__, 304, "Not Modified" },
		{ __LINE__, 400, "Bad Request" },
		{ __LINE__, 401, "Unauthorized" },
		{ __LINE__, 404, "Not Found" },
		{ __LINE__, 405, "Method Not Allowed" },
		{ __LINE__, 500, "Internal Server Error" },
		{ __LINE__, 502, "Bad Gateway" },
		{ __LINE__, 503, "Service Unavailable" },
		{ __LINE__, 504, "Gateway Timeout" },
		{ __LINE__, 0, "Unknown" },
		{ __LINE__, -1, "Unknown" },
		{ __LINE__, 201, "Unknown" },
		{ __LINE__, 302, "Unknown" },
		{ __LINE__, 403, "Unknown" },
		{ __LINE__, 418, "Unknown" },
		{ __LINE__, 999, "Unknown" },
	};
	const char	*got;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		got = reply_status_text(rows[i].status);
		if (got == NULL || strcmp(got, rows[i].want) != 0)
			row_fail(rows[i].line, "reply_status_text(%d): \"%s\", "
			    "want \"%s\"", rows[i].status,
			    got ? got : "(null)", rows[i].want);
	}
	done();
}

/* Every status err_status() can return has a reason phrase. */
static void
test_err_status_has_text(void **state)
{
	int	e;

	(void)state;
	for (e = ERR_OK; e < ERR__COUNT; e++)
		if (strcmp(reply_status_text(err_status((enum err)e)),
		    "Unknown") == 0)
			row_fail(__LINE__, "err %d: status %d has no text", e,
			    err_status((enum err)e));
	done();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_reply_head, reset),
		cmocka_unit_test_setup(test_reply_head_max, reset),
		cmocka_unit_test_setup(test_reply_cache_status, reset),
		cmocka_unit_test_setup(test_err_status, reset),
		cmocka_unit_test_setup(test_reply_error_body, reset),
		cmocka_unit_test_setup(test_reply_error_body_truncated, reset),
		cmocka_unit_test_setup(test_reply_status_text, reset),
		cmocka_unit_test_setup(test_err_status_has_text, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
