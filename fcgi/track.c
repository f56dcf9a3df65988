/*
 * track.c: the subscriber thread.  It reads with poll(2) and hiredis's
 * reader, never with a socket timeout (after which a hiredis context is
 * dead), so that it can wake up every POLL_MS to see whether it must stop.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "connect.h"
#include "log.h"
#include "track.h"

#define POLL_MS		200
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	2000
#define CHANNEL		"__redis__:invalidate"

struct track {
	struct redis_target	 target;
	struct timeval		 timeout;
	struct local		*local;
	pthread_t		 thread;
	atomic_int		 stop;
	atomic_llong		 id;
	atomic_ulong		 epoch;
};

static void
nap(long ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Connects (as the cache does), learns its id and subscribes; or NULL. */
static redisContext *
subscribe(struct track *t, long long *id)
{
	redisContext	*c;
	redisReply	*r;
	char		 why[192];

	if ((c = connect_redis(&t->target, t->timeout, 0, why,
	    sizeof(why))) == NULL) {
		log_debug("%s: %s", __func__, why);
		return NULL;
	}
	if ((r = redisCommand(c, "CLIENT ID")) == NULL ||
	    r->type != REDIS_REPLY_INTEGER)
		goto fail;
	*id = r->integer;
	freeReplyObject(r);
	if ((r = redisCommand(c, "SUBSCRIBE " CHANNEL)) == NULL ||
	    r->type != REDIS_REPLY_ARRAY)
		goto fail;
	freeReplyObject(r);
	return c;
fail:
	if (r != NULL)
		freeReplyObject(r);
	log_debug("%s: %s", __func__, c->errstr[0] ? c->errstr :
	    "unexpected reply");
	redisFree(c);
	return NULL;
}

/* One pushed message: ["message", channel, [key, ...] or nil]. */
static void
handle(struct track *t, const redisReply *r)
{
	const redisReply	*keys;
	size_t			 i;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "message") != 0)
		return;
	keys = r->element[2];
	if (keys->type == REDIS_REPLY_NIL) {
		local_invalidate(t->local, NULL, 0);	/* FLUSHALL */
		return;
	}
	if (keys->type != REDIS_REPLY_ARRAY) {
		local_invalidate(t->local, NULL, 0);	/* unknown: be safe */
		return;
	}
	for (i = 0; i < keys->elements; i++)
		if (keys->element[i]->type == REDIS_REPLY_STRING)
			local_invalidate(t->local, keys->element[i]->str,
			    keys->element[i]->len);
}

/* Reads until the connection fails or stop is asked. */
static void
listen_on(struct track *t, redisContext *c)
{
	struct pollfd	 pfd = { c->fd, POLLIN, 0 };
	void		*reply;

	while (!atomic_load(&t->stop)) {
		pfd.revents = 0;
		if (poll(&pfd, 1, POLL_MS) == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (pfd.revents == 0)
			continue;
		if (redisBufferRead(c) != REDIS_OK)
			return;
		for (;;) {
			reply = NULL;
			if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
				return;
			if (reply == NULL)
				break;
			handle(t, reply);
			freeReplyObject(reply);
		}
	}
}

static void *
run(void *arg)
{
	struct track	*t = arg;
	redisContext	*c;
	long long	 id;
	long		 backoff = BACKOFF_MIN_MS;
	int		 logged = 0;

	while (!atomic_load(&t->stop)) {
		if ((c = subscribe(t, &id)) == NULL) {
			if (!logged)
				log_warn("%s: invalidation channel down; "
				    "in-process cache off", __func__);
			logged = 1;
			nap(backoff);
			backoff = backoff * 2 > BACKOFF_MAX_MS ?
			    BACKOFF_MAX_MS : backoff * 2;
			continue;
		}
		if (logged)
			log_info("%s: invalidation channel back", __func__);
		logged = 0;
		backoff = BACKOFF_MIN_MS;
		atomic_store(&t->id, id);
		atomic_fetch_add(&t->epoch, 1);
		/* Request threads keep only what tracked connections read. */
		local_enable(t->local);
		listen_on(t, c);
		/* Lost: nothing cached may be trusted any more. */
		local_disable(t->local);
		atomic_store(&t->id, 0);
		atomic_fetch_add(&t->epoch, 1);
		if (!atomic_load(&t->stop)) {
			log_warn("%s: invalidation channel lost: %s", __func__,
			    c->errstr[0] ? c->errstr : "closed");
			logged = 1;
		}
		redisFree(c);
	}
	return NULL;
}

struct track *
track_start(const struct redis_target *target, long timeout_ms,
    struct local *local)
{
	struct track	*t;
	sigset_t	 all, old;
	int		 rc;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->target = *target;
	t->timeout.tv_sec = timeout_ms / 1000;
	t->timeout.tv_usec = (timeout_ms % 1000) * 1000;
	t->local = local;
	atomic_init(&t->stop, 0);
	atomic_init(&t->id, 0);
	atomic_init(&t->epoch, 0);
	/* Signals (SIGTERM above all) are the main thread's to take. */
	sigfillset(&all);
	(void)pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&t->thread, NULL, run, t);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		free(t);
		return NULL;
	}
	return t;
}

void
track_stop(struct track *t)
{
	if (t == NULL)
		return;
	atomic_store(&t->stop, 1);
	(void)pthread_join(t->thread, NULL);
	free(t);
}

long long
track_id(struct track *t, unsigned long *epoch)
{
	*epoch = atomic_load(&t->epoch);
	return atomic_load(&t->id);
}
