/*
 * intake.h: a FastCGI connection's next request, waited for until its
 * prelude (BEGIN_REQUEST and PARAMS, prelude.h) is whole in the socket,
 * within a deadline, before libfcgi reads it.  So FCGX_Accept_r never
 * waits on a client: a slow or stuck one holds its thread until the
 * deadline at most, and one whose prelude is unsound never reaches
 * libfcgi.
 */
#ifndef INTAKE_H
#define INTAKE_H

#include "prelude.h"

enum intake {
	INTAKE_READY,		/* the request is in: libfcgi reads it */
	INTAKE_BODY,		/* its prelude is in, its body past the
				   bounds: serve it, then intake_linger() */
	INTAKE_CLOSE		/* closed, too slow, unsound, or answered
				   here (431, an unknown role): close it */
};

/*
 * Waits up to timeout_ms on a kept connection for the first byte of its
 * next request.  1 if it came; 0 if not (timed out, closed by the client,
 * failed); -1 if a signal interrupted the wait.
 */
int		intake_idle(int fd, long timeout_ms);

/*
 * Waits until the whole of fd's next request is in, up to deadline
 * (clock_mono_ms()); buf has PRELUDE_MAX bytes to peek into.  PARAMS past
 * PRELUDE_MAX are answered 431, a role other than RESPONDER
 * FCGI_UNKNOWN_ROLE (FastCGI 1.0, 5.5), here.
 */
enum intake	intake_prelude(int fd, long long deadline, unsigned char *buf);

/*
 * Before closing a connection whose client may still be sending: ends
 * our side, then reads and drops what comes for a moment (1 s, 4 MiB), so
 * that the close does not reset the connection and destroy the answer
 * before the web server has read it.
 */
void		intake_linger(int fd);

#endif /* INTAKE_H */
