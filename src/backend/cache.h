/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cache: a backend decorator that keeps local copies of the files of any
 * backend whose contents never change, so that a remote repository's
 * index files, snapshots and tree packs cross the network once (restic's
 * internal/backend/cache does the same for its repositories).
 *
 * Which files those are is the caller's knowledge, not a backend's (a
 * backend knows nothing of a layout): a policy says whether a name, read
 * or written with a hint, is worth keeping (its contents can never change:
 * a content-addressed name), and how a local copy is checked against its
 * name.  Since a kept name never holds other bytes, a copy can never be
 * stale; it can only be damaged (a crash, a disk error, someone editing
 * it), and a copy that fails the check is dropped, with a warning, and
 * fetched again.
 *
 * What goes through the cache:
 *   get, get_mapped, get_range, open_read of a kept name: served from the
 *     local copy, fetched whole into it first when missing (through a
 *     handle, a few MiB at a time: never the whole file in the heap); the
 *     result is a mapping of the local file, so index files cost page
 *     cache, not heap.  Fetched bytes that fail the check are returned
 *     as they are and not kept: judging the damage of the original is
 *     the caller's business (its decoders report it by name).
 *   put of a kept name: the backend first, then the local copy (write-
 *     through: a backup's own new index and tree packs are never fetched).
 *   remove, remove_batch: the backend, and the local copies of those names.
 *   requests: the backend's counts.
 *   list: the backend; and after a complete listing of a directory the
 *     copies of files below it that the listing no longer has are removed
 *     (deleted in the repository: by a prune on a server, say).
 *   everything else (stat, mkdir, names not kept): the backend alone.
 *
 * Local copies are written to a temporary name (starting with '.') and
 * renamed, without fsync: after a crash a copy may be torn, and the check
 * finds it.  Several processes may share one cache directory; each write
 * is atomic and a copy removed under a reader is fetched again.  Every
 * operation may be called from any thread, like every backend's.
 *
 * Failures of the cache itself (a full or read-only disk) never fail an
 * operation: the file is then read from the backend directly.
 */
#ifndef DV_BACKEND_CACHE_H
#define DV_BACKEND_CACHE_H

#include "backend.h"

typedef struct {
	/* 1 if name, read or written with hint, may be kept (its contents never change), else 0. */
	int (*keeps)(void *ud, const char *name, backend_hint hint);
	/* 0 if the n bytes at p are what name promises, else < 0 (a copy is then dropped). */
	int (*verify)(void *ud, const char *name, const uint8_t *p, size_t n);
	void *ud;
} cache_policy;

/*
 * Wraps inner, taking it over (freed with the cache), with local copies
 * below dir (created, 0700, if missing; tagged, locked and dated as
 * cachedir.h says, so that `dvalin cache` can list it and tell that it
 * is in use).  On failure inner stays the caller's, who may go on
 * without a cache.  The cache has inner's location and flags.
 */
int cache_backend_new(backend **out, backend *inner, const char *dir, const cache_policy *p);
/*
 * cache_backend_new for a caller that only borrows inner (repo_create,
 * keeping the key file it writes): freeing the cache leaves inner open.
 */
int cache_backend_borrow(backend **out, backend *inner, const char *dir, const cache_policy *p);

/*
 * Removes the local copies below dir (a name) for which wanted(ud, name)
 * returns 0: a caller that knows which files are still in use (a
 * repository whose index names its packs) keeps the cache from growing
 * with files deleted elsewhere.  0 for a backend that is not a cache.
 */
int cache_backend_retain(backend *b, const char *dir, int (*wanted)(void *ud, const char *name),
			 void *ud);

#endif
