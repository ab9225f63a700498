/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * store: the files of one repository directory on the server, reached only
 * beneath that directory.  Every path is resolved with openat2()
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS from the repository's descriptor,
 * so neither a name (already checked against the layout by the caller) nor
 * a symbolic link or mount trick planted in the directory can lead a read
 * or a write outside it.
 *
 * Uploads are streamed into a temporary file beside their final name
 * (".tmp-..."), checked against their name (repo/layout.h), fsync'd,
 * renamed into place and the directory fsync'd: a reader sees no file or
 * the whole file, and a file is on disk once the upload is committed.
 *
 * The creator of each lease is kept beside it in "locks/.owner.<hex>"
 * (names starting with '.' are never listed), so that an append-only
 * client may replace and remove its own leases and nothing else.
 *
 * Threads: a store is one descriptor; any number of threads may use one.
 */
#ifndef DV_SERVER_STORE_H
#define DV_SERVER_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

typedef struct store store;

/*
 * A scratch store (a ".scratch" file in its directory, `server repo add
 * --scratch`) takes any backend name and any bytes: no layout, no checks.
 * It exists so that the backend conformance suite, which writes arbitrary
 * names, can run against a real server; it is never a repository.
 */
#define STORE_SCRATCH_MARK ".scratch"

/* Opens the repository directory path (which must exist). */
int store_open(store **out, const char *path);
/* Opens the directory dir (a name) beneath dirfd the same way: for a server's repositories. */
int store_open_at(store **out, int dirfd, const char *dir);
void store_free(store *s);
/* 1 for a scratch store, else 0. */
int store_is_scratch(const store *s);

/* A regular file's descriptor (read-only) and its status; -ENOENT if missing. */
int store_open_file(store *s, const char *name, int *out_fd, struct stat *out_st);
/* Status of a regular file; -ENOENT if missing (or not a regular file). */
int store_stat(store *s, const char *name, struct stat *out);
/* 1 if name exists as a regular file, 0 if not, < 0 on failure. */
int store_has(store *s, const char *name);
/* Removes a file (and a lease's owner record); -ENOENT if missing. */
int store_remove(store *s, const char *name);

/* The version of a file, for ETag and If-Match: "<dev>-<ino>-<size>-<mtime ns>" in hex. */
void store_etag(char out[80], const struct stat *st);

/* ---------- uploads ---------- */

typedef struct store_upload store_upload;

/* A temporary file for name (its directories made if missing). */
int store_upload_begin(store_upload **out, store *s, const char *name);
/* Appends n bytes; -EFBIG once more than max bytes were written (set by the caller). */
int store_upload_write(store_upload *u, const void *p, size_t n);
uint64_t store_upload_size(const store_upload *u);

#define STORE_REPLACE (1u << 0) /* an existing file may be replaced */

/*
 * Checks the upload against its name (layout_check, unless the store is
 * scratch; -DV_ECORRUPT with its reason), makes it durable and puts it in
 * place.  Without STORE_REPLACE
 * an existing file stays and the call fails with -EEXIST.  owner, when not
 * NULL, is recorded as the file's creator (leases).  The upload is done
 * with in every case (free it with store_upload_free).
 */
int store_upload_commit(store_upload *u, unsigned flags, const char *owner);
/* Removes the temporary file unless committed, and frees.  NULL-safe. */
void store_upload_free(store_upload *u);

/* ---------- lease owners ---------- */

/*
 * 1 if the lease name was created by owner, or does not exist (so nobody
 * else owns it), 0 if someone else created it, < 0 on failure.
 */
int store_lease_is_own(store *s, const char *name, const char *owner);

/* ---------- listing ---------- */

typedef struct store_walk store_walk;

/* Every regular file below dir (a name), at any depth; a missing dir lists nothing. */
int store_walk_begin(store_walk **out, store *s, const char *dir);
/* 1 and the next file's whole name (valid until the next call) and size, 0 at the end, < 0. */
int store_walk_next(store_walk *w, const char **name, uint64_t *size);
void store_walk_free(store_walk *w);

#endif
