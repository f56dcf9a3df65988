/*
 * test_route.c: table-driven tests of route_parse() and route_path().
 *
 * Every row carries its __LINE__; a failing row is printed with its method,
 * URI (non-printable bytes as \xNN) and what came back, and the test fails
 * after all rows ran.  Pure functions only: no I/O, no environment.
 */
#include "unit.h"
#include "route.h"

static const char *
err_name(enum err e)
{
	switch (e) {
	case ERR_OK:		return "ERR_OK";
	case ERR_NOT_FOUND:	return "ERR_NOT_FOUND";
	case ERR_BAD_ID:	return "ERR_BAD_ID";
	case ERR_METHOD:	return "ERR_METHOD";
	default:		return "ERR_(other)";
	}
}

struct parse_row {
	int		 line;
	const char	*method;
	const char	*uri;
	enum err	 err;
	enum route_kind	 kind;
	long		 id;
	int		 head;
	int		 purge;
};

#define TODOS(m, u)	{ __LINE__, m, u, ERR_OK, ROUTE_TODOS, 0, 0, 0 }
#define TODO(m, u, id)	{ __LINE__, m, u, ERR_OK, ROUTE_TODO, id, 0, 0 }
#define HEAD_TODOS(u)	{ __LINE__, "HEAD", u, ERR_OK, ROUTE_TODOS, 0, 1, 0 }
#define HEAD_TODO(u, id) { __LINE__, "HEAD", u, ERR_OK, ROUTE_TODO, id, 1, 0 }
#define DEL_TODOS(u)	{ __LINE__, "DELETE", u, ERR_OK, ROUTE_TODOS, 0, 0, 1 }
#define DEL_TODO(u, id)	{ __LINE__, "DELETE", u, ERR_OK, ROUTE_TODO, id, 0, 1 }
#define FAILS(m, u, e)	{ __LINE__, m, u, e, ROUTE_TODOS, 0, 0, 0 }

static const struct parse_row parse_rows[] = {
	/* the two resources */
	TODOS("GET", "/get_todos"),
	TODO("GET", "/get_todos/1", 1),
	TODO("GET", "/get_todos/200", 200),
	TODO("GET", "/get_todos/2147483647", 2147483647L),
	FAILS("GET", "/get_todos/2147483648", ERR_BAD_ID),

	/* ids: decimal digits only, 1..2^31-1 */
	FAILS("GET", "/get_todos/abc", ERR_BAD_ID),
	FAILS("GET", "/get_todos/-1", ERR_BAD_ID),
	FAILS("GET", "/get_todos/1.5", ERR_BAD_ID),
	FAILS("GET", "/get_todos/0x10", ERR_BAD_ID),
	FAILS("GET", "/get_todos/+5", ERR_BAD_ID),
	FAILS("GET", "/get_todos/99999999999999999999", ERR_BAD_ID),
	FAILS("GET", "/get_todos/0", ERR_BAD_ID),
	FAILS("GET", "/get_todos/00", ERR_BAD_ID),
	FAILS("GET", "/get_todos/%31", ERR_BAD_ID),	/* not decoded */
	FAILS("GET", "/get_todos/1%20", ERR_BAD_ID),
	FAILS("GET", "/get_todos/1%00", ERR_BAD_ID),
	FAILS("GET", "/get_todos/ 1", ERR_BAD_ID),
	FAILS("GET", "/get_todos/1 ", ERR_BAD_ID),
	FAILS("GET", "/get_todos/1a", ERR_BAD_ID),
	FAILS("GET", "/get_todos/10000000000", ERR_BAD_ID),
	FAILS("GET", "/get_todos/4294967297", ERR_BAD_ID),  /* 2^32+1 */
	FAILS("GET", "/get_todos/\xd9\xa3", ERR_BAD_ID),	/* U+0663 */
	FAILS("GET", "/get_todos/\xef\xbc\x91", ERR_BAD_ID),	/* U+FF11 */
	FAILS("GET", "/get_todos/1\x01", ERR_BAD_ID),
	FAILS("GET", "/get_todos/1\xff", ERR_BAD_ID),

	/* leading zeros are dropped: the id is canonical */
	TODO("GET", "/get_todos/007", 7),
	TODO("GET", "/get_todos/0000000000000000000001", 1),
	TODO("GET", "/get_todos/00000000002147483647", 2147483647L),
	FAILS("GET", "/get_todos/00000000002147483648", ERR_BAD_ID),

	/* anything but the two shapes is not found */
	FAILS("GET", "/nope", ERR_NOT_FOUND),
	FAILS("GET", "/", ERR_NOT_FOUND),
	FAILS("GET", "", ERR_NOT_FOUND),
	FAILS("GET", NULL, ERR_NOT_FOUND),
	FAILS("GET", "/get_todos/", ERR_NOT_FOUND),	/* empty id */
	FAILS("GET", "/get_todos/1/extra", ERR_NOT_FOUND),
	FAILS("GET", "/get_todos//1", ERR_NOT_FOUND),
	FAILS("GET", "//get_todos", ERR_NOT_FOUND),
	FAILS("GET", "/get_todosx", ERR_NOT_FOUND),
	FAILS("GET", "/get_todos1", ERR_NOT_FOUND),
	FAILS("GET", "/GET_TODOS", ERR_NOT_FOUND),
	FAILS("GET", "/get_todos/1/", ERR_NOT_FOUND),
	FAILS("GET", "/get_todos/../get_todos/1", ERR_NOT_FOUND),
	FAILS("GET", "/get_todos/./1", ERR_NOT_FOUND),
	FAILS("GET", "get_todos", ERR_NOT_FOUND),
	FAILS("GET", "/get_todo", ERR_NOT_FOUND),
	FAILS("GET", "/get_todos/?x=1", ERR_NOT_FOUND),	/* empty id */
	/*
	 * Nothing is percent-decoded (route.h), so "%2e%2e" is a one-segment
	 * id that is not decimal: ERR_BAD_ID, exactly like "%31" above.  It
	 * is never a dot segment and never reaches the upstream.
	 */
	FAILS("GET", "/get_todos/%2e%2e", ERR_BAD_ID),

	/* the query string and fragment are ignored */
	TODO("GET", "/get_todos/4?utm=x", 4),
	TODOS("GET", "/get_todos?x=1"),
	TODOS("GET", "/get_todos?"),
	TODO("GET", "/get_todos/4?a/b", 4),
	TODO("GET", "/get_todos/4#x", 4),
	FAILS("GET", "/get_todos/abc?x", ERR_BAD_ID),
	TODOS("GET", "/get_todos#frag"),
	FAILS("GET", "/nope?/get_todos", ERR_NOT_FOUND),

	/* methods: GET, HEAD (and DELETE, below), checked after the path,
	   before the id */
	HEAD_TODOS("/get_todos"),
	HEAD_TODO("/get_todos/7", 7),
	FAILS("HEAD", "/get_todos/abc", ERR_BAD_ID),
	DEL_TODOS("/get_todos"),
	DEL_TODO("/get_todos/7", 7),
	DEL_TODO("/get_todos/007?x", 7),
	FAILS("DELETE", "/get_todos/abc", ERR_BAD_ID),
	FAILS("DELETE", "/get_todos/0", ERR_BAD_ID),
	FAILS("DELETE", "/nope", ERR_NOT_FOUND),
	FAILS("DELETE ", "/get_todos/1", ERR_METHOD),
	FAILS("Delete", "/get_todos/1", ERR_METHOD),
	FAILS("POST", "/get_todos", ERR_METHOD),
	FAILS("POST", "/get_todos/1", ERR_METHOD),
	FAILS("PUT", "/get_todos/1", ERR_METHOD),
	FAILS("delete", "/get_todos/1", ERR_METHOD),
	FAILS("PURGE", "/get_todos/1", ERR_METHOD),
	FAILS("OPTIONS", "/get_todos", ERR_METHOD),
	FAILS("get", "/get_todos", ERR_METHOD),
	FAILS("head", "/get_todos", ERR_METHOD),
	FAILS("GET ", "/get_todos", ERR_METHOD),
	FAILS("GETX", "/get_todos", ERR_METHOD),
	FAILS("", "/get_todos", ERR_METHOD),
	FAILS(NULL, "/get_todos", ERR_METHOD),
	FAILS(NULL, "/get_todos/1", ERR_METHOD),
	FAILS("POST", "/nope", ERR_NOT_FOUND),	/* unknown path wins */
	FAILS(NULL, NULL, ERR_NOT_FOUND),
	FAILS("POST", "/get_todos/abc", ERR_METHOD),	/* method before id */
	FAILS("POST", "/get_todos/0", ERR_METHOD),
};

static void
test_route_parse(void **state)
{
	const struct parse_row	*row;
	struct route		 r;
	enum err		 e;
	char			 m[128], u[256];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
		row = &parse_rows[i];
		memset(&r, 0xa5, sizeof(r));	/* must be overwritten */
		e = route_parse(row->method, row->uri, &r);
		if (e != row->err) {
			row_fail(row->line, "route_parse(%s, %s): %s, want %s",
			    show_str(row->method, m, sizeof(m)),
			    show_str(row->uri, u, sizeof(u)), err_name(e),
			    err_name(row->err));
			continue;
		}
		if (e != ERR_OK) {
			/* On any error *r is all zero. */
			if (r.kind != 0 || r.id != 0 || r.head != 0 ||
			    r.purge != 0)
				row_fail(row->line, "route_parse(%s, %s): %s "
				    "but *r not zeroed (kind %d id %ld "
				    "head %d purge %d)",
				    show_str(row->method, m, sizeof(m)),
				    show_str(row->uri, u, sizeof(u)),
				    err_name(e), (int)r.kind, r.id, r.head,
				    r.purge);
			continue;
		}
		if (r.kind != row->kind || r.id != row->id ||
		    r.head != row->head || r.purge != row->purge)
			row_fail(row->line, "route_parse(%s, %s): kind %d id "
			    "%ld head %d purge %d, want kind %d id %ld head %d "
			    "purge %d", show_str(row->method, m, sizeof(m)),
			    show_str(row->uri, u, sizeof(u)), (int)r.kind, r.id,
			    r.head, r.purge, (int)row->kind, row->id, row->head,
			    row->purge);
	}
	done();
}

struct path_row {
	int		 line;
	enum route_kind	 kind;
	long		 id;
	const char	*want;
};

static const struct path_row path_rows[] = {
	{ __LINE__, ROUTE_TODOS, 0, "/todos" },
	{ __LINE__, ROUTE_TODO, 1, "/todos/1" },
	{ __LINE__, ROUTE_TODO, 7, "/todos/7" },
	{ __LINE__, ROUTE_TODO, 200, "/todos/200" },
	{ __LINE__, ROUTE_TODO, 2147483647L, "/todos/2147483647" },
};

/*
 * Each row is formatted into a heap buffer of every size from 0 to its
 * length + 1, so that ASan sees any write past the size it was given.
 */
static void
test_route_path(void **state)
{
	const struct path_row	*row;
	struct route		 r;
	char			*buf;
	size_t			 i, size, want;
	int			 n;

	(void)state;
	for (i = 0; i < sizeof(path_rows) / sizeof(path_rows[0]); i++) {
		row = &path_rows[i];
		memset(&r, 0, sizeof(r));
		r.kind = row->kind;
		r.id = row->id;
		want = strlen(row->want);
		for (size = 0; size <= want + 1; size++) {
			buf = malloc(size > 0 ? size : 1);
			assert_non_null(buf);
			n = route_path(&r, buf, size);
			if (size <= want && n != -1)
				row_fail(row->line, "route_path(%s) into %zu "
				    "bytes: %d, want -1", row->want, size, n);
			else if (size == want + 1 && (n < 0 ||
			    (size_t)n != want || strcmp(buf, row->want) != 0))
				row_fail(row->line, "route_path into %zu "
				    "bytes: %d \"%.*s\", want %zu \"%s\"",
				    size, n, n > 0 ? n : 0, buf, want,
				    row->want);
			free(buf);
		}
	}
	done();
}

/* What route_parse() accepts, route_path() turns into the upstream path. */
static void
test_route_parse_then_path(void **state)
{
	static const struct {
		int		 line;
		const char	*uri;
		const char	*path;
	} rows[] = {
		{ __LINE__, "/get_todos", "/todos" },
		{ __LINE__, "/get_todos?x=1", "/todos" },
		{ __LINE__, "/get_todos/1", "/todos/1" },
		{ __LINE__, "/get_todos/007", "/todos/7" },
		{ __LINE__, "/get_todos/0000000000000000000001", "/todos/1" },
		{ __LINE__, "/get_todos/2147483647?a/b", "/todos/2147483647" },
	};
	struct route	r;
	char		buf[64];
	size_t		i;
	int		n;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (route_parse("GET", rows[i].uri, &r) != ERR_OK) {
			row_fail(rows[i].line, "route_parse(GET, \"%s\") "
			    "failed", rows[i].uri);
			continue;
		}
		n = route_path(&r, buf, sizeof(buf));
		if (n < 0 || strcmp(buf, rows[i].path) != 0)
			row_fail(rows[i].line, "\"%s\" -> \"%s\" (%d), want "
			    "\"%s\"", rows[i].uri, n < 0 ? "" : buf, n,
			    rows[i].path);
	}
	done();
}

/* DELETE parses like GET, with purge set; serve decides if it is allowed. */
static void
test_route_delete(void **state)
{
	struct route	r;

	(void)state;
	assert_int_equal(route_parse("DELETE", "/get_todos/007?x", &r), ERR_OK);
	assert_int_equal(r.kind, ROUTE_TODO);
	assert_int_equal(r.id, 7);
	assert_int_equal(r.purge, 1);
	assert_int_equal(r.head, 0);
	assert_int_equal(route_parse("DELETE", "/get_todos", &r), ERR_OK);
	assert_int_equal(r.kind, ROUTE_TODOS);
	assert_int_equal(r.purge, 1);
	assert_int_equal(route_parse("GET", "/get_todos", &r), ERR_OK);
	assert_int_equal(r.purge, 0);
	assert_int_equal(route_parse("DELETE", "/get_todos/x", &r), ERR_BAD_ID);
	assert_int_equal(r.purge, 0);
	assert_int_equal(route_parse("DELETE", "/nope", &r), ERR_NOT_FOUND);
}

/* /health and /metrics: GET and HEAD only, query ignored, no upstream path. */
static void
test_route_ops(void **state)
{
	static const struct {
		int		 line;
		const char	*method, *uri;
		enum err	 err;
		enum route_kind	 kind;
		int		 head;
	} rows[] = {
		{ __LINE__, "GET", "/health", ERR_OK, ROUTE_HEALTH, 0 },
		{ __LINE__, "HEAD", "/health", ERR_OK, ROUTE_HEALTH, 1 },
		{ __LINE__, "GET", "/health?full=1", ERR_OK, ROUTE_HEALTH, 0 },
		{ __LINE__, "GET", "/metrics", ERR_OK, ROUTE_METRICS, 0 },
		{ __LINE__, "HEAD", "/metrics#x", ERR_OK, ROUTE_METRICS, 1 },
		{ __LINE__, "POST", "/health", ERR_METHOD, 0, 0 },
		{ __LINE__, "DELETE", "/metrics", ERR_METHOD, 0, 0 },
		{ __LINE__, NULL, "/metrics", ERR_METHOD, 0, 0 },
		{ __LINE__, "GET", "/healthz", ERR_NOT_FOUND, 0, 0 },
		{ __LINE__, "GET", "/health/", ERR_NOT_FOUND, 0, 0 },
		{ __LINE__, "GET", "/metric", ERR_NOT_FOUND, 0, 0 },
		{ __LINE__, "GET", "//health", ERR_NOT_FOUND, 0, 0 },
		{ __LINE__, "GET", "/HEALTH", ERR_NOT_FOUND, 0, 0 },
	};
	struct route	r;
	char		path[32];
	size_t		i;
	enum err	e;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		e = route_parse(rows[i].method, rows[i].uri, &r);
		if (e != rows[i].err || (e == ERR_OK &&
		    (r.kind != rows[i].kind || r.head != rows[i].head ||
		    r.purge != 0 || r.id != 0 ||
		    route_path(&r, path, sizeof(path)) != -1)))
			row_fail(rows[i].line, "route_parse(%s, %s): err %d "
			    "kind %d head %d, want err %d kind %d head %d",
			    rows[i].method ? rows[i].method : "NULL",
			    rows[i].uri, (int)e, (int)r.kind, r.head,
			    (int)rows[i].err, (int)rows[i].kind, rows[i].head);
	}
	done();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_route_parse, reset),
		cmocka_unit_test_setup(test_route_path, reset),
		cmocka_unit_test_setup(test_route_parse_then_path, reset),
		cmocka_unit_test(test_route_delete),
		cmocka_unit_test_setup(test_route_ops, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
