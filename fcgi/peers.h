/*
 * peers.h: FCGI_WEB_SERVER_ADDRS, the web servers that may connect to a
 * TCP listening socket.  libfcgi checks it in its own accept; our threads
 * accept(2) themselves (worker.c), so the check is made here.
 */
#ifndef PEERS_H
#define PEERS_H

#include <netinet/in.h>
#include <sys/socket.h>

#define PEERS_MAX	32

struct peers {
	int		n;		/* 0: every address may connect */
	struct in6_addr	addr[PEERS_MAX];	/* IPv4 as ::ffff:a.b.c.d */
};

/*
 * Parses list (NULL or "": no restriction), comma-separated IPv4 or IPv6
 * addresses, spaces around each allowed.  0, or -1 with why[] naming the
 * entry that is not an address.  Pure.
 */
int	peers_parse(const char *list, struct peers *p, char *why,
	    size_t whysize);

/*
 * May the peer sa connect?  Yes for a unix socket's peer (its directory
 * decides) and for any peer with no list; else only a listed address.
 */
int	peers_allowed(const struct peers *p, const struct sockaddr *sa,
	    socklen_t len);

/* The peer's address as text into buf ("?" if none). */
void	peers_format(const struct sockaddr *sa, socklen_t len, char *buf,
	    size_t size);

#endif /* PEERS_H */
