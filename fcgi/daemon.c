/*
 * daemon.c: the listening socket and the worker processes behind it.
 *
 * The parent opens the socket, forks the workers and then only waits for
 * signals (sigtimedwait on a blocked set: no handler races).  It creates
 * no threads and no Redis or libcurl state, so each worker starts clean.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "clock.h"
#include "daemon.h"
#include "log.h"
#include "metrics.h"
#include "worker.h"

#define BACKLOG		1024
#define RESPAWN_MIN_MS	1000	/* a worker that died sooner is respawned
				   after a pause, not in a tight loop */

static int
spawn(const struct config *cfg, int fd)
{
	sigset_t	set;
	pid_t		pid;

	if ((pid = fork()) == -1) {
		log_error("%s: fork: %s", __func__, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* Still blocked: a SIGTERM sent at once waits for the worker. */
		worker_signals(&set);
		(void)sigprocmask(SIG_BLOCK, &set, NULL);
		exit(worker_run(cfg, fd));
	}
	return pid;
}

/* Opens address; -1 with a log line on failure. */
static int
open_listener(const char *address)
{
	const char	*path = address;
	int		 fd;

	if (strncmp(address, "unix:", 5) == 0) {
		path = address + 5;
		(void)unlink(path);	/* a socket left by a killed daemon */
	}
	if ((fd = FCGX_OpenSocket(path, BACKLOG)) == -1) {
		log_error("%s: cannot listen on %s: %s", __func__, address,
		    strerror(errno));
		return -1;
	}
	/*
	 * Web servers connect as their own user; who may connect is decided
	 * by the permissions of the socket's directory.
	 */
	if (path != address)
		(void)chmod(path, 0666);
	return fd;
}

int
daemon_run(const struct config *cfg, const char *address, int workers)
{
	pid_t		*pids;
	long long	*born;
	sigset_t	 set;
	siginfo_t	 info;
	struct timespec	 tick = { 1, 0 };
	pid_t		 pid;
	long long	 deadline = 0;
	int		 fd, i, status, alive, stopping = 0;

	if (FCGX_Init() != 0 || (fd = open_listener(address)) == -1)
		return EXIT_FAILURE;
	/* Mapped before the fork: all workers count in the same memory. */
	if (metrics_open(cfg->metrics_file[0] != '\0' ? cfg->metrics_file :
	    NULL) == -1)
		log_warn("%s: cannot map the metrics; counting per worker",
		    __func__);
	if ((pids = calloc((size_t)workers, sizeof(*pids))) == NULL ||
	    (born = calloc((size_t)workers, sizeof(*born))) == NULL) {
		free(pids);
		log_error("%s: out of memory", __func__);
		return EXIT_FAILURE;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	(void)sigprocmask(SIG_BLOCK, &set, NULL);

	for (i = 0; i < workers; i++) {
		pids[i] = spawn(cfg, fd);
		born[i] = clock_mono_ms();
	}
	log_info("%s: listening on %s with %d workers", __func__, address,
	    workers);

	for (;;) {
		int	sig = sigtimedwait(&set, &info, &tick);

		if (sig == SIGTERM || sig == SIGINT) {
			if (!stopping)
				log_info("%s: stopping %d workers", __func__,
				    workers);
			stopping = 1;
			/* In-flight requests finish; then SIGKILL. */
			deadline = clock_mono_ms() +
			    cfg->upstream_timeout_ms + 5000;
			for (i = 0; i < workers; i++)
				if (pids[i] > 0)
					(void)kill(pids[i], SIGTERM);
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			for (i = 0; i < workers; i++)
				if (pids[i] == pid) {
					pids[i] = 0;
					if (!stopping)
						log_warn("%s: worker %ld "
						    "exited (status %d)",
						    __func__, (long)pid, status);
				}
		for (alive = 0, i = 0; i < workers; i++) {
			if (pids[i] > 0) {
				alive++;
				continue;
			}
			if (stopping ||
			    clock_mono_ms() - born[i] < RESPAWN_MIN_MS)
				continue;
			pids[i] = spawn(cfg, fd);
			born[i] = clock_mono_ms();
			alive += pids[i] > 0;
		}
		if (stopping && alive == 0)
			break;
		if (stopping && clock_mono_ms() > deadline)
			for (i = 0; i < workers; i++)
				if (pids[i] > 0)
					(void)kill(pids[i], SIGKILL);
	}
	if (strncmp(address, "unix:", 5) == 0)
		(void)unlink(address + 5);
	(void)close(fd);
	free(pids);
	free(born);
	log_info("%s: stopped", __func__);
	return EXIT_SUCCESS;
}
