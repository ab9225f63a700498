/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * backend: where repository files live.  A backend stores named files and
 * knows nothing about blobs, packs, keys or which directories a
 * repository has: that layout belongs to repo/ (repo/format.h).
 *
 * Backends are opened by URL (backend_open(), registry.c): a path or
 * file:PATH is a local directory, mem:NAME an in-memory store.  Each
 * backend is one file implementing struct backend_ops below; callers use
 * the backend_*() functions, which check names and fill in the optional
 * operations, never the ops table directly.
 *
 * Names.  A name is 1 to BACKEND_NAME_MAX bytes of components separated
 * by single '/'; a component is 1 or more of [A-Za-z0-9_.-] and does not
 * start with '.'.  There is no leading or trailing '/'.  So every name is
 * a safe relative path, an S3 key and a URL path as it is, and names
 * starting with '.' are free for a backend's own temporary files.  A
 * name is a file or a directory (a prefix of other names), never both.
 *
 * Threads.  Every operation may be called from any thread, concurrently
 * with any other, on one backend object: restore workers read packs while
 * the lease thread rewrites a lease and the main thread lists snapshots.
 * A backend_file handle is used by one thread at a time (each session
 * keeps its own).  backend_free() runs once, when no other call does.
 * The error message (base/err.h) is thread-local like everywhere else.
 *
 * Errors.  Every operation returns 0 or a negative code and records a
 * one-line message naming the location and the file.  The codes mean the
 * same on every backend, so callers can act on them:
 *   -ENOENT        the file (or, for open, the location) does not exist
 *   -EACCES/-EPERM not allowed: permissions, credentials, or a policy
 *                  such as an append-only server refusing remove/replace
 *   -EROFS         the storage is read-only
 *   -EAGAIN/-ETIMEDOUT  transient: trying again later may succeed, and
 *                  nothing was changed (a failed put leaves the old state)
 *   -ENOSPC/-EDQUOT the storage is full
 *   -ENODATA       a ranged read reaches past the end of the file
 *   -DV_ECORRUPT   the backend itself found stored bytes damaged (a
 *                  remote's checksum); a backend never decodes contents
 *   -EINVAL        the name is not valid (checked here, before the op)
 *   -ENOMEM, -EIO  as usual; other errnos only where none of these fits
 *
 * Hints.  Reads and writes say whether a file is metadata (BACKEND_META:
 * config, keys, index, snapshots, leases, gc records, protection marks,
 * tree packs) or bulk data (BACKEND_DATA: data packs, or whenever the
 * caller cannot tell; BACKEND_WHOLE: data packs of which the caller will
 * read most, piece by piece, as a full restore does).  A backend may
 * ignore the hint; a caching decorator keeps META files locally, so
 * listing and GC of a remote repository do not fetch them again; a
 * remote backend fetches a WHOLE file in one request at the first read
 * instead of one per piece.  The hint never changes results.
 */
#ifndef DV_BACKEND_BACKEND_H
#define DV_BACKEND_BACKEND_H

#include <stddef.h>
#include <stdint.h>

/*
 * Bytes lent by a backend: valid until bytes_release(), even if the file
 * is replaced or removed meanwhile.  file_mapped says they are a
 * read-only mapping of a file: pages may be dropped (MADV_DONTNEED) and
 * are read again from the file; on heap memory that would zero them.
 */
typedef struct {
	const uint8_t *data;
	size_t len;
	void (*release)(void *priv, const uint8_t *data, size_t len);
	void *priv;
	int file_mapped;
} bytes;

#define BYTES_INIT { NULL, 0, NULL, NULL, 0 }

/* NULL-safe for an empty (BYTES_INIT) value; leaves b empty. */
void bytes_release(bytes *b);

typedef enum {
	BACKEND_DATA = 0, /* read once, never worth caching */
	BACKEND_META = 1, /* small, read again and again: see "Hints" above */
	BACKEND_WHOLE = 2, /* data read almost whole, piece by piece */
} backend_hint;

typedef struct {
	uint64_t size;
	int64_t mtime_ns; /* the storage's clock: leases and GC compare it */
} backend_stat_t;

/*
 * One listed file: its whole name, its size, and its modification time as
 * stat gives it, or 0 when the backend's listing does not tell (callers
 * then stat the file).  Valid during the call.
 */
typedef struct {
	const char *name;
	uint64_t size;
	int64_t mtime_ns;
} backend_entry;

typedef struct backend backend;
/* A handle for reads of one file (backend_open_read), used by one thread at a time. */
typedef struct backend_file backend_file;
/* A file written but not yet committed under its name (backend_put_staged), the backend's own. */
typedef struct backend_staged backend_staged;

/* fn returning non-zero stops a listing; list returns that value. */
typedef int (*backend_list_fn)(void *ud, const backend_entry *e);

#define BACKEND_NAME_MAX 255

/* b->flags: what a backend is and promises. */
#define BACKEND_REMOTE (1u << 0)           /* every call is a round trip */
#define BACKEND_ATOMIC_REPLACE (1u << 1)   /* put over a name: old or new */
#define BACKEND_RETURNS_MAPPINGS (1u << 2) /* get gives file mappings */

#define BACKEND_OPS_VERSION 1

/*
 * Requests a remote backend made, by kind: what a paid bucket bills and
 * what --json summaries print ("requests": {"GET": n, ...}).  LIST is a
 * request for a page of names; POST covers multipart uploads and batched
 * deletes.  Every attempt counts, retries included.
 */
enum {
	BACKEND_REQ_GET,
	BACKEND_REQ_PUT,
	BACKEND_REQ_HEAD,
	BACKEND_REQ_LIST,
	BACKEND_REQ_DELETE,
	BACKEND_REQ_POST,
	BACKEND_REQ_KINDS
};
typedef struct {
	uint64_t n[BACKEND_REQ_KINDS];
	/* bodies sent and received (without headers), retries included */
	uint64_t bytes_sent, bytes_received;
} backend_requests;
/* "GET", "PUT", "HEAD", "LIST", "DELETE", "POST" */
extern const char *const backend_request_names[BACKEND_REQ_KINDS];

/*
 * The contract each backend implements.  Names given to an operation are
 * valid (checked by the backend_*() wrappers) and dir is a valid name.
 */
struct backend_ops {
	/* BACKEND_OPS_VERSION: backend_init() refuses any other. */
	unsigned version;

	/*
	 * Creates or replaces name with the n bytes at p, atomically: a
	 * reader (of this or any other process) sees no file or the whole
	 * new one, never a part.  A replaced file reads as the whole old or
	 * the whole new one; with BACKEND_ATOMIC_REPLACE it is never
	 * missing in between (leases and gc records are rewritten in place).
	 * Missing parent directories are created.  Durable when it returns
	 * 0 (fsync'd, or acknowledged by the server as stored).  Required.
	 */
	int (*put)(backend *b, const char *name, backend_hint hint, const void *p, size_t n);

	/*
	 * The whole file, lent in *out (see bytes above); -ENOENT if it does
	 * not exist.  With BACKEND_RETURNS_MAPPINGS out->file_mapped is set
	 * for every file longer than zero.  Required.
	 */
	int (*get)(backend *b, const char *name, backend_hint hint, bytes *out);

	/*
	 * Exactly n bytes at off into p: 0, -ENOENT, or -ENODATA when the
	 * file is shorter than off + n (n == 0 at off == size is 0).  May be
	 * NULL: backend_get_range() then opens a handle for the one read.
	 */
	int (*get_range)(backend *b, const char *name, backend_hint hint, uint64_t off, void *p,
			 size_t n);

	/*
	 * A handle (the backend's own, opaque) for many ranged reads of one
	 * file, and the file's size in *out_size (when not NULL).  The handle
	 * reads the file as it was when opened: if it is replaced or removed
	 * meanwhile, reads return that version or fail (-ENOENT/-ESTALE),
	 * never a mix.  -ENOENT if the file does not exist.  With
	 * BACKEND_WHOLE and out_size NULL a remote backend may defer its
	 * request to the first read: "when opened" is then that read, and a
	 * missing file is that read's -ENOENT.  Required, with file_read and
	 * file_close.
	 */
	int (*open_read)(backend *b, const char *name, backend_hint hint, void **out,
			 uint64_t *out_size);
	/*
	 * Exactly n bytes at off, as get_range.  Returns the code alone:
	 * backend_file_read() words the message, naming the file.
	 */
	int (*file_read)(void *f, uint64_t off, void *p, size_t n);
	/* Never called with NULL; cannot fail. */
	void (*file_close)(void *f);

	/*
	 * The whole file as a read-only file mapping, as get with
	 * BACKEND_RETURNS_MAPPINGS gives it (out->file_mapped set unless the
	 * file is empty).  May be NULL: backend_get_mapped() then copies the
	 * file through a handle into an unlinked local file.  A backend that
	 * keeps local copies (the cache decorator, cache.h) maps those.
	 */
	int (*get_mapped)(backend *b, const char *name, backend_hint hint, bytes *out);

	/* Size and modification time; -ENOENT if missing.  Required. */
	int (*stat)(backend *b, const char *name, backend_stat_t *out);

	/*
	 * Calls fn(ud, entry) once for every file whose name starts with
	 * dir + "/", at any depth, in no particular order, with its size.
	 * A missing dir lists nothing and returns 0.  fn runs in the calling
	 * thread and may call any operation of this backend, removing listed
	 * files included; files added or removed during a listing may or may
	 * not be reported, every other file is reported exactly once.
	 * Backends list thousands of names without one call per file (a
	 * remote asks for pages of names with their sizes, and times where
	 * the page has them).  Required.
	 */
	int (*list)(backend *b, const char *dir, backend_list_fn fn, void *ud);

	/* Deletes name: 0, or -ENOENT if it did not exist.  Required. */
	int (*remove)(backend *b, const char *name);

	/*
	 * Deletes the n names (n may be 0); a name that does not exist is
	 * not an error.  0 when every one is gone, else the first error (the
	 * rest may or may not have been deleted).  For a prune deleting
	 * hundreds of packs: S3 takes 1,000 keys a request.  May be NULL:
	 * backend_remove_batch() then removes them one by one.
	 */
	int (*remove_batch)(backend *b, const char *const *names, size_t n);

	/*
	 * Creates dir (and its parents) empty, so that a repository shows
	 * its layout to someone looking at it.  Nothing depends on it: put
	 * creates what it needs.  NULL for storage without directories (S3).
	 */
	int (*mkdir)(backend *b, const char *dir);

	/* Releases everything; never called with NULL.  Required. */
	void (*free)(backend *b);

	/*
	 * The requests made so far (see backend_requests) into out: 1, or 0
	 * when the backend does not count them.  NULL for backends that make
	 * none (local, mem); a decorator passes on what the backend it wraps
	 * says.
	 */
	int (*requests)(backend *b, backend_requests *out);

	/*
	 * Drops any copy of name kept between the storage and this process
	 * (a page cache, a local cache of a remote), so that the next read
	 * comes from the storage itself: what a verification of freshly
	 * written files (sync --verify to a cold drive) needs.  0, or
	 * -ENOENT.  May be NULL: nothing is kept.
	 */
	int (*evict)(backend *b, const char *name);

	/*
	 * put, and the file's stat as the storage has it after the write
	 * (size n, the storage's time of the write), without another round
	 * trip where the answer to the write says it (S3: the Date of the
	 * PUT's answer, whole seconds like Last-Modified).  *written says
	 * whether the file was written, also when the stat after it failed.
	 * May be NULL: backend_put_stat() then puts and stats.
	 */
	int (*put_stat)(backend *b, const char *name, backend_hint hint, const void *p, size_t n,
			backend_stat_t *out, int *written);

	/*
	 * The whole file into fd from offset 0, its size in *out_size, in
	 * one request where the backend can (S3: one GET instead of a HEAD
	 * and ranged GETs).  May be NULL: backend_copy_to_fd() then reads
	 * through a handle.
	 */
	int (*copy_to_fd)(backend *b, const char *name, backend_hint hint, int fd,
			  uint64_t *out_size);

	/*
	 * Staged puts, for a writer that stores a batch of files before
	 * anything names them (packs before the index file that lists
	 * them): one wait for the storage per batch instead of one per file.
	 * put_staged writes name's bytes where no read and no listing finds
	 * them (a local temporary named as fsio_tmp_open names them, so a
	 * cleanup of leftover temporaries recognises it) and starts their
	 * write to the storage without waiting for it; *out is the staged
	 * file.  commit_staged makes the n staged files of v durable, then
	 * gives each its name atomically (as put: no file or the whole new
	 * one), and returns 0 when the names are durable too; a NULL entry
	 * is skipped.  Every entry is consumed and set to NULL, on failure
	 * too: those not committed are removed.  discard_staged removes one
	 * staged file.  All three or none; NULL where a batch would save
	 * nothing (a remote's server flushes each file it stores): then
	 * backend_put_staged() puts the file at once and gives *out NULL.
	 */
	int (*put_staged)(backend *b, const char *name, backend_hint hint, const void *p, size_t n,
			  backend_staged **out);
	int (*commit_staged)(backend *b, backend_staged **v, size_t n);
	void (*discard_staged)(backend *b, backend_staged *f);

	/*
	 * The backend's own temporary files that can never become files
	 * (left by a writer killed in the middle of a put), anywhere below
	 * the location: fn(ud, entry) for each, entry->name its path below
	 * the location (not a valid name: its last component starts with
	 * '.'); with remove set, each is removed after fn returned 0.  The
	 * backend decides when a temporary cannot be a live writer's, and
	 * says how.  Called by prune (remove) and check (report) only.  May
	 * be NULL: the backend leaves none, or removes its own (a dvalin
	 * server sweeps its data directory itself).
	 */
	int (*leftovers)(backend *b, int remove, backend_list_fn fn, void *ud);
};

struct backend {
	const struct backend_ops *ops;
	unsigned flags;  /* BACKEND_REMOTE, ... */
	char *location;  /* for messages: a path or a URL without secrets */
};

/*
 * Fills the common part of a new backend; location is copied.  -EINVAL
 * if ops is of another version or lacks a required operation.
 */
int backend_init(backend *b, const struct backend_ops *ops, unsigned flags, const char *location);

/* 1 if name follows the rules above, else 0. */
int backend_name_is_valid(const char *name);

/* backend_open() flags */
#define BACKEND_OPEN_CREATE (1u << 0) /* create the location if missing */
/* the source of a copy (sync, init --replica-of): a dvalin server's token
 * and fingerprint are DVALIN_FROM_* when any of those is set (remote.c) */
#define BACKEND_OPEN_SOURCE (1u << 1)

/*
 * Opens the backend a URL names (registry.c): "file:PATH" or a plain
 * path (a local directory), "mem:NAME" (an in-memory store shared by
 * every backend open on NAME in this process, discarded when the last
 * one is freed; "mem:" alone is private).  Without BACKEND_OPEN_CREATE
 * the location must exist (-ENOENT).  The caller owns *out.
 */
int backend_open(const char *url, unsigned flags, backend **out);
/* NULL-safe. */
void backend_free(backend *b);

/* The operations, as documented in struct backend_ops. */
int backend_put(backend *b, const char *name, backend_hint hint, const void *p, size_t n);
int backend_get(backend *b, const char *name, backend_hint hint, bytes *out);
int backend_get_range(backend *b, const char *name, backend_hint hint, uint64_t off, void *p,
		      size_t n);
int backend_open_read(backend *b, const char *name, backend_hint hint, backend_file **out,
		      uint64_t *out_size);
int backend_file_read(backend *b, backend_file *f, uint64_t off, void *p, size_t n);
/* NULL-safe. */
void backend_file_close(backend *b, backend_file *f);
int backend_stat(backend *b, const char *name, backend_stat_t *out);
int backend_put_stat(backend *b, const char *name, backend_hint hint, const void *p, size_t n,
		     backend_stat_t *out, int *written);
/* backend_stat for the size alone. */
int backend_size(backend *b, const char *name, uint64_t *out);
int backend_list(backend *b, const char *dir, backend_list_fn fn, void *ud);
int backend_remove(backend *b, const char *name);
int backend_remove_batch(backend *b, const char *const *names, size_t n);
/* 0 where the backend has no directories. */
int backend_mkdir(backend *b, const char *dir);
/* 1 with the counts in *out if the backend counts requests, else 0 (*out zeroed). */
int backend_request_counts(backend *b, backend_requests *out);
/* 0 where the backend keeps no copies. */
int backend_evict(backend *b, const char *name);
/*
 * Staged puts, as documented in struct backend_ops: *out NULL means the
 * backend has no staging and the file was put (durable, under its name)
 * already.  The caller keeps the staged files until it commits them in
 * one backend_commit_staged() or discards them (NULL-safe); no file may
 * be staged twice at once, and until the commit nothing may read it.
 */
int backend_put_staged(backend *b, const char *name, backend_hint hint, const void *p, size_t n,
		       backend_staged **out);
int backend_commit_staged(backend *b, backend_staged **v, size_t n);
void backend_discard_staged(backend *b, backend_staged *f);
/* As the leftovers op; 0 (none) where the backend has none. */
int backend_leftovers(backend *b, int remove, backend_list_fn fn, void *ud);

/*
 * The whole file as a read-only file mapping (out->file_mapped set
 * unless empty), whatever the backend: get where the backend returns
 * mappings, its get_mapped where it has one, else the bytes are copied,
 * a few MiB at a time, into an unlinked file in the user's cache
 * directory (backend_cache_dir(), else /var/tmp, /tmp) and mapped from
 * there.  For large files read in place for a long time (index files),
 * so that they cost page cache, not heap.
 */
int backend_get_mapped(backend *b, const char *name, backend_hint hint, bytes *out);

/*
 * Copies the whole file name into fd (from offset 0), with the
 * backend's copy_to_fd or else through a handle, a few MiB at a time, so
 * that no file is ever held in the heap whole; its size in *out_size.
 * fd must be open for writing.
 */
int backend_copy_to_fd(backend *b, const char *name, backend_hint hint, int fd,
		       uint64_t *out_size);
/* Maps the first size bytes of fd read-only into *out (file_mapped; empty if 0). */
int backend_map_fd(int fd, uint64_t size, bytes *out);

/*
 * The user's cache directory for dvalin, with sub appended when not NULL
 * or empty ("$XDG_CACHE_HOME/dvalin/SUB", else "$HOME/.cache/dvalin/SUB";
 * only absolute variables count), created (0700) with its parents when
 * missing.  -ENOENT when neither variable is usable, -ENAMETOOLONG, or
 * the errno of the failed mkdir.
 */
int backend_cache_dir(char *out, size_t cap, const char *sub);
/* The same root ("$XDG_CACHE_HOME/dvalin", else "$HOME/.cache/dvalin") without creating it. */
int backend_cache_root(char *out, size_t cap);

/*
 * List and fetch: the one loop that reads every file of a directory
 * (snapshots, index files, leases, gc records, keys).  The names are
 * listed first, then each file is fetched and handed to got(); so a
 * later version can fetch several at once from a remote backend without
 * any caller changing.  Both callbacks run in the calling thread, one
 * file at a time, in no particular order.
 *
 * want (may be NULL: every file) returns 1 to fetch a listed file, 0 to
 * pass over it, < 0 to stop.  got receives each fetch's result: rc 0 and
 * the file's bytes in *b, or the negative code the fetch failed with and
 * *b empty (got decides: return rc to stop with it, 0 to go on).  got
 * may take the bytes over (copy *b and set it to BYTES_INIT), else they
 * are released after it returns; non-zero from got stops and is returned.
 */
#define BACKEND_FETCH_SKIP_MISSING (1u << 0) /* a file removed since listing is passed
						over, not handed to got as -ENOENT */
#define BACKEND_FETCH_MAPPED (1u << 1)       /* files come as backend_get_mapped() gives them */
typedef int (*backend_want_fn)(void *ud, const backend_entry *e);
typedef int (*backend_got_fn)(void *ud, const char *name, int rc, bytes *b);
int backend_fetch_dir(backend *b, const char *dir, backend_hint hint, unsigned flags,
		      backend_want_fn want, backend_got_fn got, void *ud);

#endif
