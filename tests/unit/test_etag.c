/*
 * test_etag.c: table-driven tests of etag.h: etag_of() bytes (64-bit FNV-1a
 * of the body, quoted lowercase hex) and etag_none_match(), the
 * If-None-Match list reader.
 *
 * Bodies and tags are copied into heap buffers of exactly their length, and
 * If-None-Match values into buffers of exactly their length + 1 (the NUL),
 * so that ASan reports any read past them.  Every row carries its __LINE__;
 * a failing row is printed with its input.
 */
#include "unit.h"
#include "etag.h"

/* etag_of() of a heap copy of body[len], into an exact out buffer. */
static void
etag_exact(const char *body, size_t len, char *tag)
{
	char	*copy, *out;

	copy = exact(body, len);
	out = malloc(ETAG_LEN + 1);
	assert_non_null(out);
	memset(out, 'x', ETAG_LEN + 1);
	etag_of(copy, len, out);
	memcpy(tag, out, ETAG_LEN + 1);
	free(out);
	free(copy);
}

/* Is tag '"' + 16 lowercase hex digits + '"' + NUL? */
static int
well_formed(const char *tag)
{
	size_t	i;

	if (tag[0] != '"' || tag[ETAG_LEN - 1] != '"' || tag[ETAG_LEN] != '\0')
		return 0;
	for (i = 1; i < ETAG_LEN - 1; i++)
		if (!((tag[i] >= '0' && tag[i] <= '9') ||
		    (tag[i] >= 'a' && tag[i] <= 'f')))
			return 0;
	return 1;
}

struct of_row {
	int		 line;
	const char	*body;
	size_t		 len;
	const char	*want;
};

#define OF(lit, want)	{ __LINE__, lit, sizeof(lit) - 1, want }

/* FNV-1a 64: offset basis cbf29ce484222325, prime 100000001b3. */
static const struct of_row of_rows[] = {
	OF("", "\"cbf29ce484222325\""),
	OF("a", "\"af63dc4c8601ec8c\""),
	OF("b", "\"af63df4c8601f1a5\""),
	OF(" ", "\"af639d4c8601817f\""),
	OF("foobar", "\"85944171f73967e8\""),
	OF("{\"userId\":1,\"id\":1,\"title\":\"delectus aut autem\","
	    "\"completed\":false}", "\"7c579206e4f97451\""),
};

static void
test_etag_of(void **state)
{
	char	tag[ETAG_LEN + 1], again[ETAG_LEN + 1], a[128], b[64];
	size_t	i;

	(void)state;
	assert_int_equal(ETAG_LEN, 18);
	for (i = 0; i < sizeof(of_rows) / sizeof(of_rows[0]); i++) {
		etag_exact(of_rows[i].body, of_rows[i].len, tag);
		if (!well_formed(tag))
			row_fail(of_rows[i].line, "etag_of(%s): %s is not "
			    "'\"' + 16 lowercase hex + '\"' + NUL",
			    show(of_rows[i].body, of_rows[i].len, a, sizeof(a)),
			    show(tag, ETAG_LEN + 1, b, sizeof(b)));
		else if (strcmp(tag, of_rows[i].want) != 0)
			row_fail(of_rows[i].line, "etag_of(%s): %s, want %s",
			    show(of_rows[i].body, of_rows[i].len, a, sizeof(a)),
			    tag, of_rows[i].want);
		etag_exact(of_rows[i].body, of_rows[i].len, again);
		if (memcmp(tag, again, sizeof(tag)) != 0)
			row_fail(of_rows[i].line, "etag_of: %s then %s for "
			    "the same body", tag, again);
	}
	done();
}

/* Bodies that differ, in one byte or in length, get different tags. */
static void
test_etag_of_differs(void **state)
{
	static const struct {
		int		 line;
		const char	*a;
		size_t		 alen;
		const char	*b;
		size_t		 blen;
	} rows[] = {
#define PAIR(x, y)	{ __LINE__, x, sizeof(x) - 1, y, sizeof(y) - 1 }
		PAIR("a", "b"),
		PAIR("", " "),
		PAIR("", "\0"),
		PAIR("\0", "\0\0"),
		PAIR("ab", "ba"),
		PAIR("{\"id\":1}", "{\"id\":2}"),
		PAIR("{\"completed\":false}", "{\"completed\":true}"),
		PAIR("[1,2]", "[1,2] "),
#undef PAIR
	};
	char	ta[ETAG_LEN + 1], tb[ETAG_LEN + 1], a[64], b[64];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		etag_exact(rows[i].a, rows[i].alen, ta);
		etag_exact(rows[i].b, rows[i].blen, tb);
		if (strcmp(ta, tb) == 0)
			row_fail(rows[i].line, "etag_of(%s) == etag_of(%s) "
			    "== %s", show(rows[i].a, rows[i].alen, a,
			    sizeof(a)), show(rows[i].b, rows[i].blen, b,
			    sizeof(b)), ta);
	}
	done();
}

/* etag_none_match() on exact heap copies of inm (with its NUL) and etag. */
static int
none_match_exact(const char *inm, const char *etag, size_t len)
{
	char	*icopy = NULL, *ecopy;
	int	 got;

	if (inm != NULL)
		icopy = exact(inm, strlen(inm) + 1);
	ecopy = exact(etag, len);
	got = etag_none_match(icopy, ecopy, len);
	free(ecopy);
	free(icopy);
	return got;
}

struct inm_row {
	int		 line;
	const char	*inm;	/* NULL: no If-None-Match */
	const char	*etag;
	int		 want;
};

#define TAG	"\"tag\""
#define M(inm)		{ __LINE__, inm, TAG, 1 }
#define NO(inm)		{ __LINE__, inm, TAG, 0 }

static const struct inm_row inm_rows[] = {
	NO(NULL),
	/* one tag, strong or weak: compared weakly */
	M("\"tag\""),
	M("W/\"tag\""),
	M(" \"tag\""),
	M("\"tag\" "),
	M("\t\"tag\"\t"),
	/* lists, with spaces, tabs and empty members */
	M("\"x\", \"tag\""),
	M("\"x\",\"tag\""),
	M("W/\"x\", W/\"tag\""),
	M("\"tag\", \"x\""),
	M(" \t\"x\" ,\t W/\"tag\" \t"),
	M(",, \"tag\""),
	M(", ,\t,\"tag\","),
	M("\"tag\",,"),
	M("\"x\", , \"y\",, \"tag\""),
	/* the wildcard, alone */
	M("*"),
	M(" * "),
	M("\t*\t"),
	NO("*, \"x\""),				/* malformed */
	NO("*,"),
	NO("**"),
	NO("* \"tag\""),
	NO("\"x\", *"),
	NO("*x"),
	/* malformed tags */
	NO("tag"),				/* unquoted */
	NO("\"tag"),				/* unterminated */
	NO("\"x\", \"tag"),
	NO("tag\""),
	NO("\""),
	NO("W/"),				/* W/ alone */
	NO("W/ \"tag\""),
	NO("w/\"tag\""),			/* W/ is case-sensitive */
	NO("W/W/\"tag\""),
	NO("W\"tag\""),
	NO("\"t ag\""),
	NO("'tag'"),
	/* other tags */
	NO("\"x\""),
	NO("\"TAG\""),
	NO("\"ta\""),				/* a prefix */
	NO("\"t\""),
	NO("\"\""),
	NO("\"tagg\""),				/* an extension */
	NO("\"x\", \"y\", W/\"z\""),
	/* garbage anywhere makes the list malformed: no match at all */
	NO("\"x\" y, \"tag\""),
	NO("\"x\";\"tag\""),
	NO("\"x\" \"tag\""),
	NO("\"x\"\"tag\""),
	NO("\"tag\" x"),				/* even after a match */
	NO("\"tag\"\"\""),
	NO("\"tag\";"),
	NO("\"x\", \"tag\" garbage"),
	NO("\"tag\", \"x\" y"),
	NO("\"tag\", \"x"),
	NO("\"tag\", x"),
	NO("\"tag\", W/"),
	NO("\"tag\", *"),
	/* nothing */
	NO(""),
	NO(" "),
	NO("\t \t"),
	NO(","),
	NO(" , ,, "),
	/* other etags */
	{ __LINE__, "\"\"", "\"\"", 1 },
	{ __LINE__, "W/\"\"", "\"\"", 1 },
	{ __LINE__, "\"x\"", "\"\"", 0 },
	{ __LINE__, "\"\"", "\"x\"", 0 },
	{ __LINE__, "\"\x80\xff!#~\"", "\"\x80\xff!#~\"", 1 },	/* obs-text */
	{ __LINE__, "\"cbf29ce484222325\"", "\"cbf29ce484222325\"", 1 },
	{ __LINE__, "\"CBF29CE484222325\"", "\"cbf29ce484222325\"", 0 },
	{ __LINE__, "\"cbf29ce48422232\"", "\"cbf29ce484222325\"", 0 },
	{ __LINE__, "W/\"cbf29ce484222325\", \"af63dc4c8601ec8c\"",
	    "\"af63dc4c8601ec8c\"", 1 },
};

static void
test_etag_none_match(void **state)
{
	const struct inm_row	*row;
	char			 a[256], b[64];
	size_t			 i;
	int			 got;

	(void)state;
	for (i = 0; i < sizeof(inm_rows) / sizeof(inm_rows[0]); i++) {
		row = &inm_rows[i];
		got = none_match_exact(row->inm, row->etag, strlen(row->etag));
		if (got != row->want)
			row_fail(row->line, "etag_none_match(%s, %s): %d, "
			    "want %d", show_str(row->inm, a, sizeof(a)),
			    show_str(row->etag, b, sizeof(b)), got, row->want);
	}
	done();
}

/* The tag etag_of() makes is the tag a client sends back. */
static void
test_etag_round_trip(void **state)
{
	char	tag[ETAG_LEN + 1], inm[64];

	(void)state;
	etag_exact("{\"id\":1}", 8, tag);
	if (none_match_exact(tag, tag, ETAG_LEN) != 1)
		row_fail(__LINE__, "%s does not match itself", tag);
	(void)snprintf(inm, sizeof(inm), "W/%s", tag);
	if (none_match_exact(inm, tag, ETAG_LEN) != 1)
		row_fail(__LINE__, "%s does not match %s", inm, tag);
	(void)snprintf(inm, sizeof(inm), "\"0000000000000000\", %s", tag);
	if (none_match_exact(inm, tag, ETAG_LEN) != 1)
		row_fail(__LINE__, "%s does not match %s", inm, tag);
	done();
}

/*
 * A 10 KB list of tags that do not match, then `last`: the reader goes all
 * the way, finds the tag at the end, and still sees garbage there.
 */
static void
test_etag_none_match_long(void **state)
{
	static const struct {
		int		 line;
		const char	*pre;		/* before each "xNNNNN" */
		const char	*post;		/* after it */
		const char	*last;		/* NULL: none */
		int		 want;
	} rows[] = {
		{ __LINE__, "", ", ", TAG, 1 },
		{ __LINE__, "W/", ",\t", "W/" TAG, 1 },
		{ __LINE__, ",", " , ,", TAG, 1 },
		{ __LINE__, "", ", ", "\"tagx\"", 0 },
		{ __LINE__, "", ", ", NULL, 0 },
		{ __LINE__, "", " ? ", TAG, 0 },	/* malformed */
		{ __LINE__, "", ", ", TAG " x", 0 },	/* garbage at the end */
	};
	char	*inm;
	size_t	 i, n, off, size = 10 * 1024 + 64;
	int	 got;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		inm = malloc(size);
		assert_non_null(inm);
		off = 0;
		for (n = 0; off < 10 * 1024; n++)
			off += (size_t)snprintf(inm + off, size - off,
			    "%s\"x%05zu\"%s", rows[i].pre, n, rows[i].post);
		(void)snprintf(inm + off, size - off, "%s",
		    rows[i].last ? rows[i].last : "");
		got = none_match_exact(inm, TAG, strlen(TAG));
		if (got != rows[i].want)
			row_fail(rows[i].line, "%zu tags \"%.24s...\" then "
			    "%s: %d, want %d", n, inm,
			    rows[i].last ? rows[i].last : "nothing", got,
			    rows[i].want);
		free(inm);
	}
	done();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_etag_of, reset),
		cmocka_unit_test_setup(test_etag_of_differs, reset),
		cmocka_unit_test_setup(test_etag_none_match, reset),
		cmocka_unit_test_setup(test_etag_round_trip, reset),
		cmocka_unit_test_setup(test_etag_none_match_long, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
