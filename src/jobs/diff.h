/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * diff: what changed between two snapshots (or one directory of each).
 *
 * The two trees are walked side by side, merged by name; a subtree whose
 * tree id is the same on both sides is identical all the way down and is
 * never read, so a diff of two large snapshots with a few changes reads
 * only the trees on the paths to them.  Below an added or removed
 * directory every entry is reported too.
 *
 * A file's contents changed when its size or its list of segments
 * (lengths and chunk ids) differ: equal contents chunk the same way, so
 * this needs no data read.  A symlink's target and a device's number are
 * its contents.  With metadata, mode, owner, mtime and xattrs are compared
 * as well (ctime, inode and device numbers change without the file
 * changing and are left out).
 */
#ifndef DV_JOBS_DIFF_H
#define DV_JOBS_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "../base/buf.h"
#include "snapfs.h"

enum {
	DIFF_ADDED = 1,
	DIFF_REMOVED,
	DIFF_MODIFIED, /* contents (and perhaps metadata) */
	DIFF_TYPE,     /* the same name is another type of entry */
	DIFF_METADATA, /* metadata only (with metadata set) */
};

/* What differs, for DIFF_MODIFIED and DIFF_METADATA. */
enum {
	DIFF_F_CONTENT = 1,
	DIFF_F_MODE = 2,
	DIFF_F_OWNER = 4,
	DIFF_F_MTIME = 8,
	DIFF_F_XATTRS = 16,
};

typedef struct {
	int change;      /* DIFF_* */
	unsigned fields; /* DIFF_F_* */
	const buf *path; /* absolute path in the snapshots */
	const tree *ta;  /* the tree holding a, or NULL */
	const tree_node *a; /* the entry in the first snapshot (NULL when added) */
	const tree *tb;
	const tree_node *b; /* in the second (NULL when removed) */
} diff_change;

/* Called for each change, in path order; non-zero stops the diff with that code. */
typedef int (*diff_fn)(void *ud, const diff_change *c);

typedef struct {
	int metadata; /* report metadata changes too */
	diff_fn fn;
	void *ud;
} diff_opts;

typedef struct {
	uint64_t added, removed, modified, type, metadata;
	uint64_t subtrees_skipped; /* identical subtrees not read */
} diff_stats;

/*
 * Compares what a and b name (snapfs_lookup of one path in either
 * snapshot; a NULL side is absent, so everything in the other is added
 * or removed).  Paths are reported from the root, as the lookup found
 * them.
 */
int diff_run(snapfs_session *s, const snapfs_path *a, const snapfs_path *b, const diff_opts *o,
	     diff_stats *out);
/* "added", "removed", "modified", "type", "metadata". */
const char *diff_change_name(int change);

#endif
