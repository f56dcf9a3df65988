/*
 * fuzz_etag.c: libFuzzer target for etag_none_match() (and etag_of()).
 *
 * Input: an If-None-Match value, a NUL byte, then body bytes.  The value
 * (a C string, so it ends at that NUL) is copied into a heap buffer of
 * exactly its length + 1; the tag is etag_of(body), passed as (tag,
 * ETAG_LEN) from a heap buffer of exactly ETAG_LEN bytes, so ASan sees a
 * read past either.  No NUL: the whole input is the value, the body empty.
 * Every "$T" in the value is replaced by the tag first, so seeds can put
 * the tag inside a list ('"a", W/$T') and the fuzzer can keep it there.
 *
 * What must hold, from etag.h:
 *   - the tag is '"', 16 lowercase hex digits, '"';
 *   - the answer is 0 or 1, and 0 for an absent (NULL) header;
 *   - it is 1 if the value is exactly the tag, W/ + the tag, or "*".
 * The last is also checked on values built from the tag (the tag, W/ +
 * tag, "*"), since a fuzzer is unlikely to spell a 64-bit hash itself.
 */
#include <stdlib.h>
#include <string.h>

#include "etag.h"
#include "fuzz.h"

/* A heap copy of s[len] plus a NUL, of exactly that size. */
static char *
copy(const char *s, size_t len)
{
	char	*p;

	if ((p = malloc(len + 1)) == NULL)
		abort();
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* in[len] with every "$T" replaced by tag[ETAG_LEN], as a heap copy. */
static char *
expand(const char *in, size_t len, const char *tag)
{
	char	*p;
	size_t	 i, n = 0, out = 0;

	for (i = 0; i + 1 < len; i++)
		if (in[i] == '$' && in[i + 1] == 'T')
			n++;
	if ((p = malloc(len - 2 * n + n * ETAG_LEN + 1)) == NULL)
		abort();
	for (i = 0; i < len; i++) {
		if (i + 1 < len && in[i] == '$' && in[i + 1] == 'T') {
			memcpy(p + out, tag, ETAG_LEN);
			out += ETAG_LEN;
			i++;
		} else
			p[out++] = in[i];
	}
	p[out] = '\0';
	return p;
}

/* Must inm match tag[ETAG_LEN] whatever else the reader does? */
static int
must_match(const char *inm, const char *tag)
{
	if (strcmp(inm, "*") == 0)
		return 1;
	if (strncmp(inm, "W/", 2) == 0)
		inm += 2;
	return strlen(inm) == ETAG_LEN && memcmp(inm, tag, ETAG_LEN) == 0;
}

static void
check(const char *inm, const char *tag)
{
	int	m;

	m = etag_none_match(inm, tag, ETAG_LEN);
	CHECK(m == 0 || m == 1);
	if (must_match(inm, tag))
		CHECK(m == 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 buf[ETAG_LEN + 1], *tag, *inm, *w;
	const char	*in = (const char *)data, *body = "";
	const uint8_t	*nul;
	size_t		 i, len = size, body_len = 0;

	if (size > 0 && (nul = memchr(data, '\0', size)) != NULL) {
		len = (size_t)(nul - data);
		body = in + len + 1;
		body_len = size - len - 1;
	}

	etag_of(body, body_len, buf);
	CHECK(buf[0] == '"' && buf[ETAG_LEN - 1] == '"' &&
	    buf[ETAG_LEN] == '\0');
	for (i = 1; i < ETAG_LEN - 1; i++)
		CHECK((buf[i] >= '0' && buf[i] <= '9') ||
		    (buf[i] >= 'a' && buf[i] <= 'f'));
	if ((tag = malloc(ETAG_LEN)) == NULL)
		abort();
	memcpy(tag, buf, ETAG_LEN);		/* not NUL-terminated */

	CHECK(etag_none_match(NULL, tag, ETAG_LEN) == 0);

	inm = expand(size > 0 ? in : "", len, buf);
	check(inm, tag);
	free(inm);

	/* Values that must match whatever the input was. */
	inm = copy(buf, ETAG_LEN);
	CHECK(etag_none_match(inm, tag, ETAG_LEN) == 1);
	free(inm);
	if ((w = malloc(2 + ETAG_LEN + 1)) == NULL)
		abort();
	memcpy(w, "W/", 2);
	memcpy(w + 2, buf, ETAG_LEN + 1);
	CHECK(etag_none_match(w, tag, ETAG_LEN) == 1);
	free(w);
	inm = copy("*", 1);
	CHECK(etag_none_match(inm, tag, ETAG_LEN) == 1);
	free(inm);

	free(tag);
	return 0;
}
