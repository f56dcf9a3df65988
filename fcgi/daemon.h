/*
 * daemon.h: todos-fcgi listening by itself (--listen), for Apache's
 * mod_proxy_fcgi, nginx's fastcgi_pass or spawn-fcgi, instead of being
 * spawned by lighttpd.
 */
#ifndef DAEMON_H
#define DAEMON_H

#include "config.h"
#include "endpoint.h"
#include "peers.h"

#define DAEMON_WORKERS_MAX	1024
#define DAEMON_EXIT_LISTEN	71	/* sysexits EX_OSERR: cannot listen */

/*
 * Listens on ep (endpoint_parse'd), pre-forks `workers` worker processes
 * that share the socket (a TCP one for peers only), restarts a worker
 * that dies, ignores SIGHUP, and on SIGTERM or SIGINT stops them all
 * gracefully (each finishes its request in hand).  Runs in the
 * foreground; returns an exit status: DAEMON_EXIT_LISTEN if the socket
 * cannot be opened (one log line with the address and why).
 */
int	daemon_run(const struct config *cfg, struct endpoint *ep, int workers,
	    const struct peers *peers);

#endif /* DAEMON_H */
