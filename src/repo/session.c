/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * session: loading and saving blobs.  A save enters the id in the index
 * as pending under the repository lock, seals the blob outside it in the
 * session's own context, and appends it to the shared pack of its type
 * under the lock again; a full pack is stored, and every few packs the
 * index of what was stored is written (so a killed backup leaves packs
 * the next one reuses).  A load looks the blob up, reads its stored
 * bytes through one of the session's open packs and opens them.
 */
#include "repo_internal.h"
#include "format.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/log.h"
#include "../core/blob.h"
#include "../core/checksum.h"
#include "gcrec.h"
#include "../backend/retry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Packs read recently by a session stay open: restores read runs of
 * blobs from the same pack, and an open per blob costs more than the read. */
#define SESSION_OPEN_PACKS 4

/*
 * Pack sizes: data packs PACK_TARGET_SIZE; tree packs a quarter of it.
 * A pack is built in memory, so the two open packs are most of a
 * backup's fixed memory; trees are small and read often (ls, prune's
 * marking), so smaller tree packs cost little and keep 12 MB out of RAM.
 */
/* A huge page (x86-64, arm64 with 4 KiB pages). */
#define PACK_BUF_ALIGN ((size_t)2 << 20)

static size_t pack_target(int type)
{
	return type == BLOB_TREE ? PACK_TARGET_SIZE / 4 : PACK_TARGET_SIZE;
}

struct repo_session {
	repo *r;
	blob_ctx *blob;
	buf tmp;
	struct {
		uint8_t id[32];
		backend_file *f;
	} open[SESSION_OPEN_PACKS];
	unsigned next_slot;
};

/* Whether this handle has stored enough packs to write an index file now. */
static int index_due(repo *r)
{
	int remote = (r->be->flags & BACKEND_REMOTE) != 0;
	unsigned every = remote	    ? REPO_INDEX_EVERY_PACKS_REMOTE
			 : r->batch ? REPO_INDEX_EVERY_PACKS_BATCHED
				    : REPO_INDEX_EVERY_PACKS;
	size_t blobs = remote ? REPO_INDEX_EVERY_BLOBS_REMOTE : REPO_INDEX_EVERY_BLOBS;
	/* the blob bound not while batching: each index file there ends a
	 * batch (index_if_due), whose size is what batching is for */
	return ++r->packs_unindexed >= every ||
	       (!r->batch && index_set_session_entries(r->index) >= blobs);
}

static backend_hint hint_of(int type)
{
	return type == BLOB_TREE ? BACKEND_META : BACKEND_DATA;
}

int repo_session_new(repo_session **out, repo *r)
{
	repo_session *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->r = r;
	int rc = blob_ctx_new(&s->blob, &r->keys, r->level);
	if (rc < 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void repo_session_free(repo_session *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < SESSION_OPEN_PACKS; i++)
		backend_file_close(s->r->be, s->open[i].f);
	blob_ctx_free(s->blob);
	buf_release(&s->tmp);
	free(s);
}

void repo_blob_id(const repo *r, uint8_t out[32], const void *plain, size_t n)
{
	/* any thread: a one-shot HMAC, no shared context */
	crypto_hmac(out, r->keys.mac, plain, n);
}

void repo_session_blob_id(repo_session *s, uint8_t out[32], const void *plain, size_t n)
{
	blob_id(out, s->blob, plain, n);
}

uint64_t repo_bytes_added(const repo *r)
{
	return r->bytes_added;
}

/* ---------- saving (pack writers guarded by r->lock) ---------- */

static int write_index(repo *r)
{
	int rc = index_set_write(r->index, r->be);
	if (rc == 0)
		r->packs_unindexed = 0;
	return rc;
}

/* A pack is in the storage under its name: its blobs are found there, and a snapshot may rely on it. */
static void pack_stored(repo *r, uint32_t slot, const uint8_t id[32], int sealed)
{
	index_set_pack_stored(r->index, slot, id);
	if (sealed)
		relied_add_sealed(&r->relied, id);
	else
		relied_add(&r->relied, id);
}

/* Writes a pack file (outside the lock): staged when the handle batches, else put. */
static int put_pack(repo *r, const char *name, backend_hint hint, const void *p, size_t n,
		    backend_staged **out)
{
	*out = NULL;
	return r->batch ? backend_put_staged(r->be, name, hint, p, n, out)
			: backend_put(r->be, name, hint, p, n);
}

/* Under the lock, after put_pack: a put pack is stored now, a staged one joins the batch. */
static int pack_written(repo *r, backend_staged *f, uint32_t slot, const uint8_t id[32], int sealed)
{
	if (!f) {
		pack_stored(r, slot, id, sealed);
		return 0;
	}
	int rc = array_reserve(&r->staged, &r->capstaged, r->nstaged + 1, sizeof(*r->staged));
	if (rc < 0) {
		backend_discard_staged(r->be, f);
		return rc;
	}
	staged_pack *sp = &r->staged[r->nstaged++];
	sp->f = f;
	sp->slot = slot;
	sp->sealed = sealed;
	memcpy(sp->id, id, 32);
	return 0;
}

/* The first failure of a store: no index or snapshot may follow it. */
static void store_failed(repo *r, int rc)
{
	if (r->store_rc)
		return;
	r->store_rc = rc;
	err_save(&r->store_err);
}

/* That failure, with its message, for the thread that reports it. */
static int store_failure(repo *r)
{
	if (r->store_rc)
		err_restore(&r->store_err);
	return r->store_rc;
}

/*
 * Commits the staged packs (backend_commit_staged: one flush pass, the
 * renames, each directory flushed once), then marks them stored, so the
 * index file written next names them and no earlier one does.  Called
 * and returns with r->lock held, dropped during the commit: the flush is
 * the wait, and the other threads go on filling packs of the next batch
 * meanwhile.  r->storing counts the commit, so repo_flush() waits for it.
 */
static int commit_batch(repo *r)
{
	staged_pack *v = r->staged;
	size_t n = r->nstaged;
	if (!n)
		return 0;
	r->staged = NULL;
	r->nstaged = r->capstaged = 0;
	backend_staged **fs = malloc(n * sizeof(*fs));
	for (size_t i = 0; fs && i < n; i++)
		fs[i] = v[i].f;
	r->storing++;
	pthread_mutex_unlock(&r->lock);
	int rc = fs ? backend_commit_staged(r->be, fs, n) : -ENOMEM;
	for (size_t i = 0; !fs && i < n; i++)
		backend_discard_staged(r->be, v[i].f);
	pthread_mutex_lock(&r->lock);
	r->storing--;
	pthread_cond_broadcast(&r->stored);
	for (size_t i = 0; rc == 0 && i < n; i++)
		pack_stored(r, v[i].slot, v[i].id, v[i].sealed);
	if (rc < 0)
		store_failed(r, rc);
	free(fs);
	free(v);
	return rc;
}

/*
 * After a pack was written: every few packs the batch is committed and
 * an index file written (so a run killed half-way leaves packs the next
 * one finds and reuses instead of writing them again).  The count starts
 * again before the commit drops the lock, so packs stored meanwhile make
 * the next batch, not batches of one.
 */
static int index_if_due(repo *r)
{
	if (!index_due(r))
		return 0;
	r->packs_unindexed = 0;
	int rc = commit_batch(r);
	return rc ?: write_index(r);
}

/*
 * Full packs are stored by threads of their own, at most STORES_IN_FLIGHT
 * at once while packs fill fast and one otherwise (a saver that fills one
 * more waits for a slot): the disk or the network takes a pack while both
 * cores seal the next.  Stored by the saver itself, as before, a 2 GiB
 * backup sealed on one core whenever the other waited for a write
 * (docs/performance.md).  A small-file backup, whose packs fill slowly,
 * so holds at most the open pack and one being stored, as before: two in
 * flight beside the open one cost 20 MB at 1M files.
 */
#define STORES_IN_FLIGHT 2

typedef struct {
	repo *r;
	pack_writer w;
	uint32_t slot;
	int type;
	int sealed; /* no blob of stored bytes copied in */
	int fast;   /* filled within SPARE_FILL_NS */
	uint8_t id[32];
} store_job;

/*
 * The spare: a stored data pack's buffer, kept for the next pack when
 * the pack filled within SPARE_FILL_NS (faster than 160 MB/s: a large
 * file).  A fresh buffer costs its pages zeroed by the kernel (16% of a
 * large file's backup in huge pages); kept always, it would stay resident
 * beside the open pack for a small-file backup, whose packs fill for
 * seconds (the 3M-file memory bound of docs/performance.md).  A slow
 * pack frees it.
 */
#define SPARE_FILL_NS ((int64_t)100 * 1000000)

/* Under the lock: a stored pack's buffer becomes the spare or is freed. */
static void keep_or_free(repo *r, store_job *j)
{
	if (j->fast && j->type == BLOB_DATA && !r->spare.data) {
		r->spare = j->w.data;
		r->spare.len = 0;
		j->w.data = (buf)BUF_INIT;
	} else if (!j->fast && j->type == BLOB_DATA) {
		buf_release(&r->spare);
	}
	pack_writer_release(&j->w);
}

/*
 * Writes a detached pack (without the lock), then under the lock records
 * it and writes the index when due.  Returns with r->lock held and the
 * pack's buffer freed or kept as the spare.
 */
static int put_detached(store_job *j)
{
	repo *r = j->r;
	char name[80];
	backend_staged *f;
	pack_name(name, j->id);
	int rc = put_pack(r, name, hint_of(j->type), j->w.data.data, j->w.data.len, &f);
	pthread_mutex_lock(&r->lock);
	keep_or_free(r, j);
	rc = rc ?: pack_written(r, f, j->slot, j->id, j->sealed);
	rc = rc ?: index_if_due(r);
	if (rc < 0)
		store_failed(r, rc);
	r->storing--;
	pthread_cond_broadcast(&r->stored);
	return rc;
}

static void *store_thread(void *arg)
{
	store_job *j = arg;
	repo *r = j->r;
	put_detached(j);
	free(j);
	/* the last touch of r: repo_flush and repo_free wait for storing 0 */
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static int start_store(store_job *j)
{
	pthread_attr_t a;
	pthread_t t;
	if (pthread_attr_init(&a) != 0)
		return -ENOMEM;
	int rc = pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	rc = rc ?: pthread_create(&t, &a, store_thread, j);
	pthread_attr_destroy(&a);
	return -rc;
}

/*
 * Stores op's pack if it has one.  Called and returns with r->lock held;
 * the pack goes to a store thread (or, when none can start, is written
 * here with the lock dropped), and the other threads go on filling the
 * next pack.  Its blobs stay pending in the index until the pack is
 * stored, so nothing refers to them before that, and repo_flush() waits
 * for every pack.
 */
static int store_pack(repo *r, open_pack *op, int type)
{
	if (!op->open)
		return 0;
	store_job *j = malloc(sizeof(*j));
	if (!j)
		return -ENOMEM;
	int rc = pack_writer_finish(&op->w, j->id);
	if (rc < 0) {
		free(j);
		return rc;
	}
	j->r = r;
	j->w = op->w;
	j->slot = op->slot;
	j->type = type;
	j->sealed = !op->copied;
	j->fast = retry_now_ns() - op->opened_ns < SPARE_FILL_NS;
	if (type == BLOB_DATA)
		r->packs_fast = j->fast;
	op->w = (pack_writer){ BUF_INIT, NULL, 0, 0 };
	op->open = op->copied = 0;
	while (r->storing >= (r->packs_fast ? STORES_IN_FLIGHT : 1))
		pthread_cond_wait(&r->stored, &r->lock);
	r->storing++;
	if (start_store(j) == 0)
		return store_failure(r);
	pthread_mutex_unlock(&r->lock);
	rc = put_detached(j);
	free(j);
	return rc ?: store_failure(r);
}

/* The pack buffer for a blob of type; starts a pack when none is open. */
static int pack_for(repo *r, int type, open_pack **out_op, buf **out_buf)
{
	open_pack *op = &r->packs[type == BLOB_TREE];
	int rc;
	if (!op->open) {
		if ((rc = index_set_pack_slot(r->index, &op->slot)) < 0)
			return rc;
		op->open = 1;
		op->opened_ns = retry_now_ns();
		if (type == BLOB_DATA && r->spare.data) {
			op->w.data = r->spare; /* its cap is what the reserve below asks */
			r->spare = (buf)BUF_INIT;
		}
		/* one allocation per pack instead of doubling past the target,
		 * aligned: a local pack is written past the page cache
		 * (fsio_write_bulk) straight from it, and, while packs fill
		 * fast, in huge pages where the kernel has them: 4 KiB pages
		 * cost a fault each, 4,096 a pack, 10-15% of a large file's
		 * backup (docs/performance.md); a huge page can cost a
		 * compaction, which a slowly filling pack does not need */
		if ((rc = buf_reserve_aligned(&op->w.data, pack_target(type) + (5u << 20), PACK_BUF_ALIGN)) < 0)
			return rc;
		if (type == BLOB_DATA && r->packs_fast)
			(void)madvise(op->w.data.data, op->w.data.cap, MADV_HUGEPAGE); /* a hint: errors change nothing */
	}
	*out_op = op;
	return pack_writer_buf(&op->w, out_buf);
}

/* Records the stored blob appended at start; stores the pack when full. */
static int commit_blob(repo *r, open_pack *op, int type, const uint8_t id[32], size_t n,
		       size_t start, const uint8_t *cksum)
{
	buf *b = &op->w.data;
	int rc = pack_writer_commit(&op->w, type, id, (uint32_t)n, start, cksum);
	if (rc < 0) {
		b->len = start;
		return rc;
	}
	index_set_place(r->index, id, op->slot, (uint32_t)start, (uint32_t)(b->len - start));
	r->bytes_added += b->len - start;
	if (b->len >= pack_target(type) || op->w.n >= PACK_MAX_BLOBS)
		return store_pack(r, op, type);
	return 0;
}

/*
 * The expensive part, compressing and sealing, runs outside the lock in
 * the session's own context.  A blob is entered as pending before it is
 * sealed, so a concurrent save of the same id is deduplicated.
 */
int repo_session_save(repo_session *s, int type, const uint8_t id[32], const void *plain, size_t n)
{
	repo *r = s->r;
	index_loc loc;
	if (n > BLOB_MAX_RAW)
		return err_set(-EFBIG, "blob too large (%zu bytes)", n);
	pthread_mutex_lock(&r->lock);
	int rc = index_set_lookup(r->index, id, &loc) == 0 ? 1 :
		 index_set_add(r->index, id, type, INDEX_PENDING, 0, 0, (uint32_t)n);
	/* deduplicated: the snapshot will rely on that copy (a pending one
	 * is this session's, noted when its pack is stored) */
	if (rc == 1 && loc.pack_id)
		relied_add(&r->relied, loc.pack_id);
	pthread_mutex_unlock(&r->lock);
	if (rc)
		return rc < 0 ? rc : 0;
	s->tmp.len = 0;
	rc = blob_seal(s->blob, &s->tmp, type, id, plain, n);
	if (rc < 0)
		return rc;
	/* the pack entry's checksum, computed here rather than under the
	 * lock: with the copy below it was all the lock was held for, a
	 * pass over every stored byte that the other workers waited on */
	uint8_t cksum[CHECKSUM_LEN];
	checksum128(cksum, s->tmp.data, s->tmp.len);
	pthread_mutex_lock(&r->lock);
	if (r->dry_run) {
		/* counted as stored, left pending: nothing is written */
		r->bytes_added += s->tmp.len;
		pthread_mutex_unlock(&r->lock);
		return 0;
	}
	open_pack *op = NULL;
	buf *b = NULL;
	rc = pack_for(r, type, &op, &b);
	size_t start = b ? b->len : 0;
	rc = rc ?: buf_append(b, s->tmp.data, s->tmp.len);
	rc = rc ?: commit_blob(r, op, type, id, n, start, cksum);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int repo_session_save_stored(repo_session *s, int type, const uint8_t id[32], const void *stored,
			     size_t n, uint32_t raw_len)
{
	repo *r = s->r;
	index_loc loc;
	if (n == 0 || n > 2 * BLOB_MAX_RAW) /* a tree blob also carries its child ids */
		return err_set(-EFBIG, "stored blob of %zu bytes is out of range", n);
	pthread_mutex_lock(&r->lock);
	int rc = index_set_lookup(r->index, id, &loc) == 0 ? 1 :
		 index_set_add(r->index, id, type, INDEX_PENDING, 0, 0, raw_len);
	if (rc == 1 && loc.pack_id)
		relied_add(&r->relied, loc.pack_id);
	if (rc == 0) {
		/* nothing to seal: appended under the lock at once */
		open_pack *op = NULL;
		buf *b = NULL;
		rc = pack_for(r, type, &op, &b);
		if (op)
			op->copied = 1;
		size_t start = b ? b->len : 0;
		rc = rc ?: buf_append(b, stored, n);
		rc = rc ?: commit_blob(r, op, type, id, raw_len, start, NULL);
	}
	pthread_mutex_unlock(&r->lock);
	return rc < 0 ? rc : 0;
}

int repo_add_stored_pack(repo *r, const uint8_t id[32], const void *file, size_t n,
			 const pack_entry *e, size_t ne)
{
	char name[80];
	pack_name(name, id);
	/* stored first, outside the lock (it is the slow part); indexed after */
	backend_staged *f;
	int rc = put_pack(r, name, BACKEND_DATA, file, n, &f);
	if (rc < 0)
		return rc;
	uint32_t slot;
	pthread_mutex_lock(&r->lock);
	rc = index_set_pack_slot(r->index, &slot);
	if (rc == 0)
		rc = pack_written(r, f, slot, id, 0);
	else
		backend_discard_staged(r->be, f);
	for (size_t i = 0; rc == 0 && i < ne; i++) {
		index_loc loc;
		if (index_set_lookup(r->index, e[i].id, &loc) == 0)
			continue; /* stored elsewhere too: either copy serves */
		rc = index_set_add(r->index, e[i].id, e[i].type, slot, (uint32_t)e[i].offset,
				   e[i].stored_len, e[i].raw_len);
	}
	if (rc == 0) {
		r->bytes_added += n;
		rc = index_if_due(r);
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* ---------- adopting packs no index names ---------- */

struct adopt_ctx {
	idmap known; /* packs an index or a condemnation record names */
	uint8_t (*found)[32];
	size_t n, cap;
};

static int note_known(void *ud, const uint8_t *id, const index_loc *loc)
{
	idmap_slot *s;
	(void)id;
	return loc->pack_id ? idmap_put(ud, loc->pack_id, &s, NULL) : 0;
}

static int note_orphan(void *ud, const backend_entry *e)
{
	struct adopt_ctx *c = ud;
	uint8_t id[32];
	const char *base = strrchr(e->name, '/');
	if (!base || strlen(base + 1) != 64 || hex_decode(id, base + 1, 32) < 0 ||
	    idmap_get(&c->known, id))
		return 0;
	int rc = array_reserve(&c->found, &c->cap, c->n + 1, 32);
	if (rc == 0)
		memcpy(c->found[c->n++], id, 32);
	return rc;
}

int repo_adopt_unindexed_packs(repo *r, uint64_t *out_packs)
{
	struct adopt_ctx c = { IDMAP_INIT, NULL, 0, 0 };
	*out_packs = 0;
	int rc = index_set_foreach(r->index, note_known, &c.known);
	rc = rc ?: gc_condemned_load(r->be, &c.known, NULL, NULL);
	rc = rc ?: backend_list(r->be, "data", note_orphan, &c);
	for (size_t i = 0; rc == 0 && i < c.n; i++) {
		pthread_mutex_lock(&r->lock);
		int a = index_add_pack_table(r->index, r->be, c.found[i]);
		if (a == 0)
			r->packs_unindexed++;
		pthread_mutex_unlock(&r->lock);
		if (a == -ENOMEM)
			rc = a;
		else if (a < 0) /* a damaged table: left for check and prune */
			log_warn("%s; not reused", err_msg(a));
		else
			(*out_packs)++;
	}
	idmap_release(&c.known);
	free(c.found);
	return rc;
}

int repo_save_blob(repo *r, int type, const uint8_t id[32], const void *plain, size_t n)
{
	return repo_session_save(r->session, type, id, plain, n);
}

void repo_set_dry_run(repo *r)
{
	r->dry_run = 1;
}

void repo_read_packs_whole(repo *r)
{
	r->whole_packs = 1;
}

int repo_flush(repo *r)
{
	int rc = 0;
	if (r->dry_run)
		return 0;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; rc == 0 && i < ARRAY_SIZE(r->packs); i++)
		rc = store_pack(r, &r->packs[i], i == 1 ? BLOB_TREE : BLOB_DATA);
	while (r->storing)
		pthread_cond_wait(&r->stored, &r->lock);
	rc = rc ?: store_failure(r);
	rc = rc ?: commit_batch(r);
	rc = rc ?: write_index(r);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int repo_index_stored(repo *r)
{
	if (r->dry_run)
		return 0;
	pthread_mutex_lock(&r->lock);
	while (r->storing)
		pthread_cond_wait(&r->stored, &r->lock);
	/* what was staged is whole: committed, it is reused like any stored pack */
	int rc = commit_batch(r);
	int w = write_index(r);
	pthread_mutex_unlock(&r->lock);
	return rc ?: w;
}

void repo_batch_packs(repo *r)
{
	r->batch = 1;
}

/* ---------- loading ---------- */

/* The session's open handle on a pack, opening it in the oldest slot. */
static int session_pack(repo_session *s, const uint8_t id[32], const char *name, int type,
			backend_file **out)
{
	for (size_t i = 0; i < SESSION_OPEN_PACKS; i++) {
		if (s->open[i].f && memcmp(s->open[i].id, id, 32) == 0) {
			*out = s->open[i].f;
			return 0;
		}
	}
	size_t slot = s->next_slot++ % SESSION_OPEN_PACKS;
	backend_file_close(s->r->be, s->open[slot].f);
	s->open[slot].f = NULL;
	backend_hint hint = s->r->whole_packs && type == BLOB_DATA ? BACKEND_WHOLE : hint_of(type);
	int rc = backend_open_read(s->r->be, name, hint, &s->open[slot].f, NULL);
	if (rc < 0)
		return rc;
	memcpy(s->open[slot].id, id, 32);
	*out = s->open[slot].f;
	return 0;
}

int repo_session_load(repo_session *s, int type, const uint8_t id[32], buf *out, int verify)
{
	index_loc loc;
	char hex[65], name[80];
	hex_encode(hex, id, 32);
	if (repo_locate_blob(s->r, id, &loc) < 0)
		return err_set(-DV_ENOTFOUND, "blob '%s' is not in the index", hex);
	if (loc.type != type)
		return err_set(-DV_ECORRUPT, "blob '%s' has the wrong type in the index", hex);
	if (!loc.pack_id)
		return err_set(-DV_ENOTFOUND, "blob '%s' is not stored yet", hex);
	pack_name(name, loc.pack_id);
	s->tmp.len = 0;
	int rc = buf_reserve(&s->tmp, loc.stored_len);
	if (rc < 0)
		return rc;
	backend_file *f;
	if ((rc = session_pack(s, loc.pack_id, name, type, &f)) < 0)
		return rc;
	rc = backend_file_read(s->r->be, f, loc.offset, s->tmp.data, loc.stored_len);
	if (rc < 0)
		return rc;
	rc = blob_open(s->blob, out, type, id, s->tmp.data, loc.stored_len, loc.raw_len, verify);
	if (rc == -DV_EBADKEY || rc == -DV_ECORRUPT)
		return err_set(-DV_ECORRUPT, "blob '%s' in pack '%s' is damaged", hex, name + 8);
	return rc;
}

int repo_session_open_stored(repo_session *s, int type, const uint8_t id[32], const void *stored,
			     size_t n, size_t raw_len, buf *out)
{
	return blob_open(s->blob, out, type, id, stored, n, raw_len, 1);
}

int repo_load_blob(repo *r, int type, const uint8_t id[32], buf *out)
{
	return repo_session_load(r->session, type, id, out, 0);
}

int repo_load_blob_verified(repo *r, int type, const uint8_t id[32], buf *out)
{
	return repo_session_load(r->session, type, id, out, 1);
}
