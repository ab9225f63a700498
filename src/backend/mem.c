/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mem: files in memory, for tests; the same contract as every backend.
 *
 * A store is a hash table of names, guarded by its own mutex, so any
 * number of threads may use it.  File contents are immutable, reference
 * counted blocks: a put builds the new block outside the lock and swaps
 * it in, so readers see the old or the whole new contents; a handle
 * holds the block it opened and keeps reading that version, as a
 * descriptor on a replaced or removed local file does.  get() returns a
 * heap copy, as a remote backend's download would: the index's memory
 * test relies on mem costing heap the way a remote does.
 *
 * Named stores (mem:NAME) are process-wide: every backend opened on NAME
 * shares one store, which lives until the last of them is freed, so a
 * test can create a repository and open it again by URL.
 */
#include "mem.h"
#include "../base/buf.h"
#include "../base/cleanup.h"
#include "../base/err.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
	atomic_size_t refs;
	size_t len;
	int64_t mtime_ns;
	uint8_t data[];
} mem_content;

typedef struct mem_file {
	struct mem_file *next; /* in its bucket */
	mem_content *c;
	char name[];
} mem_file;

typedef struct mem_store {
	struct mem_store *next; /* in the list of named stores */
	size_t users;           /* backends open on it; guarded by stores_lock */
	pthread_mutex_t lock;   /* guards the table */
	mem_file **buckets;
	size_t nbuckets, nfiles;
	char name[];
} mem_store;

typedef struct {
	backend base;
	mem_store *s;
} mem_backend;

static pthread_mutex_t stores_lock = PTHREAD_MUTEX_INITIALIZER;
static mem_store *stores;

static mem_store *S(backend *b)
{
	return ((mem_backend *)b)->s;
}

static void content_unref(mem_content *c)
{
	if (c && atomic_fetch_sub(&c->refs, 1) == 1)
		free(c);
}

static mem_content *content_ref(mem_content *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

static size_t hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return (size_t)h;
}

/* The link that points at name's file, or at the NULL ending its bucket.  Locked. */
static mem_file **find(mem_store *s, const char *name)
{
	mem_file **p = &s->buckets[hash(name) & (s->nbuckets - 1)];
	while (*p && strcmp((*p)->name, name) != 0)
		p = &(*p)->next;
	return p;
}

/* Doubles the table (locked); failing to grow only makes chains longer. */
static void grow(mem_store *s)
{
	size_t n = s->nbuckets * 2;
	mem_file **nb = calloc(n, sizeof(*nb));
	if (!nb)
		return;
	for (size_t i = 0; i < s->nbuckets; i++) {
		for (mem_file *f = s->buckets[i], *next; f; f = next) {
			next = f->next;
			mem_file **slot = &nb[hash(f->name) & (n - 1)];
			f->next = *slot;
			*slot = f;
		}
	}
	free(s->buckets);
	s->buckets = nb;
	s->nbuckets = n;
}

static int missing(backend *b, const char *name)
{
	return err_set(-ENOENT, "cannot open '%s/%s': no such file", b->location, name);
}

static int mem_put(backend *b, const char *name, backend_hint hint, const void *p, size_t n)
{
	mem_store *s = S(b);
	(void)hint;
	mem_content *c = malloc(sizeof(*c) + n);
	size_t nl = strlen(name);
	mem_file *nf = malloc(sizeof(*nf) + nl + 1);
	if (!c || !nf) {
		free(c);
		free(nf);
		return -ENOMEM;
	}
	atomic_init(&c->refs, 1);
	c->len = n;
	if (n)
		memcpy(c->data, p, n);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	c->mtime_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	memcpy(nf->name, name, nl + 1);
	mem_content *old = NULL;
	pthread_mutex_lock(&s->lock);
	mem_file **slot = find(s, name);
	if (*slot) {
		old = (*slot)->c;
		(*slot)->c = c;
	} else {
		nf->c = c;
		nf->next = NULL;
		*slot = nf;
		nf = NULL;
		if (++s->nfiles > s->nbuckets)
			grow(s);
	}
	pthread_mutex_unlock(&s->lock);
	free(nf);
	content_unref(old);
	return 0;
}

/* A reference to name's current contents, or NULL.  */
static mem_content *lookup(mem_store *s, const char *name)
{
	pthread_mutex_lock(&s->lock);
	mem_file *f = *find(s, name);
	mem_content *c = f ? content_ref(f->c) : NULL;
	pthread_mutex_unlock(&s->lock);
	return c;
}

static void release_copy(void *priv, const uint8_t *data, size_t len)
{
	(void)priv;
	(void)len;
	free((void *)data);
}

static int mem_get(backend *b, const char *name, backend_hint hint, bytes *out)
{
	(void)hint;
	mem_content *c = lookup(S(b), name);
	if (!c)
		return missing(b, name);
	uint8_t *copy = malloc(c->len ? c->len : 1);
	if (copy)
		memcpy(copy, c->data, c->len);
	size_t len = c->len;
	content_unref(c);
	if (!copy)
		return -ENOMEM;
	out->data = copy;
	out->len = len;
	out->release = release_copy;
	out->priv = NULL;
	out->file_mapped = 0;
	return 0;
}

/* A handle is a reference to the contents it opened. */
static int mem_open_read(backend *b, const char *name, backend_hint hint, void **out,
			 uint64_t *out_size)
{
	(void)hint;
	mem_content *c = lookup(S(b), name);
	if (!c)
		return missing(b, name);
	if (out_size)
		*out_size = c->len;
	*out = c;
	return 0;
}

static int mem_file_read(void *f, uint64_t off, void *p, size_t n)
{
	const mem_content *c = f;
	if (off > c->len || n > c->len - off)
		return -ENODATA;
	if (n)
		memcpy(p, c->data + off, n);
	return 0;
}

static void mem_file_close(void *f)
{
	content_unref(f);
}

static int mem_stat(backend *b, const char *name, backend_stat_t *out)
{
	mem_content *c = lookup(S(b), name);
	if (!c)
		return err_set(-ENOENT, "cannot stat '%s/%s': no such file", b->location, name);
	out->size = c->len;
	out->mtime_ns = c->mtime_ns;
	content_unref(c);
	return 0;
}

/*
 * The names are copied under the lock and reported after it is released,
 * so fn may call back into the store.
 */
static int mem_list(backend *b, const char *dir, backend_list_fn fn, void *ud)
{
	mem_store *s = S(b);
	size_t dl = strlen(dir);
	buf names = BUF_INIT;
	struct item {
		size_t off;
		uint64_t size;
		int64_t mtime_ns;
	} *v = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; r == 0 && i < s->nbuckets; i++) {
		for (mem_file *f = s->buckets[i]; r == 0 && f; f = f->next) {
			if (strncmp(f->name, dir, dl) != 0 || f->name[dl] != '/')
				continue;
			r = array_reserve(&v, &cap, n + 1, sizeof(*v));
			if (r == 0) {
				v[n].off = names.len;
				v[n].size = f->c->len;
				v[n].mtime_ns = f->c->mtime_ns;
				r = buf_append(&names, f->name, strlen(f->name) + 1);
				n += r == 0;
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
	for (size_t i = 0; r == 0 && i < n; i++) {
		backend_entry e = { (const char *)names.data + v[i].off, v[i].size, v[i].mtime_ns };
		r = fn(ud, &e);
	}
	buf_release(&names);
	free(v);
	return r;
}

static int mem_remove(backend *b, const char *name)
{
	mem_store *s = S(b);
	pthread_mutex_lock(&s->lock);
	mem_file **slot = find(s, name), *f = *slot;
	if (f) {
		*slot = f->next;
		s->nfiles--;
	}
	pthread_mutex_unlock(&s->lock);
	if (!f)
		return err_set(-ENOENT, "cannot remove '%s/%s': no such file", b->location, name);
	content_unref(f->c);
	free(f);
	return 0;
}

static void store_destroy(mem_store *s)
{
	for (size_t i = 0; i < s->nbuckets; i++) {
		for (mem_file *f = s->buckets[i], *next; f; f = next) {
			next = f->next;
			content_unref(f->c);
			free(f);
		}
	}
	pthread_mutex_destroy(&s->lock);
	free(s->buckets);
	free(s);
}

static void mem_free(backend *b)
{
	mem_store *s = S(b);
	pthread_mutex_lock(&stores_lock);
	int last = --s->users == 0;
	if (last && s->name[0]) {
		mem_store **p = &stores;
		while (*p != s)
			p = &(*p)->next;
		*p = s->next;
	}
	pthread_mutex_unlock(&stores_lock);
	if (last)
		store_destroy(s);
	free(b->location);
	free(b);
}

static const struct backend_ops mem_ops = {
	.version = BACKEND_OPS_VERSION,
	.put = mem_put,
	.get = mem_get,
	.get_range = NULL,
	.open_read = mem_open_read,
	.file_read = mem_file_read,
	.file_close = mem_file_close,
	.stat = mem_stat,
	.list = mem_list,
	.remove = mem_remove,
	.mkdir = NULL, /* names only, like an object store */
	.free = mem_free,
	.evict = NULL, /* the store is the memory */
};

static mem_store *store_new(const char *name)
{
	size_t nl = strlen(name);
	mem_store *s = calloc(1, sizeof(*s) + nl + 1);
	if (!s || !(s->buckets = calloc(64, sizeof(*s->buckets)))) {
		free(s);
		return NULL;
	}
	s->nbuckets = 64;
	memcpy(s->name, name, nl + 1);
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

/* The store called name, made if missing and create is set; one more user.  */
static int store_attach(mem_store **out, const char *name, int create)
{
	if (!name[0]) {
		*out = store_new("");
		if (!*out)
			return -ENOMEM;
		(*out)->users = 1;
		return 0;
	}
	int r = 0;
	pthread_mutex_lock(&stores_lock);
	mem_store *s = stores;
	while (s && strcmp(s->name, name) != 0)
		s = s->next;
	if (!s && !create) {
		r = err_set(-ENOENT, "cannot open repository 'mem:%s': no such in-memory store", name);
	} else if (!s) {
		if ((s = store_new(name))) {
			s->next = stores;
			stores = s;
		} else {
			r = -ENOMEM;
		}
	}
	if (r == 0) {
		s->users++;
		*out = s;
	}
	pthread_mutex_unlock(&stores_lock);
	return r;
}

int mem_backend_open(backend **out, const char *name, unsigned flags)
{
	if (strlen(name) > BACKEND_NAME_MAX)
		return err_set(-ENAMETOOLONG, "in-memory store name 'mem:%.40s...' is too long", name);
	mem_backend *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	char loc[BACKEND_NAME_MAX + 8];
	snprintf(loc, sizeof(loc), "mem:%s", name);
	int r = backend_init(&m->base, &mem_ops, BACKEND_ATOMIC_REPLACE, loc);
	r = r ?: store_attach(&m->s, name, !!(flags & BACKEND_OPEN_CREATE));
	if (r < 0) {
		free(m->base.location);
		free(m);
		return r;
	}
	*out = &m->base;
	return 0;
}
