/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * gc: prune, the garbage collection of a repository, without the key and
 * without stopping backups (docs/concurrency.md has the argument).
 *
 * 1. condemn: mark from every snapshot; packs that hold nothing marked
 *    are condemned; packs whose unused share exceeds max_unused have
 *    their used blobs copied to new packs and are condemned.  A new index
 *    without the condemned packs replaces the index files read, and a
 *    record (gc/) remembers the packs and when the old index went away.
 * 2. finish: a record whose time precedes the start of every live lease
 *    is ripe; marking again from the snapshots that exist now, a ripe
 *    pack that holds a marked blob goes back into the index, the others
 *    are deleted.
 * Packs possibly written by a running process (younger than the oldest
 * live lease, less the clock skew) are never condemned.
 */
#ifndef DV_JOBS_GC_H
#define DV_JOBS_GC_H

#include <stdint.h>

#include "../repo/repo.h"

typedef struct {
	double max_unused; /* fraction of a pack, 0..1 */
	int dry_run;
	int threads; /* packs repacked at once (0: one per processor) */
} gc_opts;

typedef struct {
	uint64_t snapshots, trees, blobs_used;
	uint64_t packs, bytes, bytes_used;
	uint64_t packs_young, packs_orphan;
	uint64_t packs_condemned, bytes_condemned;  /* this run, wholly unused */
	uint64_t packs_repacked, bytes_repacked_freed, bytes_copied;
	uint64_t index_files_replaced, stale_leases;
	uint64_t packs_deleted, bytes_deleted;      /* ripe records finished */
	uint64_t packs_returned, records_waiting;
	uint64_t index_files_mended;                /* rewritten without deleted packs */
	int64_t waiting_since_ns;                   /* oldest waiting record */
	uint64_t temporaries, bytes_temporaries;    /* left by killed writers, removed */
} gc_result;

int gc_prune(repo *r, const gc_opts *o, gc_result *res);

#endif
