/*
 * test_body.c: table-driven tests of body_compact(), the upstream JSON ->
 * the compact JSON that is cached and sent, and of its shape check.
 *
 * Tables: inputs with their exact compact bytes; inputs whose value must
 * survive (re-parsed with jansson and compared with json_equal); inputs
 * that must be refused; bodies of the right and the wrong shape for a todo
 * and for the list.  Then random documents against jansson's own compact
 * form (what the responder sent before it stopped building a tree), the
 * nesting limit, and a body of several MB.  Inputs are copied into heap
 * buffers of exactly their length so that ASan sees any read past `len`.
 * Every row carries its __LINE__; a failing row is printed with its input.
 */
#include <jansson.h>

#include "unit.h"
#include "body.h"

/* body_compact() on a heap copy of in[len] with nothing after it. */
static enum err
compact_shaped(const char *in, size_t len, enum body_shape shape, char **out,
    size_t *outlen)
{
	char		*copy, sentinel;
	enum err	 rc;

	copy = exact(in, len);
	*out = &sentinel;	/* must be overwritten, success or not */
	*outlen = 12345;
	rc = body_compact(copy, len, shape, out, outlen);
	free(copy);
	if (*out == &sentinel)
		fail_msg("body_compact left *out untouched");
	return rc;
}

/*
 * A row is a list if it starts with '[', else a todo: the shape is right,
 * so what is refused is refused for what is inside.
 */
static enum err
compact_exact(const char *in, size_t len, char **out, size_t *outlen)
{
	return compact_shaped(in, len, len > 0 && in[0] == '[' ? BODY_LIST :
	    BODY_TODO, out, outlen);
}

struct row {
	int		 line;
	const char	*in;
	size_t		 len;
	const char	*want;	/* exact output; NULL: just the same value */
};

#define ROW(lit, want)	{ __LINE__, lit, sizeof(lit) - 1, want }

static const struct row exact_rows[] = {
	ROW("{\n  \"userId\": 1,\n  \"id\": 1,\n  \"title\": \"x\",\n"
	    "  \"completed\": false\n}",
	    "{\"userId\":1,\"id\":1,\"title\":\"x\",\"completed\":false}"),
	/* key order is the upstream's, not sorted */
	ROW("{\"z\": 1, \"a\": 2, \"m\": {\"y\": true, \"b\": null}}",
	    "{\"z\":1,\"a\":2,\"m\":{\"y\":true,\"b\":null}}"),
	ROW(" { \"a\" : [ 1 , 2 ,\t3 ] }\r\n", "{\"a\":[1,2,3]}"),
	ROW("[\n  {\n    \"id\": 1\n  },\n  {\n    \"id\": 2\n  }\n]",
	    "[{\"id\":1},{\"id\":2}]"),
	ROW("{}", "{}"),
	ROW("{ \"a\" : [ ] , \"b\" : { } }", "{\"a\":[],\"b\":{}}"),
	ROW("{\"n\": [-1, 0, 2147483648, 9007199254740993]}",
	    "{\"n\":[-1,0,2147483648,9007199254740993]}"),
	/* numbers are copied as written, not re-printed */
	ROW("{\"n\": [1.0, -0, 1E+2, 0.1, 1e-7, 123456789012345678901234567890]}",
	    "{\"n\":[1.0,-0,1E+2,0.1,1e-7,123456789012345678901234567890]}"),
	/* repeated keys stay, in their order */
	ROW("{\"a\": 1, \"a\": 2}", "{\"a\":1,\"a\":2}"),
	/* UTF-8 text and emoji stay the same bytes, not \u escapes */
	ROW("{\"title\": \"h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93\"}",
	    "{\"title\":\"h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93\"}"),
	ROW("{\"e\": \"\xf0\x9f\x98\x80 \xe4\xbd\xa0\xe5\xa5\xbd\"}",
	    "{\"e\":\"\xf0\x9f\x98\x80 \xe4\xbd\xa0\xe5\xa5\xbd\"}"),
	ROW("{\"\xc3\xa9\": 1}", "{\"\xc3\xa9\":1}"),
	/* \u escapes of printable text come out as UTF-8 */
	ROW("{\"a\": \"\\u00e9\"}", "{\"a\":\"\xc3\xa9\"}"),
	ROW("{\"a\": \"\\ud83d\\ude00\"}", "{\"a\":\"\xf0\x9f\x98\x80\"}"),
	/* "/" is not escaped, and an escaped one is unescaped */
	ROW("{\"url\": \"https://x/y\"}", "{\"url\":\"https://x/y\"}"),
	ROW("{\"url\": \"a\\/b\"}", "{\"url\":\"a/b\"}"),
	/* the escapes JSON requires */
	ROW("{\"s\": \"q\\\"b\\\\n\\nt\\t\"}", "{\"s\":\"q\\\"b\\\\n\\nt\\t\"}"),
	ROW("{\"s\": \"\\u0000\"}", "{\"s\":\"\\u0000\"}"),
	/* escaped quote, backslash and slash: the short forms, or none */
	ROW("{\"s\": \"\\u0022\\u005c\\u002F\\u0041\"}",
	    "{\"s\":\"\\\"\\\\/A\"}"),
	/* every short escape, from either spelling */
	ROW("{\"s\": \"\\u0008\\u000c\\u000A\\u000d\\u0009\\b\\f\\n\\r\\t\"}",
	    "{\"s\":\"\\b\\f\\n\\r\\t\\b\\f\\n\\r\\t\"}"),
	/* DEL and U+2028 are not escaped */
	ROW("{\"s\": \"\\u007f\\u2028\"}", "{\"s\":\"\x7f\xe2\x80\xa8\"}"),
	/* the largest code point, by escape and raw */
	ROW("{\"s\": \"\\udbff\\udfff \xf4\x8f\xbf\xbf\"}",
	    "{\"s\":\"\xf4\x8f\xbf\xbf \xf4\x8f\xbf\xbf\"}"),
	/* jansson writes the hex digits of \u escapes in upper case */
	ROW("{\"s\": \"\\u0001\\u001f\"}", "{\"s\":\"\\u0001\\u001F\"}"),
};

static void
test_body_exact(void **state)
{
	const struct row	*row;
	char			*out, a[512], b[512], c[512];
	size_t			 i, outlen;
	enum err		 rc;

	(void)state;
	for (i = 0; i < sizeof(exact_rows) / sizeof(exact_rows[0]); i++) {
		row = &exact_rows[i];
		rc = compact_exact(row->in, row->len, &out, &outlen);
		if (rc != ERR_OK || out == NULL) {
			row_fail(row->line, "body_compact(%s): %d",
			    show(row->in, row->len, a, sizeof(a)), (int)rc);
			continue;
		}
		if (outlen != strlen(row->want) || strcmp(out, row->want) != 0)
			row_fail(row->line, "body_compact(%s): %s, want %s",
			    show(row->in, row->len, a, sizeof(a)),
			    show(out, outlen, b, sizeof(b)),
			    show(row->want, strlen(row->want), c, sizeof(c)));
		free(out);
	}
	done();
}

static const struct row value_rows[] = {
	ROW("{\"title\": \"say \\\"hi\\\"\"}", NULL),
	ROW("{\"path\": \"C:\\\\dir\\\\file\"}", NULL),
	ROW("{\"lines\": \"a\\nb\\r\\nc\"}", NULL),
	ROW("{\"tab\": \"a\\tb\\bc\\fd\"}", NULL),
	ROW("{\"ctl\": \"\\u0001\\u0002\\u001f\\u007f\"}", NULL),
	ROW("{\"nul\": \"a\\u0000b\"}", NULL),
	ROW("{\"nul\": \"\\u0000\", \"key\": [\"\\u0000\\u0000\"]}", NULL),
	ROW("{\"a\": [\"\\\\u0000 is not NUL\", \"\\\\\\\"\"]}", NULL),
	ROW("{\"a\": [\"\\u2028\\u2029\", \"\\ufeff\"]}", NULL),
	ROW("{\"mix\": \"\xc3\xa9\\n\\u0000\\\"\\\\/\xf0\x9f\x98\x80\"}",
	    NULL),
	ROW("{\"a\": [true, false, null, 0, -0, 1.5, 1e300, \"\"]}", NULL),
	ROW("{\"a\": [[[[[[[[[[{\"deep\": [[[]]]}]]]]]]]]]]}", NULL),
	ROW("[{\"id\": 1}, {}, {\"list\": [{}, []]}]", NULL),
};

/*
 * The compact output parses (NULs allowed) to a value equal to the input's,
 * is NUL-terminated at outlen, and has no raw control bytes.
 */
static void
test_body_same_value(void **state)
{
	const struct row	*row;
	json_t			*in, *out_v;
	json_error_t		 jerr;
	char			*out, a[512], b[512];
	size_t			 i, j, outlen;
	enum err		 rc;

	(void)state;
	for (i = 0; i < sizeof(value_rows) / sizeof(value_rows[0]); i++) {
		row = &value_rows[i];
		in = json_loadb(row->in, row->len, JSON_ALLOW_NUL, &jerr);
		if (in == NULL) {
			row_fail(row->line, "bad row: %s: %s",
			    show(row->in, row->len, a, sizeof(a)), jerr.text);
			continue;
		}
		rc = compact_exact(row->in, row->len, &out, &outlen);
		if (rc != ERR_OK || out == NULL) {
			row_fail(row->line, "body_compact(%s): %d",
			    show(row->in, row->len, a, sizeof(a)), (int)rc);
			json_decref(in);
			continue;
		}
		if (strlen(out) != outlen)
			row_fail(row->line, "body_compact(%s): outlen %zu, "
			    "strlen %zu", show(row->in, row->len, a,
			    sizeof(a)), outlen, strlen(out));
		for (j = 0; j < outlen; j++)
			if ((unsigned char)out[j] < 0x20) {
				row_fail(row->line, "body_compact(%s): raw "
				    "control byte at %zu in %s", show(row->in,
				    row->len, a, sizeof(a)), j, show(out,
				    outlen, b, sizeof(b)));
				break;
			}
		out_v = json_loadb(out, outlen, JSON_ALLOW_NUL, &jerr);
		if (out_v == NULL)
			row_fail(row->line, "body_compact(%s): %s does not "
			    "parse: %s", show(row->in, row->len, a, sizeof(a)),
			    show(out, outlen, b, sizeof(b)), jerr.text);
		else if (!json_equal(in, out_v))
			row_fail(row->line, "body_compact(%s): %s is another "
			    "value", show(row->in, row->len, a, sizeof(a)),
			    show(out, outlen, b, sizeof(b)));
		json_decref(out_v);
		json_decref(in);
		free(out);
	}
	done();
}

static const struct row invalid_rows[] = {
	ROW("", NULL),
	ROW(" \n", NULL),
	ROW("{", NULL),
	ROW("}", NULL),
	ROW("{\"a\"", NULL),
	ROW("{\"a\":", NULL),
	ROW("{\"a\" 1}", NULL),
	ROW("{\"a\":[1,]}", NULL),
	ROW("{\"a\":[1 2]}", NULL),
	ROW("{\"a\":[1}", NULL),
	ROW("{\"a\":{]}", NULL),
	ROW("{\"a\":1,}", NULL),
	ROW("{,}", NULL),
	ROW("{1:1}", NULL),
	ROW("{\"a\":1} trailing", NULL),
	ROW("{\"a\":1}{}", NULL),
	ROW("[{}] [{}]", NULL),
	ROW("[{},]", NULL),
	ROW("[{}", NULL),
	ROW("[{}}", NULL),
	/* a bare scalar is not a todo or a list of todos */
	ROW("1", NULL),
	ROW("\"str\"", NULL),
	ROW("null", NULL),
	ROW("true", NULL),
	/* invalid UTF-8 */
	ROW("{\"a\":\"\xff\"}", NULL),
	ROW("{\"a\":\"x\xc3\"}", NULL),			/* cut short */
	ROW("{\"a\":\"\xe2\x9c\"}", NULL),
	ROW("{\"a\":\"\xf0\x9f\x98\"}", NULL),
	ROW("{\"a\":\"\xf0\x9f\x98", NULL),		/* at the very end */
	ROW("{\"a\":\"\xc0\xaf\"}", NULL),		/* overlong / */
	ROW("{\"a\":\"\xc1\xbf\"}", NULL),
	ROW("{\"a\":\"\xe0\x80\xaf\"}", NULL),
	ROW("{\"a\":\"\xf0\x80\x80\xaf\"}", NULL),
	ROW("{\"a\":\"\xed\xa0\x80\"}", NULL),		/* surrogate */
	ROW("{\"a\":\"\xf4\x90\x80\x80\"}", NULL),	/* above U+10FFFF */
	ROW("{\"a\":\"\xf5\x80\x80\x80\"}", NULL),
	ROW("{\"a\":\"\x80\"}", NULL),			/* lone continuation */
	ROW("{\"a\":\"\xc3\xc3\"}", NULL),
	ROW("{\"\xfe\":1}", NULL),
	ROW("{\"a\":\"\\ud800\"}", NULL),		/* lone surrogates */
	ROW("{\"a\":\"\\ud800x\"}", NULL),
	ROW("{\"a\":\"\\ud800\\u0041\"}", NULL),
	ROW("{\"a\":\"\\ud800\\ud800\"}", NULL),
	ROW("{\"a\":\"\\udc00\"}", NULL),
	ROW("{\"a\":\"\\ud800\\", NULL),
	/* bad escapes */
	ROW("{\"a\":\"\\x41\"}", NULL),
	ROW("{\"a\":\"\\u12\"}", NULL),
	ROW("{\"a\":\"\\u12g4\"}", NULL),
	ROW("{\"a\":\"\\U0041\"}", NULL),
	ROW("{\"a\":\"\\'\"}", NULL),
	ROW("{\"a\":\"\\", NULL),
	ROW("{\"a\":\"abc", NULL),
	/*
	 * Valid JSON, but jansson cannot hold a NUL in an object key: refused
	 * (a 502, never cached) rather than cut at the NUL.
	 */
	ROW("{\"\\u0000key\": 1}", NULL),
	ROW("{\"a\\u0000\": 1}", NULL),
	ROW("{\"a\": {\"b\\u0000\": 1}}", NULL),
	/* NUL bytes in the input itself (not \u0000) */
	ROW("{\"a\":\0 1}", NULL),
	ROW("{\"a\":\"x\0y\"}", NULL),
	ROW("{\"a\":[1,\0 2]}", NULL),
	ROW("\0{}", NULL),
	ROW("{}\0", NULL),
	ROW("[{}]\0", NULL),
	/* numbers */
	ROW("{\"a\":01}", NULL),
	ROW("{\"a\":-01}", NULL),
	ROW("{\"a\":1.}", NULL),
	ROW("{\"a\":.5}", NULL),
	ROW("{\"a\":1e}", NULL),
	ROW("{\"a\":1e+}", NULL),
	ROW("{\"a\":1.e5}", NULL),
	ROW("{\"a\":-}", NULL),
	ROW("{\"a\":+1}", NULL),
	ROW("{\"a\":0x10}", NULL),
	ROW("{\"a\":1", NULL),
	ROW("{\"a\":NaN}", NULL),
	ROW("{\"a\":Infinity}", NULL),
	/* literals */
	ROW("{\"a\":tru}", NULL),
	ROW("{\"a\":nul", NULL),
	ROW("{\"a\":truex}", NULL),
	ROW("{\"a\":True}", NULL),
	ROW("{\"a\":nil}", NULL),
	/* not JSON at all */
	ROW("{'a':1}", NULL),
	ROW("{a:1}", NULL),
	ROW("{\"a\":\"a\x01\"}", NULL),			/* raw control */
	ROW("{\"a\":\"a\nb\"}", NULL),
	ROW("{\"a\":\"a\tb\"}", NULL),
	ROW("{\"a\":1}\x0b", NULL),			/* not JSON space */
	ROW("\xef\xbb\xbf{\"a\":1}", NULL),		/* byte order mark */
	ROW("{\"a\":1} // comment", NULL),
	ROW("<html>502 Bad Gateway</html>", NULL),
};

static void
test_body_invalid(void **state)
{
	const struct row	*row;
	char			*out, a[512];
	size_t			 i, outlen;
	enum err		 rc;

	(void)state;
	for (i = 0; i < sizeof(invalid_rows) / sizeof(invalid_rows[0]); i++) {
		row = &invalid_rows[i];
		rc = compact_exact(row->in, row->len, &out, &outlen);
		if (rc != ERR_UPSTREAM_JSON || out != NULL || outlen != 0)
			row_fail(row->line, "body_compact(%s): rc %d out %s "
			    "outlen %zu, want ERR_UPSTREAM_JSON NULL 0",
			    show(row->in, row->len, a, sizeof(a)), (int)rc,
			    out == NULL ? "NULL" : out, outlen);
		if (rc == ERR_OK)
			free(out);
	}
	done();
}

/* Bodies and the shape they are checked against: served (ok) or refused. */
static const struct shape_row {
	int		 line;
	const char	*in;
	size_t		 len;
	enum body_shape	 shape;
	int		 ok;
} shape_rows[] = {
#define SHAPE(lit, shape, ok)	{ __LINE__, lit, sizeof(lit) - 1, shape, ok }
	SHAPE("{\"id\": 160}", BODY_TODO, 1),
	SHAPE("{}", BODY_TODO, 1),
	SHAPE(" \n{\"a\": [1, [2], {\"b\": []}]}", BODY_TODO, 1),
	/* issue 9 item 8: [1,2,3] for /todos/160 was cached as a todo */
	SHAPE("[1,2,3]", BODY_TODO, 0),
	SHAPE("[{\"id\": 160}]", BODY_TODO, 0),
	SHAPE("[]", BODY_TODO, 0),
	SHAPE("\"todo\"", BODY_TODO, 0),
	SHAPE("160", BODY_TODO, 0),
	SHAPE("null", BODY_TODO, 0),
	SHAPE("false", BODY_TODO, 0),
	SHAPE("[{\"id\": 1}, {\"id\": 2}]", BODY_LIST, 1),
	SHAPE("[]", BODY_LIST, 1),
	SHAPE(" [ { } ]\n", BODY_LIST, 1),
	SHAPE("[{\"a\": [1, 2, [3]]}, {\"b\": {\"c\": [[]]}}]", BODY_LIST, 1),
	SHAPE("{\"id\": 1}", BODY_LIST, 0),
	SHAPE("{}", BODY_LIST, 0),
	SHAPE("[1,2,3]", BODY_LIST, 0),
	SHAPE("[\"a\", \"b\"]", BODY_LIST, 0),
	SHAPE("[null]", BODY_LIST, 0),
	SHAPE("[[]]", BODY_LIST, 0),
	SHAPE("[[{\"id\": 1}]]", BODY_LIST, 0),
	SHAPE("[{\"id\": 1}, 2]", BODY_LIST, 0),
	SHAPE("[{\"id\": 1}, {\"id\": 2}, true]", BODY_LIST, 0),
	SHAPE("[{\"id\": 1}, []]", BODY_LIST, 0),
	SHAPE("1", BODY_LIST, 0),
	SHAPE("\"list\"", BODY_LIST, 0),
	SHAPE("null", BODY_LIST, 0),
#undef SHAPE
};

static void
test_body_shape(void **state)
{
	const struct shape_row	*row;
	char			*out, a[512];
	size_t			 i, outlen;
	enum err		 rc;

	(void)state;
	for (i = 0; i < sizeof(shape_rows) / sizeof(shape_rows[0]); i++) {
		row = &shape_rows[i];
		rc = compact_shaped(row->in, row->len, row->shape, &out,
		    &outlen);
		if (row->ok ? rc != ERR_OK || out == NULL :
		    rc != ERR_UPSTREAM_JSON || out != NULL || outlen != 0)
			row_fail(row->line, "body_compact(%s, %s): rc %d, "
			    "want %s", show(row->in, row->len, a, sizeof(a)),
			    row->shape == BODY_TODO ? "BODY_TODO" : "BODY_LIST",
			    (int)rc, row->ok ? "ERR_OK" : "ERR_UPSTREAM_JSON");
		if (rc == ERR_OK)
			free(out);
	}
	assert_int_equal(body_shape_of("/todos"), BODY_LIST);
	assert_int_equal(body_shape_of("/todos/1"), BODY_TODO);
	assert_int_equal(body_shape_of("/todos/2147483647"), BODY_TODO);
	done();
}

/*
 * {"a": + depth - 1 arrays + } : nesting of exactly depth.  The caller
 * frees it; *len is its length.
 */
static char *
nested(size_t depth, size_t *len)
{
	char	*s;
	size_t	 i, n = depth - 1, off = 0;

	*len = 6 + 2 * n;
	s = malloc(*len);
	assert_non_null(s);
	memcpy(s, "{\"a\":", 5);
	off = 5;
	for (i = 0; i < n; i++)
		s[off++] = '[';
	for (i = 0; i < n; i++)
		s[off++] = ']';
	s[off++] = '}';
	return s;
}

static void
test_body_depth(void **state)
{
	char	*in, *out;
	size_t	 len, outlen;

	(void)state;
	in = nested(BODY_DEPTH_MAX, &len);
	assert_int_equal(compact_exact(in, len, &out, &outlen), ERR_OK);
	assert_int_equal(outlen, len);
	assert_memory_equal(out, in, len);
	free(out);
	free(in);
	in = nested(BODY_DEPTH_MAX + 1, &len);
	assert_int_equal(compact_exact(in, len, &out, &outlen),
	    ERR_UPSTREAM_JSON);
	assert_null(out);
	free(in);
	/* Far deeper than any stack would take if the scan recursed. */
	in = nested(1000000, &len);
	assert_int_equal(compact_exact(in, len, &out, &outlen),
	    ERR_UPSTREAM_JSON);
	free(in);
}

/* A small deterministic generator, so a failure can be replayed. */
static unsigned long	rnd_state = 1;

static unsigned long
rnd(unsigned long n)
{
	rnd_state = rnd_state * 6364136223846793005UL + 1442695040888963407UL;
	return (rnd_state >> 33) % n;
}

/* A random string: ASCII, escapes, controls, 2-, 3- and 4-byte UTF-8. */
static json_t *
random_string(int key)
{
	static const char *const	 pieces[] = { "a", "Z", " ", "\"", "\\",
	    "/", "\b", "\f", "\n", "\r", "\t", "\x01", "\x1f", "\x7f",
	    "\xc3\xa9", "\xe2\x80\xa8", "\xe6\x97\xa5", "\xef\xbf\xbd",
	    "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", "<", "}", "]", "," };
	const char			*p;
	char				 buf[64];
	size_t				 off = 0, n = rnd(8), i;

	for (i = 0; i < n; i++) {
		/* NUL in values only: jansson cannot hold it in a key */
		if (!key && rnd(20) == 0) {
			buf[off++] = '\0';
			continue;
		}
		p = pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))];
		memcpy(buf + off, p, strlen(p));
		off += strlen(p);
	}
	return json_stringn(buf, off);
}

/* A random value of at most depth levels; ints only (see below). */
static json_t *
random_value(int depth)
{
	json_t		*v, *s;
	unsigned long	 i, n;
	char		 key[32];

	switch (depth > 0 ? rnd(7) : rnd(5)) {
	case 0:
		return json_integer((json_int_t)rnd(2000000000) - 1000000000);
	case 1:
		return random_string(0);
	case 2:
		return rnd(2) ? json_true() : json_false();
	case 3:
		return json_null();
	case 4:
		return json_integer((json_int_t)rnd(10));
	case 5:
		v = json_array();
		for (i = 0, n = rnd(5); i < n; i++)
			json_array_append_new(v, random_value(depth - 1));
		return v;
	default:
		v = json_object();
		for (i = 0, n = rnd(5); i < n; i++) {
			if (rnd(2)) {
				s = random_string(1);
				json_object_setn_new(v, json_string_value(s),
				    json_string_length(s),
				    random_value(depth - 1));
				json_decref(s);
			} else {
				(void)snprintf(key, sizeof(key), "k%lu", i);
				json_object_set_new(v, key,
				    random_value(depth - 1));
			}
		}
		return v;
	}
}

/*
 * Random documents, pretty-printed (and with \u escapes for everything
 * beyond ASCII) by jansson: the compact form must be byte for byte what
 * jansson's json_dumps(JSON_COMPACT) makes of them, the responder's
 * output before the scanner.  (Reals are left out: jansson re-prints them,
 * the scanner copies them as written.)
 */
static void
test_body_like_jansson(void **state)
{
	json_t		*doc;
	char		*in, *want, *out, a[512], b[512], c[512];
	size_t		 i, outlen;
	int		 round;
	enum err	 rc;

	(void)state;
	for (round = 0; round < 2000; round++) {
		doc = json_array();
		for (i = 0; i < rnd(4); i++)
			json_array_append_new(doc, random_value(4));
		if (round % 2 == 1) {
			json_t *obj = random_value(4);

			json_decref(doc);
			if (!json_is_object(obj)) {
				json_decref(obj);
				obj = json_object();
			}
			doc = obj;
		} else {
			/* The list's elements are objects. */
			json_t *list = json_array(), *el;

			json_array_foreach(doc, i, el)
				json_array_append_new(list, json_is_object(el) ?
				    json_incref(el) : json_pack("{so}", "v",
				    json_incref(el)));
			json_decref(doc);
			doc = list;
		}
		in = json_dumps(doc, JSON_INDENT(round % 4) |
		    (round % 3 == 0 ? JSON_ENSURE_ASCII : 0) |
		    (round % 5 == 0 ? JSON_ESCAPE_SLASH : 0));
		want = json_dumps(doc, JSON_COMPACT);
		assert_non_null(in);
		assert_non_null(want);
		rc = compact_exact(in, strlen(in), &out, &outlen);
		if (rc != ERR_OK)
			row_fail(__LINE__, "round %d: body_compact(%s): %d",
			    round, show(in, strlen(in), a, sizeof(a)), (int)rc);
		else if (outlen != strlen(want) || strcmp(out, want) != 0)
			row_fail(__LINE__, "round %d: body_compact(%s): %s, "
			    "want %s", round, show(in, strlen(in), a,
			    sizeof(a)), show(out, outlen, b, sizeof(b)),
			    show(want, strlen(want), c, sizeof(c)));
		if (rc == ERR_OK && outlen > strlen(in))
			row_fail(__LINE__, "round %d: output longer than the "
			    "input", round);
		if (rc == ERR_OK)
			free(out);
		free(in);
		free(want);
		json_decref(doc);
	}
	done();
}

/*
 * A realistic /todos answer of n pretty-printed todos, and its compact form
 * written out alongside.
 */
static void
list_case(int n)
{
	char	*in, *out, *expect;
	size_t	 cap = (size_t)n * 128 + 16, off = 0, eoff = 0, outlen;
	int	 i, w;

	in = malloc(cap);
	expect = malloc(cap);
	assert_non_null(in);
	assert_non_null(expect);
	in[off++] = '[';
	expect[eoff++] = '[';
	for (i = 1; i <= n; i++) {
		w = snprintf(in + off, cap - off, "%s\n  {\n    \"userId\": %d,"
		    "\n    \"id\": %d,\n    \"title\": \"todo %d\",\n"
		    "    \"completed\": %s\n  }", i > 1 ? "," : "",
		    (i - 1) / 20 + 1, i, i, i % 3 ? "false" : "true");
		assert_true(w > 0 && (size_t)w < cap - off);
		off += (size_t)w;
		w = snprintf(expect + eoff, cap - eoff, "%s{\"userId\":%d,"
		    "\"id\":%d,\"title\":\"todo %d\",\"completed\":%s}",
		    i > 1 ? "," : "", (i - 1) / 20 + 1, i, i,
		    i % 3 ? "false" : "true");
		assert_true(w > 0 && (size_t)w < cap - eoff);
		eoff += (size_t)w;
	}
	memcpy(in + off, "\n]", 2);
	off += 2;
	expect[eoff++] = ']';
	expect[eoff] = '\0';
	assert_int_equal(compact_exact(in, off, &out, &outlen), ERR_OK);
	assert_int_equal(outlen, eoff);
	assert_string_equal(out, expect);
	free(out);
	free(expect);
	free(in);
}

static void
test_body_list(void **state)
{
	(void)state;
	list_case(200);
}

/* 8 MB (UPSTREAM_MAX_BYTES' default) of todos: no tree, no recursion. */
static void
test_body_big(void **state)
{
	(void)state;
	list_case(80000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_body_exact, reset),
		cmocka_unit_test_setup(test_body_same_value, reset),
		cmocka_unit_test_setup(test_body_invalid, reset),
		cmocka_unit_test_setup(test_body_shape, reset),
		cmocka_unit_test_setup(test_body_depth, reset),
		cmocka_unit_test_setup(test_body_like_jansson, reset),
		cmocka_unit_test_setup(test_body_list, reset),
		cmocka_unit_test_setup(test_body_big, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
