/*
 * serve.c: the life of one request.
 *
 * A fresh entry is a HIT: one Redis GET, answered from hiredis's buffer.
 * An entry past its freshness but within STALE_WHILE_REVALIDATE is served
 * at once (STALE) and refreshed by a background thread.  Anything else is
 * filled (fill.c: one upstream fetch per key); if that fails and a stale
 * copy exists, the copy is served (STALE, stale-if-error).  Redis down
 * means BYPASS: straight from the upstream.  Every failure ends in
 * reply_error(), which takes the status from err_status().
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "clock.h"
#include "entry.h"
#include "etag.h"
#include "gzip.h"
#include "log.h"
#include "metrics.h"
#include "reply.h"
#include "route.h"
#include "serve.h"

/* metrics_request() counts by route with the route's own numbering. */
_Static_assert((int)MR_TODOS == (int)ROUTE_TODOS &&
    (int)MR_TODO == (int)ROUTE_TODO && (int)MR_HEALTH == (int)ROUTE_HEALTH &&
    (int)MR_METRICS == (int)ROUTE_METRICS, "route and metrics numbering");

void
serve_init(struct serve *s, struct serve_shared *sh, struct cache *cache,
    struct upstream *upstream)
{
	memset(s, 0, sizeof(*s));
	s->sh = sh;
	s->cfg = sh->cfg;
	s->cache = cache;
	fill_init(&s->fill, sh->cfg, &sh->fill, cache, upstream);
}

/* Every answer goes out through these two, which note what it was. */
static void
sent(struct serve *s, struct request *req, const struct reply *rep,
    const char *body, size_t len, int head_only)
{
	s->status = rep->status;
	s->x_cache = rep->x_cache;
	(void)reply_send(&req->out, rep, body, len, head_only);
}

static void
sent_error(struct serve *s, struct request *req, enum err e,
    const struct reply *extra, int head_only)
{
	s->status = err_status(e);
	s->x_cache = extra != NULL ? extra->x_cache : NULL;
	(void)reply_error(&req->out, e, extra, head_only);
}

/*
 * Keeps the in-process cache coherent.  Copies read through a connection
 * this process has lost are dropped (local_losses); this thread's reads
 * may be kept only while its connection sends their invalidations to the
 * channel as it is now (CLIENT TRACKING on REDIRECT its id), which is
 * asked for again whenever the channel or the connection is new.
 */
static void
sync_local(struct serve *s)
{
	static atomic_int	 refused_logged;
	struct track		*track = s->sh->track;
	unsigned long		 epoch, gen = cache_generation(s->cache);
	long long		 id;
	enum err		 err;

	if (track == NULL)
		return;
	local_losses(s->sh->local, cache_losses());
	id = track_id(track, &epoch);
	if (epoch == s->seen_epoch && gen == s->seen_gen)
		return;
	s->tracking = 0;
	if (id == 0) {
		s->seen_epoch = epoch;	/* channel down: wait for it */
		s->seen_gen = gen;
		return;
	}
	err = cache_track(s->cache, id);
	if (err == ERR_CACHE_DOWN)
		return;			/* again on the next request */
	s->seen_epoch = epoch;
	s->seen_gen = cache_generation(s->cache);
	s->tracking = err == ERR_OK;
	if (err != ERR_OK && atomic_exchange(&refused_logged, 1) == 0)
		log_warn("%s: CLIENT TRACKING refused: in-process cache off "
		    "(Redis 6 or later needed)", __func__);
}

/* Why a stale copy or a bypass was served, as a Cache-Status token. */
static const char *
detail(enum err e)
{
	switch (e) {
	case ERR_UPSTREAM_TIMEOUT:
	case ERR_WAIT_TIMEOUT:
		return "upstream-timeout";
	case ERR_CIRCUIT_OPEN:
		return "circuit-open";
	case ERR_CACHE_DOWN:
		return "redis-down";
	case ERR_CACHE_REPLY:
		return "redis-error";
	default:
		return "upstream-error";
	}
}

/*
 * Answers with entry e: a 200 (or a 304 when If-None-Match matches its
 * ETag), or the 404 of a negatively cached id.  Cache-Status carries the
 * entry's freshness left (ttl) only if cs->has_ttl: the entry is in the
 * cache (RFC 9211 2.7), not when the answer was passed through.
 */
static void
answer(struct serve *s, struct request *req, const struct route *r,
    const struct entry *e, const char *x_cache, struct cstatus *cs)
{
	const struct config	*cfg = s->cfg;
	struct reply		 rep;
	char			 csbuf[REPLY_CSTATUS_MAX];
	long long		 now = clock_wall_ms();
	const char		*inm, *body;
	char			 gztag[ENTRY_ETAG_MAX + 4];
	size_t			 len;

	memset(&rep, 0, sizeof(rep));
	rep.has_age = 1;
	rep.age = entry_age(e, now);
	cs->ttl = e->ttl - rep.age;
	rep.x_cache = x_cache;
	if (reply_cache_status(csbuf, sizeof(csbuf), cs) != -1)
		rep.cache_status = csbuf;
	/*
	 * max-age is the freshness lifetime and Age how much of it is used
	 * (RFC 9111 4.2): a downstream cache sees max-age - Age left.
	 * Sending what is left as max-age would count the age twice.
	 */
	rep.cacheable = e->ttl > 0;
	rep.max_age = e->ttl;

	if (e->status != 200) {
		sent_error(s, req, ERR_NOT_FOUND, &rep, r->head);
		return;
	}
	rep.swr = cfg->stale_while_revalidate;
	rep.sie = cfg->stale_ttl;
	rep.vary = 1;
	rep.etag = e->etag;
	rep.etag_len = e->etag_len;
	body = e->body;
	len = e->body_len;
	/*
	 * The gzip representation has its own strong tag: the body's with
	 * "-gz" before the closing quote.
	 */
	if (e->gz != NULL && e->etag != NULL && e->etag_len + 3 <= sizeof(gztag) &&
	    gzip_accepted(FCGX_GetParam("HTTP_ACCEPT_ENCODING", req->envp))) {
		memcpy(gztag, e->etag, e->etag_len - 1);
		memcpy(gztag + e->etag_len - 1, "-gz\"", 4);
		rep.etag = gztag;
		rep.etag_len = e->etag_len + 3;
		rep.gzip = 1;
		body = e->gz;
		len = e->gz_len;
	}
	inm = FCGX_GetParam("HTTP_IF_NONE_MATCH", req->envp);
	rep.status = rep.etag != NULL &&
	    etag_none_match(inm, rep.etag, rep.etag_len) ? 304 : 200;
	sent(s, req, &rep, body, len, r->head);
}

/* The answer when the fill failed and no stale copy can stand in. */
static void
fail(struct serve *s, struct request *req, const struct route *r,
    const struct fill_out *out)
{
	struct reply	rep;
	struct cstatus	cs;
	char		csbuf[REPLY_CSTATUS_MAX];

	memset(&rep, 0, sizeof(rep));
	memset(&cs, 0, sizeof(cs));
	cs.fwd = out->bypassed != ERR_OK ? "bypass" : "uri-miss";
	cs.fwd_status = out->fwd_status;
	cs.detail = detail(out->err);
	if (reply_cache_status(csbuf, sizeof(csbuf), &cs) != -1)
		rep.cache_status = csbuf;
	rep.retry_after = out->retry_after;
	sent_error(s, req, out->err, &rep, r->head);
}

static void
serve_get(struct serve *s, struct request *req, const struct route *r,
    const struct fill_keys *k)
{
	struct fill_out		 out, stale;
	struct cstatus		 cs;
	struct entry		 e;
	struct local		*local = s->sh->local;
	struct local_ref	*ref;
	const char		*val;
	size_t			 vlen;
	unsigned long		 mark, gen;
	enum err		 got;
	int			 have_stale = 0;

	memset(&stale, 0, sizeof(stale));
	memset(&cs, 0, sizeof(cs));
	cs.hit = 1;
	cs.has_ttl = 1;

	/* In-process copy: no Redis round trip, no allocation, no lock held. */
	sync_local(s);
	if ((ref = local_get(local, k->entry, k->entry_len, clock_wall_ms(),
	    &val, &vlen)) != NULL) {
		if (entry_decode(val, vlen, &e) == ERR_OK) {
			answer(s, req, r, &e, "HIT", &cs);
			local_release(local, ref);
			return;
		}
		local_release(local, ref);
	}
	mark = local_mark(local);
	gen = cache_generation(s->cache);

	got = cache_get(s->cache, k->entry, k->entry_len, &val, &vlen);
	if (got == ERR_OK && val != NULL) {
		if (entry_decode(val, vlen, &e) != ERR_OK)
			log_warn("%s: corrupt entry %s, refetching", __func__,
			    k->path);
		else switch (entry_freshness(&e, clock_wall_ms(),
		    s->cfg->stale_while_revalidate)) {
		case ENTRY_FRESH:
			answer(s, req, r, &e, "HIT", &cs);
			/* Only what a tracked connection read may be kept. */
			if (s->tracking && gen == s->seen_gen &&
			    gen == cache_generation(s->cache))
				local_put(local, mark, k->entry,
				    k->entry_len, val, vlen,
				    e.stored_ms + e.ttl * 1000LL);
			return;
		case ENTRY_STALE_SWR:
			if (e.status != 200)
				break;
			cs.detail = "stale-while-revalidate";
			answer(s, req, r, &e, "STALE", &cs);
			(void)background_refresh(s->sh->background, k);
			return;
		case ENTRY_STALE:
			/* Kept for stale-if-error; a 404 is never stale. */
			have_stale = e.status == 200 &&
			    fill_keep(&e, &stale) == ERR_OK;
			break;
		}
	}
	cs.hit = 0;
	cs.has_ttl = 0;

	fill_run(&s->fill, k, got == ERR_CACHE_DOWN ? FILL_NOSTORE : FILL_WAIT,
	    &out);
	s->upstream_ms = out.upstream_ms;
	if (out.err == ERR_OK || out.err == ERR_NOT_FOUND) {
		if (out.bypassed != ERR_OK || got != ERR_OK) {
			cs.fwd = "bypass";
			cs.detail = detail(got != ERR_OK ? got : out.bypassed);
		} else
			cs.fwd = have_stale ? "stale" : "uri-miss";
		cs.fwd_status = out.fwd_status;
		cs.stored = out.stored;
		cs.collapsed = out.collapsed;
		cs.has_ttl = out.cached;
		answer(s, req, r, &out.e, out.bypassed != ERR_OK ||
		    got != ERR_OK ? "BYPASS" : out.collapsed ? "HIT" : "MISS",
		    &cs);
		if (out.stored)
			/* Its answer is sent: the entry can go. */
			(void)background_compress(s->sh->background, k,
			    &out);
	} else if (have_stale) {
		cs.fwd = "stale";
		cs.fwd_status = out.fwd_status;
		cs.detail = detail(out.err);
		cs.has_ttl = 1;
		answer(s, req, r, &stale.e, "STALE", &cs);
	} else
		fail(s, req, r, &out);
	fill_out_free(&out);
	fill_out_free(&stale);
}

/*
 * GET /health: 200 while this responder can answer, "degraded" when Redis
 * does not answer a PING (answers then come from the upstream alone), the
 * circuit is open, or the front's last upstream fetch failed ("failing",
 * until a fetch succeeds).
 */
static void
serve_health(struct serve *s, struct request *req, const struct route *r)
{
	struct reply		rep;
	char			body[256], when[32] = "null";
	unsigned long long	failures;
	long long		failed_ms;
	time_t			t;
	struct tm		tm;
	int			redis_up, open, n;

	redis_up = cache_ping(s->cache) == ERR_OK;
	open = fill_circuit_open(&s->sh->fill);
	metrics_upstream_health(&failures, &failed_ms);
	t = (time_t)(failed_ms / 1000);
	if (failed_ms > 0 && gmtime_r(&t, &tm) != NULL)
		(void)strftime(when, sizeof(when), "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
	n = snprintf(body, sizeof(body), "{\"status\":\"%s\",\"redis\":\"%s\","
	    "\"upstream\":\"%s\",\"upstream_failures\":%llu,"
	    "\"upstream_last_failure\":%s}",
	    redis_up && !open && failures == 0 ? "ok" : "degraded",
	    redis_up ? "up" : "down", open ? "circuit-open" : failures > 0 ?
	    "failing" : "ok", failures, when);
	if (n < 0 || (size_t)n >= sizeof(body)) {
		sent_error(s, req, ERR_INTERNAL, NULL, r->head);
		return;
	}
	memset(&rep, 0, sizeof(rep));
	rep.status = 200;
	sent(s, req, &rep, body, (size_t)n, r->head);
}

/* GET /metrics: the Prometheus text exposition of metrics.c's counters. */
static void
serve_metrics(struct serve *s, struct request *req, const struct route *r)
{
	struct reply	 rep;
	char		*body;
	int		 n;

	if ((body = malloc(METRICS_MAX)) == NULL ||
	    (n = metrics_format(body, METRICS_MAX)) == -1) {
		free(body);
		sent_error(s, req, ERR_INTERNAL, NULL, r->head);
		return;
	}
	memset(&rep, 0, sizeof(rep));
	rep.status = 200;
	rep.content_type = "text/plain; version=0.0.4; charset=utf-8";
	sent(s, req, &rep, body, (size_t)n, r->head);
	free(body);
}

/* DELETE with the bearer token: the entry is gone for every front. */
static void
serve_purge(struct serve *s, struct request *req, const struct fill_keys *k)
{
	struct reply	 rep;
	long long	 removed;
	enum err	 err;
	const char	*body;

	memset(&rep, 0, sizeof(rep));
	if (!auth_bearer(FCGX_GetParam("HTTP_AUTHORIZATION", req->envp),
	    s->cfg->purge_token)) {
		rep.auth = 1;
		sent_error(s, req, ERR_UNAUTHORIZED, &rep, 0);
		return;
	}
	if ((err = cache_purge(s->cache, k->entry, k->entry_len, k->lock,
	    k->lock_len, &removed)) != ERR_OK) {
		sent_error(s, req, err, NULL, 0);
		return;
	}
	metrics_purge();
	log_info("%s: purged %s (%lld removed)", __func__, k->path, removed);
	body = removed > 0 ? "{\"purged\":true}" : "{\"purged\":false}";
	rep.status = 200;
	sent(s, req, &rep, body, strlen(body), 0);
}

void
serve_request(struct serve *s, struct request *req)
{
	const char		*method, *uri, *script;
	char			 path[32];
	size_t			 n;
	struct route		 r;
	struct fill_keys	 k;
	struct reply		 rep;
	enum err		 err;
	long long		 start;
	int			 purging = s->cfg->purge_token[0] != '\0';

	method = FCGX_GetParam("REQUEST_METHOD", req->envp);
	uri = FCGX_GetParam("REQUEST_URI", req->envp);
	memset(&rep, 0, sizeof(rep));
	start = log_enabled(LOG_INFO) ? clock_mono_us() : 0;

	s->status = 0;
	s->x_cache = NULL;
	s->upstream_ms = 0;
	err = route_parse(method, uri, &r);
	/*
	 * Under a script URL (CGI on shared hosting, /cgi-bin/todos.cgi/
	 * get_todos/3) the route is what follows SCRIPT_NAME in the URI.
	 */
	if (err == ERR_NOT_FOUND && (script = FCGX_GetParam("SCRIPT_NAME",
	    req->envp)) != NULL && (n = strlen(script)) > 0 && uri != NULL &&
	    strncmp(uri, script, n) == 0 && uri[n] == '/') {
		uri += n;
		err = route_parse(method, uri, &r);
	}
	if (err == ERR_OK && r.purge && !purging)
		err = ERR_METHOD;
	if (err == ERR_OK && (r.kind == ROUTE_TODOS || r.kind == ROUTE_TODO) &&
	    (route_path(&r, path, sizeof(path)) == -1 ||
	    fill_keys(&k, s->cfg->cache_prefix, path) == -1))
		err = ERR_INTERNAL;
	if (err != ERR_OK) {
		if (err == ERR_METHOD)
			rep.allow = purging && strncmp(uri, "/get_todos", 10) == 0 ?
			    "GET, HEAD, DELETE" : "GET, HEAD";
		sent_error(s, req, err, &rep,
		    method != NULL && strcmp(method, "HEAD") == 0);
	} else if (r.kind == ROUTE_HEALTH)
		serve_health(s, req, &r);
	else if (r.kind == ROUTE_METRICS)
		serve_metrics(s, req, &r);
	else if (r.purge)
		serve_purge(s, req, &k);
	else
		serve_get(s, req, &r, &k);

	metrics_request(err != ERR_OK ? MR_OTHER : (enum metrics_route)r.kind,
	    s->status, s->x_cache);
	if (log_enabled(LOG_INFO))
		log_access("access method=%.16s path=%.256s status=%d cache=%s "
		    "upstream_ms=%ld total_ms=%.2f", method ? method : "-",
		    uri ? uri : "-", s->status, s->x_cache ? s->x_cache : "-",
		    s->upstream_ms, (double)(clock_mono_us() - start) / 1000);
}
