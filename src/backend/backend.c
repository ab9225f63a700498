/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * backend: the calls every user makes, on top of a backend's ops table.
 * They check names once for every backend (so a backend may trust them),
 * stand in for optional operations, and hold the two loops built from
 * the operations: a file as a mapping whatever the backend, and list and
 * fetch of a directory.
 */
#include "backend.h"
#include "spill.h"
#include "../base/buf.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/fsio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void bytes_release(bytes *b)
{
	if (b->release)
		b->release(b->priv, b->data, b->len);
	b->data = NULL;
	b->len = 0;
	b->release = NULL;
	b->priv = NULL;
	b->file_mapped = 0;
}

int backend_init(backend *b, const struct backend_ops *ops, unsigned flags, const char *location)
{
	if (ops->version != BACKEND_OPS_VERSION || !ops->put || !ops->get || !ops->open_read ||
	    !ops->file_read || !ops->file_close || !ops->stat || !ops->list || !ops->remove ||
	    !ops->free || !ops->put_staged != !ops->commit_staged ||
	    !ops->put_staged != !ops->discard_staged)
		return err_set(-EINVAL, "backend for '%s' does not implement this version of the contract",
			       location);
	if (!(b->location = strdup(location)))
		return -ENOMEM;
	b->ops = ops;
	b->flags = flags;
	return 0;
}

void backend_free(backend *b)
{
	if (b)
		b->ops->free(b);
}

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

int backend_name_is_valid(const char *name)
{
	size_t len = 0;
	int start = 1; /* at the first byte of a component */
	for (const char *p = name; *p; p++, len++) {
		if (len >= BACKEND_NAME_MAX)
			return 0;
		if (*p == '/') {
			if (start)
				return 0; /* empty component */
			start = 1;
			continue;
		}
		if (!name_char(*p) || (start && *p == '.'))
			return 0;
		start = 0;
	}
	return len > 0 && !start;
}

static int check_name(const backend *b, const char *name)
{
	if (backend_name_is_valid(name))
		return 0;
	return err_set(-EINVAL, "invalid file name '%.*s' for '%s'", BACKEND_NAME_MAX, name,
		       b->location);
}

int backend_put(backend *b, const char *name, backend_hint hint, const void *p, size_t n)
{
	int r = check_name(b, name);
	return r ?: b->ops->put(b, name, hint, p, n);
}

int backend_get(backend *b, const char *name, backend_hint hint, bytes *out)
{
	int r = check_name(b, name);
	return r ?: b->ops->get(b, name, hint, out);
}

/* The backend's handle, with the name its messages need. */
struct backend_file {
	void *impl;
	char name[];
};

int backend_open_read(backend *b, const char *name, backend_hint hint, backend_file **out,
		      uint64_t *out_size)
{
	int r = check_name(b, name);
	if (r < 0)
		return r;
	size_t nl = strlen(name);
	backend_file *f = malloc(sizeof(*f) + nl + 1);
	if (!f)
		return -ENOMEM;
	memcpy(f->name, name, nl + 1);
	if ((r = b->ops->open_read(b, name, hint, &f->impl, out_size)) < 0) {
		free(f);
		return r;
	}
	*out = f;
	return 0;
}

int backend_file_read(backend *b, backend_file *f, uint64_t off, void *p, size_t n)
{
	int r = b->ops->file_read(f->impl, off, p, n);
	if (r == -ENODATA)
		return err_set(r, "cannot read '%s/%s': file is truncated", b->location, f->name);
	if (r < 0)
		return err_sys(r, "cannot read '%s/%s'", b->location, f->name);
	return 0;
}

void backend_file_close(backend *b, backend_file *f)
{
	if (f) {
		b->ops->file_close(f->impl);
		free(f);
	}
}

int backend_get_range(backend *b, const char *name, backend_hint hint, uint64_t off, void *p,
		      size_t n)
{
	int r = check_name(b, name);
	if (r < 0)
		return r;
	if (b->ops->get_range)
		return b->ops->get_range(b, name, hint, off, p, n);
	backend_file *f;
	if ((r = backend_open_read(b, name, hint, &f, NULL)) < 0)
		return r;
	r = backend_file_read(b, f, off, p, n);
	backend_file_close(b, f);
	return r;
}

int backend_stat(backend *b, const char *name, backend_stat_t *out)
{
	int r = check_name(b, name);
	return r ?: b->ops->stat(b, name, out);
}

int backend_put_stat(backend *b, const char *name, backend_hint hint, const void *p, size_t n,
		     backend_stat_t *out, int *written)
{
	*written = 0;
	int r = check_name(b, name);
	if (r == 0 && b->ops->put_stat)
		return b->ops->put_stat(b, name, hint, p, n, out, written);
	r = r ?: b->ops->put(b, name, hint, p, n);
	*written = r == 0;
	return r ?: b->ops->stat(b, name, out);
}

int backend_size(backend *b, const char *name, uint64_t *out)
{
	backend_stat_t st;
	int r = backend_stat(b, name, &st);
	if (r == 0)
		*out = st.size;
	return r;
}

int backend_list(backend *b, const char *dir, backend_list_fn fn, void *ud)
{
	int r = check_name(b, dir);
	return r ?: b->ops->list(b, dir, fn, ud);
}

int backend_remove(backend *b, const char *name)
{
	int r = check_name(b, name);
	return r ?: b->ops->remove(b, name);
}

int backend_remove_batch(backend *b, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int r = check_name(b, names[i]);
		if (r < 0)
			return r;
	}
	if (b->ops->remove_batch)
		return n ? b->ops->remove_batch(b, names, n) : 0;
	for (size_t i = 0; i < n; i++) {
		int r = b->ops->remove(b, names[i]);
		if (r == -ENOENT)
			err_clear();
		else if (r < 0)
			return r;
	}
	return 0;
}

int backend_mkdir(backend *b, const char *dir)
{
	int r = check_name(b, dir);
	if (r < 0 || !b->ops->mkdir)
		return r;
	return b->ops->mkdir(b, dir);
}

const char *const backend_request_names[BACKEND_REQ_KINDS] = {
	"GET", "PUT", "HEAD", "LIST", "DELETE", "POST",
};

int backend_request_counts(backend *b, backend_requests *out)
{
	memset(out, 0, sizeof(*out));
	return b->ops->requests ? b->ops->requests(b, out) : 0;
}

int backend_evict(backend *b, const char *name)
{
	int r = check_name(b, name);
	if (r < 0 || !b->ops->evict)
		return r;
	return b->ops->evict(b, name);
}

int backend_put_staged(backend *b, const char *name, backend_hint hint, const void *p, size_t n,
		       backend_staged **out)
{
	*out = NULL;
	int r = check_name(b, name);
	if (r == 0 && b->ops->put_staged)
		return b->ops->put_staged(b, name, hint, p, n, out);
	return r ?: b->ops->put(b, name, hint, p, n);
}

int backend_commit_staged(backend *b, backend_staged **v, size_t n)
{
	/* without staging every entry is NULL: each file was put already */
	return b->ops->commit_staged && n ? b->ops->commit_staged(b, v, n) : 0;
}

void backend_discard_staged(backend *b, backend_staged *f)
{
	if (f)
		b->ops->discard_staged(b, f);
}

int backend_leftovers(backend *b, int remove, backend_list_fn fn, void *ud)
{
	return b->ops->leftovers ? b->ops->leftovers(b, remove, fn, ud) : 0;
}

/* ---------- files as mappings ---------- */

/* mkdir that accepts an existing directory. */
static int make_dir(const char *path)
{
	return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -errno;
}

/* Appends "/" and the first len bytes of comp to out (length *at) and makes that directory. */
static int add_dir(char *out, size_t cap, size_t *at, const char *comp, size_t len)
{
	if (*at + 1 + len >= cap)
		return -ENAMETOOLONG;
	out[(*at)++] = '/';
	memcpy(out + *at, comp, len);
	*at += len;
	out[*at] = 0;
	return make_dir(out);
}

/* "$XDG_CACHE_HOME", else "$HOME/.cache" (absolute ones only) into out: its length, or < 0. */
static int cache_base(char *out, size_t cap)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;
	if (xdg && xdg[0] == '/')
		n = snprintf(out, cap, "%s", xdg);
	else if (home && home[0] == '/')
		n = snprintf(out, cap, "%s/.cache", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : n;
}

int backend_cache_root(char *out, size_t cap)
{
	int n = cache_base(out, cap);
	if (n < 0)
		return n;
	if ((size_t)n + sizeof("/dvalin") > cap)
		return -ENAMETOOLONG;
	memcpy(out + n, "/dvalin", sizeof("/dvalin"));
	return 0;
}

int backend_cache_dir(char *out, size_t cap, const char *sub)
{
	int n = cache_base(out, cap);
	if (n < 0)
		return n;
	size_t at = (size_t)n;
	int r = make_dir(out);
	r = r ?: add_dir(out, cap, &at, "dvalin", 6);
	for (const char *p = sub; r == 0 && p && *p;) {
		size_t len = strcspn(p, "/");
		if (len)
			r = add_dir(out, cap, &at, p, len);
		p += len;
		p += *p == '/';
	}
	return r;
}

static void unmap(void *priv, const uint8_t *data, size_t len)
{
	(void)priv;
	if (len)
		munmap((void *)data, len);
}

#define COPY_CHUNK ((size_t)4 << 20)

int backend_copy_to_fd(backend *b, const char *name, backend_hint hint, int fd,
		       uint64_t *out_size)
{
	backend_file *f = NULL;
	uint64_t size = 0;
	int r = check_name(b, name);
	if (r == 0 && b->ops->copy_to_fd)
		return b->ops->copy_to_fd(b, name, hint, fd, out_size);
	r = r ?: backend_open_read(b, name, hint, &f, &size);
	if (r < 0)
		return r;
	/* mapped, not malloc'd: returned to the system at once, never kept
	 * in the heap after the copy */
	size_t cap = size < COPY_CHUNK ? (size_t)size : COPY_CHUNK;
	uint8_t *chunk = cap ? mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
			     : NULL;
	if (chunk == MAP_FAILED) {
		backend_file_close(b, f);
		return -ENOMEM;
	}
	for (uint64_t off = 0; r == 0 && off < size;) {
		size_t n = size - off < cap ? (size_t)(size - off) : cap;
		r = backend_file_read(b, f, off, chunk, n);
		if (r == 0 && (r = fsio_pwrite_all(fd, chunk, n, (off_t)off)) < 0)
			r = err_sys(r, "cannot write a local copy of '%s/%s'", b->location, name);
		off += n;
	}
	if (chunk)
		munmap(chunk, cap);
	backend_file_close(b, f);
	if (r == 0)
		*out_size = size;
	return r;
}

int backend_map_fd(int fd, uint64_t size, bytes *out)
{
	*out = (bytes)BYTES_INIT;
	if (size > SIZE_MAX / 2)
		return -EFBIG;
	if (size == 0) {
		out->data = (const uint8_t *)"";
		return 0;
	}
	void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	out->data = m;
	out->len = (size_t)size;
	out->release = unmap;
	out->file_mapped = 1;
	return 0;
}

int backend_get_mapped(backend *b, const char *name, backend_hint hint, bytes *out)
{
	if (b->flags & BACKEND_RETURNS_MAPPINGS)
		return backend_get(b, name, hint, out);
	int r = check_name(b, name);
	if (r < 0)
		return r;
	if (b->ops->get_mapped)
		return b->ops->get_mapped(b, name, hint, out);
	_cleanup_close_ int fd = spill_file_open();
	if (fd < 0)
		return err_sys(fd, "cannot create a local copy of '%s/%s' in the cache directory",
			       b->location, name);
	uint64_t size;
	r = backend_copy_to_fd(b, name, hint, fd, &size);
	if (r == 0 && (r = backend_map_fd(fd, size, out)) < 0)
		r = err_sys(r, "cannot map the local copy of '%s/%s'", b->location, name);
	return r;
}

/* ---------- list and fetch ---------- */

/* The names a fetch will read: one arena of NUL-terminated strings. */
struct fetch_list {
	backend_want_fn want;
	void *ud;
	buf names;
	size_t *offs;
	size_t n, cap;
};

static int note_name(void *ud, const backend_entry *e)
{
	struct fetch_list *l = ud;
	if (l->want) {
		int r = l->want(l->ud, e);
		if (r <= 0)
			return r;
	}
	int r = array_reserve(&l->offs, &l->cap, l->n + 1, sizeof(*l->offs));
	size_t at = l->names.len;
	r = r ?: buf_append(&l->names, e->name, strlen(e->name) + 1);
	if (r == 0)
		l->offs[l->n++] = at;
	return r;
}

int backend_fetch_dir(backend *b, const char *dir, backend_hint hint, unsigned flags,
		      backend_want_fn want, backend_got_fn got, void *ud)
{
	struct fetch_list l = { want, ud, BUF_INIT, NULL, 0, 0 };
	int r = backend_list(b, dir, note_name, &l);
	for (size_t i = 0; r == 0 && i < l.n; i++) {
		const char *name = (const char *)l.names.data + l.offs[i];
		bytes data = BYTES_INIT;
		r = flags & BACKEND_FETCH_MAPPED ? backend_get_mapped(b, name, hint, &data)
						 : backend_get(b, name, hint, &data);
		if (r == -ENOENT && (flags & BACKEND_FETCH_SKIP_MISSING)) {
			err_clear();
			r = 0; /* removed since we listed */
			continue;
		}
		r = got(ud, name, r, &data);
		bytes_release(&data);
	}
	buf_release(&l.names);
	free(l.offs);
	return r;
}
