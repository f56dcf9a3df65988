/*
 * unit.h: the plumbing every table-driven unit test shares: reporting a
 * failing row by its __LINE__ (row_fail, done, reset), printing bytes
 * (show, show_str) and heap copies of exactly the given length (exact).
 *
 * It brings in cmocka, with the headers cmocka needs before it, and the
 * stdio/stdlib/string that the helpers and the tests use.  Nothing here
 * knows about a module under test.  Each tests/unit/test_*.c is its own
 * program and includes this once; the functions are static inline so that
 * a test that does not use one is not warned about it.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	bad;	/* failing rows in the current test */

/*
 * Prints "FILE:LINE: message" for a failing row and counts it; the test
 * goes on with its next row and done() fails it at the end.  A macro so that
 * FILE is the test's, not this header's.
 */
#define row_fail(line, ...)	row_fail_at(__FILE__, (line), __VA_ARGS__)

static inline void	row_fail_at(const char *, int, const char *, ...)
			    __attribute__((format(printf, 3, 4)));

static inline void
row_fail_at(const char *file, int line, const char *fmt, ...)
{
	char	msg[2048];
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	print_error("%s:%d: %s\n", file, line, msg);
	bad++;
}

/* The setup of every test: no row has failed yet. */
static inline int
reset(void **state)
{
	(void)state;
	bad = 0;
	return 0;
}

/* Ends a test: fails it, at the caller's line, if any row failed. */
#define done() do {							\
	if (bad > 0)							\
		fail_msg("%d row(s) failed, see above", bad);		\
} while (0)

/*
 * s[len] quoted into buf[size], for printing a failing row: bytes outside
 * printable ASCII, '"' and '\\' as \xNN, and "..." where it is cut to fit.
 * Returns buf; size must be at least 16.
 */
static inline const char *
show(const char *s, size_t len, char *buf, size_t size)
{
	size_t	i, off = 0;

	buf[off++] = '"';
	for (i = 0; i < len && off + 8 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			off += (size_t)snprintf(buf + off, size - off,
			    "\\x%02x", c);
		else
			buf[off++] = (char)c;
	}
	if (i < len)
		off += (size_t)snprintf(buf + off, size - off, "...");
	buf[off++] = '"';
	buf[off] = '\0';
	return buf;
}

/* show() of a NUL-terminated s; "NULL" (unquoted) for NULL. */
static inline const char *
show_str(const char *s, char *buf, size_t size)
{
	if (s == NULL)
		return "NULL";
	return show(s, strlen(s), buf, size);
}

/*
 * A heap copy of s[len] with nothing after it (no NUL), so that ASan reports
 * any read past len.  The caller frees it.
 */
static inline char *
exact(const char *s, size_t len)
{
	char	*p = malloc(len > 0 ? len : 1);

	assert_non_null(p);
	if (len > 0)
		memcpy(p, s, len);
	return p;
}

#endif /* UNIT_H */
