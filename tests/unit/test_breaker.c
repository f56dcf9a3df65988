/*
 * test_breaker.c: table-driven tests of the circuit breaker (breaker.h).
 *
 * Each scenario is a breaker (threshold, cool-down) and a list of steps on
 * a made-up monotonic clock: ask breaker_allow(), record an outcome, or ask
 * breaker_retry_after().  Every step carries its __LINE__; a failing step is
 * printed with its time, what came back and the breaker's fields, and the
 * scenario goes on.
 */
#include "unit.h"
#include "breaker.h"

enum op {
	OP_END,
	OP_ALLOW,	/* breaker_allow(now) == want */
	OP_RECORD,	/* breaker_record(ok, probe, now) */
	OP_RETRY	/* breaker_retry_after(now) == want */
};

struct step {
	int		 line;
	enum op		 op;
	long long	 now;
	int		 ok;
	long		 want;
	int		 probe;
};

#define P		BREAKER_PROBE
#define T0		1000000LL	/* any origin will do */
#define ALLOW(t, w)	{ __LINE__, OP_ALLOW, T0 + (t), 0, w, 0 }
#define FAIL(t)		{ __LINE__, OP_RECORD, T0 + (t), 0, 0, 0 }
#define OK(t)		{ __LINE__, OP_RECORD, T0 + (t), 1, 0, 0 }
#define PFAIL(t)	{ __LINE__, OP_RECORD, T0 + (t), 0, 0, 1 }	/* the probe's */
#define POK(t)		{ __LINE__, OP_RECORD, T0 + (t), 1, 0, 1 }
#define RETRY(t, w)	{ __LINE__, OP_RETRY, T0 + (t), 0, w, 0 }
#define END		{ 0, OP_END, 0, 0, 0, 0 }

#define STEPS_MAX	24

struct scenario {
	int		 line;
	const char	*what;
	int		 threshold;
	long		 cooldown_ms;
	struct step	 steps[STEPS_MAX];
};

static const struct scenario scenarios[] = {
	{ __LINE__, "closed allows; the threshold-th failure opens", 3, 5000, {
		ALLOW(0, 1),
		ALLOW(0, 1),		/* asking is not failing */
		FAIL(0),
		ALLOW(1, 1),
		FAIL(1),		/* threshold - 1 failures */
		ALLOW(2, 1),
		ALLOW(100000, 1),	/* however long after */
		FAIL(100000),		/* the threshold-th: open */
		ALLOW(100000, 0),
		ALLOW(100001, 0),
		ALLOW(104999, 0),	/* until the cool-down is over */
		ALLOW(105000, P),	/* the probe */
		END } },
	{ __LINE__, "a failed probe reopens for a full cool-down", 3, 5000, {
		FAIL(0), FAIL(0), FAIL(0),
		ALLOW(0, 0),
		ALLOW(5000, P),		/* the probe */
		PFAIL(6000),		/* one failure is enough */
		ALLOW(6000, 0),
		ALLOW(10999, 0),	/* not from the first opening */
		ALLOW(11000, P),	/* the next probe */
		PFAIL(11000),
		ALLOW(11001, 0),
		ALLOW(15999, 0),
		ALLOW(16000, P),
		END } },
	{ __LINE__, "half-open: one probe at a time", 2, 1000, {
		FAIL(0), FAIL(0),
		ALLOW(1000, P),		/* the probe */
		ALLOW(1000, 0),		/* another thread: not while it is out */
		ALLOW(1500, 0),
		POK(1600),
		ALLOW(1600, 1),		/* closed */
		ALLOW(1600, 1),
		FAIL(1700), FAIL(1700),
		ALLOW(2700, P),
		ALLOW(2700, 0),
		PFAIL(2800),		/* the probe failed: open again */
		ALLOW(3799, 0),
		ALLOW(3800, P),
		END } },
	{ __LINE__, "half-open: a call from before the opening ends", 2, 1000, {
		ALLOW(0, 1),		/* let through while closed, still out */
		FAIL(0), FAIL(0),	/* others fail: open until 1000 */
		ALLOW(1000, P),		/* the probe */
		FAIL(1100),		/* the early call fails: open again */
		ALLOW(2100, 0),		/* the probe is still out: no second */
		PFAIL(2200),		/* it fails: open until 3200 */
		ALLOW(3199, 0),
		ALLOW(3200, P),
		OK(3300),		/* an early call succeeds: closed */
		ALLOW(3300, 1),
		POK(3400),
		ALLOW(3400, 1),
		END } },
	{ __LINE__, "a good probe closes and resets the count", 3, 5000, {
		FAIL(0), FAIL(0), FAIL(0),
		ALLOW(5000, P),
		POK(5100),
		ALLOW(5100, 1),
		FAIL(5200),
		FAIL(5300),		/* 2 of 3: still closed */
		ALLOW(5300, 1),
		FAIL(5400),		/* 3 of 3 */
		ALLOW(5400, 0),
		ALLOW(10399, 0),
		ALLOW(10400, P),
		END } },
	{ __LINE__, "a success resets the consecutive count", 3, 5000, {
		FAIL(0), FAIL(1),
		OK(2),
		FAIL(3), FAIL(4),	/* 2 in a row, not 4 */
		ALLOW(5, 1),
		OK(5),
		FAIL(6), OK(7), FAIL(8), OK(9), FAIL(10), FAIL(11),
		ALLOW(12, 1),
		FAIL(12),		/* 3 in a row */
		ALLOW(12, 0),
		END } },
	{ __LINE__, "threshold 1: the first failure opens", 1, 2000, {
		ALLOW(0, 1),
		FAIL(0),
		ALLOW(0, 0),
		ALLOW(1999, 0),
		ALLOW(2000, P),
		POK(2000),
		ALLOW(2000, 1),
		FAIL(2001),
		ALLOW(2001, 0),
		END } },
	{ __LINE__, "Retry-After: whole seconds, rounded up, >= 1", 3, 5000, {
		FAIL(0), FAIL(0), FAIL(0),	/* open until 5000 */
		RETRY(0, 5),
		RETRY(1, 5),		/* 4999 ms */
		RETRY(999, 5),		/* 4001 ms */
		RETRY(1000, 4),		/* 4000 ms */
		RETRY(1001, 4),
		RETRY(3999, 2),		/* 1001 ms */
		RETRY(4000, 1),		/* 1000 ms */
		RETRY(4001, 1),		/* 999 ms */
		RETRY(4999, 1),		/* 1 ms */
		RETRY(5000, 1),		/* over: never 0 */
		RETRY(9000, 1),
		ALLOW(5000, P),
		PFAIL(5000),		/* open until 10000 */
		RETRY(5000, 5),
		RETRY(9500, 1),
		END } },
	{ __LINE__, "a 1 ms cool-down", 1, 1, {
		FAIL(0),
		RETRY(0, 1),		/* 1 ms */
		RETRY(1, 1),
		ALLOW(1, P),
		END } },
	{ __LINE__, "Retry-After of 1500 ms", 1, 1500, {
		FAIL(0),
		RETRY(0, 2),
		RETRY(499, 2),		/* 1001 ms */
		RETRY(500, 1),		/* 1000 ms */
		END } },
	{ __LINE__, "closed: Retry-After is still >= 1", 1000000, 3600000, {
		ALLOW(0, 1),
		RETRY(0, 1),		/* closed */
		END } },
	{ __LINE__, "the longest cool-down, an hour", 1, 3600000, {
		FAIL(0),
		RETRY(0, 3600),
		RETRY(1, 3600),
		RETRY(3599000, 1),
		ALLOW(3599999, 0),
		ALLOW(3600000, P),
		END } },
};

static const char *
op_name(enum op op)
{
	switch (op) {
	case OP_ALLOW:	return "breaker_allow";
	case OP_RECORD:	return "breaker_record";
	case OP_RETRY:	return "breaker_retry_after";
	default:	return "(end)";
	}
}

static void
run(const struct scenario *sc)
{
	const struct step	*st;
	struct breaker		 b;
	long			 got;
	size_t			 i;

	memset(&b, 0xa5, sizeof(b));	/* init must set every field */
	breaker_init(&b, sc->threshold, sc->cooldown_ms);
	for (i = 0; i < STEPS_MAX && sc->steps[i].op != OP_END; i++) {
		st = &sc->steps[i];
		switch (st->op) {
		case OP_ALLOW:
			got = breaker_allow(&b, st->now);
			break;
		case OP_RECORD:
			breaker_record(&b, st->ok, st->probe, st->now);
			continue;
		case OP_RETRY:
			got = breaker_retry_after(&b, st->now);
			break;
		default:
			fail_msg("bad step at line %d", st->line);
			return;
		}
		if (got != st->want)
			row_fail(st->line, "%s (threshold %d, cool-down %ld "
			    "ms) at T0+%lld: %s: %ld, want %ld (failures %d, "
			    "open_until %lld, T0 %lld)", sc->what,
			    sc->threshold, sc->cooldown_ms, st->now - T0,
			    op_name(st->op), got, st->want, b.failures,
			    b.open_until, T0);
	}
}

static void
test_breaker(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run(&scenarios[i]);
	done();
}

/* The clock's origin does not matter: the same story from time 0. */
static void
test_breaker_from_zero(void **state)
{
	struct breaker	b;

	(void)state;
	breaker_init(&b, 2, 1000);
	if (breaker_allow(&b, 0) != 1)
		row_fail(__LINE__, "new breaker at 0: not allowed");
	breaker_record(&b, 0, 0, 0);
	breaker_record(&b, 0, 0, 0);
	if (breaker_allow(&b, 0) != 0)
		row_fail(__LINE__, "2 failures at 0: still allowed");
	if (breaker_allow(&b, 999) != 0)
		row_fail(__LINE__, "at 999: allowed before the cool-down");
	if (breaker_retry_after(&b, 0) != 1)
		row_fail(__LINE__, "Retry-After at 0: %ld, want 1",
		    breaker_retry_after(&b, 0));
	if (breaker_allow(&b, 1000) != BREAKER_PROBE)
		row_fail(__LINE__, "at 1000: no probe");
	done();
}

/* A call with no verdict (its time cut short) frees the probe's place only. */
static void
test_breaker_abstain(void **state)
{
	struct breaker	b;

	(void)state;
	breaker_init(&b, 1, 1000);
	breaker_record(&b, 0, 0, 0);		/* open until 1000 */
	breaker_abstain(&b, 0);			/* an early call: nothing */
	if (breaker_allow(&b, 999) != 0)
		row_fail(__LINE__, "at 999: allowed after a non-probe abstained");
	if (breaker_allow(&b, 1000) != BREAKER_PROBE)
		row_fail(__LINE__, "at 1000: no probe");
	if (breaker_allow(&b, 1000) != 0)
		row_fail(__LINE__, "at 1000: a second probe");
	breaker_abstain(&b, 0);			/* an early call ends */
	if (breaker_allow(&b, 1000) != 0)
		row_fail(__LINE__, "at 1000: a second probe after an early "
		    "call abstained");
	breaker_abstain(&b, 1);			/* the probe: no verdict */
	if (b.open_until != 1000 || b.failures != 0)
		row_fail(__LINE__, "abstaining changed the state: open_until "
		    "%lld, failures %d", b.open_until, b.failures);
	if (breaker_allow(&b, 1001) != BREAKER_PROBE)
		row_fail(__LINE__, "at 1001: no new probe after one abstained");
	breaker_record(&b, 1, 1, 1100);
	if (breaker_allow(&b, 1100) != 1)
		row_fail(__LINE__, "at 1100: not closed by the probe's success");
	done();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_breaker, reset),
		cmocka_unit_test_setup(test_breaker_from_zero, reset),
		cmocka_unit_test_setup(test_breaker_abstain, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
