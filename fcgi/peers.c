/*
 * peers.c: which addresses may connect to a TCP FastCGI socket
 * (FCGI_WEB_SERVER_ADDRS, as libfcgi reads it, plus IPv6).  Addresses are
 * compared as 16 bytes, IPv4 mapped into IPv6, so that an IPv4 web server
 * reaching a dual-stack socket matches its IPv4 entry.  No I/O.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "peers.h"

/* addr as IPv6 (IPv4 mapped); 0, or -1 for a family with no address. */
static int
as_ipv6(const struct sockaddr *sa, socklen_t len, struct in6_addr *out)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	if (sa->sa_family == AF_INET && len >= sizeof(*sin)) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		memset(out, 0, sizeof(*out));
		out->s6_addr[10] = 0xff;
		out->s6_addr[11] = 0xff;
		memcpy(&out->s6_addr[12], &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(*sin6)) {
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		*out = sin6->sin6_addr;
		return 0;
	}
	return -1;
}

int
peers_parse(const char *list, struct peers *p, char *why, size_t whysize)
{
	struct in_addr	 a4;
	char		 one[INET6_ADDRSTRLEN];
	const char	*s, *end;
	size_t		 len;

	memset(p, 0, sizeof(*p));
	why[0] = '\0';
	if (list == NULL)
		return 0;
	for (s = list; *s == ' '; s++)
		;
	if (*s == '\0')
		return 0;
	for (s = list;; s = end + 1) {
		while (*s == ' ')
			s++;
		if ((end = strchr(s, ',')) == NULL)
			end = s + strlen(s);
		for (len = (size_t)(end - s); len > 0 && s[len - 1] == ' ';
		    len--)
			;
		if (len == 0 || len >= sizeof(one))
			goto bad;
		memcpy(one, s, len);
		one[len] = '\0';
		if (p->n == PEERS_MAX) {
			(void)snprintf(why, whysize, "more than %d addresses",
			    PEERS_MAX);
			memset(p, 0, sizeof(*p));
			return -1;
		}
		if (inet_pton(AF_INET, one, &a4) == 1) {
			p->addr[p->n].s6_addr[10] = 0xff;
			p->addr[p->n].s6_addr[11] = 0xff;
			memcpy(&p->addr[p->n].s6_addr[12], &a4, 4);
		} else if (inet_pton(AF_INET6, one, &p->addr[p->n]) != 1)
			goto bad;
		p->n++;
		if (*end == '\0')
			return 0;
	}
bad:
	len = (size_t)(end - s);
	(void)snprintf(why, whysize, "'%.*s' is not an IPv4 or IPv6 address",
	    (int)(len > 64 ? 64 : len), s);
	memset(p, 0, sizeof(*p));
	return -1;
}

int
peers_allowed(const struct peers *p, const struct sockaddr *sa,
    socklen_t len)
{
	struct in6_addr	a;
	int		i;

	if (p->n == 0 || sa->sa_family == AF_UNIX)
		return 1;
	if (as_ipv6(sa, len, &a) == -1)
		return 0;
	for (i = 0; i < p->n; i++)
		if (memcmp(&a, &p->addr[i], sizeof(a)) == 0)
			return 1;
	return 0;
}

void
peers_format(const struct sockaddr *sa, socklen_t len, char *buf,
    size_t size)
{
	const void	*addr = NULL;

	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		addr = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6 &&
	    len >= sizeof(struct sockaddr_in6))
		addr = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (addr == NULL ||
	    inet_ntop(sa->sa_family, addr, buf, (socklen_t)size) == NULL)
		(void)snprintf(buf, size, "?");
}
