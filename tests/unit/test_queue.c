/*
 * test_queue.c: tests of the background job queue (queue.h).
 *
 * Most of it is scenarios: a queue of some max and a list of steps (push,
 * pop or take wanting a given job, done, close, stats) run in order on one
 * thread.  Every step carries its __LINE__; a failing step is printed with
 * the job it names and what came back, and the scenario goes on.
 *
 * Every push hands over data: a heap copy of "kind/key" of exactly its
 * length (or NULL), which the queue owns from then on.  A popped job's data
 * must be that same pointer and length; the test frees it.  What the queue
 * drops (a refused push, the jobs still waiting at queue_free) it must
 * free itself: ASan's leak checker (make sanitize, detect_leaks=1) reports
 * a copy nobody freed, and a double free.
 *
 * Two tests use threads: a pop blocks until a push, and queue_close wakes
 * every blocked pop.  A pop that never returns hangs the join, which the
 * watchdog in main() turns into a failure.  The many-thread runs are in
 * test_threads.c.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "queue.h"

enum qop {
	Q_END,
	Q_PUSH,		/* queue_push(kind, key, "kind/key") returns want */
	Q_PUSHNULL,	/* the same with data NULL, len 0 */
	Q_POP,		/* queue_pop gives (kind, key) and its data */
	Q_TAKE,		/* queue_take gives (kind, key) and its data */
	Q_EMPTY,	/* queue_take returns -1: nothing waits */
	Q_POPCLOSED,	/* queue_pop returns -1 at once: closed */
	Q_DONE,		/* queue_done of the popped (kind, key) */
	Q_DONEX,	/* queue_done of a made-up (kind, key), never popped */
	Q_CLOSE,
	Q_STATS		/* queue_stats: waiting w, running r, dropped d */
};

struct qstep {
	int		 line;
	enum qop	 op;
	int		 kind;
	const char	*key;
	int		 want;
	size_t		 w, r;
	unsigned long	 d;
};

#define PUSH(k, key)	{ __LINE__, Q_PUSH, k, key, 0, 0, 0, 0 }
#define DROP(k, key)	{ __LINE__, Q_PUSH, k, key, -1, 0, 0, 0 }
#define PUSHNULL(k, key) { __LINE__, Q_PUSHNULL, k, key, 0, 0, 0, 0 }
#define DROPNULL(k, key) { __LINE__, Q_PUSHNULL, k, key, -1, 0, 0, 0 }
#define POP(k, key)	{ __LINE__, Q_POP, k, key, 0, 0, 0, 0 }
#define TAKE(k, key)	{ __LINE__, Q_TAKE, k, key, 0, 0, 0, 0 }
#define EMPTY		{ __LINE__, Q_EMPTY, 0, NULL, 0, 0, 0, 0 }
#define POPCLOSED	{ __LINE__, Q_POPCLOSED, 0, NULL, 0, 0, 0, 0 }
#define DONE(k, key)	{ __LINE__, Q_DONE, k, key, 0, 0, 0, 0 }
#define DONEX(k, key)	{ __LINE__, Q_DONEX, k, key, 0, 0, 0, 0 }
#define CLOSE		{ __LINE__, Q_CLOSE, 0, NULL, 0, 0, 0, 0 }
#define STATS(w, r, d)	{ __LINE__, Q_STATS, 0, NULL, 0, w, r, d }
#define END		{ 0, Q_END, 0, NULL, 0, 0, 0, 0 }

#define QSTEPS_MAX	40
#define RUNNING_MAX	16	/* popped and not done, at once */

struct qscenario {
	int		 line;
	const char	*what;
	size_t		 max;
	struct qstep	 steps[QSTEPS_MAX];
};

/* 47 bytes: the longest key; one more is too long. */
#define K47	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJK"
#define K48	K47 "L"

static const struct qscenario scenarios[] = {
	{ __LINE__, "push then pop: oldest first, the data handed over", 8, {
		STATS(0, 0, 0),
		EMPTY,
		PUSH(1, "/todos/1"),
		PUSH(1, "/todos/2"),
		PUSH(2, "/todos/1"),
		STATS(3, 0, 0),
		POP(1, "/todos/1"),
		STATS(2, 1, 0),
		TAKE(1, "/todos/2"),
		POP(2, "/todos/1"),
		STATS(0, 3, 0),
		EMPTY,
		DONE(1, "/todos/2"),
		DONE(1, "/todos/1"),
		DONE(2, "/todos/1"),
		STATS(0, 0, 0),
		PUSHNULL(3, "x"),		/* no data at all */
		PUSH(3, "y"),
		POP(3, "x"),
		POP(3, "y"),
		DONE(3, "y"),
		DONE(3, "x"),			/* in any order */
		STATS(0, 0, 0),
		END } },
	{ __LINE__, "a duplicate, waiting or running, is dropped", 8, {
		PUSH(1, "a"),
		DROP(1, "a"),			/* waiting */
		DROPNULL(1, "a"),
		STATS(1, 0, 2),
		POP(1, "a"),
		DROP(1, "a"),			/* running */
		STATS(0, 1, 3),
		EMPTY,				/* nothing was queued */
		DONE(1, "a"),
		PUSH(1, "a"),			/* done: allowed again */
		STATS(1, 0, 3),
		DROP(1, "a"),
		TAKE(1, "a"),
		DONE(1, "a"),
		PUSH(1, "a"),
		POP(1, "a"),
		DONE(1, "a"),
		STATS(0, 0, 4),
		END } },
	{ __LINE__, "kind and key both name a job", 8, {
		PUSH(1, "a"),
		PUSH(2, "a"),			/* another kind */
		PUSH(1, "b"),
		PUSH(1, "A"),			/* case counts */
		PUSH(1, "a "),			/* so does a longer key */
		PUSH(1, ""),			/* an empty key is a key */
		PUSH(0, "a"),
		PUSH(-1, "a"),
		DROP(1, "a"), DROP(2, "a"), DROP(1, "b"), DROP(1, "A"),
		DROP(1, "a "), DROP(1, ""), DROP(0, "a"), DROP(-1, "a"),
		STATS(8, 0, 8),
		POP(1, "a"), POP(2, "a"), POP(1, "b"), POP(1, "A"),
		POP(1, "a "), POP(1, ""), POP(0, "a"), POP(-1, "a"),
		DONE(2, "a"),			/* only that one */
		PUSH(2, "a"),
		DROP(1, "a"),
		DROP(0, "a"),
		STATS(1, 7, 10),
		END } },
	{ __LINE__, "max counts the waiting jobs only", 2, {
		PUSH(1, "a"),
		PUSH(1, "b"),
		DROP(1, "c"),			/* full */
		STATS(2, 0, 1),
		POP(1, "a"),
		PUSH(1, "c"),			/* a runs: room for one */
		DROP(1, "d"),
		STATS(2, 1, 2),
		POP(1, "b"),
		POP(1, "c"),
		PUSH(1, "d"),			/* three running, two waiting */
		PUSH(1, "e"),
		DROP(1, "f"),
		STATS(2, 3, 3),
		DONE(1, "a"), DONE(1, "b"), DONE(1, "c"),
		DROP(1, "f"),			/* done frees no waiting room */
		TAKE(1, "d"),
		PUSH(1, "f"),
		STATS(2, 1, 4),
		END } },
	{ __LINE__, "max 0: every push is dropped", 0, {
		DROP(1, "a"),
		DROPNULL(1, "b"),
		EMPTY,
		STATS(0, 0, 2),
		END } },
	{ __LINE__, "keys up to QUEUE_KEY_MAX - 1 bytes", 8, {
		PUSH(1, K47),
		DROP(2, K48),			/* too long */
		DROP(2, K48 "more"),
		DROPNULL(2, K48),
		STATS(1, 0, 3),			/* counted as dropped */
		DROP(1, K47),			/* the whole key is compared */
		POP(1, K47),
		EMPTY,
		DONE(1, K47),
		PUSH(1, K47),
		STATS(1, 0, 4),
		END } },
	{ __LINE__, "done of what is not running does nothing", 8, {
		PUSH(1, "a"),
		PUSH(1, "b"),
		POP(1, "a"),
		DONEX(1, "b"),			/* waiting, not running */
		DONEX(1, "c"),			/* never pushed */
		DONEX(2, "a"),			/* another kind */
		STATS(1, 1, 0),
		DROP(1, "b"),			/* still waiting */
		DROP(1, "a"),			/* still running */
		DONE(1, "a"),
		DONEX(1, "a"),			/* twice */
		STATS(1, 0, 2),
		TAKE(1, "b"),
		DONE(1, "b"),
		STATS(0, 0, 2),
		END } },
	{ __LINE__, "closed: pushes dropped, pop returns, take drains", 8, {
		PUSH(1, "a"),
		PUSH(1, "b"),
		PUSH(1, "c"),
		POP(1, "a"),
		CLOSE,
		DROP(1, "d"),
		DROPNULL(1, "e"),
		DROP(1, "a"),			/* running, and closed */
		STATS(2, 1, 3),
		POPCLOSED,			/* with jobs waiting */
		POPCLOSED,
		TAKE(1, "b"),
		DONE(1, "a"),
		DONE(1, "b"),
		DROP(1, "b"),
		STATS(1, 0, 4),
		CLOSE,				/* twice */
		POPCLOSED,
		END } },			/* c is left to queue_free */
	{ __LINE__, "queue_free frees what still waits", 8, {
		PUSH(1, "a"),
		PUSHNULL(1, "b"),
		PUSH(2, "a"),
		POP(1, "a"),
		DONE(1, "a"),
		END } },
	{ __LINE__, "many jobs: order and the table hold", 256, {
		PUSH(1, "k0"), PUSH(1, "k1"), PUSH(1, "k2"), PUSH(1, "k3"),
		PUSH(1, "k4"), PUSH(1, "k5"), PUSH(1, "k6"), PUSH(1, "k7"),
		PUSH(2, "k0"), PUSH(2, "k1"), PUSH(2, "k2"), PUSH(2, "k3"),
		DROP(1, "k7"), DROP(2, "k0"),
		POP(1, "k0"), POP(1, "k1"), POP(1, "k2"), POP(1, "k3"),
		TAKE(1, "k4"), TAKE(1, "k5"), TAKE(1, "k6"), TAKE(1, "k7"),
		DONE(1, "k3"), DONE(1, "k7"),
		PUSH(1, "k7"), PUSH(1, "k3"),
		POP(2, "k0"), POP(2, "k1"), POP(2, "k2"), POP(2, "k3"),
		POP(1, "k7"), POP(1, "k3"),
		EMPTY,
		STATS(0, 12, 2),
		END } },
};

static const char *
qop_name(enum qop op)
{
	switch (op) {
	case Q_PUSH:		return "queue_push";
	case Q_PUSHNULL:	return "queue_push(data NULL)";
	case Q_POP:		return "queue_pop";
	case Q_TAKE:		return "queue_take";
	case Q_EMPTY:		return "queue_take (want nothing)";
	case Q_POPCLOSED:	return "queue_pop (closed)";
	case Q_DONE:		return "queue_done";
	case Q_DONEX:		return "queue_done (not popped)";
	case Q_CLOSE:		return "queue_close";
	case Q_STATS:		return "queue_stats";
	default:		return "(end)";
	}
}

/* The data a push of (kind, key) hands over: "kind/key", no NUL. */
static size_t
job_data(int kind, const char *key, char *buf, size_t size)
{
	int	n = snprintf(buf, size, "%d/%s", kind, key);

	assert_true(n > 0 && (size_t)n < size);
	return (size_t)n;
}

/*
 * A popped job against what st wants: its kind, key and data (the pointer
 * pushed, pushed[] holds it by step).  Returns 0 if it differs.
 */
static int
check_job(const struct qscenario *sc, const struct qstep *st,
    const struct queue_job *job, void *const *pdata, const size_t *plen)
{
	char	want[128], a[128], b[128];
	size_t	len;

	if (job->kind != st->kind || strcmp(job->key, st->key) != 0) {
		row_fail(st->line, "%s: %s: (%d, %s), want (%d, %s)", sc->what,
		    qop_name(st->op), job->kind, show_str(job->key, a,
		    sizeof(a)), st->kind, show_str(st->key, b, sizeof(b)));
		return 0;
	}
	len = job_data(job->kind, job->key, want, sizeof(want));
	if (job->data != *pdata || job->len != *plen)
		row_fail(st->line, "%s: %s(%d, %s): data %p (%zu bytes), want "
		    "the %p (%zu bytes) pushed", sc->what, qop_name(st->op),
		    st->kind, show_str(st->key, a, sizeof(a)), job->data,
		    job->len, *pdata, *plen);
	else if (job->data != NULL && (job->len != len ||
	    memcmp(job->data, want, len) != 0))
		row_fail(st->line, "%s: %s(%d, %s): data %s, want %s",
		    sc->what, qop_name(st->op), st->kind,
		    show_str(st->key, a, sizeof(a)),
		    show(job->data, job->len, b, sizeof(b)), want);
	else
		return 1;
	return 0;
}

/*
 * The data last pushed for (kind, key), by looking back through the
 * steps: what a pop of it must hand back.  NULL, 0 for a PUSHNULL.
 */
static void
pushed_data(const struct qscenario *sc, size_t upto, void *const *data,
    const size_t *lens, int kind, const char *key, void *const **pdata,
    const size_t **plen)
{
	size_t	i;

	*pdata = NULL;
	*plen = NULL;
	for (i = upto; i-- > 0; ) {
		const struct qstep *st = &sc->steps[i];

		if ((st->op == Q_PUSH || st->op == Q_PUSHNULL) &&
		    st->want == 0 && st->kind == kind &&
		    strcmp(st->key, key) == 0) {
			*pdata = &data[i];
			*plen = &lens[i];
			return;
		}
	}
}

static void
qrun(const struct qscenario *sc)
{
	static void		*data[QSTEPS_MAX];
	static size_t		 lens[QSTEPS_MAX];
	const struct qstep	*st;
	struct queue		*q;
	struct queue_job	 job, running[RUNNING_MAX], made;
	struct queue_stats	 qs;
	void *const		*pdata;
	const size_t		*plen;
	char			 buf[128], a[128];
	size_t			 i, j, nrunning = 0;
	int			 rc;

	memset(data, 0, sizeof(data));
	memset(lens, 0, sizeof(lens));
	q = queue_new(sc->max);
	assert_non_null(q);
	for (i = 0; i < QSTEPS_MAX && sc->steps[i].op != Q_END; i++) {
		st = &sc->steps[i];
		if (st->key != NULL)
			(void)show_str(st->key, a, sizeof(a));
		switch (st->op) {
		case Q_PUSH:
		case Q_PUSHNULL:
			if (st->op == Q_PUSH) {
				lens[i] = job_data(st->kind, st->key, buf,
				    sizeof(buf));
				data[i] = exact(buf, lens[i]);
			}
			/* the queue owns data[i] now, whatever it returns */
			rc = queue_push(q, st->kind, st->key, data[i],
			    lens[i]);
			if (rc != st->want)
				row_fail(st->line, "%s: %s(%d, %s): %d, want "
				    "%d", sc->what, qop_name(st->op), st->kind,
				    a, rc, st->want);
			break;
		case Q_POP:
		case Q_TAKE:
			queue_stats(q, &qs);
			if (st->op == Q_POP && qs.waiting == 0) {
				/* it would block for good */
				row_fail(st->line, "%s: %s: nothing waits, "
				    "want (%d, %s)", sc->what,
				    qop_name(st->op), st->kind, a);
				break;
			}
			memset(&job, 0, sizeof(job));
			rc = st->op == Q_POP ? queue_pop(q, &job) :
			    queue_take(q, &job);
			if (rc != 0) {
				row_fail(st->line, "%s: %s: %d, want (%d, %s)",
				    sc->what, qop_name(st->op), rc, st->kind,
				    a);
				break;
			}
			pushed_data(sc, i, data, lens, job.kind, job.key,
			    &pdata, &plen);
			if (pdata == NULL) {
				row_fail(st->line, "%s: %s: (%d, %s), never "
				    "pushed", sc->what, qop_name(st->op),
				    job.kind, show_str(job.key, buf,
				    sizeof(buf)));
				break;	/* not ours: leave it alone */
			}
			(void)check_job(sc, st, &job, pdata, plen);
			if (nrunning == RUNNING_MAX)
				fail_msg("line %d: raise RUNNING_MAX",
				    st->line);
			running[nrunning++] = job;
			break;
		case Q_EMPTY:
			if (queue_take(q, &job) == 0) {
				row_fail(st->line, "%s: %s: (%d, %s), want "
				    "nothing", sc->what, qop_name(st->op),
				    job.kind, show_str(job.key, buf,
				    sizeof(buf)));
				free(job.data);
				queue_done(q, &job);
			}
			break;
		case Q_POPCLOSED:
			if (queue_pop(q, &job) == 0) {
				row_fail(st->line, "%s: %s: (%d, %s), want -1",
				    sc->what, qop_name(st->op), job.kind,
				    show_str(job.key, buf, sizeof(buf)));
				free(job.data);
				queue_done(q, &job);
			}
			break;
		case Q_DONE:
			for (j = 0; j < nrunning; j++)
				if (running[j].kind == st->kind &&
				    strcmp(running[j].key, st->key) == 0)
					break;
			if (j == nrunning) {
				row_fail(st->line, "%s: %s(%d, %s): not popped",
				    sc->what, qop_name(st->op), st->kind, a);
				break;
			}
			queue_done(q, &running[j]);
			free(running[j].data);
			running[j] = running[--nrunning];
			break;
		case Q_DONEX:
			memset(&made, 0, sizeof(made));
			made.kind = st->kind;
			(void)snprintf(made.key, sizeof(made.key), "%s",
			    st->key);
			queue_done(q, &made);
			break;
		case Q_CLOSE:
			queue_close(q);
			break;
		case Q_STATS:
			memset(&qs, 0xa5, sizeof(qs));
			queue_stats(q, &qs);
			if (qs.waiting != st->w || qs.running != st->r ||
			    qs.dropped != st->d)
				row_fail(st->line, "%s: %s: waiting %zu, "
				    "running %zu, dropped %lu; want %zu, %zu, "
				    "%lu", sc->what, qop_name(st->op),
				    qs.waiting, qs.running, qs.dropped, st->w,
				    st->r, st->d);
			break;
		default:
			fail_msg("bad step at line %d", st->line);
		}
	}
	/* running jobs are the holder's to finish; waiting ones the queue's */
	for (j = 0; j < nrunning; j++) {
		queue_done(q, &running[j]);
		free(running[j].data);
	}
	queue_close(q);
	queue_free(q);
}

static void
test_queue_scenarios(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		qrun(&scenarios[i]);
	done();
}

/* A job popped on another thread. */
struct popper {
	struct queue		*q;
	struct queue_job	 job;
	int			 rc;
	atomic_int		 back;	/* queue_pop returned */
};

static void *
popper_main(void *arg)
{
	struct popper	*p = arg;

	p->rc = queue_pop(p->q, &p->job);
	atomic_store(&p->back, 1);
	return NULL;
}

/*
 * queue_pop blocks while nothing waits, and returns the job a push brings.
 * The wait is a fixed 100 ms: a pop that did not block would almost always
 * be back by then, and one that blocks never is, so the test never fails
 * when the queue works.
 */
static void
test_queue_pop_blocks(void **state)
{
	struct timespec	 ts = { 0, 100 * 1000 * 1000 };
	struct popper	 p;
	pthread_t	 th;
	char		*data, a[64];

	(void)state;
	memset(&p, 0, sizeof(p));
	atomic_init(&p.back, 0);
	p.q = queue_new(4);
	assert_non_null(p.q);
	assert_int_equal(pthread_create(&th, NULL, popper_main, &p), 0);
	(void)nanosleep(&ts, NULL);
	if (atomic_load(&p.back))
		row_fail(__LINE__, "queue_pop returned %d on an empty queue",
		    p.rc);
	data = exact("payload", 7);
	if (queue_push(p.q, 7, "/todos/7", data, 7) != 0)
		row_fail(__LINE__, "queue_push to an empty queue: -1");
	assert_int_equal(pthread_join(th, NULL), 0);
	if (p.rc != 0 || p.job.kind != 7 || strcmp(p.job.key, "/todos/7") != 0
	    || p.job.data != data || p.job.len != 7)
		row_fail(__LINE__, "the blocked pop: %d, (%d, %s, %p, %zu); "
		    "want 0, (7, \"/todos/7\", %p, 7)", p.rc, p.job.kind,
		    show_str(p.job.key, a, sizeof(a)), p.job.data, p.job.len,
		    (void *)data);
	if (p.rc == 0) {
		free(p.job.data);
		queue_done(p.q, &p.job);
	}
	queue_close(p.q);
	queue_free(p.q);
	done();
}

#define POPPERS	3

/* queue_close wakes every blocked pop, which returns -1. */
static void
test_queue_close_wakes(void **state)
{
	struct timespec	 ts = { 0, 50 * 1000 * 1000 };
	struct popper	 p[POPPERS];
	struct queue	*q;
	pthread_t	 th[POPPERS];
	int		 i;

	(void)state;
	q = queue_new(4);
	assert_non_null(q);
	memset(p, 0, sizeof(p));
	for (i = 0; i < POPPERS; i++) {
		p[i].q = q;
		atomic_init(&p[i].back, 0);
		assert_int_equal(pthread_create(&th[i], NULL, popper_main,
		    &p[i]), 0);
	}
	(void)nanosleep(&ts, NULL);	/* most likely all blocked by now */
	queue_close(q);
	for (i = 0; i < POPPERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		if (p[i].rc != -1)
			row_fail(__LINE__, "pop %d after queue_close: %d, "
			    "want -1", i, p[i].rc);
	}
	if (queue_push(q, 1, "a", exact("late", 4), 4) != -1)
		row_fail(__LINE__, "queue_push after queue_close: 0");
	queue_free(q);
	done();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_queue_scenarios, reset),
		cmocka_unit_test_setup(test_queue_pop_blocks, reset),
		cmocka_unit_test_setup(test_queue_close_wakes, reset),
	};

	/* A pop that never returns hangs its join: fail instead. */
	(void)alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
