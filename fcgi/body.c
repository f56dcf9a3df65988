/*
 * body.c: check and compact an upstream body in one pass, without a tree.
 *
 * A parsed tree (jansson's) of a list of todos takes about 20 times the
 * body's size, and the upstream may send UPSTREAM_MAX_BYTES; this scanner
 * writes the compact form into one buffer as it reads, so the cost of a
 * body is its own size once more, whatever it holds.  The nesting is kept
 * in a fixed array on the stack: nothing recurses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "body.h"
#include "log.h"

struct scan {
	const unsigned char	*p, *end;	/* what is left of the input */
	char			*o;		/* where the output goes on */
	const char		*why;		/* NULL, or why it is refused */
};

static int
fail(struct scan *s, const char *why)
{
	s->why = why;
	return -1;
}

static void
skip_space(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* Copies one well-formed multi-byte UTF-8 sequence (RFC 3629 table). */
static int
utf8(struct scan *s)
{
	const unsigned char	*p = s->p;
	unsigned char		 lo = 0x80, hi = 0xbf;
	size_t			 n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (p[0] == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;	/* overlong */
		else if (p[0] == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return fail(s, "invalid UTF-8");
	if ((size_t)(s->end - p) < n || p[1] < lo || p[1] > hi)
		return fail(s, "invalid UTF-8");
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return fail(s, "invalid UTF-8");
	memcpy(s->o, p, n);
	s->o += n;
	s->p += n;
	return 0;
}

/* The four hex digits after "\u". */
static int
hex4(struct scan *s, unsigned *cp)
{
	int	i, c;

	if (s->end - s->p < 4)
		return fail(s, "string cut short");
	for (*cp = 0, i = 0; i < 4; i++) {
		c = *s->p++;
		if (c >= '0' && c <= '9')
			c -= '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			c = (c | 0x20) - 'a' + 10;
		else
			return fail(s, "invalid \\u escape");
		*cp = *cp << 4 | (unsigned)c;
	}
	return 0;
}

/*
 * Writes code point cp as the compact form has it.  Never longer than the
 * escape it came from: \uXXXX is 6 bytes, a pair 12.
 */
static void
put_code(struct scan *s, unsigned cp)
{
	static const char	 hex[] = "0123456789ABCDEF";
	static const char	 short_esc[] = "\bb\ff\nn\rr\tt";
	const char		*e;
	char			*o = s->o;

	if (cp == '"' || cp == '\\') {
		*o++ = '\\';
		*o++ = (char)cp;
	} else if (cp < 0x20) {
		*o++ = '\\';
		for (e = short_esc; *e != '\0' && (unsigned char)*e != cp;
		    e += 2)
			;
		if (cp != 0 && *e != '\0')
			*o++ = e[1];
		else {
			memcpy(o, "u00", 3);
			o[3] = hex[cp >> 4];
			o[4] = hex[cp & 0xf];
			o += 5;
		}
	} else if (cp < 0x80)
		*o++ = (char)cp;
	else if (cp < 0x800) {
		*o++ = (char)(0xc0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | cp >> 12);
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | cp >> 18);
		*o++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	s->o = o;
}

/* An escape after its backslash. */
static int
escape(struct scan *s, int key)
{
	unsigned	cp, lo;
	int		c;

	if (s->p == s->end)
		return fail(s, "string cut short");
	switch (c = *s->p++) {
	case '"': case '\\': case 'b': case 'f': case 'n': case 'r': case 't':
		*s->o++ = '\\';
		*s->o++ = (char)c;
		return 0;
	case '/':
		*s->o++ = '/';
		return 0;
	case 'u':
		break;
	default:
		return fail(s, "invalid escape");
	}
	if (hex4(s, &cp) == -1)
		return -1;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(s, "lone low surrogate");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
			return fail(s, "lone high surrogate");
		s->p += 2;
		if (hex4(s, &lo) == -1)
			return -1;
		if (lo < 0xdc00 || lo > 0xdfff)
			return fail(s, "lone high surrogate");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	/* jansson, and so the clients we were tested with, cannot hold it. */
	if (cp == 0 && key)
		return fail(s, "\\u0000 in a key");
	put_code(s, cp);
	return 0;
}

/* A string, from its opening quote; key: it is an object's key. */
static int
string(struct scan *s, int key)
{
	int	c;

	*s->o++ = '"';
	s->p++;
	for (;;) {
		if (s->p == s->end)
			return fail(s, "string cut short");
		c = *s->p;
		if (c == '"') {
			s->p++;
			*s->o++ = '"';
			return 0;
		}
		if (c < 0x20)
			return fail(s, "control character in a string");
		if (c >= 0x80) {
			if (utf8(s) == -1)
				return -1;
		} else if (c == '\\') {
			s->p++;
			if (escape(s, key) == -1)
				return -1;
		} else {
			*s->o++ = (char)c;
			s->p++;
		}
	}
}

static const unsigned char *
digits(const unsigned char *p, const unsigned char *end)
{
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

/* A number (RFC 8259 section 6), copied as it is written. */
static int
number(struct scan *s)
{
	const unsigned char	*p = s->p, *end = s->end, *q;

	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if ((q = digits(p, end)) == p)
		return fail(s, "invalid number");
	else
		p = q;
	if (p < end && *p == '.') {
		if ((q = digits(p + 1, end)) == p + 1)
			return fail(s, "invalid number");
		p = q;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if ((q = digits(p, end)) == p)
			return fail(s, "invalid number");
		p = q;
	}
	memcpy(s->o, s->p, (size_t)(p - s->p));
	s->o += p - s->p;
	s->p = p;
	return 0;
}

static int
literal(struct scan *s)
{
	static const char *const	 words[] = { "true", "false", "null" };
	size_t				 i, n;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		n = strlen(words[i]);
		if ((size_t)(s->end - s->p) >= n &&
		    memcmp(s->p, words[i], n) == 0) {
			memcpy(s->o, words[i], n);
			s->o += n;
			s->p += n;
			return 0;
		}
	}
	return fail(s, "invalid value");
}

/* May a value starting with c stand at depth (0: the top) in shape? */
static const char *
misshapen(enum body_shape shape, size_t depth, int c)
{
	if (depth == 0 && shape == BODY_TODO && c != '{')
		return "a todo must be an object";
	if (depth == 0 && shape == BODY_LIST && c != '[')
		return "the list must be an array";
	if (depth == 1 && shape == BODY_LIST && c != '{')
		return "the list's elements must be objects";
	return NULL;
}

/*
 * The whole scan, into s->o.  Each turn of the loop reads one value (a
 * scalar, or the opening of an array or object), one key and its colon, or
 * what follows a value (a comma, a closing bracket, or the end).
 */
static int
scan(struct scan *s, enum body_shape shape)
{
	char		 level[BODY_DEPTH_MAX];	/* '{' or '[' of each */
	size_t		 depth = 0;
	const char	*why;
	int		 c, end;
	enum { VALUE, KEY, AFTER } want = VALUE;

	for (;;) {
		skip_space(s);
		if (want == AFTER && depth == 0)
			return s->p == s->end ? 0 :
			    fail(s, "more after the value");
		if (s->p == s->end)
			return fail(s, "cut short");
		c = *s->p;
		if (want == AFTER) {
			end = level[depth - 1] == '{' ? '}' : ']';
			if (c == ',')
				want = level[depth - 1] == '{' ? KEY : VALUE;
			else if (c == end)
				depth--;
			else
				return fail(s, "expected ',' or the end of "
				    "the array or object");
			*s->o++ = (char)c;
			s->p++;
			continue;
		}
		if (want == KEY) {
			if (c != '"')
				return fail(s, "expected a key");
			if (string(s, 1) == -1)
				return -1;
			skip_space(s);
			if (s->p == s->end || *s->p != ':')
				return fail(s, "expected ':'");
			*s->o++ = ':';
			s->p++;
			want = VALUE;
			continue;
		}
		if ((why = misshapen(shape, depth, c)) != NULL)
			return fail(s, why);
		if (c == '{' || c == '[') {
			if (depth == BODY_DEPTH_MAX)
				return fail(s, "nested too deep");
			level[depth++] = (char)c;
			*s->o++ = (char)c;
			s->p++;
			skip_space(s);
			end = c == '{' ? '}' : ']';
			if (s->p < s->end && *s->p == end) {
				*s->o++ = (char)end;
				s->p++;
				depth--;
				want = AFTER;
			} else
				want = c == '{' ? KEY : VALUE;
			continue;
		}
		if ((c == '"' ? string(s, 0) : c == '-' || (c >= '0' &&
		    c <= '9') ? number(s) : literal(s)) == -1)
			return -1;
		want = AFTER;
	}
}

enum err
body_compact(const char *in, size_t len, enum body_shape shape, char **out,
    size_t *outlen)
{
	struct scan	 s;
	char		*buf, *smaller;
	size_t		 n;

	*out = NULL;
	*outlen = 0;
	/* The output is never longer than the input. */
	if (len == SIZE_MAX || (buf = malloc(len + 1)) == NULL)
		return ERR_NOMEM;
	s.p = (const unsigned char *)in;
	s.end = s.p + len;
	s.o = buf;
	s.why = NULL;
	if (scan(&s, shape) == -1) {
		log_debug("%s: refused at byte %zu: %s", __func__,
		    (size_t)(s.p - (const unsigned char *)in), s.why);
		free(buf);
		return ERR_UPSTREAM_JSON;
	}
	n = (size_t)(s.o - buf);
	buf[n] = '\0';
	/* Pretty-printed bodies shrink by half: give the rest back. */
	if (n + 1 < len && (smaller = realloc(buf, n + 1)) != NULL)
		buf = smaller;
	*out = buf;
	*outlen = n;
	return ERR_OK;
}

enum body_shape
body_shape_of(const char *path)
{
	return strcmp(path, "/todos") == 0 ? BODY_LIST : BODY_TODO;
}
