/* SPDX-License-Identifier: BSD-2-Clause */
#include "ls.h"
#include "treeio.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../core/blob.h"

#include <errno.h>
#include <string.h>

static int walk(repo *r, const tree *t, buf *path, ls_fn fn, void *ud, int depth)
{
	if (depth > 4096)
		return err_set(-DV_ECORRUPT, "trees nest too deeply (a cycle?)");
	for (size_t i = 0; i < t->n; i++) {
		const tree_node *n = &t->nodes[i];
		size_t old = path->len;
		int rc = 0;
		if (!(path->len == 1 && path->data[0] == '/'))
			rc = buf_put_u8(path, '/');
		rc = rc ?: buf_append(path, n->name, n->name_len);
		rc = rc ?: fn(ud, path, t, n);
		if (rc == 0 && n->type == NODE_DIR) {
			tree sub = TREE_INIT;
			rc = treeio_load(r, tree_child(t, n->subtree), &sub);
			rc = rc ?: walk(r, &sub, path, fn, ud, depth + 1);
			tree_release(&sub);
		}
		path->len = old;
		if (rc)
			return rc;
	}
	return 0;
}

int ls_run(repo *r, const snapshot *s, const char *subpath, ls_fn fn, void *ud)
{
	buf _cleanup_(buf_releasep) path = BUF_INIT;
	tree t = TREE_INIT;
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
				rc = rc ?: walk(r, &sub, &path, fn, ud, 1);
				tree_release(&sub);
			}
			tree_release(&t);
			return rc;
		}
		tree sub = TREE_INIT;
		rc = treeio_load(r, tree_child(&t, n->subtree), &sub);
		tree_release(&t);
		t = sub;
	}
	rc = rc ?: walk(r, &t, &path, fn, ud, 0);
	tree_release(&t);
	return rc;
}
