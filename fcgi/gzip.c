/*
 * gzip.c: gzip by zopfli (slower than zlib, about 7% smaller: the one
 * compression of an entry runs after its first answer is sent, so the
 * time is nobody's wait); a small Accept-Encoding reader (RFC 9110
 * 12.5.3) that only needs to find gzip's weight.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zopfli/zopfli.h>

#include "gzip.h"

enum err
gzip_compress(const char *in, size_t len, char **out, size_t *outlen)
{
	ZopfliOptions	 opt;
	unsigned char	*buf = NULL;
	size_t		 n = 0;

	*out = NULL;
	*outlen = 0;
	if (len < GZIP_MIN_BYTES)
		return ERR_OK;
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
