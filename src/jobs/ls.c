/* SPDX-License-Identifier: BSD-2-Clause */
#include "ls.h"
#include "treeio.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/interrupt.h"
#include "../core/blob.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One directory being listed: its tree, the next node, its path's length. */
typedef struct {
	tree t;
	size_t next, path_len;
} ls_frame;

/*
 * Iterative, so the stack does not grow with the depth (a walk may run on
 * a thread with a small stack); the frames are on the heap, at most
 * TREE_MAX_DEPTH + 1 of them (treeio_check_depth).  Memory is the trees on
 * the current path, whatever the snapshot expands to: trees that share
 * subtrees are read again, never collected.  t is taken over; depth: of
 * the directory whose tree t is ("/" is 0); max_levels: how many levels
 * of t's entries to list (0: all; 1: only t's own).
 */
static int walk(repo *r, tree *t, buf *path, ls_fn fn, void *ud, size_t depth, int max_levels)
{
	ls_frame *f = calloc(TREE_MAX_DEPTH + 2, sizeof(*f));
	size_t top = 0;
	if (!f) {
		tree_release(t);
		return -ENOMEM;
	}
	f[0] = (ls_frame){ *t, 0, path->len };
	*t = (tree)TREE_INIT;
	int rc = treeio_check_depth(&f[0].t, depth, path->data, path->len);
	while (rc == 0) {
		ls_frame *cur = &f[top];
		if (cur->next == cur->t.n) {
			tree_release(&cur->t);
			if (top-- == 0)
				break;
			continue;
		}
		const tree_node *n = &cur->t.nodes[cur->next++];
		if ((rc = interrupt_check()) < 0)
			break;
		path->len = cur->path_len;
		if (!(path->len == 1 && path->data[0] == '/'))
			rc = buf_put_u8(path, '/');
		rc = rc ?: buf_append(path, n->name, n->name_len);
		rc = rc ?: fn(ud, path, &cur->t, n);
		if (rc != 0 || n->type != NODE_DIR || (max_levels > 0 && top + 1 >= (size_t)max_levels))
			continue;
		tree sub = TREE_INIT;
		rc = treeio_load(r, tree_child(&cur->t, n->subtree), &sub);
		rc = rc ?: treeio_check_depth(&sub, depth + top + 1, path->data, path->len);
		if (rc < 0) {
			tree_release(&sub);
			break;
		}
		f[++top] = (ls_frame){ sub, 0, path->len };
	}
	for (size_t i = 0; i < TREE_MAX_DEPTH + 2; i++)
		tree_release(&f[i].t); /* frames left on an error; released ones are empty */
	free(f);
	return rc;
}

int ls_run(repo *r, const snapshot *s, const char *subpath, ls_fn fn, void *ud)
{
	return ls_run_depth(r, s, subpath, 0, fn, ud);
}

int ls_run_depth(repo *r, const snapshot *s, const char *subpath, int max_depth, ls_fn fn, void *ud)
{
	buf _cleanup_(buf_releasep) path = BUF_INIT;
	tree t = TREE_INIT;
	size_t depth = 0; /* of the directory whose tree t is */
	int rc = buf_put_u8(&path, '/');
	rc = rc ?: treeio_load(r, s->tree, &t);
	/* descend to subpath, component by component */
	const char *p = subpath ? subpath : "/";
	while (rc == 0 && *p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t l = strcspn(p, "/");
		long i = tree_find(&t, p, l);
		if (i < 0) {
			rc = err_set(-DV_ENOTFOUND, "path '%s' is not in the snapshot", subpath);
			break;
		}
		tree_node *n = &t.nodes[i];
		if (path.len > 1)
			rc = buf_put_u8(&path, '/');
		rc = rc ?: buf_append(&path, p, l);
		p += l;
		while (*p == '/')
			p++;
		if (!*p || n->type != NODE_DIR) {
			if (*p)
				rc = err_set(-DV_ENOTFOUND, "path '%s' is not in the snapshot", subpath);
			rc = rc ?: fn(ud, &path, &t, n);
			if (rc == 0 && n->type == NODE_DIR) {
				tree sub = TREE_INIT;
				rc = treeio_load(r, tree_child(&t, n->subtree), &sub);
				rc = rc ?: walk(r, &sub, &path, fn, ud, depth + 1, max_depth);
				tree_release(&sub);
			}
			tree_release(&t);
			return rc;
		}
		tree sub = TREE_INIT;
		rc = treeio_load(r, tree_child(&t, n->subtree), &sub);
		tree_release(&t);
		t = sub;
		depth++;
		rc = rc ?: treeio_check_depth(&t, depth, path.data, path.len);
	}
	rc = rc ?: walk(r, &t, &path, fn, ud, depth, max_depth);
	tree_release(&t);
	return rc;
}
