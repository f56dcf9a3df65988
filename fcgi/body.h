/*
 * body.h: the upstream's JSON bytes -> the compact JSON we store and send.
 *
 * Pure.  One pass over the bytes, no tree: the JSON is checked (RFC 8259,
 * valid UTF-8, \u0000 allowed in string values, not in keys, nesting at
 * most BODY_DEPTH_MAX) and its shape is checked (a todo is an object, the
 * list an array of objects) while the compact form is written.  Anything
 * else is ERR_UPSTREAM_JSON and is never cached.
 *
 * The compact form keeps key order (and repeated keys), writes strings
 * with only the escapes JSON requires ("\\\"", "\\\\", control characters;
 * \b \f \n \r \t short, the others as \u00XX) and non-ASCII text as UTF-8,
 * and numbers exactly as the upstream wrote them.
 *
 * Cost: time linear in len; memory one buffer of len + 1 bytes (the
 * output, never longer than the input) and nothing else on the heap,
 * whatever the body holds.
 */
#ifndef BODY_H
#define BODY_H

#include <stddef.h>

#include "err.h"

#define BODY_DEPTH_MAX	2048	/* nested arrays and objects (jansson's) */

/* What an upstream path must answer. */
enum body_shape {
	BODY_TODO,	/* /todos/<id>: one object */
	BODY_LIST	/* /todos: an array whose elements are all objects */
};

/*
 * On ERR_OK *out is a new NUL-terminated buffer, the caller's to free(),
 * and *outlen its length; on failure (ERR_UPSTREAM_JSON: not JSON, or not
 * of that shape; ERR_NOMEM) *out is NULL and *outlen 0.
 */
enum err	body_compact(const char *in, size_t len, enum body_shape shape,
		    char **out, size_t *outlen);

/* The shape the upstream path ("/todos" or "/todos/<id>") must answer. */
enum body_shape	body_shape_of(const char *path);

#endif /* BODY_H */
