/*
 * fuzz_entry.c: libFuzzer target for entry_decode() and entry_encode().
 *
 * Input: the stored entry itself, as Redis would hand it back.  It is
 * copied into a heap buffer of exactly its size (not NUL-terminated: the
 * decoder takes buf[len]), so ASan sees any read past the end.
 *
 * What must hold, from entry.h:
 *   - on ERR_OK: body, etag and gz point inside buf, the body is followed
 *     by the gzip bytes (if any) up to buf + len, status is 100..599, ttl >= 0, an etag is at most
 *     ENTRY_ETAG_MAX bytes and starts and ends with '"'; entry_encode()
 *     accepts the entry, and decoding its output gives the same fields and
 *     the same body and etag bytes (the round trip);
 *   - on error: ERR_ENTRY_CORRUPT and *e zeroed (it is filled with junk
 *     before the call, so "left as it was" fails).
 */
#include <stdlib.h>
#include <string.h>

#include "entry.h"
#include "fuzz.h"

/* Does p[n] lie inside buf[len]? */
static int
inside(const char *p, size_t n, const char *buf, size_t len)
{
	uintptr_t	a = (uintptr_t)p, b = (uintptr_t)buf;

	return a >= b && a - b <= len && n <= len - (a - b);
}

static void
check_decoded(const struct entry *e, const char *buf, size_t len)
{
	CHECK(e->status >= 100 && e->status <= 599);
	CHECK(e->stored_ms >= 0 && e->ttl >= 0);
	CHECK(e->body != NULL && inside(e->body, e->body_len, buf, len));
	if (e->gz != NULL) {
		CHECK(e->gz_len > 0 && e->gz == e->body + e->body_len);
		CHECK(e->gz + e->gz_len == buf + len);
	} else {
		CHECK(e->gz_len == 0);
		CHECK(e->body + e->body_len == buf + len);
	}
	if (e->etag != NULL) {
		CHECK(inside(e->etag, e->etag_len, buf, len));
		CHECK(e->etag_len >= 2 && e->etag_len <= ENTRY_ETAG_MAX);
		CHECK(e->etag[0] == '"' && e->etag[e->etag_len - 1] == '"');
		CHECK(e->etag + e->etag_len <= e->body);
	} else
		CHECK(e->etag_len == 0);
}

/* Encode e, decode the result: the same entry must come back. */
static void
round_trip(const struct entry *e)
{
	struct entry	 again;
	char		*out;
	size_t		 outlen;
	enum err	 err;

	err = entry_encode(e, &out, &outlen);
	if (err == ERR_NOMEM) {
		CHECK(out == NULL);
		return;
	}
	CHECK(err == ERR_OK && out != NULL);

	memset(&again, 0xa5, sizeof(again));
	CHECK(entry_decode(out, outlen, &again) == ERR_OK);
	check_decoded(&again, out, outlen);
	CHECK(again.stored_ms == e->stored_ms);
	CHECK(again.ttl == e->ttl);
	CHECK(again.status == e->status);
	CHECK((again.etag == NULL) == (e->etag == NULL));
	CHECK(again.etag_len == e->etag_len);
	if (e->etag != NULL)
		CHECK(memcmp(again.etag, e->etag, e->etag_len) == 0);
	CHECK(again.body_len == e->body_len);
	CHECK(memcmp(again.body, e->body, e->body_len) == 0);
	CHECK(again.gz_len == e->gz_len);
	if (e->gz != NULL)
		CHECK(memcmp(again.gz, e->gz, e->gz_len) == 0);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct entry	 e;
	char		*buf;
	enum err	 err;

	/* ASan's malloc(0) is a pointer to no bytes; a NULL one is no input. */
	if ((buf = malloc(size)) == NULL) {
		if (size == 0)
			return 0;
		abort();
	}
	if (size > 0)
		memcpy(buf, data, size);

	memset(&e, 0xa5, sizeof(e));
	err = entry_decode(buf, size, &e);
	if (err == ERR_OK) {
		check_decoded(&e, buf, size);
		round_trip(&e);
	} else {
		CHECK(err == ERR_ENTRY_CORRUPT);
		CHECK(e.stored_ms == 0 && e.ttl == 0 && e.status == 0);
		CHECK(e.etag == NULL && e.etag_len == 0);
		CHECK(e.body == NULL && e.body_len == 0);
		CHECK(e.gz == NULL && e.gz_len == 0);
	}
	free(buf);
	return 0;
}
