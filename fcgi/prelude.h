/*
 * prelude.h: the start of a FastCGI request (BEGIN_REQUEST, then PARAMS
 * up to the empty record), checked before libfcgi reads it.  worker.c
 * peeks at a connection until the prelude is whole, so that libfcgi never
 * waits on a slow client inside FCGX_Accept_r, and never sees a record
 * it mishandles (a name-value length that overflows its allocation).
 */
#ifndef PRELUDE_H
#define PRELUDE_H

#include <stddef.h>

/* The most a prelude may take: the request line and headers, framed. */
#define PRELUDE_MAX	65536
/* Records in one prelude: web servers send a few. */
#define PRELUDE_RECORDS	64

enum prelude_state {
	PRELUDE_MORE,		/* not whole yet: have p->need bytes first */
	PRELUDE_READY,		/* whole and sound: p->len bytes */
	PRELUDE_BAD,		/* not FastCGI as web servers speak it */
	PRELUDE_TOO_BIG,	/* past PRELUDE_MAX or PRELUDE_RECORDS */
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
 * FCGI_GET_VALUES management records and aborts of earlier requests, then
 * BEGIN_REQUEST, then PARAMS records of that request whose name-value
 * pairs fit in them, to the empty one.  Pure.
 */
enum prelude_state	prelude_check(const unsigned char *buf, size_t len,
			    struct prelude *p);

#endif /* PRELUDE_H */
