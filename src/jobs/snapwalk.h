/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * snapwalk: a depth-first walk, in name order, over a directory of a
 * snapshot and everything below it, through snapfs (so its trees come
 * from the shared cache).  What find, dump, diff (below added and
 * removed directories) and drill walk with.
 *
 * Iterative: one frame per level on the heap, at most TREE_MAX_DEPTH + 1,
 * so the stack does not grow with the depth; a directory nested deeper
 * than TREE_MAX_DEPTH (only a forged snapshot has one) is an error naming
 * its path (treeio_check_depth).  Memory is the trees on the current path
 * (held), whatever the snapshot expands to.  A walk stops with -EINTR
 * when interrupt_pending() (base/interrupt.h).
 */
#ifndef DV_JOBS_SNAPWALK_H
#define DV_JOBS_SNAPWALK_H

#include <stddef.h>

#include "../base/buf.h"
#include "snapfs.h"

/* A pre callback's answer: do not descend into this directory. */
#define SNAPWALK_SKIP 1

typedef struct {
	/*
	 * Each entry, before what is below it: path is its absolute path in
	 * the snapshot, t the listing holding n, depth its depth ("/a" is 1).
	 * 0 goes on (into a directory too), SNAPWALK_SKIP does not descend
	 * into n, < 0 stops the walk with that code.
	 */
	int (*pre)(void *ud, const buf *path, const snapfs_tree *t, const tree_node *n, size_t depth);
	/* Each directory after everything below it (NULL: none); < 0 stops. */
	int (*post)(void *ud, const buf *path, const snapfs_tree *t, const tree_node *n, size_t depth);
	/*
	 * A directory whose listing cannot be read (damaged, missing, too
	 * deep), with the code and its message set; 0 skips it and goes on,
	 * < 0 stops.  NULL: every such error stops the walk.
	 */
	int (*error)(void *ud, const buf *path, int code);
	void *ud;
} snapwalk_ops;

/*
 * Walks everything below the directory whose listing is dir (held by the
 * caller), at path (path_len bytes, "/" for the root) and depth.
 */
int snapwalk_run(snapfs_session *s, const snapfs_tree *dir, const void *path, size_t path_len,
		 size_t depth, const snapwalk_ops *ops);

#endif
