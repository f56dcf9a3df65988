/*
 * intake.c: waits for a FastCGI request to arrive whole before libfcgi
 * reads it.  libfcgi reads a request inside FCGX_Accept_r and FCGX_GetStr,
 * one read at a time, with no bound on its size or on the time it takes;
 * a read deadline alone bounds each read, not their sum, so a client that
 * sends a byte now and then would hold a thread for ever.  Here the
 * connection is peeked at (MSG_PEEK: the bytes stay for libfcgi) until
 * prelude_check() says the request is whole (its body too, if small), or
 * the deadline passes.
 *
 * Peeks copy, so after the first they are made only once FIONREAD shows
 * the bytes the next record needs; while part of one is in, the wait for
 * more is on an edge-triggered epoll set of the thread's own (poll(2)
 * would return at once: the socket stays readable), so a request sent in
 * pieces is looked at again as each piece comes, and a slow client costs
 * a wakeup per piece, no more.
 */
#define _GNU_SOURCE		/* POLLRDHUP */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <fastcgi.h>

#include "clock.h"
#include "intake.h"
#include "log.h"
#include "reply.h"

#define LINGER_MS	1000	/* reading a refused request's rest */
#define LINGER_BYTES	(4 * 1024 * 1024)

int
intake_idle(int fd, long timeout_ms)
{
	struct pollfd	pfd = { fd, POLLIN | POLLRDHUP, 0 };
	int		avail;

	switch (poll(&pfd, 1, timeout_ms > 0x7fffffff ? 0x7fffffff :
	    (int)timeout_ms)) {
	case -1:
		return errno == EINTR ? -1 : 0;
	case 0:
		return 0;
	default:
		/* Readable with nothing to read: the client closed. */
		return ioctl(fd, FIONREAD, &avail) == 0 && avail > 0;
	}
}

/* A record header for type, request id and content length into h. */
static size_t
header(unsigned char *h, int type, int id, size_t len)
{
	h[0] = FCGI_VERSION_1;
	h[1] = (unsigned char)type;
	h[2] = (unsigned char)((id >> 8) & 0xff);
	h[3] = (unsigned char)(id & 0xff);
	h[4] = (unsigned char)((len >> 8) & 0xff);
	h[5] = (unsigned char)(len & 0xff);
	h[6] = 0;
	h[7] = 0;
	return FCGI_HEADER_LEN;
}

/* FCGI_END_REQUEST with protocol status ps into h; its length. */
static size_t
end_request(unsigned char *h, int id, int ps)
{
	header(h, FCGI_END_REQUEST, id, 8);
	memset(h + FCGI_HEADER_LEN, 0, 8);	/* appStatus 0 */
	h[FCGI_HEADER_LEN + 4] = (unsigned char)ps;
	return FCGI_HEADER_LEN + 8;
}

/*
 * Before closing a connection whose client may still be sending: ends
 * our side, then reads and drops what comes for a moment (1 s, 4 MiB), so
 * that the close does not reset the connection and destroy the answer
 * before the web server has read it.
 */
static void
linger(int fd)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	char		 junk[4096];
	long long	 until = clock_mono_ms() + LINGER_MS, left;
	size_t		 total = 0;
	ssize_t		 n;

	(void)shutdown(fd, SHUT_WR);
	while (total < LINGER_BYTES &&
	    (left = until - clock_mono_ms()) > 0 &&
	    poll(&pfd, 1, (int)left) > 0) {
		if ((n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT)) <= 0)
			break;
		total += (size_t)n;
	}
}

/* Sends buf[len] (the write deadline bounds it), then lingers. */
static void
answer_and_linger(int fd, const unsigned char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = send(fd, buf, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
	linger(fd);
}

/* An error answer in JSON (431, 413), as the responder answers them all. */
static void
refuse(int fd, int id, enum err e)
{
	unsigned char	 rec[FCGI_HEADER_LEN + REPLY_HEAD_MAX +
			    REPLY_ERROR_MAX + 2 * FCGI_HEADER_LEN + 8];
	char		 body[REPLY_ERROR_MAX];
	struct reply	 r;
	size_t		 off = FCGI_HEADER_LEN;
	int		 n, b;

	memset(&r, 0, sizeof(r));
	r.status = err_status(e);
	if ((b = reply_error_body(body, sizeof(body), e)) == -1 ||
	    (n = reply_head((char *)rec + off, REPLY_HEAD_MAX, &r,
	    (size_t)b)) == -1)
		return;
	off += (size_t)n;
	memcpy(rec + off, body, (size_t)b);
	off += (size_t)b;
	header(rec, FCGI_STDOUT, id, off - FCGI_HEADER_LEN);
	off += header(rec + off, FCGI_STDOUT, id, 0);
	off += end_request(rec + off, id, FCGI_REQUEST_COMPLETE);
	answer_and_linger(fd, rec, off);
}

/*
 * Reads len bytes into buf (NULL: drops them), waiting for them until
 * deadline.  0, or -1 if they did not come.
 */
static int
take(int fd, unsigned char *buf, size_t len, long long deadline)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	unsigned char	junk[4096];
	long long	left;
	ssize_t		n;

	while (len > 0) {
		n = recv(fd, buf != NULL ? buf : junk, buf != NULL ? len :
		    len < sizeof(junk) ? len : sizeof(junk), MSG_DONTWAIT);
		if (n > 0) {
			len -= (size_t)n;
			if (buf != NULL)
				buf += n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return -1;
		if ((left = deadline - clock_mono_ms()) <= 0)
			return -1;
		(void)poll(&pfd, 1, left > 0x7fffffff ? 0x7fffffff :
		    (int)left);
	}
	return 0;
}

/*
 * A body past PRELUDE_BODY_MAX (no route takes one): read to its end,
 * never by libfcgi, then answered 413.  It is not waited for whole in the
 * socket: a web server that streams a body (Apache) sends only part of it
 * until some is read.  And it must be let finish sending before the answer
 * and the close, or it reports a broken pipe instead of the answer.
 */
static void
drain_body(int fd, const struct prelude *p, long long deadline)
{
	unsigned char	h[FCGI_HEADER_LEN];
	size_t		content;

	if (take(fd, NULL, p->len, deadline) == -1)
		return;
	for (;;) {
		if (take(fd, h, sizeof(h), deadline) == -1 ||
		    h[0] != FCGI_VERSION_1 || h[1] != FCGI_STDIN ||
		    ((h[2] << 8) | h[3]) != p->id)
			return;
		content = ((size_t)h[4] << 8) | h[5];
		if (take(fd, NULL, content + h[6], deadline) == -1)
			return;
		if (content == 0)
			break;
	}
	refuse(fd, p->id, ERR_BODY_TOO_BIG);
}

/*
 * Waits until more than avail bytes are in, the client shuts its side,
 * or deadline.  0; 1 if more came and then the client shut its side (what
 * is in is all there will be); -1 if nothing more will come in time.
 * While part of the request is in, the socket stays readable, so poll(2)
 * cannot wait for more: epfd watches fd edge-triggered (each arrival is
 * an event), *watched says it was added.
 */
static int
more(int fd, int avail, long long deadline, int epfd, int *watched)
{
	struct epoll_event	ev;
	long long		left;
	int			n, ms;

	if ((left = deadline - clock_mono_ms()) <= 0) {
		log_debug("%s: request not in within FCGI_IO_TIMEOUT_MS: "
		    "closed", __func__);
		return -1;
	}
	ms = left > 0x7fffffff ? 0x7fffffff : (int)left;
	if (!*watched) {
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
		ev.data.fd = fd;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
			return -1;
		*watched = 1;
	}
	if ((n = epoll_wait(epfd, &ev, 1, ms)) == -1)
		return errno == EINTR ? 0 : -1;
	if (n == 0 || (ev.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) == 0)
		return 0;
	return ioctl(fd, FIONREAD, &n) == -1 || n <= avail ? -1 : 1;
}

/* Looks at what is in until the request is whole, or it cannot be. */
static enum intake
look(int fd, long long deadline, unsigned char *buf, int epfd, int *watched)
{
	static atomic_int	 logged;
	unsigned char		 rec[FCGI_HEADER_LEN + 8];
	struct prelude		 p;
	size_t			 need = FCGI_HEADER_LEN;
	ssize_t			 n;
	int			 avail, first, last = 0;

	for (first = 1;; first = 0) {
		/*
		 * The first look peeks at once (the request is usually all
		 * in); later ones once FIONREAD shows what the next record
		 * needs.
		 */
		n = 0;
		if (first)
			avail = PRELUDE_MAX;
		else if (ioctl(fd, FIONREAD, &avail) == -1)
			return INTAKE_CLOSE;
		if (avail > 0 && (size_t)avail >= need &&
		    (n = recv(fd, buf, (size_t)avail > PRELUDE_MAX ?
		    PRELUDE_MAX : (size_t)avail, MSG_PEEK | MSG_DONTWAIT)) <= 0)
			return n == -1 && first && errno == EAGAIN ?
			    INTAKE_EMPTY : INTAKE_CLOSE;
		if (n > 0)
			avail = (int)n;
		if (n > 0 && (size_t)n >= need) {
			switch (prelude_check(buf, (size_t)n, &p)) {
			case PRELUDE_READY:
				return INTAKE_READY;
			case PRELUDE_BODY:
				drain_body(fd, &p, deadline);
				return INTAKE_CLOSE;
			case PRELUDE_MORE:
				need = p.need;
				break;
			case PRELUDE_TOO_BIG:
				if (p.id != 0)
					refuse(fd, p.id, ERR_HEADERS_TOO_BIG);
				return INTAKE_CLOSE;
			case PRELUDE_ROLE:
				if (atomic_exchange(&logged, 1) == 0)
					log_warn("%s: FastCGI role %d refused "
					    "(only RESPONDER, 1)",
					    __func__, p.role);
				answer_and_linger(fd, rec,
				    end_request(rec, p.id, FCGI_UNKNOWN_ROLE));
				return INTAKE_CLOSE;
			case PRELUDE_BAD:
				log_debug("%s: not a FastCGI request as web "
				    "servers send one: closed", __func__);
				return INTAKE_CLOSE;
			}
		}
		if (last)		/* the client shut its side */
			return INTAKE_CLOSE;
		switch (more(fd, avail, deadline, epfd, watched)) {
		case -1:
			return INTAKE_CLOSE;
		case 1:
			last = 1;	/* one more look, then no more */
			break;
		}
	}
}

enum intake
intake_prelude(int fd, long long deadline, unsigned char *buf, int epfd)
{
	enum intake	in;
	int		watched = 0;

	in = look(fd, deadline, buf, epfd, &watched);
	if (watched)
		(void)epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	return in;
}
