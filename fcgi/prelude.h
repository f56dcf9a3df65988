/*
 * prelude.h: a FastCGI request as it arrives (BEGIN_REQUEST, then PARAMS
 * up to the empty record, then STDIN up to the empty record), checked
 * before libfcgi reads it.  intake.c peeks at a connection until the
 * request is whole, so that libfcgi never waits on a slow client, and
 * never sees a record it mishandles: a name-value length that overflows
 * its allocation, or any management record (its answer to GET_VALUES
 * overflows a stack buffer).
 */
#ifndef PRELUDE_H
#define PRELUDE_H

#include <stddef.h>

/*
 * The most a request may take, framed: its request line and headers, and
 * its body (no route takes one; a web server that streams a body sends
 * only part of it until some is read: the socket cannot hold much).
 * PRELUDE_MAX is what is peeked at, at most.
 */
#define PRELUDE_HEADERS_MAX	65536
#define PRELUDE_BODY_MAX	16384
#define PRELUDE_MAX		(PRELUDE_HEADERS_MAX + PRELUDE_BODY_MAX)
/* Records in one prelude: web servers send a few. */
#define PRELUDE_RECORDS	256

enum prelude_state {
	PRELUDE_MORE,		/* not whole yet: have p->need bytes first */
	PRELUDE_READY,		/* whole and sound, body too: p->len bytes */
	PRELUDE_BODY,		/* BEGIN_REQUEST and PARAMS whole and sound
				   (p->len bytes), the body past
				   PRELUDE_BODY_MAX or PRELUDE_RECORDS */
	PRELUDE_BAD,		/* not FastCGI as web servers speak it */
	PRELUDE_TOO_BIG,	/* the headers past PRELUDE_HEADERS_MAX or
				   PRELUDE_RECORDS */
	PRELUDE_ROLE		/* a role other than RESPONDER: p->role */
};

struct prelude {
	size_t	need;		/* MORE: bytes to have before asking again */
	size_t	len;		/* READY: the prelude's length */
	int	id;		/* once BEGIN_REQUEST is seen: request id */
	int	role;		/* and its role */
	int	keep;		/* and its FCGI_KEEP_CONN flag */
};

/*
 * Checks the len bytes at buf, the first of a connection's next request:
 * BEGIN_REQUEST, then PARAMS records of that request whose name-value
 * pairs fit in them, to the empty one, then its STDIN records to the
 * empty one.  Nothing else, management records included.  Pure.
 */
enum prelude_state	prelude_check(const unsigned char *buf, size_t len,
			    struct prelude *p);

#endif /* PRELUDE_H */
