/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * repo: an open repository: its backend, config, master keys, index and
 * the pack writers of the current session.
 *
 * Write ordering gives crash safety: a pack is stored (durably) before any
 * index names it, an index before any snapshot that needs it.  Whatever a
 * crash leaves behind is unreferenced and harmless.  A repo handle is
 * used by one thread at a time.
 */
#ifndef DV_REPO_REPO_H
#define DV_REPO_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "../backend/backend.h"
#include "../base/buf.h"
#include "../base/idmap.h"
#include "../core/chunker.h"
#include "../core/crypto.h"
#include "index.h"
#include "key.h"
#include "lease.h"
#include "snapshot.h"

typedef struct repo repo;

typedef struct {
	uint8_t id[32];
	chunker_params chunker;
} repo_config;

/* Decodes the config file (pure: the fuzz target calls it directly). */
int config_decode(repo_config *c, const uint8_t *p, size_t n);

typedef struct {
	chunker_params chunker;
	key_params kdf;
} repo_init_params;

#define REPO_INIT_PARAMS_INIT { CHUNKER_PARAMS_INIT, KEY_PARAMS_INIT }

/* Creates a new repository in an empty or missing directory. */
int repo_create(const char *path, const char *pass, const repo_init_params *p);
typedef struct {
	const char *pass; /* NULL: keyless (structure only: GC, storage checks) */
	int level;        /* zstd level for new blobs */
	const char *lease; /* lease kind ("backup", "read", "prune", "repair"); NULL: none */
	int exclusive;    /* fail if another prune or repair holds the repository */
	int tolerant;     /* skip damaged index files instead of failing */
} repo_open_opts;

/* Opens (and unless keyless, unlocks) a repository. */
int repo_open_with(repo **out, const char *path, const repo_open_opts *o);
/* repo_open_with without a lease (tools and tests). */
int repo_open(repo **out, const char *path, const char *pass, int level);
void repo_free(repo *r);

const char *repo_location(const repo *r);
const repo_config *repo_get_config(const repo *r);
const chunker *repo_chunker(const repo *r);
backend *repo_backend(repo *r);
index_set *repo_index(repo *r);
int repo_is_keyless(const repo *r);
lease *repo_lease(repo *r); /* NULL when opened without one */

/* Adds the blobs of a pack's table to s (0 if the pack no longer exists). */
int index_add_pack_table(index_set *s, backend *be, const uint8_t pack[32]);
/* Where a blob is: the index, else a condemned pack. */
int repo_locate_blob(repo *r, const uint8_t id[32], index_loc *loc);

/* 0 if the blob is stored (or being stored), else -DV_ENOTFOUND. */
int repo_has_blob(repo *r, const uint8_t id[32]);
/* The keyed id of a plaintext. */
void repo_blob_id(const repo *r, uint8_t out[32], const void *plain, size_t n);
/* Stores a blob unless it exists or is being stored (owning thread). */
int repo_save_blob(repo *r, int type, const uint8_t id[32], const void *plain, size_t n);
/* Stores open packs and the index of everything saved (no saves may run). */
int repo_flush(repo *r);
/* Stored bytes added by this session so far (after dedup and compression). */
uint64_t repo_bytes_added(const repo *r);
/* Reads, decrypts and decompresses a blob into out (reset first). */
int repo_load_blob(repo *r, int type, const uint8_t id[32], buf *out);
/* Like repo_load_blob, also re-hashing the plaintext against the id. */
int repo_load_blob_verified(repo *r, int type, const uint8_t id[32], buf *out);

/*
 * A session is one thread's access to the blobs: its own compression
 * context and buffers.  Loads and saves through different sessions may run
 * concurrently; repo_flush() must not.
 */
typedef struct repo_session repo_session;
int repo_session_new(repo_session **out, repo *r);
void repo_session_free(repo_session *rd);
int repo_session_load(repo_session *rd, int type, const uint8_t id[32], buf *out, int verify);
/* Decrypts stored bytes and re-hashes the plaintext against id. */
int repo_session_open_stored(repo_session *rd, int type, const uint8_t id[32], const void *stored,
			    size_t n, size_t raw_len, buf *out);
int repo_session_save(repo_session *rd, int type, const uint8_t id[32], const void *plain, size_t n);

/* Encodes, stores and fills s->id. */
int repo_save_snapshot(repo *r, snapshot *s);
/*
 * All snapshots, oldest first.  Files that cannot be read or decrypted
 * are skipped and counted in *out_damaged (the message names the first).
 */
int repo_load_snapshots(repo *r, snapshot ***out, size_t *out_n, size_t *out_damaged);
void repo_free_snapshots(snapshot **list, size_t n);
/*
 * Keyless: calls fn(ud, snapshot id, root tree id) for every snapshot
 * file (in no order); damaged files are counted, the message names one.
 */
typedef int (*repo_root_fn)(void *ud, const uint8_t id[32], const uint8_t tree[32]);
int repo_list_snapshot_roots(repo *r, repo_root_fn fn, void *ud, size_t *out_damaged);
/* Deletes snapshot files that cannot be read or decrypted. */
int repo_remove_unreadable_snapshots(repo *r, size_t *removed);
/* Protection: a protected snapshot is never forgotten (protected/<id>). */
int repo_set_protected(repo *r, const uint8_t id[32], int on);
/* Adds the id of every protected snapshot to out. */
int repo_load_protected(repo *r, idmap *out);
/* Deletes a snapshot file; -EPERM if it is protected. */
int repo_forget_snapshot(repo *r, const uint8_t id[32]);
/* "latest" or a unique hex prefix of a snapshot id. */
int repo_find_snapshot(repo *r, const char *spec, snapshot **out);

#endif
