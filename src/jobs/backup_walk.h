/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * backup_walk: the directory walk of a backup, from the snapshot's root
 * "/" down to and through the backed-up paths, into tree blobs.
 *
 * One thread (the caller) walks: it lists each directory, stats its
 * entries, reads xattrs and symlinks, compares every file with the parent
 * snapshot (archive/change.h), gives the later names of a hard-linked
 * inode the contents of its first (archive/hardlinks.h), and hands the
 * files it must read to file jobs (backup_file.h).  A directory's tree is
 * written once its file jobs are done, so trees, and thus snapshots, do
 * not depend on the number of threads.
 *
 * The walk is iterative (an explicit stack of directories) and stops at
 * TREE_MAX_DEPTH: a directory at that depth is stored without its
 * entries, with one warning naming it.  It keeps at most about a hundred
 * directory descriptors open whatever the depth (fewer under a low
 * RLIMIT_NOFILE): an ancestor's is closed when the stack grows past it and
 * reopened when the walk comes back up, through ".." or by names from an
 * open ancestor, checked against the device and inode it had.
 *
 * With aliases (a file system snapshot), the directories on the way to a
 * path are opened at their place in the snapshot, and a path that is an
 * alias itself is read from the snapshot's root; names and the tree stay
 * those of the live paths, so restores and the parent snapshot's change
 * detection work as for a backup of the live file system (snapshots keep
 * inode numbers and times).
 */
#ifndef DV_JOBS_BACKUP_WALK_H
#define DV_JOBS_BACKUP_WALK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../archive/tree.h"
#include "../repo/repo.h"
#include "../repo/snapshot.h"
#include "backup_file.h"
#include "backup_filter.h"
#include "journal.h"
#include "progress.h"

/*
 * Where a backed-up path is read from when that is not the path itself:
 * a file system snapshot (jobs/fssnap.h).  Everything at or below live
 * is read at the same place below read and recorded under live.
 */
typedef struct {
	const char *live; /* absolute, normalized */
	const char *read;
} backup_walk_alias;

typedef struct {
	repo *r;
	backup_file_pool *files;
	job_progress *prog;
	atomic_uint_fast64_t *errors; /* per-entry warnings (also in prog->errors) */
	char **paths;                 /* absolute, sorted, none inside another */
	size_t npaths;
	const tree *parent;           /* the parent snapshot's root tree, or NULL */
	const backup_filter_params *filter; /* what is left out */
	int one_file_system;          /* do not descend into other devices than paths[0]'s */
	int force;                    /* ignore the parent: read every file */
	int threads;                  /* of the file pool (sizes the descriptor use) */
	int read_devices;             /* block devices by content (paths: also through symlinks) */
	const backup_walk_alias *aliases; /* none inside another */
	size_t naliases;
	/*
	 * A change journal's answer (journal.h), or NULL: a directory not in
	 * it that was one in the parent gets the parent's tree unopened, and
	 * the counts of those come from parent_stats (the parent snapshot's).
	 */
	const journal_set *dirty;
	const snapshot_stats *parent_stats;
} backup_walk_params;

/*
 * Walks p->paths into the root tree, whose id goes to out_root; adds the
 * counts of files and directories to *st.  Per-entry problems are
 * warnings (counted in *p->errors); returns 0 or a negative code of a
 * fatal failure.  Every file job has ended on return, either way.
 */
int backup_walk(const backup_walk_params *p, uint8_t out_root[32], snapshot_stats *st);

#endif
