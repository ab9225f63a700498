/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * snapshots: the snapshots of an open repository: storing, listing,
 * protecting and forgetting them (which one a command names is decided
 * above, in jobs/snapsel.h).  The file format of one snapshot is
 * snapshot.h.
 *
 * Damaged or unreadable snapshot files never stop a listing: they are
 * skipped and counted, and the message names the first.  Ownership:
 * lists and snapshots returned belong to the caller.  Threads: one at a
 * time per repository, like everything not in session.h.
 */
#ifndef DV_REPO_SNAPSHOTS_H
#define DV_REPO_SNAPSHOTS_H

#include <stddef.h>
#include <stdint.h>

#include "../base/idmap.h"
#include "repo.h"
#include "snapshot.h"

/* Encodes, stores and fills s->id (after confirming the lease, if any). */
int repo_save_snapshot(repo *r, snapshot *s);
/*
 * Keyless: stores a snapshot file as it is (a copy from a repository with
 * the same keys), under the id its bytes hash to (*out_id), with the same
 * commit check as repo_save_snapshot.  Its header must decode.
 */
int repo_put_snapshot_file(repo *r, const uint8_t *p, size_t n, uint8_t out_id[32]);
/* All snapshots, oldest first; damaged files counted in *out_damaged (may be NULL). */
int repo_load_snapshots(repo *r, snapshot ***out, size_t *out_n, size_t *out_damaged);
/* NULL-safe. */
void repo_free_snapshots(snapshot **list, size_t n);
/*
 * Keyless: calls fn(ud, snapshot id, root tree id) for every snapshot
 * file (in no order); damaged files are counted, the message names one.
 */
typedef int (*repo_root_fn)(void *ud, const uint8_t id[32], const uint8_t tree[32]);
int repo_list_snapshot_roots(repo *r, repo_root_fn fn, void *ud, size_t *out_damaged);
/* Keyless: the same, with everything a header says (snapshot_header). */
typedef int (*repo_header_fn)(void *ud, const snapshot_header *h);
int repo_list_snapshot_headers(repo *r, repo_header_fn fn, void *ud, size_t *out_damaged);
/*
 * Keyless: every snapshot header in a new array (the caller frees it):
 * those without a plaintext time (version 1) first, then oldest first.
 */
int repo_load_snapshot_headers(repo *r, snapshot_header **out, size_t *out_n, size_t *out_damaged);
/* Deletes snapshot files that cannot be read or decrypted. */
int repo_remove_unreadable_snapshots(repo *r, size_t *removed);
/* Protection: a protected snapshot is never forgotten (protected/<id>). */
int repo_set_protected(repo *r, const uint8_t id[32], int on);
/* Adds the id of every protected snapshot to out. */
int repo_load_protected(repo *r, idmap *out);
/* Deletes a snapshot file; -EPERM if it is protected. */
int repo_forget_snapshot(repo *r, const uint8_t id[32]);

#endif
