/* SPDX-License-Identifier: BSD-2-Clause */
#include "snapfs.h"
#include "quote.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../core/blob.h"
#include "../repo/session.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct snapfs {
	repo *r;
	idcache *trees, *blobs;
	int verify;
	atomic_uint_fast64_t trees_loaded, blobs_fetched, bytes_fetched;
};

struct snapfs_session {
	snapfs *fs;
	repo_session *rs;
};

/* A plaintext data blob in the cache. */
typedef struct {
	idcache_entry entry;
	buf data;
} cached_blob;

static void free_tree(idcache_entry *e)
{
	snapfs_tree *t = (snapfs_tree *)e;
	tree_release(&t->t);
	free(t);
}

static void free_blob(idcache_entry *e)
{
	cached_blob *b = (cached_blob *)e;
	buf_release(&b->data);
	free(b);
}

int snapfs_new(snapfs **out, repo *r, const snapfs_params *p)
{
	snapfs *fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->r = r;
	fs->verify = p->verify;
	int rc = idcache_new(&fs->trees, p->tree_cache, free_tree);
	rc = rc ?: idcache_new(&fs->blobs, p->blob_cache, free_blob);
	if (rc < 0) {
		snapfs_free(fs);
		return rc;
	}
	*out = fs;
	return 0;
}

void snapfs_free(snapfs *fs)
{
	if (!fs)
		return;
	idcache_free(fs->trees);
	idcache_free(fs->blobs);
	free(fs);
}

repo *snapfs_repo(snapfs *fs)
{
	return fs->r;
}

int snapfs_session_new(snapfs_session **out, snapfs *fs)
{
	snapfs_session *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fs = fs;
	int rc = repo_session_new(&s->rs, fs->r);
	if (rc < 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void snapfs_session_free(snapfs_session *s)
{
	if (!s)
		return;
	repo_session_free(s->rs);
	free(s);
}

snapfs *snapfs_session_fs(snapfs_session *s)
{
	return s->fs;
}

/* ---------- trees ---------- */

/* What a decoded tree costs in memory: its plaintext, nodes and segments. */
static size_t tree_cost(const tree *t)
{
	size_t c = sizeof(snapfs_tree) + t->plain.cap + t->n * sizeof(tree_node);
	for (size_t i = 0; i < t->n; i++)
		c += t->nodes[i].nsegs * sizeof(tree_seg);
	return c;
}

int snapfs_tree_get(snapfs_session *s, const uint8_t id[32], const snapfs_tree **out)
{
	snapfs *fs = s->fs;
	idcache_entry *e = idcache_get(fs->trees, id);
	if (e) {
		*out = (const snapfs_tree *)e;
		return 0;
	}
	buf _cleanup_(buf_releasep) plain = BUF_INIT;
	int rc = repo_session_load(s->rs, BLOB_TREE, id, &plain, fs->verify);
	if (rc < 0)
		return rc;
	snapfs_tree *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	rc = tree_decode(&t->t, &plain);
	if (rc < 0) {
		free(t);
		if (rc == -ENOMEM)
			return rc;
		char hex[65];
		hex_encode(hex, id, 32);
		return err_set(rc, "tree '%s' is damaged", hex);
	}
	atomic_fetch_add(&fs->trees_loaded, 1);
	memcpy(t->entry.id, id, 32);
	t->entry.cost = tree_cost(&t->t);
	idcache_add(fs->trees, &t->entry, &e);
	*out = (const snapfs_tree *)e;
	return 0;
}

void snapfs_tree_put(snapfs *fs, const snapfs_tree *t)
{
	if (t)
		idcache_release(fs->trees, (idcache_entry *)&t->entry);
}

int snapfs_subtree_get(snapfs_session *s, const snapfs_tree *t, const tree_node *n,
		       const snapfs_tree **out)
{
	const uint8_t *id = n->type == NODE_DIR ? tree_child(&t->t, n->subtree) : NULL;
	if (!id)
		return err_set(-DV_ECORRUPT, "a directory names no tree");
	return snapfs_tree_get(s, id, out);
}

/* ---------- paths ---------- */

void snapfs_path_release(snapfs *fs, snapfs_path *p)
{
	for (size_t i = 0; i < p->nchain; i++)
		snapfs_tree_put(fs, p->chain[i]);
	free(p->chain);
	free(p->nodes);
	*p = (snapfs_path)SNAPFS_PATH_INIT;
}

static int chain_push(snapfs_path *p, size_t *cap, const snapfs_tree *t)
{
	int rc = array_reserve(&p->chain, cap, p->nchain + 1, sizeof(*p->chain));
	if (rc < 0)
		return rc;
	p->chain[p->nchain++] = t;
	return 0;
}

int snapfs_lookup(snapfs_session *s, const uint8_t root[32], const void *path, size_t len,
		  snapfs_path *out)
{
	snapfs_path p = SNAPFS_PATH_INIT;
	size_t cap = 0, ncap = 0;
	const char *c = path, *end = c + len;
	buf _cleanup_(buf_releasep) q = BUF_INIT;
	const snapfs_tree *t;
	int rc = snapfs_tree_get(s, root, &t);
	if (rc == 0 && (rc = chain_push(&p, &cap, t)) < 0)
		snapfs_tree_put(s->fs, t);
	p.dir = p.chain ? p.chain[0] : NULL;
	while (rc == 0 && c < end) {
		const char *slash = memchr(c, '/', (size_t)(end - c));
		size_t l = (size_t)((slash ? slash : end) - c);
		const char *name = c;
		c += l + (slash != NULL);
		if (l == 0 || (l == 1 && name[0] == '.'))
			continue;
		if (l == 2 && name[0] == '.' && name[1] == '.') {
			rc = err_set(-DV_EUSAGE, "'..' is not allowed in a path in a snapshot ('%s')",
				     quote_path(&q, path, len));
			break;
		}
		if (!p.dir) {
			rc = err_set(-ENOTDIR, "'%s' is not a directory",
				     quote_path(&q, path, (size_t)(name - (const char *)path) - 1));
			break;
		}
		if (p.depth >= TREE_MAX_DEPTH) {
			rc = err_set(-ELOOP, "path '%s' is deeper than %d levels",
				     quote_path(&q, path, len), TREE_MAX_DEPTH);
			break;
		}
		long i = tree_find(&p.dir->t, name, l);
		if (i < 0) {
			rc = err_set(-DV_ENOTFOUND, "path '%s' is not in the snapshot",
				     quote_path(&q, path, len));
			break;
		}
		if ((rc = array_reserve(&p.nodes, &ncap, p.depth + 1, sizeof(*p.nodes))) < 0)
			break;
		p.parent = p.dir;
		p.node = &p.dir->t.nodes[i];
		p.nodes[p.depth++] = p.node;
		p.dir = NULL;
		if (p.node->type == NODE_DIR) {
			rc = snapfs_subtree_get(s, p.parent, p.node, &t);
			if (rc == 0 && (rc = chain_push(&p, &cap, t)) < 0)
				snapfs_tree_put(s->fs, t);
			if (rc == 0)
				p.dir = t;
		}
	}
	if (rc < 0) {
		snapfs_path_release(s->fs, &p);
		return rc;
	}
	*out = p;
	return 0;
}

void snapfs_root_node(tree_node *out, int64_t time, uint32_t time_ns)
{
	memset(out, 0, sizeof(*out));
	out->name = (const uint8_t *)"/";
	out->name_len = 1;
	out->type = NODE_DIR;
	out->mode = 0755;
	out->user = out->group = (const uint8_t *)"root";
	out->user_len = out->group_len = 4;
	out->mtime = out->ctime = time;
	out->mtime_ns = out->ctime_ns = time_ns;
	out->nlink = 2;
}

/* ---------- files ---------- */

typedef struct {
	uint64_t off, len;
	uint8_t id[32];
	int hole;
} extent;

struct snapfs_file {
	uint64_t size;
	size_t n;
	extent *ext;
};

int snapfs_file_open(snapfs_file **out, const tree *t, const tree_node *n)
{
	if (n->type != NODE_FILE)
		return err_set(-EISDIR, "not a regular file");
	snapfs_file *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->ext = n->nsegs ? calloc(n->nsegs, sizeof(*f->ext)) : NULL;
	if (n->nsegs && !f->ext) {
		free(f);
		return -ENOMEM;
	}
	uint64_t off = 0;
	for (size_t i = 0; i < n->nsegs; i++) {
		extent *e = &f->ext[i];
		e->off = off;
		e->len = n->segs[i].len;
		e->hole = n->segs[i].ref == 0;
		if (!e->hole) {
			const uint8_t *id = tree_child(t, n->segs[i].ref);
			if (!id) { /* the codec checks refs: only a caller's own node gets here */
				snapfs_file_close(f);
				return err_set(-DV_ECORRUPT, "a file names no chunk");
			}
			memcpy(e->id, id, 32);
		}
		off += e->len; /* the codec checked that the sum is the size */
	}
	f->n = n->nsegs;
	f->size = off;
	*out = f;
	return 0;
}

void snapfs_file_close(snapfs_file *f)
{
	if (!f)
		return;
	free(f->ext);
	free(f);
}

uint64_t snapfs_file_size(const snapfs_file *f)
{
	return f->size;
}

size_t snapfs_file_extents(const snapfs_file *f)
{
	return f->n;
}

void snapfs_file_extent(const snapfs_file *f, size_t i, uint64_t *off, uint64_t *len, int *hole)
{
	*off = f->ext[i].off;
	*len = f->ext[i].len;
	*hole = f->ext[i].hole;
}

const uint8_t *snapfs_file_extent_id(const snapfs_file *f, size_t i)
{
	return f->ext[i].hole ? NULL : f->ext[i].id;
}

/* The extent holding off (< size): the last one starting at or before it. */
static size_t extent_at(const snapfs_file *f, uint64_t off)
{
	size_t lo = 0, hi = f->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->ext[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

int snapfs_file_seek(const snapfs_file *f, uint64_t off, int want_data, uint64_t *out)
{
	if (off >= f->size)
		return -ENXIO;
	for (size_t i = extent_at(f, off); i < f->n; i++) {
		if (f->ext[i].hole != want_data) {
			*out = MAX(off, f->ext[i].off);
			return 0;
		}
	}
	if (want_data)
		return -ENXIO;
	*out = f->size; /* the end is a hole */
	return 0;
}

/* The chunk of extent e, held from the cache or fetched. */
static int blob_get(snapfs_session *s, const extent *e, cached_blob **out)
{
	snapfs *fs = s->fs;
	idcache_entry *ce = idcache_get(fs->blobs, e->id);
	if (ce) {
		*out = (cached_blob *)ce;
		return 0;
	}
	cached_blob *b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	int rc = repo_session_load(s->rs, BLOB_DATA, e->id, &b->data, fs->verify);
	if (rc == 0 && b->data.len != e->len) {
		char hex[65];
		hex_encode(hex, e->id, 32);
		rc = err_set(-DV_ECORRUPT, "chunk '%s' has %zu bytes, its file says %llu", hex,
			     b->data.len, (unsigned long long)e->len);
	}
	if (rc < 0) {
		free_blob(&b->entry);
		return rc;
	}
	atomic_fetch_add(&fs->blobs_fetched, 1);
	atomic_fetch_add(&fs->bytes_fetched, b->data.len);
	memcpy(b->entry.id, e->id, 32);
	b->entry.cost = sizeof(*b) + b->data.cap;
	idcache_add(fs->blobs, &b->entry, &ce);
	*out = (cached_blob *)ce;
	return 0;
}

int snapfs_file_read(snapfs_session *s, snapfs_file *f, uint64_t off, void *dst, size_t len,
		     size_t *out_n)
{
	uint8_t *p = dst;
	size_t done = 0;
	*out_n = 0;
	if (off >= f->size || len == 0)
		return 0;
	if (len > f->size - off)
		len = (size_t)(f->size - off);
	for (size_t i = extent_at(f, off); done < len; i++) {
		const extent *e = &f->ext[i];
		uint64_t at = off + done - e->off; /* within the extent */
		size_t n = (size_t)MIN(e->len - at, (uint64_t)(len - done));
		if (e->hole) {
			memset(p + done, 0, n);
		} else {
			cached_blob *b;
			int rc = blob_get(s, e, &b);
			if (rc < 0)
				return rc;
			memcpy(p + done, b->data.data + at, n);
			idcache_release(s->fs->blobs, &b->entry);
		}
		done += n;
	}
	*out_n = done;
	return 0;
}

void snapfs_get_stats(snapfs *fs, snapfs_stats *out)
{
	idcache_stats t, b;
	idcache_get_stats(fs->trees, &t);
	idcache_get_stats(fs->blobs, &b);
	*out = (snapfs_stats){
		.trees_loaded = atomic_load(&fs->trees_loaded),
		.tree_hits = t.hits,
		.blobs_fetched = atomic_load(&fs->blobs_fetched),
		.blob_hits = b.hits,
		.bytes_fetched = atomic_load(&fs->bytes_fetched),
		.tree_cache_bytes = t.cost,
		.blob_cache_bytes = b.cost,
	};
}
