/*
 * test_reply.c: table-driven tests of the pure half of reply.h and of err.h:
 * reply_head() bytes and truncation, reply_error_body() JSON for every
 * error, err_status()/err_str(), reply_status_text().
 *
 * The FastCGI senders (reply_send, reply_error) are left to the integration
 * tests, which run the responder behind a real lighttpd.  Every row carries
 * its __LINE__; a failing row is printed with what came back.
 */
#include <jansson.h>

#include "unit.h"
#include "err.h"
#include "reply.h"

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

static const struct head_row head_rows[] = {
	{ __LINE__, { 200, "HIT", 5, 55, 0 }, 83,
	    "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 83\r\n"
	    "X-Cache: HIT\r\n"
	    "Age: 5\r\n"
	    "Cache-Control: max-age=55\r\n"
	    "\r\n" },
	{ __LINE__, { 200, "MISS", 0, 60, 0 }, 24000,
	    "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 24000\r\n"
	    "X-Cache: MISS\r\n"
	    "Age: 0\r\n"
	    "Cache-Control: max-age=60\r\n"
	    "\r\n" },
	{ __LINE__, { 200, "BYPASS", -1, 0, 0 }, 0,
	    "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 0\r\n"
	    "X-Cache: BYPASS\r\n"
	    "Cache-Control: max-age=0\r\n"
	    "\r\n" },
	{ __LINE__, { 405, NULL, -1, -1, 1 }, 46,
	    "Status: 405 Method Not Allowed\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 46\r\n"
	    "Cache-Control: no-store\r\n"
	    "Allow: GET, HEAD\r\n"
	    "\r\n" },
	{ __LINE__, { 504, NULL, -1, -1, 0 }, 44,
	    "Status: 504 Gateway Timeout\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 44\r\n"
	    "Cache-Control: no-store\r\n"
	    "\r\n" },
	{ __LINE__, { 299, NULL, -1, -1, 0 }, 0,
	    "Status: 299 Unknown\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 0\r\n"
	    "Cache-Control: no-store\r\n"
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
	char			*buf, a[512], b[512];
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

/* An error head has no X-Cache and no Age, whatever else is set. */
static void
test_reply_head_error_fields(void **state)
{
	struct reply	r = { 405, NULL, -1, -1, 1 };
	char		buf[REPLY_HEAD_MAX];

	(void)state;
	assert_true(reply_head(buf, sizeof(buf), &r, 46) > 0);
	assert_null(strstr(buf, "X-Cache"));
	assert_null(strstr(buf, "Age:"));
	assert_non_null(strstr(buf, "\r\nCache-Control: no-store\r\n"));
	assert_non_null(strstr(buf, "\r\nAllow: GET, HEAD\r\n"));
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
	{ __LINE__, ERR_CACHE_DOWN, 503 },
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
		{ __LINE__, 400, "Bad Request" },
		{ __LINE__, 404, "Not Found" },
		{ __LINE__, 405, "Method Not Allowed" },
		{ __LINE__, 500, "Internal Server Error" },
		{ __LINE__, 502, "Bad Gateway" },
		{ __LINE__, 503, "Service Unavailable" },
		{ __LINE__, 504, "Gateway Timeout" },
		{ __LINE__, 0, "Unknown" },
		{ __LINE__, -1, "Unknown" },
		{ __LINE__, 201, "Unknown" },
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
		cmocka_unit_test_setup(test_reply_head_error_fields, reset),
		cmocka_unit_test_setup(test_err_status, reset),
		cmocka_unit_test_setup(test_reply_error_body, reset),
		cmocka_unit_test_setup(test_reply_error_body_truncated, reset),
		cmocka_unit_test_setup(test_reply_status_text, reset),
		cmocka_unit_test_setup(test_err_status_has_text, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
