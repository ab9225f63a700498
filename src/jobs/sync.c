/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sync: the job (sync.h has the steps and their order).  The walk runs
 * in the calling thread; the data packs are copied by a workq.  Bits kept
 * per source index position: visited (the marker's) and needed (ours).
 */
#include "sync.h"
#include "mark.h"
#include "syncsel.h"
#include "../base/checked.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/interrupt.h"
#include "../base/rate.h"
#include "../base/workq.h"
#include "../core/blob.h"
#include "../repo/gcrec.h"
#include "../repo/pack.h"
#include "../repo/session.h"
#include "../repo/snapshots.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TABLE_CACHE 8          /* source pack tables kept for checking trees */
#define RUN_MAX ((size_t)8 << 20)  /* one read of adjacent needed blobs */
#define RUN_GAP ((size_t)64 << 10) /* a gap this small is read over, not skipped */
#define ENTERED_BITS 16            /* ids the copy walk entered, remembered: 2 MiB */

enum { BAD_DAMAGED = 1, BAD_MISSING = 2 };
#define REASON_FORGOTTEN "it was forgotten at the source during the sync"

typedef struct {
	uint8_t id[32];
	pack_entry *e; /* sorted by offset */
	size_t n;
} table_slot;

/* An open pack for reading trees, per side (0 source, 1 destination). */
typedef struct {
	backend *be;
	backend_file *f;
	uint8_t id[32];
} open_file;

typedef struct {
	uint8_t id[32];
} pack_job;

typedef struct {
	repo *src, *dst;
	backend *sbe, *dbe;
	const sync_opts *o;
	sync_result *res;
	marker sm;            /* source sets and visited bits */
	marker dm;            /* what the destination's snapshots reach */
	int dm_trusted;       /* dm found nothing missing: a marked tree is complete */
	index_set *scond;
	uint8_t *need[3];     /* per source set: blobs to copy */
	idmap bad;            /* blob id -> BAD_* */
	repo_session *ds;     /* the walk's destination session */
	rate_limit rate;
	open_file open[2];
	table_slot tabs[TABLE_CACHE];
	unsigned next_tab;
	buf tmp;
	uint8_t (*stack)[32];
	size_t nstack, capstack;
	/*
	 * Ids the copy walk entered lately, by their first bits (a later one
	 * takes the slot): entering one again changes nothing, and most
	 * references a walk meets are of blobs an earlier snapshot's tree
	 * already had, so this spares their lookups in the source's index.
	 */
	uint8_t (*entered)[32];
	/* shared with the copy threads */
	pthread_mutex_t lock; /* res, bad, err */
	int err;
	char errmsg[512];
} syncer;

/* ---------- small helpers ---------- */

static void fail(syncer *s, int rc)
{
	pthread_mutex_lock(&s->lock);
	if (!s->err) {
		s->err = rc;
		snprintf(s->errmsg, sizeof(s->errmsg), "%s", err_msg(rc));
	}
	pthread_mutex_unlock(&s->lock);
}

static int failed(syncer *s)
{
	pthread_mutex_lock(&s->lock);
	int rc = s->err;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static void count(syncer *s, uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&s->lock);
	*field += n;
	pthread_mutex_unlock(&s->lock);
}

/* Records a blob that cannot be copied (the first reason sticks). */
static int bad_add(syncer *s, const uint8_t id[32], int why)
{
	idmap_slot *slot;
	int created;
	pthread_mutex_lock(&s->lock);
	int rc = idmap_put(&s->bad, id, &slot, &created);
	if (rc == 0 && created) {
		slot->val = (uint64_t)why;
		if (why == BAD_DAMAGED)
			s->res->blobs_damaged++;
		else
			s->res->blobs_missing++;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int bad_has(syncer *s, const uint8_t id[32])
{
	pthread_mutex_lock(&s->lock);
	int r = idmap_get(&s->bad, id) != NULL;
	pthread_mutex_unlock(&s->lock);
	return r;
}

static void source_read(syncer *s, uint64_t n)
{
	rate_take(&s->rate, n);
	count(s, &s->res->bytes_read, n);
}

/* ---------- reading trees ---------- */

static int cmp_offset(const void *a, const void *b)
{
	const pack_entry *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The source table of a pack, from the cache or read now. */
static int source_table(syncer *s, const uint8_t pack[32], table_slot **out)
{
	for (size_t i = 0; i < TABLE_CACHE; i++) {
		if (s->tabs[i].e && memcmp(s->tabs[i].id, pack, 32) == 0) {
			*out = &s->tabs[i];
			return 0;
		}
	}
	table_slot *t = &s->tabs[s->next_tab++ % TABLE_CACHE];
	free(t->e);
	t->e = NULL;
	int rc = pack_read_table(s->sbe, pack, &t->e, &t->n);
	if (rc < 0)
		return rc;
	source_read(s, t->n * PACK_ENTRY_LEN + PACK_TRAILER_LEN);
	qsort(t->e, t->n, sizeof(*t->e), cmp_offset);
	memcpy(t->id, pack, 32);
	*out = t;
	return 0;
}

/* The table entry of the blob id at offset in a cached table, or NULL. */
static const pack_entry *table_entry(const table_slot *t, const uint8_t id[32], uint64_t offset)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->e[mid].offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < t->n && t->e[lo].offset == offset && memcmp(t->e[lo].id, id, 32) == 0)
		return &t->e[lo];
	return NULL;
}

static int read_at(syncer *s, int side, const uint8_t pack[32], uint64_t off, uint32_t len)
{
	open_file *of = &s->open[side];
	if (!of->f || memcmp(of->id, pack, 32) != 0) {
		char name[80];
		backend_file_close(of->be, of->f);
		of->f = NULL;
		pack_name(name, pack);
		int rc = backend_open_read(of->be, name, BACKEND_META, &of->f, NULL);
		if (rc < 0)
			return rc;
		memcpy(of->id, pack, 32);
	}
	s->tmp.len = 0;
	int rc = buf_reserve(&s->tmp, len);
	rc = rc ?: backend_file_read(of->be, of->f, off, s->tmp.data, len);
	if (rc == 0)
		s->tmp.len = len;
	return rc;
}

/*
 * The stored bytes of tree id into s->tmp: from the destination when its
 * index has them (a copy a killed run made: nothing crosses the wire),
 * else from the source at sloc, checked against the source's table.
 * *present says the destination has the tree.  A tree that cannot be
 * read intact is recorded as bad and 1 is returned.
 */
static int read_tree(syncer *s, const uint8_t id[32], const index_loc *sloc, int *present)
{
	index_loc dl;
	*present = repo_has_blob(s->dst, id); /* notes the pack a snapshot will rely on */
	if (*present && index_set_lookup(repo_index(s->dst), id, &dl) == 0 && dl.pack_id &&
	    dl.type == BLOB_TREE && read_at(s, 1, dl.pack_id, dl.offset, dl.stored_len) == 0)
		return 0;
	err_clear();
	table_slot *t;
	int rc = source_table(s, sloc->pack_id, &t);
	if (rc == -ENOMEM)
		return rc;
	const pack_entry *e = rc == 0 ? table_entry(t, id, sloc->offset) : NULL;
	if (e && e->stored_len == sloc->stored_len && e->type == BLOB_TREE) {
		rc = read_at(s, 0, sloc->pack_id, sloc->offset, sloc->stored_len);
		if (rc == -ENOMEM)
			return rc;
		if (rc == 0) {
			source_read(s, sloc->stored_len);
			if (pack_entry_is_intact(e, s->tmp.data))
				return 0;
		}
	}
	err_clear();
	return bad_add(s, id, BAD_DAMAGED) ?: 1;
}

/* ---------- the walk ---------- */

enum { WALK_COPY, WALK_CHECK };

static int push(syncer *s, const uint8_t id[32])
{
	int rc = array_reserve(&s->stack, &s->capstack, s->nstack + 1, 32);
	if (rc == 0)
		memcpy(s->stack[s->nstack++], id, 32);
	return rc;
}

/* The destination's snapshots reach the tree: everything below it is stored there. */
static int complete_at_dst(syncer *s, const uint8_t id[32])
{
	return s->dm_trusted && mark_is_marked(&s->dm, id);
}

/*
 * One reference met by the walk (a root or a child).  Copy: a blob not
 * seen yet that the destination lacks is queued (a tree) or noted as
 * needed (data).  Check: *tainted when it is bad.
 */
static int enter_once(syncer *s, const uint8_t id[32], int mode, int *tainted);

static int enter(syncer *s, const uint8_t id[32], int mode, int *tainted)
{
	/* only the copy walk: a check walk must meet a bad blob in every snapshot */
	if (mode != WALK_COPY || !s->entered)
		return enter_once(s, id, mode, tainted);
	uint64_t h;
	memcpy(&h, id, sizeof(h));
	uint8_t *slot = s->entered[h & ((1u << ENTERED_BITS) - 1)];
	if (memcmp(slot, id, 32) == 0)
		return 0;
	int rc = enter_once(s, id, mode, tainted);
	if (rc == 0)
		memcpy(slot, id, 32);
	return rc;
}

static int enter_once(syncer *s, const uint8_t id[32], int mode, int *tainted)
{
	index_loc loc;
	int set;
	if (bad_has(s, id)) {
		*tainted = 1;
		return 0;
	}
	if (mark_find(&s->sm, id, &loc, &set) < 0) {
		/* not in the source: fine only if the destination needs nothing more */
		index_loc dl;
		if (index_set_lookup(repo_index(s->dst), id, &dl) == 0 &&
		    (dl.type == BLOB_DATA || complete_at_dst(s, id))) {
			if (mode == WALK_COPY)
				repo_has_blob(s->dst, id);
			return 0;
		}
		*tainted = 1;
		return bad_add(s, id, BAD_MISSING);
	}
	if (!mark_set(mark_bits(&s->sm, set), loc.pos))
		return 0; /* seen */
	if (loc.type == BLOB_TREE) {
		if (complete_at_dst(s, id)) {
			if (mode == WALK_COPY)
				repo_has_blob(s->dst, id);
			return 0;
		}
		return push(s, id);
	}
	if (mode == WALK_CHECK)
		return 0;
	if (repo_has_blob(s->dst, id)) {
		s->res->blobs_present++;
		return 0;
	}
	mark_set(s->need[set], loc.pos);
	s->res->bytes_needed += loc.stored_len;
	if (s->o->progress)
		atomic_fetch_add(&s->o->progress->est_bytes, loc.stored_len);
	return 0;
}

/* Reads one queued tree, copies it if the destination lacks it, enters its children. */
static int visit(syncer *s, const uint8_t id[32], int mode, int *tainted)
{
	index_loc loc;
	int set, present;
	if (mark_find(&s->sm, id, &loc, &set) < 0)
		return 0; /* entered only when found */
	int rc = read_tree(s, id, &loc, &present);
	if (rc != 0) {
		*tainted = 1;
		return rc < 0 ? rc : 0;
	}
	const uint8_t *ids;
	uint32_t n;
	if (blob_children(&ids, &n, s->tmp.data, s->tmp.len) < 0) {
		*tainted = 1;
		return bad_add(s, id, BAD_DAMAGED);
	}
	if (mode == WALK_COPY) {
		s->res->trees_walked++;
		if (!present) {
			s->res->bytes_needed += s->tmp.len;
			if (!s->o->dry_run) {
				rc = repo_session_save_stored(s->ds, BLOB_TREE, id, s->tmp.data, s->tmp.len,
							      loc.raw_len);
				if (rc < 0)
					return rc;
			}
			s->res->trees_copied++;
			if (s->o->progress) {
				atomic_fetch_add(&s->o->progress->files, 1);
				atomic_fetch_add(&s->o->progress->bytes, s->tmp.len);
			}
		}
	}
	/* ids point into tmp; enter() reads no blob, so they stay valid */
	for (uint32_t i = 0; rc == 0 && i < n; i++)
		rc = enter(s, ids + (size_t)i * 32, mode, tainted);
	return rc ?: interrupt_check();
}

static int walk(syncer *s, const uint8_t root[32], int mode, int *tainted)
{
	int rc = enter(s, root, mode, tainted);
	while (rc == 0 && s->nstack) {
		uint8_t id[32];
		memcpy(id, s->stack[--s->nstack], 32);
		rc = visit(s, id, mode, tainted);
	}
	s->nstack = 0;
	return rc;
}

/* ---------- copying data packs ---------- */

/* Whether the source entry e of pack pid is one the walk noted as needed. */
static int needed(const syncer *s, const uint8_t pid[32], const pack_entry *e)
{
	index_loc loc;
	int set;
	return mark_find(&s->sm, e->id, &loc, &set) == 0 && memcmp(loc.pack_id, pid, 32) == 0 &&
	       loc.offset == e->offset && mark_test(s->need[set], loc.pos);
}

typedef struct {
	syncer *s;
	repo_session *ds;
	buf run;
} copier;

static int copier_new(void **out, void *arg)
{
	copier *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->s = arg;
	int rc = repo_session_new(&c->ds, c->s->dst);
	if (rc < 0) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

static void copier_free(void *p)
{
	copier *c = p;
	repo_session_free(c->ds);
	buf_release(&c->run);
	free(c);
}

/* Stores one checked blob (or records it as bad). */
static int copy_blob(copier *c, const pack_entry *e, const uint8_t *stored)
{
	syncer *s = c->s;
	if (!pack_entry_is_intact(e, stored))
		return bad_add(s, e->id, BAD_DAMAGED);
	int rc = repo_session_save_stored(c->ds, e->type, e->id, stored, e->stored_len, e->raw_len);
	if (rc == 0) {
		count(s, &s->res->blobs_copied, 1);
		if (s->o->progress) {
			atomic_fetch_add(&s->o->progress->files, 1);
			atomic_fetch_add(&s->o->progress->bytes, e->stored_len);
		}
	}
	return rc;
}

/*
 * Every blob of the pack is needed: the whole file, checked (its table
 * against its name, each blob against its table), under its name.  A file
 * that fails the check has its intact blobs copied one by one.
 */
static int copy_whole(copier *c, const uint8_t pid[32], const char *name, pack_entry *t, size_t nt)
{
	syncer *s = c->s;
	bytes b = BYTES_INIT;
	pack_entry *own = NULL;
	size_t nown = 0;
	int rc = backend_get(s->sbe, name, BACKEND_DATA, &b);
	if (rc < 0)
		return rc;
	source_read(s, b.len);
	int intact = pack_parse(&own, &nown, b.data, b.len) == 0 && nown == nt &&
		     pack_is_named(b.data, b.len, nown, pid);
	for (size_t i = 0; intact && i < nown; i++)
		intact = pack_entry_is_intact(&own[i], b.data + own[i].offset);
	if (intact) {
		rc = repo_add_stored_pack(s->dst, pid, b.data, b.len, own, nown);
		if (rc == 0) {
			count(s, &s->res->packs_reused, 1);
			count(s, &s->res->blobs_copied, nown);
			if (s->o->progress) {
				atomic_fetch_add(&s->o->progress->files, nown);
				atomic_fetch_add(&s->o->progress->bytes, b.len);
			}
		}
	} else {
		count(s, &s->res->packs_repacked, 1);
		for (size_t i = 0; rc == 0 && i < nt; i++)
			rc = t[i].offset + t[i].stored_len <= b.len
				     ? copy_blob(c, &t[i], b.data + t[i].offset)
				     : bad_add(s, t[i].id, BAD_DAMAGED);
	}
	free(own);
	bytes_release(&b);
	return rc;
}

/* Some blobs are needed: read in runs of adjacent ones, checked one by one. */
static int copy_some(copier *c, const char *name, pack_entry *t, const uint8_t *want, size_t nt)
{
	syncer *s = c->s;
	backend_file *f;
	int rc = backend_open_read(s->sbe, name, BACKEND_DATA, &f, NULL);
	if (rc < 0)
		return rc;
	count(s, &s->res->packs_repacked, 1);
	for (size_t i = 0; rc == 0 && i < nt;) {
		if (!want[i]) {
			i++;
			continue;
		}
		/* a run: from t[i] on, while the next wanted blob is close and the run small */
		size_t j = i + 1, last = i;
		uint64_t start = t[i].offset, end = start + t[i].stored_len;
		for (; j < nt; j++) {
			if (!want[j])
				continue;
			uint64_t e2 = t[j].offset + t[j].stored_len;
			if (t[j].offset < end || t[j].offset - end > RUN_GAP || e2 - start > RUN_MAX)
				break;
			end = e2;
			last = j;
		}
		c->run.len = 0;
		rc = buf_reserve(&c->run, (size_t)(end - start));
		rc = rc ?: backend_file_read(s->sbe, f, start, c->run.data, (size_t)(end - start));
		if (rc == 0)
			source_read(s, end - start);
		for (size_t k = i; rc == 0 && k <= last; k++)
			if (want[k])
				rc = copy_blob(c, &t[k], c->run.data + (t[k].offset - start));
		rc = rc ?: interrupt_check();
		i = last + 1;
	}
	backend_file_close(s->sbe, f);
	return rc;
}

struct lost_ctx {
	syncer *s;
	const uint8_t *pid;
};

static int lose_entry(void *ud, const uint8_t *id, const index_loc *loc)
{
	struct lost_ctx *l = ud;
	int set;
	index_loc cur;
	if (memcmp(loc->pack_id, l->pid, 32) != 0 || mark_find(&l->s->sm, id, &cur, &set) < 0 ||
	    memcmp(cur.pack_id, l->pid, 32) != 0 || !mark_test(l->s->need[set], cur.pos))
		return 0;
	return bad_add(l->s, id, BAD_MISSING);
}

/* A pack whose table cannot be read: everything needed from it is lost. */
static int lose_pack(syncer *s, const uint8_t pid[32])
{
	struct lost_ctx l = { s, pid };
	const index_set *sets[] = { s->sm.main, s->sm.cond, s->sm.late };
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < 3; i++)
		if (sets[i])
			rc = index_set_foreach(sets[i], lose_entry, &l);
	return rc;
}

static int copy_pack(copier *c, const uint8_t pid[32])
{
	syncer *s = c->s;
	char name[80];
	pack_entry *t = NULL;
	size_t nt = 0, k = 0;
	pack_name(name, pid);
	int rc = pack_read_table(s->sbe, pid, &t, &nt);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		err_clear();
		return lose_pack(s, pid);
	}
	source_read(s, nt * PACK_ENTRY_LEN + PACK_TRAILER_LEN);
	qsort(t, nt, sizeof(*t), cmp_offset);
	uint8_t *want = calloc(nt ? nt : 1, 1);
	if (!want)
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < nt; i++)
		k += want[i] = (uint8_t)needed(s, pid, &t[i]);
	if (rc == 0 && k && s->o->dry_run) {
		/* a dry run reads tables, never data */
		count(s, k == nt ? &s->res->packs_reused : &s->res->packs_repacked, 1);
		count(s, &s->res->blobs_copied, k);
	} else if (rc == 0 && k == nt && nt) {
		rc = copy_whole(c, pid, name, t, nt);
	} else if (rc == 0 && k) {
		rc = copy_some(c, name, t, want, nt);
	}
	free(want);
	free(t);
	return rc;
}

static void copy_job(void *state, void *job)
{
	copier *c = state;
	pack_job *j = job;
	if (!failed(c->s)) {
		int rc = interrupt_check();
		rc = rc ?: copy_pack(c, j->id);
		if (rc < 0)
			fail(c->s, rc);
	}
	free(j);
}

struct plan_ctx {
	syncer *s;
	const uint8_t *need;
	uint64_t npos;
	idmap *packs;
};

static int plan_entry(void *ud, const uint8_t *id, const index_loc *loc)
{
	struct plan_ctx *p = ud;
	idmap_slot *slot;
	(void)id;
	if (loc->pos >= p->npos || !mark_test(p->need, loc->pos))
		return 0;
	return idmap_put(p->packs, loc->pack_id, &slot, NULL);
}

/* The packs holding needed blobs, each copied by a thread of the pool. */
static int copy_data(syncer *s)
{
	idmap packs = IDMAP_INIT;
	const index_set *sets[] = { s->sm.main, s->sm.cond, s->sm.late };
	const uint64_t npos[] = { s->sm.npos_main, s->sm.npos_cond, s->sm.npos_late };
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < 3; i++) {
		struct plan_ctx p = { s, s->need[i], npos[i], &packs };
		if (sets[i])
			rc = index_set_foreach(sets[i], plan_entry, &p);
	}
	int threads = s->o->threads > 0 ? s->o->threads : workq_default_threads();
	workq *q = NULL;
	workq_params wp = { threads, (size_t)threads * 2, copy_job, copier_new, copier_free, s };
	if (rc == 0 && packs.n)
		rc = workq_new(&q, &wp);
	for (size_t i = 0; rc == 0 && i < packs.cap; i++) {
		if (!packs.slots[i].used)
			continue;
		pack_job *j = malloc(sizeof(*j));
		if (!j) {
			rc = -ENOMEM;
			break;
		}
		memcpy(j->id, packs.slots[i].id, 32);
		rc = workq_submit(q, j);
		if (rc < 0)
			free(j);
		rc = rc ?: failed(s);
	}
	workq_free(q);
	idmap_release(&packs);
	if (rc < 0)
		fail(s, rc);
	return failed(s);
}

/* ---------- snapshots ---------- */

static sync_snapshot *note(sync_result *res, const snapshot_header *h, int state)
{
	if (array_reserve(&res->v, &res->cap, res->n + 1, sizeof(*res->v)) < 0)
		return NULL;
	sync_snapshot *x = &res->v[res->n++];
	memset(x, 0, sizeof(*x));
	memcpy(x->id, h->id, 32);
	memcpy(x->tree, h->tree, 32);
	x->has_time = h->has_plain;
	x->time = h->time;
	x->time_nsec = h->time_nsec;
	x->tz_offset = h->tz_offset;
	x->state = state;
	return x;
}

static int add_id(void *ud, const snapshot_header *h)
{
	idmap_slot *s;
	return idmap_put(ud, h->id, &s, NULL);
}

/* A bad blob, named for the message. */
static void why_skipped(syncer *s, char *out, size_t cap)
{
	for (size_t i = 0; i < s->bad.cap; i++) {
		const idmap_slot *b = &s->bad.slots[i];
		if (!b->used)
			continue;
		char hex[65];
		hex_encode(hex, b->id, 32);
		snprintf(out, cap, "it needs blob '%.16s', which is %s in the source%s", hex,
			 b->val == BAD_DAMAGED ? "damaged (its stored bytes do not match their checksum)"
					       : "missing",
			 s->bad.n > 1 ? " (and others)" : "");
		return;
	}
	snprintf(out, cap, "it needs blobs the source cannot give");
}

/* Copies one snapshot file, as it is, with the destination's commit check. */
static int commit_one(syncer *s, sync_snapshot *x)
{
	char name[80], hex[65];
	bytes b = BYTES_INIT;
	uint8_t got[32];
	hex_encode(hex, x->id, 32);
	snprintf(name, sizeof(name), "snapshots/%s", hex);
	int rc = backend_get(s->sbe, name, BACKEND_META, &b);
	if (rc == -ENOENT) {
		/* forgotten at the source meanwhile: nothing to copy */
		err_clear();
		x->state = SYNC_SKIPPED;
		snprintf(x->reason, sizeof(x->reason), "%s", REASON_FORGOTTEN);
		return 0;
	}
	if (rc < 0)
		return rc;
	source_read(s, b.len);
	crypto_sha256(got, b.data, b.len);
	if (memcmp(got, x->id, 32) != 0) {
		x->state = SYNC_SKIPPED;
		snprintf(x->reason, sizeof(x->reason), "its file in the source does not match its name");
		bytes_release(&b);
		return 0;
	}
	rc = repo_put_snapshot_file(s->dst, b.data, b.len, got);
	if (rc == 0)
		s->res->bytes_written += b.len;
	bytes_release(&b);
	return rc;
}

static int copy_protection(syncer *s)
{
	idmap sp = IDMAP_INIT, dp = IDMAP_INIT;
	int rc = repo_load_protected(s->src, &sp);
	rc = rc ?: repo_load_protected(s->dst, &dp);
	for (size_t i = 0; rc == 0 && i < s->res->n; i++) {
		const sync_snapshot *x = &s->res->v[i];
		if ((x->state != SYNC_COPIED && x->state != SYNC_PRESENT) || !idmap_get(&sp, x->id) ||
		    idmap_get(&dp, x->id))
			continue;
		rc = s->o->dry_run ? 0 : repo_set_protected(s->dst, x->id, 1);
		s->res->protected_marks += rc == 0;
	}
	idmap_release(&sp);
	idmap_release(&dp);
	return rc;
}

/* What the source no longer has goes (remove_vanished); protected ones stay. */
static int remove_vanished(syncer *s, const syncsel_item *src, size_t nsrc)
{
	idmap have = IDMAP_INIT;
	syncsel_item *d = NULL;
	size_t nd = 0, dmg = 0;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < nsrc; i++) {
		idmap_slot *slot;
		rc = idmap_put(&have, src[i].h.id, &slot, NULL);
	}
	rc = rc ?: syncsel_load(s->dst, &d, &nd, &dmg);
	if (rc == 0 && syncsel_needs_key(s->o) && nd && !d[0].s)
		rc = err_set(-DV_EUSAGE, "--remove-vanished with --host, --path or --tag needs the password of the destination too");
	idmap prot = IDMAP_INIT;
	rc = rc ?: repo_load_protected(s->dst, &prot);
	for (size_t i = 0; rc == 0 && i < nd; i++) {
		if (idmap_get(&have, d[i].h.id) || (d[i].s && !syncsel_matches(d[i].s, s->o)))
			continue;
		int r = idmap_get(&prot, d[i].h.id) ? -EPERM
			: s->o->dry_run		    ? 0
						    : repo_forget_snapshot(s->dst, d[i].h.id);
		if (r == -EPERM) {
			err_clear();
			note(s->res, &d[i].h, SYNC_KEPT_PROTECTED);
			s->res->kept_protected++;
		} else if (r == 0 || r == -ENOENT) {
			note(s->res, &d[i].h, SYNC_REMOVED);
			s->res->removed++;
		} else {
			rc = r;
		}
	}
	syncsel_free(d, nd);
	idmap_release(&have);
	idmap_release(&prot);
	return rc;
}

/* ---------- the run ---------- */

static int same_repository(repo *src, repo *dst)
{
	const repo_config *a = repo_get_config(src), *b = repo_get_config(dst);
	char ha[65], hb[65];
	hex_encode(ha, a->id, 32);
	hex_encode(hb, b->id, 32);
	if (memcmp(a->id, b->id, 32) != 0)
		return err_set(-EXDEV, "'%s' is not a replica of '%s' (repository ids %.8s and %.8s differ): sync copies only between replicas; make one with 'dvalin init --replica-of %s %s'",
			       repo_location(dst), repo_location(src), hb, ha, repo_location(src),
			       repo_location(dst));
	if (memcmp(&a->chunker, &b->chunker, sizeof(a->chunker)) != 0)
		return err_set(-EXDEV, "'%s' and '%s' have the same id but different chunker parameters: one of their config files was changed",
			       repo_location(src), repo_location(dst));
	return 0;
}

static int setup_source(syncer *s)
{
	/* the walk and the copy look up every blob: one search, not one per file */
	int rc = index_set_merge(repo_index(s->src));
	rc = rc ?: index_set_new(&s->scond);
	rc = rc ?: gc_condemned_load(s->sbe, NULL, s->scond, NULL);
	rc = rc ?: mark_init(&s->sm, s->sbe, repo_index(s->src), s->scond);
	rc = rc ?: mark_load_late(&s->sm);
	const uint64_t npos[] = { s->sm.npos_main, s->sm.npos_cond, s->sm.npos_late };
	for (size_t i = 0; rc == 0 && i < 3; i++)
		if (!(s->need[i] = calloc(npos[i] / 8 + 1, 1)))
			rc = -ENOMEM;
	/* all zeros is no id: blob ids are keyed hashes */
	if (rc == 0 && !(s->entered = calloc((size_t)1 << ENTERED_BITS, 32)))
		rc = -ENOMEM;
	return rc;
}

/* The destination: what its snapshots reach, then packs left by killed runs. */
static int setup_destination(syncer *s)
{
	int rc = index_set_merge(repo_index(s->dst));
	rc = rc ?: mark_init(&s->dm, s->dbe, repo_index(s->dst), NULL);
	rc = rc ?: mark_snapshots(&s->dm, s->dst);
	/* a destination that lost blobs is walked in full, which restores them */
	s->dm_trusted = rc == 0 && !s->dm.missing && !s->dm.unreadable;
	rc = rc ?: repo_adopt_unindexed_packs(s->dst, &s->res->packs_adopted);
	/* sync reads back no blob it stores (read_tree falls back to the
	 * source for a pending one): its packs are flushed a batch at a time */
	repo_batch_packs(s->dst);
	return rc ?: repo_session_new(&s->ds, s->dst);
}

/*
 * A snapshot forgotten at the source during the sync may have lost its
 * packs to a source prune (docs/concurrency.md, "Sync"): that is said as
 * what it is, not as damage.
 */
static int forgotten_meanwhile(syncer *s, sync_snapshot *x)
{
	char name[80], hex[65];
	uint64_t sz;
	hex_encode(hex, x->id, 32);
	snprintf(name, sizeof(name), "snapshots/%s", hex);
	int rc = backend_size(s->sbe, name, &sz);
	if (rc == -ENOENT) {
		err_clear();
		snprintf(x->reason, sizeof(x->reason), "%s", REASON_FORGOTTEN);
		return 0;
	}
	return rc < 0 ? rc : 0;
}

/* Marks the snapshots that reach a bad blob as skipped (a walk each). */
static int attribute_damage(syncer *s, sync_snapshot **todo, size_t ntodo)
{
	const uint64_t npos[] = { s->sm.npos_main, s->sm.npos_cond, s->sm.npos_late };
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < ntodo; i++) {
		for (int k = 0; k < 3; k++)
			if (mark_bits(&s->sm, k))
				memset(mark_bits(&s->sm, k), 0, npos[k] / 8 + 1);
		int tainted = 0;
		rc = walk(s, todo[i]->tree, WALK_CHECK, &tainted);
		if (rc == 0 && tainted) {
			todo[i]->state = SYNC_SKIPPED;
			why_skipped(s, todo[i]->reason, sizeof(todo[i]->reason));
			rc = forgotten_meanwhile(s, todo[i]);
		}
	}
	return rc;
}

static int run(syncer *s)
{
	const sync_opts *o = s->o;
	sync_result *res = s->res;
	syncsel_item *v = NULL;
	size_t n = 0, damaged = 0;
	idmap at_dst = IDMAP_INIT;
	_cleanup_free_ sync_snapshot **todo = NULL;
	size_t ntodo = 0;
	if (o->remove_vanished && (o->nids || o->latest))
		return err_set(-DV_EUSAGE, "--remove-vanished goes with all snapshots or with --host, --path and --tag, not with --snapshot or --latest");
	int rc = same_repository(s->src, s->dst);
	rc = rc ?: syncsel_load(s->src, &v, &n, &damaged);
	rc = rc ?: syncsel_apply(v, n, o);
	rc = rc ?: repo_list_snapshot_headers(s->dst, add_id, &at_dst, NULL);
	if (rc == 0 && !(todo = calloc(n ? n : 1, sizeof(*todo))))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!v[i].selected)
			continue;
		res->selected++;
		int here = idmap_get(&at_dst, v[i].h.id) != NULL;
		sync_snapshot *x = note(res, &v[i].h, here ? SYNC_PRESENT : SYNC_COPIED);
		if (!x) {
			rc = -ENOMEM;
			break;
		}
		res->present += here;
		if (!here)
			ntodo++;
	}
	/* pointers into res->v only once it stops growing */
	for (size_t i = 0, k = 0; rc == 0 && i < res->n; i++)
		if (res->v[i].state == SYNC_COPIED)
			todo[k++] = &res->v[i];
	if (o->progress) {
		atomic_store(&o->progress->est_steps, ntodo);
	}
	if (rc == 0 && ntodo) {
		rc = setup_destination(s);
		rc = rc ?: setup_source(s);
	}
	for (size_t i = 0; rc == 0 && i < ntodo; i++) {
		int tainted = 0;
		rc = walk(s, todo[i]->tree, WALK_COPY, &tainted);
		if (o->progress)
			atomic_fetch_add(&o->progress->steps, 1);
	}
	if (rc == 0 && ntodo)
		rc = copy_data(s);
	if (rc == 0 && ntodo && !o->dry_run)
		rc = repo_flush(s->dst);
	if (rc == 0 && s->bad.n)
		rc = attribute_damage(s, todo, ntodo);
	for (size_t i = 0; rc == 0 && i < ntodo; i++) {
		if (todo[i]->state == SYNC_SKIPPED) {
			res->skipped++;
			continue;
		}
		rc = o->dry_run ? 0 : commit_one(s, todo[i]);
		if (rc == 0 && todo[i]->state == SYNC_SKIPPED)
			res->skipped++;
		else if (rc == 0)
			res->copied++;
	}
	rc = rc ?: copy_protection(s);
	if (rc == 0 && o->remove_vanished) {
		if (damaged)
			rc = err_set(-DV_ECORRUPT, "%zu snapshot file(s) of the source cannot be read: --remove-vanished would remove their copies, so nothing was removed (run 'dvalin check' on the source)",
				     damaged);
		else
			rc = remove_vanished(s, v, n);
	}
	res->at_destination = at_dst.n + res->copied - res->removed;
	res->bytes_written += repo_bytes_added(s->dst);
	if (rc == 0 && !o->dry_run)
		rc = index_set_session_packs(repo_index(s->dst), &res->packs);
	res->packs_written = res->packs.n;
	idmap_release(&at_dst);
	syncsel_free(v, n);
	if (rc == 0 && res->skipped) {
		const sync_snapshot *first = NULL;
		for (size_t i = 0; !first && i < res->n; i++)
			if (res->v[i].state == SYNC_SKIPPED)
				first = &res->v[i];
		char hex[65];
		hex_encode(hex, first->id, 32);
		rc = err_set(-DV_ECORRUPT, "%llu snapshot(s) not copied, the first '%.8s': %s",
			     (unsigned long long)res->skipped, hex, first->reason);
	}
	return rc;
}

int sync_run(repo *src, repo *dst, const sync_opts *o, sync_result *res)
{
	syncer s;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&s, 0, sizeof(s));
	memset(res, 0, sizeof(*res));
	res->packs = (idmap)IDMAP_INIT;
	s.src = src;
	s.dst = dst;
	s.sbe = repo_backend(src);
	s.dbe = repo_backend(dst);
	s.o = o;
	s.res = res;
	s.bad = (idmap)IDMAP_INIT;
	s.open[0].be = s.sbe;
	s.open[1].be = s.dbe;
	pthread_mutex_init(&s.lock, NULL);
	rate_init(&s.rate, o->limit_rate);
	if (o->progress) {
		o->progress->unit = "blobs";
		o->progress->steps_unit = "snapshots";
	}
	int rc = run(&s);
	/* a copy thread's failure: its message was set in that thread */
	if (s.err && (rc == 0 || rc == s.err))
		rc = err_set(s.err, "%s", s.errmsg);
	for (size_t i = 0; i < 2; i++)
		backend_file_close(s.open[i].be, s.open[i].f);
	for (size_t i = 0; i < TABLE_CACHE; i++)
		free(s.tabs[i].e);
	for (size_t i = 0; i < 3; i++)
		free(s.need[i]);
	repo_session_free(s.ds);
	mark_release(&s.sm);
	mark_release(&s.dm);
	index_set_free(s.scond);
	idmap_release(&s.bad);
	buf_release(&s.tmp);
	free(s.stack);
	free(s.entered);
	rate_release(&s.rate);
	pthread_mutex_destroy(&s.lock);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	res->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return rc;
}

void sync_result_release(sync_result *res)
{
	free(res->v);
	idmap_release(&res->packs);
	memset(res, 0, sizeof(*res));
}

int sync_verify(repo *dst, const sync_result *res, check_opts *o, check_result *out)
{
	o->read_data = 1;
	o->packs = &res->packs;
	o->evict = 1;
	return check_run(dst, o, out);
}
