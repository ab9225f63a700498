/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check: verify a repository, at up to three levels.
 *
 *   structure  index files are valid and agree with the pack tables; every
 *              pack the index names exists; snapshots parse; every blob a
 *              snapshot reaches is indexed (keyless, plus snapshot bodies
 *              with the key)
 *   storage    (read data) every stored blob matches the checksum in its
 *              pack's table (keyless)
 *   content    (read data, key) every blob decrypts, authenticates and
 *              re-hashes to its id
 * On damage the snapshots and files that use the lost blobs are reported
 * (with the key; without it, the blob ids).
 */
#ifndef DV_JOBS_CHECK_H
#define DV_JOBS_CHECK_H

#include <stdint.h>

#include "../base/idmap.h"
#include "../repo/repo.h"
#include "../repo/snapshot.h"

typedef struct {
	int read_data;          /* 0: structure only */
	uint32_t part, parts;   /* read packs in part (1-based) of parts */
	double fraction;        /* or this fraction (0 = unused), rotating daily */
	int64_t day;            /* for the rotation: days since the epoch */
	const idmap *packs;     /* or only these packs (sync --verify: the new ones) */
	int evict;              /* drop cached copies before reading (backend_evict) */
	int threads;            /* packs read at once (0: one per processor) */
	/* each problem, as one line */
	void (*problem)(void *ud, const char *msg);
	/* each file or directory a lost blob affects */
	void (*affected)(void *ud, const snapshot *s, const char *path, const char *what);
	void *ud;
} check_opts;

typedef struct {
	uint64_t snapshots, snapshots_damaged, index_files, index_files_damaged;
	uint64_t packs, packs_missing, packs_bad_table, packs_unindexed, packs_condemned;
	uint64_t index_mismatches;
	uint64_t temporaries; /* left by killed writers: prune removes them */
	uint64_t trees, blobs_referenced, blobs_missing;
	uint64_t packs_read, blobs_read, bytes_read, blobs_damaged;
	uint64_t snapshots_affected, files_affected;
	uint64_t problems;
	int storage_checked, content_checked;
} check_result;

/* 0 when the run completed (problems are counted in res), <0 if it could not. */
int check_run(repo *r, const check_opts *o, check_result *res);
/* Whether a pack belongs to the selected part ("3/7" or a fraction). */
int check_pack_is_selected(const check_opts *o, const uint8_t id[32]);

#endif
