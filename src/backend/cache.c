/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cache: local copies of a backend's immutable files (cache.h says what
 * goes through it and why it cannot go stale).  A copy lives at its name
 * below the cache directory; a copy in use is a read-only mapping, so it
 * stays valid when another process replaces or removes the file.
 */
#include "cache.h"
#include "cachedir.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/fsio.h"
#include "../base/idmap.h"
#include "../base/log.h"
#include "../core/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
	backend base;
	backend *inner; /* owned, unless borrowed */
	int borrowed;
	int dirfd;
	int lockfd; /* the directory's tag, share-locked while the cache is open (cachedir.h) */
	cache_policy pol;
} cache_backend;

static const struct backend_ops cache_ops;

static cache_backend *C(backend *b)
{
	return (cache_backend *)b;
}

static int keeps(cache_backend *c, const char *name, backend_hint hint)
{
	return c->pol.keeps(c->pol.ud, name, hint) == 1;
}

/* The directory part of name made below the cache; 0 or < 0. */
static int make_parent(cache_backend *c, const char *name)
{
	const char *slash = strrchr(name, '/');
	if (!slash)
		return 0;
	char dir[BACKEND_NAME_MAX + 1];
	memcpy(dir, name, (size_t)(slash - name));
	dir[slash - name] = 0;
	return fsio_mkdirs(c->dirfd, dir, 0);
}

/*
 * Maps the copy of name and checks it: 0 and *out, or -ENOENT when there
 * is no usable copy (a damaged one is removed, with a warning).
 */
static int copy_map(cache_backend *c, const char *name, bytes *out)
{
	int fd = openat(c->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int odd = fd < 0 && errno == ELOOP;
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) < 0) {
		close(fd);
		return -ENOENT;
	}
	odd = odd || (fd >= 0 && !S_ISREG(st.st_mode));
	if (odd) {
		/* a directory or symlink where a copy belongs: the copy fetched next
		 * could never be renamed into place, so it goes, whatever it holds */
		if (fd >= 0)
			close(fd);
		fsio_remove_tree(c->dirfd, name);
		err_clear();
		log_warn("the cached copy of '%s/%s' was not a file: removed and fetched again", c->base.location,
			 name);
		return -ENOENT;
	}
	if (fd < 0)
		return -ENOENT;
	int r = backend_map_fd(fd, (uint64_t)st.st_size, out);
	close(fd);
	if (r < 0)
		return -ENOENT;
	if (c->pol.verify(c->pol.ud, name, out->data, out->len) == 0)
		return 0;
	bytes_release(out);
	unlinkat(c->dirfd, name, 0);
	err_clear();
	log_warn("the cached copy of '%s/%s' was damaged: fetched again", c->base.location, name);
	return -ENOENT;
}

/*
 * Fetches name from the backend into a new copy and maps it: 0 and *out
 * (kept if it passes the check, else only mapped and not kept), or the
 * backend's -ENOENT, or 1 when the cache cannot hold it (the caller then
 * reads from the backend directly: it words its own errors).
 */
static int fetch(cache_backend *c, const char *name, backend_hint hint, bytes *out)
{
	char tmp[FSIO_TMP_MAX];
	int fd = make_parent(c, name) < 0 ? -1 : fsio_tmp_open(c->dirfd, name, tmp);
	if (fd < 0)
		return 1;
	uint64_t size;
	int r = backend_copy_to_fd(c->inner, name, hint, fd, &size);
	if (r == 0 && backend_map_fd(fd, size, out) < 0)
		r = 1;
	if (r == 0 && c->pol.verify(c->pol.ud, name, out->data, out->len) == 0) {
		/* a copy that cannot be renamed into place is merely not kept */
		if (fsio_tmp_commit(c->dirfd, fd, tmp, name, 0) < 0)
			err_clear();
		return 0;
	}
	close(fd);
	unlinkat(c->dirfd, tmp, 0);
	if (r == 0) /* the backend's bytes are damaged: the caller's decoder says so */
		err_clear();
	else if (r != -ENOENT)
		r = 1;
	return r;
}

/* The copy of a kept name (from the cache or fetched): 0, -ENOENT, or 1 (read the backend). */
static int kept(cache_backend *c, const char *name, backend_hint hint, bytes *out)
{
	int r = copy_map(c, name, out);
	return r == 0 ? 0 : fetch(c, name, hint, out);
}

static int cache_get(backend *b, const char *name, backend_hint hint, bytes *out)
{
	cache_backend *c = C(b);
	int r = keeps(c, name, hint) ? kept(c, name, hint, out) : 1;
	return r == 1 ? backend_get(c->inner, name, hint, out) : r;
}

static int cache_get_mapped(backend *b, const char *name, backend_hint hint, bytes *out)
{
	cache_backend *c = C(b);
	int r = keeps(c, name, hint) ? kept(c, name, hint, out) : 1;
	return r == 1 ? backend_get_mapped(c->inner, name, hint, out) : r;
}

/* Exactly n bytes at off of the bytes m, as file_read promises. */
static int read_bytes(const bytes *m, uint64_t off, void *p, size_t n)
{
	if (off > m->len || n > m->len - off)
		return -ENODATA;
	if (n)
		memcpy(p, m->data + off, n);
	return 0;
}

static int cache_get_range(backend *b, const char *name, backend_hint hint, uint64_t off, void *p,
			   size_t n)
{
	cache_backend *c = C(b);
	bytes m = BYTES_INIT;
	int r = keeps(c, name, hint) ? kept(c, name, hint, &m) : 1;
	if (r == 1)
		return backend_get_range(c->inner, name, hint, off, p, n);
	if (r == 0 && (r = read_bytes(&m, off, p, n)) == -ENODATA)
		r = err_set(r, "cannot read '%s/%s': file is truncated", b->location, name);
	bytes_release(&m);
	return r;
}

/* A handle: the mapped copy, or the backend's own handle. */
typedef struct {
	bytes m;
	backend *inner;
	backend_file *f;
} cache_file;

static int cache_open_read(backend *b, const char *name, backend_hint hint, void **out,
			   uint64_t *out_size)
{
	cache_backend *c = C(b);
	cache_file *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	int r = keeps(c, name, hint) ? kept(c, name, hint, &h->m) : 1;
	if (r == 0 && out_size)
		*out_size = h->m.len;
	if (r == 1) {
		h->inner = c->inner;
		r = backend_open_read(c->inner, name, hint, &h->f, out_size);
	}
	if (r < 0) {
		free(h);
		return r;
	}
	*out = h;
	return 0;
}

static int cache_file_read(void *f, uint64_t off, void *p, size_t n)
{
	cache_file *h = f;
	return h->f ? backend_file_read(h->inner, h->f, off, p, n) : read_bytes(&h->m, off, p, n);
}

static void cache_file_close(void *f)
{
	cache_file *h = f;
	if (h->f)
		backend_file_close(h->inner, h->f);
	bytes_release(&h->m);
	free(h);
}

/* After a put of name through to the storage: the copy kept, if kept. */
static void put_through(cache_backend *c, const char *name, backend_hint hint, const void *p,
			size_t n)
{
	if (keeps(c, name, hint) &&
	    (make_parent(c, name) < 0 || fsio_write_replace(c->dirfd, name, p, n, 0) < 0))
		unlinkat(c->dirfd, name, 0); /* not kept: fetched when needed */
}

static int cache_put(backend *b, const char *name, backend_hint hint, const void *p, size_t n)
{
	cache_backend *c = C(b);
	int r = backend_put(c->inner, name, hint, p, n);
	if (r == 0)
		put_through(c, name, hint, p, n);
	return r;
}

static int cache_put_stat(backend *b, const char *name, backend_hint hint, const void *p,
			  size_t n, backend_stat_t *out, int *written)
{
	cache_backend *c = C(b);
	int r = backend_put_stat(c->inner, name, hint, p, n, out, written);
	if (*written)
		put_through(c, name, hint, p, n);
	return r;
}

static int cache_remove(backend *b, const char *name)
{
	cache_backend *c = C(b);
	int r = backend_remove(c->inner, name);
	unlinkat(c->dirfd, name, 0);
	return r;
}

static int cache_remove_batch(backend *b, const char *const *names, size_t n)
{
	cache_backend *c = C(b);
	int r = backend_remove_batch(c->inner, names, n);
	for (size_t i = 0; i < n; i++)
		unlinkat(c->dirfd, names[i], 0);
	return r;
}

/* The local copy is what evict is for; the backend below may keep one too. */
/* The backend below keeps the temporaries; the cache's own are private copies. */
static int cache_leftovers(backend *b, int remove, backend_list_fn fn, void *ud)
{
	return backend_leftovers(C(b)->inner, remove, fn, ud);
}

static int cache_evict(backend *b, const char *name)
{
	cache_backend *c = C(b);
	unlinkat(c->dirfd, name, 0);
	return backend_evict(c->inner, name);
}

static int cache_requests(backend *b, backend_requests *out)
{
	return backend_request_counts(C(b)->inner, out);
}

static int cache_stat(backend *b, const char *name, backend_stat_t *out)
{
	return backend_stat(C(b)->inner, name, out);
}

static int cache_mkdir(backend *b, const char *dir)
{
	return backend_mkdir(C(b)->inner, dir);
}

/* ---------- listing, and dropping copies of files gone elsewhere ---------- */

/* Names as SHA-256 keys of an idmap: a set of strings without storing them. */
static int name_key_put(idmap *m, const char *name)
{
	uint8_t k[32];
	idmap_slot *s;
	int created;
	crypto_sha256(k, name, strlen(name));
	return idmap_put(m, k, &s, &created);
}

static int name_key_has(const idmap *m, const char *name)
{
	uint8_t k[32];
	crypto_sha256(k, name, strlen(name));
	return idmap_get(m, k) != NULL;
}

#define TMP_MAX_AGE_S 3600 /* a temporary copy older than this was left by a crash */

/*
 * Removes the copies below the directory fd (consumed), whose name is
 * path[0, len), for which wanted() says 0; and temporaries left by a crash.
 */
static void drop_copies(int fd, char path[BACKEND_NAME_MAX + 1], size_t len,
			int (*wanted)(void *ud, const char *name), void *ud)
{
	DIR *d _cleanup_(closedirp) = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	struct dirent *e;
	time_t now = time(NULL);
	while ((e = readdir(d))) {
		struct stat st;
		size_t nl = strlen(e->d_name);
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (e->d_name[0] == '.') {
			if (S_ISREG(st.st_mode) && now - st.st_mtime > TMP_MAX_AGE_S)
				unlinkat(dirfd(d), e->d_name, 0);
			continue;
		}
		if (!backend_name_is_valid(e->d_name) || len + 1 + nl > BACKEND_NAME_MAX)
			continue;
		path[len] = '/';
		memcpy(path + len + 1, e->d_name, nl + 1);
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			if (sub >= 0)
				drop_copies(sub, path, len + 1 + nl, wanted, ud);
		} else if (S_ISREG(st.st_mode) && wanted(ud, path) == 0) {
			unlinkat(dirfd(d), e->d_name, 0);
		}
		path[len] = 0;
	}
}

static int retain(cache_backend *c, const char *dir, int (*wanted)(void *ud, const char *name),
		  void *ud)
{
	char path[BACKEND_NAME_MAX + 1];
	size_t len = strlen(dir);
	memcpy(path, dir, len + 1);
	int fd = openat(c->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0)
		drop_copies(fd, path, len, wanted, ud);
	return 0;
}

int cache_backend_retain(backend *b, const char *dir, int (*wanted)(void *ud, const char *name),
			 void *ud)
{
	if (b->ops != &cache_ops)
		return 0;
	if (!backend_name_is_valid(dir))
		return err_set(-EINVAL, "invalid directory name '%s'", dir);
	return retain(C(b), dir, wanted, ud);
}

struct listing {
	backend_list_fn fn;
	void *ud;
	idmap seen; /* the listed names, when the cache holds dir */
	int track, failed;
};

static int note_listed(void *ud, const backend_entry *e)
{
	struct listing *l = ud;
	if (l->track && !l->failed && name_key_put(&l->seen, e->name) < 0)
		l->failed = 1; /* out of memory: drop nothing this time */
	return l->fn(l->ud, e);
}

static int was_listed(void *ud, const char *name)
{
	return name_key_has(ud, name);
}

static int cache_list(backend *b, const char *dir, backend_list_fn fn, void *ud)
{
	cache_backend *c = C(b);
	struct stat st;
	struct listing l = { fn, ud, IDMAP_INIT, 0, 0 };
	l.track = fstatat(c->dirfd, dir, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
	int r = backend_list(c->inner, dir, note_listed, &l);
	/* only a complete listing says what is gone */
	if (r == 0 && l.track && !l.failed)
		retain(c, dir, was_listed, &l.seen);
	idmap_release(&l.seen);
	return r;
}

static void cache_free(backend *b)
{
	cache_backend *c = C(b);
	if (!c->borrowed)
		backend_free(c->inner);
	cachedir_close(c->dirfd, c->lockfd);
	free(b->location);
	free(c);
}

static const struct backend_ops cache_ops = {
	.version = BACKEND_OPS_VERSION,
	.put = cache_put,
	.get = cache_get,
	.get_range = cache_get_range,
	.open_read = cache_open_read,
	.file_read = cache_file_read,
	.file_close = cache_file_close,
	.get_mapped = cache_get_mapped,
	.stat = cache_stat,
	.list = cache_list,
	.remove = cache_remove,
	.remove_batch = cache_remove_batch,
	.mkdir = cache_mkdir,
	.free = cache_free,
	.requests = cache_requests,
	.evict = cache_evict,
	.leftovers = cache_leftovers,
	.put_stat = cache_put_stat,
};

int cache_backend_new(backend **out, backend *inner, const char *dir, const cache_policy *p)
{
	int fd, lockfd;
	int r = cachedir_open(dir, inner->location, &fd, &lockfd);
	if (r < 0)
		return r;
	cache_backend *c = calloc(1, sizeof(*c));
	r = c ? backend_init(&c->base, &cache_ops, inner->flags, inner->location) : -ENOMEM;
	if (r < 0) {
		free(c);
		cachedir_close(fd, lockfd);
		return r;
	}
	c->inner = inner;
	c->dirfd = fd;
	c->lockfd = lockfd;
	c->pol = *p;
	*out = &c->base;
	return 0;
}

int cache_backend_borrow(backend **out, backend *inner, const char *dir, const cache_policy *p)
{
	int r = cache_backend_new(out, inner, dir, p);
	if (r == 0)
		C(*out)->borrowed = 1;
	return r;
}
