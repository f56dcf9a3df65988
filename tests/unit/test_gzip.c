/*
 * test_gzip.c: the Accept-Encoding test (gzip_accepted) as a table of
 * field values, RFC 9110 12.5.3: gzip (or x-gzip, or *) is accepted
 * unless its weight is 0, whatever the case of the names and the spaces
 * around ';' and '='; and the gzip form (gzip_compress): kept only when it
 * is worth it, and a well-formed gzip member of the body (header, CRC-32
 * and length in its trailer).
 */
#include "unit.h"
#include "gzip.h"

static void
test_gzip_accepted(void **state)
{
	static const struct {
		int		 line;
		const char	*ae;	/* NULL: no Accept-Encoding */
		int		 want;
	} rows[] = {
		{ __LINE__, NULL, 0 },
		{ __LINE__, "", 0 },
		{ __LINE__, "identity", 0 },
		{ __LINE__, "deflate, br", 0 },
		{ __LINE__, "gzip", 1 },
		{ __LINE__, "GZIP", 1 },
		{ __LINE__, "x-gzip", 1 },
		{ __LINE__, "X-Gzip", 1 },
		{ __LINE__, " gzip", 1 },
		{ __LINE__, "deflate, gzip", 1 },
		{ __LINE__, "deflate,gzip", 1 },
		{ __LINE__, "gzip;q=1", 1 },
		{ __LINE__, "gzip;Q=1", 1 },
		{ __LINE__, "gzip;q=0.5", 1 },
		{ __LINE__, "gzip;q=0.001", 1 },
		{ __LINE__, "gzip;q=1.000", 1 },
		{ __LINE__, "br;q=1, gzip;q=0.1", 1 },
		{ __LINE__, "*", 1 },
		{ __LINE__, "*;q=0.5", 1 },
		/* spaces and tabs around the ';' (OWS, RFC 9110 5.6.6) */
		{ __LINE__, "gzip; q=0.5", 1 },
		{ __LINE__, "gzip ;q=0.5", 1 },
		{ __LINE__, "gzip\t;\tq=0.5", 1 },
		/* a weight of 0 refuses, however it is spelled */
		{ __LINE__, "gzip;q=0", 0 },
		{ __LINE__, "gzip;Q=0", 0 },
		{ __LINE__, "gzip;q=0.", 0 },
		{ __LINE__, "gzip;q=0.000", 0 },
		{ __LINE__, "gzip; q=0", 0 },
		{ __LINE__, "gzip ; q=0", 0 },
		{ __LINE__, "gzip ;q=0", 0 },
		{ __LINE__, "gzip;\tq=0", 0 },
		{ __LINE__, "gzip;  q=0.0", 0 },
		{ __LINE__, "x-gzip; q=0", 0 },
		{ __LINE__, "*;q=0", 0 },
		{ __LINE__, "*; q=0", 0 },
		{ __LINE__, "deflate, gzip; q=0", 0 },
		/* an explicit gzip wins over *, either way round */
		{ __LINE__, "*, gzip;q=0", 0 },
		{ __LINE__, "gzip;q=0, *", 0 },
		{ __LINE__, "*;q=0, gzip", 1 },
		{ __LINE__, "gzip, *;q=0", 1 },
		/* names that only look like gzip */
		{ __LINE__, "gzipx", 0 },
		{ __LINE__, "xgzip", 0 },
		{ __LINE__, "gzi", 0 },
		{ __LINE__, "x-gzip2", 0 },
		{ __LINE__, "**", 0 },
	};
	char	a[128];
	size_t	i;
	int	got;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if ((got = gzip_accepted(rows[i].ae)) != rows[i].want)
			row_fail(rows[i].line, "gzip_accepted(%s): %d, want %d",
			    show_str(rows[i].ae, a, sizeof(a)), got,
			    rows[i].want);
	done();
}

static unsigned long
crc32_of(const unsigned char *p, size_t len)
{
	unsigned long	c = 0xffffffffUL;
	size_t		i;
	int		k;

	for (i = 0; i < len; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320UL : c >> 1;
	}
	return c ^ 0xffffffffUL;
}

static unsigned long
le32(const unsigned char *p)
{
	return (unsigned long)p[0] | (unsigned long)p[1] << 8 |
	    (unsigned long)p[2] << 16 | (unsigned long)p[3] << 24;
}

/* A JSON-like body of len bytes that compresses well. */
static char *
repetitive(size_t len)
{
	static const char	 unit[] = "{\"userId\":1,\"id\":1,\"title\":\"x\","
				    "\"completed\":false},";
	char			*p = malloc(len);
	size_t			 i;

	assert_non_null(p);
	for (i = 0; i < len; i++)
		p[i] = unit[i % (sizeof(unit) - 1)];
	return p;
}

/* Bytes that do not compress (xorshift). */
static char *
noise(size_t len)
{
	unsigned long long	 x = 0x9e3779b97f4a7c15ULL;
	char			*p = malloc(len);
	size_t			 i;

	assert_non_null(p);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (char)(x >> 24);
	}
	return p;
}

static void
test_gzip_compress(void **state)
{
	static const struct {
		int	line;
		size_t	len;
		int	noisy;
		int	kept;
	} rows[] = {
		{ __LINE__, 0, 0, 0 },
		{ __LINE__, GZIP_MIN_BYTES - 1, 0, 0 },	/* too small */
		{ __LINE__, GZIP_MIN_BYTES, 0, 1 },
		{ __LINE__, 18310, 0, 1 },
		{ __LINE__, 4096, 1, 0 },		/* no gain */
	};
	const unsigned char	*g;
	char			*in, *out;
	size_t			 i, outlen;
	enum err		 rc;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		in = rows[i].noisy ? noise(rows[i].len) :
		    repetitive(rows[i].len);
		out = (char *)&rows;	/* must be overwritten */
		outlen = 12345;
		rc = gzip_compress(in, rows[i].len, &out, &outlen);
		if (rc != ERR_OK) {
			row_fail(rows[i].line, "%zu bytes: %d, want ERR_OK",
			    rows[i].len, (int)rc);
		} else if (!rows[i].kept) {
			if (out != NULL || outlen != 0)
				row_fail(rows[i].line, "%zu bytes: a gzip form "
				    "of %zu bytes, want none", rows[i].len,
				    outlen);
		} else if (out == NULL || outlen < 18 ||
		    outlen * 10 > rows[i].len * 9) {
			row_fail(rows[i].line, "%zu bytes: gzip form %s of "
			    "%zu bytes, want at most 90%%", rows[i].len,
			    out == NULL ? "NULL" : "set", outlen);
		} else {
			g = (const unsigned char *)out;
			if (g[0] != 0x1f || g[1] != 0x8b || g[2] != 8)
				row_fail(rows[i].line, "not a gzip header: "
				    "%02x %02x %02x", g[0], g[1], g[2]);
			if (le32(g + outlen - 4) != (rows[i].len & 0xffffffffUL))
				row_fail(rows[i].line, "ISIZE %lu, want %zu",
				    le32(g + outlen - 4), rows[i].len);
			if (le32(g + outlen - 8) != crc32_of((const unsigned
			    char *)in, rows[i].len))
				row_fail(rows[i].line, "CRC-32 %08lx, want "
				    "%08lx", le32(g + outlen - 8), crc32_of(
				    (const unsigned char *)in, rows[i].len));
		}
		if (rc == ERR_OK && out != NULL && out != (char *)&rows)
			free(out);
		free(in);
	}
	done();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_gzip_accepted, reset),
		cmocka_unit_test_setup(test_gzip_compress, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
