/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * expand: what a tree expands to when restored, without restoring it.
 *
 * Trees that share subtrees are legitimate (identical directories dedup
 * to one tree) but a forged snapshot can make 41 trees describe 2^40
 * files.  The totals of a tree are the same wherever it appears, so they
 * are computed once per distinct tree id (memoized) and added up with
 * saturating arithmetic: the cost is the number of distinct trees, not the
 * size of the expansion.  A subtree cut off by the depth rule makes the
 * totals depend on the depth; such totals are memoized per (id, depth)
 * under a key the forger cannot choose, so the work stays bounded by
 * distinct trees times TREE_MAX_DEPTH.  Unreadable trees count as empty
 * (the restore reports them).
 *
 * Disk use is estimated the way a file system spends it: data segments
 * (holes are not written) rounded up to the block size, a block per
 * directory and per long symlink, and a file with n hard links counts 1/n
 * per name, so a hard-link farm is counted once.
 */
#ifndef DV_JOBS_EXPAND_H
#define DV_JOBS_EXPAND_H

#include <stddef.h>
#include <stdint.h>

#include "../archive/tree.h"
#include "../base/idmap.h"
#include "../repo/repo.h"

typedef struct {
	uint64_t entries; /* names: files, directories, everything */
	uint64_t files;   /* regular files */
	uint64_t bytes;   /* their logical size (holes included) */
	uint64_t data;    /* the part that is not holes: what is written */
	uint64_t alloc;   /* bytes the restore takes on disk (estimate) */
	uint64_t inodes;  /* inodes it takes, in 1/65536 (a name of an n-link file: 1/n) */
	int truncated;    /* part was cut off by the depth rule */
} expand_totals;

typedef struct {
	repo *r;
	uint64_t block;     /* file system block size */
	idmap exact, deep;  /* tree id (or hash of id and depth) -> index in v */
	expand_totals *v;
	size_t n, cap;
	uint64_t trees_read;
} expander;

int expander_init(expander *x, repo *r, uint64_t block);
void expander_release(expander *x);
/* Adds b to a, saturating. */
void expand_add(expand_totals *a, const expand_totals *b);
/*
 * What node n of tree t expands to: itself, and for a directory at depth
 * (of n, "/a" is 1) everything below it.
 */
int expand_node(expander *x, const tree *t, const tree_node *n, size_t depth, expand_totals *out);
/* What everything in the tree id of the directory at depth expands to. */
int expand_tree(expander *x, const uint8_t id[32], size_t depth, expand_totals *out);

#endif
