/*
 * test_entry.c: table-driven tests of the stored entry format (entry.h):
 * entry_encode/entry_decode round trips and exact bytes (etag line
 * included), what the encoder refuses and the decoder accepts and rejects,
 * and the age/freshness arithmetic (entry_age,
 * entry_freshness).
 *
 * Inputs to the decoder are copied into heap buffers of exactly their length
 * so that ASan reports any read past `len`.  Every row carries its __LINE__;
 * a failing row is printed with its input (bytes outside printable ASCII as
 * \xNN).
 */
#include "unit.h"
#include "entry.h"

static int
is_zero(const struct entry *e)
{
	return e->stored_ms == 0 && e->ttl == 0 && e->status == 0 &&
	    e->etag == NULL && e->etag_len == 0 && e->body == NULL &&
	    e->body_len == 0;
}

/* Decodes a heap copy of in[len]; returns the result, *e as decoded. */
static enum err
decode_exact(const char *in, size_t len, struct entry *e, char **copy)
{
	*copy = exact(in, len);
	memset(e, 0xa5, sizeof(*e));	/* garbage: must be overwritten */
	return entry_decode(*copy, len, e);
}

/* A 64-byte tag, ENTRY_ETAG_MAX: the longest there is. */
#define ETAG64	"\"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcd\""
/* One byte more. */
#define ETAG65	"\"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcde\""

/* The designated etag fields of a struct entry for a string literal. */
#define TAG(lit)	.etag = lit, .etag_len = sizeof(lit) - 1

static void
test_entry_encode_exact(void **state)
{
	static const struct {
		int		 line;
		struct entry	 e;
		const char	*want;
	} rows[] = {
		{ __LINE__, { .stored_ms = 1700000000123LL, .ttl = 60,
		    .status = 200, .body = "{}", .body_len = 2 },
		    "t=1700000000123\nttl=60\ns=200\n\n{}" },
		{ __LINE__, { .stored_ms = 1700000000123LL, .ttl = 60,
		    .status = 200, TAG("\"cbf29ce484222325\""),
		    .body = "{}", .body_len = 2 },
		    "t=1700000000123\nttl=60\ns=200\n"
		    "etag=\"cbf29ce484222325\"\n\n{}" },
		/* etag_len, not a NUL, ends the tag */
		{ __LINE__, { .stored_ms = 1, .ttl = 2, .status = 200,
		    .etag = "\"ab\"cd", .etag_len = 4, .body = "x",
		    .body_len = 1 },
		    "t=1\nttl=2\ns=200\netag=\"ab\"\n\nx" },
		{ __LINE__, { .stored_ms = 1, .ttl = 2, .status = 200,
		    TAG("\"\""), .body = "x", .body_len = 1 },
		    "t=1\nttl=2\ns=200\netag=\"\"\n\nx" },
		{ __LINE__, { .stored_ms = 1, .ttl = 2, .status = 200,
		    TAG(ETAG64) },
		    "t=1\nttl=2\ns=200\netag=" ETAG64 "\n\n" },
		/* a cached 404: no body, no tag */
		{ __LINE__, { .stored_ms = 1700000000123LL, .ttl = 10,
		    .status = 404 },
		    "t=1700000000123\nttl=10\ns=404\n\n" },
	};
	char	*out, a[256], b[256];
	size_t	 i, outlen, wlen;
	enum err rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		wlen = strlen(rows[i].want);
		if ((rc = entry_encode(&rows[i].e, &out, &outlen)) != ERR_OK) {
			row_fail(rows[i].line, "entry_encode: %d, want %s",
			    (int)rc, show(rows[i].want, wlen, b, sizeof(b)));
			continue;
		}
		if (outlen != wlen || memcmp(out, rows[i].want, wlen) != 0)
			row_fail(rows[i].line, "encoded %s, want %s",
			    show(out, outlen, a, sizeof(a)),
			    show(rows[i].want, wlen, b, sizeof(b)));
		free(out);
	}
	done();
}

struct trip_row {
	int		 line;
	long long	 stored_ms;
	long		 ttl;
	int		 status;
	const char	*etag;	/* NULL: none */
	const char	*body;
	size_t		 len;
};

#define TRIP(t, ttl, s, lit) \
	{ __LINE__, t, ttl, s, NULL, lit, sizeof(lit) - 1 }
#define TRIPE(t, ttl, s, etag, lit) \
	{ __LINE__, t, ttl, s, etag, lit, sizeof(lit) - 1 }

static const struct trip_row trip_rows[] = {
	TRIP(1700000000123LL, 60, 200, "{}"),
	TRIP(1700000000123LL, 60, 200, ""),
	TRIP(0, 0, 100, "x"),
	TRIP(253402300799999LL, 2147483647L, 599, "[]"),
	TRIP(1, 1, 404, "{\"error\":\"not found\"}"),
	TRIP(1700000000000LL, 60, 200, "a\0b\0\0c"),
	TRIP(1700000000000LL, 60, 200, "\0"),
	TRIP(1700000000000LL, 60, 200, "\n{}"),
	TRIP(1700000000000LL, 60, 200, "\n"),
	TRIP(1700000000000LL, 60, 200, "\n\n"),
	TRIP(1700000000000LL, 60, 200, "{}\n\n[]"),
	TRIP(1700000000000LL, 60, 200, "t=1\nttl=2\ns=500\n\nX"),
	TRIP(1700000000000LL, 60, 200, "\nt=5\n\nttl=1\n"),
	TRIP(1700000000000LL, 60, 200, "\xff\xfe\x80 \xe2\x9c\x93"),
	TRIP(1700000000000LL, 10, 404, ""),
	TRIPE(1700000000000LL, 60, 200, "\"af63dc4c8601ec8c\"", "a"),
	TRIPE(1700000000000LL, 60, 200, "\"\"", "{}"),
	TRIPE(1700000000000LL, 60, 200, "\"!#~\x80\xff\"", "{}"),
	TRIPE(1700000000000LL, 60, 200, ETAG64, "{}"),
	/* a body that looks like a head with a tag */
	TRIPE(1, 2, 200, "\"x\"", "etag=\"y\"\n\nz"),
};

static void
round_trip(int line, const struct entry *in)
{
	struct entry	 e;
	char		*out, *copy, a[256], b[256];
	size_t		 outlen;
	enum err	 rc;

	if ((rc = entry_encode(in, &out, &outlen)) != ERR_OK) {
		row_fail(line, "entry_encode(body %s): %d",
		    show(in->body, in->body_len, a, sizeof(a)), (int)rc);
		return;
	}
	rc = decode_exact(out, outlen, &e, &copy);
	if (rc != ERR_OK)
		row_fail(line, "entry_decode(%s): %d",
		    show(out, outlen, a, sizeof(a)), (int)rc);
	else if ((e.etag == NULL) != (in->etag == NULL) ||
	    (in->etag != NULL && (e.etag_len != in->etag_len ||
	    memcmp(e.etag, in->etag, e.etag_len) != 0)))
		row_fail(line, "round trip of etag %s: %s",
		    show(in->etag ? in->etag : "", in->etag_len, a, sizeof(a)),
		    e.etag == NULL ? "NULL" : show(e.etag, e.etag_len, b,
		    sizeof(b)));
	else if (e.etag != NULL && (e.etag < copy || e.etag >= copy + outlen))
		row_fail(line, "etag does not point into buf (no copy)");
	else if (e.stored_ms != in->stored_ms || e.ttl != in->ttl ||
	    e.status != in->status || e.body_len != in->body_len ||
	    (e.body_len > 0 && memcmp(e.body, in->body, e.body_len) != 0))
		row_fail(line, "round trip of body %s: t=%lld ttl=%ld s=%d "
		    "body_len %zu, want t=%lld ttl=%ld s=%d body_len %zu",
		    show(in->body, in->body_len, a, sizeof(a)), e.stored_ms,
		    e.ttl, e.status, e.body_len, in->stored_ms, in->ttl,
		    in->status, in->body_len);
	else if (e.body != copy + (outlen - in->body_len))
		row_fail(line, "body does not point into buf (no copy)");
	free(copy);
	free(out);
}

static void
test_entry_round_trip(void **state)
{
	const struct trip_row	*row;
	struct entry		 in;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(trip_rows) / sizeof(trip_rows[0]); i++) {
		row = &trip_rows[i];
		memset(&in, 0, sizeof(in));
		in.etag = row->etag;
		in.etag_len = row->etag ? strlen(row->etag) : 0;
		in.stored_ms = row->stored_ms;
		in.ttl = row->ttl;
		in.status = row->status;
		in.body = row->body;
		in.body_len = row->len;
		round_trip(row->line, &in);
	}
	done();
}

/* 1 MiB of every byte value, blank lines and "t=" lines included. */
static void
test_entry_round_trip_1mib(void **state)
{
	static const char	 lines[] = "\n\nt=1\nttl=2\n\n";
	struct entry		 in;
	char			*body;
	size_t			 i, len = 1 << 20;

	(void)state;
	body = malloc(len);
	assert_non_null(body);
	for (i = 0; i < len; i++)
		body[i] = (char)(i * 7 + i / 256);
	for (i = 0; i + sizeof(lines) < len; i += 4096)
		memcpy(body + i, lines, sizeof(lines) - 1);
	memset(&in, 0, sizeof(in));
	in.etag = "\"0000000000000000\"";
	in.etag_len = strlen(in.etag);
	in.stored_ms = 1700000000123LL;
	in.ttl = 60;
	in.status = 200;
	in.body = body;
	in.body_len = len;
	round_trip(__LINE__, &in);
	free(body);
	done();
}

/* An empty body may come as NULL. */
static void
test_entry_encode_null_body(void **state)
{
	struct entry	 in = { .stored_ms = 1, .ttl = 2, .status = 200,
	    .body = NULL, .body_len = 0 };
	char		*out;
	size_t		 outlen;

	(void)state;
	assert_int_equal(entry_encode(&in, &out, &outlen), ERR_OK);
	assert_non_null(out);
	assert_int_equal(outlen, strlen("t=1\nttl=2\ns=200\n\n"));
	assert_memory_equal(out, "t=1\nttl=2\ns=200\n\n", outlen);
	free(out);
}

/* entry_encode refuses what entry_decode would reject, *out NULL. */
static void
test_entry_encode_refuses(void **state)
{
	static const struct {
		int		 line;
		struct entry	 e;
	} rows[] = {
#define BADE(t_, ttl_, s_) { __LINE__, { .stored_ms = t_, .ttl = ttl_, \
			    .status = s_, .body = "{}", .body_len = 2 } }
#define BADTAG(lit) { __LINE__, { .stored_ms = 1, .ttl = 60, \
			    .status = 200, TAG(lit), .body = "{}", \
			    .body_len = 2 } }
		BADE(1, 60, 99),
		BADE(1, 60, 600),
		BADE(1, 60, 0),
		BADE(1, 60, -200),
		BADE(1, -1, 200),
		BADE(1, -60, 200),
		BADE(-1, 60, 200),
		BADE(253402300800000LL, 60, 200),
		/* tags: quoted etagc bytes, at most ENTRY_ETAG_MAX */
		BADTAG("abc"),
		BADTAG("\"abc"),
		BADTAG("abc\""),
		BADTAG("\""),
		{ __LINE__, { .stored_ms = 1, .ttl = 60, .status = 200,
		    .etag = "\"abc\"", .etag_len = 0 } },
		BADTAG("W/\"abc\""),		/* weak */
		BADTAG("\"a b\""),
		BADTAG("\"a\"b\""),
		BADTAG("\"a\nb\""),		/* would end the line */
		BADTAG("\"a\n\nb\""),		/* would end the head */
		BADTAG("\"a\rb\""),
		BADTAG("\"a\tb\""),
		BADTAG("\"a\x7f\""),
		BADTAG("\"a\0b\""),
		BADTAG(ETAG65),
#undef BADE
#undef BADTAG
	};
	char	 sentinel, *out, a[128];
	size_t	 i, outlen;
	enum err rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		out = &sentinel;
		outlen = 12345;
		rc = entry_encode(&rows[i].e, &out, &outlen);
		if (rc != ERR_INTERNAL || out != NULL || outlen != 0)
			row_fail(rows[i].line, "entry_encode(t=%lld ttl=%ld "
			    "s=%d etag %s): rc %d out %s outlen %zu, want "
			    "ERR_INTERNAL NULL 0", rows[i].e.stored_ms,
			    rows[i].e.ttl, rows[i].e.status,
			    rows[i].e.etag == NULL ? "NULL" :
			    show(rows[i].e.etag, rows[i].e.etag_len, a,
			    sizeof(a)), (int)rc,
			    out == NULL ? "NULL" : "set", outlen);
		if (rc == ERR_OK && out != &sentinel)
			free(out);
	}
	done();
}

struct dec_row {
	int		 line;
	const char	*in;
	size_t		 len;
	int		 ok;
	long long	 stored_ms;
	long		 ttl;
	int		 status;
	const char	*etag;	/* NULL: none */
	const char	*body;
};

#define DEC(lit, t, ttl, s, body) \
	{ __LINE__, lit, sizeof(lit) - 1, 1, t, ttl, s, NULL, body }
#define DECE(lit, t, ttl, s, etag, body) \
	{ __LINE__, lit, sizeof(lit) - 1, 1, t, ttl, s, etag, body }
#define CORRUPT(lit) \
	{ __LINE__, lit, sizeof(lit) - 1, 0, 0, 0, 0, NULL, NULL }

static const struct dec_row dec_rows[] = {
	DEC("t=1700000000123\nttl=60\ns=200\n\n{}",
	    1700000000123LL, 60, 200, "{}"),
	/* the order of known names does not matter; s defaults to 200 */
	DEC("ttl=2\nt=1\n\nB", 1, 2, 200, "B"),
	DEC("s=404\nttl=2\nt=1\n\nB", 1, 2, 404, "B"),
	DEC("t=1\nttl=10\ns=404\n\n", 1, 10, 404, ""),	/* negative entry */
	DEC("t=0\nttl=0\n\n", 0, 0, 200, ""),
	DEC("t=253402300799999\nttl=2147483647\ns=599\n\n",
	    253402300799999LL, 2147483647L, 599, ""),
	DEC("t=0001\nttl=002\ns=0300\n\n", 1, 2, 300, ""),
	/* the etag line, anywhere in the head */
	DECE("t=1\nttl=2\ns=200\netag=\"cbf29ce484222325\"\n\n{}", 1, 2, 200,
	    "\"cbf29ce484222325\"", "{}"),
	DECE("etag=\"abc\"\nt=1\nttl=2\n\nB", 1, 2, 200, "\"abc\"", "B"),
	DECE("t=1\netag=\"abc\"\nttl=2\n\nB", 1, 2, 200, "\"abc\"", "B"),
	DECE("t=1\nttl=2\netag=\"\"\n\nB", 1, 2, 200, "\"\"", "B"),
	DECE("t=1\nttl=2\netag=\"!#~\x80\xff\"\n\nB", 1, 2, 200,
	    "\"!#~\x80\xff\"", "B"),				/* obs-text */
	DECE("t=1\nttl=2\netag=" ETAG64 "\n\nB", 1, 2, 200, ETAG64, "B"),
	/* unknown names are skipped, before, between and after */
	DEC("enc=gzip\nt=1\nttl=2\n\nB", 1, 2, 200, "B"),
	DEC("t=1\nttl=2\nenc=gzip\n\nB", 1, 2, 200, "B"),
	DECE("t=1\netag=\"abc\"\nttl=2\nenc=gzip\ns=201\n\nB", 1, 2, 201,
	    "\"abc\"", "B"),
	DEC("enc=gzip\nvary=\"W/x y\"\nt=1\nttl=2\n\nB", 1, 2, 200, "B"),
	DEC("x-y_z9=\nt=1\nttl=2\n\nB", 1, 2, 200, "B"),
	DEC("tt=x\nttl2=y\nss=z\netag2=w\netags=\nt=1\nttl=2\n\nB", 1, 2, 200,
	    "B"),
	/* the body starts after the first empty line, whatever follows */
	DEC("t=1\nttl=2\n\n\n\nt=3\n", 1, 2, 200, "\n\nt=3\n"),
	DEC("t=1\nttl=2\n\netag=\"x\"\n", 1, 2, 200, "etag=\"x\"\n"),

	CORRUPT(""),
	CORRUPT("\n"),
	CORRUPT("\n\n"),
	CORRUPT("t=1\nttl=2\n"),			/* no empty line */
	CORRUPT("t=1\nttl=2\nB"),
	CORRUPT("t=1\nttl=2"),
	CORRUPT("ttl=2\n\nB"),				/* missing t */
	CORRUPT("t=1\n\nB"),				/* missing ttl */
	CORRUPT("s=200\n\nB"),
	CORRUPT("etag=\"abc\"\n\nB"),
	CORRUPT("t=12a\nttl=2\n\n"),
	CORRUPT("t=\nttl=2\n\n"),
	CORRUPT("t=-1\nttl=2\n\n"),
	CORRUPT("t=+1\nttl=2\n\n"),
	CORRUPT("t= 1\nttl=2\n\n"),
	CORRUPT("t=1 \nttl=2\n\n"),
	CORRUPT("t=0x10\nttl=2\n\n"),
	CORRUPT("t=253402300800000\nttl=2\n\n"),	/* after year 9999 */
	CORRUPT("t=9999999999999999999\nttl=2\n\n"),
	CORRUPT("t=1\nttl=-1\n\n"),
	CORRUPT("t=1\nttl=\n\n"),
	CORRUPT("t=1\nttl=1.5\n\n"),
	CORRUPT("t=1\nttl=2147483648\n\n"),
	CORRUPT("t=1\nttl=2\ns=99\n\n"),
	CORRUPT("t=1\nttl=2\ns=600\n\n"),
	CORRUPT("t=1\nttl=2\ns=0\n\n"),
	CORRUPT("t=1\nttl=2\ns=\n\n"),
	CORRUPT("t=1\nttl=2\ns=OK\n\n"),
	/* a tag: '"', etagc bytes, '"', at most ENTRY_ETAG_MAX bytes */
	CORRUPT("t=1\nttl=2\netag=\n\nB"),
	CORRUPT("t=1\nttl=2\netag=abc\n\nB"),
	CORRUPT("t=1\nttl=2\netag=\"abc\n\nB"),
	CORRUPT("t=1\nttl=2\netag=abc\"\n\nB"),
	CORRUPT("t=1\nttl=2\netag=\"\n\nB"),
	CORRUPT("t=1\nttl=2\netag=W/\"abc\"\n\nB"),	/* weak */
	CORRUPT("t=1\nttl=2\netag=\"a b\"\n\nB"),
	CORRUPT("t=1\nttl=2\netag=\"a\"b\"\n\nB"),
	CORRUPT("t=1\nttl=2\netag=\"a\"\"\n\nB"),
	CORRUPT("t=1\nttl=2\netag=\"a\tb\"\n\nB"),
	CORRUPT("t=1\nttl=2\netag=\"a\rb\"\n\nB"),
	CORRUPT("t=1\nttl=2\netag=\"a\x7f\"\n\nB"),
	CORRUPT("t=1\nttl=2\netag=\"a\0\"\n\nB"),
	CORRUPT("t=1\nttl=2\netag=\"a\" \n\nB"),
	CORRUPT("t=1\nttl=2\netag= \"a\"\n\nB"),
	CORRUPT("t=1\nttl=2\netag=" ETAG65 "\n\nB"),
	CORRUPT("T=1\nttl=2\n\n"),			/* uppercase names */
	CORRUPT("t=1\nTTL=2\n\n"),
	CORRUPT("t=1\nttl=2\nEtag=x\n\n"),
	CORRUPT("t=1\nttl=2\nmy name=x\n\n"),		/* spaces */
	CORRUPT(" t=1\nttl=2\n\n"),
	CORRUPT("t =1\nttl=2\n\n"),
	CORRUPT("t=1\nttl=2\nnoequals\n\n"),		/* no '=' */
	CORRUPT("t=1\nttl=2\n=x\n\n"),			/* empty name */
	CORRUPT("t=1\r\nttl=2\r\n\r\n{}"),		/* CRLF */
	CORRUPT("t=1\0\nttl=2\n\n"),
	CORRUPT("t=1\nttl=2\n\0\n\n"),
};

static void
test_entry_decode(void **state)
{
	const struct dec_row	*row;
	struct entry		 e;
	char			*copy, a[256], b[128], c[128];
	size_t			 blen, elen;
	enum err		 rc;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(dec_rows) / sizeof(dec_rows[0]); i++) {
		row = &dec_rows[i];
		rc = decode_exact(row->in, row->len, &e, &copy);
		if (!row->ok) {
			if (rc != ERR_ENTRY_CORRUPT)
				row_fail(row->line, "entry_decode(%s): %d, "
				    "want ERR_ENTRY_CORRUPT",
				    show(row->in, row->len, a, sizeof(a)),
				    (int)rc);
			else if (!is_zero(&e))
				row_fail(row->line, "entry_decode(%s): *e "
				    "not zeroed", show(row->in, row->len, a,
				    sizeof(a)));
			free(copy);
			continue;
		}
		blen = strlen(row->body);
		elen = row->etag ? strlen(row->etag) : 0;
		if (rc != ERR_OK)
			row_fail(row->line, "entry_decode(%s): %d, want ERR_OK",
			    show(row->in, row->len, a, sizeof(a)), (int)rc);
		else if ((e.etag == NULL) != (row->etag == NULL) ||
		    (e.etag != NULL && (e.etag_len != elen ||
		    memcmp(e.etag, row->etag, elen) != 0)))
			row_fail(row->line, "entry_decode(%s): etag %s, "
			    "want %s", show(row->in, row->len, a, sizeof(a)),
			    e.etag == NULL ? "NULL" : show(e.etag, e.etag_len,
			    b, sizeof(b)), show_str(row->etag, c, sizeof(c)));
		else if (e.etag == NULL && e.etag_len != 0)
			row_fail(row->line, "entry_decode(%s): no etag but "
			    "etag_len %zu", show(row->in, row->len, a,
			    sizeof(a)), e.etag_len);
		else if (e.stored_ms != row->stored_ms || e.ttl != row->ttl ||
		    e.status != row->status || e.body_len != blen ||
		    memcmp(e.body, row->body, blen) != 0)
			row_fail(row->line, "entry_decode(%s): t=%lld ttl=%ld "
			    "s=%d body_len %zu, want t=%lld ttl=%ld s=%d "
			    "body_len %zu", show(row->in, row->len, a,
			    sizeof(a)), e.stored_ms, e.ttl, e.status,
			    e.body_len, row->stored_ms, row->ttl, row->status,
			    blen);
		free(copy);
	}
	done();
}

/*
 * "t=1\nttl=2\n" + "x=aaa...\n" + "\n" + "{}", with the head (everything up
 * to and including the empty line) exactly headlen bytes long.
 */
static char *
entry_with_head(size_t headlen, size_t *len)
{
	static const char	 known[] = "t=1\nttl=2\n";
	char			*buf;
	size_t			 pad;

	pad = headlen - (sizeof(known) - 1) - strlen("x=\n\n");
	*len = headlen + 2;
	buf = malloc(*len);
	assert_non_null(buf);
	memcpy(buf, known, sizeof(known) - 1);
	memcpy(buf + sizeof(known) - 1, "x=", 2);
	memset(buf + sizeof(known) - 1 + 2, 'a', pad);
	memcpy(buf + headlen - 2, "\n\n{}", 4);
	return buf;
}

/* A head of ENTRY_HEAD_MAX bytes is the longest there is. */
static void
test_entry_decode_head_max(void **state)
{
	static const struct {
		int	 line;
		size_t	 headlen;
		int	 ok;
	} rows[] = {
		{ __LINE__, 64, 1 },
		{ __LINE__, ENTRY_HEAD_MAX - 1, 1 },
		{ __LINE__, ENTRY_HEAD_MAX, 1 },
		{ __LINE__, ENTRY_HEAD_MAX + 1, 0 },
		{ __LINE__, ENTRY_HEAD_MAX + 2, 0 },
		{ __LINE__, 4 * ENTRY_HEAD_MAX, 0 },
	};
	struct entry	 e;
	char		*buf;
	size_t		 i, len;
	enum err	 rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		buf = entry_with_head(rows[i].headlen, &len);
		memset(&e, 0xa5, sizeof(e));
		rc = entry_decode(buf, len, &e);
		if (rows[i].ok && (rc != ERR_OK || e.body_len != 2 ||
		    memcmp(e.body, "{}", 2) != 0))
			row_fail(rows[i].line, "head of %zu bytes: %d, "
			    "body_len %zu, want ERR_OK and {}",
			    rows[i].headlen, (int)rc,
			    rc == ERR_OK ? e.body_len : 0);
		else if (!rows[i].ok && (rc != ERR_ENTRY_CORRUPT ||
		    !is_zero(&e)))
			row_fail(rows[i].line, "head of %zu bytes: %d, want "
			    "ERR_ENTRY_CORRUPT and *e zeroed", rows[i].headlen,
			    (int)rc);
		free(buf);
	}
	done();
}

/* Every prefix of a valid entry that stops inside its head is corrupt. */
static void
test_entry_decode_truncated(void **state)
{
	static const char	*valid[] = {
		"t=1700000000123\nttl=60\ns=200\n\n{\"id\":1}",
		"etag=\"abc\"\nttl=60\nt=1700000000123\nenc=gzip\n\n[]",
	};
	struct entry		 e;
	const char		*in;
	char			*copy, a[256];
	size_t			 v, len, headlen, full;
	enum err		 rc;

	(void)state;
	for (v = 0; v < sizeof(valid) / sizeof(valid[0]); v++) {
		in = valid[v];
		full = strlen(in);
		headlen = (size_t)(strstr(in, "\n\n") - in) + 2;
		for (len = 0; len <= full; len++) {
			rc = decode_exact(in, len, &e, &copy);
			if (len < headlen && (rc != ERR_ENTRY_CORRUPT ||
			    !is_zero(&e)))
				row_fail(__LINE__, "entry %zu cut at %zu (%s): "
				    "%d, want ERR_ENTRY_CORRUPT, *e zeroed", v,
				    len, show(in, len, a, sizeof(a)), (int)rc);
			else if (len >= headlen && (rc != ERR_OK ||
			    e.body_len != len - headlen))
				row_fail(__LINE__, "entry %zu cut at %zu (%s): "
				    "%d, want ERR_OK with a %zu-byte body", v,
				    len, show(in, len, a, sizeof(a)), (int)rc,
				    len - headlen);
			free(copy);
		}
	}
	done();
}

static void
test_entry_age(void **state)
{
	static const long long	base = 1700000000000LL;
	static const struct {
		int		 line;
		long long	 stored_ms;
		long		 ttl;
		long long	 now_ms;
		long		 age;
	} rows[] = {
		{ __LINE__, base, 60, base, 0 },
		{ __LINE__, base, 60, base + 1, 0 },
		{ __LINE__, base, 60, base + 999, 0 },	/* floor */
		{ __LINE__, base, 60, base + 1000, 1 },
		{ __LINE__, base, 60, base + 1999, 1 },
		{ __LINE__, base, 60, base + 5000, 5 },
		{ __LINE__, base, 60, base + 59999, 59 },
		{ __LINE__, base, 60, base + 60000, 60 },	/* at ttl */
		{ __LINE__, base, 60, base + 60001, 60 },
		{ __LINE__, base, 60, base + 61000, 61 },	/* never < 0 */
		{ __LINE__, base, 60, base + 86400000, 86400 },
		/* the clock that reads now runs behind the one that stored */
		{ __LINE__, base, 60, base - 1, 0 },
		{ __LINE__, base, 60, base - 999, 0 },
		{ __LINE__, base, 60, base - 1000, 0 },
		{ __LINE__, base, 60, base - 3600000, 0 },
		{ __LINE__, base, 60, 0, 0 },
		{ __LINE__, base, 0, base, 0 },		/* ttl 0 */
		{ __LINE__, base, 0, base - 5000, 0 },
		{ __LINE__, 0, 2147483647L, 253402300799999LL,
		    2147483647L },				/* clamped */
	};
	struct entry	e;
	size_t		i;
	long		age;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&e, 0, sizeof(e));
		e.stored_ms = rows[i].stored_ms;
		e.ttl = rows[i].ttl;
		e.status = 200;
		age = entry_age(&e, rows[i].now_ms);
		if (age != rows[i].age)
			row_fail(rows[i].line, "stored %lld ttl %ld now %lld: "
			    "age %ld, want %ld", rows[i].stored_ms, rows[i].ttl,
			    rows[i].now_ms, age, rows[i].age);
	}
	done();
}

static const char *
freshness_name(enum freshness f)
{
	switch (f) {
	case ENTRY_FRESH:	return "ENTRY_FRESH";
	case ENTRY_STALE_SWR:	return "ENTRY_STALE_SWR";
	case ENTRY_STALE:	return "ENTRY_STALE";
	default:		return "(other)";
	}
}

/* Fresh below ttl, then swr more seconds of STALE_SWR, then STALE. */
static void
test_entry_freshness(void **state)
{
	static const long long	base = 1700000000000LL;
	static const struct {
		int		 line;
		long		 ttl;
		long		 swr;
		long long	 age_ms;	/* now - stored */
		enum freshness	 want;
	} rows[] = {
		{ __LINE__, 60, 30, 0, ENTRY_FRESH },
		{ __LINE__, 60, 30, 1, ENTRY_FRESH },
		{ __LINE__, 60, 30, 59999, ENTRY_FRESH },
		{ __LINE__, 60, 30, 60000, ENTRY_STALE_SWR },	/* at ttl */
		{ __LINE__, 60, 30, 60001, ENTRY_STALE_SWR },
		{ __LINE__, 60, 30, 89999, ENTRY_STALE_SWR },
		{ __LINE__, 60, 30, 90000, ENTRY_STALE },	/* ttl + swr */
		{ __LINE__, 60, 30, 90001, ENTRY_STALE },
		{ __LINE__, 60, 30, 86400000LL, ENTRY_STALE },
		/* no stale-while-revalidate window */
		{ __LINE__, 60, 0, 59999, ENTRY_FRESH },
		{ __LINE__, 60, 0, 60000, ENTRY_STALE },
		/* ttl 0: never fresh */
		{ __LINE__, 0, 30, 0, ENTRY_STALE_SWR },
		{ __LINE__, 0, 30, 29999, ENTRY_STALE_SWR },
		{ __LINE__, 0, 30, 30000, ENTRY_STALE },
		{ __LINE__, 0, 0, 0, ENTRY_STALE },
		/* the clock that reads now runs behind the one that stored */
		{ __LINE__, 60, 30, -1, ENTRY_FRESH },
		{ __LINE__, 60, 30, -3600000LL, ENTRY_FRESH },
		/* the largest values config and entry allow: no overflow */
		{ __LINE__, 2147483647L, 31536000L, 2147483647000LL - 1,
		    ENTRY_FRESH },
		{ __LINE__, 2147483647L, 31536000L, 2147483647000LL,
		    ENTRY_STALE_SWR },
		{ __LINE__, 2147483647L, 31536000L,
		    (2147483647LL + 31536000LL) * 1000 - 1, ENTRY_STALE_SWR },
		{ __LINE__, 2147483647L, 31536000L,
		    (2147483647LL + 31536000LL) * 1000, ENTRY_STALE },
	};
	struct entry	 e;
	enum freshness	 got;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&e, 0, sizeof(e));
		e.stored_ms = base;
		e.ttl = rows[i].ttl;
		e.status = 200;
		got = entry_freshness(&e, base + rows[i].age_ms, rows[i].swr);
		if (got != rows[i].want)
			row_fail(rows[i].line, "ttl %ld swr %ld age %lld ms: "
			    "%s, want %s", rows[i].ttl, rows[i].swr,
			    rows[i].age_ms, freshness_name(got),
			    freshness_name(rows[i].want));
	}
	done();
}

/*
 * The gzip part: gz=N says the value's last N bytes are the body gzipped.
 * It cannot be empty (an empty gzip body is no gzip), nor longer than what
 * follows the head; encode writes gz= and decode splits it off again.
 */
static void
test_entry_gz(void **state)
{
	static const struct {
		int		 line;
		const char	*in;
		int		 ok;
		const char	*body, *gz;
	} rows[] = {
		{ __LINE__, "t=1\nttl=2\ngz=3\n\nBODYxyz", 1, "BODY", "xyz" },
		{ __LINE__, "gz=1\nt=1\nttl=2\n\nBz", 1, "B", "z" },
		{ __LINE__, "t=1\nttl=2\ngz=3\n\nxyz", 1, "", "xyz" },
		{ __LINE__, "t=1\nttl=2\ngz=003\n\nBxyz", 1, "B", "xyz" },
		{ __LINE__, "t=1\nttl=2\ngz=0\n\nBODY", 0, NULL, NULL },
		{ __LINE__, "t=1\nttl=2\ngz=0\n\n", 0, NULL, NULL },
		{ __LINE__, "t=1\nttl=2\ngz=000\n\nB", 0, NULL, NULL },
		{ __LINE__, "t=1\nttl=2\ngz=4\n\nxyz", 0, NULL, NULL },
		{ __LINE__, "t=1\nttl=2\ngz=\n\nxyz", 0, NULL, NULL },
		{ __LINE__, "t=1\nttl=2\ngz=-1\n\nxyz", 0, NULL, NULL },
		{ __LINE__, "t=1\nttl=2\ngz=1x\n\nxyz", 0, NULL, NULL },
		{ __LINE__, "t=1\nttl=2\ngz=99999999999999999999\n\nx", 0,
		    NULL, NULL },
	};
	struct entry	 e, in;
	char		*copy, *enc, a[128];
	size_t		 i, len, enclen;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		len = strlen(rows[i].in);
		if (entry_decode(copy = exact(rows[i].in, len), len,
		    &e) != (rows[i].ok ? ERR_OK : ERR_ENTRY_CORRUPT))
			row_fail(rows[i].line, "entry_decode(%s): want %s",
			    show(rows[i].in, len, a, sizeof(a)), rows[i].ok ?
			    "ERR_OK" : "ERR_ENTRY_CORRUPT");
		else if (!rows[i].ok && (e.gz != NULL || e.gz_len != 0 ||
		    !is_zero(&e)))
			row_fail(rows[i].line, "entry_decode(%s): *e not "
			    "zeroed", show(rows[i].in, len, a, sizeof(a)));
		else if (rows[i].ok && (e.body_len != strlen(rows[i].body) ||
		    memcmp(e.body, rows[i].body, e.body_len) != 0 ||
		    e.gz == NULL || e.gz_len != strlen(rows[i].gz) ||
		    memcmp(e.gz, rows[i].gz, e.gz_len) != 0))
			row_fail(rows[i].line, "entry_decode(%s): body %zu "
			    "bytes, gz %zu bytes", show(rows[i].in, len, a,
			    sizeof(a)), e.body_len, e.gz_len);
		free(copy);
	}

	/* Encoded as the format says, and back. */
	memset(&in, 0, sizeof(in));
	in.stored_ms = 5;
	in.ttl = 6;
	in.status = 200;
	in.body = "{}";
	in.body_len = 2;
	in.gz = "GZ!";
	in.gz_len = 3;
	assert_int_equal(entry_encode(&in, &enc, &enclen), ERR_OK);
	assert_int_equal(enclen, strlen("t=5\nttl=6\ns=200\ngz=3\n\n{}GZ!"));
	assert_memory_equal(enc, "t=5\nttl=6\ns=200\ngz=3\n\n{}GZ!", enclen);
	assert_int_equal(entry_decode(enc, enclen, &e), ERR_OK);
	assert_int_equal(e.body_len, 2);
	assert_memory_equal(e.body, "{}", 2);
	assert_int_equal(e.gz_len, 3);
	assert_memory_equal(e.gz, "GZ!", 3);
	free(enc);
	/* An empty gzip part is refused by the encoder too. */
	in.gz_len = 0;
	enc = NULL;
	assert_int_equal(entry_encode(&in, &enc, &enclen), ERR_INTERNAL);
	assert_null(enc);
	done();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_entry_encode_exact, reset),
		cmocka_unit_test_setup(test_entry_round_trip, reset),
		cmocka_unit_test_setup(test_entry_round_trip_1mib, reset),
		cmocka_unit_test_setup(test_entry_encode_null_body, reset),
		cmocka_unit_test_setup(test_entry_encode_refuses, reset),
		cmocka_unit_test_setup(test_entry_decode, reset),
		cmocka_unit_test_setup(test_entry_decode_head_max, reset),
		cmocka_unit_test_setup(test_entry_decode_truncated, reset),
		cmocka_unit_test_setup(test_entry_age, reset),
		cmocka_unit_test_setup(test_entry_freshness, reset),
		cmocka_unit_test_setup(test_entry_gz, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
