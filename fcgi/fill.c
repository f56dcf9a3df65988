/*
 * fill.c: the fill lock protocol, the fetch behind it and the store.
 *
 * Every entry handed out lives in memory the fill_out owns: the encoded
 * entry is decoded in place, so the same bytes are stored and sent.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "body.h"
#include "clock.h"
#include "etag.h"
#include "fill.h"
#include "gzip.h"
#include "log.h"
#include "metrics.h"
#include "rnd.h"

/* How long a failed fetch's (or an unstored 404's) note stays. */
#define FAIL_MARK_MS	2000
/*
 * The lock outlives the longest fetch (UPSTREAM_TIMEOUT_MS) by this much,
 * for the store and the release; an owner killed mid-fetch holds it no
 * longer than that.
 */
#define LOCK_SLACK_MS	1000

/* A fill in progress in this process, and the threads waiting for it. */
struct flight {
	struct flight	*next;
	char		 path[32];
	pthread_cond_t	 cv;
	int		 done;
	int		 waiters;
	struct fill_out	 out;		/* the outcome, once done */
};

int
fill_shared_init(struct fill_shared *sh, const struct config *cfg)
{
	memset(sh, 0, sizeof(*sh));
	/*
	 * Blocks of FILL_MAP_BYTES and more (bodies, entries, the commands
	 * that store them) get their own mappings, given back when freed.
	 * Left to itself glibc raises this threshold to the largest block
	 * freed so far (up to 32 MB), and the size of free memory a thread's
	 * arena keeps to twice that: after one 8 MB body, every thread that
	 * touched one would hold on to about 16 MB.  Once per process, before
	 * its threads.
	 */
	(void)mallopt(M_MMAP_THRESHOLD, FILL_MAP_BYTES);
	breaker_init(&sh->breaker, (int)cfg->circuit_failures,
	    cfg->circuit_cooldown_ms);
	if ((sh->pool = upstream_pool_new()) == NULL)
		return -1;
	return pthread_mutex_init(&sh->mu, NULL) == 0 ? 0 : -1;
}

/* After every upstream handle of the pool is freed. */
void
fill_shared_destroy(struct fill_shared *sh)
{
	upstream_pool_free(sh->pool);
	sh->pool = NULL;
	pthread_mutex_destroy(&sh->mu);
}

int
fill_circuit_open(struct fill_shared *sh)
{
	int	open;

	pthread_mutex_lock(&sh->mu);
	open = breaker_open(&sh->breaker, clock_mono_ms());
	pthread_mutex_unlock(&sh->mu);
	return open;
}

void
fill_init(struct fill *f, const struct config *cfg, struct fill_shared *shared,
    struct cache *cache, struct upstream *upstream)
{
	unsigned char	r[8];
	size_t		i;

	memset(f, 0, sizeof(*f));
	f->cfg = cfg;
	f->shared = shared;
	f->cache = cache;
	f->upstream = upstream;
	/* Unique per thread; tokens only need to differ, not be secret. */
	rnd_bytes(r, sizeof(r));
	for (i = 0; i < sizeof(r); i++)
		(void)snprintf(f->token_base + 2 * i, 3, "%02x", r[i]);
}

static int
key(char *buf, size_t size, size_t *len, const char *prefix,
    const char *kind, const char *path)
{
	int	n = snprintf(buf, size, "%s%s%s", prefix, kind, path);

	if (n < 0 || (size_t)n >= size)
		return -1;
	*len = (size_t)n;
	return 0;
}

int
fill_keys(struct fill_keys *k, const char *prefix, const char *path)
{
	size_t	len;

	if (key(k->path, sizeof(k->path), &len, "", "", path) == -1 ||
	    key(k->entry, sizeof(k->entry), &k->entry_len, prefix, "",
	    path) == -1 ||
	    key(k->lock, sizeof(k->lock), &k->lock_len, prefix, "lock:",
	    path) == -1 ||
	    key(k->fail, sizeof(k->fail), &k->fail_len, prefix, "fail:",
	    path) == -1 ||
	    key(k->gone, sizeof(k->gone), &k->gone_len, prefix, "gone:",
	    path) == -1)
		return -1;
	return 0;
}

void
fill_out_free(struct fill_out *out)
{
	free(out->mem);
	memset(out, 0, sizeof(*out));
}

/* Encodes e into out->mem and points out->e into it. */
static enum err
own(const struct entry *e, struct fill_out *out, size_t *len)
{
	enum err	err;

	free(out->mem);
	out->mem = NULL;
	out->mem_len = 0;
	if ((err = entry_encode(e, &out->mem, len)) != ERR_OK)
		return err;
	out->mem_len = *len;
	return entry_decode(out->mem, *len, &out->e);
}

enum err
fill_keep(const struct entry *e, struct fill_out *out)
{
	size_t	len;

	return own(e, out, &len);
}

void
fill_compress(struct fill *f, const struct fill_keys *k, const char *stored,
    size_t len)
{
	struct entry	 e;
	char		*gz = NULL, *enc = NULL;
	size_t		 gzlen, enclen;
	enum err	 err;

	if (entry_decode(stored, len, &e) != ERR_OK || e.status != 200 ||
	    e.gz != NULL || gzip_compress(e.body, e.body_len, &gz,
	    &gzlen) != ERR_OK || gz == NULL)
		return;
	e.gz = gz;
	e.gz_len = gzlen;
	err = entry_encode(&e, &enc, &enclen);
	free(gz);	/* enc has it */
	if (err == ERR_OK)
		(void)cache_replace(f->cache, k->entry, k->entry_len, stored,
		    len, enc, enclen);
	free(enc);
}

/*
 * Asks the upstream (unless the circuit is open) and, given the lock's
 * token, stores the entry: a 200 for CACHE_TTL + STALE_TTL, a 404 for
 * NEGATIVE_TTL; not if the lock is no longer the token's, as a purge
 * removes it: what was fetched before a purge is not stored after it.
 */
static void
fetch(struct fill *f, const struct fill_keys *k, long timeout_ms,
    const char *token, size_t tokenlen, struct fill_out *out)
{
	const struct config	*cfg = f->cfg;
	struct upstream_answer	 a;
	struct entry		 e;
	char			 tag[ETAG_LEN + 1];
	char			*body = NULL;
	size_t			 bodylen = 0, len;
	long long		 keep_ms;
	enum err		 err;
	int			 allowed, cut;

	pthread_mutex_lock(&f->shared->mu);
	if (!(allowed = breaker_allow(&f->shared->breaker, clock_mono_ms())))
		out->retry_after = breaker_retry_after(&f->shared->breaker,
		    clock_mono_ms());
	pthread_mutex_unlock(&f->shared->mu);
	if (!allowed) {
		out->err = ERR_CIRCUIT_OPEN;
		return;
	}
	err = upstream_fetch(f->upstream, k->path, timeout_ms, &a);
	out->fwd_status = (int)a.status;
	out->upstream_ms += a.ms;
	metrics_upstream(err == ERR_OK || err == ERR_NOT_FOUND, a.ms);
	if (err == ERR_OK &&
	    (err = body_compact(a.body, a.len, body_shape_of(k->path), &body,
	    &bodylen)) != ERR_OK)
		log_warn("%s: %s: %s", __func__, k->path, err_str(err));
	upstream_done(f->upstream);
	/*
	 * A timeout within a budget cut short (a waiter's time left) says
	 * nothing of the upstream's health: neither the breaker nor /health
	 * counts it.
	 */
	cut = err == ERR_UPSTREAM_TIMEOUT && timeout_ms > 0 &&
	    timeout_ms < cfg->upstream_timeout_ms;
	pthread_mutex_lock(&f->shared->mu);
	if (cut)
		breaker_abstain(&f->shared->breaker, allowed == BREAKER_PROBE);
	else
		breaker_record(&f->shared->breaker, err == ERR_OK ||
		    err == ERR_NOT_FOUND, allowed == BREAKER_PROBE,
		    clock_mono_ms());
	pthread_mutex_unlock(&f->shared->mu);
	if (!cut)
		metrics_upstream_outcome(err == ERR_OK ||
		    err == ERR_NOT_FOUND, clock_wall_ms());
	if (err != ERR_OK && err != ERR_NOT_FOUND) {
		out->err = err;
		return;
	}

	memset(&e, 0, sizeof(e));
	e.stored_ms = clock_wall_ms();
	if (err == ERR_OK) {
		etag_of(body, bodylen, tag);
		e.ttl = cfg->cache_ttl;
		e.status = 200;
		e.etag = tag;
		e.etag_len = ETAG_LEN;
		e.body = body;
		e.body_len = bodylen;
		keep_ms = (cfg->cache_ttl + cfg->stale_ttl) * 1000LL;
	} else {
		e.ttl = cfg->negative_ttl;
		e.status = 404;
		keep_ms = cfg->negative_ttl * 1000LL;
	}
	out->err = own(&e, out, &len);
	free(body);
	if (out->err != ERR_OK) {
		fill_out_free(out);
		out->err = ERR_NOMEM;
		return;
	}
	out->err = err;
	/* A failed store still answers; the next request fills again. */
	if (token == NULL || keep_ms <= 0)
		return;
	switch (cache_store(f->cache, k->entry, k->entry_len, out->mem, len,
	    keep_ms, k->lock, k->lock_len, token, tokenlen)) {
	case ERR_OK:
		out->stored = out->cached = 1;
		break;
	case ERR_CACHE_LOCKED:
		log_info("%s: %s: purged while fetched: not stored", __func__,
		    k->path);
		break;
	default:
		break;
	}
}

/* The lock's TTL: the longest fetch, and the store and release after it. */
static long long
lock_ms(const struct fill *f)
{
	return f->cfg->upstream_timeout_ms + LOCK_SLACK_MS;
}

/* k's gone note for token: <prefix>gone:<path>:<token>.  -1: no fit. */
static int
gone_key(const struct fill_keys *k, const char *token, size_t tokenlen,
    char *buf, size_t size, size_t *len)
{
	int	n = snprintf(buf, size, "%s:%.*s", k->gone, (int)tokenlen,
		    token);

	if (n < 0 || (size_t)n >= size)
		return -1;
	*len = (size_t)n;
	return 0;
}

/*
 * After a lock command failed (taking or releasing), token may hold the
 * lock or come to hold it (Redis runs a command the client timed out on):
 * release it, and say so under the token for as long as such a lock could
 * stand, in case the release came first.  Best effort, and worth a connect
 * in the back-off: otherwise the key waits the lock out.
 */
static void
give_up(struct fill *f, const struct fill_keys *k, const char *token,
    size_t tokenlen)
{
	char			gone[FILL_KEY_MAX + FILL_TOKEN_MAX + 1];
	struct cache_note	note;

	memset(&note, 0, sizeof(note));
	if (gone_key(k, token, tokenlen, gone, sizeof(gone),
	    &note.keylen) == -1)
		return;
	note.key = gone;
	note.val = "1";
	note.len = 1;
	note.ttl_ms = 2 * lock_ms(f);
	if (cache_unlock(f->cache, k->lock, k->lock_len, token, tokenlen,
	    &note, 1) != ERR_OK)
		log_warn("%s: %s: the fill lock may stand until it expires",
		    __func__, k->path);
}

/*
 * Leads a fill holding the lock token; always releases it.  Waiters get
 * the entry from Redis; what is not stored (a failure, a 404 with
 * NEGATIVE_TTL=0 or whose store failed) they get from a note under the
 * owner's token, written with the release.
 */
static void
lead(struct fill *f, const struct fill_keys *k, const char *token,
    size_t tokenlen, long timeout_ms, struct fill_out *out)
{
	char			mark[FILL_TOKEN_MAX + 16];
	struct cache_note	note, *with = NULL;
	int			n;

	fetch(f, k, timeout_ms, token, tokenlen, out);
	if (out->err != ERR_OK && !(out->err == ERR_NOT_FOUND &&
	    out->stored)) {
		n = snprintf(mark, sizeof(mark), "%.*s %d", (int)tokenlen,
		    token, (int)out->err);
		if (n > 0 && (size_t)n < sizeof(mark)) {
			note.key = k->fail;
			note.keylen = k->fail_len;
			note.val = mark;
			note.len = (size_t)n;
			note.ttl_ms = FAIL_MARK_MS;
			with = &note;
		}
	}
	/* A release that did not go through is given up as a lock is. */
	if (cache_unlock(f->cache, k->lock, k->lock_len, token, tokenlen,
	    with, 0) != ERR_OK)
		give_up(f, k, token, tokenlen);
}

/*
 * The outcome a note records for token (ERR_NOT_FOUND: a 404, else the
 * failure), or ERR_OK if it is not token's.
 */
static enum err
marked(const char *val, size_t len, const char *token, size_t tokenlen)
{
	long	v = 0;
	size_t	i;

	if (val == NULL || len <= tokenlen + 1 || len > tokenlen + 4 ||
	    memcmp(val, token, tokenlen) != 0 || val[tokenlen] != ' ')
		return ERR_OK;
	for (i = tokenlen + 1; i < len; i++) {
		if (val[i] < '0' || val[i] > '9')
			return ERR_OK;
		v = v * 10 + (val[i] - '0');
	}
	return v > ERR_OK && v < ERR__COUNT ? (enum err)v : ERR_OK;
}

static void
nap(long ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* The owner's 404, as the waiter's own entry (nothing was stored). */
static void
not_found(struct fill *f, struct fill_out *out)
{
	struct entry	e;
	size_t		len;

	memset(&e, 0, sizeof(e));
	e.stored_ms = clock_wall_ms();
	e.ttl = f->cfg->negative_ttl;
	e.status = 404;
	if ((out->err = own(&e, out, &len)) != ERR_OK)
		return;
	out->err = ERR_NOT_FOUND;
	out->collapsed = 1;
	metrics_collapsed();
}

/*
 * A fresh entry val[len] (NULL: none), as another's fill stored it: taken
 * into out as a collapsed answer (counted as one if counted: a request's,
 * not a refresh's).  1 if it was (out->err says whether the copy could be
 * made), 0 if there is none to take.
 */
static int
fresh_copy(const char *val, size_t len, int counted, struct fill_out *out)
{
	struct entry	e;

	if (val == NULL || entry_decode(val, len, &e) != ERR_OK ||
	    entry_freshness(&e, clock_wall_ms(), 0) != ENTRY_FRESH)
		return 0;
	if ((out->err = fill_keep(&e, out)) != ERR_OK)
		return 1;
	out->err = e.status == 200 ? ERR_OK : ERR_NOT_FOUND;
	out->collapsed = out->cached = 1;
	if (counted)
		metrics_collapsed();
	return 1;
}

/*
 * With the lock just taken by token: a request looks at the entry, finds
 * none fresh, and only then takes the lock, so another fill may have
 * stored the entry and let the lock go in between.  That entry is used
 * and the lock let go, rather than the key fetched twice.  1 if so.
 */
static int
filled_meanwhile(struct fill *f, const struct fill_keys *k,
    const char *token, size_t tokenlen, int counted, struct fill_out *out)
{
	const char	*keys[] = { k->entry };
	size_t		 lens[] = { k->entry_len };
	const char	*val;
	size_t		 vlen;

	if (cache_mget(f->cache, 1, keys, lens, &val, &vlen) != ERR_OK ||
	    !fresh_copy(val, vlen, counted, out)) {
		/* Not held through the fetch: it may be a big stale entry. */
		cache_release(f->cache);
		return 0;
	}
	if (cache_unlock(f->cache, k->lock, k->lock_len, token, tokenlen,
	    NULL, 0) != ERR_OK)
		give_up(f, k, token, tokenlen);
	return 1;
}

/*
 * Waits for the lock's owner: returns with the fresh entry (collapsed),
 * the owner's 404 or failure, or ERR_WAIT_TIMEOUT once UPSTREAM_TIMEOUT_MS
 * have passed.  If the lock goes away with nothing to show (its owner
 * died), or its owner has given it up, takes it and fetches with the time
 * that is left.
 */
static void
wait_owner(struct fill *f, const struct fill_keys *k, const char *token,
    size_t tokenlen, long long deadline, struct fill_out *out)
{
	char		 gone[FILL_KEY_MAX + FILL_TOKEN_MAX + 1];
	const char	*keys[] = { k->entry, k->lock, k->fail, gone };
	size_t		 lens[] = { k->entry_len, k->lock_len, k->fail_len, 0 };
	const char	*vals[4];
	size_t		 vlens[4], nkeys;
	char		 owner[FILL_TOKEN_MAX];
	size_t		 ownerlen = 0;
	long long	 now;
	enum err	 err;
	int		 given_up;

	for (;;) {
		nap(FILL_POLL_MS);
		now = clock_mono_ms();
		/* Once the owner is known, its gone note too. */
		nkeys = ownerlen > 0 && gone_key(k, owner, ownerlen, gone,
		    sizeof(gone), &lens[3]) == 0 ? 4 : 3;
		if ((err = cache_mget(f->cache, nkeys, keys, lens, vals,
		    vlens)) != ERR_OK) {
			out->err = err;
			return;
		}
		if (fresh_copy(vals[0], vlens[0], 1, out))
			return;
		if (ownerlen > 0 && (err = marked(vals[2], vlens[2], owner,
		    ownerlen)) != ERR_OK) {
			if (err == ERR_NOT_FOUND)
				not_found(f, out);
			else
				out->err = err;
			return;
		}
		if (now >= deadline) {
			out->err = ERR_WAIT_TIMEOUT;
			return;
		}
		/* A lock its owner gave up holds nobody: remove it, take it. */
		given_up = nkeys == 4 && vals[3] != NULL;
		if (given_up && (err = cache_unlock(f->cache, k->lock,
		    k->lock_len, owner, ownerlen, NULL, 0)) != ERR_OK) {
			out->err = err;
			return;
		}
		ownerlen = 0;
		if (!given_up && vals[1] != NULL && vlens[1] < sizeof(owner)) {
			memcpy(owner, vals[1], vlens[1]);
			ownerlen = vlens[1];
			continue;
		}
		err = cache_lock(f->cache, k->lock, k->lock_len, token,
		    tokenlen, lock_ms(f));
		if (err == ERR_OK) {
			if (!filled_meanwhile(f, k, token, tokenlen, 1, out))
				lead(f, k, token, tokenlen,
				    (long)(deadline - now), out);
			return;
		}
		if (err != ERR_CACHE_LOCKED) {
			give_up(f, k, token, tokenlen);
			out->err = err;
			return;
		}
	}
}

/* The protocol across processes: lock, fetch or wait, store, release. */
static void
run(struct fill *f, const struct fill_keys *k, enum fill_mode mode,
    struct fill_out *out)
{
	char		token[FILL_TOKEN_MAX];
	long long	start = clock_mono_ms(), left;
	enum err	err;
	int		n;

	memset(out, 0, sizeof(*out));
	if (mode == FILL_NOSTORE) {
		fetch(f, k, 0, NULL, 0, out);
		out->bypassed = ERR_CACHE_DOWN;
		return;
	}
	n = snprintf(token, sizeof(token), "%s-%lu", f->token_base,
	    ++f->tokens);
	if (n < 0 || (size_t)n >= sizeof(token)) {
		out->err = ERR_INTERNAL;
		return;
	}
	err = cache_lock(f->cache, k->lock, k->lock_len, token, (size_t)n,
	    lock_ms(f));
	if (err == ERR_OK) {
		if (!filled_meanwhile(f, k, token, (size_t)n,
		    mode != FILL_TRY, out))
			lead(f, k, token, (size_t)n, 0, out);
		return;
	}
	if (err != ERR_CACHE_LOCKED)
		give_up(f, k, token, (size_t)n);
	if (err == ERR_CACHE_LOCKED && mode == FILL_WAIT) {
		wait_owner(f, k, token, (size_t)n,
		    start + f->cfg->upstream_timeout_ms, out);
		if (out->err != ERR_CACHE_DOWN && out->err != ERR_CACHE_REPLY)
			return;
		err = out->err;
		fill_out_free(out);
	} else if (err == ERR_CACHE_LOCKED) {
		out->err = ERR_CACHE_LOCKED;	/* FILL_TRY: someone else is on it */
		return;
	}
	/*
	 * Redis failed in between: answer from the upstream alone, done
	 * half a LOCK_SLACK_MS before the flight's waiters give up
	 * (UPSTREAM_TIMEOUT_MS + LOCK_SLACK_MS from their start, at the
	 * latest from this one's).
	 */
	if (mode != FILL_WAIT)
		out->err = err;
	else if ((left = start + f->cfg->upstream_timeout_ms +
	    LOCK_SLACK_MS / 2 - clock_mono_ms()) <= 0)
		out->err = ERR_WAIT_TIMEOUT;
	else {
		fetch(f, k, (long)left, NULL, 0, out);
		out->bypassed = err;
	}
}

/* The outcome a waiter of a flight gets: the leader's, as its own copy. */
static void
share(const struct fill_out *led, struct fill_out *out)
{
	memset(out, 0, sizeof(*out));
	if (led->err == ERR_OK || led->err == ERR_NOT_FOUND) {
		if ((out->err = fill_keep(&led->e, out)) != ERR_OK)
			return;
	}
	out->err = led->err;
	out->bypassed = led->bypassed;
	out->retry_after = led->retry_after;
	out->cached = led->cached;
	out->collapsed = 1;
	if (led->err == ERR_OK || led->err == ERR_NOT_FOUND)
		metrics_collapsed();
}

/* Waits for flight fl (mutex held); out: its outcome or a timeout. */
static void
await_flight(struct fill *f, struct flight *fl, struct fill_out *out)
{
	struct timespec	until;
	long long	wait_ms = f->cfg->upstream_timeout_ms + LOCK_SLACK_MS;
	int		rc = 0;

	until = clock_after(CLOCK_MONOTONIC, wait_ms);
	fl->waiters++;
	while (!fl->done && rc == 0)
		rc = pthread_cond_timedwait(&fl->cv, &f->shared->mu, &until);
	if (fl->done)
		share(&fl->out, out);
	else {
		memset(out, 0, sizeof(*out));
		out->err = ERR_WAIT_TIMEOUT;
	}
	/* The last one out frees a flight its leader has left. */
	if (--fl->waiters == 0 && fl->done) {
		fill_out_free(&fl->out);
		pthread_cond_destroy(&fl->cv);
		free(fl);
	}
}

void
fill_run(struct fill *f, const struct fill_keys *k, enum fill_mode mode,
    struct fill_out *out)
{
	struct fill_shared	 *sh = f->shared;
	struct flight		**pp, *fl;
	pthread_condattr_t	  attr;

	if (mode == FILL_TRY) {
		run(f, k, mode, out);
		return;
	}
	pthread_mutex_lock(&sh->mu);
	for (pp = &sh->flights; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->path, k->path) == 0) {
			await_flight(f, *pp, out);
			pthread_mutex_unlock(&sh->mu);
			return;
		}
	/* Lead this process's flight; alone if it cannot be set up. */
	if ((fl = calloc(1, sizeof(*fl))) != NULL) {
		if (pthread_condattr_init(&attr) != 0 ||
		    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
		    pthread_cond_init(&fl->cv, &attr) != 0) {
			free(fl);
			fl = NULL;
		}
		(void)pthread_condattr_destroy(&attr);
	}
	if (fl != NULL) {
		(void)snprintf(fl->path, sizeof(fl->path), "%s", k->path);
		fl->next = sh->flights;
		sh->flights = fl;
	}
	pthread_mutex_unlock(&sh->mu);

	run(f, k, mode, out);
	if (fl == NULL)
		return;

	pthread_mutex_lock(&sh->mu);
	for (pp = &sh->flights; *pp != fl; pp = &(*pp)->next)
		;
	*pp = fl->next;
	fl->done = 1;
	if (fl->waiters > 0) {
		/* Scalars as they are; the entry is copied in share(). */
		fl->out = *out;
		fl->out.mem = NULL;
		if (out->err == ERR_OK || out->err == ERR_NOT_FOUND)
			fl->out.err = fill_keep(&out->e, &fl->out) == ERR_OK ?
			    out->err : ERR_NOMEM;
		pthread_cond_broadcast(&fl->cv);
	} else {
		pthread_cond_destroy(&fl->cv);
		free(fl);
	}
	pthread_mutex_unlock(&sh->mu);
}
