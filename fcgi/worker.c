/*
 * worker.c: one responder process's life.  Sets up its Redis connection,
 * libcurl handle and in-process cache, then answers FastCGI requests on a
 * listening socket, one at a time, until it is asked to stop (SIGTERM from
 * lighttpd or from the daemon's parent): the request in hand is finished
 * first.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <fcgiapp.h>

#include "cache.h"
#include "local.h"
#include "log.h"
#include "metrics.h"
#include "serve.h"
#include "track.h"
#include "upstream.h"
#include "worker.h"

/*
 * Stopping.  SIGTERM (lighttpd's), SIGINT and SIGUSR1 are blocked while a
 * request is handled, so that its reads and writes are never cut short by
 * EINTR; they arrive between requests, where the handler's lack of
 * SA_RESTART makes a blocked accept(2) return.  A signal landing between
 * the loop's check and accept(2) would leave the process waiting for a
 * connection that never comes: the alarm ends it then.
 */
static volatile sig_atomic_t	stopping;
static unsigned int		stop_grace = 2;	/* seconds */
static sigset_t			stop_signals;

static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
	FCGX_ShutdownPending();
	(void)alarm(stop_grace);
}

/* Installed after FCGX_Init so that libfcgi's defaults do not win. */
static void
signals(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_stop;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGUSR1);
}

int
worker_run(const struct config *cfg, int listen_fd)
{
	struct serve	 s;
	struct cache	*cache = NULL;
	struct upstream	*upstream = NULL;
	struct local	*local = NULL;
	struct track	*track = NULL;
	FCGX_Request	 req;
	int		 rc = EXIT_FAILURE;

	if (FCGX_Init() != 0) {
		log_error("%s: FCGX_Init failed", __func__);
		return EXIT_FAILURE;
	}
	signals();
	if (cfg->metrics_file[0] != '\0' &&
	    metrics_open(cfg->metrics_file) == -1)
		log_warn("%s: METRICS_FILE: cannot map it; counting per process",
		    __func__);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("%s: curl_global_init failed", __func__);
		return EXIT_FAILURE;
	}
	if ((cache = cache_new(&cfg->redis, cfg->redis_timeout_ms)) == NULL ||
	    (upstream = upstream_new(cfg->upstream_url,
	    cfg->upstream_timeout_ms, (size_t)cfg->upstream_max_bytes)) == NULL) {
		log_error("%s: cannot set up redis or libcurl", __func__);
		goto done;
	}
	/* The in-process cache is on only with its invalidation channel. */
	if (cfg->local_cache_bytes > 0 &&
	    ((local = local_new((size_t)cfg->local_cache_bytes)) == NULL ||
	    (track = track_start(&cfg->redis, cfg->redis_timeout_ms,
	    local)) == NULL))
		log_warn("%s: in-process cache off: cannot set it up",
		    __func__);
	serve_init(&s, cfg, cache, upstream, track != NULL ? local : NULL,
	    track);
	if (FCGX_InitRequest(&req, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_error("%s: FCGX_InitRequest failed", __func__);
		goto done;
	}
	log_info("%s: serving, cache ttl %lds", __func__, cfg->cache_ttl);

	/* Past the grace, an interrupted request would be over anyway. */
	stop_grace = (unsigned int)(cfg->upstream_timeout_ms / 1000) + 3;
	while (!stopping && FCGX_Accept_r(&req) >= 0) {
		struct request	r = { req.envp, { req.out, -1 } };

		(void)sigprocmask(SIG_BLOCK, &stop_signals, NULL);
		serve_request(&s, &r);
		FCGX_Finish_r(&req);
		serve_after(&s);
		(void)sigprocmask(SIG_UNBLOCK, &stop_signals, NULL);
	}
	FCGX_Free(&req, 1);
	log_info("%s: stopping", __func__);
	rc = EXIT_SUCCESS;
done:
	track_stop(track);
	local_free(local);
	upstream_free(upstream);
	cache_free(cache);
	curl_global_cleanup();
	return rc;
}

int
worker_cgi(const struct config *cfg)
{
	extern char	**environ;
	struct serve	  s;
	struct request	  r = { environ, { NULL, 1 } };
	struct cache	 *cache = NULL;
	struct upstream	 *upstream = NULL;
	int		  rc = EXIT_FAILURE;

	/* One request per process: no in-process cache, no channel. */
	if (cfg->metrics_file[0] != '\0')
		(void)metrics_open(cfg->metrics_file);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return EXIT_FAILURE;
	if ((cache = cache_new(&cfg->redis, cfg->redis_timeout_ms)) != NULL &&
	    (upstream = upstream_new(cfg->upstream_url,
	    cfg->upstream_timeout_ms, (size_t)cfg->upstream_max_bytes)) != NULL) {
		serve_init(&s, cfg, cache, upstream, NULL, NULL);
		serve_request(&s, &r);
		(void)close(1);		/* the answer is complete */
		serve_after(&s);
		rc = EXIT_SUCCESS;
	} else
		log_error("%s: cannot set up redis or libcurl", __func__);
	upstream_free(upstream);
	cache_free(cache);
	curl_global_cleanup();
	return rc;
}
