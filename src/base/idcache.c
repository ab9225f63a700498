/* SPDX-License-Identifier: BSD-2-Clause */
#include "idcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * A chained hash table of every entry, and a doubly-linked list of the
 * unheld ones, most recently released at the head: eviction takes from
 * the tail.  A held entry is off the list, so it cannot be evicted.
 */
struct idcache {
	pthread_mutex_t lock;
	idcache_entry **buckets;
	size_t nbuckets; /* a power of two */
	size_t n, cost, max_cost;
	idcache_entry *head, *tail;
	idcache_free_fn free_value;
	uint64_t hits, misses, evictions;
};

static size_t bucket_of(const idcache *c, const uint8_t id[32])
{
	uint64_t h;
	memcpy(&h, id, sizeof(h));
	return (size_t)h & (c->nbuckets - 1);
}

int idcache_new(idcache **out, size_t max_cost, idcache_free_fn free_value)
{
	idcache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->nbuckets = 64;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->max_cost = max_cost;
	c->free_value = free_value;
	*out = c;
	return 0;
}

void idcache_free(idcache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nbuckets; i++) {
		for (idcache_entry *e = c->buckets[i], *next; e; e = next) {
			next = e->hnext;
			c->free_value(e);
		}
	}
	free(c->buckets);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static void lru_unlink(idcache *c, idcache_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(idcache *c, idcache_entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	else
		c->tail = e;
	c->head = e;
}

static idcache_entry *find(const idcache *c, const uint8_t id[32])
{
	for (idcache_entry *e = c->buckets[bucket_of(c, id)]; e; e = e->hnext)
		if (memcmp(e->id, id, 32) == 0)
			return e;
	return NULL;
}

static void unhash(idcache *c, idcache_entry *e)
{
	idcache_entry **p = &c->buckets[bucket_of(c, e->id)];
	while (*p != e)
		p = &(*p)->hnext;
	*p = e->hnext;
}

/* Evicts unheld entries, oldest first, while over the bound; returns them chained. */
static idcache_entry *evict(idcache *c)
{
	idcache_entry *out = NULL;
	while (c->cost > c->max_cost && c->tail) {
		idcache_entry *e = c->tail;
		lru_unlink(c, e);
		unhash(c, e);
		c->n--;
		c->cost -= e->cost;
		c->evictions++;
		e->hnext = out;
		out = e;
	}
	return out;
}

/* Frees evicted entries outside the lock: freeing a large tree takes a while. */
static void free_chain(idcache *c, idcache_entry *e)
{
	for (idcache_entry *next; e; e = next) {
		next = e->hnext;
		c->free_value(e);
	}
}

/* Doubles the table when it holds more entries than buckets (under the lock). */
static void grow(idcache *c)
{
	if (c->n < c->nbuckets || c->nbuckets > SIZE_MAX / 2 / sizeof(*c->buckets))
		return;
	size_t nb = c->nbuckets * 2;
	idcache_entry **b = calloc(nb, sizeof(*b));
	if (!b)
		return; /* chains just get longer */
	for (size_t i = 0; i < c->nbuckets; i++) {
		for (idcache_entry *e = c->buckets[i], *next; e; e = next) {
			next = e->hnext;
			uint64_t h;
			memcpy(&h, e->id, sizeof(h));
			size_t k = (size_t)h & (nb - 1);
			e->hnext = b[k];
			b[k] = e;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = nb;
}

idcache_entry *idcache_get(idcache *c, const uint8_t id[32])
{
	pthread_mutex_lock(&c->lock);
	idcache_entry *e = find(c, id);
	if (e) {
		if (e->refs++ == 0)
			lru_unlink(c, e);
		c->hits++;
	} else {
		c->misses++;
	}
	pthread_mutex_unlock(&c->lock);
	return e;
}

int idcache_add(idcache *c, idcache_entry *e, idcache_entry **out)
{
	pthread_mutex_lock(&c->lock);
	idcache_entry *have = find(c, e->id);
	if (have) {
		if (have->refs++ == 0)
			lru_unlink(c, have);
		pthread_mutex_unlock(&c->lock);
		c->free_value(e);
		*out = have;
		return 0;
	}
	grow(c);
	size_t k = bucket_of(c, e->id);
	e->hnext = c->buckets[k];
	c->buckets[k] = e;
	e->refs = 1;
	e->prev = e->next = NULL;
	c->n++;
	c->cost = c->cost > SIZE_MAX - e->cost ? SIZE_MAX : c->cost + e->cost;
	idcache_entry *gone = evict(c);
	pthread_mutex_unlock(&c->lock);
	free_chain(c, gone);
	*out = e;
	return 0;
}

void idcache_release(idcache *c, idcache_entry *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&c->lock);
	idcache_entry *gone = NULL;
	if (--e->refs == 0) {
		lru_push(c, e);
		gone = evict(c);
	}
	pthread_mutex_unlock(&c->lock);
	free_chain(c, gone);
}

void idcache_get_stats(idcache *c, idcache_stats *out)
{
	pthread_mutex_lock(&c->lock);
	*out = (idcache_stats){ c->hits, c->misses, c->evictions, c->n, c->cost };
	pthread_mutex_unlock(&c->lock);
}
