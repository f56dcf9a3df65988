/*
 * fuzz_body.c: libFuzzer target for body_compact(), against jansson.
 *
 * Input: the first byte picks the shape (even: BODY_TODO, odd: BODY_LIST),
 * the rest is the upstream body, copied into a heap buffer of exactly its
 * length (not terminated), so ASan sees any read past its end.
 *
 * body_compact() replaced a jansson parse and dump; jansson is the
 * reference it is held to:
 *   - whatever jansson accepts (any value, \u0000 allowed in strings) in
 *     the right shape (an object; an array of objects), body_compact()
 *     accepts (but for a raw NUL byte, which jansson 2.14 lets pass after
 *     a number and RFC 8259 does not), and the other way round, numbers
 *     out of jansson's range excepted (body_compact copies numbers as
 *     written);
 *   - on ERR_OK the output is NUL-terminated, no longer than the input,
 *     starts with '{' or '[' as the shape says, and is its own compact
 *     form (a second pass gives the same bytes); jansson reads the output
 *     as the same value as the input;
 *   - on failure: ERR_UPSTREAM_JSON (or ERR_NOMEM), *out NULL, *outlen 0.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "body.h"
#include "fuzz.h"

#define JFLAGS	(JSON_DECODE_ANY | JSON_ALLOW_NUL)

/* Is v of the shape body_compact() must accept? */
static int
shaped(const json_t *v, enum body_shape shape)
{
	size_t	 i;

	if (shape == BODY_TODO)
		return json_is_object(v);
	if (!json_is_array(v))
		return 0;
	for (i = 0; i < json_array_size(v); i++)
		if (!json_is_object(json_array_get(v, i)))
			return 0;
	return 1;
}

/* A jansson error that body_compact() need not share: a number's range. */
static int
range_error(const json_error_t *e)
{
	return strstr(e->text, "too big") != NULL ||
	    strstr(e->text, "overflow") != NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum body_shape	 shape;
	json_error_t	 jerr;
	json_t		*ref, *back;
	char		*in, *out = (char *)1, *again = NULL;
	size_t		 len, outlen = 1, againlen;
	enum err	 rc;

	if (size == 0)
		return 0;
	shape = data[0] % 2 ? BODY_LIST : BODY_TODO;
	len = size - 1;
	if ((in = malloc(len > 0 ? len : 1)) == NULL)
		abort();
	memcpy(in, data + 1, len);

	rc = body_compact(in, len, shape, &out, &outlen);
	ref = json_loadb(in, len, JFLAGS, &jerr);

	if (rc != ERR_OK) {
		CHECK(rc == ERR_UPSTREAM_JSON || rc == ERR_NOMEM);
		CHECK(out == NULL && outlen == 0);
		CHECK(rc == ERR_NOMEM || ref == NULL || !shaped(ref, shape) ||
		    memchr(in, '\0', len) != NULL);
	} else {
		CHECK(out != NULL && outlen <= len && out[outlen] == '\0');
		CHECK(out[0] == (shape == BODY_TODO ? '{' : '['));
		CHECK(ref != NULL || range_error(&jerr));
		CHECK(ref == NULL || shaped(ref, shape));
		CHECK(body_compact(out, outlen, shape, &again, &againlen) ==
		    ERR_OK);
		CHECK(againlen == outlen && memcmp(again, out, outlen) == 0);
		if (ref != NULL) {
			back = json_loadb(out, outlen, JFLAGS, NULL);
			CHECK(back != NULL && json_equal(ref, back));
			json_decref(back);
		}
	}
	json_decref(ref);
	free(again);
	if (rc == ERR_OK)
		free(out);
	free(in);
	return 0;
}
