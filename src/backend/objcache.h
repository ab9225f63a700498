/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * objcache: whole copies of remote objects on local disk, for objects
 * read piece by piece many times.  A restore reads a pack blob by blob,
 * a mark walk reads a tree pack tree by tree: one request per blob would
 * cost a round trip (and, on a paid bucket, a request) each.  With this,
 * the second small read of an object through a handle fetches the whole
 * object once into an unlinked file (spill.h), and every later read of
 * it, by any handle of any thread, is a pread.
 *
 * An entry is keyed by the object's name and a tag (its ETag): a handle
 * opened on another version never reads this one.  Entries in use are
 * pinned; unpinned ones are dropped, least recently used first, when the
 * copies exceed the budget.  A thread wanting an object another thread
 * is fetching waits for that fetch instead of starting its own.  The
 * owner forgets a name when it writes or removes it.
 *
 * Thread-safe: one mutex guards the table; fetching and reading run
 * outside it.
 */
#ifndef DV_BACKEND_OBJCACHE_H
#define DV_BACKEND_OBJCACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct objcache objcache;
typedef struct objcache_entry objcache_entry;

/* Writes the object's size bytes into fd (pwrite from offset 0): 0 or a negative code. */
typedef int (*objcache_fill_fn)(void *ud, int fd, uint64_t size);

/* Tags (ETags) are at most this long. */
#define OBJCACHE_TAG_MAX 159

/*
 * Writes whichever version of the object it gets into fd and says which:
 * its size and its tag (at most OBJCACHE_TAG_MAX bytes and a NUL).
 */
typedef int (*objcache_fill_any_fn)(void *ud, int fd, uint64_t *size, char *tag);

int objcache_new(objcache **out, uint64_t budget);
/* NULL-safe; no entry may be pinned. */
void objcache_free(objcache *c);

/* Whether an object of size may be cached at all (it is small beside the budget). */
int objcache_fits(const objcache *c, uint64_t size);
/* The largest size that fits. */
uint64_t objcache_size_max(const objcache *c);

/* 1 with the pinned entry of name in *out when a complete copy is cached, else 0. */
int objcache_find(objcache *c, const char *name, objcache_entry **out);

/*
 * The pinned entry of name at tag, fetched through fill unless cached
 * (or being fetched by another thread, which is waited for).  0, or the
 * fill's code (nothing is cached then).
 */
int objcache_load(objcache *c, const char *name, const char *tag, uint64_t size,
		  objcache_fill_fn fill, void *ud, objcache_entry **out);

/*
 * objcache_load for a caller that knows no version yet (it has made no
 * request): a cached copy of any version of name, or one fetched by fill,
 * whose size and tag the entry then has.  One request where a lookup of
 * the version first would cost two.
 */
int objcache_load_any(objcache *c, const char *name, objcache_fill_any_fn fill, void *ud,
		      objcache_entry **out);

/* Exactly n bytes at off (within the size): 0 or -EIO. */
int objcache_read(const objcache_entry *e, uint64_t off, void *p, size_t n);
uint64_t objcache_entry_size(const objcache_entry *e);
const char *objcache_entry_tag(const objcache_entry *e);
/* NULL-safe. */
void objcache_unpin(objcache *c, objcache_entry *e);

/* Drops the copies of name (a pinned one when its last user unpins it). */
void objcache_forget(objcache *c, const char *name);

#endif
