/*
 * test_threads.c: many threads on one in-process cache (local.h) and on
 * one job queue (queue.h), as the multi-threaded responder uses them.
 *
 * Each test runs for a fixed wall time (LOCAL_MS, QUEUE_MS) and checks
 * what can be checked from outside while it runs and when it is over; it
 * is written as much for ThreadSanitizer (make tsan), which reports any
 * data race or lock misuse inside the modules, as for its own checks.
 *
 * The cache: request threads get, hold and release, and on a miss mark,
 * read a model of Redis and put; an invalidation thread changes the model
 * and invalidates, flushes, disables and enables, and counts lost
 * connections that request threads pass to local_losses().  Every value
 * names its key and version and the rest of it follows from those, so a
 * hit's bytes are checked whole: they must be exactly the value of a
 * version that was put, not older than an invalidation already delivered,
 * and must not change while the reference is held.
 *
 * The queue: producers push jobs with unique ids, consumers pop, run and
 * finish them.  Every job pushed is popped (or taken after the close)
 * exactly once if the push said queued, never if it said dropped; the
 * dropped count agrees; no two consumers run the same kind and key at
 * once; the queue never holds more than its max waiting.
 *
 * Threads do not call cmocka: a failure is recorded (tfail) and reported
 * by the main thread after the joins.  Nothing here reads the environment
 * or the network; the clock only bounds the run.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "local.h"
#include "queue.h"

#define LOCAL_MS	800
#define QUEUE_MS	800

/* Failures on any thread, kept for the main thread to report. */
#define TFAIL_KEPT	8

static pthread_mutex_t	tfail_mu = PTHREAD_MUTEX_INITIALIZER;
static int		tfail_n;
static int		tfail_line[TFAIL_KEPT];
static char		tfail_msg[TFAIL_KEPT][256];
static atomic_int	tfailed;	/* tfail_n, for loops to stop early */

static void	tfail(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
tfail(int line, const char *fmt, ...)
{
	va_list	ap;

	pthread_mutex_lock(&tfail_mu);
	if (tfail_n < TFAIL_KEPT) {
		va_start(ap, fmt);
		(void)vsnprintf(tfail_msg[tfail_n], sizeof(tfail_msg[0]), fmt,
		    ap);
		va_end(ap);
		tfail_line[tfail_n] = line;
	}
	tfail_n++;
	pthread_mutex_unlock(&tfail_mu);
	atomic_fetch_add(&tfailed, 1);
}

/* Main thread, after the joins: every recorded failure becomes a row. */
static void
tfail_report(void)
{
	int	i;

	pthread_mutex_lock(&tfail_mu);
	for (i = 0; i < tfail_n && i < TFAIL_KEPT; i++)
		row_fail(tfail_line[i], "%s", tfail_msg[i]);
	if (tfail_n > TFAIL_KEPT)
		row_fail(__LINE__, "and %d more failure(s)",
		    tfail_n - TFAIL_KEPT);
	tfail_n = 0;
	pthread_mutex_unlock(&tfail_mu);
	atomic_store(&tfailed, 0);
}

/* xorshift64*: a seeded, repeatable sequence per thread. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static long long
mono_ms(void)
{
	struct timespec	ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(long ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000 };

	(void)nanosleep(&ts, NULL);
}

/* --- the cache ---------------------------------------------------------- */

#define REQUESTERS	3
#define LKEYS		64
#define LMAX		16384	/* a third of the keys or so: evictions */
#define VAL_MAX		700

/*
 * A model of Redis: the version each key holds, and the newest version
 * whose invalidation has been delivered (local_invalidate returned).  Only
 * the invalidation thread writes them.
 */
struct lshared {
	struct local	*l;
	atomic_ulong	 redis[LKEYS];
	atomic_ulong	 delivered[LKEYS];
	atomic_ulong	 losses;	/* connections lost (cache.c) */
	atomic_int	 stop;
	atomic_ulong	 hits, misses, held, invalidations;
};

struct requester {
	struct lshared	*s;
	uint64_t	 seed;
};

static size_t
lkey(int k, char *buf, size_t size)
{
	return (size_t)snprintf(buf, size, "todo:%d", k);
}

/*
 * The value of key k at version ver: "todo:K@VER|" then bytes that follow
 * from k, ver and the offset (NULs too), 32 to VAL_MAX bytes in all.
 */
static size_t
lval(int k, unsigned long ver, char *buf, size_t size)
{
	size_t	i, n, len;

	n = (size_t)snprintf(buf, size, "todo:%d@%lu|", k, ver);
	len = 32 + ((size_t)k * 131 + ver * 7) % (VAL_MAX - 32);
	if (len > size)
		len = size;
	for (i = n; i < len; i++)
		buf[i] = (char)((size_t)k * 3 + ver + i * 7);
	return len;
}

/*
 * A hit's bytes: which key and version they name, and whether they are
 * exactly that version's value.  Returns 0 (and a reason in why) if not.
 */
static int
lparse(const char *got, size_t len, int *k, unsigned long *ver,
    const char **why)
{
	char		 head[40], want[VAL_MAX];
	size_t		 n = len < sizeof(head) - 1 ? len : sizeof(head) - 1;
	char		*bar;

	memcpy(head, got, n);
	head[n] = '\0';
	if ((bar = memchr(head, '|', n)) == NULL) {
		*why = "no \"|\" in the first bytes";
		return 0;
	}
	*bar = '\0';
	if (sscanf(head, "todo:%d@%lu", k, ver) != 2 || *k < 0 ||
	    *k >= LKEYS) {
		*why = "no todo:K@VER in front";
		return 0;
	}
	if (lval(*k, *ver, want, sizeof(want)) != len ||
	    memcmp(got, want, len) != 0) {
		*why = "not the value of the version it names";
		return 0;
	}
	return 1;
}

static void *
requester_main(void *arg)
{
	struct requester	*r = arg;
	struct lshared		*s = r->s;
	struct local_ref	*ref;
	const char		*got, *why = "";
	char			 key[LKEYS][16], val[VAL_MAX], a[64];
	size_t			 keylen[LKEYS], gotlen, len;
	unsigned long		 gone, ver, newest, mark;
	unsigned long		 hits = 0, misses = 0, held = 0;
	long long		 now = 0;
	uint64_t		 x;
	int			 i, k, hk;

	for (k = 0; k < LKEYS; k++)
		keylen[k] = lkey(k, key[k], sizeof(key[k]));
	while (!atomic_load(&s->stop) && atomic_load(&tfailed) < 5) {
		x = rnd(&r->seed);
		k = (int)(x % LKEYS);
		now++;
		local_losses(s->l, atomic_load(&s->losses));
		gone = atomic_load(&s->delivered[k]);
		ref = local_get(s->l, key[k], keylen[k], now, &got, &gotlen);
		if (ref == NULL) {
			misses++;
			mark = local_mark(s->l);
			ver = atomic_load(&s->redis[k]);
			len = lval(k, ver, val, sizeof(val));
			if ((x >> 56) % 2 == 0)
				sched_yield();	/* the Redis round trip */
			local_put(s->l, mark, key[k], keylen[k], val, len,
			    now + 1 + (long long)((x >> 40) % 3000));
			continue;
		}
		hits++;
		newest = atomic_load(&s->redis[k]);
		if (!lparse(got, gotlen, &hk, &ver, &why))
			tfail(__LINE__, "%s: hit %s (%zu bytes): %s", key[k],
			    show(got, gotlen, a, sizeof(a)), gotlen, why);
		else if (hk != k)
			tfail(__LINE__, "%s: hit the value of todo:%d", key[k],
			    hk);
		else if (ver > newest)
			tfail(__LINE__, "%s: hit version %lu, never put (Redis "
			    "holds %lu)", key[k], ver, newest);
		else if (ver < gone)
			tfail(__LINE__, "%s: hit version %lu after the "
			    "invalidation of version %lu was delivered",
			    key[k], ver, gone);
		else if ((x >> 50) % 4 == 0) {
			/* hold it while the others drop and replace it */
			held++;
			memcpy(val, got, gotlen);
			for (i = 0; i < 3; i++)
				sched_yield();
			if (memcmp(got, val, gotlen) != 0)
				tfail(__LINE__, "%s: held bytes changed to %s",
				    key[k], show(got, gotlen, a, sizeof(a)));
		}
		local_release(s->l, ref);
	}
	atomic_fetch_add(&s->hits, hits);
	atomic_fetch_add(&s->misses, misses);
	atomic_fetch_add(&s->held, held);
	return NULL;
}

/* track.c's part: Redis changes a key and says so; the channel drops. */
static void *
invalidator_main(void *arg)
{
	struct lshared	*s = arg;
	uint64_t	 x, seed = 0x9e3779b97f4a7c15ULL;
	unsigned long	 v, n = 0;
	char		 key[16];
	size_t		 keylen;
	int		 k;

	while (!atomic_load(&s->stop)) {
		x = rnd(&seed);
		k = (int)(x % LKEYS);
		switch ((x >> 32) % 256) {
		case 0:
			local_disable(s->l);
			sched_yield();
			local_enable(s->l);
			break;
		case 1:
			local_invalidate(s->l, NULL, 0);	/* FLUSHALL */
			break;
		case 2:
			atomic_fetch_add(&s->losses, 1);	/* reconnect */
			break;
		default:
			v = atomic_fetch_add(&s->redis[k], 1) + 1;
			keylen = lkey(k, key, sizeof(key));
			local_invalidate(s->l, key, keylen);
			atomic_store(&s->delivered[k], v);
			n++;
			break;
		}
		if (x % 4 != 0)
			sched_yield();	/* leave the request threads room */
	}
	atomic_store(&s->invalidations, n);
	return NULL;
}

static void
test_threads_local(void **state)
{
	struct lshared		*s;
	struct requester	 r[REQUESTERS];
	pthread_t		 th[REQUESTERS], inv;
	int			 i, k;

	(void)state;
	s = calloc(1, sizeof(*s));
	assert_non_null(s);
	for (k = 0; k < LKEYS; k++) {
		atomic_init(&s->redis[k], 0);
		atomic_init(&s->delivered[k], 0);
	}
	atomic_init(&s->losses, 0);
	atomic_init(&s->stop, 0);
	atomic_init(&s->hits, 0);
	atomic_init(&s->misses, 0);
	atomic_init(&s->held, 0);
	atomic_init(&s->invalidations, 0);
	s->l = local_new(LMAX);
	assert_non_null(s->l);
	local_enable(s->l);
	assert_int_equal(pthread_create(&inv, NULL, invalidator_main, s), 0);
	for (i = 0; i < REQUESTERS; i++) {
		r[i].s = s;
		r[i].seed = 0xc0ffee123456789ULL + (uint64_t)i * 0x1234567;
		assert_int_equal(pthread_create(&th[i], NULL, requester_main,
		    &r[i]), 0);
	}
	sleep_ms(LOCAL_MS);
	atomic_store(&s->stop, 1);
	for (i = 0; i < REQUESTERS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(pthread_join(inv, NULL), 0);
	tfail_report();
	if (atomic_load(&s->hits) == 0 || atomic_load(&s->misses) == 0 ||
	    atomic_load(&s->held) == 0 || atomic_load(&s->invalidations) == 0)
		row_fail(__LINE__, "no contest: %lu hits (%lu held), %lu "
		    "misses, %lu invalidations", atomic_load(&s->hits),
		    atomic_load(&s->held), atomic_load(&s->misses),
		    atomic_load(&s->invalidations));
	local_free(s->l);	/* ASan: every node freed, none twice */
	free(s);
	done();
}

/* --- the queue ---------------------------------------------------------- */

#define PRODUCERS	2
#define CONSUMERS	3	/* the first one takes instead of popping */
#define KINDS		2
#define QKEYS		8
#define QMAX		6
#define PER_PRODUCER	(1 << 20)	/* job ids each producer may use */

enum { OUT_NONE, OUT_QUEUED, OUT_DROPPED };

/* What a job carries: enough to check what a consumer was handed. */
struct jobdata {
	unsigned long	 id;
	int		 kind;
	int		 keyno;		/* key is "/todos/<keyno>" */
	char		 key[QUEUE_KEY_MAX];
};

struct qshared {
	struct queue	*q;
	unsigned char	*outcome;	/* by id; its producer writes it */
	atomic_uchar	*runs;		/* by id: times popped or taken */
	atomic_int	 running[KINDS][QKEYS];
	atomic_int	 stop, closed;
	atomic_ulong	 queued, dropped, ran;
};

struct producer {
	struct qshared	*s;
	int		 no;
};

struct consumer {
	struct qshared	*s;
	int		 no;
};

static void *
producer_main(void *arg)
{
	struct producer	*p = arg;
	struct qshared	*s = p->s;
	struct jobdata	*d;
	unsigned long	 id, queued = 0, dropped = 0, i;
	uint64_t	 x, seed = 0xfeedface12345ULL + (uint64_t)p->no;
	char		 key[QUEUE_KEY_MAX];
	int		 kind, keyno;

	for (i = 0; i < PER_PRODUCER && !atomic_load(&s->stop); i++) {
		x = rnd(&seed);
		id = (unsigned long)p->no * PER_PRODUCER + i;
		kind = (int)(x % KINDS);
		keyno = (int)((x >> 8) % QKEYS);
		(void)snprintf(key, sizeof(key), "/todos/%d", keyno);
		if ((d = malloc(sizeof(*d))) == NULL) {
			tfail(__LINE__, "out of memory");
			break;
		}
		d->id = id;
		d->kind = kind;
		d->keyno = keyno;
		memcpy(d->key, key, sizeof(key));
		/* the queue owns d now, queued or not */
		if (queue_push(s->q, kind, key, d, sizeof(*d)) == 0) {
			s->outcome[id] = OUT_QUEUED;
			queued++;
		} else {
			s->outcome[id] = OUT_DROPPED;
			dropped++;
		}
		if (x % 8 == 0)
			sched_yield();
	}
	atomic_fetch_add(&s->queued, queued);
	atomic_fetch_add(&s->dropped, dropped);
	return NULL;
}

/* A consumer's part of a job: check it, mark it run, and finish it. */
static void
run_job(struct qshared *s, const struct queue_job *job, int no)
{
	const struct jobdata	*d = job->data;
	int			 key;

	if (d == NULL || job->len != sizeof(*d) || d->kind != job->kind ||
	    d->kind < 0 || d->kind >= KINDS || d->keyno < 0 ||
	    d->keyno >= QKEYS || strcmp(d->key, job->key) != 0 ||
	    d->id >= PRODUCERS * (unsigned long)PER_PRODUCER) {
		tfail(__LINE__, "consumer %d: job (%d, %s) handed data %p, "
		    "%zu bytes, not its own", no, job->kind, job->key,
		    job->data, job->len);
		return;
	}
	key = d->keyno;
	if (atomic_exchange(&s->running[d->kind][key], 1) != 0)
		tfail(__LINE__, "consumer %d: (%d, %s) already running", no,
		    d->kind, d->key);
	if (atomic_fetch_add(&s->runs[d->id], 1) != 0)
		tfail(__LINE__, "consumer %d: job %lu (%d, %s) ran twice", no,
		    d->id, d->kind, d->key);
	atomic_fetch_add(&s->ran, 1);
	if (d->id % 3 == 0)
		sched_yield();		/* a longer job */
	/* not running any more before done: then it may come back */
	atomic_store(&s->running[d->kind][key], 0);
}

static void *
consumer_main(void *arg)
{
	struct consumer		*c = arg;
	struct qshared		*s = c->s;
	struct queue_job	 job;

	for (;;) {
		if (c->no == 0) {
			if (queue_take(s->q, &job) == -1) {
				if (atomic_load(&s->closed))
					break;
				sched_yield();
				continue;
			}
		} else if (queue_pop(s->q, &job) == -1)
			break;		/* closed */
		run_job(s, &job, c->no);
		free(job.data);
		queue_done(s->q, &job);
	}
	return NULL;
}

static void
test_threads_queue(void **state)
{
	struct qshared		*s;
	struct producer		 p[PRODUCERS];
	struct consumer		 c[CONSUMERS];
	struct queue_stats	 st;
	struct queue_job	 job;
	pthread_t		 pt[PRODUCERS], ct[CONSUMERS];
	unsigned long		 id, left = 0, samples = 0, lost = 0;
	unsigned long		 twice = 0, ghost = 0;
	long long		 start;
	int			 i, j;

	(void)state;
	s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->outcome = calloc(PRODUCERS * (size_t)PER_PRODUCER, 1);
	s->runs = calloc(PRODUCERS * (size_t)PER_PRODUCER,
	    sizeof(*s->runs));
	assert_non_null(s->outcome);
	assert_non_null(s->runs);
	for (i = 0; i < KINDS; i++)
		for (j = 0; j < QKEYS; j++)
			atomic_init(&s->running[i][j], 0);
	atomic_init(&s->stop, 0);
	atomic_init(&s->closed, 0);
	atomic_init(&s->queued, 0);
	atomic_init(&s->dropped, 0);
	atomic_init(&s->ran, 0);
	s->q = queue_new(QMAX);
	assert_non_null(s->q);
	for (i = 0; i < CONSUMERS; i++) {
		c[i].s = s;
		c[i].no = i;
		assert_int_equal(pthread_create(&ct[i], NULL, consumer_main,
		    &c[i]), 0);
	}
	for (i = 0; i < PRODUCERS; i++) {
		p[i].s = s;
		p[i].no = i;
		assert_int_equal(pthread_create(&pt[i], NULL, producer_main,
		    &p[i]), 0);
	}
	/* meanwhile: the bounds hold at every look */
	start = mono_ms();
	while (mono_ms() - start < QUEUE_MS) {
		queue_stats(s->q, &st);
		samples++;
		if (st.waiting > QMAX || st.running > CONSUMERS)
			tfail(__LINE__, "queue_stats: %zu waiting (max %d), "
			    "%zu running (%d consumers)", st.waiting, QMAX,
			    st.running, CONSUMERS);
		sleep_ms(1);
	}
	/*
	 * Closed under the producers' feet: a push either got in before
	 * (then it is popped before the close, or taken after) or is
	 * dropped.  Jobs waiting at the close are left for queue_take.
	 */
	queue_close(s->q);
	atomic_store(&s->closed, 1);
	atomic_store(&s->stop, 1);
	for (i = 0; i < PRODUCERS; i++)
		assert_int_equal(pthread_join(pt[i], NULL), 0);
	for (i = 0; i < CONSUMERS; i++)
		assert_int_equal(pthread_join(ct[i], NULL), 0);
	while (queue_take(s->q, &job) == 0) {
		run_job(s, &job, -1);
		free(job.data);
		queue_done(s->q, &job);
		left++;
	}
	tfail_report();

	/* the accounting, job by job */
	for (id = 0; id < PRODUCERS * (unsigned long)PER_PRODUCER; id++) {
		unsigned	runs = atomic_load(&s->runs[id]);

		if (s->outcome[id] == OUT_QUEUED && runs != 1) {
			if (runs == 0 && lost++ < 3)
				row_fail(__LINE__, "job %lu was queued and "
				    "never ran", id);
			else if (runs > 1 && twice++ < 3)
				row_fail(__LINE__, "job %lu ran %u times",
				    id, runs);
		} else if (s->outcome[id] != OUT_QUEUED && runs != 0 &&
		    ghost++ < 3)
			row_fail(__LINE__, "job %lu (%s) ran %u time(s)", id,
			    s->outcome[id] == OUT_DROPPED ? "dropped" :
			    "never pushed", runs);
	}
	queue_stats(s->q, &st);
	if (atomic_load(&s->queued) != atomic_load(&s->ran))
		row_fail(__LINE__, "%lu jobs queued, %lu ran (%lu of them "
		    "taken after the close)", atomic_load(&s->queued),
		    atomic_load(&s->ran), left);
	if (st.dropped != atomic_load(&s->dropped) || st.waiting != 0 ||
	    st.running != 0)
		row_fail(__LINE__, "queue_stats at the end: %zu waiting, %zu "
		    "running, %lu dropped; want 0, 0, %lu", st.waiting,
		    st.running, st.dropped, atomic_load(&s->dropped));
	if (atomic_load(&s->queued) == 0 || atomic_load(&s->dropped) == 0)
		row_fail(__LINE__, "no contest: %lu queued, %lu dropped (%lu "
		    "looks at the stats)", atomic_load(&s->queued),
		    atomic_load(&s->dropped), samples);
	queue_free(s->q);
	free(s->outcome);
	free(s->runs);
	free(s);
	done();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_threads_local, reset),
		cmocka_unit_test_setup(test_threads_queue, reset),
	};

	/* A lock left held or a pop never woken hangs a join: fail. */
	(void)alarm(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
