/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * session: one thread's access to the blobs of a repository: its own
 * compression context, buffers and a few open packs, and the pack
 * writers that all sessions of a repository share.
 *
 * Threads: each thread that loads or saves blobs makes its own session
 * (repo_session_new) and uses it alone; loads and saves through
 * different sessions run concurrently (the index and the pack writers
 * are guarded by the repository's lock; compressing, sealing and reading
 * run outside it).  repo_save_blob() and repo_load_blob*() use the
 * session of the thread that opened the repository.  repo_flush() runs
 * only when no save does.
 *
 * Ownership: a session borrows its repository, which must outlive it;
 * buffers filled by loads belong to the caller (reset first).
 */
#ifndef DV_REPO_SESSION_H
#define DV_REPO_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "../base/buf.h"
#include "pack.h"
#include "repo.h"

typedef struct repo_session repo_session;

int repo_session_new(repo_session **out, repo *r);
/* NULL-safe. */
void repo_session_free(repo_session *s);
/*
 * Reads, decrypts and decompresses a blob into out (reset first); with
 * verify, also re-hashes the plaintext against id.  -DV_ENOTFOUND if no
 * index or condemned pack has it, -DV_ECORRUPT if it is damaged.
 */
int repo_session_load(repo_session *s, int type, const uint8_t id[32], buf *out, int verify);
/* Decrypts stored bytes (read by the caller) and re-hashes the plaintext against id. */
int repo_session_open_stored(repo_session *s, int type, const uint8_t id[32], const void *stored,
			     size_t n, size_t raw_len, buf *out);
/*
 * Stores a blob unless the index has it or another session is storing
 * it; full packs are stored and indexed as they fill up.
 */
int repo_session_save(repo_session *s, int type, const uint8_t id[32], const void *plain, size_t n);

/*
 * Stores a blob's stored bytes as they are, unless the index has it or
 * another session is storing it: a copy from a repository with the same
 * keys (sync), which the caller has checked against its source's table.
 */
int repo_session_save_stored(repo_session *s, int type, const uint8_t id[32], const void *stored,
			     size_t n, uint32_t raw_len);
/*
 * Stores a whole pack file as it is, under its id, and indexes its blobs
 * (e, its table; blobs the index has already are left to that copy).
 * The caller has checked the file against its id and every blob against
 * the table.  Any thread.
 */
int repo_add_stored_pack(repo *r, const uint8_t id[32], const void *file, size_t n,
			 const pack_entry *e, size_t ne);
/*
 * Indexes packs in data/ that no index file and no condemnation record
 * names (left by a killed backup or sync), so that their blobs are not
 * stored again: they go into the next index file written.  A pack whose
 * table is damaged is reported and left alone.
 */
int repo_adopt_unindexed_packs(repo *r, uint64_t *out_packs);

/* The keyed id of a plaintext (any thread; sets up HMAC per call). */
void repo_blob_id(const repo *r, uint8_t out[32], const void *plain, size_t n);
/* The same with the session's reusable context: the hot path of ingest. */
void repo_session_blob_id(repo_session *s, uint8_t out[32], const void *plain, size_t n);

/* The session calls above, through the opening thread's session. */
int repo_save_blob(repo *r, int type, const uint8_t id[32], const void *plain, size_t n);
int repo_load_blob(repo *r, int type, const uint8_t id[32], buf *out);
int repo_load_blob_verified(repo *r, int type, const uint8_t id[32], buf *out);
/* Stores open packs and the index of everything saved (no saves may run). */
int repo_flush(repo *r);
/*
 * Writes the index of the packs already stored, leaving open packs alone
 * (no saves may run): after a failure (the server's disk full, the
 * network gone), so the next backup reuses what did get stored.
 */
int repo_index_stored(repo *r);
/*
 * From now on nothing is stored: a save is sealed (so its size is known)
 * and entered in the index as pending, so later saves of it deduplicate,
 * and counted in repo_bytes_added(); repo_flush() writes nothing.  What a
 * backup --dry-run needs to say what it would add.
 */
void repo_set_dry_run(repo *r);
/*
 * From now on data packs are read as a whole (BACKEND_WHOLE): the caller
 * will read most of every data pack it touches, as a full restore does.
 * On S3 that is one GET per pack instead of one per blob range.  Set it
 * before the sessions read.
 */
void repo_read_packs_whole(repo *r);
/*
 * From now on packs are written as a batch (backend_put_staged): each
 * is staged as it fills, and when the index is due (every few packs, and
 * at repo_flush) the batch is committed, one flush for all of them, and
 * then the index file that names them is written.  So the order stays
 * pack, index, snapshot; a run killed before a commit leaves temporaries
 * only (no pack, nothing to adopt), one killed after it packs the next
 * run adopts.  Blobs of a staged pack look pending until the commit:
 * found for deduplication, not readable.  For a writer that does not
 * read back what it stores (sync).  Set it before the sessions save.
 */
void repo_batch_packs(repo *r);
/* Stored bytes added by this repository handle so far (after dedup and compression). */
uint64_t repo_bytes_added(const repo *r);

#endif
