/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * idcache: a bounded, thread-safe cache of values keyed by 32-byte ids
 * (decoded trees, plaintext blobs), the least recently used evicted first.
 *
 * Values are intrusive: each embeds an idcache_entry, and the cache calls
 * free_value(entry) to free one (the owner finds its struct from the
 * entry).  Every value has a cost, its bytes; when the total exceeds the
 * bound, unused values are evicted oldest first.  A value handed out is
 * held (reference counted) until idcache_release() and is never evicted
 * or freed while held, so the bound can be exceeded by what callers hold
 * at once: what they are using anyway (a FUSE read holds one blob, a walk
 * the trees of its current path).
 *
 * Ids are keyed hashes (uniform), so the first 8 bytes are the bucket
 * hash.  Threads: every call may come from any thread; one mutex guards
 * the table, held only for pointer work, never while a value is loaded.
 * Two threads missing the same id both load it; idcache_add() keeps the
 * first and frees the second.
 */
#ifndef DV_BASE_IDCACHE_H
#define DV_BASE_IDCACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct idcache idcache;

/* Embedded in each cached value; the cache owns its fields. */
typedef struct idcache_entry {
	uint8_t id[32];
	size_t cost;
	uint64_t refs;
	struct idcache_entry *hnext;       /* bucket chain */
	struct idcache_entry *prev, *next; /* LRU list of unheld entries */
} idcache_entry;

typedef void (*idcache_free_fn)(idcache_entry *e);

/* max_cost: the bound on the total cost of unheld values (0: keep none). */
int idcache_new(idcache **out, size_t max_cost, idcache_free_fn free_value);
/* Frees every value; none may be held.  NULL-safe. */
void idcache_free(idcache *c);
/* The value of id, held; NULL on a miss. */
idcache_entry *idcache_get(idcache *c, const uint8_t id[32]);
/*
 * Adds e (taken over, its id and cost set by the caller) and returns it
 * held in *out; when id is cached already, e is freed and the cached one
 * is returned held instead.  Returns 0 (a table that cannot grow only
 * gets longer chains).
 */
int idcache_add(idcache *c, idcache_entry *e, idcache_entry **out);
/* Drops one hold of e (NULL-safe); unheld values may then be evicted. */
void idcache_release(idcache *c, idcache_entry *e);

typedef struct {
	uint64_t hits, misses, evictions;
	size_t entries, cost; /* now, held ones included */
} idcache_stats;

void idcache_get_stats(idcache *c, idcache_stats *out);

#endif
