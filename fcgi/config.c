/*
 * config.c: environment -> struct config.  Every value is checked for
 * syntax and range here, so the rest of the responder trusts its config.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

#define DEFAULT_UPSTREAM	"https://jsonplaceholder.typicode.com"
#define DEFAULT_REDIS		"redis://127.0.0.1:6379/0"
#define DEFAULT_PREFIX		"todos:v1:"

static int
fail(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * A value as it may be quoted in an error: at most 32 bytes, anything but
 * printable ASCII shown as '?', so the message stays one line.  URLs are
 * never quoted: they may carry a password.
 */
static const char *
shown(const char *s, char *buf, size_t size)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i + 1 < size && i < 32; i++)
		buf[i] = s[i] >= ' ' && s[i] <= '~' ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* Whole-string decimal in [min, max]; no sign, no spaces, no hex. */
static int
parse_long(const char *s, long min, long max, long *out)
{
	char	*end;
	long	 v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
get_long(config_lookup lookup, const char *name, long def, long min,
    long max, long *out, char *err, size_t errsz)
{
	const char	*s = lookup(name);
	char		 q[40];

	if (s == NULL || *s == '\0') {
		*out = def;
		return 0;
	}
	if (parse_long(s, min, max, out) == -1)
		return fail(err, errsz, "%s: '%s' is not an integer in "
		    "%ld..%ld", name, shown(s, q, sizeof(q)), min, max);
	return 0;
}

/* Copies src into dst[size]; -1 when it does not fit. */
static int
copy(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		return -1;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * copy() that decodes percent-escapes (RFC 3986 2.1): how a URL carries
 * an '@', '/', ':' or '%' in its password.  -1 if dst is too small, an
 * escape is not two hex digits, or it decodes to NUL.
 */
static int
copy_decoded(char *dst, size_t size, const char *src, size_t len)
{
	size_t	i, n = 0;
	int	hi, lo;

	for (i = 0; i < len; i++) {
		if (n + 1 >= size)
			return -1;
		if (src[i] != '%') {
			dst[n++] = src[i];
			continue;
		}
		if (len - i < 3 || (hi = hexval(src[i + 1])) == -1 ||
		    (lo = hexval(src[i + 2])) == -1 || (hi | lo) == 0)
			return -1;
		dst[n++] = (char)(hi << 4 | lo);
		i += 2;
	}
	dst[n] = '\0';
	return 0;
}

static int
unreserved_host(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '.' || s[i] == '-' || s[i] == '_' || s[i] == ':'))
			return 0;
	return len > 0;
}

int
config_redis_url(struct redis_target *t, const char *url, char *err,
    size_t errsz)
{
	const char	*p, *at, *hostend, *slash, *q;
	long		 v;

	memset(t, 0, sizeof(*t));
	t->port = 6379;

	if (strncmp(url, "unix://", 7) == 0) {
		p = url + 7;
		t->is_unix = 1;
		if (*p != '/')
			return fail(err, errsz, "unix socket path must be "
			    "absolute (unix:///path/redis.sock)");
		q = strchr(p, '?');
		if (copy(t->path, sizeof(t->path), p,
		    q ? (size_t)(q - p) : strlen(p)) == -1)
			return fail(err, errsz, "unix socket path too long");
		if (q == NULL)
			return 0;
		if (strncmp(q, "?db=", 4) != 0 ||
		    parse_long(q + 4, 0, 15, &v) == -1)
			return fail(err, errsz, "only ?db=0..15 may follow "
			    "the socket path");
		t->db = (int)v;
		return 0;
	}
	if (strncmp(url, "redis://", 8) != 0)
		return fail(err, errsz, "must start with redis:// or unix://");
	p = url + 8;

	/*
	 * [user][:password]@ -- only the password is used (AUTH).  An '@',
	 * '/' or ':' in it is percent-encoded (%40, %2F, %3A), as in any URL.
	 */
	slash = strchr(p, '/');
	at = strchr(p, '@');
	if (at != NULL && (slash == NULL || at < slash)) {
		const char *colon = memchr(p, ':', (size_t)(at - p));

		if (colon != NULL && copy_decoded(t->password,
		    sizeof(t->password), colon + 1,
		    (size_t)(at - colon - 1)) == -1)
			return fail(err, errsz, "password too long, or a bad "
			    "%%-escape in it (%%40 for '@', %%2F for '/')");
		p = at + 1;
	}

	/* host, [v6] or name, then :port */
	if (*p == '[') {
		hostend = strchr(p, ']');
		if (hostend == NULL || (slash && hostend > slash))
			return fail(err, errsz, "unterminated [IPv6] host");
		if (!unreserved_host(p + 1, (size_t)(hostend - p - 1)) ||
		    copy(t->host, sizeof(t->host), p + 1,
		    (size_t)(hostend - p - 1)) == -1)
			return fail(err, errsz, "bad IPv6 host");
		p = hostend + 1;
	} else {
		hostend = p + strcspn(p, ":/");
		if (memchr(p, ':', (size_t)(hostend - p)) != NULL ||
		    !unreserved_host(p, (size_t)(hostend - p)) ||
		    copy(t->host, sizeof(t->host), p,
		    (size_t)(hostend - p)) == -1)
			return fail(err, errsz, "missing or bad host");
		p = hostend;
	}
	if (*p == ':') {
		char	 num[8];
		size_t	 n = strcspn(p + 1, "/");

		if (copy(num, sizeof(num), p + 1, n) == -1 ||
		    parse_long(num, 1, 65535, &v) == -1)
			return fail(err, errsz, "port must be 1..65535");
		t->port = (int)v;
		p += 1 + n;
	}
	if (*p == '\0')
		return 0;
	if (*p != '/')
		return fail(err, errsz, "unexpected text after the host");
	p++;
	if (*p == '\0')
		return 0;
	if (parse_long(p, 0, 15, &v) == -1)
		return fail(err, errsz, "database must be 0..15");
	t->db = (int)v;
	return 0;
}

static int
load_upstream(struct config *cfg, const char *s, char *err, size_t errsz)
{
	const char	*host;
	size_t		 len, i;

	if (s == NULL || *s == '\0')
		s = DEFAULT_UPSTREAM;
	if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
		return fail(err, errsz, "UPSTREAM_URL: must start with http:// "
		    "or https://");
	len = strlen(s);
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f ||
		    s[i] == '?' || s[i] == '#')
			return fail(err, errsz, "UPSTREAM_URL: no spaces, "
			    "control characters, query or fragment allowed");
	while (len > 0 && s[len - 1] == '/')
		len--;
	if (copy(cfg->upstream_url, sizeof(cfg->upstream_url), s, len) == -1)
		return fail(err, errsz, "UPSTREAM_URL: longer than %d bytes",
		    CONFIG_URL_MAX - 1);
	host = cfg->upstream_url + (cfg->upstream_url[4] == 's' ? 8 : 7);
	if (*host == '\0' || *host == '/' || *host == ':' || *host == '@')
		return fail(err, errsz, "UPSTREAM_URL: missing host");
	return 0;
}

static int
load_log_level(struct config *cfg, const char *s, char *err, size_t errsz)
{
	static const struct {
		const char	*name;
		enum log_level	 level;
	} levels[] = {
		{ "error", LOG_ERROR }, { "warn", LOG_WARN },
		{ "warning", LOG_WARN }, { "info", LOG_INFO },
		{ "debug", LOG_DEBUG },
	};
	char	q[40];
	size_t	i;

	cfg->log_level = LOG_INFO;
	if (s == NULL || *s == '\0')
		return 0;
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(s, levels[i].name) == 0) {
			cfg->log_level = levels[i].level;
			return 0;
		}
	return fail(err, errsz, "LOG_LEVEL: '%s' is not one of error, "
	    "warn, info, debug", shown(s, q, sizeof(q)));
}

static int
load_prefix(struct config *cfg, const char *s, char *err, size_t errsz)
{
	size_t	i, len;

	if (s == NULL || *s == '\0')
		s = DEFAULT_PREFIX;
	len = strlen(s);
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return fail(err, errsz, "CACHE_PREFIX: no spaces or "
			    "control characters allowed");
	if (len == 0 || copy(cfg->cache_prefix, sizeof(cfg->cache_prefix),
	    s, len) == -1)
		return fail(err, errsz, "CACHE_PREFIX: must be 1..%d bytes",
		    CONFIG_PREFIX_MAX - 1);
	return 0;
}

/*
 * REDIS_SENTINELS=host:port,host:port and REDIS_MASTER=name: the primary
 * is whatever the sentinels say; REDIS_URL then gives only the password
 * and database of the data nodes.
 */
static int
load_sentinels(struct redis_target *t, const char *list, const char *master,
    char *err, size_t errsz)
{
	const char	*p, *end, *colon;
	char		 num[8];
	long		 v;
	size_t		 len;

	if (list == NULL || *list == '\0') {
		if (master != NULL && *master != '\0')
			return fail(err, errsz, "REDIS_MASTER: set, but "
			    "REDIS_SENTINELS is not");
		return 0;
	}
	if (master == NULL || *master == '\0' || !unreserved_host(master,
	    strlen(master)) || copy(t->master, sizeof(t->master), master,
	    strlen(master)) == -1)
		return fail(err, errsz, "REDIS_MASTER: a master name (letters, "
		    "digits, . _ -) is needed with REDIS_SENTINELS");
	for (p = list; *p != '\0'; p = *end ? end + 1 : end) {
		end = p + strcspn(p, ",");
		len = (size_t)(end - p);
		colon = memchr(p, ':', len);
		if (t->nsentinels == CONFIG_SENTINELS_MAX)
			return fail(err, errsz, "REDIS_SENTINELS: at most %d",
			    CONFIG_SENTINELS_MAX);
		if (colon == NULL || !unreserved_host(p, (size_t)(colon - p)) ||
		    copy(t->sentinels[t->nsentinels].host,
		    sizeof(t->sentinels[0].host), p,
		    (size_t)(colon - p)) == -1 ||
		    copy(num, sizeof(num), colon + 1,
		    (size_t)(end - colon - 1)) == -1 ||
		    parse_long(num, 1, 65535, &v) == -1)
			return fail(err, errsz, "REDIS_SENTINELS: expected "
			    "host:port[,host:port...]");
		t->sentinels[t->nsentinels++].port = (int)v;
	}
	return 0;
}

/* PURGE_TOKEN: unset or empty disables purging; never echoed. */
static int
load_token(struct config *cfg, const char *s, char *err, size_t errsz)
{
	size_t	i, len;

	if (s == NULL || *s == '\0')
		return 0;
	len = strlen(s);
	for (i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return fail(err, errsz, "PURGE_TOKEN: printable ASCII "
			    "without spaces only");
	if (len < 16 || copy(cfg->purge_token, sizeof(cfg->purge_token), s,
	    len) == -1)
		return fail(err, errsz, "PURGE_TOKEN: must be 16..%d "
		    "characters", CONFIG_SECRET_MAX - 1);
	return 0;
}

int
config_load(struct config *cfg, config_lookup lookup, char *err, size_t errsz)
{
	const char	*s;
	char		 why[192];
	long		 port;

	memset(cfg, 0, sizeof(*cfg));
	if (errsz > 0)
		err[0] = '\0';

	if (get_long(lookup, "PORT", 5000, 1, 65535, &port, err,
	    errsz) == -1)
		return -1;
	cfg->port = (int)port;
	if (get_long(lookup, "CACHE_TTL", 60, 1, 31536000, &cfg->cache_ttl,
	    err, errsz) == -1 ||
	    get_long(lookup, "UPSTREAM_TIMEOUT_MS", 5000, 1, 600000,
	    &cfg->upstream_timeout_ms, err, errsz) == -1 ||
	    get_long(lookup, "UPSTREAM_MAX_BYTES", 8L << 20, 1024, 1L << 30,
	    &cfg->upstream_max_bytes, err, errsz) == -1 ||
	    get_long(lookup, "REDIS_TIMEOUT_MS", 250, 1, 60000,
	    &cfg->redis_timeout_ms, err, errsz) == -1)
		return -1;

	if (get_long(lookup, "STALE_TTL", 3600, 0, 31536000, &cfg->stale_ttl,
	    err, errsz) == -1 ||
	    get_long(lookup, "STALE_WHILE_REVALIDATE", 30, 0, 31536000,
	    &cfg->stale_while_revalidate, err, errsz) == -1 ||
	    get_long(lookup, "NEGATIVE_TTL", 10, 0, 31536000,
	    &cfg->negative_ttl, err, errsz) == -1 ||
	    get_long(lookup, "CIRCUIT_FAILURES", 5, 1, 1000000,
	    &cfg->circuit_failures, err, errsz) == -1 ||
	    get_long(lookup, "CIRCUIT_COOLDOWN_MS", 5000, 1, 3600000,
	    &cfg->circuit_cooldown_ms, err, errsz) == -1 ||
	    get_long(lookup, "LOCAL_CACHE_BYTES", 1L << 20, 0, 1L << 30,
	    &cfg->local_cache_bytes, err, errsz) == -1)
		return -1;

	if (get_long(lookup, "FCGI_THREADS", CONFIG_THREADS_DEFAULT, 1,
	    CONFIG_THREADS_MAX, &cfg->threads, err, errsz) == -1 ||
	    get_long(lookup, "BACKGROUND_THREADS", CONFIG_BACKGROUND_DEFAULT,
	    1, CONFIG_THREADS_MAX, &cfg->background_threads, err,
	    errsz) == -1 ||
	    get_long(lookup, "FCGI_IO_TIMEOUT_MS", 30000, 100, 3600000,
	    &cfg->io_timeout_ms, err, errsz) == -1)
		return -1;
	/* Unset, the window is min(30, STALE_TTL); set, it must fit. */
	s = lookup("STALE_WHILE_REVALIDATE");
	if ((s == NULL || *s == '\0') &&
	    cfg->stale_while_revalidate > cfg->stale_ttl)
		cfg->stale_while_revalidate = cfg->stale_ttl;
	if (cfg->stale_while_revalidate > cfg->stale_ttl)
		return fail(err, errsz, "STALE_WHILE_REVALIDATE: %ld is more "
		    "than STALE_TTL (%ld): entries would be gone before it "
		    "ends", cfg->stale_while_revalidate, cfg->stale_ttl);

	/* Unset: RUNDIR/metrics when the launcher set RUNDIR, else none. */
	s = lookup("METRICS_FILE");
	if (s != NULL && *s != '\0') {
		if (s[0] != '/' || copy(cfg->metrics_file,
		    sizeof(cfg->metrics_file), s, strlen(s)) == -1)
			return fail(err, errsz, "METRICS_FILE: must be an "
			    "absolute path shorter than %zu bytes",
			    sizeof(cfg->metrics_file));
	} else if ((s = lookup("RUNDIR")) != NULL && s[0] == '/') {
		int	n = snprintf(cfg->metrics_file,
		    sizeof(cfg->metrics_file), "%s/metrics", s);

		if (n < 0 || (size_t)n >= sizeof(cfg->metrics_file))
			cfg->metrics_file[0] = '\0';
	}

	if (load_upstream(cfg, lookup("UPSTREAM_URL"), err, errsz) == -1 ||
	    load_token(cfg, lookup("PURGE_TOKEN"), err, errsz) == -1 ||
	    load_prefix(cfg, lookup("CACHE_PREFIX"), err, errsz) == -1 ||
	    load_log_level(cfg, lookup("LOG_LEVEL"), err, errsz) == -1)
		return -1;

	s = lookup("REDIS_URL");
	if (s == NULL || *s == '\0')
		s = DEFAULT_REDIS;
	if (config_redis_url(&cfg->redis, s, why, sizeof(why)) == -1)
		return fail(err, errsz, "REDIS_URL: %s", why);
	return load_sentinels(&cfg->redis, lookup("REDIS_SENTINELS"),
	    lookup("REDIS_MASTER"), err, errsz);
}
