/*
 * test_upstream_health.c: what /health reads about the upstream
 * (metrics_upstream_outcome, metrics_upstream_health): failures in a row,
 * reset by any success, and the time of the last failure, which a success
 * leaves as it was.
 *
 * Each row records one outcome and checks both readings after it; the
 * rows run in order, on this process's own counters (no map).
 */
#include "unit.h"
#include "metrics.h"

static void
test_upstream_health_sequence(void **state)
{
	static const struct {
		int			line;
		int			ok;
		long long		at;		/* wall ms */
		unsigned long long	want_failures;
		long long		want_failed_ms;
	} rows[] = {
		{ __LINE__, 1, 1000, 0, 0 },		/* none yet */
		{ __LINE__, 0, 2000, 1, 2000 },
		{ __LINE__, 0, 2500, 2, 2500 },		/* the latest */
		{ __LINE__, 0, 2600, 3, 2600 },
		{ __LINE__, 1, 3000, 0, 2600 },		/* kept */
		{ __LINE__, 1, 3100, 0, 2600 },
		{ __LINE__, 0, 4000, 1, 4000 },		/* counts anew */
		{ __LINE__, 0, 0, 2, 0 },		/* no clock: 0 */
		{ __LINE__, 1, 5000, 0, 0 },
	};
	unsigned long long	failures;
	long long		failed_ms;
	size_t			i;

	(void)state;
	metrics_upstream_health(&failures, &failed_ms);
	if (failures != 0 || failed_ms != 0)
		row_fail(__LINE__, "at start: %llu, %lld", failures, failed_ms);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		metrics_upstream_outcome(rows[i].ok, rows[i].at);
		metrics_upstream_health(&failures, &failed_ms);
		if (failures != rows[i].want_failures ||
		    failed_ms != rows[i].want_failed_ms)
			row_fail(rows[i].line, "failures %llu, last %lld; want "
			    "%llu, %lld", failures, failed_ms,
			    rows[i].want_failures, rows[i].want_failed_ms);
	}
	done();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_upstream_health_sequence, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
