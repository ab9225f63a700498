/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * backend: where repository files live.  A backend stores named files and
 * knows nothing about blobs, packs or keys.
 *
 * Names are relative, '/'-separated: "config", "keys/<hex>",
 * "snapshots/<hex>", "index/<hex>", "data/<2 hex>/<hex>".  Every put is
 * atomic and durable when it returns (readers see the old state or the
 * whole new file, never a part).  A backend object is used by one thread
 * at a time unless its documentation says otherwise.
 *
 * Contract of each operation:
 *   put        create or replace name with n bytes, atomically, durably
 *   get        the whole file; the bytes stay valid until bytes_release()
 *   get_range  exactly n bytes at off; -ENODATA if the file is shorter
 *   stat       the file's length and modification time (the storage's
 *              clock: leases and garbage collection compare it)
 *   list       call fn(ud, name) for each file under dir ("data" lists
 *              all packs); fn returning non-zero stops and is returned
 *   remove     delete name; -ENOENT if it does not exist
 *   open_read  a handle for many ranged reads of one file (file_read,
 *              file_close); a handle is used by one thread at a time
 * Errors are negative errnos; the thread-local message names the file.
 */
#ifndef DV_BACKEND_BACKEND_H
#define DV_BACKEND_BACKEND_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	const uint8_t *data;
	size_t len;
	void (*release)(void *priv, const uint8_t *data, size_t len);
	void *priv;
	int file_mapped; /* a read-only file mapping: pages may be dropped */
} bytes;

#define BYTES_INIT { NULL, 0, NULL, NULL, 0 }

void bytes_release(bytes *b);

typedef struct {
	uint64_t size;
	int64_t mtime_ns;
} backend_stat_t;

typedef struct backend backend;

typedef int (*backend_list_fn)(void *ud, const char *name);

typedef struct backend_file backend_file;

struct backend_ops {
	int (*put)(backend *b, const char *name, const void *p, size_t n);
	int (*get)(backend *b, const char *name, bytes *out);
	int (*get_range)(backend *b, const char *name, uint64_t off, void *p, size_t n);
	int (*stat)(backend *b, const char *name, backend_stat_t *out);
	int (*list)(backend *b, const char *dir, backend_list_fn fn, void *ud);
	int (*remove)(backend *b, const char *name);
	int (*open_read)(backend *b, const char *name, backend_file **out);
	int (*file_read)(backend_file *f, uint64_t off, void *p, size_t n);
	void (*file_close)(backend_file *f);
	void (*free)(backend *b);
};

struct backend {
	const struct backend_ops *ops;
	char *location; /* for messages */
};

static inline int backend_put(backend *b, const char *n, const void *p, size_t len)
{
	return b->ops->put(b, n, p, len);
}
static inline int backend_get(backend *b, const char *n, bytes *out)
{
	return b->ops->get(b, n, out);
}
static inline int backend_get_range(backend *b, const char *n, uint64_t off, void *p, size_t len)
{
	return b->ops->get_range(b, n, off, p, len);
}
static inline int backend_stat(backend *b, const char *n, backend_stat_t *out)
{
	return b->ops->stat(b, n, out);
}
static inline int backend_size(backend *b, const char *n, uint64_t *out)
{
	backend_stat_t st;
	int r = b->ops->stat(b, n, &st);
	if (r == 0)
		*out = st.size;
	return r;
}
static inline int backend_list(backend *b, const char *dir, backend_list_fn fn, void *ud)
{
	return b->ops->list(b, dir, fn, ud);
}
static inline int backend_remove(backend *b, const char *n)
{
	return b->ops->remove(b, n);
}
static inline int backend_open_read(backend *b, const char *n, backend_file **out)
{
	return b->ops->open_read(b, n, out);
}
static inline int backend_file_read(backend *b, backend_file *f, uint64_t off, void *p, size_t n)
{
	return b->ops->file_read(f, off, p, n);
}
/* NULL-safe. */
static inline void backend_file_close(backend *b, backend_file *f)
{
	if (f)
		b->ops->file_close(f);
}
void backend_free(backend *b);

/* Opens (create = 0) or creates (create = 1) a local directory backend. */
int local_backend_open(backend **out, const char *path, int create);
/* An empty in-memory backend, for tests. */
int mem_backend_new(backend **out);

#endif
