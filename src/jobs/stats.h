/* SPDX-License-Identifier: BSD-2-Clause */
/* stats: how much the snapshots hold and what it costs to store. */
#ifndef DV_JOBS_STATS_H
#define DV_JOBS_STATS_H

#include <stdint.h>

#include "../repo/repo.h"

typedef struct {
	uint64_t snapshots, logical_files, logical_bytes; /* sums over snapshots */
	uint64_t blobs_used, trees, raw_used, stored_used; /* distinct blobs in use */
	uint64_t data_raw_used;                           /* of which file contents */
	uint64_t index_blobs, index_stored;                /* everything indexed */
	uint64_t packs, pack_bytes;                        /* files under data/ */
} stats_result;

int stats_run(repo *r, stats_result *res);

#endif
