/*
 * background.c: the pool threads and the two kinds of job they run.
 *
 * Refreshes and gzip forms wait in queues of their own.  Refreshes are
 * mostly waits for the upstream and run BACKGROUND_THREADS at a time.  A
 * gzip form is CPU alone (zopfli takes ~100 ms for the 18 KB list) and
 * nobody waits for it, so one thread makes them, scheduled SCHED_IDLE: it
 * runs on a core nothing else wants.  At normal priority it took a core
 * from the request threads for as long, and the hits of those moments
 * waited for it (the soak's slow phase: hits p99 16-26 ms during a
 * compression against 6-9 ms outside one).
 */
#define _GNU_SOURCE		/* SCHED_IDLE */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "background.h"
#include "cache.h"
#include "clock.h"
#include "gzip.h"
#include "log.h"
#include "queue.h"
#include "upstream.h"

enum job_kind { JOB_REFRESH, JOB_COMPRESS };

struct pool;

struct pool_thread {
	struct pool		*pool;
	pthread_t		 thread;
	int			 started;
	struct cache		*cache;
	struct upstream		*upstream;	/* NULL: compresses only */
	struct fill		 fill;
};

struct pool {
	struct background	*bg;
	struct queue		*queue;
	int			 nthreads;
	int			 idle;		/* SCHED_IDLE */
	struct pool_thread	*threads;
};

struct background {
	const struct config	*cfg;
	struct fill_shared	*shared;
	struct pool		 refresh, compress;
};

/* The refresh of a stale entry, or the gzip form of a stored one. */
static void
run_job(struct background *bg, struct fill *f, const struct queue_job *job)
{
	struct fill_keys	k;
	struct fill_out		out;

	if (fill_keys(&k, bg->cfg->cache_prefix, job->key) == -1)
		return;
	if (job->kind == JOB_COMPRESS) {
		fill_compress(f, &k, job->data, job->len);
		return;
	}
	/* If another request or front is filling it, leave it to that one. */
	fill_run(f, &k, FILL_TRY, &out);
	if (out.err != ERR_OK && out.err != ERR_NOT_FOUND &&
	    out.err != ERR_CACHE_LOCKED && out.err != ERR_CIRCUIT_OPEN)
		log_warn("%s: refreshing %s: %s", __func__, k.path,
		    err_str(out.err));
	if (out.stored)
		(void)background_compress(bg, &k, &out);
	fill_out_free(&out);
}

static void *
pool_main(void *arg)
{
	struct pool_thread	*pt = arg;
	struct pool		*p = pt->pool;
	struct sched_param	 sp;
	struct queue_job	 job;
	int			 rc;

	if (p->idle) {
		memset(&sp, 0, sizeof(sp));
		if ((rc = pthread_setschedparam(pthread_self(), SCHED_IDLE,
		    &sp)) != 0)
			log_info("%s: gzip thread at normal priority: %s",
			    __func__, strerror(rc));
	}
	while (queue_pop(p->queue, &job) == 0) {
		run_job(p->bg, &pt->fill, &job);
		free(job.data);
		queue_done(p->queue, &job);
	}
	return NULL;
}

/*
 * Closes the queue, joins the threads, frees them and the queue: 1.  With
 * wait_ms >= 0, a thread not done by then (the gzip thread, starved
 * mid-job on cores that are never idle) is left to the process's exit,
 * with nothing of the pool freed under it: 0.
 */
static int
pool_stop(struct pool *p, long wait_ms)
{
	struct timespec	until;
	int		i;

	if (p->queue != NULL)
		queue_close(p->queue);
	until = clock_after(CLOCK_REALTIME, wait_ms);
	for (i = 0; i < p->nthreads && p->threads != NULL; i++) {
		if (!p->threads[i].started)
			continue;
		if (wait_ms < 0)
			(void)pthread_join(p->threads[i].thread, NULL);
		else if (pthread_timedjoin_np(p->threads[i].thread, NULL,
		    &until) != 0) {
			log_warn("%s: a gzip form still in the making after "
			    "%ld ms; leaving it", __func__, wait_ms);
			return 0;
		}
		p->threads[i].started = 0;
	}
	for (i = 0; i < p->nthreads && p->threads != NULL; i++) {
		upstream_free(p->threads[i].upstream);
		cache_free(p->threads[i].cache);
	}
	queue_free(p->queue);
	free(p->threads);
	return 1;
}

/*
 * Sets up p with a queue of max jobs and nthreads threads (fetching ones
 * if fetch); signals blocked by the caller.  0, or -1 (p half set up:
 * pool_stop it).
 */
static int
pool_start(struct background *bg, struct pool *p, size_t max, int nthreads,
    int fetch)
{
	const struct config	*cfg = bg->cfg;
	struct pool_thread	*pt;
	int			 i;

	p->bg = bg;
	if ((p->queue = queue_new(max)) == NULL)
		return -1;
	if (nthreads == 0)
		return 0;
	if ((p->threads = calloc((size_t)nthreads, sizeof(*p->threads))) ==
	    NULL)
		return -1;
	p->nthreads = nthreads;
	for (i = 0; i < nthreads; i++) {
		pt = &p->threads[i];
		pt->pool = p;
		if ((pt->cache = cache_new(&cfg->redis,
		    cfg->redis_timeout_ms)) == NULL || (fetch &&
		    (pt->upstream = upstream_new(cfg->upstream_url,
		    cfg->upstream_timeout_ms, (size_t)cfg->upstream_max_bytes,
		    bg->shared->pool)) == NULL))
			return -1;
		fill_init(&pt->fill, cfg, bg->shared, pt->cache, pt->upstream);
		if (pthread_create(&pt->thread, NULL, pool_main, pt) != 0)
			return -1;
		pt->started = 1;
	}
	return 0;
}

int
background_stop(struct background *bg)
{
	if (bg == NULL)
		return 1;
	/* Refreshes first: a refresh that stores queues a gzip form. */
	(void)pool_stop(&bg->refresh, -1);
	if (!pool_stop(&bg->compress, BACKGROUND_GZIP_STOP_MS))
		return 0;
	free(bg);
	return 1;
}

struct background *
background_start(const struct config *cfg, struct fill_shared *shared,
    int nthreads)
{
	struct background	*bg;
	sigset_t		 all, old;
	int			 rc;

	if ((bg = calloc(1, sizeof(*bg))) == NULL)
		return NULL;
	bg->cfg = cfg;
	bg->shared = shared;
	bg->compress.idle = 1;
	/* Signals are the main thread's to take. */
	sigfillset(&all);
	(void)pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pool_start(bg, &bg->refresh, BACKGROUND_QUEUE_MAX, nthreads, 1);
	if (rc == 0)
		rc = pool_start(bg, &bg->compress, BACKGROUND_GZIP_MAX,
		    nthreads > 0 ? 1 : 0, 0);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		background_stop(bg);
		return NULL;
	}
	return bg;
}

int
background_refresh(struct background *bg, const struct fill_keys *k)
{
	if (bg == NULL)
		return -1;
	return queue_push(bg->refresh.queue, JOB_REFRESH, k->path, NULL, 0);
}

int
background_compress(struct background *bg, const struct fill_keys *k,
    struct fill_out *out)
{
	char	*stored = out->mem;

	if (bg == NULL || out->e.status != 200 || out->e.gz != NULL ||
	    out->e.body_len < GZIP_MIN_BYTES)
		return -1;
	out->mem = NULL;	/* the queue's now, queued or dropped */
	return queue_push(bg->compress.queue, JOB_COMPRESS, k->path, stored,
	    out->mem_len);
}

/* Runs every job waiting in p in the caller's thread, with f. */
static void
pool_drain(struct pool *p, struct fill *f)
{
	struct queue_job	job;

	while (queue_take(p->queue, &job) == 0) {
		run_job(p->bg, f, &job);
		free(job.data);
		queue_done(p->queue, &job);
	}
}

void
background_drain(struct background *bg, struct fill *f)
{
	if (bg == NULL)
		return;
	pool_drain(&bg->refresh, f);
	pool_drain(&bg->compress, f);
}
