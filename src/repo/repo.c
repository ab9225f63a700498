/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * repo: creating and opening a repository, and where its blobs are.
 * Opening reads the config, tries the key files, takes the lease and
 * only then reads the index (see take_lease for why).
 */
#include "repo_internal.h"
#include "format.h"
#include "gcrec.h"
#include "layout.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/log.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int stop_at_first(void *ud, const backend_entry *e)
{
	(void)ud;
	(void)e;
	return 1;
}

/*
 * Wraps a remote backend in the metadata cache, kept per repository id
 * (so two repositories never share copies, and a copy needs no other
 * key than its name); borrow: freeing the cache leaves *be open.
 * Without a usable cache directory the repository is simply read from
 * the backend, with a warning, and *be is left as it was.
 */
static void cache_wrap(backend **be, const uint8_t id[32], int borrow)
{
	char hex[65], dir[PATH_MAX];
	hex_encode(hex, id, 32);
	backend *c;
	int rc = backend_cache_dir(dir, sizeof(dir), hex);
	if (rc == -ENOENT)
		rc = err_set(rc, "neither $XDG_CACHE_HOME nor $HOME is set");
	else if (rc < 0)
		rc = err_sys(rc, "cannot create the cache directory for repository '%s'",
			     (*be)->location);
	rc = rc ?: (borrow ? cache_backend_borrow : cache_backend_new)(&c, *be, dir, &layout_cache_policy);
	if (rc < 0) {
		log_warn("working without a local cache: %s", err_msg(rc));
		err_clear();
		return;
	}
	*be = c;
}

/* A new repository goes where there is none, and gets its directories. */
static int prepare_new(backend *be)
{
	static const char *const dirs[] = REPO_DIRS;
	const char *loc = be->location;
	uint64_t sz;
	if (backend_size(be, "config", &sz) == 0)
		return err_set(-EEXIST, "repository '%s' already exists", loc);
	int r = backend_list(be, "snapshots", stop_at_first, NULL);
	if (r == 1)
		return err_set(-EEXIST, "'%s' already holds snapshots but no config", loc);
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(dirs); i++)
		r = backend_mkdir(be, dirs[i]);
	return r;
}

int repo_create(backend *be, const char *pass, const repo_init_params *p)
{
	crypto_keys k;
	repo_config c;
	uint8_t cfg[CONFIG_LEN];
	char kname[80];
	buf _cleanup_(buf_releasep) kf = BUF_INIT;
	c.chunker = p->chunker;
	if (!chunker_params_is_valid(&c.chunker))
		return err_set(-EINVAL, "invalid chunker parameters");
	int r = prepare_new(be);
	r = r ?: crypto_random(&k, sizeof(k));
	r = r ?: crypto_random(c.id, sizeof(c.id));
	r = r ?: key_encode(&kf, &k, pass, &p->kdf);
	crypto_wipe(&k, sizeof(k));
	/* the key file through the metadata cache, as an opening would
	 * keep it: the first backup from here need not fetch it */
	backend *via = be;
	if (r == 0 && (be->flags & BACKEND_REMOTE) && !p->no_cache)
		cache_wrap(&via, c.id, 1);
	if (r == 0) {
		key_file_name(kname, kf.data, kf.len);
		r = backend_put(via, kname, BACKEND_META, kf.data, kf.len);
	}
	if (via != be)
		backend_free(via);
	if (r == 0) {
		config_encode(cfg, &c);
		/* config last: a repository without it is not yet a repository */
		r = backend_put(be, "config", BACKEND_META, cfg, sizeof(cfg));
	}
	return r;
}

struct replica_ctx {
	backend *dst;
	size_t copied, skipped;
};

static int copy_key(void *ud, const char *name, int rc, bytes *b)
{
	struct replica_ctx *c = ud;
	key_file kf;
	char why[400] = "";
	if (rc < 0)
		return rc;
	/* only what a reader would try: the same checks, the same names */
	if (b->len != KEY_FILE_LEN || key_file_check(&kf, name, b->data, b->len, why, sizeof(why)) < 0) {
		c->skipped++;
		log_warn("%s", why[0] ? why : "a file in 'keys' is not a key file; not copied");
		return 0;
	}
	rc = backend_put(c->dst, name, BACKEND_META, b->data, b->len);
	c->copied += rc == 0;
	return rc;
}

int repo_create_replica(backend *dst, backend *src)
{
	bytes cfg = BYTES_INIT;
	repo_config c;
	int rc = backend_get(src, "config", BACKEND_META, &cfg);
	if (rc == -ENOENT)
		return err_set(-DV_ENOTFOUND, "'%s' is not a dvalin repository (no config file)", src->location);
	if (rc < 0)
		return rc;
	rc = config_decode(&c, cfg.data, cfg.len);
	if (rc < 0)
		rc = err_set(rc, "config file of repository '%s' is %s", src->location,
			     rc == -DV_EFORMAT ? "of a version this dvalin cannot read" : "damaged");
	struct replica_ctx k = { dst, 0, 0 };
	rc = rc ?: prepare_new(dst);
	rc = rc ?: backend_fetch_dir(src, "keys", BACKEND_META, BACKEND_FETCH_SKIP_MISSING, NULL,
				     copy_key, &k);
	if (rc == 0 && k.copied == 0)
		rc = err_set(-DV_ECORRUPT, "repository '%s' has no usable key file to copy", src->location);
	/* the same config, byte for byte, last: same id, same chunker */
	rc = rc ?: backend_put(dst, "config", BACKEND_META, cfg.data, cfg.len);
	bytes_release(&cfg);
	return rc;
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
	key_file *v;
	size_t n, cap, seen, skipped;
};

/* The listing's size first: a huge file in keys/ is never read into memory. */
static int want_key(void *ud, const backend_entry *e)
{
	struct unlock_ctx *u = ud;
	if (u->seen++ >= KEY_FILES_READ_MAX) {
		if (u->seen == KEY_FILES_READ_MAX + 1) {
			u->skipped++;
			log_warn("more than %d files in 'keys': the rest are not looked at", KEY_FILES_READ_MAX);
		}
		return 0;
	}
	if (e->size == KEY_FILE_LEN)
		return 1;
	u->skipped++;
	log_warn("key file '%s' is damaged (%" PRIu64 " bytes, not %zu); skipped", e->name, e->size,
		 (size_t)KEY_FILE_LEN);
	return 0;
}

static int read_key(void *ud, const char *name, int rc, bytes *b)
{
	struct unlock_ctx *u = ud;
	char skip[400] = "";
	rc = rc ?: array_reserve(&u->v, &u->cap, u->n + 1, sizeof(*u->v));
	if (rc < 0)
		return rc;
	if (key_file_check(&u->v[u->n], name, b->data, b->len, skip, sizeof(skip)) == 0)
		u->n++;
	if (skip[0]) {
		u->skipped++;
		log_warn("%s", skip);
	}
	return 0;
}

static int load_config(repo *r)
{
	bytes b = BYTES_INIT;
	const char *loc = repo_location(r);
	int rc = backend_get(r->be, "config", BACKEND_META, &b);
	if (rc == -ENOENT)
		return err_set(-DV_ENOTFOUND, "'%s' is not a dvalin repository (no config file)", loc);
	if (rc < 0)
		return rc;
	rc = config_decode(&r->cfg, b.data, b.len);
	bytes_release(&b);
	if (rc == -DV_EFORMAT)
		return err_set(rc, "repository '%s' has a format version this dvalin cannot read", loc);
	if (rc < 0)
		return err_set(rc, "config file of repository '%s' is damaged", loc);
	return 0;
}

int repo_key_files(backend *be, key_file **out, size_t *out_n, size_t *out_skipped)
{
	struct unlock_ctx u = { NULL, 0, 0, 0, 0 };
	int rc = backend_fetch_dir(be, "keys", BACKEND_META, BACKEND_FETCH_SKIP_MISSING, want_key,
				   read_key, &u);
	if (rc < 0) {
		free(u.v);
		return rc;
	}
	key_files_sort(u.v, u.n);
	*out = u.v;
	*out_n = u.n;
	*out_skipped = u.skipped;
	return 0;
}

static int unlock_keys(repo *r, const char *pass)
{
	const char *path = repo_location(r);
	struct unlock_ctx u = { NULL, 0, 0, 0, 0 };
	int rc = repo_key_files(r->be, &u.v, &u.n, &u.skipped);
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
		if (found)
			memcpy(r->key_name, u.v[i].name, sizeof(r->key_name));
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
		/* A server that refuses a read token's read lease (one from
		 * before they were allowed, docs/http-api.md) may prune
		 * meanwhile: say so, and go on as before, without one. */
		if (rc == -EACCES && (r->be->flags & BACKEND_REMOTE))
			log_warn("no read lease on '%s' (%s): a prune there meanwhile may delete packs this reads; it then fails or skips, and writes nothing incomplete",
				 r->be->location, err_msg(rc));
		err_clear();
		return 0;
	}
	return rc;
}

static void use_cache(repo *r, const repo_open_opts *o)
{
	if ((r->be->flags & BACKEND_REMOTE) && !o->no_cache)
		cache_wrap(&r->be, r->cfg.id, 0);
}

/*
 * A cached tree pack is in use while the index places one of its blobs
 * in it; copies of packs a prune (here or on a server) removed are
 * dropped, so the cache does not grow with the repository's history.
 */
static int pack_in_use(void *ud, const char *name)
{
	repo *r = ud;
	bytes b = BYTES_INIT;
	pack_entry *e = NULL;
	size_t n = 0;
	uint8_t id[32];
	int used = 0;
	if (hex_decode(id, strrchr(name, '/') + 1, 32) == 0 &&
	    backend_get(r->be, name, BACKEND_META, &b) == 0 &&
	    pack_parse(&e, &n, b.data, b.len) == 0) {
		for (size_t i = 0; !used && i < n; i++) {
			index_loc loc;
			used = index_set_lookup(r->index, e[i].id, &loc) == 0 && loc.pack_id &&
			       memcmp(loc.pack_id, id, 32) == 0;
		}
	}
	free(e);
	bytes_release(&b);
	err_clear();
	return used;
}

int repo_open_with(repo **out, backend *be, const repo_open_opts *o)
{
	repo *r = calloc(1, sizeof(*r));
	if (!r) {
		backend_free(be);
		return -ENOMEM;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->stored, NULL);
	r->be = be;
	r->keyless = o->pass == NULL;
	int rc = load_config(r);
	if (rc == 0)
		use_cache(r, o);
	if (rc == 0 && !r->keyless)
		rc = unlock_keys(r, o->pass);
	if (rc == 0) {
		uint64_t gear[256];
		crypto_derive((uint8_t *)gear, sizeof(gear), r->keys.chunk, "dvalin-gear-v1");
		chunker_init(&r->chunker, &r->cfg.chunker, gear);
		r->level = o->level;
		rc = repo_session_new(&r->session, r);
	}
	/* The lease comes before the index is read: a prune that replaces
	 * the index after this point knows this process may use the old. */
	rc = rc ?: take_lease(r, o);
	rc = rc ?: index_set_new(&r->index);
	rc = rc ?: (o->tolerant ? index_set_load_tolerant(r->index, r->be)
				: index_set_load(r->index, r->be));
	rc = rc ?: cache_backend_retain(r->be, "data", pack_in_use, r);
	if (rc < 0) {
		repo_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int repo_open(repo **out, backend *be, const char *pass, int level)
{
	repo_open_opts o = { pass, level, NULL, 0, 0, 0 };
	return repo_open_with(out, be, &o);
}

void repo_free(repo *r)
{
	if (!r)
		return;
	/* a failed run may not have flushed: its packs' threads end first */
	pthread_mutex_lock(&r->lock);
	while (r->storing)
		pthread_cond_wait(&r->stored, &r->lock);
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->stored);
	for (size_t i = 0; i < ARRAY_SIZE(r->packs); i++)
		pack_writer_release(&r->packs[i].w);
	buf_release(&r->spare);
	/* staged and never committed (a failed run): their temporaries go */
	for (size_t i = 0; i < r->nstaged; i++)
		backend_discard_staged(r->be, r->staged[i].f);
	free(r->staged);
	index_set_free(r->index);
	index_set_free(r->condemned);
	relied_release(&r->relied);
	repo_session_free(r->session);
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
	int found = index_set_lookup(r->index, id, &loc) == 0;
	/* a caller that finds a blob may reference it (a backup reusing a
	 * parent's chunk list) */
	if (found && loc.pack_id)
		relied_add(&r->relied, loc.pack_id);
	pthread_mutex_unlock(&r->lock);
	return found;
}

/* The index, then the condemned packs (read on the first miss). */
int repo_locate_blob(repo *r, const uint8_t id[32], index_loc *loc)
{
	pthread_mutex_lock(&r->lock);
	int rc = index_set_lookup(r->index, id, loc);
	if (rc == -DV_ENOTFOUND && !r->condemned_loaded) {
		r->condemned_loaded = 1;
		int c = index_set_new(&r->condemned);
		c = c ?: gc_condemned_load(r->be, NULL, r->condemned, NULL);
		if (c < 0 && c != -ENOENT)
			log_warn("cannot read condemned packs: %s", err_msg(c));
	}
	if (rc == -DV_ENOTFOUND && r->condemned)
		rc = index_set_lookup(r->condemned, id, loc);
	pthread_mutex_unlock(&r->lock);
	return rc;
}
