/*
 * daemon.h: todos-fcgi listening by itself (--listen), for Apache's
 * mod_proxy_fcgi, nginx's fastcgi_pass or spawn-fcgi, instead of being
 * spawned by lighttpd.
 */
#ifndef DAEMON_H
#define DAEMON_H

#include "config.h"

#define DAEMON_WORKERS_MAX	1024

/*
 * Listens on address ("unix:/path/to.sock", "127.0.0.1:9000", ":9000"),
 * pre-forks `workers` worker processes that share the socket, restarts a
 * worker that dies, and on SIGTERM or SIGINT stops them all gracefully
 * (each finishes its request in hand).  Runs in the foreground; returns
 * an exit status.
 */
int	daemon_run(const struct config *cfg, const char *address, int workers);

#endif /* DAEMON_H */
