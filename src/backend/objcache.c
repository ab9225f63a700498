/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * objcache: a list of entries in order of last use (most recent first),
 * searched linearly: the budget over the size of an object that may be
 * cached bounds it to a few dozen entries.  An entry is LOADING while
 * its first user fetches it (others wait on the condition variable),
 * then READY; a failed fetch removes it and wakes the waiters, who try
 * themselves.  A forgotten entry is hidden from lookups at once and
 * freed once it is out of the list and unpinned.
 */
#include "objcache.h"
#include "spill.h"
#include "../base/err.h"
#include "../base/fsio.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { LOADING, READY };

struct objcache_entry {
	objcache_entry *prev, *next;
	char *name, *tag;
	uint64_t size;
	int fd;
	unsigned pins;
	int state;
	int linked; /* in the list (and counted in used) */
	int hidden; /* forgotten: lookups pass it over; freed when unlinked and unpinned */
};

struct objcache {
	pthread_mutex_t lock;
	pthread_cond_t loaded;
	objcache_entry *head;
	uint64_t budget, used;
};

int objcache_new(objcache **out, uint64_t budget)
{
	objcache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->loaded, NULL);
	c->budget = budget;
	*out = c;
	return 0;
}

static void entry_free(objcache_entry *e)
{
	if (e->fd >= 0)
		close(e->fd);
	free(e->name);
	free(e->tag);
	free(e);
}

static void unlink_entry(objcache *c, objcache_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	e->prev = e->next = NULL;
	e->linked = 0;
	c->used -= e->size;
}

static void push_front(objcache *c, objcache_entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	e->linked = 1;
}

void objcache_free(objcache *c)
{
	if (!c)
		return;
	for (objcache_entry *e = c->head, *n; e; e = n) {
		n = e->next;
		entry_free(e);
	}
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->loaded);
	free(c);
}

uint64_t objcache_size_max(const objcache *c)
{
	/* room for several at once: restore workers read a few packs each */
	return c->budget / 8;
}

int objcache_fits(const objcache *c, uint64_t size)
{
	return size <= objcache_size_max(c);
}

/* Drops unpinned entries from the least recently used end until within budget. */
static void evict(objcache *c)
{
	objcache_entry *e = c->head;
	while (e && e->next)
		e = e->next;
	while (e && c->used > c->budget) {
		objcache_entry *p = e->prev;
		if (!e->pins && e->state == READY) {
			unlink_entry(c, e);
			entry_free(e);
		}
		e = p;
	}
}

static objcache_entry *lookup(objcache *c, const char *name)
{
	for (objcache_entry *e = c->head; e; e = e->next)
		if (!e->hidden && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static void touch(objcache *c, objcache_entry *e)
{
	if (c->head == e)
		return;
	uint64_t size = e->size;
	unlink_entry(c, e);
	c->used += size;
	push_front(c, e);
}

int objcache_find(objcache *c, const char *name, objcache_entry **out)
{
	pthread_mutex_lock(&c->lock);
	objcache_entry *e = lookup(c, name);
	int found = e && e->state == READY;
	if (found) {
		e->pins++;
		touch(c, e);
		*out = e;
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

/* Unlinks e and hides it; frees it unless pinned. */
static void kill_entry(objcache *c, objcache_entry *e)
{
	if (e->linked)
		unlink_entry(c, e);
	e->hidden = 1;
	if (!e->pins)
		entry_free(e);
}

/*
 * objcache_load (tag set) and objcache_load_any (tag NULL: the size and
 * tag are the fill's to tell).  An entry still loading with a tag not yet
 * known may be any version: it is waited for, then judged.
 */
static int load(objcache *c, const char *name, const char *tag, uint64_t size,
		objcache_fill_fn fill, objcache_fill_any_fn fill_any, void *ud,
		objcache_entry **out)
{
	pthread_mutex_lock(&c->lock);
	objcache_entry *e;
	for (;;) {
		e = lookup(c, name);
		if (!e)
			break;
		if (e->state == LOADING) {
			pthread_cond_wait(&c->loaded, &c->lock); /* another thread fetches it */
			continue;
		}
		if (tag && (strcmp(e->tag, tag) != 0 || e->size != size)) {
			kill_entry(c, e); /* another version: the one asked for replaces it */
			continue;
		}
		e->pins++;
		touch(c, e);
		pthread_mutex_unlock(&c->lock);
		*out = e;
		return 0;
	}
	int rc = -ENOMEM;
	e = calloc(1, sizeof(*e));
	if (e) {
		e->fd = -1;
		e->name = strdup(name);
		e->tag = tag ? strdup(tag) : NULL;
		e->pins = 1;
		e->state = LOADING;
	}
	if (!e || !e->name || (tag && !e->tag)) {
		if (e)
			entry_free(e);
		pthread_mutex_unlock(&c->lock);
		return rc;
	}
	/* counted in used only once its size is known (unlink_entry subtracts it) */
	push_front(c, e);
	if (tag) {
		e->size = size;
		c->used += size;
	}
	pthread_mutex_unlock(&c->lock);

	char got_tag[OBJCACHE_TAG_MAX + 1] = "";
	uint64_t got_size = 0;
	int fd = spill_file_open();
	if (fd < 0)
		rc = err_sys(fd, "cannot create a local copy of '%s' in the cache directory", name);
	else if (tag)
		rc = fill(ud, fd, size);
	else
		rc = fill_any(ud, fd, &got_size, got_tag);
	char *kept_tag = NULL;
	if (rc == 0 && !tag && !(kept_tag = strdup(got_tag)))
		rc = -ENOMEM;

	pthread_mutex_lock(&c->lock);
	e->fd = fd;
	if (rc == 0) {
		if (!tag) {
			e->tag = kept_tag;
			e->size = got_size;
			if (e->linked)
				c->used += got_size;
		}
		e->state = READY;
		/* forgotten while it loaded (written meanwhile): the caller
		 * reads the version it asked for, nobody else does */
		if (e->hidden)
			unlink_entry(c, e);
		evict(c);
		*out = e;
	} else {
		e->pins--;
		kill_entry(c, e);
	}
	pthread_cond_broadcast(&c->loaded);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int objcache_load(objcache *c, const char *name, const char *tag, uint64_t size,
		  objcache_fill_fn fill, void *ud, objcache_entry **out)
{
	return load(c, name, tag, size, fill, NULL, ud, out);
}

int objcache_load_any(objcache *c, const char *name, objcache_fill_any_fn fill, void *ud,
		      objcache_entry **out)
{
	return load(c, name, NULL, 0, NULL, fill, ud, out);
}

int objcache_read(const objcache_entry *e, uint64_t off, void *p, size_t n)
{
	if (off > e->size || n > e->size - off)
		return -ENODATA;
	int r = fsio_pread_exact(e->fd, p, n, (off_t)off);
	return r < 0 ? err_sys(r, "cannot read the local copy of '%s'", e->name) : 0;
}

uint64_t objcache_entry_size(const objcache_entry *e)
{
	return e->size;
}

const char *objcache_entry_tag(const objcache_entry *e)
{
	return e->tag;
}

void objcache_unpin(objcache *c, objcache_entry *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&c->lock);
	if (--e->pins == 0) {
		if (!e->linked)
			entry_free(e);
		else
			evict(c);
	}
	pthread_mutex_unlock(&c->lock);
}

void objcache_forget(objcache *c, const char *name)
{
	pthread_mutex_lock(&c->lock);
	for (objcache_entry *e = c->head, *n; e; e = n) {
		n = e->next;
		if (e->hidden || strcmp(e->name, name) != 0)
			continue;
		if (e->state == READY)
			kill_entry(c, e);
		else
			e->hidden = 1; /* dropped when its fetch ends */
	}
	pthread_mutex_unlock(&c->lock);
}
