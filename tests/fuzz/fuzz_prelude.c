/*
 * fuzz_prelude.c: libFuzzer target for prelude_check(), the gate between
 * a client's bytes and libfcgi.
 *
 * Input: the bytes at the front of a connection, copied into a heap
 * buffer of exactly their size, so ASan sees a read past them.
 *
 * What must hold, from prelude.h:
 *   - MORE asks for more than it has, and no more than PRELUDE_MAX;
 *   - READY and BODY cover no more than it has, for a RESPONDER, every
 *     record of the request's own id (no management record, which
 *     libfcgi mishandles), the last an empty STDIN (READY) or PARAMS
 *     (BODY);
 *   - on both, the PARAMS content, gathered here the simple way (copied
 *     together), splits into name-value pairs that end exactly at its end
 *     (what libfcgi's ReadParams assumes), no length past what is left;
 *   - a prefix of a READY request is never READY before its end.
 */
#include <stdlib.h>
#include <string.h>

#include <fastcgi.h>

#include "fuzz.h"
#include "prelude.h"

/* The PARAMS content of the READY prelude at b, copied together. */
static unsigned char *
gather(const unsigned char *b, size_t len, int id, size_t *total)
{
	unsigned char	*out;
	size_t		 off = 0, n;
	int		 begun = 0;

	if ((out = malloc(len + 1)) == NULL)
		abort();
	*total = 0;
	while (off + 8 <= len) {
		n = ((size_t)b[off + 4] << 8) | b[off + 5];
		CHECK(off + 8 + n + b[off + 6] <= len);
		CHECK(((b[off + 2] << 8) | b[off + 3]) == id);
		if (off + 8 + n + b[off + 6] == len)
			CHECK(n == 0);	/* the empty STDIN or PARAMS */
		if (b[off + 1] == FCGI_BEGIN_REQUEST &&
		    ((b[off + 2] << 8) | b[off + 3]) == id)
			begun = 1;
		else if (begun && b[off + 1] == FCGI_PARAMS) {
			memcpy(out + *total, b + off + 8, n);
			*total += n;
		}
		off += 8 + n + b[off + 6];
	}
	CHECK(off == len);
	return out;
}

static size_t
length(const unsigned char *c, size_t total, size_t *pos)
{
	size_t	n;

	CHECK(*pos < total);
	if (c[*pos] < 0x80)
		return c[(*pos)++];
	CHECK(total - *pos >= 4);
	n = ((size_t)(c[*pos] & 0x7f) << 24) | ((size_t)c[*pos + 1] << 16) |
	    ((size_t)c[*pos + 2] << 8) | c[*pos + 3];
	*pos += 4;
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prelude	 p, q;
	unsigned char	*b, *c;
	size_t		 total, pos = 0, name, value;

	if ((b = malloc(size + 1)) == NULL)
		abort();
	memcpy(b, data, size);
	switch (prelude_check(b, size, &p)) {
	case PRELUDE_MORE:
		CHECK(p.need > size && p.need <= PRELUDE_MAX);
		break;
	case PRELUDE_TOO_BIG:
		CHECK(size > 0);
		break;
	case PRELUDE_READY:
	case PRELUDE_BODY:
		CHECK(p.len <= size && p.role == FCGI_RESPONDER && p.id != 0);
		c = gather(b, p.len, p.id, &total);
		while (pos < total) {
			name = length(c, total, &pos);
			value = length(c, total, &pos);
			CHECK(name + value <= total - pos);
			pos += name + value;
		}
		free(c);
		if (prelude_check(b, size, &q) == PRELUDE_READY)
			CHECK(prelude_check(b, p.len - 1, &q) != PRELUDE_READY);
		break;
	case PRELUDE_ROLE:
		CHECK(p.role != FCGI_RESPONDER);
		break;
	case PRELUDE_BAD:
		break;
	default:
		CHECK(0);
	}
	free(b);
	return 0;
}
