/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * repo: an open repository: its backend, config, master keys, index and
 * lease.  Storing and loading blobs is session.h; the snapshots of a
 * repository are snapshots.h; the files and directories it consists of
 * are format.h and docs/format.md.
 *
 * Write ordering gives crash safety: a pack is stored (durably) before any
 * index names it, an index before any snapshot that needs it.  Whatever a
 * crash leaves behind is unreferenced and harmless.
 *
 * Ownership: repo_open_with() and repo_open() take the backend over, on
 * success and on failure alike: repo_free() frees it, a failed open
 * frees it before returning, so a caller writes
 * `backend_open(url, 0, &be) ?: repo_open_with(&r, be, &o)` and owns
 * nothing more.  repo_create() only borrows its backend.
 *
 * Threads: the handle is shared by the threads of one job.  Sessions
 * (session.h), repo_has_blob() and repo_locate_blob() may
 * be called from any thread at once; everything else from one thread at
 * a time, and repo_flush() and repo_free() only while no session call
 * runs.  The backend is used from all of them (backend.h allows it).
 */
#ifndef DV_REPO_REPO_H
#define DV_REPO_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "../backend/backend.h"
#include "../core/chunker.h"
#include "config.h"
#include "index.h"
#include "key.h"
#include "lease.h"

typedef struct repo repo;

typedef struct {
	chunker_params chunker;
	key_params kdf;
	int no_cache; /* a remote repository's key file not kept in the metadata cache */
} repo_init_params;

#define REPO_INIT_PARAMS_INIT { CHUNKER_PARAMS_INIT, KEY_PARAMS_INIT, 0 }

/*
 * Creates a new repository in be (an empty location, or one holding no
 * config and no snapshots): its directories (format.h), a key file for
 * pass, and the config file last.
 */
int repo_create(backend *be, const char *pass, const repo_init_params *p);

/*
 * Creates a replica of the repository in src in dst (empty, as for
 * repo_create): the same config (repository id, chunker parameters) and
 * copies of its key files, so that blob ids and sealed bytes are valid in
 * both and any passphrase of src opens dst.  Needs no passphrase: nothing
 * is decrypted.  Borrows both backends.
 */
int repo_create_replica(backend *dst, backend *src);

typedef struct {
	const char *pass; /* NULL: keyless (structure only: GC, storage checks) */
	int level;        /* zstd level for new blobs */
	const char *lease; /* lease kind ("backup", "read", "prune", "repair"); NULL: none */
	int exclusive;    /* fail if another prune or repair holds the repository */
	int tolerant;     /* skip damaged index files instead of failing */
	int no_cache;     /* no local metadata cache, even for a remote backend */
} repo_open_opts;

/*
 * Opens (and unless keyless, unlocks) the repository in be, taking be
 * over.  A remote backend (BACKEND_REMOTE) is wrapped in the metadata
 * cache (backend/cache.h, with repo/layout.h's policy) in
 * backend_cache_dir()/<repository id>, unless o->no_cache.
 */
int repo_open_with(repo **out, backend *be, const repo_open_opts *o);
/* repo_open_with without a lease (tools and tests). */
int repo_open(repo **out, backend *be, const char *pass, int level);
/* NULL-safe; drops the lease, frees the backend. */
void repo_free(repo *r);

const char *repo_location(const repo *r);
const repo_config *repo_get_config(const repo *r);
const chunker *repo_chunker(const repo *r);
backend *repo_backend(repo *r);
index_set *repo_index(repo *r);
/* 1 if opened without the key, else 0. */
int repo_is_keyless(const repo *r);
lease *repo_lease(repo *r); /* NULL when opened without one */

/*
 * Where a blob is: 0 and *loc filled from the index, else from a
 * condemned pack (readable until the next prune returns or deletes it),
 * else -DV_ENOTFOUND.  A blob being stored has loc->pack_id NULL.
 */
int repo_locate_blob(repo *r, const uint8_t id[32], index_loc *loc);
/*
 * 1 if the blob is in the index (stored or being stored), 0 if not: what
 * deduplication asks.  Condemned packs do not count.
 */
int repo_has_blob(repo *r, const uint8_t id[32]);

#endif
