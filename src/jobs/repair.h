/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * repair: put a damaged repository back into a consistent state.
 *
 * repair_index rebuilds the index from the pack tables alone (keyless):
 * it writes one new index file, then deletes the index files it found.
 * Condemned packs stay out.  With read_data every blob's stored bytes are
 * checked and damaged blobs are left out of the index.
 *
 * repair_snapshots (key) rewrites each snapshot that uses blobs the index
 * lacks: lost file contents become holes of the same length, lost
 * directories become empty ones, and the new snapshot lists the damaged
 * paths and carries the tag "repaired"; or, with forget_damaged, such
 * snapshots (and unreadable snapshot files) are removed.
 */
#ifndef DV_JOBS_REPAIR_H
#define DV_JOBS_REPAIR_H

#include <stdint.h>

#include "../repo/repo.h"
#include "../repo/snapshot.h"

typedef struct {
	uint64_t packs, packs_bad, blobs, blobs_damaged, index_files_removed;
} repair_index_result;

int repair_index(repo *r, int read_data, repair_index_result *res);

typedef struct {
	int forget_damaged;
	/* called for each damaged path of each snapshot; new_id NULL when forgotten */
	void (*damaged)(void *ud, const snapshot *old, const char *path, const char *what);
	void (*rewritten)(void *ud, const snapshot *old, const uint8_t *new_id);
	void *ud;
} repair_snapshots_opts;

typedef struct {
	uint64_t snapshots, rewritten, forgotten, unreadable_removed, paths;
} repair_snapshots_result;

int repair_snapshots(repo *r, const repair_snapshots_opts *o, repair_snapshots_result *res);

#endif
