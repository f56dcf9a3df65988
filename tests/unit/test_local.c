/*
 * test_local.c: tests of the in-process cache (local.h).
 *
 * Most of it is scenarios: a cache of some max_bytes and a list of steps
 * (put with a fresh or a saved mark, a get that must hit with given bytes
 * or miss, invalidate, disable, enable, losses, and references held over
 * other steps) on a made-up clock.  Every step carries its __LINE__; a
 * failing step is printed with its key and what came back, and the
 * scenario goes on.  Every hit is released exactly once with
 * local_release().  A reference must keep its bytes readable whatever
 * happens to its key meanwhile (invalidated, evicted, replaced, expired,
 * the cache disabled or emptied by local_losses), and the last release
 * must free the node: ASan (make sanitize, detect_leaks=1) reports a read
 * of freed bytes or a node never freed.  A lock left held still shows up
 * as a hang, which the watchdog in main() turns into a failure.
 *
 * The byte bound is observed from outside, by which keys still hit.  The
 * cache counts key + value + a node overhead it does not publish.  The
 * scenarios assume only that the overhead is below OVERHEAD_MAX and use
 * sizes whose outcome is the same for any overhead up to that; the random
 * test measures it (through the max_bytes / 4 rule) and checks every step
 * against an exact LRU model.
 *
 * Keys and values are handed over in heap buffers of exactly their length,
 * so that ASan reports any read past them.  The threaded test is the one
 * place that reads a clock: it stops after STRESS_MS of wall time.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "local.h"

/*
 * What the tests assume a node may cost beyond its key and value (local.c
 * says 16 bytes more than its struct node).  Not a contract: if the node
 * grows past it, the sizes below need another look.
 */
#define OVERHEAD_MAX	256

#define NEVER		(1LL << 62)	/* an expiry no clock here reaches */

/* len bytes that depend on fill and on the offset, NULs included. */
static void
pattern(char *buf, char fill, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		buf[i] = (char)((unsigned char)fill + i % 61);
}

static char *
pattern_exact(char fill, size_t len)
{
	char	*p = malloc(len > 0 ? len : 1);

	assert_non_null(p);
	pattern(p, fill, len);
	return p;
}

enum op {
	OP_END,
	OP_PUT,		/* local_put(l, local_mark(l), key, val, expires t) */
	OP_PUT_SAVED,	/* the same with the mark OP_MARK saved */
	OP_MARK,	/* save local_mark(l) */
	OP_HIT,		/* local_get(key, now t) hits with val; released */
	OP_MISS,	/* local_get(key, now t) misses */
	OP_HOLD,	/* as OP_HIT, the reference kept in slot want */
	OP_HELD,	/* slot want's reference still reads val */
	OP_RELEASE,	/* local_release(slot want's reference) */
	OP_RELNULL,	/* local_release(l, NULL): nothing happens */
	OP_INV,		/* local_invalidate(key); key NULL: everything */
	OP_DISABLE,
	OP_ENABLE,
	OP_ENABLED,	/* local_enabled() == want */
	OP_LOSSES	/* local_losses(l, t) */
};

struct step {
	int		 line;
	enum op		 op;
	const char	*key;
	size_t		 keylen;
	const char	*val;	/* NULL: len bytes of pattern(fill) */
	size_t		 len;
	char		 fill;
	long long	 t;	/* PUT: expires_ms; HIT, MISS: now_ms */
	int		 want;	/* ENABLED: on; HOLD, HELD, RELEASE: slot */
};

#define S(lit)		lit, sizeof(lit) - 1
#define PUT(k, v)	{ __LINE__, OP_PUT, S(k), S(v), 0, NEVER, 0 }
#define PUTX(k, v, x)	{ __LINE__, OP_PUT, S(k), S(v), 0, x, 0 }
#define PUTN(k, f, n)	{ __LINE__, OP_PUT, S(k), NULL, n, f, NEVER, 0 }
#define PUTNX(k, f, n, x) { __LINE__, OP_PUT, S(k), NULL, n, f, x, 0 }
#define SAVED(k, v)	{ __LINE__, OP_PUT_SAVED, S(k), S(v), 0, NEVER, 0 }
#define MARK		{ __LINE__, OP_MARK, NULL, 0, NULL, 0, 0, 0, 0 }
#define HIT(k, v)	{ __LINE__, OP_HIT, S(k), S(v), 0, 0, 0 }
#define HITAT(k, v, t)	{ __LINE__, OP_HIT, S(k), S(v), 0, t, 0 }
#define HITN(k, f, n)	{ __LINE__, OP_HIT, S(k), NULL, n, f, 0, 0 }
#define MISS(k)		{ __LINE__, OP_MISS, S(k), NULL, 0, 0, 0, 0 }
#define MISSAT(k, t)	{ __LINE__, OP_MISS, S(k), NULL, 0, 0, t, 0 }
#define INV(k)		{ __LINE__, OP_INV, S(k), NULL, 0, 0, 0, 0 }
#define INVALL		{ __LINE__, OP_INV, NULL, 0, NULL, 0, 0, 0, 0 }
#define DISABLE		{ __LINE__, OP_DISABLE, NULL, 0, NULL, 0, 0, 0, 0 }
#define ENABLE		{ __LINE__, OP_ENABLE, NULL, 0, NULL, 0, 0, 0, 0 }
#define ENABLED(w)	{ __LINE__, OP_ENABLED, NULL, 0, NULL, 0, 0, 0, w }
#define LOSSES(n)	{ __LINE__, OP_LOSSES, NULL, 0, NULL, 0, 0, n, 0 }
#define HOLD(s, k, v)	{ __LINE__, OP_HOLD, S(k), S(v), 0, 0, s }
#define HOLDAT(s, k, v, t) { __LINE__, OP_HOLD, S(k), S(v), 0, t, s }
#define HOLDN(s, k, f, n) { __LINE__, OP_HOLD, S(k), NULL, n, f, 0, s }
#define HELD(s, v)	{ __LINE__, OP_HELD, NULL, 0, S(v), 0, 0, s }
#define HELDN(s, f, n)	{ __LINE__, OP_HELD, NULL, 0, NULL, n, f, 0, s }
#define RELEASE(s)	{ __LINE__, OP_RELEASE, NULL, 0, NULL, 0, 0, 0, s }
#define RELNULL		{ __LINE__, OP_RELNULL, NULL, 0, NULL, 0, 0, 0, 0 }
#define END		{ 0, OP_END, NULL, 0, NULL, 0, 0, 0, 0 }

#define STEPS_MAX	48
#define SLOTS		4	/* references a scenario holds at once */

struct scenario {
	int		 line;
	const char	*what;
	size_t		 max_bytes;
	struct step	 steps[STEPS_MAX];
};

/*
 * Sizes for the byte bound.  With 1-byte keys a BIG entry is 90001 bytes
 * before overhead: below M4 / 4 = 100000, and exactly 4 fit in M4 for any
 * overhead up to 9999 (4 * 100000 <= M4 < 5 * 90001).  SMALL entries are
 * 10000 bytes; see the scenario that mixes them.
 */
#define M4	400000
#define BIG	90000
#define SMALL	9999

static const struct scenario scenarios[] = {
	{ __LINE__, "max_bytes 0: no cache, every call a no-op", 0, {
		ENABLED(0),
		ENABLE,
		ENABLED(0),
		PUT("todo:1", "{}"),
		MISS("todo:1"),
		MARK,
		SAVED("todo:1", "{}"),
		MISS("todo:1"),
		INV("todo:1"),
		INVALL,
		DISABLE,
		ENABLE,
		MISS("todo:1"),
		LOSSES(1),
		RELNULL,
		ENABLED(0),
		END } },
	{ __LINE__, "a new cache is off until local_enable", 1 << 20, {
		ENABLED(0),
		PUT("todo:1", "{}"),		/* refused */
		MISS("todo:1"),
		ENABLE,
		ENABLED(1),
		MISS("todo:1"),			/* was not kept while off */
		PUT("todo:1", "{}"),
		HIT("todo:1", "{}"),
		END } },
	{ __LINE__, "put then get: the exact bytes, again and again", 1 << 20, {
		ENABLE,
		MISS("todo:1"),
		PUT("todo:1", "{\"id\":1}"),
		HIT("todo:1", "{\"id\":1}"),
		HIT("todo:1", "{\"id\":1}"),	/* released, not locked */
		HIT("todo:1", "{\"id\":1}"),
		MISS("todo:2"),
		PUT("todo:2", "{\"id\":2}"),
		HIT("todo:1", "{\"id\":1}"),
		HIT("todo:2", "{\"id\":2}"),
		PUT("empty", ""),		/* a value of 0 bytes */
		HIT("empty", ""),
		PUT("", "no key"),		/* a key of 0 bytes */
		HIT("", "no key"),
		HIT("empty", ""),
		END } },
	{ __LINE__, "expiry: now >= expires misses and drops", 1 << 20, {
		ENABLE,
		PUTX("a", "1", 1000),
		HITAT("a", "1", 0),
		HITAT("a", "1", 999),
		MISSAT("a", 1000),		/* at expires_ms */
		MISSAT("a", 0),			/* dropped, not hidden */
		PUTX("b", "2", 1000),
		PUTX("c", "3", 2000),
		MISSAT("b", 5000),		/* long after */
		MISSAT("b", 999),
		HITAT("c", "3", 1999),		/* each key its own */
		MISSAT("c", 2000),
		MISSAT("c", 1),
		PUTX("d", "4", 0),
		MISSAT("d", 0),
		PUTX("e", "5", 1000),		/* put again after expiry */
		MISSAT("e", 1000),
		PUTX("e", "6", 3000),
		HITAT("e", "6", 2999),
		END } },
	{ __LINE__, "a stale mark is refused, a current one kept", 1 << 20, {
		ENABLE,
		MARK,
		SAVED("a", "1"),		/* nothing in between */
		HIT("a", "1"),
		MARK,
		INV("b"),			/* any key, even one not held */
		SAVED("c", "3"),
		MISS("c"),
		HIT("a", "1"),			/* was not b */
		MARK,
		INV("c"),
		INV("a"),
		SAVED("c", "3"),
		MISS("c"),
		MISS("a"),
		MARK,
		INVALL,
		SAVED("c", "3"),
		MISS("c"),
		MARK,
		DISABLE,
		ENABLE,
		SAVED("c", "3"),
		MISS("c"),
		MARK,
		PUT("x", "9"),			/* puts do not stale a mark */
		HIT("x", "9"),			/* nor do gets */
		MISS("y"),
		SAVED("c", "3"),
		HIT("c", "3"),
		MARK,
		SAVED("d", "4"),		/* one mark, many puts */
		SAVED("e", "5"),
		HIT("d", "4"),
		HIT("e", "5"),
		END } },
	{ __LINE__, "local_invalidate(key) drops that key only", 1 << 20, {
		ENABLE,
		PUT("todo:1", "1"),
		PUT("todo:10", "10"),
		PUT("todo:2", "2"),
		INV("todo:1"),
		MISS("todo:1"),
		HIT("todo:10", "10"),		/* a longer key, same prefix */
		HIT("todo:2", "2"),
		INV("todo:3"),			/* not held: nothing happens */
		INV("todo:"),
		HIT("todo:10", "10"),
		HIT("todo:2", "2"),
		INV("todo:1"),			/* twice */
		HIT("todo:10", "10"),
		PUT("todo:1", "1b"),		/* and back */
		HIT("todo:1", "1b"),
		END } },
	{ __LINE__, "local_invalidate(NULL) drops everything", 1 << 20, {
		ENABLE,
		PUT("a", "1"), PUT("b", "2"), PUT("c", "3"),
		INVALL,
		MISS("a"), MISS("b"), MISS("c"),
		ENABLED(1),			/* still on */
		PUT("a", "4"),
		HIT("a", "4"),
		MISS("b"),
		INVALL,
		INVALL,				/* on an empty cache */
		MISS("a"),
		END } },
	{ __LINE__, "local_disable empties and refuses until enabled",
	    1 << 20, {
		ENABLE,
		PUT("a", "1"), PUT("b", "2"),
		DISABLE,
		ENABLED(0),
		MISS("a"), MISS("b"),
		PUT("a", "3"),			/* refused */
		MISS("a"),
		MARK,
		SAVED("a", "3"),		/* even with a fresh mark */
		MISS("a"),
		INV("a"),			/* harmless while off */
		DISABLE,			/* twice */
		ENABLE,
		ENABLED(1),
		MISS("a"), MISS("b"),		/* emptied, not hidden */
		PUT("a", "4"),
		HIT("a", "4"),
		ENABLE,				/* twice: keeps what it holds */
		HIT("a", "4"),
		END } },
	{ __LINE__, "a put replaces: one copy, the new bytes", 1 << 20, {
		ENABLE,
		PUT("a", "first"),
		PUT("a", "second, longer"),
		HIT("a", "second, longer"),
		PUT("a", "3rd"),		/* shorter */
		HIT("a", "3rd"),
		PUT("a", ""),
		HIT("a", ""),
		PUT("a", "last"),
		HIT("a", "last"),
		INV("a"),			/* no older copy under it */
		MISS("a"),
		PUTX("b", "old", 1000),
		PUTX("b", "new", 5000),		/* the new expiry holds */
		HITAT("b", "new", 4999),
		MISSAT("b", 5000),
		END } },
	{ __LINE__, "keys that differ in length or last byte", 1 << 20, {
		ENABLE,
		PUT("todo:1", "A"),
		PUT("todo:10", "B"),
		PUT("todo:1\0", "C"),
		PUT("todo:", "D"),
		PUT("todo:2", "E"),
		PUT("todo:1\xff", "F"),
		PUT("todo:0", "G"),
		PUT("Todo:1", "H"),
		HIT("todo:1", "A"),
		HIT("todo:10", "B"),
		HIT("todo:1\0", "C"),
		HIT("todo:", "D"),
		HIT("todo:2", "E"),
		HIT("todo:1\xff", "F"),
		HIT("todo:0", "G"),
		HIT("Todo:1", "H"),
		MISS("todo:3"),
		MISS("todo:100"),
		MISS("todo"),
		MISS("todo:1\0\0"),
		MISS("odo:1"),
		MISS(""),
		INV("todo:1\0"),
		MISS("todo:1\0"),
		HIT("todo:1", "A"),
		HIT("todo:10", "B"),
		HIT("todo:1\xff", "F"),
		INV("todo:1"),
		MISS("todo:1"),
		HIT("todo:10", "B"),
		HIT("todo:", "D"),
		END } },
	{ __LINE__, "binary keys and values, NULs inside", 1 << 20, {
		ENABLE,
		PUT("\0", "\0"),
		PUT("\0\0", "\0\0\xff"),
		PUT("a\0b", "x\0y\0"),
		PUT("a\0c", "x\0z\0"),		/* differs after the NUL */
		PUT("\xff\xfe\x80", "\x01\x02\0\x7f\x80\xff"),
		HIT("\0", "\0"),
		HIT("\0\0", "\0\0\xff"),
		HIT("a\0b", "x\0y\0"),
		HIT("a\0c", "x\0z\0"),
		HIT("\xff\xfe\x80", "\x01\x02\0\x7f\x80\xff"),
		MISS("a"),
		MISS("a\0"),
		MISS("\0\0\0"),
		INV("a\0b"),
		MISS("a\0b"),
		HIT("a\0c", "x\0z\0"),
		END } },
	{ __LINE__, "LRU: 4 BIG fit, the least recently used goes",
	    M4, {
		ENABLE,
		PUTN("a", 'a', BIG), PUTN("b", 'b', BIG),
		PUTN("c", 'c', BIG), PUTN("d", 'd', BIG),
		HITN("a", 'a', BIG),		/* LRU order now b c d a */
		PUTN("e", 'e', BIG),		/* b goes */
		MISS("b"),
		HITN("c", 'c', BIG),		/* d a e c */
		PUTN("f", 'f', BIG),		/* d goes */
		MISS("d"),
		HITN("a", 'a', BIG),		/* oldest first: the order */
		HITN("e", 'e', BIG),		/* stays a e c f */
		HITN("c", 'c', BIG),
		HITN("f", 'f', BIG),
		PUTN("e", 'E', BIG),		/* a replace is a use: a c f e */
		PUTN("g", 'g', BIG),		/* a goes */
		MISS("a"),
		PUTN("h", 'h', BIG),		/* c goes */
		MISS("c"),
		HITN("f", 'f', BIG),
		HITN("e", 'E', BIG),
		HITN("g", 'g', BIG),
		HITN("h", 'h', BIG),
		MISS("b"), MISS("d"),		/* gone for good */
		END } },
	{ __LINE__, "LRU: replacing, dropping and expiring free bytes",
	    M4, {
		ENABLE,
		PUTN("a", '1', BIG), PUTN("a", '2', BIG),
		PUTN("a", '3', BIG), PUTN("a", '4', BIG),
		PUTN("a", '5', BIG),		/* 5 puts, one entry */
		PUTN("b", 'b', BIG), PUTN("c", 'c', BIG),
		PUTN("d", 'd', BIG),
		HITN("a", '5', BIG),
		HITN("b", 'b', BIG),
		HITN("c", 'c', BIG),
		HITN("d", 'd', BIG),
		INV("b"),
		PUTN("e", 'e', BIG),		/* b's room: nothing goes */
		HITN("a", '5', BIG),
		HITN("c", 'c', BIG),
		HITN("d", 'd', BIG),
		HITN("e", 'e', BIG),
		PUTNX("a", 'x', BIG, 10),	/* a expires at 10 */
		MISSAT("a", 10),
		PUTN("f", 'f', BIG),		/* a's room */
		HITN("c", 'c', BIG),
		HITN("d", 'd', BIG),
		HITN("e", 'e', BIG),
		HITN("f", 'f', BIG),
		INVALL,
		PUTN("g", 'g', BIG), PUTN("h", 'h', BIG),
		PUTN("i", 'i', BIG), PUTN("j", 'j', BIG),
		HITN("g", 'g', BIG),
		HITN("h", 'h', BIG),
		HITN("i", 'i', BIG),
		HITN("j", 'j', BIG),
		DISABLE,
		ENABLE,
		PUTN("k", 'k', BIG), PUTN("l", 'l', BIG),
		PUTN("m", 'm', BIG), PUTN("n", 'n', BIG),
		HITN("k", 'k', BIG),
		HITN("l", 'l', BIG),
		HITN("m", 'm', BIG),
		HITN("n", 'n', BIG),
		END } },
	/*
	 * 8 SMALL + 3 BIG hold 350003 + 11 overheads.  One more BIG must
	 * evict the 5 oldest SMALL, and only them: with 4 gone the total
	 * would be 400004 + 8 overheads > M4, with 5 gone it is 390004 + 7
	 * overheads <= M4 for any overhead up to 570.
	 */
	{ __LINE__, "LRU: one BIG evicts as many SMALL as it needs", M4, {
		ENABLE,
		PUTN("a", 'a', SMALL), PUTN("b", 'b', SMALL),
		PUTN("c", 'c', SMALL), PUTN("d", 'd', SMALL),
		PUTN("e", 'e', SMALL), PUTN("f", 'f', SMALL),
		PUTN("g", 'g', SMALL), PUTN("h", 'h', SMALL),
		PUTN("X", 'X', BIG), PUTN("Y", 'Y', BIG),
		PUTN("Z", 'Z', BIG),
		HITN("a", 'a', SMALL),		/* all there; order kept */
		HITN("b", 'b', SMALL),
		HITN("c", 'c', SMALL),
		HITN("d", 'd', SMALL),
		HITN("e", 'e', SMALL),
		HITN("f", 'f', SMALL),
		HITN("g", 'g', SMALL),
		HITN("h", 'h', SMALL),
		HITN("X", 'X', BIG),
		HITN("Y", 'Y', BIG),
		HITN("Z", 'Z', BIG),
		PUTN("W", 'W', BIG),
		MISS("a"), MISS("b"), MISS("c"), MISS("d"), MISS("e"),
		HITN("f", 'f', SMALL),
		HITN("g", 'g', SMALL),
		HITN("h", 'h', SMALL),
		HITN("X", 'X', BIG),
		HITN("Y", 'Y', BIG),
		HITN("Z", 'Z', BIG),
		HITN("W", 'W', BIG),
		END } },
	{ __LINE__, "more than max_bytes / 4: never stored, evicts nothing",
	    M4, {
		ENABLE,
		PUTN("a", 'a', BIG), PUTN("b", 'b', BIG),
		PUTN("c", 'c', BIG), PUTN("d", 'd', BIG),
		PUTN("z", 'z', M4 / 4),		/* 100001 with its key */
		MISS("z"),
		PUTN("z", 'z', M4),
		MISS("z"),
		HITN("a", 'a', BIG),
		HITN("b", 'b', BIG),
		HITN("c", 'c', BIG),
		HITN("d", 'd', BIG),
		END } },
	{ __LINE__, "a reference outlives local_invalidate(key)", 1 << 20, {
		ENABLE,
		PUT("todo:1", "{\"id\":1}"),
		PUT("todo:2", "{\"id\":2}"),
		HOLD(0, "todo:1", "{\"id\":1}"),
		INV("todo:1"),
		MISS("todo:1"),			/* out of the table */
		HELD(0, "{\"id\":1}"),		/* still readable */
		HIT("todo:2", "{\"id\":2}"),
		PUT("todo:1", "{\"id\":1,\"v\":2}"),	/* beside the held */
		HIT("todo:1", "{\"id\":1,\"v\":2}"),
		HELD(0, "{\"id\":1}"),
		RELEASE(0),			/* the last reference: freed */
		HIT("todo:1", "{\"id\":1,\"v\":2}"),
		HOLD(1, "todo:2", "{\"id\":2}"),	/* two on one node */
		HOLD(2, "todo:2", "{\"id\":2}"),
		INV("todo:2"),
		HELD(1, "{\"id\":2}"),
		HELD(2, "{\"id\":2}"),
		RELEASE(1),			/* not the last one */
		HELD(2, "{\"id\":2}"),
		MISS("todo:2"),
		RELEASE(2),
		MISS("todo:2"),
		HOLD(0, "todo:1", "{\"id\":1,\"v\":2}"),
		RELEASE(0),			/* while in the table */
		HIT("todo:1", "{\"id\":1,\"v\":2}"),	/* leaves it there */
		RELNULL,
		HIT("todo:1", "{\"id\":1,\"v\":2}"),
		END } },
	{ __LINE__, "a reference outlives local_invalidate(NULL) and "
	    "local_disable", 1 << 20, {
		ENABLE,
		PUT("a", "1"), PUT("b", "2"),
		HOLD(0, "a", "1"),
		HOLD(1, "b", "2"),
		INVALL,
		MISS("a"), MISS("b"),
		HELD(0, "1"),
		HELD(1, "2"),
		RELEASE(1),
		PUT("b", "3"),
		HOLD(1, "b", "3"),
		DISABLE,
		MISS("b"),
		HELD(0, "1"),
		HELD(1, "3"),
		ENABLE,
		MISS("b"),			/* emptied, not hidden */
		HELD(1, "3"),
		PUT("a", "4"),
		HIT("a", "4"),
		HELD(0, "1"),
		RELEASE(0),
		RELEASE(1),
		HIT("a", "4"),
		END } },
	{ __LINE__, "a reference outlives a put of its key: old bytes there, "
	    "new ones from a get", 1 << 20, {
		ENABLE,
		PUT("a", "old"),
		HOLD(0, "a", "old"),
		PUT("a", "new, longer"),
		HELD(0, "old"),
		HIT("a", "new, longer"),
		HOLD(1, "a", "new, longer"),
		PUT("a", ""),
		HELD(0, "old"),
		HELD(1, "new, longer"),
		HIT("a", ""),
		RELEASE(0),
		HELD(1, "new, longer"),
		HIT("a", ""),
		MARK,
		INV("b"),
		SAVED("a", "stale"),		/* refused: a stays as it was */
		HIT("a", ""),
		HELD(1, "new, longer"),
		RELEASE(1),
		HIT("a", ""),
		END } },
	{ __LINE__, "a reference outlives eviction by other keys", M4, {
		ENABLE,
		PUTN("a", 'a', BIG), PUTN("b", 'b', BIG),
		PUTN("c", 'c', BIG), PUTN("d", 'd', BIG),
		HOLDN(0, "a", 'a', BIG),	/* LRU order now b c d a */
		PUTN("e", 'e', BIG),		/* b goes */
		PUTN("f", 'f', BIG),		/* c */
		PUTN("g", 'g', BIG),		/* d */
		PUTN("h", 'h', BIG),		/* a, held */
		MISS("a"),
		HELDN(0, 'a', BIG),
		HITN("e", 'e', BIG),
		HITN("f", 'f', BIG),
		HITN("g", 'g', BIG),
		HITN("h", 'h', BIG),
		RELEASE(0),
		HOLDN(1, "e", 'e', BIG),
		PUTN("e", 'E', M4),		/* too big: e is dropped */
		MISS("e"),
		HELDN(1, 'e', BIG),
		RELEASE(1),
		HITN("f", 'f', BIG),
		END } },
	{ __LINE__, "a reference outlives its copy's expiry", 1 << 20, {
		ENABLE,
		PUTX("a", "1", 1000),
		HOLDAT(0, "a", "1", 999),
		MISSAT("a", 1000),		/* drops the held copy */
		HELD(0, "1"),
		MISSAT("a", 0),
		RELEASE(0),
		MISSAT("a", 0),
		END } },
	{ __LINE__, "local_losses: the same count keeps, a new one empties",
	    1 << 20, {
		ENABLE,
		LOSSES(5),			/* the first count seen */
		PUT("a", "1"), PUT("b", "2"),
		LOSSES(5),
		LOSSES(5),
		HIT("a", "1"),
		HIT("b", "2"),
		LOSSES(6),
		MISS("a"), MISS("b"),
		ENABLED(1),			/* emptied, not disabled */
		PUT("a", "3"),
		HIT("a", "3"),
		MARK,
		LOSSES(6),
		SAVED("c", "4"),		/* the same count: mark holds */
		HIT("c", "4"),
		MARK,
		LOSSES(7),
		SAVED("d", "5"),		/* marked before: refused */
		MISS("d"),
		MISS("a"), MISS("c"),
		PUT("d", "6"),			/* marked after: kept */
		HIT("d", "6"),
		HOLD(0, "d", "6"),
		LOSSES(8),
		MISS("d"),
		HELD(0, "6"),
		RELEASE(0),
		PUT("e", "7"),
		LOSSES(1000000),		/* any step counts */
		MISS("e"),
		DISABLE,
		LOSSES(1000001),		/* counted while off too */
		ENABLE,
		PUT("f", "8"),
		LOSSES(1000001),
		HIT("f", "8"),
		END } },
};

static const char *
op_name(enum op op)
{
	switch (op) {
	case OP_PUT:		return "local_put";
	case OP_PUT_SAVED:	return "local_put(saved mark)";
	case OP_MARK:		return "local_mark";
	case OP_HIT:		return "local_get (want a hit)";
	case OP_MISS:		return "local_get (want a miss)";
	case OP_INV:		return "local_invalidate";
	case OP_DISABLE:	return "local_disable";
	case OP_ENABLE:		return "local_enable";
	case OP_ENABLED:	return "local_enabled";
	case OP_HOLD:		return "local_get (want a hit, held)";
	case OP_HELD:		return "a held reference";
	case OP_RELEASE:	return "local_release";
	case OP_RELNULL:	return "local_release(NULL)";
	case OP_LOSSES:		return "local_losses";
	default:		return "(end)";
	}
}

/* The step's value, as a heap copy of exactly its length. */
static char *
step_val(const struct step *st)
{
	return st->val != NULL ? exact(st->val, st->len) :
	    pattern_exact(st->fill, st->len);
}

/* A reference a scenario holds over other steps, and what it read. */
struct held {
	struct local_ref	*ref;
	const char		*got;
	size_t			 len;
	int			 line;	/* of its HOLD */
};

/*
 * Checks a hit (ref, got, gotlen) of st against what st wants: a miss for
 * OP_MISS, else val.  Returns ref, or NULL after releasing it.
 */
static struct local_ref *
check_get(const struct scenario *sc, const struct step *st,
    struct local *l, struct local_ref *ref, const char *got, size_t gotlen)
{
	char	*val, a[128], b[128], c[128];

	if (st->key != NULL)
		(void)show(st->key, st->keylen, a, sizeof(a));
	else
		(void)snprintf(a, sizeof(a), "NULL");
	val = st->op != OP_MISS ? step_val(st) : NULL;
	if (ref != NULL && st->op == OP_MISS)
		row_fail(st->line, "%s: %s(%s, now %lld): hit %s, want a "
		    "miss", sc->what, op_name(st->op), a, st->t,
		    show(got, gotlen, b, sizeof(b)));
	else if (ref == NULL && st->op != OP_MISS)
		row_fail(st->line, "%s: %s(%s, now %lld): miss, want %s",
		    sc->what, op_name(st->op), a, st->t,
		    show(val, st->len, c, sizeof(c)));
	else if (ref != NULL && (gotlen != st->len || got == NULL ||
	    memcmp(got, val, gotlen) != 0))
		row_fail(st->line, "%s: %s(%s, now %lld): %s (%zu bytes), "
		    "want %s (%zu bytes)", sc->what, op_name(st->op), a,
		    st->t, show(got, gotlen, b, sizeof(b)), gotlen,
		    show(val, st->len, c, sizeof(c)), st->len);
	free(val);
	if (ref != NULL && st->op != OP_HOLD) {
		local_release(l, ref);	/* once per hit */
		ref = NULL;
	}
	return ref;
}

/* A held reference must still read what st says (the bytes it hit). */
static void
check_held(const struct scenario *sc, const struct step *st,
    const struct held *h)
{
	char	*val, b[128], c[128];

	if (h->ref == NULL) {
		row_fail(st->line, "%s: slot %d holds nothing (its get "
		    "missed)", sc->what, st->want);
		return;
	}
	val = step_val(st);
	if (h->len != st->len || memcmp(h->got, val, st->len) != 0)
		row_fail(st->line, "%s: the reference held since line %d "
		    "reads %s (%zu bytes), want %s (%zu bytes)", sc->what,
		    h->line, show(h->got, h->len, b, sizeof(b)), h->len,
		    show(val, st->len, c, sizeof(c)), st->len);
	free(val);
}

static void
run(const struct scenario *sc)
{
	const struct step	*st;
	struct local		*l;
	struct local_ref	*ref;
	struct held		 held[SLOTS], *h;
	const char		*got;
	char			*key, *val;
	unsigned long		 saved = 0;
	size_t			 i, gotlen;
	int			 on;

	memset(held, 0, sizeof(held));
	l = local_new(sc->max_bytes);
	assert_non_null(l);
	for (i = 0; i < STEPS_MAX && sc->steps[i].op != OP_END; i++) {
		st = &sc->steps[i];
		key = st->key != NULL ? exact(st->key, st->keylen) : NULL;
		h = NULL;
		if (st->op == OP_HOLD || st->op == OP_HELD ||
		    st->op == OP_RELEASE) {
			if (st->want < 0 || st->want >= SLOTS)
				fail_msg("bad slot at line %d", st->line);
			h = &held[st->want];
		}
		switch (st->op) {
		case OP_PUT:
		case OP_PUT_SAVED:
			val = step_val(st);
			local_put(l, st->op == OP_PUT ? local_mark(l) : saved,
			    key, st->keylen, val, st->len, st->t);
			free(val);
			break;
		case OP_MARK:
			saved = local_mark(l);
			break;
		case OP_HIT:
		case OP_MISS:
		case OP_HOLD:
			if (h != NULL && h->ref != NULL)
				fail_msg("slot %d already held at line %d",
				    st->want, st->line);
			got = NULL;
			gotlen = 0;
			ref = local_get(l, key, st->keylen, st->t, &got,
			    &gotlen);
			ref = check_get(sc, st, l, ref, got, gotlen);
			if (h != NULL && ref != NULL) {
				h->ref = ref;
				h->got = got;
				h->len = gotlen;
				h->line = st->line;
			}
			break;
		case OP_HELD:
			check_held(sc, st, h);
			break;
		case OP_RELEASE:
			local_release(l, h->ref);	/* NULL: HOLD missed */
			h->ref = NULL;
			break;
		case OP_RELNULL:
			local_release(l, NULL);
			break;
		case OP_INV:
			local_invalidate(l, key, st->keylen);
			break;
		case OP_DISABLE:
			local_disable(l);
			break;
		case OP_ENABLE:
			local_enable(l);
			break;
		case OP_ENABLED:
			if ((on = local_enabled(l)) != st->want)
				row_fail(st->line, "%s: local_enabled: %d, "
				    "want %d", sc->what, on, st->want);
			break;
		case OP_LOSSES:
			local_losses(l, (unsigned long)st->t);
			break;
		default:
			fail_msg("bad step at line %d", st->line);
		}
		free(key);
	}
	for (i = 0; i < SLOTS; i++)
		if (held[i].ref != NULL) {
			row_fail(held[i].line, "%s: slot %zu never released",
			    sc->what, i);
			local_release(l, held[i].ref);
		}
	local_free(l);
}

static void
test_local_scenarios(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run(&scenarios[i]);
	done();
}

/* No cache at all (main.c leaves it NULL): every call is a no-op. */
static void
test_local_null(void **state)
{
	const char	*val = NULL;
	size_t		 len = 0;

	(void)state;
	local_enable(NULL);
	if (local_enabled(NULL) != 0)
		row_fail(__LINE__, "local_enabled(NULL): on");
	local_put(NULL, local_mark(NULL), "a", 1, "1", 1, NEVER);
	if (local_get(NULL, "a", 1, 0, &val, &len) != NULL)
		row_fail(__LINE__, "local_get(NULL, \"a\"): hit");
	local_release(NULL, NULL);
	local_losses(NULL, 1);
	local_invalidate(NULL, "a", 1);
	local_invalidate(NULL, NULL, 0);
	local_disable(NULL);
	local_free(NULL);
	done();
}

/*
 * What is too big to keep: key + value + overhead over max_bytes / 4.  A
 * row is stored if key + value + OVERHEAD_MAX fits, refused if key + value
 * alone does not; sizes in between depend on the overhead and are left out.
 */
static void
test_local_quarter(void **state)
{
	static const struct {
		int	 line;
		size_t	 max_bytes;
		size_t	 keylen;
		size_t	 len;
		int	 stored;
	} rows[] = {
		{ __LINE__, 4096, 1, 767, 1 },		/* 768 + 256 = 1024 */
		{ __LINE__, 4096, 500, 268, 1 },
		{ __LINE__, 4096, 767, 1, 1 },
		{ __LINE__, 4096, 1, 1024, 0 },		/* 1025 */
		{ __LINE__, 4096, 1024, 1, 0 },		/* the key counts */
		{ __LINE__, 4096, 1025, 0, 0 },
		{ __LINE__, 4096, 1, 4096, 0 },
		{ __LINE__, 4096, 1, 1 << 20, 0 },
		{ __LINE__, 4099, 1, 1024, 0 },		/* M / 4 rounds down */
		{ __LINE__, 2048, 1, 255, 1 },
		{ __LINE__, 2048, 1, 512, 0 },
		{ __LINE__, M4, 1, 99743, 1 },		/* 99744 + 256 */
		{ __LINE__, M4, 1, 100000, 0 },
		{ __LINE__, M4, 1, 150000, 0 },
		{ __LINE__, 1 << 20, 1, 200000, 1 },
		{ __LINE__, 1 << 20, 1, 262144, 0 },	/* 262145 */
		{ __LINE__, 3, 1, 0, 0 },		/* room for nothing */
	};
	struct local		*l;
	struct local_ref	*ref;
	const char		*got;
	char			*key, *val, a[64];
	size_t			 i, gotlen;
	int			 hit;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		l = local_new(rows[i].max_bytes);
		assert_non_null(l);
		local_enable(l);
		key = pattern_exact('k', rows[i].keylen);
		val = pattern_exact('v', rows[i].len);
		local_put(l, local_mark(l), key, rows[i].keylen, val,
		    rows[i].len, NEVER);
		ref = local_get(l, key, rows[i].keylen, 0, &got, &gotlen);
		hit = ref != NULL;
		if (hit != rows[i].stored)
			row_fail(rows[i].line, "max_bytes %zu, key %zu + value "
			    "%zu bytes: %s, want %s", rows[i].max_bytes,
			    rows[i].keylen, rows[i].len, hit ? "stored" :
			    "refused", rows[i].stored ? "stored" : "refused");
		else if (hit && (gotlen != rows[i].len ||
		    memcmp(got, val, gotlen) != 0))
			row_fail(rows[i].line, "max_bytes %zu, key %zu + value "
			    "%zu bytes: got %zu bytes %s", rows[i].max_bytes,
			    rows[i].keylen, rows[i].len, gotlen,
			    show(got, gotlen, a, sizeof(a)));
		local_release(l, ref);	/* NULL on a miss */
		free(val);
		free(key);
		local_free(l);
	}
	done();
}

/* xorshift64*: a seeded, repeatable sequence. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

#define RKEYS		200
#define RSTEPS		2000
#define RMAX		(1 << 16)

/*
 * The node overhead local.c counts, measured through the max_bytes / 4 rule:
 * the longest value stored under a 1-byte key is max_bytes / 4 - 1 - the
 * overhead.  Returns 0 if nothing could be stored at all.
 */
static size_t
overhead(size_t max_bytes)
{
	struct local		*l;
	struct local_ref	*ref;
	const char		*got;
	char			*val;
	size_t			 lo = 0, hi = max_bytes / 4, mid, len;

	l = local_new(max_bytes);
	assert_non_null(l);
	local_enable(l);
	val = pattern_exact('o', hi);
	local_put(l, local_mark(l), "o", 1, val, 0, NEVER);
	if ((ref = local_get(l, "o", 1, 0, &got, &len)) == NULL) {
		free(val);
		local_free(l);
		return 0;
	}
	local_release(l, ref);
	while (lo < hi) {		/* the longest stored is in [lo, hi] */
		mid = lo + (hi - lo + 1) / 2;
		local_invalidate(l, "o", 1);
		local_put(l, local_mark(l), "o", 1, val, mid, NEVER);
		if ((ref = local_get(l, "o", 1, 0, &got, &len)) != NULL) {
			local_release(l, ref);
			lo = mid;
		} else
			hi = mid - 1;
	}
	free(val);
	local_free(l);
	return max_bytes / 4 - 1 - lo;
}

struct rkey {
	char	 key[16];
	size_t	 keylen;
	char	*val;		/* the last put, NULL if never */
	size_t	 len;
	int	 in;		/* held, by the model */
};

/* The model: LRU order of what it holds (oldest first), and the bytes. */
struct model {
	struct rkey	*rk;
	size_t		 order[RKEYS], n, bytes, over;
};

static void
model_remove(struct model *m, size_t k)
{
	size_t	i;

	for (i = 0; i < m->n && m->order[i] != k; i++)
		;
	assert_true(i < m->n);
	memmove(&m->order[i], &m->order[i + 1],
	    (m->n - i - 1) * sizeof(m->order[0]));
	m->n--;
	m->rk[k].in = 0;
	m->bytes -= m->rk[k].keylen + m->rk[k].len + m->over;
}

/* What local_put of k's new value should leave (need <= max / 4). */
static void
model_put(struct model *m, size_t k, size_t oldlen)
{
	size_t	need = m->rk[k].keylen + m->rk[k].len + m->over, newlen;

	if (m->rk[k].in) {
		newlen = m->rk[k].len;
		m->rk[k].len = oldlen;	/* what it held */
		model_remove(m, k);
		m->rk[k].len = newlen;
	}
	while (m->bytes + need > RMAX && m->n > 0)
		model_remove(m, m->order[0]);
	m->order[m->n++] = k;
	m->rk[k].in = 1;
	m->bytes += need;
}

/* A get of k: a hit becomes the most recently used. */
static void
model_get(struct model *m, size_t k)
{
	size_t	i;

	if (!m->rk[k].in)
		return;
	for (i = 0; m->order[i] != k; i++)
		;
	memmove(&m->order[i], &m->order[i + 1],
	    (m->n - i - 1) * sizeof(m->order[0]));
	m->order[m->n - 1] = k;
}

/*
 * Gets every key the model holds, least recently used first, which leaves
 * the order as it was (each hit moves its key to the front, in the same
 * order), then every other key ever put.  Returns 0 at the first key whose
 * hit or bytes differ from the model.
 */
static int
probe(struct local *l, struct model *m, int stepno)
{
	struct rkey		*k;
	struct local_ref	*ref;
	const char		*got;
	char			 a[32], b[64];
	size_t			 i, gotlen;
	int			 hit;

	for (i = 0; i < m->n + RKEYS; i++) {
		if (i < m->n)
			k = &m->rk[m->order[i]];
		else if (m->rk[i - m->n].in || m->rk[i - m->n].val == NULL)
			continue;
		else
			k = &m->rk[i - m->n];
		ref = local_get(l, k->key, k->keylen, 0, &got, &gotlen);
		hit = ref != NULL;
		if (hit != k->in) {
			row_fail(__LINE__, "step %d: %s: %s, want %s (%zu "
			    "keys, %zu bytes with overhead %zu held)", stepno,
			    show(k->key, k->keylen, a, sizeof(a)),
			    hit ? "hit" : "miss", k->in ? "hit" : "miss",
			    m->n, m->bytes, m->over);
		} else if (hit && (gotlen != k->len ||
		    memcmp(got, k->val, gotlen) != 0))
			row_fail(__LINE__, "step %d: %s: %zu bytes %s, want "
			    "the %zu last put", stepno, show(k->key, k->keylen,
			    a, sizeof(a)), gotlen, show(got, gotlen, b,
			    sizeof(b)), k->len);
		local_release(l, ref);
		if (bad > 0)
			return 0;
	}
	return 1;
}

/*
 * Random puts (sizes up to the largest that fits, values of random bytes),
 * gets that refresh recency, and puts too big to keep, on RMAX bytes,
 * against a model: an LRU list bounded by key + value + the measured
 * overhead.  After every step each key is probed: exactly the keys the
 * model holds must hit, with their last bytes.
 */
static void
test_local_lru_random(void **state)
{
	struct model		 m;
	struct rkey		*k;
	struct local		*l;
	struct local_ref	*ref;
	const char		*got;
	uint64_t		 r, seed = 0x5eed1234abcdULL;
	size_t			 i, j, len, oldlen, maxlen;
	char			 bigkey[32], *val;
	int			 stepno;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.over = overhead(RMAX);
	if (m.over == 0 || m.over > OVERHEAD_MAX ||
	    overhead((size_t)1 << 20) != m.over) {
		row_fail(__LINE__, "node overhead %zu with max_bytes %d, %zu "
		    "with %d; want the same, in 1..%d", m.over, RMAX,
		    overhead((size_t)1 << 20), 1 << 20, OVERHEAD_MAX);
		done();
		return;
	}
	m.rk = calloc(RKEYS, sizeof(*m.rk));
	assert_non_null(m.rk);
	for (i = 0; i < RKEYS; i++)
		m.rk[i].keylen = (size_t)snprintf(m.rk[i].key,
		    sizeof(m.rk[i].key), "r%zu", i * 37);
	l = local_new(RMAX);
	assert_non_null(l);
	local_enable(l);
	for (stepno = 0; stepno < RSTEPS; stepno++) {
		r = rnd(&seed);
		j = (size_t)(r >> 8) % RKEYS;
		k = &m.rk[j];
		if (r % 8 == 0) {
			ref = local_get(l, k->key, k->keylen, 0, &got, &len);
			local_release(l, ref);
			model_get(&m, j);
		} else if (r % 50 == 1) {
			/* too big, under a key never used: changes nothing */
			len = RMAX / 4 + 1 + (size_t)(r >> 8) % 1000;
			val = pattern_exact('B', len);
			(void)snprintf(bigkey, sizeof(bigkey), "big%d", stepno);
			local_put(l, local_mark(l), bigkey, strlen(bigkey), val,
			    len, NEVER);
			free(val);
			if ((ref = local_get(l, bigkey, strlen(bigkey), 0,
			    &got, &len)) != NULL) {
				local_release(l, ref);
				row_fail(__LINE__, "step %d: %zu bytes put "
				    "under %s were kept", stepno, len, bigkey);
			}
		} else {
			maxlen = RMAX / 4 - m.over - k->keylen;
			len = (r >> 40) % 4 == 0 ? (size_t)(r >> 16) %
			    (maxlen + 1) : (size_t)(r >> 16) % 1000;
			oldlen = k->len;
			free(k->val);
			k->val = malloc(len > 0 ? len : 1);
			assert_non_null(k->val);
			k->len = len;
			for (i = 0; i < len; i++)
				k->val[i] = (char)rnd(&seed);
			local_put(l, local_mark(l), k->key, k->keylen, k->val,
			    len, NEVER);
			model_put(&m, j, oldlen);
		}
		if (!probe(l, &m, stepno))
			break;
	}
	local_free(l);
	for (i = 0; i < RKEYS; i++)
		free(m.rk[i].val);
	free(m.rk);
	done();
}

#define MANY	10000

/* 10000 keys: the table grows many times, and every key is still found. */
static void
test_local_many(void **state)
{
	struct local		*l;
	struct local_ref	*ref;
	const char		*got;
	char			 key[32], val[64], a[64];
	size_t			 keylen, len, gotlen;
	int			 i, pass, hit, want;

	(void)state;
	l = local_new((size_t)64 << 20);
	assert_non_null(l);
	local_enable(l);
	for (pass = 0; pass < 3; pass++) {
		for (i = 0; i < MANY; i++) {
			keylen = (size_t)snprintf(key, sizeof(key), "todo:%d",
			    i);
			len = (size_t)snprintf(val, sizeof(val),
			    "{\"id\":%d,\"pass\":%d}", i, pass);
			if (pass == 2 && i % 3 != 0)
				continue;	/* put back every third */
			local_put(l, local_mark(l), key, keylen, val, len,
			    NEVER);
		}
		if (pass == 1)
			for (i = 0; i < MANY; i += 2) {
				keylen = (size_t)snprintf(key, sizeof(key),
				    "todo:%d", i);
				local_invalidate(l, key, keylen);
			}
		if (pass == 2)
			local_invalidate(l, NULL, 0);
		for (i = 0; i < MANY; i++) {
			keylen = (size_t)snprintf(key, sizeof(key), "todo:%d",
			    i);
			len = (size_t)snprintf(val, sizeof(val),
			    "{\"id\":%d,\"pass\":%d}", i, pass);
			want = pass == 0 || (pass == 1 && i % 2 == 1);
			ref = local_get(l, key, keylen, 0, &got, &gotlen);
			hit = ref != NULL;
			if (hit != want)
				row_fail(__LINE__, "pass %d, %s: %s, want %s",
				    pass, key, hit ? "hit" : "miss",
				    want ? "hit" : "miss");
			else if (hit && (gotlen != len ||
			    memcmp(got, val, len) != 0))
				row_fail(__LINE__, "pass %d, %s: %s, want %s",
				    pass, key, show(got, gotlen, a, sizeof(a)),
				    val);
			local_release(l, ref);
			if (bad > 10)
				break;
		}
	}
	/* and again after the flush, to the very last key */
	for (i = 0; i < MANY; i++) {
		keylen = (size_t)snprintf(key, sizeof(key), "todo:%d", i);
		local_put(l, local_mark(l), key, keylen, key, keylen, NEVER);
	}
	for (i = 0; i < MANY && bad <= 10; i++) {
		keylen = (size_t)snprintf(key, sizeof(key), "todo:%d", i);
		if ((ref = local_get(l, key, keylen, 0, &got, &gotlen)) ==
		    NULL) {
			row_fail(__LINE__, "refilled, %s: miss", key);
			continue;
		}
		if (gotlen != keylen || memcmp(got, key, keylen) != 0)
			row_fail(__LINE__, "refilled, %s: %s", key,
			    show(got, gotlen, a, sizeof(a)));
		local_release(l, ref);
	}
	local_free(l);		/* with 10000 entries in: ASan counts leaks */
	done();
}

/* What the other thread did while the main one held a reference. */
struct other {
	struct local	*l;
	int		 got_new;	/* its get hit the new bytes */
	int		 stale;		/* its get hit the old bytes */
};

/* An invalidation, a put of new bytes and a get, on another thread. */
static void *
other_thread(void *arg)
{
	struct other		*o = arg;
	struct local_ref	*ref;
	const char		*got;
	size_t			 gotlen;

	local_invalidate(o->l, NULL, 0);
	local_put(o->l, local_mark(o->l), "todo:1", 6, "{\"id\":1,\"v\":2}",
	    14, NEVER);
	if ((ref = local_get(o->l, "todo:1", 6, 0, &got, &gotlen)) != NULL) {
		o->got_new = gotlen == 14 &&
		    memcmp(got, "{\"id\":1,\"v\":2}", 14) == 0;
		o->stale = gotlen == 8 && memcmp(got, "{\"id\":1}", 8) == 0;
		local_release(o->l, ref);
	}
	return NULL;
}

/*
 * A hit holds no lock: while this thread holds its reference, another one
 * invalidates everything, puts new bytes under the same key and reads them
 * (a lock left held would hang the join, which the watchdog in main()
 * turns into a failure).  The held bytes stay the old ones and readable
 * (under ASan, reading them after a free would be reported); the release,
 * the last reference, frees them (or ASan reports a leak).
 */
static void
test_local_hit_holds_no_lock(void **state)
{
	struct other		 o;
	struct local_ref	*ref, *ref2;
	pthread_t		 th;
	const char		*got, *got2;
	char			 a[64];
	size_t			 gotlen, gotlen2;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.l = local_new(1 << 20);
	assert_non_null(o.l);
	local_enable(o.l);
	local_put(o.l, local_mark(o.l), "todo:1", 6, "{\"id\":1}", 8, NEVER);
	ref = local_get(o.l, "todo:1", 6, 0, &got, &gotlen);
	assert_non_null(ref);
	assert_int_equal(pthread_create(&th, NULL, other_thread, &o), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	if (!o.got_new)
		row_fail(__LINE__, "the other thread's get: %s, want its own "
		    "put", o.stale ? "the invalidated bytes" : "a miss");
	if (gotlen != 8 || memcmp(got, "{\"id\":1}", 8) != 0)
		row_fail(__LINE__, "the held hit reads %s after an "
		    "invalidation and a put, want {\"id\":1}",
		    show(got, gotlen, a, sizeof(a)));
	if ((ref2 = local_get(o.l, "todo:1", 6, 0, &got2, &gotlen2)) ==
	    NULL || gotlen2 != 14)
		row_fail(__LINE__, "todo:1: %s, want the other thread's put",
		    ref2 != NULL ? show(got2, gotlen2, a, sizeof(a)) :
		    "a miss");
	local_release(o.l, ref2);
	local_release(o.l, ref);	/* the last one: frees the old bytes */
	local_free(o.l);
	done();
}

#define TKEYS		100
#define TMAX		16384	/* about half the keys fit: evictions too */
#define STRESS_MS	1000

/*
 * A model of Redis for the threaded test: the version each key holds, and
 * the newest version whose invalidation has been delivered (local_invalidate
 * returned).  Only the invalidation thread writes them.
 */
struct stress {
	struct local	*l;
	atomic_ulong	 redis[TKEYS];
	atomic_ulong	 delivered[TKEYS];
	atomic_ulong	 losses;	/* connections lost (cache.c) */
	atomic_int	 stop;
	unsigned long	 invalidations, flushes, disables;
};

static size_t
stress_key(int k, char *buf, size_t size)
{
	return (size_t)snprintf(buf, size, "todo:%d", k);
}

/* The value of key k at version ver: names both, then up to 299 bytes. */
static size_t
stress_val(int k, unsigned long ver, char *buf, size_t size)
{
	size_t	i, n, len;

	n = (size_t)snprintf(buf, size, "todo:%d@%lu|", k, ver);
	len = n + ((size_t)k * 7 + ver) % 300;
	for (i = n; i < len && i < size; i++)
		buf[i] = (char)((size_t)k + ver + i);	/* NULs too */
	return len < size ? len : size;
}

/* The invalidation thread: Redis changes a key, then says so. */
static void *
stress_invalidator(void *arg)
{
	struct stress	*s = arg;
	uint64_t	 x, seed = 0x9e3779b97f4a7c15ULL;
	unsigned long	 v;
	char		 key[32];
	size_t		 keylen;
	int		 k;

	while (!atomic_load(&s->stop)) {
		x = rnd(&seed);
		k = (int)(x % TKEYS);
		switch ((x >> 32) % 512) {
		case 0:
			local_disable(s->l);	/* the channel drops */
			s->disables++;
			sched_yield();
			local_enable(s->l);
			break;
		case 1:
			local_invalidate(s->l, NULL, 0);	/* FLUSHALL */
			s->flushes++;
			break;
		case 2:
			atomic_fetch_add(&s->losses, 1);	/* reconnect */
			break;
		default:
			v = atomic_fetch_add(&s->redis[k], 1) + 1;
			keylen = stress_key(k, key, sizeof(key));
			local_invalidate(s->l, key, keylen);
			atomic_store(&s->delivered[k], v);
			s->invalidations++;
			break;
		}
		if (x % 4 != 0)
			sched_yield();	/* leave the request thread room */
	}
	return NULL;
}

static long long
mono_ms(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The request thread (this one) passes the loss count, gets, and on a miss
 * marks, reads the model and puts, on TKEYS keys with a made-up clock so
 * that some copies expire; the invalidation thread changes keys and
 * invalidates them, and now and then flushes, disables or loses the
 * connection.  A hit must be the bytes this thread last put for that key
 * (after a miss nothing else can put it), and not older than an
 * invalidation delivered before the get: the mark must have refused it.
 * One hit in four is held over a yield, so that the other thread drops it
 * meanwhile: its bytes must not change before the release.
 */
static void
test_local_threads(void **state)
{
	struct stress		*s;
	struct local_ref	*ref;
	pthread_t		 th;
	static char		 last[TKEYS][512];
	size_t			 lastlen[TKEYS], keylen[TKEYS], gotlen;
	unsigned long		 lastver[TKEYS], mark, ver, gone;
	unsigned long		 hits = 0, misses = 0;
	char			 key[TKEYS][32], a[128], b[128];
	const char		*got;
	uint64_t		 x, seed = 0xc0ffee123456789ULL;
	long long		 start, now = 0;
	int			 i, k;

	(void)state;
	s = calloc(1, sizeof(*s));
	assert_non_null(s);
	for (k = 0; k < TKEYS; k++) {
		atomic_init(&s->redis[k], 0);
		atomic_init(&s->delivered[k], 0);
		keylen[k] = stress_key(k, key[k], sizeof(key[k]));
		lastlen[k] = 0;
		lastver[k] = 0;
	}
	atomic_init(&s->losses, 0);
	atomic_init(&s->stop, 0);
	s->l = local_new(TMAX);
	assert_non_null(s->l);
	local_enable(s->l);
	assert_int_equal(pthread_create(&th, NULL, stress_invalidator, s), 0);

	start = mono_ms();
	while (mono_ms() - start < STRESS_MS && bad < 5) {
		for (i = 0; i < 1000 && bad < 5; i++) {
			x = rnd(&seed);
			k = (int)(x % TKEYS);
			now++;
			local_losses(s->l, atomic_load(&s->losses));
			gone = atomic_load(&s->delivered[k]);
			if ((ref = local_get(s->l, key[k], keylen[k], now,
			    &got, &gotlen)) != NULL) {
				hits++;
				if (gotlen != lastlen[k] ||
				    memcmp(got, last[k], gotlen) != 0)
					row_fail(__LINE__, "%s: hit %s, last "
					    "put %s", key[k], show(got, gotlen,
					    a, sizeof(a)), show(last[k],
					    lastlen[k], b, sizeof(b)));
				else if (lastver[k] < gone)
					row_fail(__LINE__, "%s: hit version "
					    "%lu after the invalidation of "
					    "version %lu was delivered", key[k],
					    lastver[k], gone);
				if ((x >> 50) % 4 == 0) {
					sched_yield();
					if (gotlen != lastlen[k] ||
					    memcmp(got, last[k], gotlen) != 0)
						row_fail(__LINE__, "%s: held "
						    "bytes changed to %s",
						    key[k], show(got, gotlen,
						    a, sizeof(a)));
				}
				local_release(s->l, ref);
				continue;
			}
			misses++;
			mark = local_mark(s->l);
			ver = atomic_load(&s->redis[k]);
			lastlen[k] = stress_val(k, ver, last[k],
			    sizeof(last[k]));
			lastver[k] = ver;
			local_put(s->l, mark, key[k], keylen[k], last[k],
			    lastlen[k], now + 1 + (long long)((x >> 40) % 2000));
		}
	}
	atomic_store(&s->stop, 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	if (hits == 0 || misses == 0 || s->invalidations == 0)
		row_fail(__LINE__, "no contest: %lu hits, %lu misses, %lu "
		    "invalidations", hits, misses, s->invalidations);
	local_free(s->l);
	free(s);
	done();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_local_scenarios, reset),
		cmocka_unit_test_setup(test_local_null, reset),
		cmocka_unit_test_setup(test_local_quarter, reset),
		cmocka_unit_test_setup(test_local_lru_random, reset),
		cmocka_unit_test_setup(test_local_many, reset),
		cmocka_unit_test_setup(test_local_hit_holds_no_lock, reset),
		cmocka_unit_test_setup(test_local_threads, reset),
	};

	/* A lock left held hangs the next call: fail instead of hanging. */
	(void)alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
