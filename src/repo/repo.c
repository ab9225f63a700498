/* SPDX-License-Identifier: BSD-2-Clause */
#include "repo.h"
#include "format.h"
#include "gcrec.h"
#include "index.h"
#include "lease.h"
#include "pack.h"
#include "relied.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/log.h"
#include "../core/blob.h"
#include "../core/checksum.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One pack under construction; data and tree blobs go to separate packs
 * so that tree packs stay small and are cheap to read for ls and GC. */
typedef struct {
	pack_writer w;
	uint32_t slot;
	int open;
} open_pack;

/* Packs read recently by a reader stay open: restores read runs of blobs
 * from the same pack, and an open per blob costs more than the read. */
#define SESSION_OPEN_PACKS 4

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

struct repo {
	backend *be;
	repo_config cfg;
	crypto_keys keys;
	chunker chunker;
	int level;
	repo_session *reader; /* the owning thread's */
	int keyless;
	index_set *index;
	/* blobs of condemned packs, loaded on the first index miss: readable
	 * (a snapshot may use one until the next prune returns it), never
	 * used for deduplication */
	index_set *condemned;
	int condemned_loaded;
	lease *lease;
	open_pack packs[2];
	unsigned packs_unindexed; /* stored packs no index file names yet */
	uint64_t bytes_added;
	/* the packs a new snapshot of this session may use (relied.h) */
	relied relied;
	/* guards index, packs and relied: blobs are saved from several threads */
	pthread_mutex_t lock;
};

static int config_encode(uint8_t out[CONFIG_LEN], const repo_config *c)
{
	memcpy(out, CONFIG_MAGIC, MAGIC_LEN);
	le32_put(out + 8, FORMAT_VERSION);
	memcpy(out + 12, c->id, 32);
	le32_put(out + 44, c->chunker.min);
	le32_put(out + 48, c->chunker.avg);
	le32_put(out + 52, c->chunker.max);
	checksum128(out + 56, out, 56);
	return 0;
}

int config_decode(repo_config *c, const uint8_t *p, size_t n)
{
	uint8_t ck[16];
	if (n < 12 || memcmp(p, CONFIG_MAGIC, MAGIC_LEN) != 0)
		return -DV_ECORRUPT;
	if (le32_get(p + 8) != FORMAT_VERSION)
		return -DV_EFORMAT;
	if (n != CONFIG_LEN)
		return -DV_ECORRUPT;
	checksum128(ck, p, 56);
	if (memcmp(ck, p + 56, 16) != 0)
		return -DV_ECORRUPT;
	memcpy(c->id, p + 12, 32);
	c->chunker.min = le32_get(p + 44);
	c->chunker.avg = le32_get(p + 48);
	c->chunker.max = le32_get(p + 52);
	return chunker_params_valid(&c->chunker) ? 0 : -DV_ECORRUPT;
}

static int dir_is_empty_cb(void *ud, const char *name)
{
	(void)ud;
	(void)name;
	return 1;
}

int repo_create(const char *path, const char *pass, const repo_init_params *p)
{
	backend *be = NULL;
	uint64_t sz;
	int r = local_backend_open(&be, path, 1);
	if (r < 0)
		return r;
	if (backend_size(be, "config", &sz) == 0) {
		backend_free(be);
		return err_set(-EEXIST, "repository '%s' already exists", path);
	}
	if (backend_list(be, "snapshots", dir_is_empty_cb, NULL) == 1) {
		backend_free(be);
		return err_set(-EEXIST, "'%s' already holds snapshots but no config", path);
	}
	crypto_keys k;
	repo_config c;
	uint8_t cfg[CONFIG_LEN];
	char kname[80];
	buf _cleanup_(buf_releasep) kf = BUF_INIT;
	c.chunker = p->chunker;
	if (!chunker_params_valid(&c.chunker)) {
		backend_free(be);
		return err_set(-EINVAL, "invalid chunker parameters");
	}
	r = crypto_random(&k, sizeof(k));
	r = r ?: crypto_random(c.id, sizeof(c.id));
	r = r ?: key_encode(&kf, &k, pass, &p->kdf);
	crypto_wipe(&k, sizeof(k));
	if (r == 0) {
		key_file_name(kname, kf.data, kf.len);
		r = backend_put(be, kname, kf.data, kf.len);
	}
	if (r == 0) {
		config_encode(cfg, &c);
		/* config last: a repository without it is not yet a repository */
		r = backend_put(be, "config", cfg, sizeof(cfg));
	}
	backend_free(be);
	return r;
}

/*
 * Key files are read (each exactly KEY_FILE_LEN bytes), checked against
 * their names and their parameters against the cap, and tried cheapest
 * first until one opens: a planted file can neither make an attempt cost
 * more than `init` could, nor come before a cheaper real key.  Files that
 * cannot be used are reported one line each and skipped.
 */
#define KEY_FILES_READ_MAX 4096 /* files looked at in keys/ */
#define KEY_FILES_TRY_MAX 64    /* KDF runs per opening, cheapest first */

struct unlock_ctx {
	repo *r;
	key_file *v;
	size_t n, cap, seen, skipped;
};

static int read_key(void *ud, const char *name)
{
	struct unlock_ctx *u = ud;
	uint64_t size = 0;
	bytes b = BYTES_INIT;
	char skip[400] = "";
	if (u->seen++ >= KEY_FILES_READ_MAX) {
		if (u->seen == KEY_FILES_READ_MAX + 1) {
			u->skipped++;
			log_warn("more than %d files in 'keys': the rest are not looked at", KEY_FILES_READ_MAX);
		}
		return 0;
	}
	int rc = backend_size(u->r->be, name, &size);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	rc = array_reserve(&u->v, &u->cap, u->n + 1, sizeof(*u->v));
	if (rc < 0)
		return rc;
	/* the size first: a huge file in keys/ is not read into memory */
	if (size != KEY_FILE_LEN) {
		snprintf(skip, sizeof(skip), "key file '%s' is damaged (%" PRIu64 " bytes, not %zu); skipped",
			 name, size, (size_t)KEY_FILE_LEN);
	} else if ((rc = backend_get(u->r->be, name, &b)) < 0) {
		return rc == -ENOENT ? 0 : rc;
	} else if (key_file_check(&u->v[u->n], name, b.data, b.len, skip, sizeof(skip)) == 0) {
		u->n++;
	}
	bytes_release(&b);
	if (skip[0]) {
		u->skipped++;
		log_warn("%s", skip);
	}
	return 0;
}

static int load_config(repo *r, const char *path)
{
	bytes b = BYTES_INIT;
	int rc = backend_get(r->be, "config", &b);
	if (rc == -ENOENT)
		return err_set(-DV_ENOTFOUND, "'%s' is not a dvalin repository (no config file)", path);
	if (rc < 0)
		return rc;
	rc = config_decode(&r->cfg, b.data, b.len);
	bytes_release(&b);
	if (rc == -DV_EFORMAT)
		return err_set(rc, "repository '%s' has a format version this dvalin cannot read", path);
	if (rc < 0)
		return err_set(rc, "config file of repository '%s' is damaged", path);
	return 0;
}

static int unlock_keys(repo *r, const char *path, const char *pass)
{
	struct unlock_ctx u = { r, NULL, 0, 0, 0, 0 };
	int rc = backend_list(r->be, "keys", read_key, &u);
	if (rc == 0)
		key_files_sort(u.v, u.n);
	int found = 0;
	size_t tried = 0;
	for (size_t i = 0; rc == 0 && !found && i < u.n; i++) {
		if (tried++ == KEY_FILES_TRY_MAX) {
			log_warn("%zu key files in '%s/keys': only the %d cheapest are tried", u.n, path,
				 KEY_FILES_TRY_MAX);
			break;
		}
		rc = key_decode(&r->keys, u.v[i].file, KEY_FILE_LEN, pass);
		found = rc == 0;
		if (rc == -ENOMEM) {
			/* within the cap, but more than this machine has: another
			 * key file may still open the repository */
			log_warn("key file '%s': not enough memory for its scrypt parameters; skipped",
				 u.v[i].name);
			u.skipped++;
		}
		if (rc == -DV_EBADKEY || rc == -ENOMEM)
			rc = 0;
	}
	free(u.v);
	if (rc < 0 || found)
		return rc;
	if (u.n == 0)
		return u.skipped ? err_set(-DV_ECORRUPT, "no usable key in '%s/keys': %zu key file(s) skipped (see the warnings)", path, u.skipped)
				 : err_set(-DV_ECORRUPT, "no key file in '%s/keys'", path);
	if (u.skipped)
		return err_set(-DV_EBADKEY, "wrong password for repository '%s' (%zu key file(s) skipped, see the warnings)",
			       path, u.skipped);
	return err_set(-DV_EBADKEY, "wrong password for repository '%s'", path);
}

static int take_lease(repo *r, const repo_open_opts *o)
{
	if (!o->lease)
		return 0;
	int rc = lease_take(&r->lease, r->be, o->lease, o->exclusive);
	/* A reader of a read-only repository (a cold-storage disk) needs no
	 * lease: nothing can be pruned under it.  Nor should a full disk stop
	 * a restore, or the forget that makes room. */
	if ((rc == -EROFS || rc == -EACCES || rc == -EPERM || rc == -ENOSPC || rc == -EDQUOT) &&
	    strcmp(o->lease, "read") == 0) {
		err_clear();
		return 0;
	}
	return rc;
}

int repo_open_with(repo **out, const char *path, const repo_open_opts *o)
{
	repo *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	r->keyless = o->pass == NULL;
	int rc = local_backend_open(&r->be, path, 0);
	rc = rc ?: load_config(r, path);
	if (rc == 0 && !r->keyless)
		rc = unlock_keys(r, path, o->pass);
	if (rc == 0) {
		uint64_t gear[256];
		crypto_derive((uint8_t *)gear, sizeof(gear), r->keys.chunk, "dvalin-gear-v1");
		chunker_init(&r->chunker, &r->cfg.chunker, gear);
		r->level = o->level;
		rc = repo_session_new(&r->reader, r);
	}
	/* The lease comes before the index is read: a prune that replaces
	 * the index after this point knows this process may use the old. */
	rc = rc ?: take_lease(r, o);
	rc = rc ?: index_set_new(&r->index);
	rc = rc ?: (o->tolerant ? index_set_load_tolerant(r->index, r->be)
				: index_set_load(r->index, r->be));
	if (rc < 0) {
		repo_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int repo_open(repo **out, const char *path, const char *pass, int level)
{
	repo_open_opts o = { pass, level, NULL, 0, 0 };
	return repo_open_with(out, path, &o);
}

void repo_free(repo *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	for (size_t i = 0; i < ARRAY_SIZE(r->packs); i++)
		pack_writer_release(&r->packs[i].w);
	index_set_free(r->index);
	index_set_free(r->condemned);
	relied_release(&r->relied);
	repo_session_free(r->reader);
	lease_drop(r->lease);
	backend_free(r->be);
	crypto_wipe(&r->keys, sizeof(r->keys));
	free(r);
}

const char *repo_location(const repo *r) { return r->be->location; }
const repo_config *repo_get_config(const repo *r) { return &r->cfg; }
const chunker *repo_chunker(const repo *r) { return &r->chunker; }
backend *repo_backend(repo *r) { return r->be; }
index_set *repo_index(repo *r) { return r->index; }
int repo_is_keyless(const repo *r) { return r->keyless; }
lease *repo_lease(repo *r) { return r->lease; }

int repo_has_blob(repo *r, const uint8_t id[32])
{
	index_loc loc;
	pthread_mutex_lock(&r->lock);
	int rc = index_set_lookup(r->index, id, &loc);
	/* a caller that finds a blob may reference it (a backup reusing a
	 * parent's chunk list) */
	if (rc == 0 && loc.pack_id)
		relied_add(&r->relied, loc.pack_id);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void repo_blob_id(const repo *r, uint8_t out[32], const void *plain, size_t n)
{
	blob_id(out, r->reader->blob, plain, n);
}

uint64_t repo_bytes_added(const repo *r)
{
	return r->bytes_added;
}

static int write_index(repo *r)
{
	int rc = index_set_write(r->index, r->be);
	if (rc == 0)
		r->packs_unindexed = 0;
	return rc;
}

static int store_pack(repo *r, open_pack *op)
{
	uint8_t id[32];
	char name[80];
	if (!op->open)
		return 0;
	int rc = pack_writer_finish(&op->w, id);
	if (rc < 0)
		return rc;
	pack_name(name, id);
	rc = backend_put(r->be, name, op->w.data.data, op->w.data.len);
	if (rc < 0)
		return rc;
	index_set_pack_stored(r->index, op->slot, id);
	relied_add(&r->relied, id);
	pack_writer_reset(&op->w);
	op->open = 0;
	/* Index as we go: a backup killed half-way leaves packs the next
	 * one finds and reuses instead of writing them again. */
	if (++r->packs_unindexed >= REPO_INDEX_EVERY_PACKS)
		return write_index(r);
	return 0;
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
		/* one allocation per pack instead of doubling past the target */
		if ((rc = buf_reserve(&op->w.data, PACK_TARGET_SIZE + (5u << 20))) < 0)
			return rc;
	}
	*out_op = op;
	return pack_writer_buf(&op->w, out_buf);
}

/* Records the stored blob appended at start; stores the pack when full. */
static int commit_blob(repo *r, open_pack *op, int type, const uint8_t id[32], size_t n,
		       size_t start)
{
	buf *b = &op->w.data;
	int rc = pack_writer_commit(&op->w, type, id, (uint32_t)n, start);
	if (rc < 0) {
		b->len = start;
		return rc;
	}
	index_set_place(r->index, id, op->slot, (uint32_t)start, (uint32_t)(b->len - start));
	r->bytes_added += b->len - start;
	if (b->len >= PACK_TARGET_SIZE || op->w.n >= PACK_MAX_BLOBS)
		return store_pack(r, op);
	return 0;
}


/*
 * Thread-safe: the index and the open packs are guarded by r->lock; the
 * expensive part, compressing and sealing, runs outside it in the
 * caller's own context.  A blob is entered as pending before it is
 * sealed, so a concurrent save of the same id is deduplicated.
 */
int repo_session_save(repo_session *rd, int type, const uint8_t id[32], const void *plain, size_t n)
{
	repo *r = rd->r;
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
	rd->tmp.len = 0;
	rc = blob_seal(rd->blob, &rd->tmp, type, id, plain, n);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&r->lock);
	open_pack *op = NULL;
	buf *b = NULL;
	rc = pack_for(r, type, &op, &b);
	size_t start = b ? b->len : 0;
	rc = rc ?: buf_append(b, rd->tmp.data, rd->tmp.len);
	rc = rc ?: commit_blob(r, op, type, id, n, start);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int repo_save_blob(repo *r, int type, const uint8_t id[32], const void *plain, size_t n)
{
	return repo_session_save(r->reader, type, id, plain, n);
}

int repo_flush(repo *r)
{
	int rc = 0;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; rc == 0 && i < ARRAY_SIZE(r->packs); i++)
		rc = store_pack(r, &r->packs[i]);
	rc = rc ?: write_index(r);
	pthread_mutex_unlock(&r->lock);
	return rc;
}


int repo_session_new(repo_session **out, repo *r)
{
	repo_session *rd = calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	rd->r = r;
	int rc = blob_ctx_new(&rd->blob, &r->keys, r->level);
	if (rc < 0) {
		free(rd);
		return rc;
	}
	*out = rd;
	return 0;
}

void repo_session_free(repo_session *rd)
{
	if (!rd)
		return;
	for (size_t i = 0; i < SESSION_OPEN_PACKS; i++)
		backend_file_close(rd->r->be, rd->open[i].f);
	blob_ctx_free(rd->blob);
	buf_release(&rd->tmp);
	free(rd);
}

static int reader_pack(repo_session *rd, const uint8_t id[32], const char *name, backend_file **out)
{
	for (size_t i = 0; i < SESSION_OPEN_PACKS; i++) {
		if (rd->open[i].f && memcmp(rd->open[i].id, id, 32) == 0) {
			*out = rd->open[i].f;
			return 0;
		}
	}
	size_t slot = rd->next_slot++ % SESSION_OPEN_PACKS;
	backend_file_close(rd->r->be, rd->open[slot].f);
	rd->open[slot].f = NULL;
	int rc = backend_open_read(rd->r->be, name, &rd->open[slot].f);
	if (rc < 0)
		return rc;
	memcpy(rd->open[slot].id, id, 32);
	*out = rd->open[slot].f;
	return 0;
}

/* Indexes the blobs of every condemned pack (called with r->lock held). */
static int load_condemned(repo *r)
{
	gc_record *v = NULL;
	size_t n = 0;
	r->condemned_loaded = 1;
	int rc = index_set_new(&r->condemned);
	rc = rc ?: gc_records_load(r->be, &v, &n, NULL);
	for (size_t i = 0; rc == 0 && i < n; i++)
		for (size_t k = 0; rc == 0 && k < v[i].npacks; k++)
			rc = index_add_pack_table(r->condemned, r->be, v[i].packs[k]);
	gc_records_free(v, n);
	return rc;
}

int index_add_pack_table(index_set *s, backend *be, const uint8_t pack[32])
{
	pack_entry *e = NULL;
	size_t n = 0;
	uint32_t slot;
	int rc = pack_read_table(be, pack, &e, &n);
	if (rc == -ENOENT)
		return 0; /* already deleted */
	rc = rc ?: index_set_pack_slot(s, &slot);
	if (rc == 0)
		index_set_pack_stored(s, slot, pack);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = index_set_add(s, e[i].id, e[i].type, slot, (uint32_t)e[i].offset,
				   e[i].stored_len, e[i].raw_len);
	free(e);
	return rc;
}

/* The index, then the condemned packs. */
static int locate(repo *r, const uint8_t id[32], index_loc *loc)
{
	pthread_mutex_lock(&r->lock);
	int found = index_set_lookup(r->index, id, loc);
	if (found < 0 && !r->condemned_loaded) {
		int rc = load_condemned(r);
		if (rc < 0 && rc != -ENOENT)
			log_warn("cannot read condemned packs: %s", err_msg(rc));
	}
	if (found < 0 && r->condemned)
		found = index_set_lookup(r->condemned, id, loc);
	pthread_mutex_unlock(&r->lock);
	return found;
}

int repo_locate_blob(repo *r, const uint8_t id[32], index_loc *loc)
{
	return locate(r, id, loc);
}

int repo_session_load(repo_session *rd, int type, const uint8_t id[32], buf *out, int verify)
{
	index_loc loc;
	char hex[65], name[80];
	hex_encode(hex, id, 32);
	int found = locate(rd->r, id, &loc);
	if (found < 0)
		return err_set(-DV_ENOTFOUND, "blob '%s' is not in the index", hex);
	if (loc.type != type)
		return err_set(-DV_ECORRUPT, "blob '%s' has the wrong type in the index", hex);
	if (!loc.pack_id)
		return err_set(-DV_ENOTFOUND, "blob '%s' is not stored yet", hex);
	pack_name(name, loc.pack_id);
	rd->tmp.len = 0;
	int rc = buf_reserve(&rd->tmp, loc.stored_len);
	if (rc < 0)
		return rc;
	backend_file *f;
	if ((rc = reader_pack(rd, loc.pack_id, name, &f)) < 0)
		return rc;
	rc = backend_file_read(rd->r->be, f, loc.offset, rd->tmp.data, loc.stored_len);
	if (rc < 0)
		return rc;
	rc = blob_open(rd->blob, out, type, id, rd->tmp.data, loc.stored_len, loc.raw_len, verify);
	if (rc == -DV_EBADKEY || rc == -DV_ECORRUPT)
		return err_set(-DV_ECORRUPT, "blob '%s' in pack '%s' is damaged", hex, name + 8);
	return rc;
}

int repo_load_blob(repo *r, int type, const uint8_t id[32], buf *out)
{
	return repo_session_load(r->reader, type, id, out, 0);
}

int repo_load_blob_verified(repo *r, int type, const uint8_t id[32], buf *out)
{
	return repo_session_load(r->reader, type, id, out, 1);
}

int repo_save_snapshot(repo *r, snapshot *s)
{
	buf _cleanup_(buf_releasep) b = BUF_INIT;
	char hex[65], name[80];
	int rc = snapshot_encode(&b, s, &r->keys);
	if (rc < 0)
		return rc;
	hex_encode(hex, s->id, 32);
	snprintf(name, sizeof(name), "snapshots/%s", hex);
	/*
	 * The commit check (docs/concurrency.md).  A prune deletes what it
	 * condemned only after every lease older than the condemnation is
	 * gone: ours must still count, before the snapshot is written and
	 * after, when every prune that marks from then on sees it; and every
	 * pack the snapshot relies on must still be there both times.  A
	 * failure after writing removes the snapshot again.
	 */
	const char *who = r->lease ? lease_kind(r->lease) : "process";
	pthread_mutex_lock(&r->lock);
	int written = 0;
	for (int pass = 0; rc == 0 && pass < 2; pass++) {
		if (r->lease)
			rc = lease_confirm(r->lease);
		rc = rc ?: relied_check(&r->relied, r->be, who);
		if (rc == 0 && pass == 0)
			written = (rc = backend_put(r->be, name, b.data, b.len)) == 0;
	}
	if (rc < 0) {
		char msg[900];
		snprintf(msg, sizeof(msg), "%s", err_msg(rc));
		int d = written ? backend_remove(r->be, name) : 0;
		rc = d < 0 && d != -ENOENT
			     ? err_set(rc, "%s; snapshot '%s' was written and could not be removed again: delete it", msg, hex)
			     : err_set(rc, "%s; the snapshot was not saved", msg);
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

struct snap_list {
	repo *r;
	snapshot **v;
	size_t n;
	size_t damaged;
};

static int load_snap(void *ud, const char *name)
{
	struct snap_list *l = ud;
	bytes b = BYTES_INIT;
	snapshot *s = NULL;
	uint8_t want[32];
	const char *base = strrchr(name, '/') + 1;
	int rc = backend_get(l->r->be, name, &b);
	if (rc == -ENOENT)
		return 0; /* forgotten while we listed */
	if (rc == 0) {
		rc = snapshot_decode(&s, b.data, b.len, &l->r->keys);
		bytes_release(&b);
	}
	if (rc == 0 && (hex_decode(want, base, 32) < 0 || memcmp(want, s->id, 32) != 0))
		rc = -DV_ECORRUPT;
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		snapshot_free(s);
		if (l->damaged++ == 0)
			err_set(-DV_ECORRUPT, "snapshot file '%s' is damaged or unreadable", name);
		return 0;
	}
	snapshot **v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v) {
		snapshot_free(s);
		return -ENOMEM;
	}
	l->v = v;
	v[l->n++] = s;
	return 0;
}

static int cmp_time(const void *a, const void *b)
{
	const snapshot *x = *(snapshot *const *)a, *y = *(snapshot *const *)b;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->time_nsec != y->time_nsec)
		return x->time_nsec < y->time_nsec ? -1 : 1;
	return memcmp(x->id, y->id, 32);
}

int repo_load_snapshots(repo *r, snapshot ***out, size_t *out_n, size_t *out_damaged)
{
	if (r->keyless)
		return err_set(-DV_EBADKEY, "snapshots of '%s' cannot be read without the key", repo_location(r));
	struct snap_list l = { r, NULL, 0, 0 };
	int rc = backend_list(r->be, "snapshots", load_snap, &l);
	if (rc < 0) {
		repo_free_snapshots(l.v, l.n);
		return rc;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_time);
	*out = l.v;
	*out_n = l.n;
	if (out_damaged)
		*out_damaged = l.damaged;
	return 0;
}

void repo_free_snapshots(snapshot **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snapshot_free(list[i]);
	free(list);
}

int repo_find_snapshot(repo *r, const char *spec, snapshot **out)
{
	snapshot **v;
	size_t n, damaged, match = SIZE_MAX, hits = 0;
	int latest = strcmp(spec, "latest") == 0;
	if (!latest && !hex_is_prefix(spec, 64))
		return err_set(-DV_EUSAGE, "invalid snapshot id '%s'", spec);
	int rc = repo_load_snapshots(r, &v, &n, &damaged);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		char hex[65];
		hex_encode(hex, v[i]->id, 32);
		if (latest || strncasecmp(hex, spec, strlen(spec)) == 0) {
			match = i;
			hits++;
		}
	}
	if (latest && n)
		hits = 1;
	if (hits == 1) {
		*out = v[match];
		v[match] = NULL;
	}
	repo_free_snapshots(v, n);
	if (hits == 0)
		return err_set(-DV_ENOTFOUND, latest ? "no snapshot in repository '%s'%s"
						     : "no snapshot matches '%s'%s",
			       latest ? repo_location(r) : spec,
			       damaged ? " (some snapshot files are damaged)" : "");
	if (hits > 1)
		return err_set(-DV_EAMBIG, "snapshot id prefix '%s' is ambiguous", spec);
	return 0;
}

struct roots_ctx {
	repo *r;
	repo_root_fn fn;
	void *ud;
	size_t damaged;
};

static int root_one(void *ud, const char *name)
{
	struct roots_ctx *c = ud;
	bytes b = BYTES_INIT;
	uint8_t tree[32], want[32], got[32];
	const char *base = strrchr(name, '/') + 1;
	int rc = backend_get(c->r->be, name, &b);
	if (rc == -ENOENT)
		return 0; /* forgotten while we listed */
	if (rc == 0) {
		rc = snapshot_decode_header(b.data, b.len, tree);
		crypto_sha256(got, b.data, b.len);
		bytes_release(&b);
	}
	if (rc == 0 && (hex_decode(want, base, 32) < 0 || memcmp(want, got, 32) != 0))
		rc = -DV_ECORRUPT;
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		if (c->damaged++ == 0)
			err_set(-DV_ECORRUPT, "snapshot file '%s' is damaged or unreadable", name);
		return 0;
	}
	return c->fn(c->ud, want, tree);
}

int repo_list_snapshot_roots(repo *r, repo_root_fn fn, void *ud, size_t *out_damaged)
{
	struct roots_ctx c = { r, fn, ud, 0 };
	int rc = backend_list(r->be, "snapshots", root_one, &c);
	if (out_damaged)
		*out_damaged = c.damaged;
	return rc;
}

int repo_set_protected(repo *r, const uint8_t id[32], int on)
{
	char hex[65], name[80];
	hex_encode(hex, id, 32);
	snprintf(name, sizeof(name), "protected/%s", hex);
	if (on)
		return backend_put(r->be, name, "", 0);
	int rc = backend_remove(r->be, name);
	return rc == -ENOENT ? 0 : rc;
}

static int add_protected(void *ud, const char *name)
{
	uint8_t id[32];
	const char *base = strrchr(name, '/') + 1;
	idmap_slot *s;
	if (strlen(base) != 64 || hex_decode(id, base, 32) < 0)
		return 0;
	return idmap_put(ud, id, &s, NULL);
}

int repo_load_protected(repo *r, idmap *out)
{
	return backend_list(r->be, "protected", add_protected, out);
}

int repo_forget_snapshot(repo *r, const uint8_t id[32])
{
	char hex[65], name[80];
	hex_encode(hex, id, 32);
	snprintf(name, sizeof(name), "protected/%s", hex);
	uint64_t sz;
	if (backend_size(r->be, name, &sz) == 0)
		return err_set(-EPERM, "snapshot '%.8s' is protected; run 'dvalin unprotect %.8s' first", hex, hex);
	snprintf(name, sizeof(name), "snapshots/%s", hex);
	return backend_remove(r->be, name);
}

int repo_session_open_stored(repo_session *rd, int type, const uint8_t id[32], const void *stored,
			    size_t n, size_t raw_len, buf *out)
{
	return blob_open(rd->blob, out, type, id, stored, n, raw_len, 1);
}

struct unreadable_ctx {
	repo *r;
	size_t removed;
};

static int remove_if_unreadable(void *ud, const char *name)
{
	struct unreadable_ctx *c = ud;
	struct snap_list l = { c->r, NULL, 0, 0 };
	int rc = load_snap(&l, name);
	repo_free_snapshots(l.v, l.n);
	if (rc < 0 || l.damaged == 0)
		return rc;
	rc = backend_remove(c->r->be, name);
	if (rc == 0)
		c->removed++;
	return rc == -ENOENT ? 0 : rc;
}

int repo_remove_unreadable_snapshots(repo *r, size_t *removed)
{
	struct unreadable_ctx c = { r, 0 };
	int rc = r->keyless ? -DV_EBADKEY : backend_list(r->be, "snapshots", remove_if_unreadable, &c);
	*removed = c.removed;
	return rc;
}
