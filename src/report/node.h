/* SPDX-License-Identifier: BSD-2-Clause */
/* report/node: the JSON of a tree node (docs/json.md, "Node"). */
#ifndef DV_REPORT_NODE_H
#define DV_REPORT_NODE_H

#include <stddef.h>

#include "../archive/tree.h"
#include "../base/json.h"

enum {
	/* add "subtree" (directories), "content" (files) and "xattrs": what
	 * `cat tree` shows of the storage, beside the metadata `ls` shows */
	REPORT_NODE_STORAGE = 1,
};

/*
 * The node object.  path (its absolute path in the snapshot, path_len
 * bytes) is written first when not NULL; t is the tree holding n (for
 * the child ids of REPORT_NODE_STORAGE).
 */
void report_node(json *j, const tree *t, const tree_node *n, const void *path, size_t path_len,
		 int flags);
/* "file", "dir", "symlink", "fifo", "chardev", "blockdev", "socket" or "unknown". */
const char *report_node_type(int type);

#endif
