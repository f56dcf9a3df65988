/*
 * entry.c: encode and decode the stored entry (see entry.h for the format).
 * The decoder runs on every cache hit and on bytes anyone with access to
 * Redis could have written, so it allocates nothing and trusts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entry.h"

#define STORED_MS_MAX	253402300799999LL	/* year 9999 */
#define TTL_MAX		2147483647L

/* An entity-tag: '"', etagc bytes (no '"', no controls), '"'. */
static int
valid_etag(const char *s, size_t len)
{
	size_t	i;

	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		return 0;
	for (i = 1; i < len - 1; i++)
		if ((unsigned char)s[i] < 0x21 || s[i] == '"' || s[i] == 0x7f)
			return 0;
	return 1;
}

enum err
entry_encode(const struct entry *e, char **out, size_t *outlen)
{
	char	head[ENTRY_HEAD_MAX];
	char	*buf;
	size_t	gzlen;
	int	n;

	*out = NULL;
	*outlen = 0;
	if (e->stored_ms < 0 || e->stored_ms > STORED_MS_MAX || e->ttl < 0 ||
	    e->status < 100 || e->status > 599)
		return ERR_INTERNAL;
	if ((e->etag != NULL && (e->etag_len > ENTRY_ETAG_MAX ||
	    !valid_etag(e->etag, e->etag_len))) ||
	    (e->gz != NULL && e->gz_len == 0))
		return ERR_INTERNAL;
	n = snprintf(head, sizeof(head), "t=%lld\nttl=%ld\ns=%d\n%s%.*s%s",
	    e->stored_ms, e->ttl, e->status, e->etag ? "etag=" : "",
	    e->etag ? (int)e->etag_len : 0, e->etag ? e->etag : "",
	    e->etag ? "\n" : "");
	if (n > 0 && (size_t)n < sizeof(head) && e->gz != NULL)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "gz=%zu\n",
		    e->gz_len);
	if (n > 0 && (size_t)n < sizeof(head))
		n += snprintf(head + n, sizeof(head) - (size_t)n, "\n");
	if (n < 0 || (size_t)n >= sizeof(head))
		return ERR_INTERNAL;
	gzlen = e->gz != NULL ? e->gz_len : 0;
	if (e->body_len > (size_t)-1 / 2 - (size_t)n - 1 ||
	    gzlen > (size_t)-1 / 2)
		return ERR_NOMEM;
	if ((buf = malloc((size_t)n + e->body_len + gzlen + 1)) == NULL)
		return ERR_NOMEM;
	memcpy(buf, head, (size_t)n);
	if (e->body_len > 0)
		memcpy(buf + n, e->body, e->body_len);
	if (gzlen > 0)
		memcpy(buf + n + e->body_len, e->gz, gzlen);
	buf[(size_t)n + e->body_len + gzlen] = '\0';
	*out = buf;
	*outlen = (size_t)n + e->body_len + gzlen;
	return ERR_OK;
}

/* Decimal digits s[len] into [0, max]; -1 on anything else. */
static int
digits(const char *s, size_t len, long long max, long long *out)
{
	long long	v = 0;
	size_t		i;

	if (len == 0 || len > 18)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static int
is_name(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return len > 0;
}

enum err
entry_decode(const char *buf, size_t len, struct entry *e)
{
	struct entry	 out;
	const char	*p = buf, *end, *nl, *eq;
	size_t		 headlen;
	long long	 v;
	size_t		 gzlen = 0;
	int		 have_t = 0, have_ttl = 0, have_gz = 0;

	memset(e, 0, sizeof(*e));
	memset(&out, 0, sizeof(out));
	out.status = 200;

	end = buf + (len < ENTRY_HEAD_MAX ? len : ENTRY_HEAD_MAX);
	for (;;) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return ERR_ENTRY_CORRUPT;
		if (nl == p)
			break;		/* the empty line: body follows */
		if ((eq = memchr(p, '=', (size_t)(nl - p))) == NULL ||
		    !is_name(p, (size_t)(eq - p)))
			return ERR_ENTRY_CORRUPT;
		headlen = (size_t)(eq - p);
		if (headlen == 1 && p[0] == 't') {
			if (digits(eq + 1, (size_t)(nl - eq - 1), STORED_MS_MAX,
			    &v) == -1)
				return ERR_ENTRY_CORRUPT;
			out.stored_ms = v;
			have_t = 1;
		} else if (headlen == 3 && memcmp(p, "ttl", 3) == 0) {
			if (digits(eq + 1, (size_t)(nl - eq - 1), TTL_MAX,
			    &v) == -1)
				return ERR_ENTRY_CORRUPT;
			out.ttl = (long)v;
			have_ttl = 1;
		} else if (headlen == 4 && memcmp(p, "etag", 4) == 0) {
			out.etag = eq + 1;
			out.etag_len = (size_t)(nl - eq - 1);
			if (out.etag_len > ENTRY_ETAG_MAX ||
			    !valid_etag(out.etag, out.etag_len))
				return ERR_ENTRY_CORRUPT;
		} else if (headlen == 2 && memcmp(p, "gz", 2) == 0) {
			if (digits(eq + 1, (size_t)(nl - eq - 1),
			    (long long)len, &v) == -1)
				return ERR_ENTRY_CORRUPT;
			gzlen = (size_t)v;
			have_gz = 1;
		} else if (headlen == 1 && p[0] == 's') {
			if (digits(eq + 1, (size_t)(nl - eq - 1), 599,
			    &v) == -1 || v < 100)
				return ERR_ENTRY_CORRUPT;
			out.status = (int)v;
		}
		/* Unknown names are a later format's; skip them. */
		p = nl + 1;
	}
	if (!have_t || !have_ttl)
		return ERR_ENTRY_CORRUPT;
	out.body = nl + 1;
	out.body_len = len - (size_t)(out.body - buf);
	if (have_gz) {
		/* The gzip bytes end the value; they cannot be empty. */
		if (gzlen == 0 || gzlen > out.body_len)
			return ERR_ENTRY_CORRUPT;
		out.body_len -= gzlen;
		out.gz = out.body + out.body_len;
		out.gz_len = gzlen;
	}
	*e = out;
	return ERR_OK;
}

enum freshness
entry_freshness(const struct entry *e, long long now_ms, long swr)
{
	long long	age_ms = now_ms - e->stored_ms;

	if (age_ms < (long long)e->ttl * 1000)
		return ENTRY_FRESH;
	if (age_ms < ((long long)e->ttl + swr) * 1000)
		return ENTRY_STALE_SWR;
	return ENTRY_STALE;
}

long
entry_age(const struct entry *e, long long now_ms)
{
	long long	age = (now_ms - e->stored_ms) / 1000;

	if (age < 0)
		return 0;	/* another front's clock runs ahead */
	return age > TTL_MAX ? TTL_MAX : (long)age;
}
