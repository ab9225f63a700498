/* SPDX-License-Identifier: BSD-2-Clause */
#include "expand.h"
#include "treeio.h"
#include "../base/err.h"
#include "../base/interrupt.h"
#include "../core/crypto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INODE_UNIT 65536

int expander_init(expander *x, repo *r, uint64_t block)
{
	memset(x, 0, sizeof(*x));
	x->r = r;
	x->block = block ? block : 4096;
	return 0;
}

void expander_release(expander *x)
{
	idmap_release(&x->exact);
	idmap_release(&x->deep);
	free(x->v);
	memset(x, 0, sizeof(*x));
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	uint64_t s;
	return __builtin_add_overflow(a, b, &s) ? UINT64_MAX : s;
}

void expand_add(expand_totals *a, const expand_totals *b)
{
	a->entries = sat_add(a->entries, b->entries);
	a->files = sat_add(a->files, b->files);
	a->bytes = sat_add(a->bytes, b->bytes);
	a->data = sat_add(a->data, b->data);
	a->alloc = sat_add(a->alloc, b->alloc);
	a->inodes = sat_add(a->inodes, b->inodes);
	a->truncated |= b->truncated;
}

static uint64_t round_up(uint64_t v, uint64_t block)
{
	uint64_t r = v % block;
	return r ? sat_add(v, block - r) : v;
}

/* The node itself, without what a directory holds. */
static void own(const expander *x, const tree_node *n, expand_totals *o)
{
	uint64_t links = n->nlink > 1 ? n->nlink : 1;
	memset(o, 0, sizeof(*o));
	o->entries = 1;
	o->inodes = INODE_UNIT;
	if (n->type == NODE_FILE) {
		uint64_t data = 0;
		for (size_t i = 0; i < n->nsegs; i++)
			if (n->segs[i].ref)
				data = sat_add(data, n->segs[i].len);
		o->files = 1;
		o->bytes = n->size;
		o->data = data;
		o->alloc = round_up(data, x->block) / links;
		o->inodes = INODE_UNIT / (links > INODE_UNIT ? INODE_UNIT : links);
	} else if (n->type == NODE_DIR || (n->type == NODE_SYMLINK && n->target_len > 60)) {
		o->alloc = x->block; /* short symlinks live in the inode */
	}
}

/* The memo slot for tree id at depth (truncated totals are per depth). */
static expand_totals *memo_get(expander *x, const uint8_t id[32], size_t depth)
{
	idmap_slot *s = idmap_get(&x->exact, id);
	if (!s && x->deep.n) {
		uint8_t key[40], h[32];
		memcpy(key, id, 32);
		memcpy(key + 32, &(uint64_t){ depth }, 8);
		crypto_sha256(h, key, sizeof(key));
		s = idmap_get(&x->deep, h);
	}
	return s ? &x->v[s->val] : NULL;
}

static int memo_put(expander *x, const uint8_t id[32], size_t depth, const expand_totals *t)
{
	idmap_slot *s;
	uint8_t key[40], h[32];
	int rc = array_reserve(&x->v, &x->cap, x->n + 1, sizeof(*x->v));
	if (rc < 0)
		return rc;
	if (t->truncated) {
		memcpy(key, id, 32);
		memcpy(key + 32, &(uint64_t){ depth }, 8);
		crypto_sha256(h, key, sizeof(key));
		rc = idmap_put(&x->deep, h, &s, NULL);
	} else {
		rc = idmap_put(&x->exact, id, &s, NULL);
	}
	if (rc < 0)
		return rc;
	x->v[x->n] = *t;
	s->val = x->n++;
	return 0;
}

typedef struct {
	tree t;
	uint8_t id[32];
	size_t next;
	expand_totals acc;
} xframe;

int expand_tree(expander *x, const uint8_t id[32], size_t depth, expand_totals *out)
{
	memset(out, 0, sizeof(*out));
	const expand_totals *m = memo_get(x, id, depth);
	if (m) {
		*out = *m;
		return 0;
	}
	xframe *f = calloc(TREE_MAX_DEPTH + 2, sizeof(*f));
	if (!f)
		return -ENOMEM;
	size_t top = 0, base = depth;
	int rc = treeio_load(x->r, id, &f[0].t);
	if (rc < 0) { /* unreadable: the restore reports it */
		free(f);
		return rc == -ENOMEM ? rc : 0;
	}
	x->trees_read++;
	memcpy(f[0].id, id, 32);
	if (treeio_check_depth(&f[0].t, depth, "", 0) < 0) {
		err_clear();
		f[0].acc.truncated = 1;
		f[0].next = f[0].t.n;
	}
	while (rc == 0) {
		xframe *cur = &f[top];
		if (cur->next == cur->t.n) {
			rc = memo_put(x, cur->id, base + top, &cur->acc);
			expand_add(top ? &f[top - 1].acc : out, &cur->acc);
			tree_release(&cur->t);
			if (top-- == 0)
				break;
			continue;
		}
		const tree_node *n = &cur->t.nodes[cur->next++];
		expand_totals o;
		own(x, n, &o);
		expand_add(&cur->acc, &o);
		if (n->type != NODE_DIR)
			continue;
		if ((rc = interrupt_check()) < 0)
			break;
		const uint8_t *sid = tree_child(&cur->t, n->subtree);
		size_t sdepth = base + top + 1;
		if (!sid)
			continue;
		if ((m = memo_get(x, sid, sdepth))) {
			expand_add(&cur->acc, m);
			continue;
		}
		xframe *c = &f[top + 1];
		if ((rc = treeio_load(x->r, sid, &c->t)) < 0) {
			rc = rc == -ENOMEM ? rc : 0;
			err_clear();
			continue;
		}
		x->trees_read++;
		if (treeio_check_depth(&c->t, sdepth, "", 0) < 0) {
			err_clear();
			tree_release(&c->t);
			cur->acc.truncated = 1;
			continue;
		}
		memcpy(c->id, sid, 32);
		c->next = 0;
		memset(&c->acc, 0, sizeof(c->acc));
		top++;
	}
	for (size_t i = 0; i < TREE_MAX_DEPTH + 2; i++)
		tree_release(&f[i].t);
	free(f);
	return rc;
}

int expand_node(expander *x, const tree *t, const tree_node *n, size_t depth, expand_totals *out)
{
	own(x, n, out);
	if (n->type != NODE_DIR)
		return 0;
	const uint8_t *sid = tree_child(t, n->subtree);
	expand_totals sub;
	int rc = sid ? expand_tree(x, sid, depth, &sub) : 0;
	if (rc == 0 && sid)
		expand_add(out, &sub);
	return rc;
}
