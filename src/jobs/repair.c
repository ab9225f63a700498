/* SPDX-License-Identifier: BSD-2-Clause */
#include "repair.h"
#include "treeio.h"
#include "quote.h"
#include "../archive/tree.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/idmap.h"
#include "../base/log.h"
#include "../base/strlist.h"
#include "../core/blob.h"
#include "../core/checksum.h"
#include "../repo/gcrec.h"
#include "../repo/pack.h"
#include "../repo/session.h"
#include "../repo/snapshots.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- repair index ---------- */

typedef struct {
	backend *be;
	int read_data;
	repair_index_result *res;
	idmap condemned;
	index_builder ib;
	char **old; /* index files found at the start */
	size_t nold;
} rix;

static int index_pack(void *ud, const backend_entry *e)
{
	const char *name = e->name;
	rix *x = ud;
	uint8_t id[32];
	const char *base = strrchr(name, '/') + 1;
	if (strlen(base) != 64 || hex_decode(id, base, 32) < 0 || idmap_get(&x->condemned, id))
		return 0;
	pack_entry *t = NULL;
	size_t nt = 0;
	bytes b = BYTES_INIT;
	int rc = x->read_data ? backend_get(x->be, name, BACKEND_DATA, &b) : pack_read_table(x->be, id, &t, &nt);
	if (rc == 0 && x->read_data && pack_parse(&t, &nt, b.data, b.len) < 0)
		rc = err_set(-DV_ECORRUPT, "pack '%s' has a damaged table", base);
	if (rc == -ENOMEM || rc == -ENOENT) {
		bytes_release(&b);
		return rc == -ENOENT ? 0 : rc;
	}
	if (rc < 0) {
		log_warn("%s: its blobs are left out of the index", err_msg(rc));
		x->res->packs_bad++;
		bytes_release(&b);
		return 0;
	}
	x->res->packs++;
	for (size_t i = 0; rc == 0 && i < nt; i++) {
		if (x->read_data) {
			if (!pack_entry_is_intact(&t[i], b.data + t[i].offset)) {
				char hex[65];
				hex_encode(hex, t[i].id, 32);
				log_warn("blob '%s' in pack '%s' is damaged: left out of the index", hex, base);
				x->res->blobs_damaged++;
				continue;
			}
		}
		rc = index_builder_add(&x->ib, t[i].id, id, (uint32_t)t[i].offset, t[i].stored_len,
				       t[i].raw_len, t[i].type);
		x->res->blobs++;
	}
	free(t);
	bytes_release(&b);
	return rc;
}

static int note_old(void *ud, const backend_entry *e)
{
	rix *x = ud;
	return strlist_add(&x->old, &x->nold, e->name);
}

int repair_index(repo *r, int read_data, repair_index_result *res)
{
	rix x;
	memset(&x, 0, sizeof(x));
	memset(res, 0, sizeof(*res));
	x.be = repo_backend(r);
	x.read_data = read_data;
	x.res = res;
	int rc = backend_list(x.be, "index", note_old, &x);
	rc = rc ?: gc_condemned_load(x.be, &x.condemned, NULL, NULL);
	rc = rc ?: backend_list(x.be, "data", index_pack, &x);
	/* the new index is complete before any old file goes */
	char written[80] = "";
	rc = rc ?: index_builder_write(&x.ib, x.be, written);
	for (size_t i = 0; rc == 0 && i < x.nold; i++) {
		if (strcmp(x.old[i], written) == 0)
			continue; /* rebuilt identical: keep it */
		int d = backend_remove(x.be, x.old[i]);
		if (d < 0 && d != -ENOENT)
			rc = d;
		res->index_files_removed++;
	}
	idmap_release(&x.condemned);
	strlist_free(x.old, x.nold);
	index_builder_release(&x.ib);
	return rc;
}

/* ---------- repair snapshots ---------- */

typedef struct {
	repo *r;
	const repair_snapshots_opts *o;
	snapshot *cur;
	idmap clean;    /* trees that reach nothing lost */
	char **paths;   /* damaged paths of the current snapshot */
	size_t npaths;
} rsn;

static int blob_present(rsn *x, const uint8_t id[32])
{
	index_loc loc;
	return repo_locate_blob(x->r, id, &loc) == 0 && loc.pack_id;
}

static int note_damage(rsn *x, buf *path, const char *what)
{
	buf _cleanup_(buf_releasep) q = BUF_INIT;
	const char *p = quote_path(&q, path->data, path->len);
	if (!*p)
		p = "/";
	if (x->o->damaged)
		x->o->damaged(x->o->ud, x->cur, p, what);
	return x->npaths < SNAPSHOT_MAX_DAMAGED ? strlist_add(&x->paths, &x->npaths, p) : 0;
}


/* One directory being rewritten. */
typedef struct {
	tree t;
	tree_writer tw;
	uint8_t id[32];
	size_t next, path_len;
	int mine;            /* something below was lost */
	tree_node pending;   /* the directory node waiting for its new subtree id */
} rwframe;

/*
 * Starts rewriting tree id, the directory at path: 1 with f set up to walk
 * it, or 0 with out set at once (a tree known clean keeps its id; a lost
 * one becomes an empty tree and sets *changed); -ELOOP if it is nested too
 * deeply.
 */
static int enter(rsn *x, const uint8_t id[32], buf *path, size_t depth, rwframe *f,
		 uint8_t out[32], int *changed)
{
	memcpy(out, id, 32);
	if (idmap_get(&x->clean, id))
		return 0;
	int rc = blob_present(x, id) ? treeio_load(x->r, id, &f->t) : -DV_ENOTFOUND;
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		/* the listing is lost: an empty directory keeps the place */
		tree_writer tw = TREE_WRITER_INIT;
		*changed = 1;
		rc = note_damage(x, path, "directory lost, restored empty");
		rc = rc ?: treeio_store(x->r, &tw, out);
		tree_writer_release(&tw);
		return rc;
	}
	if ((rc = treeio_check_depth(&f->t, depth, path->data, path->len)) < 0) {
		tree_release(&f->t);
		return rc;
	}
	f->tw = (tree_writer)TREE_WRITER_INIT;
	memcpy(f->id, id, 32);
	f->next = 0;
	f->path_len = path->len;
	f->mine = 0;
	return 1;
}

/* Copies file node n of t into tw, lost segments becoming holes. */
static int rewrite_file(rsn *x, const tree *t, const tree_node *n, tree_writer *tw, buf *path,
			int *changed)
{
	tree_node c = *n;
	_cleanup_free_ tree_seg *segs = n->nsegs ? calloc(n->nsegs, sizeof(*segs)) : NULL;
	if (n->nsegs && !segs)
		return -ENOMEM;
	int rc = 0, lost = 0;
	for (size_t i = 0; rc == 0 && i < n->nsegs; i++) {
		segs[i].len = n->segs[i].len;
		const uint8_t *cid = n->segs[i].ref ? tree_child(t, n->segs[i].ref) : NULL;
		if (!cid)
			continue;
		if (!blob_present(x, cid)) {
			lost = 1;
			continue; /* a hole of the same length */
		}
		rc = tree_writer_ref(tw, cid, &segs[i].ref);
	}
	c.segs = segs;
	if (rc == 0 && lost) {
		*changed = 1;
		rc = note_damage(x, path, "lost contents replaced by zeros");
	}
	return rc ?: tree_writer_add(tw, &c);
}

/* Adds directory node n, whose subtree is now sub, to tw. */
static int add_dir(tree_writer *tw, const tree_node *n, const uint8_t sub[32])
{
	tree_node c = *n;
	int rc = tree_writer_ref(tw, sub, &c.subtree);
	return rc ?: tree_writer_add(tw, &c);
}

/*
 * Rewrites tree root into out, replacing what is lost.  Iterative (frames
 * on the heap, at most TREE_MAX_DEPTH + 1), so the stack does not grow
 * with the depth; "clean" remembers trees that reach nothing lost.
 */
static int rewrite(rsn *x, const uint8_t root[32], buf *path, uint8_t out[32], int *changed)
{
	rwframe *f = calloc(TREE_MAX_DEPTH + 2, sizeof(*f));
	if (!f)
		return -ENOMEM;
	size_t top = 0;
	uint8_t sub[32];
	int rc = enter(x, root, path, 0, &f[0], out, changed);
	if (rc <= 0) {
		free(f);
		return rc;
	}
	for (rc = 0; rc == 0;) {
		rwframe *cur = &f[top];
		if (cur->next == cur->t.n) {
			idmap_slot *sl;
			memcpy(sub, cur->id, 32);
			rc = cur->mine ? treeio_store(x->r, &cur->tw, sub)
				       : idmap_put(&x->clean, cur->id, &sl, NULL);
			*(top ? &f[top - 1].mine : changed) |= cur->mine;
			tree_writer_release(&cur->tw);
			tree_release(&cur->t);
			if (top == 0) {
				memcpy(out, sub, 32);
				break;
			}
			top--;
			rc = rc ?: add_dir(&f[top].tw, &f[top].pending, sub);
			continue;
		}
		const tree_node *n = &cur->t.nodes[cur->next++];
		path->len = cur->path_len;
		rc = buf_append(path, "/", 1);
		rc = rc ?: buf_append(path, n->name, n->name_len);
		if (rc < 0)
			break;
		if (n->type == NODE_FILE) {
			rc = rewrite_file(x, &cur->t, n, &cur->tw, path, &cur->mine);
		} else if (n->type == NODE_DIR) {
			const uint8_t *old = tree_child(&cur->t, n->subtree);
			rc = old ? enter(x, old, path, top + 1, &f[top + 1], sub, &cur->mine) : -DV_ECORRUPT;
			if (rc == 1) {
				cur->pending = *n;
				top++;
				rc = 0;
			} else if (rc == 0) {
				rc = add_dir(&cur->tw, n, sub);
			}
		} else {
			rc = tree_writer_add(&cur->tw, n);
		}
	}
	for (size_t i = 0; i < TREE_MAX_DEPTH + 2; i++) {
		tree_writer_release(&f[i].tw); /* frames left on an error; released ones are empty */
		tree_release(&f[i].t);
	}
	free(f);
	return rc;
}

static int add_tag(snapshot *s, const char *tag)
{
	for (size_t i = 0; i < s->ntags; i++)
		if (strcmp(s->tags[i], tag) == 0)
			return 0;
	return strlist_add(&s->tags, &s->ntags, tag);
}

/* --forget-damaged: the snapshot goes instead of being rewritten. */
static int forget_one(rsn *x, snapshot *s, repair_snapshots_result *res)
{
	int rc = repo_forget_snapshot(x->r, s->id);
	if (rc == 0) {
		res->forgotten++;
		if (x->o->rewritten)
			x->o->rewritten(x->o->ud, s, NULL);
	}
	return rc;
}

static int repair_one(rsn *x, snapshot *s, repair_snapshots_result *res)
{
	uint8_t root[32];
	int changed = 0;
	buf _cleanup_(buf_releasep) path = BUF_INIT;
	x->cur = s;
	strlist_free(x->paths, x->npaths);
	x->paths = NULL;
	x->npaths = 0;
	int rc = rewrite(x, s->tree, &path, root, &changed);
	if (rc == -ELOOP) {
		/* nested too deeply to be read: damaged as a whole */
		char hex[65];
		hex_encode(hex, s->id, 32);
		if (!x->o->forget_damaged) {
			log_warn("snapshot %.8s: %s; left as it is (--forget-damaged removes it)", hex,
				 err_msg(rc));
			err_clear();
			return 0;
		}
		if (x->o->damaged)
			x->o->damaged(x->o->ud, s, "/", "nested too deeply to be read");
		return forget_one(x, s, res);
	}
	if (rc < 0 || !changed)
		return rc;
	res->paths += x->npaths;
	if (x->o->forget_damaged)
		return forget_one(x, s, res);
	snapshot *n = snapshot_new();
	if (!n)
		return -ENOMEM;
	n->time = s->time;
	n->time_nsec = s->time_nsec;
	n->tz_offset = s->tz_offset;
	n->stats = s->stats;
	n->has_parent = 1;
	memcpy(n->parent, s->id, 32);
	memcpy(n->tree, root, 32);
	rc = (n->host = strdup(s->host)) && (n->user = strdup(s->user)) ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < s->npaths; i++)
		rc = strlist_add(&n->paths, &n->npaths, s->paths[i]);
	for (size_t i = 0; rc == 0 && i < s->ntags; i++)
		rc = strlist_add(&n->tags, &n->ntags, s->tags[i]);
	for (size_t i = 0; rc == 0 && i < s->ndamaged; i++)
		rc = strlist_add(&n->damaged, &n->ndamaged, s->damaged[i]);
	for (size_t i = 0; rc == 0 && i < x->npaths; i++)
		rc = strlist_add(&n->damaged, &n->ndamaged, x->paths[i]);
	rc = rc ?: add_tag(n, "repaired");
	/* the new trees are stored before the snapshot that needs them */
	rc = rc ?: repo_flush(x->r);
	rc = rc ?: repo_save_snapshot(x->r, n);
	/* a crash here leaves both snapshots: running repair again removes the old */
	rc = rc ?: repo_forget_snapshot(x->r, s->id);
	if (rc == 0) {
		res->rewritten++;
		if (x->o->rewritten)
			x->o->rewritten(x->o->ud, s, n->id);
	}
	snapshot_free(n);
	return rc;
}

int repair_snapshots(repo *r, const repair_snapshots_opts *o, repair_snapshots_result *res)
{
	rsn x;
	memset(&x, 0, sizeof(x));
	memset(res, 0, sizeof(*res));
	x.r = r;
	x.o = o;
	snapshot **v;
	size_t n, damaged;
	int rc = repo_load_snapshots(r, &v, &n, &damaged);
	if (rc < 0)
		return rc;
	if (damaged && o->forget_damaged) {
		size_t removed = 0;
		rc = repo_remove_unreadable_snapshots(r, &removed);
		res->unreadable_removed = removed;
	} else if (damaged) {
		log_warn("%s (%zu unreadable snapshot file(s): --forget-damaged removes them)",
			 err_msg(0), damaged);
	}
	res->snapshots = n;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = repair_one(&x, v[i], res);
	repo_free_snapshots(v, n);
	idmap_release(&x.clean);
	strlist_free(x.paths, x.npaths);
	return rc;
}
