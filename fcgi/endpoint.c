/*
 * endpoint.c: the --listen address, parsed exactly and opened by us.
 *
 * libfcgi's FCGX_OpenSocket takes anything with a ':' as HOST:PORT (so
 * "unix::27399" listened on TCP 0.0.0.0:27399), wraps the port modulo
 * 65536, and on a bind failure prints its own words and exits.  Here a
 * value is either exactly a unix socket or exactly a TCP address, and a
 * failure is a line the daemon logs with the address.  Nothing here forks
 * or knows about workers.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "endpoint.h"

/* PORT: decimal digits only, 1..65535.  0, or -1. */
static int
parse_port(const char *s, unsigned *port)
{
	unsigned long	v = 0;
	size_t		n;

	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++) {
		if (n >= 5)
			return -1;
		v = v * 10 + (unsigned long)(s[n] - '0');
	}
	if (n == 0 || s[n] != '\0' || v < 1 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

/* A host name or IPv4 address: letters, digits, '.', '-'. */
static int
host_chars(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

int
endpoint_parse(const char *text, struct endpoint *ep, char *why,
    size_t whysize)
{
	struct in6_addr	 a6;
	const char	*colon, *host = text;
	size_t		 len, hostlen;

	memset(ep, 0, sizeof(*ep));
	why[0] = '\0';
	if ((len = strlen(text)) >= sizeof(ep->text)) {
		(void)snprintf(why, whysize, "longer than %zu bytes",
		    sizeof(ep->text) - 1);
		return -1;
	}
	memcpy(ep->text, text, len + 1);

	if (strncmp(text, "unix:", 5) == 0) {
		text += 5;
		len -= 5;
		if (len == 0 || text[0] == ':') {
			(void)snprintf(why, whysize, "unix:PATH needs a path, "
			    "not starting with ':'");
			return -1;
		}
		if (len >= sizeof(ep->path)) {
			(void)snprintf(why, whysize, "the path is longer than "
			    "%zu bytes", sizeof(ep->path) - 1);
			return -1;
		}
		ep->is_unix = 1;
		memcpy(ep->path, text, len + 1);
		return 0;
	}

	if (text[0] == '[') {
		/* [IPv6]:PORT */
		if ((colon = strchr(text, ']')) == NULL || colon[1] != ':') {
			(void)snprintf(why, whysize, "not [IPv6]:PORT");
			return -1;
		}
		host = text + 1;
		hostlen = (size_t)(colon - host);
		colon++;
		if (hostlen == 0 || hostlen >= sizeof(ep->host)) {
			(void)snprintf(why, whysize, "not an IPv6 address");
			return -1;
		}
		memcpy(ep->host, host, hostlen);
		ep->host[hostlen] = '\0';
		if (inet_pton(AF_INET6, ep->host, &a6) != 1) {
			(void)snprintf(why, whysize, "not an IPv6 address");
			return -1;
		}
	} else {
		/* HOST:PORT or :PORT; a bare IPv6 address is ambiguous. */
		if ((colon = strchr(text, ':')) == NULL ||
		    strchr(colon + 1, ':') != NULL) {
			(void)snprintf(why, whysize, "not unix:PATH, HOST:PORT, "
			    ":PORT or [IPv6]:PORT");
			return -1;
		}
		hostlen = (size_t)(colon - text);
		if (hostlen >= sizeof(ep->host) || !host_chars(text, hostlen)) {
			(void)snprintf(why, whysize, "not a host name or IPv4 "
			    "address before ':'");
			return -1;
		}
		memcpy(ep->host, text, hostlen);
		ep->host[hostlen] = '\0';
	}
	if (parse_port(colon + 1, &ep->port) == -1) {
		(void)snprintf(why, whysize, "the port is not a number in "
		    "1..65535");
		return -1;
	}
	return 0;
}

/*
 * A socket at path: 1 if something listens on it, 0 if not (a socket
 * left by a killed daemon), -1 with errno if it cannot be told.
 */
static int
in_use(const struct sockaddr_un *sun)
{
	int	fd, rc;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0)
		rc = 1;
	else
		rc = errno == ECONNREFUSED ? 0 : -1;
	(void)close(fd);
	return rc;
}

static int
open_unix(struct endpoint *ep, int backlog, char *why, size_t whysize)
{
	struct sockaddr_un	sun;
	struct stat		st;
	int			fd = -1, used;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, ep->path, strlen(ep->path) + 1);

	if (lstat(ep->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			(void)snprintf(why, whysize, "the path exists and is "
			    "not a socket; not removing it");
			goto fail;
		}
		if ((used = in_use(&sun)) != 0) {
			(void)snprintf(why, whysize, "%s", used == 1 ?
			    "another process listens on it" :
			    strerror(errno));
			goto fail;
		}
		if (unlink(ep->path) == -1 && errno != ENOENT) {
			(void)snprintf(why, whysize, "unlink: %s",
			    strerror(errno));
			goto fail;
		}
	} else if (errno != ENOENT) {
		(void)snprintf(why, whysize, "lstat: %s", strerror(errno));
		goto fail;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		(void)snprintf(why, whysize, "socket: %s", strerror(errno));
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		(void)snprintf(why, whysize, "bind: %s", strerror(errno));
		goto fail;
	}
	if (lstat(ep->path, &st) == -1 || chmod(ep->path, 0666) == -1 ||
	    listen(fd, backlog) == -1) {
		(void)snprintf(why, whysize, "%s", strerror(errno));
		(void)unlink(ep->path);		/* ours: just bound */
		goto fail;
	}
	ep->dev = st.st_dev;
	ep->ino = st.st_ino;
	return fd;
fail:
	if (fd != -1)
		(void)close(fd);
	return -1;
}

static int
open_tcp(struct endpoint *ep, int backlog, char *why, size_t whysize)
{
	struct addrinfo	 hints, *res = NULL;
	char		 port[8];
	int		 fd = -1, on = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	(void)snprintf(port, sizeof(port), "%u", ep->port);
	/* :PORT is every IPv4 address, as libfcgi had it. */
	if ((rc = getaddrinfo(ep->host[0] != '\0' ? ep->host : "0.0.0.0",
	    port, &hints, &res)) != 0) {
		(void)snprintf(why, whysize, "%s", gai_strerror(rc));
		goto fail;
	}
	if ((fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC,
	    0)) == -1) {
		(void)snprintf(why, whysize, "socket: %s", strerror(errno));
		goto fail;
	}
	/* A port in TIME_WAIT from a stopped daemon is free to use. */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1) {
		(void)snprintf(why, whysize, "bind: %s", strerror(errno));
		goto fail;
	}
	if (listen(fd, backlog) == -1) {
		(void)snprintf(why, whysize, "listen: %s", strerror(errno));
		goto fail;
	}
	freeaddrinfo(res);
	return fd;
fail:
	if (res != NULL)
		freeaddrinfo(res);
	if (fd != -1)
		(void)close(fd);
	return -1;
}

int
endpoint_open(struct endpoint *ep, int backlog, char *why, size_t whysize)
{
	why[0] = '\0';
	return ep->is_unix ? open_unix(ep, backlog, why, whysize) :
	    open_tcp(ep, backlog, why, whysize);
}

void
endpoint_remove(const struct endpoint *ep)
{
	struct stat	st;

	if (ep->is_unix && lstat(ep->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == ep->dev && st.st_ino == ep->ino)
		(void)unlink(ep->path);
}

int
endpoint_is_remote(int fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const unsigned char		*v4;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	switch (ss.ss_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)&ss;
		return (ntohl(sin->sin_addr.s_addr) >> 24) != 127;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)&ss;
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return 0;
		v4 = sin6->sin6_addr.s6_addr + 12;
		return !(IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
		    v4[0] == 127);
	default:
		return 0;
	}
}
