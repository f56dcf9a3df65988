/*
 * test_prelude.c: prelude_check() on whole, partial and unsound requests,
 * built record by record.  A failing case prints its line.
 */
#include <fastcgi.h>

#include "unit.h"
#include "prelude.h"

struct msg {
	unsigned char	b[PRELUDE_MAX + 4096];
	size_t		len;
};

static void
rec(struct msg *m, int type, int id, const void *content, size_t len,
    int pad)
{
	unsigned char	*h = m->b + m->len;

	assert_true(m->len + 8 + len + (size_t)pad <= sizeof(m->b));
	h[0] = FCGI_VERSION_1;
	h[1] = (unsigned char)type;
	h[2] = (unsigned char)(id >> 8);
	h[3] = (unsigned char)id;
	h[4] = (unsigned char)(len >> 8);
	h[5] = (unsigned char)len;
	h[6] = (unsigned char)pad;
	h[7] = 0;
	if (len > 0)
		memcpy(h + 8, content, len);
	memset(h + 8 + len, 0, (size_t)pad);
	m->len += 8 + len + (size_t)pad;
}

static void
begin(struct msg *m, int id, int role, int flags)
{
	unsigned char	c[8] = { 0 };

	c[0] = (unsigned char)(role >> 8);
	c[1] = (unsigned char)role;
	c[2] = (unsigned char)flags;
	rec(m, FCGI_BEGIN_REQUEST, id, c, sizeof(c), 0);
}

/* "\x0b\x02REQUEST_URI/x" and such: a pair with one-byte lengths. */
static size_t
pair(unsigned char *to, const char *name, const char *value)
{
	size_t	n = strlen(name), v = strlen(value);

	to[0] = (unsigned char)n;
	to[1] = (unsigned char)v;
	memcpy(to + 2, name, n);
	memcpy(to + 2 + n, value, v);
	return 2 + n + v;
}

static enum prelude_state
check(const struct msg *m, struct prelude *p)
{
	return prelude_check(m->b, m->len, p);
}

static void
test_prelude_whole(void **state)
{
	struct msg	 m = { .len = 0 };
	struct prelude	 p;
	unsigned char	 c[256];
	size_t		 n, end, cut;

	(void)state;
	n = pair(c, "REQUEST_METHOD", "GET");
	n += pair(c + n, "REQUEST_URI", "/get_todos/1");
	begin(&m, 7, FCGI_RESPONDER, FCGI_KEEP_CONN);
	rec(&m, FCGI_PARAMS, 7, c, n, 3);	/* padded, as Apache does */
	rec(&m, FCGI_PARAMS, 7, NULL, 0, 0);
	rec(&m, FCGI_STDIN, 7, "a=1", 3, 5);	/* a body */
	rec(&m, FCGI_STDIN, 7, NULL, 0, 0);
	end = m.len;
	begin(&m, 8, FCGI_RESPONDER, 0);	/* the next: not part of it */
	assert_int_equal(check(&m, &p), PRELUDE_READY);
	assert_int_equal(p.len, end);
	assert_int_equal(p.id, 7);
	assert_int_equal(p.role, FCGI_RESPONDER);
	assert_int_equal(p.keep, 1);

	/* Every cut short of the end asks for more, and for no more than
	   the whole, and never for what it has. */
	for (cut = 0; cut < end; cut++) {
		if (prelude_check(m.b, cut, &p) != PRELUDE_MORE ||
		    p.need <= cut || p.need > end)
			row_fail(__LINE__, "cut at %zu: need %zu", cut, p.need);
	}
	done();
}

static void
test_prelude_split_pairs(void **state)
{
	struct msg	 m = { .len = 0 };
	struct prelude	 p;
	unsigned char	 c[300], big[200];
	size_t		 n, i;

	(void)state;
	/* A four-byte value length, and a pair split across records. */
	memset(big, 'x', sizeof(big));
	c[0] = 8;
	c[1] = 0x80;
	c[2] = 0;
	c[3] = 0;
	c[4] = sizeof(big);
	memcpy(c + 5, "HTTP_PAD", 8);
	memcpy(c + 13, big, sizeof(big));
	n = 13 + sizeof(big);
	begin(&m, 1, FCGI_RESPONDER, 0);
	for (i = 0; i < n; i += 7)
		rec(&m, FCGI_PARAMS, 1, c + i, n - i < 7 ? n - i : 7, 0);
	rec(&m, FCGI_PARAMS, 1, NULL, 0, 0);
	rec(&m, FCGI_STDIN, 1, NULL, 0, 0);
	assert_int_equal(check(&m, &p), PRELUDE_READY);
	assert_int_equal(p.keep, 0);
	done();
}

static void
test_prelude_management_refused(void **state)
{
	struct msg	 m = { .len = 0 };
	struct prelude	 p;
	unsigned char	 c[128];
	size_t		 n;
	int		 i;

	(void)state;
	/*
	 * libfcgi answers GET_VALUES into a 64-byte stack buffer: four
	 * names overflow it.  No web server sends one; none passes.
	 */
	for (n = 0, i = 0; i < 4; i++)
		n += pair(c + n, "FCGI_MPXS_CONNS", "");
	assert_true(n <= sizeof(c));
	rec(&m, FCGI_GET_VALUES, FCGI_NULL_REQUEST_ID, c, n, 0);
	assert_int_equal(check(&m, &p), PRELUDE_BAD);
	/* Nor inside the body, where libfcgi would answer it too. */
	m.len = 0;
	begin(&m, 4, FCGI_RESPONDER, 0);
	rec(&m, FCGI_PARAMS, 4, NULL, 0, 0);	/* no params at all */
	rec(&m, FCGI_STDIN, 4, "x", 1, 0);
	rec(&m, FCGI_GET_VALUES, FCGI_NULL_REQUEST_ID, c, n, 0);
	rec(&m, FCGI_STDIN, 4, NULL, 0, 0);
	assert_int_equal(check(&m, &p), PRELUDE_BAD);
	/* An abort before BEGIN_REQUEST: libfcgi calls it an error too. */
	m.len = 0;
	rec(&m, FCGI_ABORT_REQUEST, 3, NULL, 0, 0);
	begin(&m, 4, FCGI_RESPONDER, 0);
	assert_int_equal(check(&m, &p), PRELUDE_BAD);
	done();
}

static void
test_prelude_unsound(void **state)
{
	static const unsigned char overflow[][9] = {
		/* name length 0x7ffffffe, value 1: libfcgi's Malloc aborts */
		{ 0xff, 0xff, 0xff, 0xfe, 0x01, 'x' },
		{ 0xc0, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 'x' },
		{ 0x05, 0x01, 'a', 'b', 'c', 'd', 'e' },	/* one short */
		{ 0x80, 0x00, 0x01 },		/* a four-byte length cut */
		{ 0x01 },			/* a name with no value length */
	};
	static const size_t lens[] = { 6, 9, 7, 3, 1 };
	struct msg		 m;
	struct prelude		 p;
	unsigned char		 c[16];
	size_t			 i, n;

	(void)state;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		m.len = 0;
		begin(&m, 1, FCGI_RESPONDER, 0);
		rec(&m, FCGI_PARAMS, 1, overflow[i], lens[i], 0);
		rec(&m, FCGI_PARAMS, 1, NULL, 0, 0);
		if (check(&m, &p) != PRELUDE_BAD)
			row_fail(__LINE__, "pairs %zu: not refused", i);
	}

	n = pair(c, "A", "b");
	/* Not version 1. */
	m.len = 0;
	begin(&m, 1, FCGI_RESPONDER, 0);
	m.b[0] = 2;
	assert_int_equal(check(&m, &p), PRELUDE_BAD);
	/* A management record of a type there is not (libfcgi leaks). */
	m.len = 0;
	rec(&m, 11, FCGI_NULL_REQUEST_ID, NULL, 0, 0);
	assert_int_equal(check(&m, &p), PRELUDE_BAD);
	/* PARAMS before BEGIN_REQUEST. */
	m.len = 0;
	rec(&m, FCGI_PARAMS, 1, c, n, 0);
	assert_int_equal(check(&m, &p), PRELUDE_BAD);
	/* A BEGIN_REQUEST of another length, or of the null request. */
	m.len = 0;
	rec(&m, FCGI_BEGIN_REQUEST, 1, c, 4, 0);
	assert_int_equal(check(&m, &p), PRELUDE_BAD);
	m.len = 0;
	rec(&m, FCGI_BEGIN_REQUEST, 1, "\0\1\0\0\0\0\0\0\0", 9, 0);
	assert_int_equal(check(&m, &p), PRELUDE_BAD);
	m.len = 0;
	begin(&m, FCGI_NULL_REQUEST_ID, FCGI_RESPONDER, 0);
	assert_int_equal(check(&m, &p), PRELUDE_BAD);
	/* Inside the PARAMS stream: an abort, another request, STDIN. */
	m.len = 0;
	begin(&m, 1, FCGI_RESPONDER, 0);
	rec(&m, FCGI_PARAMS, 1, c, n, 0);
	rec(&m, FCGI_ABORT_REQUEST, 1, NULL, 0, 0);
	assert_int_equal(check(&m, &p), PRELUDE_BAD);
	m.len = 0;
	begin(&m, 1, FCGI_RESPONDER, 0);
	rec(&m, FCGI_PARAMS, 2, c, n, 0);
	assert_int_equal(check(&m, &p), PRELUDE_BAD);
	m.len = 0;
	begin(&m, 1, FCGI_RESPONDER, 0);
	rec(&m, FCGI_STDIN, 1, NULL, 0, 0);
	assert_int_equal(check(&m, &p), PRELUDE_BAD);
	/* Inside the body: another request's STDIN, or PARAMS. */
	m.len = 0;
	begin(&m, 1, FCGI_RESPONDER, 0);
	rec(&m, FCGI_PARAMS, 1, NULL, 0, 0);
	rec(&m, FCGI_STDIN, 2, "x", 1, 0);
	assert_int_equal(check(&m, &p), PRELUDE_BAD);
	m.len = 0;
	begin(&m, 1, FCGI_RESPONDER, 0);
	rec(&m, FCGI_PARAMS, 1, NULL, 0, 0);
	rec(&m, FCGI_PARAMS, 1, c, n, 0);
	assert_int_equal(check(&m, &p), PRELUDE_BAD);
	done();
}

static void
test_prelude_role_and_size(void **state)
{
	static unsigned char	 pad[60000];
	struct msg		 m = { .len = 0 };
	struct prelude		 p;
	size_t			 end;
	int			 i;

	(void)state;
	/* A role is refused as soon as BEGIN_REQUEST is in. */
	begin(&m, 9, FCGI_AUTHORIZER, 0);
	assert_int_equal(check(&m, &p), PRELUDE_ROLE);
	assert_int_equal(p.id, 9);
	assert_int_equal(p.role, FCGI_AUTHORIZER);

	/* Past PRELUDE_MAX: refused from the header that says so. */
	m.len = 0;
	begin(&m, 1, FCGI_RESPONDER, 0);
	rec(&m, FCGI_PARAMS, 1, pad, 60000, 0);
	assert_int_equal(prelude_check(m.b, m.len + 8 - 1, &p), PRELUDE_MORE);
	m.b[m.len] = FCGI_VERSION_1;
	m.b[m.len + 1] = FCGI_PARAMS;
	m.b[m.len + 2] = 0;
	m.b[m.len + 3] = 1;
	m.b[m.len + 4] = 0x20;	/* 8192 more */
	m.b[m.len + 5] = 0;
	m.b[m.len + 6] = 0;
	m.b[m.len + 7] = 0;
	assert_int_equal(prelude_check(m.b, m.len + 8, &p), PRELUDE_TOO_BIG);
	assert_int_equal(p.id, 1);
	/* The same with that record whole: still refused. */
	m.len += 8;
	memset(m.b + m.len, 0, 8192);
	assert_int_equal(prelude_check(m.b, m.len + 8192, &p),
	    PRELUDE_TOO_BIG);

	/* The same bytes as a body: the prelude is served, not the body. */
	m.len = 0;
	begin(&m, 1, FCGI_RESPONDER, 0);
	rec(&m, FCGI_PARAMS, 1, NULL, 0, 0);
	end = m.len;
	rec(&m, FCGI_STDIN, 1, pad, 60000, 0);
	m.b[m.len] = FCGI_VERSION_1;
	m.b[m.len + 1] = FCGI_STDIN;
	m.b[m.len + 2] = 0;
	m.b[m.len + 3] = 1;
	m.b[m.len + 4] = 0x20;
	m.b[m.len + 5] = 0;
	m.b[m.len + 6] = 0;
	m.b[m.len + 7] = 0;
	assert_int_equal(prelude_check(m.b, m.len + 8, &p), PRELUDE_BODY);
	assert_int_equal(p.len, end);

	/* More records than PRELUDE_RECORDS, however small. */
	m.len = 0;
	begin(&m, 1, FCGI_RESPONDER, 0);
	for (i = 0; i < PRELUDE_RECORDS; i++)
		rec(&m, FCGI_PARAMS, 1, "\0", 1, 0);
	assert_int_equal(check(&m, &p), PRELUDE_TOO_BIG);
	done();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_prelude_whole, reset),
		cmocka_unit_test_setup(test_prelude_split_pairs, reset),
		cmocka_unit_test_setup(test_prelude_management_refused, reset),
		cmocka_unit_test_setup(test_prelude_unsound, reset),
		cmocka_unit_test_setup(test_prelude_role_and_size, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
