/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sync: copies snapshots from one repository to a replica of it (same id,
 * same keys: repo_create_replica), without the key.
 *
 * The source and the destination are open repositories (any backend, so
 * any URL); the caller opens the source with a read lease and the
 * destination with a backup lease (docs/concurrency.md, "Sync").  A run:
 *
 * 1. selects the source snapshots (filters below) that the destination
 *    does not have;
 * 2. marks what the destination's snapshots reach: a tree reached there
 *    is complete (every blob below it is stored), so the walk skips it;
 * 3. walks each selected snapshot's trees through their plaintext child
 *    lists, as prune's marking does: a tree the destination lacks is
 *    checked against its pack table and copied as the walk reads it (so
 *    it crosses the wire once), a data blob it lacks is noted;
 * 4. copies the noted data blobs pack by pack on a few threads: a pack
 *    all of whose blobs are needed is copied whole, under the same name;
 *    from any other pack the needed blobs are read (adjacent ones in one
 *    read) and repacked as stored bytes.  Every blob is checked against
 *    the checksum in its source pack's table, and a whole pack against
 *    its name, before it is written;
 * 5. stores the open packs (on local storage the packs are flushed a
 *    batch at a time, repo_batch_packs) and the index, then the snapshot files, each
 *    with the commit check, then the protection marks (pack, index,
 *    snapshot: a run killed anywhere leaves only unreferenced packs,
 *    which the next run adopts instead of copying them again).
 *
 * A blob that is damaged or missing in the source is never copied; the
 * snapshots that reach one are skipped and named (state SYNC_SKIPPED) and
 * sync_run() still copies the others, then returns -DV_ECORRUPT.
 *
 * Memory: one bit per source blob (twice), one per destination blob, the
 * walk's stack, a few pack tables, and per copy thread one pack (16 MiB,
 * a file mapping on a local source) or one read run (8 MiB); nothing per
 * blob copied.  Threads: sync_run() runs in one thread and uses
 * o->threads more for step 4.
 */
#ifndef DV_JOBS_SYNC_H
#define DV_JOBS_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "check.h"
#include "progress.h"
#include "snapsel.h"
#include "../base/idmap.h"
#include "../repo/repo.h"

typedef struct {
	/*
	 * Which snapshots: all, or those matching every filter given.  The
	 * host, path and tag filter (jobs/snapsel.h, restic's rules: --tag
	 * a,b --tag c is (a and b) or c) needs the source opened with the
	 * key; ids (unique prefixes) and latest (the N newest of each host
	 * and set of paths) work without it on snapshots that carry a
	 * plaintext time and group (format version 2).
	 */
	const snapsel_filter *filter; /* NULL: all; its ids are not used (ids below) */
	char *const *ids;
	size_t nids;
	int latest;          /* 0: no limit */
	/*
	 * Remove from the destination the snapshots the source no longer has
	 * (those matching host/path/tag when given; protected ones are kept
	 * and reported).  Not with ids or latest.
	 */
	int remove_vanished;
	int dry_run;         /* decide and count; write nothing */
	uint64_t limit_rate; /* bytes per second read from the source; 0: none */
	int threads;         /* copy threads; 0: one per core */
	job_progress *progress; /* may be NULL */
} sync_opts;

enum sync_state {
	SYNC_COPIED = 1,     /* copied by this run (or would be, in a dry run) */
	SYNC_PRESENT,        /* the destination had it already */
	SYNC_SKIPPED,        /* not copied: it needs a blob damaged or missing in the source */
	SYNC_REMOVED,        /* removed from the destination (remove_vanished) */
	SYNC_KEPT_PROTECTED, /* vanished at the source, but protected on the destination */
};

typedef struct {
	uint8_t id[32];
	uint8_t tree[32];    /* its root tree */
	int has_time;        /* the time is known (plaintext header, or the key) */
	int64_t time;
	uint32_t time_nsec;
	int32_t tz_offset;
	int state;           /* enum sync_state */
	char reason[200];    /* SYNC_SKIPPED: which blob, why */
} sync_snapshot;

typedef struct {
	sync_snapshot *v;    /* selected snapshots, oldest first, then removals */
	size_t n, cap;
	uint64_t selected, copied, present, skipped, removed, kept_protected;
	uint64_t at_destination;     /* snapshots the destination holds afterwards */
	uint64_t trees_walked, trees_copied, blobs_copied, blobs_present;
	uint64_t blobs_damaged, blobs_missing;
	uint64_t packs_reused;       /* source packs copied whole */
	uint64_t packs_repacked;     /* source packs some of whose blobs were copied */
	uint64_t packs_adopted;      /* unindexed destination packs indexed and reused */
	uint64_t packs_written;      /* destination packs this run stored (or adopted) */
	uint64_t bytes_read;         /* pack bytes read from the source (tables included) */
	uint64_t bytes_written;      /* stored bytes added to the destination */
	uint64_t bytes_needed;       /* stored bytes of the blobs to copy (a dry run's estimate) */
	uint64_t protected_marks;    /* protection marks set on the destination */
	double seconds;
	idmap packs;                 /* the destination packs of packs_written, for sync_verify */
} sync_result;

/*
 * Runs a sync.  0, or a negative code with a message: -DV_ECORRUPT when
 * snapshots were skipped for damage (the rest was copied; res says which),
 * -EXDEV when the repositories are not replicas of each other, -DV_EUSAGE
 * for filters that cannot be applied (no key, a version 1 snapshot and
 * latest), another code when a repository could not be read or written.
 * res must be released in every case.
 */
int sync_run(repo *src, repo *dst, const sync_opts *o, sync_result *res);
void sync_result_release(sync_result *res);

/*
 * Reads back the packs a sync wrote (res->packs) from the destination's
 * storage, past any cache (backend_evict), and checks them: check
 * --read-data of the new packs, with the structure check of the whole
 * repository.  dst must be a fresh handle (opened after the sync, so its
 * index names the new packs).
 */
int sync_verify(repo *dst, const sync_result *res, check_opts *o, check_result *out);

#endif
