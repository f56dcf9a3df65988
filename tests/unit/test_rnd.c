/*
 * test_rnd.c: the upstream's connect-retry pause (upstream_jitter_ms) and
 * the random source behind it (rnd.h).
 *
 * The pause is there so that processes refused together do not retry
 * together: draws made within the same millisecond, and draws of two
 * processes forked at the same moment, must differ.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "clock.h"
#include "rnd.h"
#include "upstream.h"

#define DRAWS	64

/* How many distinct values v[n] holds. */
static int
distinct(const long *v, int n)
{
	int	i, j, d = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < i && v[j] != v[i]; j++)
			;
		d += j == i;
	}
	return d;
}

static void
test_jitter_in_range_and_not_in_lock_step(void **state)
{
	long	v[DRAWS];
	int	i, d;

	(void)state;
	/* Back to back: a clock-derived pause would repeat itself here. */
	for (i = 0; i < DRAWS; i++)
		v[i] = upstream_jitter_ms();
	for (i = 0; i < DRAWS; i++)
		if (v[i] < 20 || v[i] > 69)
			row_fail(__LINE__, "draw %d: %ld ms, not in 20..69", i,
			    v[i]);
	/* 64 draws from 50 values: about 36 distinct; 10 is far below. */
	if ((d = distinct(v, DRAWS)) < 10)
		row_fail(__LINE__, "%d distinct pauses in %d draws", d, DRAWS);
	done();
}

/* Two processes drawing in the same millisecond draw differently. */
static void
test_jitter_differs_between_processes(void **state)
{
	long		seq[2][16];
	long long	at = clock_mono_ms() + 100;
	int		fds[2][2], i, k, status;
	pid_t		pid[2];

	(void)state;
	for (k = 0; k < 2; k++) {
		assert_int_equal(pipe(fds[k]), 0);
		if ((pid[k] = fork()) == 0) {
			while (clock_mono_ms() < at)
				;	/* both start at once */
			for (i = 0; i < 16; i++)
				seq[k][i] = upstream_jitter_ms();
			_exit(write(fds[k][1], seq[k], sizeof(seq[k])) ==
			    (ssize_t)sizeof(seq[k]) ? 0 : 1);
		}
		assert_true(pid[k] > 0);
	}
	for (k = 0; k < 2; k++) {
		assert_int_equal(waitpid(pid[k], &status, 0), pid[k]);
		assert_int_equal(status, 0);
		assert_int_equal(read(fds[k][0], seq[k], sizeof(seq[k])),
		    (ssize_t)sizeof(seq[k]));
		(void)close(fds[k][0]);
		(void)close(fds[k][1]);
	}
	/* Equal by chance: 50^-16. */
	assert_memory_not_equal(seq[0], seq[1], sizeof(seq[0]));
}

static void
test_rnd_between_ranges(void **state)
{
	static const struct {
		int	line;
		long	lo, hi;
		int	min_distinct;	/* in DRAWS draws, at least */
	} rows[] = {
		{ __LINE__, 0, 0, 1 },
		{ __LINE__, 5, 5, 1 },
		{ __LINE__, 7, 3, 1 },		/* hi < lo: lo */
		{ __LINE__, 0, 1, 2 },
		{ __LINE__, -3, 3, 5 },
		{ __LINE__, 20, 69, 10 },
		{ __LINE__, 0, 1L << 40, 60 },
	};
	long	v[DRAWS];
	size_t	r;
	int	i, d;

	(void)state;
	for (r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		for (i = 0; i < DRAWS; i++) {
			v[i] = rnd_between(rows[r].lo, rows[r].hi);
			if (v[i] < rows[r].lo || (v[i] > rows[r].hi &&
			    v[i] != rows[r].lo))
				row_fail(rows[r].line, "%ld not in %ld..%ld",
				    v[i], rows[r].lo, rows[r].hi);
		}
		if ((d = distinct(v, DRAWS)) < rows[r].min_distinct)
			row_fail(rows[r].line, "%d distinct, want >= %d", d,
			    rows[r].min_distinct);
	}
	done();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_jitter_in_range_and_not_in_lock_step,
		    reset),
		cmocka_unit_test(test_jitter_differs_between_processes),
		cmocka_unit_test_setup(test_rnd_between_ranges, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
