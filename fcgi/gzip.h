/*
 * gzip.h: the gzip representation of a body, made once when an entry is
 * filled (never per hit), and the Accept-Encoding test that picks it.
 */
#ifndef GZIP_H
#define GZIP_H

#include <stddef.h>

#include "err.h"

/* Bodies below this are sent plain: gzip would not make them smaller. */
#define GZIP_MIN_BYTES	256
#define GZIP_ITERATIONS	5	/* zopfli's; ~30 ms for the 18 KB list */

/*
 * Compresses in[len] to gzip.  ERR_OK with *out the caller's to free()
 * when the result is at most 90% of len; ERR_OK with *out NULL when it
 * would not gain that much (or len < GZIP_MIN_BYTES): then only the plain
 * body is kept.  Slow: call it after the answer has been sent.
 */
enum err	gzip_compress(const char *in, size_t len, char **out,
		    size_t *outlen);

/*
 * Does an Accept-Encoding field value (NULL: absent) accept gzip?  Yes if
 * it names gzip (or x-gzip, or *) without q=0.  Pure.
 */
int		gzip_accepted(const char *accept_encoding);

#endif /* GZIP_H */
