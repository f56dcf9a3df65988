/*
 * queue.c: a FIFO of job nodes, with every node (waiting or running) also
 * in a small hash table by kind and key, so that a duplicate push is found
 * without a scan and costs no allocation.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

#define NBUCKETS	256	/* a power of two */

struct node {
	struct node		*hnext;		/* bucket chain */
	struct node		*next;		/* FIFO, while waiting */
	uint64_t		 hash;
	int			 running;
	struct queue_job	 job;
};

struct queue {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct node	*buckets[NBUCKETS];
	struct node	*head, *tail;		/* waiting, oldest first */
	size_t		 waiting, running, max;
	unsigned long	 dropped;
	int		 closed;
};

static uint64_t
hash(int kind, const char *key)
{
	uint64_t	h = 0xcbf29ce484222325ULL ^ (unsigned)kind;

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The link that points at (kind, key)'s node, or at the chain's end. */
static struct node **
find(struct queue *q, uint64_t h, int kind, const char *key)
{
	struct node	**pp = &q->buckets[h & (NBUCKETS - 1)];

	while (*pp != NULL && ((*pp)->hash != h || (*pp)->job.kind != kind ||
	    strcmp((*pp)->job.key, key) != 0))
		pp = &(*pp)->hnext;
	return pp;
}

struct queue *
queue_new(size_t max)
{
	struct queue	*q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	if (pthread_mutex_init(&q->mu, NULL) != 0) {
		free(q);
		return NULL;
	}
	if (pthread_cond_init(&q->cv, NULL) != 0) {
		pthread_mutex_destroy(&q->mu);
		free(q);
		return NULL;
	}
	q->max = max;
	return q;
}

void
queue_free(struct queue *q)
{
	struct queue_job	job;

	if (q == NULL)
		return;
	while (queue_take(q, &job) == 0) {
		free(job.data);
		queue_done(q, &job);
	}
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

int
queue_push(struct queue *q, int kind, const char *key, void *data,
    size_t len)
{
	struct node	**pp, *n;
	uint64_t	  h;
	size_t		  keylen = strlen(key);

	h = hash(kind, key);
	pthread_mutex_lock(&q->mu);
	if (keylen >= QUEUE_KEY_MAX || q->closed || q->waiting >= q->max ||
	    *(pp = find(q, h, kind, key)) != NULL)
		goto drop;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		goto drop;
	n->hash = h;
	n->job.kind = kind;
	memcpy(n->job.key, key, keylen + 1);
	n->job.data = data;
	n->job.len = len;
	*pp = n;
	if (q->tail != NULL)
		q->tail->next = n;
	else
		q->head = n;
	q->tail = n;
	q->waiting++;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return 0;
drop:
	q->dropped++;
	pthread_mutex_unlock(&q->mu);
	free(data);
	return -1;
}

/* Moves the oldest waiting node to running; the mutex is held. */
static void
start(struct queue *q, struct queue_job *job)
{
	struct node	*n = q->head;

	if ((q->head = n->next) == NULL)
		q->tail = NULL;
	n->next = NULL;
	n->running = 1;
	q->waiting--;
	q->running++;
	*job = n->job;
	n->job.data = NULL;	/* the caller's now */
}

int
queue_pop(struct queue *q, struct queue_job *job)
{
	pthread_mutex_lock(&q->mu);
	while (q->head == NULL && !q->closed)
		pthread_cond_wait(&q->cv, &q->mu);
	if (q->closed) {
		pthread_mutex_unlock(&q->mu);
		return -1;
	}
	start(q, job);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

int
queue_take(struct queue *q, struct queue_job *job)
{
	int	rc = -1;

	pthread_mutex_lock(&q->mu);
	if (q->head != NULL) {
		start(q, job);
		rc = 0;
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

void
queue_done(struct queue *q, const struct queue_job *job)
{
	struct node	**pp, *n;

	pthread_mutex_lock(&q->mu);
	pp = find(q, hash(job->kind, job->key), job->kind, job->key);
	if ((n = *pp) != NULL && n->running) {
		*pp = n->hnext;
		q->running--;
		free(n);
	}
	pthread_mutex_unlock(&q->mu);
}

void
queue_close(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

void
queue_stats(struct queue *q, struct queue_stats *st)
{
	pthread_mutex_lock(&q->mu);
	st->waiting = q->waiting;
	st->running = q->running;
	st->dropped = q->dropped;
	pthread_mutex_unlock(&q->mu);
}
