/*
 * local.c: a chained hash table of entries with an LRU list through them.
 *
 * Sizes are counted as key + value + node overhead; a put that would pass
 * max_bytes evicts from the LRU tail first.  Buckets double when the table
 * is more than 3/4 full (on puts only, never on the hit path).
 *
 * A node is reference counted: the table holds one reference while the
 * node is in it, and every hit one more until it is released, so a node
 * dropped from the table while a hit is being written is freed by the
 * last release, not under the writer's feet.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "local.h"

struct node {
	struct node	*next;		/* bucket chain */
	struct node	*prev_lru, *next_lru;
	uint64_t	 hash;
	long long	 expires_ms;
	atomic_uint	 refs;		/* the table's (while in it) + hits' */
	size_t		 keylen, len;
	char		*key;		/* key, then value, in one allocation */
	char		*val;
};

struct local {
	pthread_mutex_t	 mu;
	struct node	**buckets;
	size_t		 nbuckets;	/* a power of two */
	size_t		 count;
	size_t		 bytes, max_bytes;
	struct node	*lru_head, *lru_tail;	/* head: most recent */
	unsigned long	 seq;		/* bumped by every invalidation */
	atomic_ulong	 losses;	/* local_losses()' last count */
	int		 enabled;
};

#define NODE_OVERHEAD	(sizeof(struct node) + 16)

static uint64_t
hash(const char *s, size_t len)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	size_t		i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct local *
local_new(size_t max_bytes)
{
	struct local	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->max_bytes = max_bytes;
	l->nbuckets = 64;
	if ((l->buckets = calloc(l->nbuckets, sizeof(*l->buckets))) == NULL ||
	    pthread_mutex_init(&l->mu, NULL) != 0) {
		free(l->buckets);
		free(l);
		return NULL;
	}
	return l;
}

static void
lru_unlink(struct local *l, struct node *n)
{
	if (n->prev_lru != NULL)
		n->prev_lru->next_lru = n->next_lru;
	else
		l->lru_head = n->next_lru;
	if (n->next_lru != NULL)
		n->next_lru->prev_lru = n->prev_lru;
	else
		l->lru_tail = n->prev_lru;
	n->prev_lru = n->next_lru = NULL;
}

static void
lru_push(struct local *l, struct node *n)
{
	n->prev_lru = NULL;
	n->next_lru = l->lru_head;
	if (l->lru_head != NULL)
		l->lru_head->prev_lru = n;
	l->lru_head = n;
	if (l->lru_tail == NULL)
		l->lru_tail = n;
}

/* The link that points at key's node (or at the NULL ending its chain). */
static struct node **
find(struct local *l, uint64_t h, const char *key, size_t keylen)
{
	struct node	**pp = &l->buckets[h & (l->nbuckets - 1)];

	while (*pp != NULL && ((*pp)->hash != h || (*pp)->keylen != keylen ||
	    memcmp((*pp)->key, key, keylen) != 0))
		pp = &(*pp)->next;
	return pp;
}

static void
unref(struct node *n)
{
	if (atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) == 1)
		free(n);
}

static void
drop(struct local *l, struct node **pp)
{
	struct node	*n = *pp;

	*pp = n->next;
	lru_unlink(l, n);
	l->bytes -= n->keylen + n->len + NODE_OVERHEAD;
	l->count--;
	unref(n);
}

static void
clear(struct local *l)
{
	while (l->lru_tail != NULL) {
		struct node	*n = l->lru_tail;

		drop(l, find(l, n->hash, n->key, n->keylen));
	}
}

void
local_free(struct local *l)
{
	if (l == NULL)
		return;
	clear(l);
	pthread_mutex_destroy(&l->mu);
	free(l->buckets);
	free(l);
}

struct local_ref *
local_get(struct local *l, const char *key, size_t keylen, long long now_ms,
    const char **val, size_t *len)
{
	struct node	**pp, *hit = NULL;

	if (l == NULL || l->max_bytes == 0)
		return NULL;
	pthread_mutex_lock(&l->mu);
	if (l->enabled) {
		pp = find(l, hash(key, keylen), key, keylen);
		if (*pp != NULL && (*pp)->expires_ms > now_ms) {
			hit = *pp;
			lru_unlink(l, hit);
			lru_push(l, hit);
			atomic_fetch_add_explicit(&hit->refs, 1,
			    memory_order_relaxed);
			*val = hit->val;
			*len = hit->len;
		} else if (*pp != NULL)
			drop(l, pp);	/* past its freshness */
	}
	pthread_mutex_unlock(&l->mu);
	return (struct local_ref *)hit;
}

void
local_release(struct local *l, struct local_ref *ref)
{
	(void)l;
	if (ref != NULL)
		unref((struct node *)ref);
}

void
local_losses(struct local *l, unsigned long losses)
{
	if (l == NULL || l->max_bytes == 0 ||
	    atomic_load_explicit(&l->losses, memory_order_acquire) == losses)
		return;
	pthread_mutex_lock(&l->mu);
	if (atomic_load_explicit(&l->losses, memory_order_relaxed) != losses) {
		l->seq++;
		clear(l);
		atomic_store_explicit(&l->losses, losses,
		    memory_order_release);
	}
	pthread_mutex_unlock(&l->mu);
}

unsigned long
local_mark(struct local *l)
{
	unsigned long	seq;

	if (l == NULL || l->max_bytes == 0)
		return 0;
	pthread_mutex_lock(&l->mu);
	seq = l->seq;
	pthread_mutex_unlock(&l->mu);
	return seq;
}

static void
grow(struct local *l)
{
	struct node	**nb, *n, *next;
	size_t		  i, size = l->nbuckets * 2;

	if ((nb = calloc(size, sizeof(*nb))) == NULL)
		return;		/* longer chains, still correct */
	for (i = 0; i < l->nbuckets; i++)
		for (n = l->buckets[i]; n != NULL; n = next) {
			next = n->next;
			n->next = nb[n->hash & (size - 1)];
			nb[n->hash & (size - 1)] = n;
		}
	free(l->buckets);
	l->buckets = nb;
	l->nbuckets = size;
}

void
local_put(struct local *l, unsigned long mark, const char *key,
    size_t keylen, const char *val, size_t len, long long expires_ms)
{
	struct node	**pp, *n;
	uint64_t	  h;
	size_t		  need = keylen + len + NODE_OVERHEAD;

	if (l == NULL || l->max_bytes == 0)
		return;
	h = hash(key, keylen);
	if (need > l->max_bytes / 4) {
		/* One entry would crowd the cache: keep none, not an old one. */
		pthread_mutex_lock(&l->mu);
		if (*(pp = find(l, h, key, keylen)) != NULL)
			drop(l, pp);
		pthread_mutex_unlock(&l->mu);
		return;
	}
	if ((n = malloc(sizeof(*n) + keylen + len)) == NULL)
		return;
	n->key = (char *)(n + 1);
	n->val = n->key + keylen;
	memcpy(n->key, key, keylen);
	memcpy(n->val, val, len);
	n->keylen = keylen;
	n->len = len;
	n->hash = h;
	n->expires_ms = expires_ms;
	n->prev_lru = n->next_lru = NULL;
	atomic_init(&n->refs, 1);

	pthread_mutex_lock(&l->mu);
	if (!l->enabled || l->seq != mark) {
		pthread_mutex_unlock(&l->mu);
		free(n);
		return;
	}
	pp = find(l, h, key, keylen);
	if (*pp != NULL)
		drop(l, pp);
	while (l->bytes + need > l->max_bytes && l->lru_tail != NULL)
		drop(l, find(l, l->lru_tail->hash, l->lru_tail->key,
		    l->lru_tail->keylen));
	if (l->count + 1 > l->nbuckets / 4 * 3)
		grow(l);
	pp = &l->buckets[h & (l->nbuckets - 1)];
	n->next = *pp;
	*pp = n;
	lru_push(l, n);
	l->bytes += need;
	l->count++;
	pthread_mutex_unlock(&l->mu);
}

void
local_invalidate(struct local *l, const char *key, size_t keylen)
{
	struct node	**pp;

	if (l == NULL || l->max_bytes == 0)
		return;
	pthread_mutex_lock(&l->mu);
	l->seq++;
	if (key == NULL)
		clear(l);
	else if (*(pp = find(l, hash(key, keylen), key, keylen)) != NULL)
		drop(l, pp);
	pthread_mutex_unlock(&l->mu);
}

void
local_disable(struct local *l)
{
	if (l == NULL || l->max_bytes == 0)
		return;
	pthread_mutex_lock(&l->mu);
	l->enabled = 0;
	l->seq++;
	clear(l);
	pthread_mutex_unlock(&l->mu);
}

void
local_enable(struct local *l)
{
	if (l == NULL || l->max_bytes == 0)
		return;
	pthread_mutex_lock(&l->mu);
	l->enabled = 1;
	pthread_mutex_unlock(&l->mu);
}

int
local_enabled(struct local *l)
{
	int	on;

	if (l == NULL || l->max_bytes == 0)
		return 0;
	pthread_mutex_lock(&l->mu);
	on = l->enabled;
	pthread_mutex_unlock(&l->mu);
	return on;
}
