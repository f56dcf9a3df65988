/*
 * body.h: the upstream's JSON bytes -> the compact JSON we store and send.
 *
 * Pure.  jansson parses (a top-level object or array, valid UTF-8, \u0000
 * allowed in string values, not in keys) and re-emits compact with key order kept and non-ASCII text left
 * as UTF-8.  Anything else is ERR_UPSTREAM_JSON and is never cached.
 */
#ifndef BODY_H
#define BODY_H

#include <stddef.h>

#include "err.h"

/*
 * On ERR_OK *out is a new NUL-terminated buffer, the caller's to free(),
 * and *outlen its length; on failure *out is NULL.
 */
enum err	body_compact(const char *in, size_t len, char **out,
		    size_t *outlen);

#endif /* BODY_H */
