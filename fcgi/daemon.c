/*
 * daemon.c: the listening socket and the worker processes behind it.
 *
 * The parent opens the socket, forks the workers and then only waits for
 * signals (sigtimedwait on a blocked set: no handler races).  It creates
 * no threads and no Redis or libcurl state, so each worker starts clean.
 * SIGHUP is ignored: the configuration is the environment, read once, so
 * there is nothing to reload; and a daemon started from a terminal must
 * not die with it.  Workers die with the parent (PR_SET_PDEATHSIG): a
 * parent killed outright leaves no orphans holding the socket.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "clock.h"
#include "daemon.h"
#include "endpoint.h"
#include "log.h"
#include "metrics.h"
#include "worker.h"

#define BACKLOG		1024
#define RESPAWN_MIN_MS	1000	/* a worker that died sooner is respawned
				   after a pause, not in a tight loop */

static int
spawn(const struct config *cfg, int fd, const struct peers *peers)
{
	sigset_t	set;
	pid_t		pid, parent = getpid();

	if ((pid = fork()) == -1) {
		log_error("%s: fork: %s", __func__, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		log_forked();
		/* Still blocked: a SIGTERM sent at once waits for the worker. */
		worker_signals(&set);
		(void)sigprocmask(SIG_BLOCK, &set, NULL);
		/*
		 * The parent's death is a SIGTERM: a graceful stop.  If it
		 * died before prctl, getppid() is already another process.
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
		    getppid() != parent)
			_exit(EXIT_FAILURE);
		exit(worker_run(cfg, fd, peers));
	}
	return pid;
}

/* Logs, for func, how a worker ended that was not asked to. */
static void
log_end(const char *func, pid_t pid, int status)
{
	if (WIFSIGNALED(status))
		log_warn("%s: worker %ld killed by signal %d", func,
		    (long)pid, WTERMSIG(status));
	else
		log_warn("%s: worker %ld exited with status %d", func,
		    (long)pid, WIFEXITED(status) ? WEXITSTATUS(status) : status);
}

int
daemon_run(const struct config *cfg, struct endpoint *ep, int workers,
    const struct peers *peers)
{
	pid_t		*pids;
	long long	*born;
	sigset_t	 set;
	siginfo_t	 info;
	struct timespec	 tick = { 1, 0 };
	pid_t		 pid;
	long long	 deadline = 0;
	char		 why[256];
	int		 fd, i, status, alive, stopping = 0;

	if (FCGX_Init() != 0) {
		log_error("%s: FCGX_Init failed", __func__);
		return EXIT_FAILURE;
	}
	if ((fd = endpoint_open(ep, BACKLOG, why, sizeof(why))) == -1) {
		log_error("%s: cannot listen on %s: %s", __func__, ep->text, why);
		return DAEMON_EXIT_LISTEN;
	}
	if (peers->n == 0 && endpoint_is_remote(fd))
		log_warn("%s: %s is reachable from other hosts and "
		    "FCGI_WEB_SERVER_ADDRS is unset: any of them may send "
		    "requests (and purges, if PURGE_TOKEN leaks)", __func__,
		    ep->text);
	/* Mapped before the fork: all workers count in the same memory. */
	if (metrics_open(cfg->metrics_file[0] != '\0' ? cfg->metrics_file :
	    NULL) == -1)
		log_warn("%s: cannot map the metrics; counting per worker",
		    __func__);
	if ((pids = calloc((size_t)workers, sizeof(*pids))) == NULL ||
	    (born = calloc((size_t)workers, sizeof(*born))) == NULL) {
		free(pids);
		endpoint_remove(ep);
		(void)close(fd);
		log_error("%s: out of memory", __func__);
		return EXIT_FAILURE;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	(void)sigprocmask(SIG_BLOCK, &set, NULL);

	for (i = 0; i < workers; i++) {
		pids[i] = spawn(cfg, fd, peers);
		born[i] = clock_mono_ms();
	}
	log_info("%s: listening on %s with %d workers", __func__, ep->text,
	    workers);

	for (;;) {
		int	sig = sigtimedwait(&set, &info, &tick);

		log_flush();	/* what waited for a stalled stderr */
		if (sig == SIGHUP)
			log_info("%s: SIGHUP ignored (the configuration is "
			    "read at start only)", __func__);
		if (sig == SIGTERM || sig == SIGINT) {
			/*
			 * In-flight requests finish; then SIGKILL, counted
			 * from the first signal: a supervisor that repeats
			 * SIGTERM must not put it off.
			 */
			if (!stopping) {
				log_info("%s: stopping %d workers", __func__,
				    workers);
				deadline = clock_mono_ms() +
				    cfg->upstream_timeout_ms + 5000;
			}
			stopping = 1;
			for (i = 0; i < workers; i++)
				if (pids[i] > 0)
					(void)kill(pids[i], SIGTERM);
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			for (i = 0; i < workers; i++)
				if (pids[i] == pid) {
					pids[i] = 0;
					if (!stopping)
						log_end(__func__, pid, status);
				}
		for (alive = 0, i = 0; i < workers; i++) {
			if (pids[i] > 0) {
				alive++;
				continue;
			}
			if (stopping ||
			    clock_mono_ms() - born[i] < RESPAWN_MIN_MS)
				continue;
			pids[i] = spawn(cfg, fd, peers);
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
	endpoint_remove(ep);
	(void)close(fd);
	free(pids);
	free(born);
	log_info("%s: stopped", __func__);
	log_flush();
	return EXIT_SUCCESS;
}
