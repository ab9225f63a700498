/* SPDX-License-Identifier: BSD-2-Clause */
#include "snapwalk.h"
#include "treeio.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/interrupt.h"

#include <errno.h>
#include <stdlib.h>

/* One directory being walked, and the node naming it in its parent. */
typedef struct {
	const snapfs_tree *t; /* held, but for frame 0 (the caller's) */
	size_t next, path_len;
	const snapfs_tree *ptree;
	const tree_node *pnode;
} frame;

/* The depth rule of every walk (treeio.h): t lists the directory at depth. */
static int check_depth(const snapfs_tree *t, size_t depth, const buf *path)
{
	return treeio_check_depth(&t->t, depth, path->data, path->len);
}

/* The listing of directory n (at path, depth), or 0 and *out NULL to skip it. */
static int enter(snapfs_session *s, const snapwalk_ops *ops, const buf *path, const frame *cur,
		 const tree_node *n, size_t depth, const snapfs_tree **out)
{
	*out = NULL;
	const snapfs_tree *sub;
	int rc = snapfs_subtree_get(s, cur->t, n, &sub);
	if (rc == 0 && (rc = check_depth(sub, depth, path)) < 0)
		snapfs_tree_put(snapfs_session_fs(s), sub);
	if (rc == 0)
		*out = sub;
	else if (rc != -ENOMEM && ops->error)
		rc = ops->error(ops->ud, path, rc);
	return rc;
}

int snapwalk_run(snapfs_session *s, const snapfs_tree *dir, const void *path, size_t path_len,
		 size_t depth, const snapwalk_ops *ops)
{
	snapfs *fs = snapfs_session_fs(s);
	buf _cleanup_(buf_releasep) p = BUF_INIT;
	int rc = buf_append(&p, path, path_len);
	rc = rc ?: check_depth(dir, depth, &p);
	if (rc < 0)
		return rc;
	frame *f = calloc(TREE_MAX_DEPTH + 2, sizeof(*f));
	if (!f)
		return -ENOMEM;
	size_t top = 0;
	f[0] = (frame){ dir, 0, p.len, NULL, NULL };
	for (;;) {
		frame *cur = &f[top];
		if (cur->next == cur->t->t.n) {
			if (top == 0)
				break;
			p.len = cur->path_len;
			if (ops->post)
				rc = ops->post(ops->ud, &p, cur->ptree, cur->pnode, depth + top);
			snapfs_tree_put(fs, cur->t);
			top--;
			if (rc < 0)
				break;
			continue;
		}
		const tree_node *n = &cur->t->t.nodes[cur->next++];
		if ((rc = interrupt_check()) < 0)
			break;
		p.len = cur->path_len;
		if (!(p.len == 1 && p.data[0] == '/'))
			rc = buf_put_u8(&p, '/');
		rc = rc ?: buf_append(&p, n->name, n->name_len);
		rc = rc ?: ops->pre(ops->ud, &p, cur->t, n, depth + top + 1);
		if (rc < 0)
			break;
		if (rc == SNAPWALK_SKIP || n->type != NODE_DIR) {
			rc = 0;
			continue;
		}
		const snapfs_tree *sub;
		if ((rc = enter(s, ops, &p, cur, n, depth + top + 1, &sub)) < 0)
			break;
		if (sub)
			f[++top] = (frame){ sub, 0, p.len, cur->t, n };
	}
	for (; top > 0; top--)
		snapfs_tree_put(fs, f[top].t);
	free(f);
	return rc;
}
