/*
 * worker.h: a responder process answering FastCGI requests.
 */
#ifndef WORKER_H
#define WORKER_H

#include "config.h"

/*
 * Serves requests accepted on listen_fd (0 when a web server spawned us)
 * until SIGTERM, SIGINT or SIGUSR1.  Returns an exit status.
 */
int	worker_run(const struct config *cfg, int listen_fd);

/*
 * Answers the one request of a CGI program (parameters in the
 * environment, the answer on stdout), closes stdout so the server can
 * finish it, then does the work meant for after the answer.
 */
int	worker_cgi(const struct config *cfg);

#endif /* WORKER_H */
