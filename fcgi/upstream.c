/*
 * upstream.c: the libcurl side.
 *
 * Options that never change are set once in upstream_new(); a fetch only
 * sets the URL.  The body is gathered in one buffer that grows to the
 * largest answer seen and is reused; the write callback refuses the first
 * byte past max_bytes, which makes libcurl abort the transfer at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "clock.h"
#include "log.h"
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
	int	 too_big;
	char	 errbuf[CURL_ERROR_SIZE];
};

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
upstream_new(const char *base, long timeout_ms, size_t max_bytes)
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
	h = u->curl;
	/*
	 * http and https only, no redirects: a 3xx is an error, not a way to
	 * make us fetch from somewhere else.  NOSIGNAL: libcurl must not use
	 * SIGALRM for DNS timeouts in a long-lived process.
	 */
	if (curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms) ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) ||
	    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)max_bytes) ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, u) ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, u->errbuf) ||
	    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "") ||
	    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "todos-fcgi/1") ||
	    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L)) {
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

enum err
upstream_fetch(struct upstream *u, const char *path, const char **body,
    size_t *len, long *ms)
{
	long long	 start = clock_mono_ms();
	long		 status = 0;
	CURLcode	 rc;
	enum err	 e;
	int		 n;

	*body = NULL;
	*len = 0;
	n = snprintf(u->url, sizeof(u->url), "%s%s", u->base, path);
	if (n < 0 || (size_t)n >= sizeof(u->url)) {
		*ms = 0;
		return ERR_INTERNAL;
	}
	u->len = 0;
	u->too_big = 0;
	u->errbuf[0] = '\0';
	if (curl_easy_setopt(u->curl, CURLOPT_URL, u->url) != CURLE_OK)
		rc = CURLE_OUT_OF_MEMORY;
	else
		rc = curl_easy_perform(u->curl);
	*ms = (long)(clock_mono_ms() - start);

	switch (rc) {
	case CURLE_OK:
		(void)curl_easy_getinfo(u->curl, CURLINFO_RESPONSE_CODE,
		    &status);
		if (status >= 200 && status <= 299) {
			*body = u->buf != NULL ? u->buf : "";
			*len = u->len;
			return ERR_OK;
		}
		e = status == 404 ? ERR_NOT_FOUND : ERR_UPSTREAM_STATUS;
		if (e != ERR_NOT_FOUND)
			log_warn("%s: %s answered %ld", __func__, path, status);
		return e;
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
	    *ms);
	return e;
}
