/*
 * upstream.c: the libcurl side.
 *
 * Options that never change are set once in upstream_new(); a fetch only
 * sets the URL.  The body is gathered in one buffer that grows to the
 * largest answer seen and is reused; the write callback refuses the first
 * byte past max_bytes, which makes libcurl abort the transfer at once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "clock.h"
#include "log.h"
#include "rnd.h"
#include "upstream.h"

#define URL_MAX		2048

struct upstream {
	CURL	*curl;
	char	 base[URL_MAX];
	char	 url[URL_MAX];
	char	*buf;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
	long	 timeout_ms;
	int	 too_big;
	char	 errbuf[CURL_ERROR_SIZE];
};

struct upstream_pool {
	CURLSH		*share;
	pthread_mutex_t	 mu[CURL_LOCK_DATA_LAST];
};

static void
pool_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
	struct upstream_pool	*p = arg;

	(void)h;
	(void)access;
	pthread_mutex_lock(&p->mu[data]);
}

static void
pool_unlock(CURL *h, curl_lock_data data, void *arg)
{
	struct upstream_pool	*p = arg;

	(void)h;
	pthread_mutex_unlock(&p->mu[data]);
}

struct upstream_pool *
upstream_pool_new(void)
{
	struct upstream_pool	*p;
	int			 i;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		(void)pthread_mutex_init(&p->mu[i], NULL);
	if ((p->share = curl_share_init()) == NULL ||
	    curl_share_setopt(p->share, CURLSHOPT_LOCKFUNC, pool_lock) ||
	    curl_share_setopt(p->share, CURLSHOPT_UNLOCKFUNC, pool_unlock) ||
	    curl_share_setopt(p->share, CURLSHOPT_USERDATA, p) ||
	    curl_share_setopt(p->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_CONNECT) ||
	    curl_share_setopt(p->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_DNS) ||
	    curl_share_setopt(p->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_SSL_SESSION)) {
		upstream_pool_free(p);
		return NULL;
	}
	return p;
}

/* Every handle of the pool must be freed first. */
void
upstream_pool_free(struct upstream_pool *p)
{
	int	i;

	if (p == NULL)
		return;
	if (p->share != NULL)
		(void)curl_share_cleanup(p->share);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		(void)pthread_mutex_destroy(&p->mu[i]);
	free(p);
}

static size_t
on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct upstream	*u = arg;
	size_t		 n = size * nmemb, cap;
	char		*p;

	if (n > u->max - u->len) {
		u->too_big = 1;
		return 0;	/* anything but n aborts the transfer */
	}
	if (u->len + n > u->cap) {
		cap = u->cap ? u->cap : 16384;
		while (cap < u->len + n)
			cap *= 2;
		if (cap > u->max)
			cap = u->max;
		if ((p = realloc(u->buf, cap)) == NULL)
			return 0;
		u->buf = p;
		u->cap = cap;
	}
	memcpy(u->buf + u->len, data, n);
	u->len += n;
	return n;
}

struct upstream *
upstream_new(const char *base, long timeout_ms, size_t max_bytes,
    struct upstream_pool *pool)
{
	struct upstream	*u;
	CURL		*h;
	int		 n;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	n = snprintf(u->base, sizeof(u->base), "%s", base);
	if (n < 0 || (size_t)n >= sizeof(u->base) ||
	    (u->curl = curl_easy_init()) == NULL) {
		free(u);
		return NULL;
	}
	u->max = max_bytes;
	u->timeout_ms = timeout_ms;
	h = u->curl;
	/*
	 * http and https only, no redirects: a 3xx is an error, not a way to
	 * make us fetch from somewhere else.  NOSIGNAL: libcurl must not use
	 * SIGALRM for DNS timeouts in a long-lived process.
	 */
	if (curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) ||
	    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)max_bytes) ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, u) ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, u->errbuf) ||
	    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "") ||
	    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "todos-fcgi/1") ||
	    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) ||
	    (pool != NULL &&
	    curl_easy_setopt(h, CURLOPT_SHARE, pool->share))) {
		upstream_free(u);
		return NULL;
	}
	return u;
}

void
upstream_free(struct upstream *u)
{
	if (u == NULL)
		return;
	if (u->curl != NULL)
		curl_easy_cleanup(u->curl);
	free(u->buf);
	free(u);
}

/* One exchange; rc is libcurl's verdict. */
static CURLcode
perform(struct upstream *u, long timeout_ms)
{
	u->len = 0;
	u->too_big = 0;
	u->errbuf[0] = '\0';
	if (curl_easy_setopt(u->curl, CURLOPT_URL, u->url) != CURLE_OK ||
	    curl_easy_setopt(u->curl, CURLOPT_TIMEOUT_MS, timeout_ms) !=
	    CURLE_OK)
		return CURLE_OUT_OF_MEMORY;
	return curl_easy_perform(u->curl);
}

void
upstream_done(struct upstream *u)
{
	if (u->cap > UPSTREAM_KEEP_BYTES) {
		free(u->buf);
		u->buf = NULL;
		u->cap = 0;
		u->len = 0;
	}
}

long
upstream_jitter_ms(void)
{
	return rnd_between(20, 69);
}

static void
jitter(void)
{
	struct timespec	ts = { 0, 0 };

	ts.tv_nsec = upstream_jitter_ms() * 1000000L;
	(void)nanosleep(&ts, NULL);
}

enum err
upstream_fetch(struct upstream *u, const char *path, long timeout_ms,
    struct upstream_answer *a)
{
	long long	 start = clock_mono_ms(), left;
	CURLcode	 rc;
	enum err	 e;
	int		 n;

	memset(a, 0, sizeof(*a));
	n = snprintf(u->url, sizeof(u->url), "%s%s", u->base, path);
	if (n < 0 || (size_t)n >= sizeof(u->url))
		return ERR_INTERNAL;
	if (timeout_ms <= 0 || timeout_ms > u->timeout_ms)
		timeout_ms = u->timeout_ms;

	rc = perform(u, timeout_ms);
	if (rc == CURLE_COULDNT_CONNECT) {
		/* Nothing was sent: one more try is safe. */
		jitter();
		left = timeout_ms - (clock_mono_ms() - start);
		if (left > 0) {
			log_debug("%s: %s: connect failed, trying once more",
			    __func__, path);
			rc = perform(u, (long)left);
		}
	}
	a->ms = (long)(clock_mono_ms() - start);

	switch (rc) {
	case CURLE_OK:
		(void)curl_easy_getinfo(u->curl, CURLINFO_RESPONSE_CODE,
		    &a->status);
		/* 203, 204, 206 ...: not a whole representation to cache. */
		if (a->status == 200) {
			a->body = u->buf != NULL ? u->buf : "";
			a->len = u->len;
			return ERR_OK;
		}
		if (a->status == 404)
			return ERR_NOT_FOUND;
		log_warn("%s: %s answered %ld", __func__, path, a->status);
		return ERR_UPSTREAM_STATUS;
	case CURLE_OPERATION_TIMEDOUT:
		e = ERR_UPSTREAM_TIMEOUT;
		break;
	case CURLE_FILESIZE_EXCEEDED:
		e = ERR_UPSTREAM_TOO_BIG;
		break;
	case CURLE_WRITE_ERROR:
		e = u->too_big ? ERR_UPSTREAM_TOO_BIG : ERR_NOMEM;
		break;
	default:
		e = ERR_UPSTREAM_CONNECT;
		break;
	}
	log_warn("%s: %s: %s (%s) after %ld ms", __func__, path,
	    err_str(e), u->errbuf[0] ? u->errbuf : curl_easy_strerror(rc),
	    a->ms);
	return e;
}
