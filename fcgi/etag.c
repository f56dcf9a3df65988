/*
 * etag.c: 64-bit FNV-1a over the body, and an RFC 9110 If-None-Match
 * list reader that stops at the first byte it does not understand.
 */
#include <stdint.h>
#include <string.h>

#include "etag.h"

void
etag_of(const char *body, size_t len, char out[ETAG_LEN + 1])
{
	static const char	 hex[] = "0123456789abcdef";
	uint64_t		 h = 0xcbf29ce484222325ULL;
	size_t			 i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)body[i];
		h *= 0x100000001b3ULL;
	}
	out[0] = '"';
	for (i = 0; i < 16; i++)
		out[1 + i] = hex[(h >> (60 - 4 * i)) & 0xf];
	out[17] = '"';
	out[18] = '\0';
}

static const char *
ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* etagc: %x21 / %x23-7E / obs-text (any byte >= 0x80) */
static int
etagc(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

int
etag_none_match(const char *inm, const char *etag, size_t len)
{
	const char	*p, *start;
	int		 match = 0;

	if (inm == NULL)
		return 0;
	p = ows(inm);
	if (*p == '*')
		return *ows(p + 1) == '\0';
	/* The whole list is read: a match counts only if all of it parses. */
	for (;;) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return match;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (*p != '"')
			return 0;
		start = p++;
		while (etagc((unsigned char)*p))
			p++;
		if (*p != '"')
			return 0;
		p++;
		if ((size_t)(p - start) == len && memcmp(start, etag, len) == 0)
			match = 1;
		p = ows(p);
		if (*p != ',' && *p != '\0')
			return 0;
	}
}
