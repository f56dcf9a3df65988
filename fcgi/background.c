/*
 * background.c: the pool threads and the two kinds of job they run.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "background.h"
#include "cache.h"
#include "gzip.h"
#include "log.h"
#include "queue.h"
#include "upstream.h"

enum job_kind { JOB_REFRESH, JOB_COMPRESS };

struct pool_thread {
	struct background	*bg;
	pthread_t		 thread;
	int			 started;
	struct cache		*cache;
	struct upstream		*upstream;
	struct fill		 fill;
};

struct background {
	const struct config	*cfg;
	struct fill_shared	*shared;
	struct queue		*queue;
	int			 nthreads;
	struct pool_thread	*threads;
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
	if (out.stored && out.e.status == 200 && out.e.gz == NULL &&
	    out.e.body_len >= GZIP_MIN_BYTES)
		fill_compress(f, &k, out.mem, out.mem_len);
	fill_out_free(&out);
}

static void *
pool_main(void *arg)
{
	struct pool_thread	*pt = arg;
	struct queue_job	 job;

	while (queue_pop(pt->bg->queue, &job) == 0) {
		run_job(pt->bg, &pt->fill, &job);
		free(job.data);
		queue_done(pt->bg->queue, &job);
	}
	return NULL;
}

void
background_stop(struct background *bg)
{
	int	i;

	if (bg == NULL)
		return;
	queue_close(bg->queue);
	for (i = 0; i < bg->nthreads; i++) {
		if (bg->threads[i].started)
			(void)pthread_join(bg->threads[i].thread, NULL);
		upstream_free(bg->threads[i].upstream);
		cache_free(bg->threads[i].cache);
	}
	queue_free(bg->queue);
	free(bg->threads);
	free(bg);
}

struct background *
background_start(const struct config *cfg, struct fill_shared *shared,
    int nthreads)
{
	struct background	*bg;
	struct pool_thread	*pt;
	sigset_t		 all, old;
	int			 i, rc = 0;

	if ((bg = calloc(1, sizeof(*bg))) == NULL)
		return NULL;
	bg->cfg = cfg;
	bg->shared = shared;
	bg->nthreads = nthreads;
	if ((bg->queue = queue_new(BACKGROUND_QUEUE_MAX)) == NULL ||
	    (nthreads > 0 && (bg->threads = calloc((size_t)nthreads,
	    sizeof(*bg->threads))) == NULL)) {
		queue_free(bg->queue);
		free(bg);
		return NULL;
	}
	/* Signals are the main thread's to take. */
	sigfillset(&all);
	(void)pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < nthreads && rc == 0; i++) {
		pt = &bg->threads[i];
		pt->bg = bg;
		if ((pt->cache = cache_new(&cfg->redis,
		    cfg->redis_timeout_ms)) == NULL ||
		    (pt->upstream = upstream_new(cfg->upstream_url,
		    cfg->upstream_timeout_ms,
		    (size_t)cfg->upstream_max_bytes, shared->pool)) == NULL) {
			rc = -1;
			break;
		}
		fill_init(&pt->fill, cfg, shared, pt->cache, pt->upstream);
		if ((rc = pthread_create(&pt->thread, NULL, pool_main,
		    pt)) == 0)
			pt->started = 1;
	}
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
	return queue_push(bg->queue, JOB_REFRESH, k->path, NULL, 0);
}

int
background_compress(struct background *bg, const struct fill_keys *k,
    char *stored, size_t len)
{
	if (bg == NULL) {
		free(stored);
		return -1;
	}
	return queue_push(bg->queue, JOB_COMPRESS, k->path, stored, len);
}

void
background_drain(struct background *bg, struct fill *f)
{
	struct queue_job	job;

	if (bg == NULL)
		return;
	while (queue_take(bg->queue, &job) == 0) {
		run_job(bg, f, &job);
		free(job.data);
		queue_done(bg->queue, &job);
	}
}
