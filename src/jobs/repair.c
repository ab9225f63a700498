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

static int index_pack(void *ud, const char *name)
{
	rix *x = ud;
	uint8_t id[32];
	const char *base = strrchr(name, '/') + 1;
	if (strlen(base) != 64 || hex_decode(id, base, 32) < 0 || idmap_get(&x->condemned, id))
		return 0;
	pack_entry *t = NULL;
	size_t nt = 0;
	bytes b = BYTES_INIT;
	int rc = x->read_data ? backend_get(x->be, name, &b) : pack_read_table(x->be, id, &t, &nt);
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
			uint8_t ck[16];
			checksum128(ck, b.data + t[i].offset, t[i].stored_len);
			if (memcmp(ck, t[i].cksum, 16) != 0) {
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

static int note_old(void *ud, const char *name)
{
	rix *x = ud;
	return strlist_add(&x->old, &x->nold, name);
}

int repair_index(repo *r, int read_data, repair_index_result *res)
{
	rix x;
	memset(&x, 0, sizeof(x));
	memset(res, 0, sizeof(*res));
	x.be = repo_backend(r);
	x.read_data = read_data;
	x.res = res;
	gc_record *v = NULL;
	size_t nv = 0;
	int rc = backend_list(x.be, "index", note_old, &x);
	rc = rc ?: gc_records_load(x.be, &v, &nv, NULL);
	for (size_t i = 0; rc == 0 && i < nv; i++)
		for (size_t k = 0; rc == 0 && k < v[i].npacks; k++) {
			idmap_slot *s;
			rc = idmap_put(&x.condemned, v[i].packs[k], &s, NULL);
		}
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
	gc_records_free(v, nv);
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


static int rewrite(rsn *x, const uint8_t id[32], buf *path, uint8_t out[32], int *changed);

/* Copies node n of t into tw, replacing what is lost. */
static int rewrite_node(rsn *x, const tree *t, const tree_node *n, tree_writer *tw, buf *path,
			int *changed)
{
	tree_node c = *n;
	size_t keep = path->len;
	int rc = buf_append(path, "/", 1);
	rc = rc ?: buf_append(path, n->name, n->name_len);
	_cleanup_free_ tree_seg *segs = NULL;
	if (rc == 0 && n->type == NODE_FILE && n->nsegs) {
		segs = calloc(n->nsegs, sizeof(*segs));
		if (!segs)
			return -ENOMEM;
		int lost = 0;
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
	}
	if (rc == 0 && n->type == NODE_DIR) {
		uint8_t sub[32];
		const uint8_t *old = tree_child(t, n->subtree);
		rc = old ? rewrite(x, old, path, sub, changed) : -DV_ECORRUPT;
		rc = rc ?: tree_writer_ref(tw, sub, &c.subtree);
	}
	rc = rc ?: tree_writer_add(tw, &c);
	path->len = keep;
	return rc;
}

static int rewrite(rsn *x, const uint8_t id[32], buf *path, uint8_t out[32], int *changed)
{
	memcpy(out, id, 32);
	if (idmap_get(&x->clean, id))
		return 0;
	tree t = TREE_INIT;
	int rc = blob_present(x, id) ? treeio_load(x->r, id, &t) : -DV_ENOTFOUND;
	if (rc == -ENOMEM)
		return rc;
	tree_writer tw = TREE_WRITER_INIT;
	if (rc < 0) {
		/* the listing is lost: an empty directory keeps the place */
		*changed = 1;
		rc = note_damage(x, path, "directory lost, restored empty");
		rc = rc ?: treeio_store(x->r, &tw, out);
		tree_writer_release(&tw);
		return rc;
	}
	int mine = 0;
	for (size_t i = 0; rc == 0 && i < t.n; i++)
		rc = rewrite_node(x, &t, &t.nodes[i], &tw, path, &mine);
	if (rc == 0 && mine)
		rc = treeio_store(x->r, &tw, out);
	else if (rc == 0) {
		idmap_slot *s;
		rc = idmap_put(&x->clean, id, &s, NULL);
	}
	tree_writer_release(&tw);
	tree_release(&t);
	*changed |= mine;
	return rc;
}

static int add_tag(snapshot *s, const char *tag)
{
	for (size_t i = 0; i < s->ntags; i++)
		if (strcmp(s->tags[i], tag) == 0)
			return 0;
	return strlist_add(&s->tags, &s->ntags, tag);
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
	if (rc < 0 || !changed)
		return rc;
	res->paths += x->npaths;
	if (x->o->forget_damaged) {
		rc = repo_forget_snapshot(x->r, s->id);
		if (rc == 0) {
			res->forgotten++;
			if (x->o->rewritten)
				x->o->rewritten(x->o->ud, s, NULL);
		}
		return rc;
	}
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
