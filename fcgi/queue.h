/*
 * queue.h: a bounded queue of background jobs, one at a time per key.
 *
 * Request threads push (never blocking: a full queue, or a job whose kind
 * and key are already queued or running, is dropped, and the pusher moves
 * on); background threads pop, run the job and say they are done.  The
 * queue knows nothing about what a job does.  Thread-safe; a mutex guards
 * everything and is never held while a job runs.
 */
#ifndef QUEUE_H
#define QUEUE_H

#include <stddef.h>

#define QUEUE_KEY_MAX	48

struct queue;

struct queue_job {
	int	 kind;
	char	 key[QUEUE_KEY_MAX];	/* NUL-terminated */
	void	*data;			/* malloc'd or NULL; the holder's */
	size_t	 len;
};

/* Holds at most max jobs waiting (running ones do not count). */
struct queue	*queue_new(size_t max);

/* Frees the jobs still waiting, their data too.  Close it first. */
void		 queue_free(struct queue *);

/*
 * Queues (kind, key) with data, which the queue takes in every case: it is
 * freed here when the job is dropped.  Returns 0 when queued, -1 when
 * dropped (full, the same job waiting or running, closed, key too long).
 */
int		 queue_push(struct queue *q, int kind, const char *key,
		    void *data, size_t len);

/*
 * Takes the oldest job into *job (its data now the caller's).  Blocks
 * while the queue is empty; returns -1 once it is closed (jobs still
 * waiting are left for queue_take or queue_free), else 0.
 */
int		 queue_pop(struct queue *q, struct queue_job *job);

/* As queue_pop, without blocking: -1 when nothing waits. */
int		 queue_take(struct queue *q, struct queue_job *job);

/* The job popped is over: the same kind and key may be queued again. */
void		 queue_done(struct queue *q, const struct queue_job *job);

/* Wakes every queue_pop; pushes are dropped from now on. */
void		 queue_close(struct queue *q);

struct queue_stats {
	size_t		 waiting, running;
	unsigned long	 dropped;
};
void		 queue_stats(struct queue *q, struct queue_stats *st);

#endif /* QUEUE_H */
