/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * restore: writes a snapshot's files under a target directory.
 *
 * Safety: every file system call is relative to a directory descriptor
 * opened with O_NOFOLLOW, and every name is checked (no "", ".", "..",
 * '/', NUL) before use, so nothing is ever written outside the target,
 * whatever the tree says and whatever symlinks exist in the target.
 * Metadata of a directory is applied after its children.  Holes of
 * sparse files are left unwritten.  Hard links are restored as links.
 *
 * Expansion: before anything of a subtree is written, what it expands to
 * (jobs/expand.h: entries, bytes, disk use) is checked against the entry
 * limit and the target's free space and inodes (statvfs), so a snapshot
 * that would fill the disk fails with an error first; the totals are the
 * progress estimate.
 */
#ifndef DV_JOBS_RESTORE_H
#define DV_JOBS_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "../repo/repo.h"
#include "../repo/snapshot.h"
#include "progress.h"

typedef struct {
	const char *target;
	char **includes;
	size_t nincludes;
	int verify;  /* re-hash every blob read */
	int threads; /* file writers; <= 1: all in the calling thread */
	/*
	 * Entries the restore may create or examine (0: no limit): a forged
	 * snapshot whose trees share subtrees can describe 2^40 files from a
	 * few blobs.  No file system holds RESTORE_MAX_ENTRIES files.
	 */
	uint64_t max_entries;
	int no_space_check; /* write even when the target seems too small */
	/*
	 * A selection besides the includes, for a caller that picks entries
	 * itself (drill): select(ud, path) is 1 when the entry at path (its
	 * absolute path in the snapshot) is restored, with everything below
	 * it; may_contain(ud, dir) is 0 when nothing below the directory dir
	 * is selected, so the walk does not read it (NULL: every directory is
	 * read).  select NULL: the includes alone decide (none: everything).
	 */
	int (*select)(void *ud, const buf *path);
	int (*may_contain)(void *ud, const buf *dir);
	void *select_ud;
} restore_opts;

#define RESTORE_MAX_ENTRIES 1000000000ULL

typedef struct {
	uint64_t files, dirs, others, bytes;
	uint64_t errors;        /* entries not restored or restored wrongly */
	uint64_t not_permitted; /* metadata a non-root user may not set */
	int as_root;
} restore_stats;

int restore_run(repo *r, const snapshot *s, const restore_opts *o, job_progress *prog,
		restore_stats *out);

#endif
