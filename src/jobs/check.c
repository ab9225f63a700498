/* SPDX-License-Identifier: BSD-2-Clause */
#include "check.h"
#include "treeio.h"
#include "mark.h"
#include "quote.h"
#include "../archive/tree.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/idmap.h"
#include "../base/interrupt.h"
#include "../base/ordq.h"
#include "../base/workq.h"
#include "../core/blob.h"
#include "../core/checksum.h"
#include "../repo/gcrec.h"
#include "../repo/pack.h"
#include "../repo/session.h"
#include "../repo/snapshots.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PROBLEM_LINES 50

typedef struct {
	repo *r;
	backend *be;
	const check_opts *o;
	check_result *res;
	index_set *idx, *cond;
	idmap condemned;   /* pack ids in gc records */
	idmap indexed;     /* pack ids the index names */
	idmap lost;        /* blob ids that cannot be read back */
	idmap clean;       /* trees known to reach nothing lost */
	index_builder all; /* every index entry, then grouped by pack */
	pthread_mutex_t idx_lock; /* lookups in idx from the read_data workers */
} ck;

static void problem(ck *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(ck *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->res->problems++ < MAX_PROBLEM_LINES && c->o->problem)
		c->o->problem(c->o->ud, msg);
	else if (c->res->problems == MAX_PROBLEM_LINES + 1 && c->o->problem)
		c->o->problem(c->o->ud, "(further problems are counted, not listed)");
}

static int add_lost(ck *c, const uint8_t id[32])
{
	idmap_slot *s;
	return idmap_put(&c->lost, id, &s, NULL);
}

int check_pack_is_selected(const check_opts *o, const uint8_t id[32])
{
	uint32_t u = le32_get(id);
	if (o->packs)
		return idmap_get(o->packs, id) != NULL;
	if (o->parts > 1)
		return u % o->parts == o->part - 1;
	if (o->fraction > 0 && o->fraction < 1) {
		double x = u / 4294967296.0;
		double start = (double)o->day * o->fraction;
		start -= (double)(int64_t)start;
		double d = x - start;
		if (d < 0)
			d += 1;
		return d < o->fraction;
	}
	return 1;
}

/* ---------- structure: index against pack tables ---------- */

static int collect(void *ud, const uint8_t *id, const index_loc *loc)
{
	ck *c = ud;
	idmap_slot *s;
	int rc = idmap_put(&c->indexed, loc->pack_id, &s, NULL);
	return rc ?: index_builder_add(&c->all, id, loc->pack_id, loc->offset, loc->stored_len,
				       loc->raw_len, loc->type);
}

static int cmp_pack(const void *a, const void *b)
{
	const index_entry *x = a, *y = b;
	return x->pack < y->pack ? -1 : x->pack > y->pack;
}

/* Compares the index entries of one pack with its table. */
static int check_pack_table(ck *c, const index_entry *e, size_t n)
{
	const uint8_t *pid = c->all.packs[e[0].pack];
	char hex[65];
	hex_encode(hex, pid, 32);
	pack_entry *t = NULL;
	size_t nt = 0;
	c->res->packs++;
	int rc = pack_read_table(c->be, pid, &t, &nt);
	if (rc == -ENOENT) {
		c->res->packs_missing++;
		problem(c, "pack %s is missing (%zu blobs the index names are lost)", hex, n);
		for (size_t i = 0; rc == -ENOENT && i < n; i++)
			rc = add_lost(c, e[i].id) ?: -ENOENT;
		return rc == -ENOENT ? 0 : rc;
	}
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		c->res->packs_bad_table++;
		problem(c, "pack %s: %s", hex, err_msg(rc));
		for (size_t i = 0; i < n; i++)
			if ((rc = add_lost(c, e[i].id)) < 0)
				return rc;
		return 0;
	}
	idmap tab = IDMAP_INIT;
	for (size_t i = 0; rc == 0 && i < nt; i++) {
		idmap_slot *s;
		rc = idmap_put(&tab, t[i].id, &s, NULL);
		if (rc == 0)
			s->val = i;
	}
	size_t bad = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		idmap_slot *s = idmap_get(&tab, e[i].id);
		const pack_entry *p = s ? &t[s->val] : NULL;
		if (!p || p->offset != e[i].offset || p->stored_len != e[i].stored_len ||
		    p->raw_len != e[i].raw_len || p->type != e[i].type) {
			bad++;
			rc = add_lost(c, e[i].id);
		}
	}
	if (bad) {
		c->res->index_mismatches += bad;
		problem(c, "index disagrees with the table of pack %s on %zu blob(s); run 'dvalin repair index'", hex, bad);
	}
	idmap_release(&tab);
	free(t);
	return rc;
}

static int check_index(ck *c)
{
	int rc = index_set_foreach(c->idx, collect, c);
	if (rc < 0)
		return rc;
	index_entry *e = c->all.e;
	size_t n = c->all.n;
	if (n)
		qsort(e, n, sizeof(*e), cmp_pack);
	for (size_t i = 0; rc == 0 && i < n;) {
		size_t k = i;
		while (k < n && e[k].pack == e[i].pack)
			k++;
		rc = check_pack_table(c, e + i, k - i);
		i = k;
	}
	return rc;
}

static int count_unindexed(void *ud, const backend_entry *e)
{
	ck *c = ud;
	uint8_t id[32];
	const char *base = strrchr(e->name, '/') + 1;
	if (strlen(base) != 64 || hex_decode(id, base, 32) < 0)
		return 0;
	if (!idmap_get(&c->indexed, id) && !idmap_get(&c->condemned, id))
		c->res->packs_unindexed++;
	return 0;
}

static int load_condemned(ck *c)
{
	size_t damaged = 0;
	int rc = index_set_new(&c->cond);
	rc = rc ?: gc_condemned_load(c->be, &c->condemned, c->cond, &damaged);
	if (rc == 0 && damaged)
		problem(c, "%s", err_msg(-DV_ECORRUPT));
	c->res->packs_condemned = c->condemned.n;
	return rc;
}

/* ---------- reachability ---------- */

static void on_missing(void *ud, const uint8_t id[32], const uint8_t *parent)
{
	ck *c = ud;
	char hex[65], phex[65];
	hex_encode(hex, id, 32);
	if (parent) {
		hex_encode(phex, parent, 32);
		problem(c, "blob %s used by tree %.16s is not in the index", hex, phex);
	} else {
		problem(c, "tree %s is missing or unreadable", hex);
	}
	c->res->blobs_missing++;
	add_lost(c, id);
}

static int check_reachable(ck *c)
{
	marker m;
	int rc = mark_init(&m, c->be, c->idx, c->cond);
	if (rc < 0)
		return rc;
	m.on_missing = on_missing;
	m.ud = c;
	rc = mark_snapshots(&m, c->r);
	c->res->trees = m.trees;
	c->res->blobs_referenced = m.blobs;
	c->res->snapshots = m.snapshots;
	if (repo_is_keyless(c->r)) { /* with the key, bodies were checked already */
		if (m.damaged_snapshots) {
			c->res->snapshots_damaged = m.damaged_snapshots;
			problem(c, "%llu snapshot file(s) damaged: %s",
				(unsigned long long)m.damaged_snapshots, err_msg(-DV_ECORRUPT));
		}
	}
	mark_release(&m);
	return rc;
}

/* ---------- storage and content ---------- */

/*
 * Packs are read and verified on every thread (ordq): the work is
 * reading, checksumming, decrypting and re-hashing, on a session of the
 * worker's own; what a pack holds that is damaged comes back with its
 * job and is reported on the calling thread in the order of the packs,
 * so the report is the same on any number of threads.  At most window
 * jobs are in flight, and a job holds its pack's bytes only while a
 * worker reads it: memory is one pack per thread.
 */
enum { DMG_CHECKSUM, DMG_CONTENT };

typedef struct {
	uint8_t id[32];
	int why;
} ck_damage;

typedef struct {
	const uint8_t *pid;
	int read; /* 0: missing or its table damaged (the structure check reports it) */
	uint64_t bytes, blobs;
	ck_damage *dmg;
	size_t ndmg, capdmg;
} ck_job;

typedef struct {
	ck *c;
	repo_session *rd; /* NULL without the key */
	buf plain;
} ck_worker;

static int ck_worker_new(void **out, void *arg)
{
	ck *c = arg;
	ck_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->c = c;
	int rc = repo_is_keyless(c->r) ? 0 : repo_session_new(&w->rd, c->r);
	if (rc < 0) {
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

static void ck_worker_free(void *state)
{
	ck_worker *w = state;
	repo_session_free(w->rd);
	buf_release(&w->plain);
	free(w);
}

/* Whether the index names blob e of pack pid there (lookups share the set's block cache). */
static int indexed_here(ck *c, const pack_entry *e, const uint8_t pid[32])
{
	index_loc loc;
	pthread_mutex_lock(&c->idx_lock);
	int here = index_set_lookup(c->idx, e->id, &loc) == 0 && loc.pack_id &&
		   memcmp(loc.pack_id, pid, 32) == 0 && loc.offset == e->offset;
	pthread_mutex_unlock(&c->idx_lock);
	return here;
}

static int read_pack(void *state, void *job)
{
	ck_worker *w = state;
	ck_job *j = job;
	ck *c = w->c;
	char name[80];
	bytes b = BYTES_INIT;
	pack_entry *t = NULL;
	size_t nt = 0;
	pack_name(name, j->pid);
	/* read what the storage holds, not what a cache kept of it */
	int rc = interrupt_check();
	rc = rc ?: c->o->evict ? backend_evict(c->be, name) : 0;
	rc = rc ?: backend_get(c->be, name, BACKEND_DATA, &b);
	if (rc == -ENOENT)
		return 0; /* reported by the structure check */
	if (rc < 0)
		return rc;
	if (pack_parse(&t, &nt, b.data, b.len) < 0) {
		bytes_release(&b);
		return 0; /* reported by the structure check */
	}
	j->read = 1;
	j->bytes = b.len;
	for (size_t i = 0; rc == 0 && i < nt; i++) {
		/* only what the index names matters: a blob a repair left out
		 * is garbage waiting for prune */
		if (!indexed_here(c, &t[i], j->pid))
			continue;
		const uint8_t *stored = b.data + t[i].offset;
		uint8_t ck16[16];
		j->blobs++;
		checksum128(ck16, stored, t[i].stored_len);
		int why = memcmp(ck16, t[i].cksum, 16) != 0 ? DMG_CHECKSUM : -1;
		if (why < 0 && w->rd) {
			int o = repo_session_open_stored(w->rd, t[i].type, t[i].id, stored,
							t[i].stored_len, t[i].raw_len, &w->plain);
			if (o == -ENOMEM)
				rc = o;
			why = o < 0 ? DMG_CONTENT : -1;
		}
		if (why >= 0 && rc == 0 &&
		    (rc = array_reserve(&j->dmg, &j->capdmg, j->ndmg + 1, sizeof(*j->dmg))) == 0) {
			memcpy(j->dmg[j->ndmg].id, t[i].id, 32);
			j->dmg[j->ndmg++].why = why;
		}
		rc = rc ?: interrupt_check();
	}
	free(t);
	bytes_release(&b);
	return rc;
}

/* A pack's findings, on the calling thread, in the order of the packs. */
static int report_pack(void *ud, void *job, int rc)
{
	ck *c = ud;
	ck_job *j = job;
	if (rc == 0 && j->read) {
		char hex[65], bhex[65];
		hex_encode(hex, j->pid, 32);
		c->res->packs_read++;
		c->res->bytes_read += j->bytes;
		c->res->blobs_read += j->blobs;
		for (size_t i = 0; rc == 0 && i < j->ndmg; i++) {
			hex_encode(bhex, j->dmg[i].id, 32);
			c->res->blobs_damaged++;
			problem(c, "blob %s in pack %s is damaged (%s)", bhex, hex,
				j->dmg[i].why == DMG_CHECKSUM ? "stored bytes do not match their checksum"
							      : "does not decrypt or re-hash to its id");
			rc = add_lost(c, j->dmg[i].id);
		}
	}
	free(j->dmg);
	free(j);
	return rc;
}

static int check_data(ck *c)
{
	int threads = c->o->threads > 0 ? c->o->threads : workq_default_threads();
	ordq_params p = { .threads = threads, .window = 2 * (size_t)threads, .work = read_pack,
			  .done = report_pack, .state_new = ck_worker_new,
			  .state_free = ck_worker_free, .arg = c, .ud = c };
	ordq *q = NULL;
	int rc = ordq_new(&q, &p);
	for (size_t i = 0; rc == 0 && i < c->all.npacks; i++) {
		if (!check_pack_is_selected(c->o, c->all.packs[i]))
			continue;
		ck_job *j = calloc(1, sizeof(*j));
		rc = j ? interrupt_check() : -ENOMEM;
		if (rc < 0) {
			free(j);
			break;
		}
		j->pid = c->all.packs[i];
		rc = ordq_submit(q, j);
	}
	int fin = q ? ordq_finish(q) : 0;
	rc = rc ?: fin;
	ordq_free(q);
	c->res->storage_checked = 1;
	c->res->content_checked = !repo_is_keyless(c->r);
	return rc;
}

/* ---------- which files are affected ---------- */

static void affected(ck *c, const snapshot *s, buf *path, const char *what)
{
	buf _cleanup_(buf_releasep) q = BUF_INIT;
	c->res->files_affected++;
	if (c->o->affected)
		c->o->affected(c->o->ud, s, quote_path(&q, path->data, path->len), what);
}

/* One directory of the walk: its tree, the next node, whether it reaches damage. */
typedef struct {
	tree t;
	uint8_t id[32];
	size_t next, path_len;
	int mine;
} ckframe;

/*
 * Sets f up to walk the tree id of the directory at path (1), or settles
 * it at once (0: known clean, lost, unreadable or nested too deeply;
 * *tainted set when it reaches damage).
 */
static int enter(ck *c, const snapshot *s, const uint8_t id[32], buf *path, size_t depth,
		 ckframe *f, int *tainted)
{
	if (idmap_get(&c->clean, id))
		return 0;
	if (idmap_get(&c->lost, id)) {
		affected(c, s, path, "directory lost");
		*tainted = 1;
		return 0;
	}
	int rc = treeio_load(c->r, id, &f->t);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		affected(c, s, path, "directory unreadable");
		*tainted = 1;
		return 0;
	}
	if ((rc = treeio_check_depth(&f->t, depth, path->data, path->len)) < 0) {
		/* not walked: reported as a problem of the snapshot, not a crash */
		char hex[65];
		hex_encode(hex, s->id, 32);
		problem(c, "snapshot %.8s: %s", hex, err_msg(rc));
		err_clear();
		tree_release(&f->t);
		*tainted = 1;
		return 0;
	}
	memcpy(f->id, id, 32);
	f->next = 0;
	f->path_len = path->len;
	f->mine = 0;
	return 1;
}

/*
 * Which files of snapshot s the lost blobs affect.  Iterative (frames on
 * the heap, at most TREE_MAX_DEPTH + 1), so the stack does not grow with
 * the depth; "clean" remembers trees that reach nothing lost, so shared
 * subtrees are walked once.
 */
static int walk(ck *c, const snapshot *s, buf *path, int *tainted)
{
	ckframe *f = calloc(TREE_MAX_DEPTH + 2, sizeof(*f));
	if (!f)
		return -ENOMEM;
	size_t top = 0;
	int rc = enter(c, s, s->tree, path, 0, &f[0], tainted);
	if (rc <= 0) {
		free(f);
		return rc;
	}
	for (rc = 0; rc == 0;) {
		ckframe *cur = &f[top];
		if (cur->next == cur->t.n) {
			idmap_slot *sl;
			if (!cur->mine)
				rc = idmap_put(&c->clean, cur->id, &sl, NULL);
			*(top ? &f[top - 1].mine : tainted) |= cur->mine;
			tree_release(&cur->t);
			if (top-- == 0)
				break;
			continue;
		}
		const tree_node *n = &cur->t.nodes[cur->next++];
		path->len = cur->path_len;
		rc = buf_append(path, "/", 1);
		rc = rc ?: buf_append(path, n->name, n->name_len);
		rc = rc ?: interrupt_check();
		if (rc < 0)
			break;
		if (n->type == NODE_FILE) {
			for (size_t k = 0; k < n->nsegs; k++) {
				const uint8_t *cid = n->segs[k].ref ? tree_child(&cur->t, n->segs[k].ref) : NULL;
				if (cid && idmap_get(&c->lost, cid)) {
					affected(c, s, path, "file contents lost");
					cur->mine = 1;
					break;
				}
			}
		} else if (n->type == NODE_DIR) {
			const uint8_t *sub = tree_child(&cur->t, n->subtree);
			rc = sub ? enter(c, s, sub, path, top + 1, &f[top + 1], &cur->mine) : 0;
			if (rc == 1) {
				top++;
				rc = 0;
			}
		}
	}
	for (size_t i = 0; i < TREE_MAX_DEPTH + 2; i++)
		tree_release(&f[i].t); /* frames left on an error; released ones are empty */
	free(f);
	return rc;
}

static int report_affected(ck *c)
{
	snapshot **v;
	size_t n, damaged;
	int rc = repo_load_snapshots(c->r, &v, &n, &damaged);
	if (rc < 0)
		return rc;
	buf _cleanup_(buf_releasep) path = BUF_INIT;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		int tainted = 0;
		path.len = 0;
		rc = walk(c, v[i], &path, &tainted);
		c->res->snapshots_affected += tainted;
	}
	repo_free_snapshots(v, n);
	return rc;
}

static int count_temporary(void *ud, const backend_entry *e)
{
	(void)e;
	((check_result *)ud)->temporaries++;
	return 0;
}

int check_run(repo *r, const check_opts *o, check_result *res)
{
	ck c;
	memset(&c, 0, sizeof(c));
	c.all.in_ram = 1; /* check_index reads the entries, grouped by pack */
	memset(res, 0, sizeof(*res));
	c.r = r;
	c.be = repo_backend(r);
	c.o = o;
	c.res = res;
	c.idx = repo_index(r);
	pthread_mutex_init(&c.idx_lock, NULL);
	char **dmg;
	size_t ndmg;
	index_set_damaged(c.idx, &dmg, &ndmg);
	res->index_files = index_set_file_count(c.idx) + ndmg;
	res->index_files_damaged = ndmg;
	for (size_t i = 0; i < ndmg; i++)
		problem(&c, "index file '%s' is damaged; run 'dvalin repair index'", dmg[i]);
	int rc = load_condemned(&c);
	rc = rc ?: check_index(&c);
	rc = rc ?: backend_list(c.be, "data", count_unindexed, &c);
	rc = rc ?: backend_leftovers(c.be, 0, count_temporary, res);
	if (rc == 0 && !repo_is_keyless(r)) {
		snapshot **v;
		size_t n, damaged;
		rc = repo_load_snapshots(r, &v, &n, &damaged);
		if (rc == 0) {
			repo_free_snapshots(v, n);
			res->snapshots_damaged = damaged;
			if (damaged)
				problem(&c, "%zu snapshot file(s) cannot be read: %s", damaged, err_msg(0));
		}
	}
	rc = rc ?: check_reachable(&c);
	if (rc == 0 && o->read_data)
		rc = check_data(&c);
	if (rc == 0 && c.lost.n && !repo_is_keyless(r))
		rc = report_affected(&c);
	idmap_release(&c.condemned);
	idmap_release(&c.indexed);
	idmap_release(&c.lost);
	idmap_release(&c.clean);
	index_set_free(c.cond);
	index_builder_release(&c.all);
	pthread_mutex_destroy(&c.idx_lock);
	return rc;
}
