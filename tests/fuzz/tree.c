/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: a tree blob's plaintext (child id region and body), as
 * tree_decode() sees it after the blob was opened.  Besides "never
 * crash", it checks what readers rely on: every reference of a decoded
 * tree resolves, every name is found by tree_find(), the xattr lists
 * iterate to their end, and decode -> encode -> decode gives the same
 * tree, whose second encoding is byte for byte the first (the writer's
 * output is canonical).
 */
#include "fuzz.h"

#include "archive/tree.h"
#include "base/err.h"

#include <errno.h>

/* Everything a reader can observe of two nodes, ids resolved. */
static void same_node(const tree *ta, const tree_node *a, const tree *tb, const tree_node *b)
{
	FUZZ_CHECK(a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0);
	FUZZ_CHECK(a->type == b->type && a->mode == b->mode && a->uid == b->uid && a->gid == b->gid);
	FUZZ_CHECK(a->user_len == b->user_len && (!a->user_len || memcmp(a->user, b->user, a->user_len) == 0));
	FUZZ_CHECK(a->group_len == b->group_len &&
		   (!a->group_len || memcmp(a->group, b->group, a->group_len) == 0));
	FUZZ_CHECK(a->mtime == b->mtime && a->mtime_ns == b->mtime_ns && a->ctime == b->ctime &&
		   a->ctime_ns == b->ctime_ns);
	FUZZ_CHECK(a->dev == b->dev && a->ino == b->ino && a->nlink == b->nlink && a->size == b->size);
	FUZZ_CHECK(a->xattrs_len == b->xattrs_len &&
		   (!a->xattrs_len || memcmp(a->xattrs, b->xattrs, a->xattrs_len) == 0));
	switch (a->type) {
	case NODE_FILE:
		FUZZ_CHECK(a->nsegs == b->nsegs);
		for (size_t i = 0; i < a->nsegs; i++) {
			FUZZ_CHECK(a->segs[i].len == b->segs[i].len);
			FUZZ_CHECK((a->segs[i].ref == 0) == (b->segs[i].ref == 0));
			if (a->segs[i].ref)
				FUZZ_CHECK(memcmp(tree_child(ta, a->segs[i].ref),
						  tree_child(tb, b->segs[i].ref), 32) == 0);
		}
		break;
	case NODE_DIR:
		FUZZ_CHECK(memcmp(tree_child(ta, a->subtree), tree_child(tb, b->subtree), 32) == 0);
		break;
	case NODE_SYMLINK:
		FUZZ_CHECK(a->target_len == b->target_len &&
			   memcmp(a->target, b->target, a->target_len) == 0);
		break;
	case NODE_CHR:
	case NODE_BLK:
		FUZZ_CHECK(a->rdev == b->rdev);
		break;
	}
}

/* What ls, restore and check do with a decoded tree, minus the I/O. */
static void walk(const tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		const tree_node *n = &t->nodes[i];
		FUZZ_CHECK(tree_find(t, n->name, n->name_len) == (long)i);
		for (size_t k = 0; k < n->nsegs; k++)
			FUZZ_CHECK(n->segs[k].ref == 0 || tree_child(t, n->segs[k].ref));
		if (n->type == NODE_DIR)
			FUZZ_CHECK(tree_child(t, n->subtree) != NULL);
		tree_xattr_iter it;
		const uint8_t *name, *value;
		size_t nl, vl, count = 0;
		int r;
		tree_xattr_iter_init(&it, n);
		while ((r = tree_xattr_next(&it, &name, &nl, &value, &vl)) == 1)
			count++;
		FUZZ_CHECK(r == 0); /* the decoder checked the list parses */
		(void)count;
	}
}

/* Encodes t with the writer, as repair and backup do. */
static int encode(const tree *t, buf *out)
{
	tree_writer w = TREE_WRITER_INIT;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < t->n; i++) {
		tree_node n = t->nodes[i];
		tree_seg *segs = NULL;
		if (n.nsegs) {
			segs = calloc(n.nsegs, sizeof(*segs));
			if (!segs) {
				rc = -ENOMEM;
				break;
			}
		}
		for (size_t k = 0; rc == 0 && k < n.nsegs; k++) {
			segs[k] = n.segs[k];
			if (segs[k].ref)
				rc = tree_writer_ref(&w, tree_child(t, n.segs[k].ref), &segs[k].ref);
		}
		n.segs = segs;
		if (rc == 0 && n.type == NODE_DIR)
			rc = tree_writer_ref(&w, tree_child(t, n.subtree), &n.subtree);
		rc = rc ?: tree_writer_add(&w, &n);
		free(segs);
	}
	rc = rc ?: tree_writer_finish(&w, out);
	tree_writer_release(&w);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	buf in = BUF_INIT, enc1 = BUF_INIT, enc2 = BUF_INIT;
	tree t1 = TREE_INIT, t2 = TREE_INIT, t3 = TREE_INIT;
	if (buf_append(&in, data, size) < 0)
		return 0;
	if (tree_decode(&t1, &in) < 0)
		goto out;
	walk(&t1);
	FUZZ_CHECK(encode(&t1, &enc1) == 0);
	buf copy = BUF_INIT;
	FUZZ_CHECK(buf_append(&copy, enc1.data, enc1.len) == 0);
	FUZZ_CHECK(tree_decode(&t2, &copy) == 0);
	FUZZ_CHECK(t2.n == t1.n);
	for (size_t i = 0; i < t1.n; i++)
		same_node(&t1, &t1.nodes[i], &t2, &t2.nodes[i]);
	FUZZ_CHECK(encode(&t2, &enc2) == 0);
	FUZZ_CHECK(enc2.len == enc1.len && memcmp(enc1.data, enc2.data, enc1.len) == 0);
	copy = (buf)BUF_INIT;
	FUZZ_CHECK(buf_append(&copy, enc2.data, enc2.len) == 0);
	FUZZ_CHECK(tree_decode(&t3, &copy) == 0);
out:
	err_clear();
	buf_release(&in);
	buf_release(&enc1);
	buf_release(&enc2);
	tree_release(&t1);
	tree_release(&t2);
	tree_release(&t3);
	return 0;
}
