/*
 * etag.h: validators.  A strong ETag derived from the body alone, so every
 * front computes the same tag for the same bytes and a refill with an
 * unchanged body keeps its tag; and the If-None-Match test.  Pure.
 */
#ifndef ETAG_H
#define ETAG_H

#include <stddef.h>

#define ETAG_LEN	18	/* '"' + 16 hex digits + '"' */

/* Writes the NUL-terminated tag of body[len] into out[ETAG_LEN + 1]. */
void	etag_of(const char *body, size_t len, char out[ETAG_LEN + 1]);

/*
 * Does an If-None-Match field value (NULL: absent) match etag[len] (with
 * its quotes)?  "*" matches; otherwise a comma-separated list of entity
 * tags compared weakly (W/ ignored).  A malformed list matches nothing, so
 * the client gets the full answer.
 */
int	etag_none_match(const char *inm, const char *etag, size_t len);

#endif /* ETAG_H */
