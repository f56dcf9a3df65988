/*
 * test_metrics.c: the /metrics counters and their exposition (metrics.c),
 * in this process's own memory and in a shared map.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "metrics.h"
#include "unit.h"

static char	out[65536];

/* The value on the line that starts with name + " ", or -1. */
static long long
value(const char *name)
{
	char		 want[256];
	const char	*p;

	(void)snprintf(want, sizeof(want), "\n%s ", name);
	if ((p = strstr(out, want)) == NULL)
		return -1;
	return strtoll(p + strlen(want), NULL, 10);
}

static void
scrape(void)
{
	assert_true(metrics_format(out, sizeof(out)) > 0);
}

static void
test_metrics_counts_and_formats(void **state)
{
	int	i;

	(void)state;
	scrape();
	assert_int_equal(value("todos_purges_total"), 0);
	for (i = 0; i < 40; i++)
		metrics_request(MR_TODO, 200, "HIT");
	metrics_request(MR_TODO, 200, "MISS");
	metrics_request(MR_TODOS, 504, NULL);
	metrics_request(MR_OTHER, 418, NULL);	/* a status it does not name */
	metrics_upstream(1, 3);
	metrics_upstream(1, 120);
	metrics_upstream(0, 99999);
	metrics_redis_error();
	metrics_collapsed();
	metrics_purge();
	scrape();
	assert_int_equal(value("todos_requests_total{route=\"todo\",status="
	    "\"200\",cache=\"HIT\"}"), 40);
	assert_int_equal(value("todos_requests_total{route=\"todo\",status="
	    "\"200\",cache=\"MISS\"}"), 1);
	assert_int_equal(value("todos_requests_total{route=\"todos\",status="
	    "\"504\",cache=\"none\"}"), 1);
	assert_int_equal(value("todos_requests_total{route=\"other\",status="
	    "\"other\",cache=\"none\"}"), 1);
	assert_int_equal(value("todos_upstream_requests_total{outcome=\"ok\"}"),
	    2);
	assert_int_equal(value("todos_upstream_requests_total{outcome=\""
	    "error\"}"), 1);
	/* Cumulative buckets: 3 ms <= 5 ms; 120 ms <= 250 ms; 99999 in +Inf. */
	assert_int_equal(value("todos_upstream_duration_seconds_bucket{le=\""
	    "0.005\"}"), 1);
	assert_int_equal(value("todos_upstream_duration_seconds_bucket{le=\""
	    "0.1\"}"), 1);
	assert_int_equal(value("todos_upstream_duration_seconds_bucket{le=\""
	    "0.25\"}"), 2);
	assert_int_equal(value("todos_upstream_duration_seconds_bucket{le=\""
	    "10\"}"), 2);
	assert_int_equal(value("todos_upstream_duration_seconds_bucket{le=\""
	    "+Inf\"}"), 3);
	assert_int_equal(value("todos_upstream_duration_seconds_count"), 3);
	assert_int_equal(value("todos_redis_errors_total"), 1);
	assert_int_equal(value("todos_coalesced_waits_total"), 1);
	assert_int_equal(value("todos_purges_total"), 1);
	/* Series with no count are left out. */
	assert_null(strstr(out, "cache=\"STALE\""));
	/* A buffer too small is refused, not cut. */
	assert_int_equal(metrics_format(out, 100), -1);
}

#define BUCKET(le)	"todos_upstream_duration_seconds_bucket{le=\"" le "\"}"

/*
 * A latency exactly on a bucket's bound counts in that bucket: Prometheus
 * buckets are "less than or equal" (le).  Deltas: the counters are the
 * process's, shared with the test before.
 */
static void
test_metrics_bucket_bounds_are_inclusive(void **state)
{
	static const struct {
		int		 line;
		long		 ms;
		const char	*in, *below;	/* its bucket, the one before */
	} t[] = {
		{ __LINE__, 5, BUCKET("0.005"), NULL },
		{ __LINE__, 6, BUCKET("0.01"), BUCKET("0.005") },
		{ __LINE__, 250, BUCKET("0.25"), BUCKET("0.1") },
		{ __LINE__, 251, BUCKET("0.5"), BUCKET("0.25") },
		{ __LINE__, 10000, BUCKET("10"), BUCKET("5") },
		{ __LINE__, 10001, BUCKET("+Inf"), BUCKET("10") },
	};
	long long	in, below;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		scrape();
		in = value(t[i].in);
		below = t[i].below != NULL ? value(t[i].below) : 0;
		metrics_upstream(1, t[i].ms);
		scrape();
		if (value(t[i].in) != in + 1 || (t[i].below != NULL &&
		    value(t[i].below) != below))
			fail_msg("line %d: %ld ms not counted in %s alone",
			    t[i].line, t[i].ms, t[i].in);
	}
}

/* Two processes mapping the same file count into the same totals. */
static void
test_metrics_shared_between_processes(void **state)
{
	char	path[] = "/tmp/test_metrics.XXXXXX";
	int	fd, i, status;
	pid_t	pid;

	(void)state;
	assert_true((fd = mkstemp(path)) != -1);
	(void)close(fd);
	if ((pid = fork()) == 0) {
		if (metrics_open(path) == -1)
			_exit(2);
		for (i = 0; i < 25; i++)
			metrics_request(MR_TODO, 200, "HIT");
		_exit(0);
	}
	assert_int_equal(metrics_open(path), 0);
	for (i = 0; i < 15; i++)
		metrics_request(MR_TODO, 200, "HIT");
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	scrape();
	assert_int_equal(value("todos_requests_total{route=\"todo\",status="
	    "\"200\",cache=\"HIT\"}"), 40);
	(void)unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		/* In order: the first counts in process memory, the second
		   maps a file (metrics_open works once per process). */
		cmocka_unit_test(test_metrics_counts_and_formats),
		cmocka_unit_test(test_metrics_bucket_bounds_are_inclusive),
		cmocka_unit_test(test_metrics_shared_between_processes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
