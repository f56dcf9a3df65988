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
/*
 * zopfli up to this size, zlib above.  zopfli makes the gzip form 6-12%
 * smaller than zlib's best, at 100 to 300 times the CPU: measured on todo
 * JSON here, 70-140 ms for the 18 KB list, ~2 s per MB above that (so 4 s
 * for a 1.1 MB body, 40 s for 8 MB, once per fill).  zlib level 9 takes
 * 1 ms for the list and 25-80 ms per MB.
 */
#define GZIP_ZOPFLI_MAX	(32 * 1024)
#define GZIP_ITERATIONS	5	/* zopfli's */
#define GZIP_ZLIB_LEVEL	9

/*
 * Compresses in[len] to gzip.  ERR_OK with *out the caller's to free()
 * when the result is at most 90% of len; ERR_OK with *out NULL when it
 * would not gain that much (or len < GZIP_MIN_BYTES): then only the plain
 * body is kept.  Memory: above GZIP_ZOPFLI_MAX, the output buffer (90% of
 * len at most) and zlib's state (~400 KB).  Takes a while (see above):
 * call it after the answer has been sent.
 */
enum err	gzip_compress(const char *in, size_t len, char **out,
		    size_t *outlen);

/*
 * Does an Accept-Encoding field value (NULL: absent) accept gzip?  Yes if
 * it names gzip (or x-gzip, or *) without q=0.  Pure.
 */
int		gzip_accepted(const char *accept_encoding);

#endif /* GZIP_H */
