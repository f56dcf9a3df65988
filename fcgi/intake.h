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
	INTAKE_EMPTY,		/* nothing in yet: wait with intake_idle */
	INTAKE_CLOSE		/* closed, too slow, unsound, or answered
				   here (431, 413, an unknown role): close */
};

/*
 * Waits up to timeout_ms on a connection for the first byte of its next
 * request (a kept connection's, or a new one's that has sent nothing
 * yet).  1 if it came; 0 if not (timed out, closed by the client,
 * failed); -1 if a signal interrupted the wait.
 */
int		intake_idle(int fd, long timeout_ms);

/*
 * Waits until the whole of fd's next request is in, up to deadline
 * (clock_mono_ms()), once its first byte is; INTAKE_EMPTY at once if
 * nothing is in.  buf has PRELUDE_MAX bytes to peek into, epfd is an
 * epoll set of the caller's own, empty (left so).  Answered
 * here: PARAMS past PRELUDE_MAX, 431; a body that takes the request past
 * it, 413 once it is read (no route takes a body); a role other than
 * RESPONDER, FCGI_UNKNOWN_ROLE (FastCGI 1.0, 5.5).
 */
enum intake	intake_prelude(int fd, long long deadline, unsigned char *buf,
		    int epfd);

#endif /* INTAKE_H */
