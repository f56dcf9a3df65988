/*
 * cache.c: the Redis side, on hiredis's blocking API with timeouts.
 *
 * Commands go out as argv with explicit lengths: keys and values never
 * pass through a format string.  One hiredis reply is kept (the last hit)
 * so that a hit's body is sent straight from hiredis's buffer, uncopied.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "cache.h"
#include "connect.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	2000

struct cache {
	struct redis_target	 target;
	struct timeval		 timeout;
	redisContext		*ctx;
	redisReply		*hit;		/* backs the last cache_get */
	unsigned long		 generation;	/* connections made */
};

/*
 * The back-off is the process's, not a connection's: once Redis failed,
 * no thread of this process connects again before retry_at.
 */
static atomic_llong	retry_at;	/* mono ms; no connect before */
static atomic_long	backoff = BACKOFF_MIN_MS;	/* next wait */
static atomic_int	down_logged;	/* "redis down" said once */

/* Connections of this process closed after they were made (any thread). */
static atomic_ulong	losses;

unsigned long
cache_losses(void)
{
	return atomic_load_explicit(&losses, memory_order_acquire);
}

/* Closes an established connection: its CLIENT TRACKING state is gone. */
static void
lose(struct cache *c)
{
	redisFree(c->ctx);
	c->ctx = NULL;
	atomic_fetch_add_explicit(&losses, 1, memory_order_acq_rel);
}

struct cache *
cache_new(const struct redis_target *target, long timeout_ms)
{
	struct cache	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->target = *target;
	c->timeout.tv_sec = timeout_ms / 1000;
	c->timeout.tv_usec = (timeout_ms % 1000) * 1000;
	return c;
}

static void
release_hit(struct cache *c)
{
	if (c->hit != NULL) {
		freeReplyObject(c->hit);
		c->hit = NULL;
	}
}

void
cache_release(struct cache *c)
{
	release_hit(c);
}

void
cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	release_hit(c);
	if (c->ctx != NULL)
		redisFree(c->ctx);
	free(c);
}

/* Closes the connection and schedules the next connect attempt. */
static void
drop(struct cache *c, const char *what)
{
	long	wait;

	metrics_redis_error();
	if (c->ctx != NULL) {
		if (!atomic_load(&down_logged))
			log_warn("%s: redis %s failed: %s", __func__, what,
			    c->ctx->errstr[0] ? c->ctx->errstr : "no reply");
		lose(c);
	}
	atomic_store(&down_logged, 1);
	wait = atomic_load(&backoff);
	atomic_store(&retry_at, clock_mono_ms() + wait);
	atomic_store(&backoff, wait * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
	    wait * 2);
}

/*
 * Returns 0 with c->ctx usable, or -1 (down, or still backing off; with
 * urgent, one connect is tried even then).
 */
static int
ensure(struct cache *c, int urgent)
{
	char	why[192];

	if (c->ctx != NULL)
		return 0;
	if (!urgent && clock_mono_ms() < atomic_load(&retry_at))
		return -1;
	log_debug("%s: connecting to redis", __func__);
	if ((c->ctx = connect_redis(&c->target, c->timeout, 1, why,
	    sizeof(why))) == NULL) {
		if (!atomic_load(&down_logged))
			log_warn("%s: redis connect failed: %s", __func__, why);
		drop(c, "connect");
		return -1;
	}
	if (!c->target.is_unix)
		(void)redisEnableKeepAlive(c->ctx);
	c->generation++;
	return 0;
}

/*
 * Redis answered: only now is it up again.  (A connect alone proves
 * little: a frozen Redis still accepts connections into its backlog.)
 */
static void
answered(void)
{
	/* Loads first: no shared write on every command. */
	if (atomic_load_explicit(&down_logged, memory_order_relaxed) &&
	    atomic_exchange(&down_logged, 0))
		log_info("%s: redis answers again", __func__);
	if (atomic_load_explicit(&backoff, memory_order_relaxed) !=
	    BACKOFF_MIN_MS)
		atomic_store(&backoff, BACKOFF_MIN_MS);
}

/*
 * Did the command fail because the peer had closed the connection (EOF on
 * TCP, EPIPE or ECONNRESET on a unix socket), as after a Redis restart?
 * Read right after the failed call: hiredis makes no system call between
 * the failing read or write and its return.
 */
static int
closed(const redisContext *ctx)
{
	return ctx->err == REDIS_ERR_EOF || (ctx->err == REDIS_ERR_IO &&
	    (errno == EPIPE || errno == ECONNRESET));
}

/*
 * Runs one command given as argv.  A connection that Redis closed while it
 * sat idle (a restart) is remade once at once, so a restart that is already
 * over costs no request a BYPASS; a timeout is not retried, it would only
 * double the wait.  urgent: see ensure().  Returns the reply (caller
 * frees) or NULL: down.
 */
static redisReply *
send_command(struct cache *c, int urgent, int argc, const char **argv,
    const size_t *argvlen)
{
	redisReply	*r;
	int		 attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if (ensure(c, urgent) == -1)
			return NULL;
		r = redisCommandArgv(c->ctx, argc, argv, argvlen);
		if (r != NULL && r->type == REDIS_REPLY_ERROR &&
		    strncmp(r->str, "READONLY", 8) == 0) {
			/* A replica now (a failover): find the primary. */
			log_warn("%s: redis is read-only now", __func__);
			lose(c);
			atomic_store(&retry_at, 0);
			return r;
		}
		if (r != NULL) {
			answered();
			return r;
		}
		if (attempt == 0 && closed(c->ctx)) {
			lose(c);
			continue;
		}
		drop(c, argv[0]);
		return NULL;
	}
	return NULL;
}

static redisReply *
command(struct cache *c, int argc, const char **argv, const size_t *argvlen)
{
	return send_command(c, 0, argc, argv, argvlen);
}

/*
 * The one way a reply Redis should not have sent is handled: counted,
 * logged, freed.  Returns ERR_CACHE_REPLY.
 */
static enum err
odd_reply(redisReply *r, const char *what)
{
	metrics_redis_error();
	if (r->type == REDIS_REPLY_ERROR)
		log_warn("%s: redis %s: %.200s", __func__, what, r->str);
	else
		log_warn("%s: redis %s: unexpected reply type %d", __func__,
		    what, r->type);
	freeReplyObject(r);
	return ERR_CACHE_REPLY;
}

/* The reply check shared by commands whose answer must be +OK. */
static enum err
status_ok(redisReply *r, const char *what)
{
	if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "OK") != 0)
		return odd_reply(r, what);
	freeReplyObject(r);
	return ERR_OK;
}

enum err
cache_get(struct cache *c, const char *key, size_t keylen, const char **val,
    size_t *len)
{
	const char	*argv[] = { "GET", key };
	size_t		 argvlen[] = { 3, keylen };
	redisReply	*r;

	*val = NULL;
	*len = 0;
	release_hit(c);
	if ((r = command(c, 2, argv, argvlen)) == NULL)
		return ERR_CACHE_DOWN;
	switch (r->type) {
	case REDIS_REPLY_NIL:
		freeReplyObject(r);
		return ERR_OK;
	case REDIS_REPLY_STRING:
		c->hit = r;
		*val = r->str;
		*len = r->len;
		return ERR_OK;
	default:
		return odd_reply(r, "GET");
	}
}

/*
 * SET key val [NX] PX ttl_ms.  Returns the reply (the caller's), or NULL
 * with *err: ERR_CACHE_DOWN, or ERR_INTERNAL for a ttl that cannot be.
 */
static redisReply *
set_px(struct cache *c, const char *key, size_t keylen, const char *val,
    size_t len, long long ttl_ms, int nx, enum err *err)
{
	char		 ttlbuf[24];
	const char	*argv[] = { "SET", key, val, "PX", ttlbuf, "NX" };
	size_t		 argvlen[] = { 3, keylen, len, 2, 0, 2 };
	redisReply	*r;
	int		 n;

	release_hit(c);
	n = snprintf(ttlbuf, sizeof(ttlbuf), "%lld", ttl_ms);
	if (n < 0 || (size_t)n >= sizeof(ttlbuf) || ttl_ms <= 0) {
		*err = ERR_INTERNAL;
		return NULL;
	}
	argvlen[4] = (size_t)n;
	if ((r = command(c, nx ? 6 : 5, argv, argvlen)) == NULL)
		*err = ERR_CACHE_DOWN;
	return r;
}

#define STORE_SCRIPT \
	"if redis.call('get', KEYS[2]) ~= ARGV[1] then return 0 end " \
	"redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) " \
	"return 1"

enum err
cache_store(struct cache *c, const char *key, size_t keylen, const char *val,
    size_t len, long long ttl_ms, const char *lock, size_t locklen,
    const char *token, size_t tokenlen)
{
	char		 ttlbuf[24];
	const char	*argv[] = { "EVAL", STORE_SCRIPT, "2", key, lock, token,
			    val, ttlbuf };
	size_t		 argvlen[] = { 4, sizeof(STORE_SCRIPT) - 1, 1, keylen,
			    locklen, tokenlen, len, 0 };
	redisReply	*r;
	int		 n, stored;

	release_hit(c);
	n = snprintf(ttlbuf, sizeof(ttlbuf), "%lld", ttl_ms);
	if (n < 0 || (size_t)n >= sizeof(ttlbuf) || ttl_ms <= 0)
		return ERR_INTERNAL;
	argvlen[7] = (size_t)n;
	if ((r = command(c, 8, argv, argvlen)) == NULL)
		return ERR_CACHE_DOWN;
	if (r->type != REDIS_REPLY_INTEGER)
		return odd_reply(r, "EVAL (store)");
	stored = r->integer == 1;
	freeReplyObject(r);
	return stored ? ERR_OK : ERR_CACHE_LOCKED;
}

enum err
cache_mget(struct cache *c, size_t n, const char *const *keys,
    const size_t *keylens, const char **vals, size_t *lens)
{
	const char	*argv[8];
	size_t		 argvlen[8], i;
	redisReply	*r, *el;

	for (i = 0; i < n; i++) {
		vals[i] = NULL;
		lens[i] = 0;
	}
	release_hit(c);
	if (n == 0 || n >= sizeof(argv) / sizeof(argv[0]))
		return ERR_INTERNAL;
	argv[0] = "MGET";
	argvlen[0] = 4;
	for (i = 0; i < n; i++) {
		argv[i + 1] = keys[i];
		argvlen[i + 1] = keylens[i];
	}
	if ((r = command(c, (int)n + 1, argv, argvlen)) == NULL)
		return ERR_CACHE_DOWN;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != n)
		return odd_reply(r, "MGET");
	for (i = 0; i < n; i++) {
		el = r->element[i];
		if (el->type == REDIS_REPLY_STRING) {
			vals[i] = el->str;
			lens[i] = el->len;
		}
	}
	c->hit = r;
	return ERR_OK;
}

enum err
cache_lock(struct cache *c, const char *key, size_t keylen,
    const char *token, size_t tokenlen, long long ttl_ms)
{
	redisReply	*r;
	enum err	 err;

	if ((r = set_px(c, key, keylen, token, tokenlen, ttl_ms, 1,
	    &err)) == NULL)
		return err;
	if (r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		return ERR_CACHE_LOCKED;
	}
	return status_ok(r, "SET NX");
}

/*
 * Compare-and-delete: only the holder of the token releases the lock.
 * The note, if any, is written in the same step, so a waiter never sees
 * the lock gone without it.
 */
#define UNLOCK_SCRIPT \
	"local n = 0 " \
	"if redis.call('get', KEYS[1]) == ARGV[1] then " \
	"n = redis.call('del', KEYS[1]) end " \
	"if KEYS[2] then " \
	"redis.call('set', KEYS[2], ARGV[2], 'PX', ARGV[3]) end " \
	"return n"

enum err
cache_unlock(struct cache *c, const char *key, size_t keylen,
    const char *token, size_t tokenlen, const struct cache_note *note,
    int urgent)
{
	char		 ttlbuf[24];
	const char	*argv[] = { "EVAL", UNLOCK_SCRIPT, "1", key, NULL,
			    token, NULL, ttlbuf };
	size_t		 argvlen[] = { 4, sizeof(UNLOCK_SCRIPT) - 1, 1, keylen,
			    0, tokenlen, 0, 0 };
	redisReply	*r;
	int		 n, argc = 5;

	release_hit(c);
	if (note == NULL) {
		argv[4] = token;
		argvlen[4] = tokenlen;
	} else {
		n = snprintf(ttlbuf, sizeof(ttlbuf), "%lld", note->ttl_ms);
		if (n < 0 || (size_t)n >= sizeof(ttlbuf) || note->ttl_ms <= 0)
			return ERR_INTERNAL;
		argv[2] = "2";
		argv[4] = note->key;
		argvlen[4] = note->keylen;
		argv[6] = note->val;
		argvlen[6] = note->len;
		argvlen[7] = (size_t)n;
		argc = 8;
	}
	if ((r = send_command(c, urgent, argc, argv, argvlen)) == NULL)
		return ERR_CACHE_DOWN;
	if (r->type != REDIS_REPLY_INTEGER)
		return odd_reply(r, "EVAL (unlock)");
	freeReplyObject(r);
	return ERR_OK;
}

#define PURGE_SCRIPT \
	"local n = redis.call('del', KEYS[1]) " \
	"redis.call('del', KEYS[2]) " \
	"return n"

enum err
cache_purge(struct cache *c, const char *key, size_t keylen,
    const char *lock, size_t locklen, long long *removed)
{
	const char	*argv[] = { "EVAL", PURGE_SCRIPT, "2", key, lock };
	size_t		 argvlen[] = { 4, sizeof(PURGE_SCRIPT) - 1, 1, keylen,
			    locklen };
	redisReply	*r;

	*removed = 0;
	release_hit(c);
	if ((r = command(c, 5, argv, argvlen)) == NULL)
		return ERR_CACHE_DOWN;
	if (r->type != REDIS_REPLY_INTEGER)
		return odd_reply(r, "EVAL (purge)");
	*removed = r->integer;
	freeReplyObject(r);
	return ERR_OK;
}

unsigned long
cache_generation(const struct cache *c)
{
	return c->generation;
}

enum err
cache_track(struct cache *c, long long id)
{
	char		 idbuf[24];
	const char	*argv[] = { "CLIENT", "TRACKING", "on", "REDIRECT", idbuf };
	size_t		 argvlen[] = { 6, 8, 2, 8, 0 };
	redisReply	*r;
	int		 n;

	release_hit(c);
	n = snprintf(idbuf, sizeof(idbuf), "%lld", id);
	if (n < 0 || (size_t)n >= sizeof(idbuf))
		return ERR_INTERNAL;
	argvlen[4] = (size_t)n;
	if ((r = command(c, 5, argv, argvlen)) == NULL)
		return ERR_CACHE_DOWN;
	return status_ok(r, "CLIENT TRACKING");
}

#define REPLACE_SCRIPT \
	"if redis.call('get', KEYS[1]) == ARGV[1] then " \
	"return redis.call('set', KEYS[1], ARGV[2], 'KEEPTTL') " \
	"else return 0 end"

enum err
cache_replace(struct cache *c, const char *key, size_t keylen,
    const char *old, size_t oldlen, const char *val, size_t len)
{
	const char	*argv[] = { "EVAL", REPLACE_SCRIPT, "1", key, old, val };
	size_t		 argvlen[] = { 4, sizeof(REPLACE_SCRIPT) - 1, 1, keylen,
			    oldlen, len };
	redisReply	*r;

	release_hit(c);
	if ((r = command(c, 6, argv, argvlen)) == NULL)
		return ERR_CACHE_DOWN;
	if (r->type == REDIS_REPLY_ERROR)
		return odd_reply(r, "EVAL (replace)");
	freeReplyObject(r);
	return ERR_OK;
}

enum err
cache_ping(struct cache *c)
{
	const char	*argv[] = { "PING" };
	size_t		 argvlen[] = { 4 };
	redisReply	*r;
	enum err	 e = ERR_OK;

	release_hit(c);
	if ((r = command(c, 1, argv, argvlen)) == NULL)
		return ERR_CACHE_DOWN;
	if (r->type != REDIS_REPLY_STATUS)
		e = ERR_CACHE_REPLY;
	freeReplyObject(r);
	return e;
}
