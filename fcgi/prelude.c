/*
 * prelude.c: is a FastCGI request whole, and sound?  Walks the records
 * at the front of a connection (FastCGI 1.0, section 3.3): BEGIN_REQUEST
 * names the request and its role; then its PARAMS records, whose contents
 * concatenated are the name-value pairs (section 3.4), up to an empty
 * PARAMS record; then its STDIN records, the body no route takes, up to
 * an empty one.  Web servers send nothing else; management records, which
 * libfcgi mishandles, are refused.  No I/O, no allocation: the caller
 * peeks, asks, and peeks again once p->need bytes have come.
 */
#include <string.h>

#include <fastcgi.h>

#include "prelude.h"

#define HEADER_LEN	8	/* FCGI_HEADER_LEN */

/* Where each PARAMS record's content lies in the buffer. */
struct segment {
	size_t	off, len;
};

struct params {
	const unsigned char	*buf;
	const struct segment	*seg;
	int			 nseg;
	size_t			 total;	/* content bytes in all */
};

/* The byte at position pos of the concatenated PARAMS content. */
static unsigned char
byte_at(const struct params *ps, size_t pos)
{
	int	i;

	for (i = 0; pos >= ps->seg[i].len; i++)
		pos -= ps->seg[i].len;
	return ps->buf[ps->seg[i].off + pos];
}

/*
 * A name or value length at *pos: one byte, or four with the top bit set
 * (which is not part of the length).  -1 if it runs past the content.
 */
static long long
pair_len(const struct params *ps, size_t *pos)
{
	long long	n;
	int		i;

	if (*pos >= ps->total)
		return -1;
	n = byte_at(ps, (*pos)++);
	if (n < 0x80)
		return n;
	if (ps->total - *pos < 3)
		return -1;
	n &= 0x7f;
	for (i = 0; i < 3; i++)
		n = (n << 8) | byte_at(ps, (*pos)++);
	return n;
}

/* Do the name-value pairs exactly fill the content? */
static int
pairs_fit(const struct params *ps)
{
	size_t		pos = 0;
	long long	name, value;

	while (pos < ps->total) {
		if ((name = pair_len(ps, &pos)) < 0 ||
		    (value = pair_len(ps, &pos)) < 0 ||
		    name + value > (long long)(ps->total - pos))
			return 0;
		pos += (size_t)(name + value);
	}
	return 1;
}

enum prelude_state
prelude_check(const unsigned char *buf, size_t len, struct prelude *p)
{
	struct segment		 seg[PRELUDE_RECORDS];
	struct params		 ps = { buf, seg, 0, 0 };
	const unsigned char	*h, *c;
	size_t			 off = 0, end, content;
	int			 records, type, id;
	enum { BEGIN, PARAMS, STDIN } at = BEGIN;

	memset(p, 0, sizeof(*p));
	for (records = 1; ; records++) {
		if (records > PRELUDE_RECORDS)
			return at == STDIN ? PRELUDE_BODY : PRELUDE_TOO_BIG;
		if (len - off < HEADER_LEN) {
			end = off + HEADER_LEN;
			break;
		}
		h = buf + off;
		if (h[0] != FCGI_VERSION_1)
			return PRELUDE_BAD;
		type = h[1];
		id = (h[2] << 8) | h[3];
		content = ((size_t)h[4] << 8) | h[5];
		end = off + HEADER_LEN + content + h[6];
		if (at == STDIN && end - p->len > PRELUDE_BODY_MAX)
			return PRELUDE_BODY;
		if (at != STDIN && end > PRELUDE_HEADERS_MAX)
			return PRELUDE_TOO_BIG;
		if (len < end)
			break;
		c = h + HEADER_LEN;
		switch (at) {
		case BEGIN:
			if (type != FCGI_BEGIN_REQUEST || content != 8 ||
			    id == FCGI_NULL_REQUEST_ID)
				return PRELUDE_BAD;
			p->id = id;
			p->role = (c[0] << 8) | c[1];
			p->keep = (c[2] & FCGI_KEEP_CONN) != 0;
			if (p->role != FCGI_RESPONDER)
				return PRELUDE_ROLE;
			at = PARAMS;
			break;
		case PARAMS:
			if (type != FCGI_PARAMS || id != p->id)
				return PRELUDE_BAD;
			if (content > 0) {
				seg[ps.nseg].off = off + HEADER_LEN;
				seg[ps.nseg++].len = content;
				ps.total += content;
				break;
			}
			if (!pairs_fit(&ps))
				return PRELUDE_BAD;
			p->len = end;	/* PRELUDE_BODY's length */
			at = STDIN;
			break;
		case STDIN:
			if (type != FCGI_STDIN || id != p->id)
				return PRELUDE_BAD;
			if (content == 0) {
				p->len = end;
				return PRELUDE_READY;
			}
			break;
		}
		off = end;
	}
	if (at == STDIN && end - p->len > PRELUDE_BODY_MAX)
		return PRELUDE_BODY;
	if (at != STDIN && end > PRELUDE_HEADERS_MAX)
		return PRELUDE_TOO_BIG;
	p->need = end;
	return PRELUDE_MORE;
}
