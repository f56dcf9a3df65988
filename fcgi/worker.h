/*
 * worker.h: a responder process answering FastCGI requests.
 */
#ifndef WORKER_H
#define WORKER_H

#include <signal.h>

#include "config.h"
#include "peers.h"

/*
 * The signals a responder takes in its main thread (SIGTERM, SIGINT,
 * SIGUSR1 stop it; SIGHUP is ignored) or uses to wake its threads.  They
 * must be blocked before FCGX_Init (whose handlers would swallow them)
 * and stay blocked into worker_run, or a stop sent early is lost.
 */
void	worker_signals(sigset_t *set);

/*
 * Serves requests accepted on listen_fd (0 when a web server spawned us)
 * until SIGTERM, SIGINT or SIGUSR1; on a TCP socket, only from peers.
 * Call with worker_signals() blocked.  Returns an exit status.
 */
int	worker_run(const struct config *cfg, int listen_fd,
	    const struct peers *peers);

/*
 * Answers the one request of a CGI program (parameters in the
 * environment, the answer on stdout), closes stdout so the server can
 * finish it, then does the work meant for after the answer.
 */
int	worker_cgi(const struct config *cfg);

#endif /* WORKER_H */
