/*
 * test_body.c: table-driven tests of body_compact(), the upstream JSON ->
 * the compact JSON that is cached and sent.
 *
 * Three tables: inputs with their exact compact bytes; inputs whose value
 * must survive (re-parsed with jansson and compared with json_equal); and
 * inputs that must be refused.  Inputs are copied into heap buffers of
 * exactly their length so that ASan sees any read past `len`.  Every row
 * carries its __LINE__; a failing row is printed with its input.
 */
#include <jansson.h>

#include "unit.h"
#include "body.h"

/* body_compact() on a heap copy of in[len] with nothing after it. */
static enum err
compact_exact(const char *in, size_t len, char **out, size_t *outlen)
{
	char		*copy, sentinel;
	enum err	 rc;

	copy = exact(in, len);
	*out = &sentinel;	/* must be overwritten, success or not */
	*outlen = 12345;
	rc = body_compact(copy, len, out, outlen);
	free(copy);
	if (*out == &sentinel)
		fail_msg("body_compact left *out untouched");
	return rc;
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
	ROW(" [ 1 , 2 ,\t3 ]\r\n", "[1,2,3]"),
	ROW("[\n  {\n    \"id\": 1\n  },\n  {\n    \"id\": 2\n  }\n]",
	    "[{\"id\":1},{\"id\":2}]"),
	ROW("{}", "{}"),
	ROW("[]", "[]"),
	ROW("{ \"a\" : [ ] , \"b\" : { } }", "{\"a\":[],\"b\":{}}"),
	ROW("[-1, 0, 2147483648, 9007199254740993]",
	    "[-1,0,2147483648,9007199254740993]"),
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
	ROW("[\"q\\\"b\\\\n\\nt\\t\"]", "[\"q\\\"b\\\\n\\nt\\t\"]"),
	ROW("[\"\\u0000\"]", "[\"\\u0000\"]"),
	/* jansson writes the hex digits of \u escapes in upper case */
	ROW("[\"\\u0001\\u001f\"]", "[\"\\u0001\\u001F\"]"),
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
	ROW("[\"\\\\u0000 is not NUL\", \"\\\\\\\"\"]", NULL),
	ROW("[\"\\u2028\\u2029\", \"\\ufeff\"]", NULL),
	ROW("{\"mix\": \"\xc3\xa9\\n\\u0000\\\"\\\\/\xf0\x9f\x98\x80\"}",
	    NULL),
	ROW("[true, false, null, 0, -0, 1.5, 1e300, \"\"]", NULL),
	ROW("[[[[[[[[[[{\"deep\": [[[]]]}]]]]]]]]]]", NULL),
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
	ROW("[1,]", NULL),
	ROW("{\"a\":1,}", NULL),
	ROW("{\"a\":1} trailing", NULL),
	ROW("{\"a\":1}{}", NULL),
	ROW("[1] [2]", NULL),
	/* a bare scalar is not a todo or a list of todos */
	ROW("1", NULL),
	ROW("\"str\"", NULL),
	ROW("null", NULL),
	ROW("true", NULL),
	/* invalid UTF-8 */
	ROW("{\"a\":\"\xff\"}", NULL),
	ROW("{\"a\":\"x\xc3\"}", NULL),			/* cut short */
	ROW("{\"a\":\"\xc0\xaf\"}", NULL),		/* overlong / */
	ROW("{\"a\":\"\xed\xa0\x80\"}", NULL),		/* surrogate */
	ROW("{\"\xfe\":1}", NULL),
	ROW("[\"\\ud800\"]", NULL),			/* lone surrogate */
	/*
	 * Valid JSON, but jansson cannot hold a NUL in an object key: refused
	 * (a 502, never cached) rather than cut at the NUL.
	 */
	ROW("{\"\\u0000key\": 1}", NULL),
	ROW("{\"a\\u0000\": 1}", NULL),
	/* NUL bytes in the input itself (not \u0000) */
	ROW("{\"a\":\0 1}", NULL),
	ROW("{\"a\":\"x\0y\"}", NULL),
	ROW("[1,\0 2]", NULL),
	ROW("\0[1]", NULL),
	ROW("[1]\0", NULL),
	/* not JSON at all */
	ROW("{'a':1}", NULL),
	ROW("{a:1}", NULL),
	ROW("[\"a\x01\"]", NULL),			/* raw control */
	ROW("[\"a\nb\"]", NULL),
	ROW("[NaN]", NULL),
	ROW("[01]", NULL),
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

/* A realistic /todos answer: 200 pretty-printed objects, then compact. */
static void
test_body_list(void **state)
{
	char	*in, *out, *expect;
	size_t	 cap = 200 * 128, off = 0, eoff = 0, outlen;
	int	 i, n;

	(void)state;
	in = malloc(cap);
	expect = malloc(cap);
	assert_non_null(in);
	assert_non_null(expect);
	in[off++] = '[';
	expect[eoff++] = '[';
	for (i = 1; i <= 200; i++) {
		n = snprintf(in + off, cap - off, "%s\n  {\n    \"userId\": %d,"
		    "\n    \"id\": %d,\n    \"title\": \"todo %d\",\n"
		    "    \"completed\": %s\n  }", i > 1 ? "," : "",
		    (i - 1) / 20 + 1, i, i, i % 3 ? "false" : "true");
		assert_true(n > 0 && (size_t)n < cap - off);
		off += (size_t)n;
		n = snprintf(expect + eoff, cap - eoff, "%s{\"userId\":%d,"
		    "\"id\":%d,\"title\":\"todo %d\",\"completed\":%s}",
		    i > 1 ? "," : "", (i - 1) / 20 + 1, i, i,
		    i % 3 ? "false" : "true");
		assert_true(n > 0 && (size_t)n < cap - eoff);
		eoff += (size_t)n;
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_body_exact, reset),
		cmocka_unit_test_setup(test_body_same_value, reset),
		cmocka_unit_test_setup(test_body_invalid, reset),
		cmocka_unit_test_setup(test_body_list, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
