/*
 * worker.c: one responder process's life.  Sets up what its threads share
 * (the in-process cache and its invalidation channel, the circuit breaker,
 * the background pool), then runs FCGI_THREADS request threads, each with
 * its own Redis connection, libcurl handle and FastCGI request, accepting
 * connections on the listening socket and answering one request at a time.
 * A request waiting for the upstream holds its own thread only.
 *
 * The threads accept(2) themselves and hand the connection to libfcgi
 * (FCGX_Request.ipcFd) once the request's prelude is whole in the socket
 * (intake.c), so that libfcgi never waits on a client: an idle, slow or
 * stuck client holds one thread for FCGI_IO_TIMEOUT_MS at most, and every
 * connection has read and write deadlines of that length too.
 *
 * The main thread takes the signals.  SIGTERM (lighttpd's, or the daemon's
 * parent's), SIGINT and SIGUSR1 stop the process: threads waiting for a
 * connection, or for the first byte of a request on one, are woken
 * (SIGUSR2, which only they take), threads with a request in hand finish
 * it, within a grace of UPSTREAM_TIMEOUT_MS + 3 s.
 * Once a second the main thread also writes out the access log's batch.
 */
#define _GNU_SOURCE		/* accept4, pthread_timedjoin_np */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <fcgiapp.h>
#include <fastcgi.h>

#include "background.h"
#include "cache.h"
#include "clock.h"
#include "intake.h"
#include "local.h"
#include "log.h"
#include "metrics.h"
#include "peers.h"
#include "serve.h"
#include "track.h"
#include "upstream.h"
#include "worker.h"

#define WAKE_SIGNAL	SIGUSR2

struct request_thread {
	struct worker		*w;
	pthread_t		 thread;
	int			 started, joined;
	pthread_mutex_t		 mu;		/* guards waiting */
	int			 waiting;	/* for a connection or a
						   kept connection's request */
	struct cache		*cache;
	struct upstream		*upstream;
	struct serve		 s;
	FCGX_Request		 req;
	unsigned char		*peek;		/* PRELUDE_MAX, for intake */
	int			 epfd;		/* an epoll set, for intake */
	long long		 until;		/* the request's deadline (mono
						   ms); 0: from its first byte */
};

struct worker {
	const struct config	*cfg;
	int			 listen_fd;
	int			 tcp;		/* listen_fd is TCP */
	const struct peers	*peers;		/* who may connect to it */
	atomic_int		 stopping;
	struct serve_shared	 sh;
	int			 nthreads;
	struct request_thread	*threads;
};

/*
 * The process's one worker: static, so that what a thread still holds at
 * exit (past the grace) stays reachable, not a leak.
 */
static struct worker	the_worker;

static void
on_wake(int sig)
{
	(void)sig;	/* only to make accept(2) or read(2) return EINTR */
}

static void
nap(long ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000L };

	(void)nanosleep(&ts, NULL);
}

/*
 * Read and write deadlines, and no Nagle delay on TCP.  Linux copies them
 * from a listening TCP socket to the sockets it accepts, so there they are
 * set once, on the listening socket (where SO_RCVTIMEO also ends a blocked
 * accept(2) now and then, which is harmless); a unix socket's accepted
 * sockets start with none, so each gets its own.
 */
static void
deadlines(const struct worker *w, int fd)
{
	struct timeval	tv;
	int		on = 1;

	tv.tv_sec = w->cfg->io_timeout_ms / 1000;
	tv.tv_usec = (w->cfg->io_timeout_ms % 1000) * 1000;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (w->tcp)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/* Marks t waiting (wakeable) or busy; 0, or -1 if the process stops. */
static int
set_waiting(struct request_thread *t, int waiting)
{
	int	stop;

	pthread_mutex_lock(&t->mu);
	stop = atomic_load(&t->w->stopping);
	t->waiting = waiting && !stop;
	pthread_mutex_unlock(&t->mu);
	return stop && waiting ? -1 : 0;
}

/*
 * Accepts the next connection into t->req.  0, or -1: try again (the
 * stop check comes first).  Errors that are about one connection, or
 * about a shortage that passes (EMFILE, ENOBUFS), are waited out.  A TCP
 * peer not in FCGI_WEB_SERVER_ADDRS is closed before a byte is read: the
 * check libfcgi's own accept made, which ours bypasses.
 */
static int
accept_one(struct request_thread *t)
{
	static atomic_int	 logged, refused;
	struct worker		*w = t->w;
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 addr[INET6_ADDRSTRLEN];
	int			 fd;

	fd = accept4(w->listen_fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	if (fd == -1) {
		switch (errno) {
		case EINTR:
		case EAGAIN:
		case ECONNABORTED:
		case EPROTO:
		case EPERM:
			return -1;
		default:
			if (atomic_exchange(&logged, 1) == 0)
				log_error("%s: accept: %s", __func__,
				    strerror(errno));
			nap(100);
			return -1;
		}
	}
	if (!peers_allowed(w->peers, (struct sockaddr *)&ss, len)) {
		(void)close(fd);
		/* Once per process: a scanner must not flood the log. */
		if (atomic_exchange(&refused, 1) == 0) {
			peers_format((struct sockaddr *)&ss, len, addr,
			    sizeof(addr));
			log_warn("%s: closed a connection from %s: not in "
			    "FCGI_WEB_SERVER_ADDRS (logged once)", __func__,
			    addr);
		}
		return -1;
	}
	if (!w->tcp)
		deadlines(w, fd);
	t->req.ipcFd = fd;
	/*
	 * FCGX_Accept_r first finishes the previous request, closing the
	 * connection unless it is kept: keep it, until BEGIN_REQUEST says.
	 */
	t->req.keepConnection = 1;
	return 0;
}

/*
 * The client stopped taking the answer (the write deadline passed, or it
 * went away): close now.  libfcgi's finish would try to write the end of
 * the request, waiting out the deadline once more.
 */
static void
drop(struct request_thread *t)
{
	(void)close(t->req.ipcFd);
	t->req.ipcFd = -1;
	t->until = 0;
	t->req.keepConnection = 0;
}

/*
 * Reads the request's body through libfcgi (no route takes one).  intake
 * saw all of it in the socket, so this never waits.  Left unread, it
 * would be read as the next request of a kept connection, and closing a
 * TCP connection with unread input resets it, which can destroy the
 * answer before the web server has read it.
 */
static void
discard_input(struct request_thread *t)
{
	char	buf[4096];

	while (FCGX_GetStr(buf, sizeof(buf), t->req.in) > 0)
		;
}

static void *
request_main(void *arg)
{
	struct request_thread	*t = arg;
	struct request		 r;
	sigset_t		 wake;
	long			 io_timeout_ms = t->w->cfg->io_timeout_ms;
	long long		 left;

	sigemptyset(&wake);
	sigaddset(&wake, WAKE_SIGNAL);
	(void)pthread_sigmask(SIG_UNBLOCK, &wake, NULL);

	for (;;) {
		if (set_waiting(t, 1) == -1)
			break;
		if (t->req.ipcFd < 0) {
			if (accept_one(t) == -1) {
				(void)set_waiting(t, 0);
				continue;
			}
			/* The request is due within the deadline of this. */
			t->until = clock_mono_ms() + io_timeout_ms;
		} else {
			/*
			 * A kept connection (FCGI_KEEP_CONN, nginx) between
			 * requests, or a new one that has sent nothing yet:
			 * waiting (a stop may wake it) until a request begins.
			 */
			left = t->until != 0 ? t->until - clock_mono_ms() :
			    io_timeout_ms;
			switch (left > 0 ? intake_idle(t->req.ipcFd, left) :
			    0) {
			case -1:
				(void)set_waiting(t, 0);
				continue;
			case 0:
				(void)set_waiting(t, 0);
				drop(t);
				continue;
			}
			if (t->until == 0)
				t->until = clock_mono_ms() + io_timeout_ms;
		}
		/* A request has begun: it is served, even through a stop. */
		(void)set_waiting(t, 0);
		switch (intake_prelude(t->req.ipcFd, t->until, t->peek,
		    t->epfd)) {
		case INTAKE_READY:
			break;
		case INTAKE_EMPTY:
			continue;	/* nothing yet: wait as above */
		default:
			drop(t);
			continue;
		}
		t->until = 0;	/* a kept connection's next: from its first byte */
		/*
		 * detached: libfcgi closes the connection at once, without
		 * its lingering close (shutdown, then up to 2 s of reading
		 * for the client's EOF), which would let a client that keeps
		 * its end open hold the thread.  Nothing is lost by it: the
		 * request, its body included, has been read by then.
		 * < 0: the connection failed or closed.
		 */
		t->req.detached = 1;
		if (FCGX_Accept_r(&t->req) < 0)
			continue;
		r.envp = t->req.envp;
		r.out.fcgx = t->req.out;
		r.out.fd = -1;
		serve_request(&t->s, &r);
		if (FCGX_GetError(t->req.out) != 0)
			drop(t);
		else
			discard_input(t);
		FCGX_Finish_r(&t->req);
	}
	/*
	 * A connection still held has no request in it: closed at once, not
	 * by libfcgi, which would wait up to 2 s for the client's EOF first.
	 */
	if (t->req.ipcFd >= 0)
		drop(t);
	FCGX_Free(&t->req, 1);
	return NULL;
}

/* Starts the request threads; the number started. */
static int
start_threads(struct worker *w)
{
	const struct config	*cfg = w->cfg;
	struct request_thread	*t;
	int			 i;

	for (i = 0; i < w->nthreads; i++) {
		t = &w->threads[i];
		t->w = w;
		if (pthread_mutex_init(&t->mu, NULL) != 0)
			break;
		t->epfd = -1;
		if ((t->peek = malloc(PRELUDE_MAX)) == NULL ||
		    (t->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
		    (t->cache = cache_new(&cfg->redis,
		    cfg->redis_timeout_ms)) == NULL ||
		    (t->upstream = upstream_new(cfg->upstream_url,
		    cfg->upstream_timeout_ms,
		    (size_t)cfg->upstream_max_bytes, w->sh.fill.pool)) == NULL ||
		    FCGX_InitRequest(&t->req, -1, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
			break;
		serve_init(&t->s, &w->sh, t->cache, t->upstream);
		if (pthread_create(&t->thread, NULL, request_main, t) != 0)
			break;
		t->started = 1;
	}
	return i;
}

/*
 * Stops the request threads: wakes the waiting ones until every thread
 * is gone or the grace is over.  1 if all were joined.
 */
static int
stop_threads(struct worker *w, long long grace_ms)
{
	struct request_thread	*t;
	struct timespec		 until;
	long long		 deadline = clock_mono_ms() + grace_ms;
	int			 i, left;

	atomic_store(&w->stopping, 1);
	do {
		left = 0;
		for (i = 0; i < w->nthreads; i++) {
			t = &w->threads[i];
			if (!t->started || t->joined)
				continue;
			pthread_mutex_lock(&t->mu);
			if (t->waiting)
				(void)pthread_kill(t->thread, WAKE_SIGNAL);
			pthread_mutex_unlock(&t->mu);
			until = clock_after(CLOCK_REALTIME, 5);
			if (pthread_timedjoin_np(t->thread, NULL, &until) == 0)
				t->joined = 1;
			else
				left++;
		}
	} while (left > 0 && clock_mono_ms() < deadline);
	if (left > 0)
		log_warn("%s: %d threads still busy (a request, or one "
		    "still arriving) after %lld ms; leaving them", __func__,
		    left, grace_ms);
	return left == 0;
}

static void
free_threads(struct worker *w)
{
	int	i;

	for (i = 0; i < w->nthreads; i++) {
		upstream_free(w->threads[i].upstream);
		cache_free(w->threads[i].cache);
		free(w->threads[i].peek);
		if (w->threads[i].w != NULL && w->threads[i].epfd != -1)
			(void)close(w->threads[i].epfd);
		if (w->threads[i].w != NULL)
			pthread_mutex_destroy(&w->threads[i].mu);
	}
	free(w->threads);
	w->threads = NULL;
}

/* Is fd a TCP socket (not a unix one)? */
static int
is_tcp(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
}

void
worker_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGHUP);
	sigaddset(set, WAKE_SIGNAL);
}

int
worker_run(const struct config *cfg, int listen_fd, const struct peers *peers)
{
	struct worker		*w = &the_worker;
	struct sigaction	 sa;
	struct timespec		 tick = { 1, 0 };
	sigset_t		 ours, stop;
	int			 sig, started, rc = EXIT_FAILURE, clean = 1;

	/* Every thread starts with these blocked; see request_main. */
	worker_signals(&ours);
	(void)pthread_sigmask(SIG_BLOCK, &ours, NULL);
	if (FCGX_Init() != 0) {
		log_error("%s: FCGX_Init failed", __func__);
		return EXIT_FAILURE;
	}
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_wake;	/* no SA_RESTART: accept returns */
	(void)sigaction(WAKE_SIGNAL, &sa, NULL);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGUSR1);

	if (cfg->metrics_file[0] != '\0' &&
	    metrics_open(cfg->metrics_file) == -1)
		log_warn("%s: METRICS_FILE: cannot map it; counting per process",
		    __func__);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("%s: curl_global_init failed", __func__);
		return EXIT_FAILURE;
	}
	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	w->listen_fd = listen_fd;
	w->tcp = is_tcp(listen_fd);
	if (w->tcp)
		deadlines(w, listen_fd);
	w->peers = peers;
	w->nthreads = (int)cfg->threads;
	w->sh.cfg = cfg;
	if (fill_shared_init(&w->sh.fill, cfg) == -1 ||
	    (w->threads = calloc((size_t)w->nthreads,
	    sizeof(*w->threads))) == NULL) {
		log_error("%s: out of memory", __func__);
		goto done;
	}
	/* The in-process cache is on only with its invalidation channel. */
	if (cfg->local_cache_bytes > 0 &&
	    ((w->sh.local = local_new((size_t)cfg->local_cache_bytes)) ==
	    NULL || (w->sh.track = track_start(&cfg->redis,
	    cfg->redis_timeout_ms, w->sh.local)) == NULL)) {
		log_warn("%s: in-process cache off: cannot set it up",
		    __func__);
		local_free(w->sh.local);
		w->sh.local = NULL;
	}
	if ((w->sh.background = background_start(cfg, &w->sh.fill,
	    (int)cfg->background_threads)) == NULL) {
		log_error("%s: cannot start the background threads", __func__);
		goto done;
	}
	if ((started = start_threads(w)) < w->nthreads) {
		log_error("%s: started %d of %d request threads", __func__,
		    started, w->nthreads);
		(void)stop_threads(w, 1000);
		goto done;
	}
	log_info("%s: serving with %d threads, cache ttl %lds", __func__,
	    w->nthreads, cfg->cache_ttl);

	for (;;) {
		sig = sigtimedwait(&stop, NULL, &tick);
		log_flush();
		if (sig == SIGTERM || sig == SIGINT || sig == SIGUSR1)
			break;
	}
	log_info("%s: stopping", __func__);
	/* Past the grace, an interrupted request would be over anyway. */
	clean = stop_threads(w, cfg->upstream_timeout_ms + 3000);
	rc = EXIT_SUCCESS;
done:
	log_flush();
	if (!clean || !background_stop(w->sh.background))
		return rc;	/* threads still run: free nothing under them */
	track_stop(w->sh.track);
	local_free(w->sh.local);
	free_threads(w);
	fill_shared_destroy(&w->sh.fill);
	curl_global_cleanup();
	return rc;
}

int
worker_cgi(const struct config *cfg)
{
	extern char		**environ;
	struct serve_shared	  sh;
	struct serve		  s;
	struct request		  r = { environ, { NULL, 1 } };
	struct cache		 *cache = NULL;
	struct upstream		 *upstream = NULL;
	int			  rc = EXIT_FAILURE;

	/* One request per process: no in-process cache, no threads. */
	memset(&sh, 0, sizeof(sh));
	sh.cfg = cfg;
	if (cfg->metrics_file[0] != '\0')
		(void)metrics_open(cfg->metrics_file);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return EXIT_FAILURE;
	if (fill_shared_init(&sh.fill, cfg) == 0 &&
	    (sh.background = background_start(cfg, &sh.fill, 0)) != NULL &&
	    (cache = cache_new(&cfg->redis, cfg->redis_timeout_ms)) != NULL &&
	    (upstream = upstream_new(cfg->upstream_url,
	    cfg->upstream_timeout_ms, (size_t)cfg->upstream_max_bytes,
	    sh.fill.pool)) != NULL) {
		serve_init(&s, &sh, cache, upstream);
		serve_request(&s, &r);
		log_flush();
		(void)close(1);		/* the answer is complete */
		background_drain(sh.background, &s.fill);
		rc = EXIT_SUCCESS;
	} else
		log_error("%s: cannot set up redis or libcurl", __func__);
	(void)background_stop(sh.background);	/* no threads here */
	upstream_free(upstream);
	cache_free(cache);
	fill_shared_destroy(&sh.fill);
	curl_global_cleanup();
	return rc;
}
