/*
 * endpoint.h: the daemon's listening socket (--listen ADDRESS): the exact
 * parse of the address, opening it with the project's own error text
 * (not libfcgi's FCGX_OpenSocket, which prints and exits on failure), and
 * removing a unix socket at exit only if it is still ours.
 */
#ifndef ENDPOINT_H
#define ENDPOINT_H

#include <sys/types.h>

#define ENDPOINT_PATH_MAX	108	/* sun_path, its NUL included */
#define ENDPOINT_HOST_MAX	254	/* a DNS name, its NUL included */
#define ENDPOINT_TEXT_MAX	(5 + ENDPOINT_HOST_MAX + 8)

struct endpoint {
	char		text[ENDPOINT_TEXT_MAX];	/* as given, for logs */
	int		is_unix;
	char		path[ENDPOINT_PATH_MAX];	/* is_unix */
	char		host[ENDPOINT_HOST_MAX];	/* "" any; IPv6 bare */
	unsigned	port;				/* 1..65535 */
	dev_t		dev;				/* the socket made by */
	ino_t		ino;				/* endpoint_open */
};

/*
 * Parses text, exactly:
 *	unix:PATH	PATH non-empty, not starting with ':', shorter than
 *			ENDPOINT_PATH_MAX; absolute, or relative to the cwd
 *	HOST:PORT	HOST an IPv4 address or a host name (resolved when
 *			opened), [IPv6]:PORT, or empty (:PORT, every IPv4
 *			address); PORT decimal 1..65535
 * 0 and *ep filled, or -1 with why[] saying what is wrong.  Pure.
 */
int	endpoint_parse(const char *text, struct endpoint *ep, char *why,
	    size_t whysize);

/*
 * Opens ep: a listening socket (close-on-exec, for `backlog`), or -1 with
 * why[] ("bind: Address already in use").  A unix path is replaced only
 * if it is a socket nobody listens on (left by a killed daemon); never a
 * file of another kind.  The socket is made mode 0666: its directory
 * decides who may connect.  Records the socket's inode in ep.
 */
int	endpoint_open(struct endpoint *ep, int backlog, char *why,
	    size_t whysize);

/*
 * Is the listening socket fd reachable from other hosts: TCP bound to
 * anything but a loopback address (127.0.0.0/8, ::1, ::ffff:127.x)?
 * 0 for a unix socket, or when getsockname fails.
 */
int	endpoint_is_remote(int fd);

/* Removes ep's unix socket if the path still names the one it made. */
void	endpoint_remove(const struct endpoint *ep);

#endif /* ENDPOINT_H */
