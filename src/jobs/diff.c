/* SPDX-License-Identifier: BSD-2-Clause */
#include "diff.h"
#include "snapwalk.h"
#include "treeio.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/interrupt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *diff_change_name(int change)
{
	switch (change) {
	case DIFF_ADDED: return "added";
	case DIFF_REMOVED: return "removed";
	case DIFF_MODIFIED: return "modified";
	case DIFF_TYPE: return "type";
	case DIFF_METADATA: return "metadata";
	default: return "unknown";
	}
}

typedef struct {
	snapfs_session *s;
	const diff_opts *o;
	diff_stats *st;
} dctx;

static int emit(dctx *c, int change, unsigned fields, const buf *path, const tree *ta,
		const tree_node *a, const tree *tb, const tree_node *b)
{
	uint64_t *count = change == DIFF_ADDED ? &c->st->added : change == DIFF_REMOVED ? &c->st->removed :
			  change == DIFF_MODIFIED ? &c->st->modified : change == DIFF_TYPE ? &c->st->type :
			  &c->st->metadata;
	(*count)++;
	diff_change d = { change, fields, path, ta, a, tb, b };
	return c->o->fn(c->o->ud, &d);
}

static int same_segments(const tree *ta, const tree_node *a, const tree *tb, const tree_node *b)
{
	if (a->size != b->size || a->nsegs != b->nsegs)
		return 0;
	for (size_t i = 0; i < a->nsegs; i++) {
		const tree_seg *x = &a->segs[i], *y = &b->segs[i];
		if (x->len != y->len || !x->ref != !y->ref)
			return 0;
		if (x->ref && memcmp(tree_child(ta, x->ref), tree_child(tb, y->ref), 32) != 0)
			return 0;
	}
	return 1;
}

/* What differs between two entries of one type. */
static unsigned compare(const dctx *c, const tree *ta, const tree_node *a, const tree *tb,
			const tree_node *b)
{
	unsigned f = 0;
	switch (a->type) {
	case NODE_FILE:
		if (!same_segments(ta, a, tb, b))
			f |= DIFF_F_CONTENT;
		break;
	case NODE_SYMLINK:
		if (a->target_len != b->target_len || memcmp(a->target, b->target, a->target_len) != 0)
			f |= DIFF_F_CONTENT;
		break;
	case NODE_CHR:
	case NODE_BLK:
		if (a->rdev != b->rdev)
			f |= DIFF_F_CONTENT;
		break;
	}
	if (!c->o->metadata)
		return f;
	if (a->mode != b->mode)
		f |= DIFF_F_MODE;
	if (a->uid != b->uid || a->gid != b->gid)
		f |= DIFF_F_OWNER;
	if (a->mtime != b->mtime || a->mtime_ns != b->mtime_ns)
		f |= DIFF_F_MTIME;
	if (a->xattrs_len != b->xattrs_len || (a->xattrs_len && memcmp(a->xattrs, b->xattrs, a->xattrs_len)))
		f |= DIFF_F_XATTRS;
	return f;
}

/* An entry added (side b) or removed (side a), and everything below it. */
typedef struct {
	dctx *c;
	int change;
} whole_ctx;

static int whole_pre(void *ud, const buf *path, const snapfs_tree *t, const tree_node *n,
		     size_t depth)
{
	(void)depth;
	whole_ctx *w = ud;
	int added = w->change == DIFF_ADDED;
	return emit(w->c, w->change, 0, path, added ? NULL : &t->t, added ? NULL : n,
		    added ? &t->t : NULL, added ? n : NULL);
}

/* Everything below the directory n of t (at path, depth) as change. */
static int below(dctx *c, int change, const buf *path, const snapfs_tree *t, const tree_node *n,
		 size_t depth)
{
	const snapfs_tree *sub;
	int rc = snapfs_subtree_get(c->s, t, n, &sub);
	if (rc < 0)
		return rc;
	whole_ctx w = { c, change };
	snapwalk_ops ops = { whole_pre, NULL, NULL, &w };
	rc = snapwalk_run(c->s, sub, path->data, path->len, depth, &ops);
	snapfs_tree_put(snapfs_session_fs(c->s), sub);
	return rc;
}

static int whole(dctx *c, int change, const buf *path, const snapfs_tree *t, const tree_node *n,
		 size_t depth)
{
	int added = change == DIFF_ADDED;
	int rc = emit(c, change, 0, path, added ? NULL : &t->t, added ? NULL : n,
		      added ? &t->t : NULL, added ? n : NULL);
	if (rc == 0 && n->type == NODE_DIR)
		rc = below(c, change, path, t, n, depth);
	return rc;
}

/* Two entries of one name (both present). 1 and *sa, *sb set to descend into both. */
static int pair(dctx *c, const buf *path, const snapfs_tree *ta, const tree_node *a,
		const snapfs_tree *tb, const tree_node *b, size_t depth, const snapfs_tree **sa,
		const snapfs_tree **sb)
{
	int rc;
	*sa = *sb = NULL;
	if (a->type != b->type) {
		rc = emit(c, DIFF_TYPE, 0, path, &ta->t, a, &tb->t, b);
		if (rc == 0 && a->type == NODE_DIR)
			rc = below(c, DIFF_REMOVED, path, ta, a, depth);
		if (rc == 0 && b->type == NODE_DIR)
			rc = below(c, DIFF_ADDED, path, tb, b, depth);
		return rc;
	}
	unsigned f = compare(c, &ta->t, a, &tb->t, b);
	if (f)
		rc = emit(c, f & DIFF_F_CONTENT ? DIFF_MODIFIED : DIFF_METADATA, f, path, &ta->t, a,
			  &tb->t, b);
	else
		rc = 0;
	if (rc < 0 || a->type != NODE_DIR)
		return rc;
	const uint8_t *ida = tree_child(&ta->t, a->subtree), *idb = tree_child(&tb->t, b->subtree);
	if (ida && idb && memcmp(ida, idb, 32) == 0) {
		c->st->subtrees_skipped++; /* identical all the way down: not read */
		return 0;
	}
	rc = snapfs_subtree_get(c->s, ta, a, sa);
	if (rc == 0 && (rc = snapfs_subtree_get(c->s, tb, b, sb)) < 0) {
		snapfs_tree_put(snapfs_session_fs(c->s), *sa);
		*sa = NULL;
	}
	return rc < 0 ? rc : 1;
}

/* Two directories being compared. */
typedef struct {
	const snapfs_tree *a, *b;
	size_t ia, ib, path_len;
} dframe;

/* Compares the listings a and b of the directory at path and depth (held by the caller). */
static int walk(dctx *c, const snapfs_tree *a, const snapfs_tree *b, buf *path, size_t depth)
{
	snapfs *fs = snapfs_session_fs(c->s);
	if (memcmp(a->entry.id, b->entry.id, 32) == 0) {
		c->st->subtrees_skipped++;
		return 0;
	}
	dframe *f = calloc(TREE_MAX_DEPTH + 2, sizeof(*f));
	if (!f)
		return -ENOMEM;
	size_t top = 0;
	f[0] = (dframe){ a, b, 0, 0, path->len };
	int rc = treeio_check_depth(&a->t, depth, path->data, path->len);
	rc = rc ?: treeio_check_depth(&b->t, depth, path->data, path->len);
	while (rc == 0) {
		dframe *cur = &f[top];
		const tree_node *na = cur->ia < cur->a->t.n ? &cur->a->t.nodes[cur->ia] : NULL;
		const tree_node *nb = cur->ib < cur->b->t.n ? &cur->b->t.nodes[cur->ib] : NULL;
		if (!na && !nb) {
			if (top == 0)
				break;
			snapfs_tree_put(fs, cur->a);
			snapfs_tree_put(fs, cur->b);
			top--;
			continue;
		}
		if ((rc = interrupt_check()) < 0)
			break;
		int cmp = na && nb ? tree_name_cmp(na->name, na->name_len, nb->name, nb->name_len)
				   : na ? -1 : 1;
		const tree_node *n = cmp <= 0 ? na : nb;
		path->len = cur->path_len;
		if (!(path->len == 1 && path->data[0] == '/'))
			rc = buf_put_u8(path, '/');
		if ((rc = rc ?: buf_append(path, n->name, n->name_len)) < 0)
			break;
		size_t d = depth + top + 1; /* of the entry */
		if (cmp < 0) {
			cur->ia++;
			rc = whole(c, DIFF_REMOVED, path, cur->a, na, d);
			continue;
		}
		if (cmp > 0) {
			cur->ib++;
			rc = whole(c, DIFF_ADDED, path, cur->b, nb, d);
			continue;
		}
		cur->ia++;
		cur->ib++;
		const snapfs_tree *sa, *sb;
		rc = pair(c, path, cur->a, na, cur->b, nb, d, &sa, &sb);
		if (rc <= 0)
			continue;
		rc = treeio_check_depth(&sa->t, d, path->data, path->len);
		rc = rc ?: treeio_check_depth(&sb->t, d, path->data, path->len);
		if (rc < 0) {
			snapfs_tree_put(fs, sa);
			snapfs_tree_put(fs, sb);
			break;
		}
		f[++top] = (dframe){ sa, sb, 0, 0, path->len };
	}
	for (; top > 0; top--) {
		snapfs_tree_put(fs, f[top].a);
		snapfs_tree_put(fs, f[top].b);
	}
	free(f);
	return rc;
}

static int path_of(buf *out, const snapfs_path *p)
{
	int rc = buf_put_u8(out, '/');
	for (size_t i = 0; rc == 0 && i < p->depth; i++) {
		if (i > 0)
			rc = buf_put_u8(out, '/');
		rc = rc ?: buf_append(out, p->nodes[i]->name, p->nodes[i]->name_len);
	}
	return rc;
}

int diff_run(snapfs_session *s, const snapfs_path *a, const snapfs_path *b, const diff_opts *o,
	     diff_stats *out)
{
	memset(out, 0, sizeof(*out));
	dctx c = { s, o, out };
	buf _cleanup_(buf_releasep) path = BUF_INIT;
	int rc = path_of(&path, a ? a : b);
	if (rc < 0 || (!a && !b))
		return rc;
	const snapfs_path *one = a ? a : b;
	int change = a ? DIFF_REMOVED : DIFF_ADDED;
	if (!a || !b) { /* one side only: all of it */
		if (one->node)
			return whole(&c, change, &path, one->parent, one->node, one->depth);
		whole_ctx w = { &c, change };
		snapwalk_ops ops = { whole_pre, NULL, NULL, &w };
		return snapwalk_run(s, one->dir, path.data, path.len, 0, &ops);
	}
	if (a->node && b->node) {
		const snapfs_tree *sa, *sb;
		rc = pair(&c, &path, a->parent, a->node, b->parent, b->node, a->depth, &sa, &sb);
		if (rc <= 0)
			return rc;
		rc = walk(&c, sa, sb, &path, a->depth);
		snapfs_tree_put(snapfs_session_fs(s), sa);
		snapfs_tree_put(snapfs_session_fs(s), sb);
		return rc;
	}
	/* the roots */
	return walk(&c, a->dir, b->dir, &path, 0);
}
