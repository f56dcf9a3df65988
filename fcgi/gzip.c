/*
 * gzip.c: gzip by zopfli for small bodies (slower than zlib, 6-12% smaller:
 * the one compression of an entry runs after its first answer is sent, so
 * the time is nobody's wait, and below GZIP_ZOPFLI_MAX it is a fraction
 * of a second), by zlib for the rest (zopfli's time grows to seconds per
 * MB); a small Accept-Encoding reader (RFC 9110 12.5.3) that only needs to
 * find gzip's weight.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ZLIB_CONST	/* next_in is const */
#include <zlib.h>
#include <zopfli/zopfli.h>

#include "gzip.h"

static enum err
by_zopfli(const char *in, size_t len, char **out, size_t *outlen)
{
	ZopfliOptions	 opt;
	unsigned char	*buf = NULL;
	size_t		 n = 0;

	ZopfliInitOptions(&opt);
	opt.numiterations = GZIP_ITERATIONS;
	ZopfliCompress(&opt, ZOPFLI_FORMAT_GZIP, (const unsigned char *)in,
	    len, &buf, &n);
	if (buf == NULL)
		return ERR_NOMEM;
	if (n * 10 > len * 9) {
		free(buf);
		return ERR_OK;
	}
	*out = (char *)buf;
	*outlen = n;
	return ERR_OK;
}

/* Into a buffer of 90% of len: a form that does not fit is not kept. */
static enum err
by_zlib(const char *in, size_t len, char **out, size_t *outlen)
{
	z_stream	 z;
	char		*buf;
	size_t		 cap = len / 10 * 9;
	int		 rc;

	if (len > UINT_MAX)
		return ERR_OK;	/* beyond UPSTREAM_MAX_BYTES' range */
	if ((buf = malloc(cap)) == NULL)
		return ERR_NOMEM;
	memset(&z, 0, sizeof(z));
	/* 15 + 16: a 32 KB window, with the gzip header and trailer. */
	if (deflateInit2(&z, GZIP_ZLIB_LEVEL, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		free(buf);
		return ERR_NOMEM;
	}
	z.next_in = (const Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)buf;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_FINISH);
	*outlen = z.total_out;
	(void)deflateEnd(&z);
	if (rc != Z_STREAM_END) {	/* out of room: not worth it */
		free(buf);
		*outlen = 0;
		return rc == Z_OK || rc == Z_BUF_ERROR ? ERR_OK : ERR_INTERNAL;
	}
	*out = buf;
	return ERR_OK;
}

enum err
gzip_compress(const char *in, size_t len, char **out, size_t *outlen)
{
	*out = NULL;
	*outlen = 0;
	if (len < GZIP_MIN_BYTES)
		return ERR_OK;
	return len <= GZIP_ZOPFLI_MAX ? by_zopfli(in, len, out, outlen) :
	    by_zlib(in, len, out, outlen);
}

/* The weight of "q=..." at p (after ';' and spaces); 1 if none. */
static int
nonzero_q(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == ';'))
		p++;
	if (end - p < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=')
		return 1;
	for (p += 2; p < end; p++)
		if (*p >= '1' && *p <= '9')
			return 1;
		else if (*p != '0' && *p != '.')
			break;
	return 0;
}

int
gzip_accepted(const char *ae)
{
	const char	*p, *end, *name, *name_end;
	int		 star = 0, gzip = -1;	/* -1: not named */

	if (ae == NULL)
		return 0;
	for (p = ae; *p != '\0'; p = *end ? end + 1 : end) {
		end = p + strcspn(p, ",");
		name = p;
		while (name < end && (*name == ' ' || *name == '\t'))
			name++;
		name_end = name;
		while (name_end < end && *name_end != ';' && *name_end != ' ' &&
		    *name_end != '\t')
			name_end++;
		if ((name_end - name == 4 && strncasecmp(name, "gzip", 4) == 0) ||
		    (name_end - name == 6 && strncasecmp(name, "x-gzip", 6) == 0))
			gzip = nonzero_q(name_end, end);
		else if (name_end - name == 1 && *name == '*')
			star = nonzero_q(name_end, end);
	}
	return gzip != -1 ? gzip : star;
}
