/* SPDX-License-Identifier: BSD-2-Clause */
#include "gc.h"
#include "mark.h"
#include "../base/checked.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/idmap.h"
#include "../base/interrupt.h"
#include "../base/ordq.h"
#include "../base/workq.h"
#include "../base/log.h"
#include "../core/blob.h"
#include "../core/checksum.h"
#include "../core/crypto.h"
#include "../repo/format.h"
#include "../repo/gcrec.h"
#include "../repo/gcrule.h"
#include "../repo/pack.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KEEP, CONDEMN, REPACK };

typedef struct {
	uint8_t id[32];
	uint64_t total, used; /* stored bytes of its index entries */
	uint32_t n, nused;
	int64_t mtime_ns;
	uint64_t size;
	int action;
} pack_acct;

/* A pack as the listing of data/ gave it (mtime_ns 0: the listing did not tell). */
typedef struct {
	uint8_t id[32];
	uint64_t size;
	int64_t mtime_ns;
} listed_pack;

typedef struct {
	repo *r;
	backend *be;
	const gc_opts *o;
	gc_result *res;
	idmap packs; /* pack id -> position in acct */
	pack_acct *acct;
	size_t nacct, capacct;
	marker m;
	int64_t cutoff_ns;
	index_builder ib; /* the new index */
	idmap listed;      /* pack id -> position in lv: the packs data/ holds */
	listed_pack *lv;
	size_t nlv, caplv;
	int have_list;
} gc;

/* ---------- leases ---------- */

/*
 * The live leases other than ours, summarised (gcrule.h); stale lease
 * files are removed when remove_stale is set.  Each file's storage time is
 * read too: it is what lets an untrusted lease expire, and what keeps a
 * lease whose writer's clock is behind from being taken for stale.  An
 * untrusted live lease protects everything, and is reported when report
 * is set (once per prune).
 */
static int live_leases(repo *r, int remove_stale, int report, gcrule_horizon *out,
		       uint64_t *nstale)
{
	lease_info *v;
	gcrule_verdict *verdict;
	uint8_t *gone;
	size_t n;
	const char *mine = repo_lease(r) ? lease_name(repo_lease(r)) : NULL;
	int rc = lease_judge(repo_backend(r), mine, &v, &verdict, &gone, &n, out);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const gcrule_verdict *d = &verdict[i];
		const char *why = gcrule_trust_reason(d->trust);
		if (d->stale) {
			if (d->trust != GCRULE_TRUSTED && report)
				log_warn("lease file '%s' is damaged (%s) and nothing rewrote it for longer than the lease expiry: %s",
					 v[i].name, why, remove_stale ? "removed" : "it no longer counts");
			if (remove_stale && backend_remove(repo_backend(r), v[i].name) == 0 && nstale)
				(*nstale)++;
		} else if (d->trust != GCRULE_TRUSTED && report) {
			log_warn("lease file '%s' is damaged (%s): it counts as a process running since the beginning of time, so nothing is condemned or deleted until it is removed or nothing rewrites it for the lease expiry",
				 v[i].name, why);
		}
	}
	free(v);
	free(verdict);
	free(gone);
	return 0;
}

/*
 * Right before a deletion: this prune's lease is still live and still
 * the one exclusive lease (docs/concurrency.md, "A prune that stalls").
 * A prune stalled past its lease (stopped, a laptop suspended) may have
 * been taken for dead by another prune, repair or unlock meanwhile; it
 * stops there, deleting nothing, and leaves what it wrote for the next
 * prune (as a crash would: its notice included, which may now be that
 * other prune's).  A repository opened without a lease (none to lose)
 * has nothing to confirm.
 */
static int still_ours(gc *g, const char *what)
{
	lease *l = repo_lease(g->r);
	int rc = l ? lease_confirm_exclusive(l) : 0;
	if (rc < 0) {
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", err_msg(rc));
		return err_set(rc, "prune stopped before deleting %s: %s", what, msg);
	}
	return 0;
}

/* ---------- accounting ---------- */

static int acct_for(gc *g, const uint8_t id[32], pack_acct **out)
{
	idmap_slot *s;
	int created;
	int rc = idmap_put(&g->packs, id, &s, &created);
	if (rc < 0)
		return rc;
	if (created) {
		if ((rc = array_reserve(&g->acct, &g->capacct, g->nacct + 1, sizeof(*g->acct))) < 0)
			return rc;
		memset(&g->acct[g->nacct], 0, sizeof(*g->acct));
		memcpy(g->acct[g->nacct].id, id, 32);
		s->val = g->nacct++;
	}
	*out = &g->acct[s->val];
	return 0;
}

static int note_acct(void *ud, const uint8_t *id, const index_loc *loc)
{
	pack_acct *a;
	(void)id;
	return acct_for(ud, loc->pack_id, &a);
}

static int count_entry(void *ud, const uint8_t *id, const index_loc *loc)
{
	gc *g = ud;
	pack_acct *a;
	(void)id;
	int rc = acct_for(g, loc->pack_id, &a);
	if (rc < 0)
		return rc;
	a->n++;
	a->total += loc->stored_len;
	if (mark_test(g->m.bits_main, loc->pos)) {
		a->nused++;
		a->used += loc->stored_len;
	}
	return 0;
}

/* ---------- the packs in data/ ---------- */

/*
 * A prune learns the size and storage time of every pack from one listing
 * of data/ rather than a stat per pack: on object storage a page of 1,000
 * names costs what one HEAD costs.
 */
static int note_listed(void *ud, const backend_entry *e)
{
	gc *g = ud;
	uint8_t id[32];
	const char *base = strrchr(e->name, '/');
	if (!base || strlen(base + 1) != 64 || hex_decode(id, base + 1, 32) < 0)
		return 0;
	idmap_slot *s;
	int created;
	int rc = idmap_put(&g->listed, id, &s, &created);
	if (rc < 0 || !created)
		return rc;
	if ((rc = array_reserve(&g->lv, &g->caplv, g->nlv + 1, sizeof(*g->lv))) < 0)
		return rc;
	listed_pack *l = &g->lv[g->nlv];
	memcpy(l->id, id, 32);
	l->size = e->size;
	l->mtime_ns = e->mtime_ns;
	s->val = g->nlv++;
	return 0;
}

static int list_packs(gc *g)
{
	if (g->have_list)
		return 0;
	int rc = backend_list(g->be, "data", note_listed, g);
	g->have_list = rc == 0;
	return rc;
}

/*
 * The size and storage time of pack id: from the listing where it has
 * them, else (not listed: written or deleted since; or a listing without
 * times) from a stat.
 */
static int stat_pack(gc *g, const uint8_t id[32], backend_stat_t *st)
{
	const idmap_slot *s = idmap_get(&g->listed, id);
	if (s && g->lv[s->val].mtime_ns) {
		st->size = g->lv[s->val].size;
		st->mtime_ns = g->lv[s->val].mtime_ns;
		return 0;
	}
	char name[80];
	pack_name(name, id);
	return backend_stat(g->be, name, st);
}

/* Decides, for each indexed pack, whether to keep, condemn or repack. */
static int plan(gc *g)
{
	gc_result *res = g->res;
	int listed = list_packs(g);
	if (listed < 0)
		return listed;
	for (size_t i = 0; i < g->nacct; i++) {
		pack_acct *a = &g->acct[i];
		backend_stat_t st;
		int rc = stat_pack(g, a->id, &st);
		if (rc == -ENOENT) {
			char hex[65];
			hex_encode(hex, a->id, 32);
			return err_set(-DV_ECORRUPT, "pack '%s' named by the index is missing; run 'dvalin check'", hex);
		}
		if (rc < 0)
			return rc;
		a->mtime_ns = st.mtime_ns;
		a->size = st.size;
		res->packs++;
		res->bytes += a->size;
		res->bytes_used += a->used;
		if (gcrule_pack_young(a->mtime_ns, g->cutoff_ns)) {
			res->packs_young++;
			continue;
		}
		if (a->nused == 0) {
			a->action = CONDEMN;
			res->packs_condemned++;
			res->bytes_condemned += a->size;
		} else if ((double)(a->total - a->used) > g->o->max_unused * (double)a->total) {
			a->action = REPACK;
			res->packs_repacked++;
			/* used comes from the index, size from the storage:
			 * they need not agree */
			res->bytes_repacked_freed += sat_sub_u64(a->size, a->used);
			res->bytes_copied += a->used;
		}
	}
	return 0;
}

/* ---------- orphans: packs no index names ---------- */

struct orphan_ctx {
	gc *g;
	const idmap *recorded;
};

static int orphan_one(struct orphan_ctx *c, const listed_pack *l)
{
	gc *g = c->g;
	if (idmap_get(&g->packs, l->id) || idmap_get(c->recorded, l->id))
		return 0;
	backend_stat_t st;
	int rc = stat_pack(g, l->id, &st);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (gcrule_pack_young(st.mtime_ns, g->cutoff_ns))
		return 0; /* may belong to a running backup */
	pack_acct *a;
	if ((rc = acct_for(g, l->id, &a)) < 0)
		return rc;
	a->size = st.size;
	a->mtime_ns = st.mtime_ns;
	a->action = CONDEMN;
	g->res->packs_orphan++;
	g->res->packs_condemned++;
	g->res->bytes_condemned += st.size;
	return 0;
}

/* ---------- the new index ---------- */

static int keep_entry(void *ud, const uint8_t *id, const index_loc *loc)
{
	gc *g = ud;
	idmap_slot *s = idmap_get(&g->packs, loc->pack_id);
	if (s && g->acct[s->val].action != KEEP)
		return 0;
	return index_builder_add(&g->ib, id, loc->pack_id, loc->offset, loc->stored_len,
				 loc->raw_len, loc->type);
}

/* ---------- repacking ---------- */

/*
 * Repacking runs on every thread (ordq): a worker reads a pack to repack
 * and checks the blobs to keep; the calling thread appends them, in the
 * order of the packs, to the new packs being built (so the new packs are
 * the same on any number of threads); a full new pack is sealed and
 * stored by a worker again.  Jobs of both kinds share the queue's
 * window (threads + 1), each holding one pack's bytes; beside them are
 * the two packs being built, the full ones waiting for a slot, whose
 * bytes came from reads already handed back (freed), and at most two
 * stored packs' buffers kept for reuse.  So memory is about
 * 2 x (threads + 3) packs of PACK_TARGET_SIZE, whatever the repository's
 * size.  Workers share only the backend (any thread), the
 * index set (its lookups change the block cache: idx_lock) and the
 * marker's bits (read only while repacking); the pack writers, the new
 * index and x->ready belong to the calling thread.
 */
typedef struct {
	pack_writer w;
	index_entry *ent; /* entries of the pack being built (pack field unused) */
	size_t n, cap;
	uint8_t id[32];   /* once sealed */
} repacker;

enum { RP_READ, RP_STORE };

typedef struct {
	int kind;
	/* RP_READ: the pack, and its blobs to keep (e[0..n), checked) */
	const uint8_t *pid;
	bytes b;
	pack_entry *e;
	size_t n;
	/* RP_STORE: a full new pack */
	repacker out;
} rp_job;

typedef struct {
	gc *g;
	repacker out[2]; /* data and tree blobs, being built */
	rp_job **ready;  /* full new packs to store */
	size_t nready, capready;
	repacker spare[2]; /* buffers of stored packs, emptied, for the next ones */
	size_t nspare;
	pthread_mutex_t idx_lock; /* lookups from the workers share the set's block cache */
} rp_ctx;

static void rp_job_free(rp_job *j)
{
	bytes_release(&j->b);
	free(j->e);
	pack_writer_release(&j->out.w);
	free(j->out.ent);
	free(j);
}

/* Reads pack pid, keeps the marked blobs the index names there, checks each against its table. */
static int rp_read(rp_ctx *x, rp_job *j)
{
	gc *g = x->g;
	char name[80];
	pack_name(name, j->pid);
	int rc = interrupt_check();
	rc = rc ?: backend_get(g->be, name, BACKEND_DATA, &j->b);
	if (rc < 0)
		return rc;
	size_t n = 0, k = 0;
	if (pack_parse(&j->e, &n, j->b.data, j->b.len) < 0)
		return err_set(-DV_ECORRUPT, "pack '%s' has a damaged table; run 'dvalin check --read-data'", name + 8);
	pthread_mutex_lock(&x->idx_lock);
	for (size_t i = 0; i < n; i++) {
		index_loc loc;
		if (index_set_lookup(g->m.main, j->e[i].id, &loc) == 0 && loc.pack_id &&
		    memcmp(loc.pack_id, j->pid, 32) == 0 && loc.offset == j->e[i].offset &&
		    mark_test(g->m.bits_main, loc.pos))
			j->e[k++] = j->e[i];
	}
	pthread_mutex_unlock(&x->idx_lock);
	j->n = k;
	for (size_t i = 0; i < k; i++) {
		if (!pack_entry_is_intact(&j->e[i], j->b.data + j->e[i].offset)) {
			char hex[65];
			hex_encode(hex, j->e[i].id, 32);
			return err_set(-DV_ECORRUPT, "blob '%s' in pack '%s' is damaged; prune stops before copying it (run 'dvalin check --read-data')",
				       hex, name + 8);
		}
	}
	return 0;
}

static int rp_store(rp_ctx *x, repacker *p)
{
	char name[80];
	int rc = pack_writer_finish(&p->w, p->id);
	if (rc < 0)
		return rc;
	pack_name(name, p->id);
	backend_hint hint = p->ent[0].type == BLOB_TREE ? BACKEND_META : BACKEND_DATA;
	return backend_put(x->g->be, name, hint, p->w.data.data, p->w.data.len);
}

/* The workers' state is the repack's context (no state of their own). */
static int rp_state(void **out, void *arg)
{
	*out = arg;
	return 0;
}

static int rp_work(void *state, void *job)
{
	rp_job *j = job;
	return j->kind == RP_READ ? rp_read(state, j) : rp_store(state, &j->out);
}

/* Hands the pack p was building to a store job (none if it is empty). */
static int rp_seal(rp_ctx *x, repacker *p)
{
	if (p->w.n == 0)
		return 0;
	rp_job *j = calloc(1, sizeof(*j));
	int rc = j ? array_reserve(&x->ready, &x->capready, x->nready + 1, sizeof(*x->ready)) : -ENOMEM;
	if (rc < 0) {
		free(j);
		return rc;
	}
	j->kind = RP_STORE;
	j->out = *p; /* the job takes the buffers; p starts anew, on a stored pack's if there is one */
	memset(p, 0, sizeof(*p));
	if (x->nspare)
		*p = x->spare[--x->nspare];
	x->ready[x->nready++] = j;
	return 0;
}

static int repacker_add(rp_ctx *x, repacker *p, const pack_entry *e, const uint8_t *stored)
{
	buf *b;
	int rc = pack_writer_buf(&p->w, &b);
	if (rc < 0)
		return rc;
	size_t start = b->len;
	if ((rc = buf_append(b, stored, e->stored_len)) < 0)
		return rc;
	/* the reader checked the stored bytes against e->cksum: not hashed again here, on
	 * the one thread that appends */
	if ((rc = pack_writer_commit(&p->w, e->type, e->id, e->raw_len, start, e->cksum)) < 0)
		return rc;
	if ((rc = array_reserve(&p->ent, &p->cap, p->n + 1, sizeof(*p->ent))) < 0)
		return rc;
	index_entry *i = &p->ent[p->n++];
	memcpy(i->id, e->id, 32);
	i->offset = (uint32_t)start;
	i->stored_len = e->stored_len;
	i->raw_len = e->raw_len;
	i->type = e->type;
	if (b->len >= PACK_TARGET_SIZE)
		return rp_seal(x, p);
	return 0;
}

/* On the calling thread, in order: a read pack's blobs go into the new
 * packs; a stored pack's blobs into the new index. */
static int rp_done(void *ud, void *job, int rc)
{
	rp_ctx *x = ud;
	rp_job *j = job;
	for (size_t i = 0; rc == 0 && j->kind == RP_READ && i < j->n; i++)
		rc = repacker_add(x, &x->out[j->e[i].type == BLOB_TREE], &j->e[i],
				  j->b.data + j->e[i].offset);
	for (size_t i = 0; rc == 0 && j->kind == RP_STORE && i < j->out.n; i++) {
		const index_entry *e = &j->out.ent[i];
		rc = index_builder_add(&x->g->ib, e->id, j->out.id, e->offset, e->stored_len,
				       e->raw_len, e->type);
	}
	if (j->kind == RP_STORE && x->nspare < 2) {
		/* kept for a new pack: not allocated and faulted in again for each */
		repacker *sp = &x->spare[x->nspare++];
		*sp = j->out;
		pack_writer_reset(&sp->w);
		sp->n = 0;
		memset(&j->out, 0, sizeof(j->out));
	}
	rp_job_free(j);
	return rc;
}

/* Submits the new packs that filled up: they are stored while reading goes on. */
static int rp_submit_ready(rp_ctx *x, ordq *q)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < x->nready; i++) {
		rp_job *j = x->ready[i];
		x->ready[i] = NULL;
		rc = ordq_submit(q, j); /* may hand back reads that fill more */
	}
	for (size_t i = 0; i < x->nready; i++)
		if (x->ready[i])
			rp_job_free(x->ready[i]);
	x->nready = 0;
	return rc;
}

static int repack(gc *g)
{
	rp_ctx x;
	memset(&x, 0, sizeof(x));
	x.g = g;
	pthread_mutex_init(&x.idx_lock, NULL);
	int threads = g->o->threads > 0 ? g->o->threads : workq_default_threads();
	ordq_params p = { .threads = threads, .window = (size_t)threads + 1, .work = rp_work,
			  .done = rp_done, .state_new = rp_state, .arg = &x, .ud = &x };
	ordq *q = NULL;
	int rc = ordq_new(&q, &p);
	for (size_t i = 0; rc == 0 && i < g->nacct; i++) {
		if (g->acct[i].action != REPACK)
			continue;
		rp_job *j = calloc(1, sizeof(*j));
		if (!j) {
			rc = -ENOMEM;
			break;
		}
		j->kind = RP_READ;
		j->pid = g->acct[i].id;
		rc = ordq_submit(q, j);
		rc = rc ?: rp_submit_ready(&x, q);
	}
	/* every read handed back (the new packs they fill stored), then the
	 * two packs left part full */
	while (rc == 0 && (rc = ordq_finish(q)) == 0 && x.nready)
		rc = rp_submit_ready(&x, q);
	for (size_t i = 0; rc == 0 && i < 2; i++)
		rc = rp_seal(&x, &x.out[i]);
	rc = rc ?: rp_submit_ready(&x, q);
	int fin = q ? ordq_finish(q) : 0;
	rc = rc ?: fin;
	ordq_free(q);
	for (size_t i = 0; i < x.nready; i++)
		rp_job_free(x.ready[i]);
	free(x.ready);
	for (size_t i = 0; i < 2; i++) {
		pack_writer_release(&x.out[i].w);
		free(x.out[i].ent);
	}
	for (size_t i = 0; i < x.nspare; i++) {
		pack_writer_release(&x.spare[i].w);
		free(x.spare[i].ent);
	}
	pthread_mutex_destroy(&x.idx_lock);
	return rc;
}

/* ---------- records ---------- */

/*
 * Loads records into *recs and the blobs of their packs into cond; packs
 * that an index still names (a prune that stopped before replacing the
 * index) are dropped from their records, which are rewritten.
 */
static int load_records(gc *g, gc_record **recs, size_t *nrecs, index_set *cond,
			idmap *recorded, int dry)
{
	size_t damaged = 0;
	int rc = gc_records_load(g->be, recs, nrecs, &damaged);
	if (rc < 0)
		return rc;
	if (damaged)
		log_warn("%s; its packs will be found again as unindexed packs", err_msg(-DV_ECORRUPT));
	for (size_t i = 0; rc == 0 && i < *nrecs; i++) {
		gc_record *rec = &(*recs)[i];
		size_t k = 0;
		for (size_t j = 0; j < rec->npacks; j++)
			if (!idmap_get(&g->packs, rec->packs[j]))
				memcpy(rec->packs[k++], rec->packs[j], 32);
		if (k != rec->npacks && !dry) {
			rec->npacks = k;
			rc = k ? gc_record_put(g->be, rec) : backend_remove(g->be, rec->name);
		}
		rec->npacks = k;
	}
	return rc ?: gc_records_add_packs(*recs, *nrecs, g->be, recorded, cond);
}

static int note_pack(void *ud, const uint8_t *id, const index_loc *loc)
{
	idmap_slot *s;
	(void)id;
	return idmap_put(ud, loc->pack_id, &s, NULL);
}

/* ---------- phase 1: condemn ---------- */

static int refuse_if_damaged(const marker *m)
{
	if (m->damaged_snapshots)
		return err_set(-DV_ECORRUPT, "%llu snapshot file(s) cannot be read (%s); prune would delete what they use: run 'dvalin check'",
			       (unsigned long long)m->damaged_snapshots, err_msg(-DV_ECORRUPT));
	if (m->missing || m->unreadable)
		return err_set(-DV_ECORRUPT, "%llu blob(s) used by snapshots are missing or unreadable; run 'dvalin check' and 'dvalin repair' before pruning",
			       (unsigned long long)(m->missing + m->unreadable));
	return 0;
}

static int condemn(gc *g)
{
	repo *r = g->r;
	gc_result *res = g->res;
	int dry = g->o->dry_run;
	index_set *idx = repo_index(r);
	index_set *cond = NULL;
	gc_record *recs = NULL;
	size_t nrecs = 0;
	idmap recorded = IDMAP_INIT;
	gcrule_horizon h;
	int rc = live_leases(r, !dry, 1, &h, &res->stale_leases);
	if (rc < 0)
		return rc;
	/*
	 * Packs a live process may still be writing or indexing are left
	 * alone: younger than its start (by its clock, hence the skew) or
	 * than ours (a process starting now).  Should one be condemned all
	 * the same, finish() returns it when an index names it.
	 */
	int64_t mine = repo_lease(r) ? lease_start_ns(repo_lease(r)) : lease_now_ns();
	g->cutoff_ns = gcrule_cutoff(&h, mine, lease_skew_ns());

	/* every indexed pack first, so records can tell which packs are indexed */
	rc = index_set_new(&cond);
	rc = rc ?: index_set_foreach(idx, note_acct, g);
	rc = rc ?: load_records(g, &recs, &nrecs, cond, &recorded, dry);
	rc = rc ?: mark_init(&g->m, g->be, idx, cond);
	rc = rc ?: mark_snapshots(&g->m, r);
	rc = rc ?: refuse_if_damaged(&g->m);
	res->snapshots = g->m.snapshots;
	res->trees = g->m.trees;
	res->blobs_used = g->m.blobs;
	rc = rc ?: index_set_foreach(idx, count_entry, g);
	rc = rc ?: plan(g);
	/* packs indexed since we read the index are not orphans */
	if (rc == 0 && g->m.late)
		rc = index_set_foreach(g->m.late, note_pack, &recorded);
	if (rc == 0) {
		/* the listing plan() made: packs written since are young */
		struct orphan_ctx oc = { g, &recorded };
		size_t n = g->nlv; /* orphan_one adds accounts, not listed packs */
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = orphan_one(&oc, &g->lv[i]);
	}
	gc_records_free(recs, nrecs);
	idmap_release(&recorded);
	index_set_free(cond);
	if (rc < 0 || dry)
		return rc;

	rc = repack(g);
	rc = rc ?: index_set_foreach(idx, keep_entry, g);
	if (rc < 0)
		return rc;
	gc_record rec;
	memset(&rec, 0, sizeof(rec));
	for (size_t i = 0; i < g->nacct; i++)
		if (g->acct[i].action != KEEP)
			rec.npacks++;
	size_t nfiles = index_set_file_count(idx);
	if (rec.npacks == 0 && nfiles <= 1)
		return 0; /* nothing to condemn, nothing to consolidate */
	if (rec.npacks) {
		rec.packs = malloc(rec.npacks * 32);
		if (!rec.packs)
			return -ENOMEM;
		size_t k = 0;
		for (size_t i = 0; i < g->nacct; i++)
			if (g->acct[i].action != KEEP)
				memcpy(rec.packs[k++], g->acct[i].id, 32);
		/* recorded before the index changes: a crash cannot lose them */
		rc = gc_record_name(rec.name);
		rc = rc ?: gc_record_put(g->be, &rec);
	}
	char written[80] = "";
	rc = rc ?: index_builder_write(&g->ib, g->be, written);
	_cleanup_free_ const char **old = rc == 0 ? calloc(nfiles + 1, sizeof(*old)) : NULL;
	if (rc == 0 && !old)
		rc = -ENOMEM;
	size_t nold = 0;
	for (size_t i = 0; rc == 0 && i < nfiles; i++)
		if (strcmp(index_set_file_name(idx, i), written) != 0) /* else the same contents under the same name */
			old[nold++] = index_set_file_name(idx, i);
	rc = rc ?: nold ? still_ours(g, "the index files it replaced") : 0;
	rc = rc ?: backend_remove_batch(g->be, old, nold);
	res->index_files_replaced += rc == 0 ? nold : 0;
	if (rc == 0 && rec.npacks) {
		/* from now on no index names the packs */
		rec.time_ns = lease_now_ns();
		rc = gc_record_put(g->be, &rec);
	}
	free(rec.packs);
	return rc;
}

/* ---------- phase 2: finish ripe records ---------- */

struct ripe_ctx {
	const uint8_t *bits;
	idmap *used; /* pack id -> 1 when it holds a marked blob */
};

static int note_used(void *ud, const uint8_t *id, const index_loc *loc)
{
	struct ripe_ctx *c = ud;
	(void)id;
	if (!mark_test(c->bits, loc->pos))
		return 0;
	idmap_slot *s;
	int rc = idmap_put(c->used, loc->pack_id, &s, NULL);
	if (rc == 0)
		s->val = 1;
	return rc;
}

static int note_indexed(void *ud, const uint8_t *id, const index_loc *loc)
{
	idmap_slot *s;
	(void)id;
	int rc = idmap_put(ud, loc->pack_id, &s, NULL);
	if (rc == 0 && s->val == 0)
		s->val = 2; /* named by the index: keep, nothing to re-index */
	return rc;
}

struct return_ctx {
	gc *g;
	const idmap *ret; /* packs going back into the index */
};

static int return_entry(void *ud, const uint8_t *id, const index_loc *loc)
{
	struct return_ctx *c = ud;
	idmap_slot *s = idmap_get(c->ret, loc->pack_id);
	if (!s || s->val != 1)
		return 0;
	return index_builder_add(&c->g->ib, id, loc->pack_id, loc->offset, loc->stored_len,
				 loc->raw_len, loc->type);
}

/*
 * The deletion notice naming every pack of the ripe records, written
 * before the index is read (docs/concurrency.md, "Deleting"); its time
 * is the latest of theirs, so that a dvalin that takes it for a record
 * finds it ripe no sooner than all of them.
 */
static int notice_ripe(gc *g, const gc_record *recs, size_t nrecs, const int *ripe, size_t total,
		       int64_t latest)
{
	uint8_t(*packs)[32] = malloc(total ? total * 32 : 1);
	if (!packs)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < nrecs; i++) {
		if (!ripe[i])
			continue;
		memcpy(packs + k, recs[i].packs, recs[i].npacks * 32);
		k += recs[i].npacks;
	}
	int rc = gc_notice_put(g->be, (const uint8_t(*)[32])packs, k, latest);
	free(packs);
	return rc;
}

struct exists_ctx {
	gc *g;
	const idmap *ret;
};

/* Whether a pack is there after the deletions (index_exists_fn). */
static int pack_exists(void *ud, const uint8_t pack[32])
{
	struct exists_ctx *c = ud;
	/* a pack returned or left alone was not deleted, and only a prune
	 * deletes: one the listing before the deletions had is there */
	if (idmap_get(c->ret, pack) && idmap_get(&c->g->listed, pack))
		return 1;
	char name[80];
	backend_stat_t st;
	pack_name(name, pack);
	int rc = backend_stat(c->g->be, name, &st);
	return rc == 0 ? 1 : rc == -ENOENT ? 0 : rc;
}

/*
 * No index file goes on naming a condemned pack that is gone: files
 * written after this phase 2 read the index (by a writer that stored or
 * indexed a pack again and gave up when the notice named it), and files
 * it read that name a pack left alone which a prune killed half-way had
 * deleted (docs/concurrency.md, "The writer's index files").
 */
static int drop_dangling(gc *g, index_set *main, const idmap *condemned, const idmap *ret)
{
	index_set *later = NULL;
	struct exists_ctx c = { g, ret };
	size_t n1 = 0, n2 = 0;
	int rc = index_set_new(&later);
	rc = rc ?: index_set_load_new(later, g->be, main);
	rc = rc ?: index_set_drop_missing(main, g->be, condemned, pack_exists, &c, &n1);
	rc = rc ?: index_set_drop_missing(later, g->be, condemned, pack_exists, &c, &n2);
	index_set_free(later);
	if (rc == 0)
		g->res->index_files_mended += n1 + n2;
	return rc;
}

static int finish_ripe(gc *g, gc_record *recs, size_t nrecs, const int *ripe)
{
	index_set *main = NULL, *cond = NULL;
	marker m;
	idmap used = IDMAP_INIT, ret = IDMAP_INIT, condemned = IDMAP_INIT;
	memset(&m, 0, sizeof(m));
	size_t total = 0;
	int64_t latest = 0;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < nrecs; i++) {
		if (!ripe[i])
			continue;
		total += recs[i].npacks;
		latest = recs[i].time_ns > latest ? recs[i].time_ns : latest;
		for (size_t k = 0; rc == 0 && k < recs[i].npacks; k++) {
			idmap_slot *s;
			rc = idmap_put(&condemned, recs[i].packs[k], &s, NULL);
		}
	}
	rc = rc ?: notice_ripe(g, recs, nrecs, ripe, total, latest);
	rc = rc ?: index_set_new(&main);
	rc = rc ?: index_set_new(&cond);
	rc = rc ?: index_set_load(main, g->be);
	rc = rc ?: gc_records_add_packs(recs, nrecs, g->be, NULL, cond);
	rc = rc ?: mark_init(&m, g->be, main, cond);
	rc = rc ?: mark_snapshots(&m, g->r);
	rc = rc ?: refuse_if_damaged(&m);
	if (rc == 0) {
		struct ripe_ctx c = { m.bits_cond, &used };
		rc = index_set_foreach(cond, note_used, &c);
	}
	/* a pack an index names again (written by a process that was running
	 * when it was condemned) is not deleted, whatever marking says */
	if (rc == 0)
		rc = index_set_foreach(main, note_indexed, &used);
	/* a ripe pack a snapshot now uses goes back into the index first */
	for (size_t i = 0; rc == 0 && i < nrecs; i++) {
		if (!ripe[i])
			continue;
		for (size_t k = 0; rc == 0 && k < recs[i].npacks; k++) {
			idmap_slot *u = idmap_get(&used, recs[i].packs[k]), *s;
			if (!u)
				continue;
			rc = idmap_put(&ret, recs[i].packs[k], &s, NULL);
			if (rc == 0)
				s->val = u->val;
			g->res->packs_returned++;
		}
	}
	index_builder_release(&g->ib);
	if (rc == 0 && ret.n) {
		struct return_ctx c = { g, &ret };
		rc = index_set_foreach(cond, return_entry, &c);
		rc = rc ?: index_builder_write(&g->ib, g->be, NULL);
	}
	/* the packs go first, in batches (one request per 1,000 on S3),
	 * then the records: a failure leaves records a later prune finishes */
	size_t ndel = 0, capdel = 0;
	const char **del = NULL;
	char (*names)[80] = NULL;
	uint8_t(*ids)[32] = NULL;
	if (rc == 0 && total) {
		names = calloc(total, sizeof(*names));
		ids = malloc(total * 32);
		rc = names && ids ? list_packs(g) : -ENOMEM;
	}
	for (size_t i = 0; rc == 0 && i < nrecs; i++) {
		if (!ripe[i])
			continue;
		for (size_t k = 0; rc == 0 && k < recs[i].npacks; k++) {
			if (idmap_get(&ret, recs[i].packs[k]))
				continue;
			backend_stat_t st;
			int s = stat_pack(g, recs[i].packs[k], &st);
			if (s == -ENOENT)
				continue; /* deleted before */
			if (s < 0) {
				rc = s;
				break;
			}
			rc = array_reserve(&del, &capdel, ndel + 1, sizeof(*del));
			if (rc < 0)
				break;
			pack_name(names[ndel], recs[i].packs[k]);
			memcpy(ids[ndel], recs[i].packs[k], 32);
			del[ndel] = names[ndel];
			ndel++;
			g->res->packs_deleted++;
			g->res->bytes_deleted += st.size;
		}
	}
	/* the notice narrowed to what is deleted: a writer relying on a
	 * returned pack need not give up */
	if (rc == 0 && ndel < total)
		rc = gc_notice_put(g->be, (const uint8_t(*)[32])ids, ndel, latest);
	rc = rc ?: ndel ? still_ours(g, "condemned packs") : 0;
	rc = rc ?: backend_remove_batch(g->be, del, ndel);
	rc = rc ?: drop_dangling(g, main, &condemned, &ret);
	for (size_t i = 0; rc == 0 && i < nrecs; i++) {
		if (!ripe[i])
			continue;
		rc = backend_remove(g->be, recs[i].name);
		if (rc == -ENOENT)
			rc = 0;
	}
	/* last: whoever reads no notice now finds the deletions done */
	rc = rc ?: gc_notice_remove(g->be);
	free(del);
	free(names);
	free(ids);
	mark_release(&m);
	idmap_release(&used);
	idmap_release(&ret);
	idmap_release(&condemned);
	index_set_free(main);
	index_set_free(cond);
	return rc;
}

static int finish(gc *g)
{
	gc_record *recs = NULL;
	size_t nrecs = 0;
	gcrule_horizon h;
	int64_t now = lease_now_ns();
	int notice = 0;
	int rc = gc_records_load_noting(g->be, &recs, &nrecs, NULL, &notice);
	rc = rc ?: live_leases(g->r, 0, 0, &h, NULL);
	_cleanup_free_ int *ripe = calloc(nrecs + 1, sizeof(int));
	if (rc == 0 && !ripe)
		rc = -ENOMEM;
	size_t nripe = 0, nripe_packs = 0;
	for (size_t i = 0; rc == 0 && i < nrecs; i++) {
		if (!gcrule_record_dated(recs[i].time_ns)) {
			/* a prune stopped before noting when the index changed:
			 * it changed before now (a negative time is no time a
			 * prune writes: dated anew, which only delays it) */
			recs[i].time_ns = now;
			rc = g->o->dry_run ? 0 : gc_record_put(g->be, &recs[i]);
			continue;
		}
		/* the notice names every ripe pack; what does not fit waits */
		if (gcrule_record_ripe(recs[i].time_ns, &h, lease_skew_ns()) &&
		    recs[i].npacks <= GCREC_MAX_PACKS - nripe_packs) {
			ripe[i] = 1;
			nripe++;
			nripe_packs += recs[i].npacks;
		} else {
			g->res->records_waiting++;
			if (!g->res->waiting_since_ns || recs[i].time_ns < g->res->waiting_since_ns)
				g->res->waiting_since_ns = recs[i].time_ns;
		}
	}
	if (rc == 0 && g->o->dry_run) {
		g->res->records_waiting += nripe;
		nripe = 0;
	}
	if (rc == 0 && nripe)
		rc = finish_ripe(g, recs, nrecs, ripe);
	else if (rc == 0 && notice && !g->o->dry_run)
		rc = gc_notice_remove(g->be); /* left by a prune that stopped half-way */
	gc_records_free(recs, nrecs);
	return rc;
}

static int count_temporary(void *ud, const backend_entry *e)
{
	gc_result *res = ud;
	res->temporaries++;
	res->bytes_temporaries += e->size;
	return 0;
}

int gc_prune(repo *r, const gc_opts *o, gc_result *res)
{
	gc g;
	memset(&g, 0, sizeof(g));
	memset(res, 0, sizeof(*res));
	g.r = r;
	g.be = repo_backend(r);
	g.o = o;
	g.res = res;
	int rc = condemn(&g);
	mark_release(&g.m);
	rc = rc ?: finish(&g);
	/* temporaries of writers that died in a put (the backend says which
	 * can be no live writer's): garbage like unindexed packs, collected
	 * by the one process that holds the gc role */
	rc = rc ?: backend_leftovers(g.be, !o->dry_run, count_temporary, res);
	idmap_release(&g.packs);
	idmap_release(&g.listed);
	free(g.lv);
	index_builder_release(&g.ib);
	free(g.acct);
	return rc;
}
