/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A prune and a writer that re-creates a condemned pack under its old
 * name (docs/concurrency.md, "Sync", last paragraph).
 *
 * A replica gets a snapshot by sync (its packs copied whole), forgets it,
 * and is pruned: the packs are condemned and, in the same run, deleted.
 * Meanwhile a sync copies the snapshot again, re-creating the packs with
 * their old names (names are content hashes).  The prune's backend is a
 * decorator over mem: that runs that whole sync just before the prune's
 * k-th storage operation, for every k the prune makes: every point at
 * which one whole sync can fall between two steps of a prune.
 *
 * Whatever k, nothing is lost: a sync that reports success left a
 * snapshot whose every blob reads back, and the replica is consistent
 * afterwards (a prune, a sync and a read of every blob succeed).  The
 * second test does the converse: a whole prune at every point of a sync.
 */
#include "harness.h"

#include "backend/backend.h"
#include "backend/mem.h"
#include "base/err.h"
#include "base/strlist.h"
#include "core/blob.h"
#include "jobs/gc.h"
#include "jobs/sync.h"
#include "repo/repo.h"
#include "repo/session.h"
#include "repo/snapshots.h"

#define PASS "race pass"
#define NDATA 6

/* ---------- a backend that runs a hook before its k-th operation ---------- */

typedef struct {
	backend base;
	backend *inner;
	long ops, at; /* operations made; the hook runs before operation number at */
	long data_removed_at; /* the operation that first removed a pack, 0 if none */
	void (*hook)(void *ud);
	void *ud;
} hooked;

static hooked *H(backend *b)
{
	return (hooked *)b;
}

static backend *step(backend *b)
{
	hooked *h = H(b);
	if (++h->ops == h->at && h->hook)
		h->hook(h->ud);
	return h->inner;
}

static int h_put(backend *b, const char *name, backend_hint hint, const void *p, size_t n)
{
	return backend_put(step(b), name, hint, p, n);
}

static int h_get(backend *b, const char *name, backend_hint hint, bytes *out)
{
	return backend_get(step(b), name, hint, out);
}

static int h_get_range(backend *b, const char *name, backend_hint hint, uint64_t off, void *p, size_t n)
{
	return backend_get_range(step(b), name, hint, off, p, n);
}

/* A handle is the inner backend's handle, read through its own ops. */
typedef struct {
	backend *inner;
	backend_file *f;
} h_file;

static int h_open_read(backend *b, const char *name, backend_hint hint, void **out, uint64_t *size)
{
	h_file *f = malloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->inner = step(b);
	int rc = backend_open_read(f->inner, name, hint, &f->f, size);
	if (rc < 0) {
		free(f);
		return rc;
	}
	*out = f;
	return 0;
}

static int h_file_read(void *p, uint64_t off, void *out, size_t n)
{
	h_file *f = p;
	return backend_file_read(f->inner, f->f, off, out, n);
}

static void h_file_close(void *p)
{
	h_file *f = p;
	backend_file_close(f->inner, f->f);
	free(f);
}

static int h_stat(backend *b, const char *name, backend_stat_t *out)
{
	return backend_stat(step(b), name, out);
}

static int h_list(backend *b, const char *dir, backend_list_fn fn, void *ud)
{
	return backend_list(step(b), dir, fn, ud);
}

static void note_removal(hooked *h, const char *name)
{
	if (!h->data_removed_at && strncmp(name, "data/", 5) == 0)
		h->data_removed_at = h->ops;
}

static int h_remove(backend *b, const char *name)
{
	backend *in = step(b);
	note_removal(H(b), name);
	return backend_remove(in, name);
}

static int h_remove_batch(backend *b, const char *const *names, size_t n)
{
	backend *in = step(b);
	for (size_t i = 0; i < n; i++)
		note_removal(H(b), names[i]);
	return backend_remove_batch(in, names, n);
}

static void h_free(backend *b)
{
	backend_free(H(b)->inner);
	free(b->location);
	free(b);
}

static const struct backend_ops hooked_ops = {
	.version = BACKEND_OPS_VERSION,
	.put = h_put,
	.get = h_get,
	.get_range = h_get_range,
	.open_read = h_open_read,
	.file_read = h_file_read,
	.file_close = h_file_close,
	.stat = h_stat,
	.list = h_list,
	.remove = h_remove,
	.remove_batch = h_remove_batch,
	.free = h_free,
};

static int hooked_open(const char *url, long at, void (*hook)(void *), void *ud, backend **out)
{
	hooked *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	int rc = backend_open(url, 0, &h->inner);
	rc = rc ?: backend_init(&h->base, &hooked_ops, h->inner->flags, url);
	if (rc < 0) {
		backend_free(h->inner);
		free(h);
		return rc;
	}
	h->at = at;
	h->hook = hook;
	h->ud = ud;
	*out = &h->base;
	return 0;
}

/* ---------- the repositories ---------- */

typedef struct {
	char src[64], dst[64];
	uint8_t data[NDATA][32], tree[32], snap[32];
	int sync_rc;
	char sync_msg[512];
	int synced; /* the hook ran */
} scene;

static int open_as(const char *url, const char *pass, const char *kind, repo **out)
{
	backend *be;
	repo_open_opts o = { pass, 3, kind, strcmp(kind, "prune") == 0, 0, 1 };
	int rc = backend_open(url, 0, &be);
	return rc ?: repo_open_with(out, be, &o);
}

/* A sync from the source to the replica; hook (if any) runs before its
 * k-th operation on the replica. */
static int sync_hooked(const scene *sc, long k, void (*hook)(void *), void *ud)
{
	repo *s = NULL, *d = NULL;
	backend *be = NULL;
	sync_opts o;
	sync_result res;
	repo_open_opts oo = { NULL, 3, "backup", 0, 0, 1 };
	memset(&o, 0, sizeof(o));
	memset(&res, 0, sizeof(res));
	o.threads = 1;
	int rc = open_as(sc->src, NULL, "read", &s);
	rc = rc ?: hooked_open(sc->dst, k, hook, ud, &be);
	rc = rc ?: repo_open_with(&d, be, &oo);
	rc = rc ?: sync_run(s, d, &o, &res);
	sync_result_release(&res);
	repo_free(s);
	repo_free(d);
	return rc;
}

static int sync_once(const scene *sc)
{
	return sync_hooked(sc, 0, NULL, NULL);
}

static void sync_hook(void *ud)
{
	scene *sc = ud;
	sc->synced = 1;
	sc->sync_rc = sync_once(sc);
	snprintf(sc->sync_msg, sizeof(sc->sync_msg), "%s", sc->sync_rc ? err_msg(sc->sync_rc) : "");
}

static int prune_at(scene *sc, long k, gc_result *g);

static void prune_hook(void *ud)
{
	scene *sc = ud;
	gc_result g;
	sc->synced = 1; /* here: the prune ran */
	sc->sync_rc = prune_at(sc, 0, &g);
	snprintf(sc->sync_msg, sizeof(sc->sync_msg), "%s", sc->sync_rc ? err_msg(sc->sync_rc) : "");
}

/*
 * A source with one snapshot (a tree pack and a data pack), a replica
 * that got it by sync and forgot it again: both packs unused there.
 */
static int make_scene(scene *sc, long k)
{
	backend *ks = NULL, *kd = NULL;
	repo *r = NULL;
	uint64_t seed = 7;
	repo_init_params p = REPO_INIT_PARAMS_INIT;
	p.kdf.log_n = 10;
	memset(sc, 0, sizeof(*sc));
	snprintf(sc->src, sizeof(sc->src), "mem:race-src-%ld", k);
	snprintf(sc->dst, sizeof(sc->dst), "mem:race-dst-%ld", k);
	int rc = backend_open(sc->src, BACKEND_OPEN_CREATE, &ks);
	rc = rc ?: repo_create(ks, PASS, &p);
	rc = rc ?: open_as(sc->src, PASS, "backup", &r);
	uint8_t plain[30000];
	for (int i = 0; rc == 0 && i < NDATA; i++) {
		for (size_t j = 0; j < sizeof(plain); j++)
			plain[j] = (uint8_t)test_rand(&seed);
		repo_blob_id(r, sc->data[i], plain, sizeof(plain));
		rc = repo_save_blob(r, BLOB_DATA, sc->data[i], plain, sizeof(plain));
	}
	uint8_t tp[4 + NDATA * 32 + 4];
	le32_put(tp, NDATA);
	memcpy(tp + 4, sc->data, sizeof(sc->data));
	memcpy(tp + 4 + NDATA * 32, "body", 4);
	if (rc == 0) {
		repo_blob_id(r, sc->tree, tp, sizeof(tp));
		rc = repo_save_blob(r, BLOB_TREE, sc->tree, tp, sizeof(tp));
	}
	snapshot *s = rc == 0 ? snapshot_new() : NULL;
	if (s) {
		s->host = strdup("h");
		s->user = strdup("u");
		s->time = 1700000000;
		strlist_add(&s->paths, &s->npaths, "/srv");
		memcpy(s->tree, sc->tree, 32);
		rc = repo_flush(r);
		rc = rc ?: repo_save_snapshot(r, s);
		memcpy(sc->snap, s->id, 32);
		snapshot_free(s);
	}
	repo_free(r);
	r = NULL;
	rc = rc ?: backend_open(sc->dst, BACKEND_OPEN_CREATE, &kd);
	rc = rc ?: repo_create_replica(kd, ks);
	rc = rc ?: sync_once(sc);
	rc = rc ?: open_as(sc->dst, NULL, "backup", &r);
	rc = rc ?: repo_forget_snapshot(r, sc->snap);
	repo_free(r);
	backend_free(ks);
	backend_free(kd);
	return rc;
}

/* Every blob of the snapshot reads back from the replica, checked. */
static int replica_intact(const scene *sc)
{
	repo *r;
	buf out = BUF_INIT;
	int rc = open_as(sc->dst, PASS, "read", &r);
	for (int i = 0; rc == 0 && i < NDATA; i++)
		rc = repo_load_blob_verified(r, BLOB_DATA, sc->data[i], &out);
	rc = rc ?: repo_load_blob_verified(r, BLOB_TREE, sc->tree, &out);
	buf_release(&out);
	repo_free(r);
	return rc;
}

static int has_snapshot(const scene *sc)
{
	repo *r;
	snapshot **v = NULL;
	size_t n = 0;
	int rc = open_as(sc->dst, PASS, "read", &r);
	rc = rc ?: repo_load_snapshots(r, &v, &n, NULL);
	repo_free_snapshots(v, n);
	repo_free(r);
	return rc < 0 ? rc : (int)n;
}

/* After a race, whatever its outcome: the replica prunes, syncs and reads
 * back whole. */
static void check_recovers(scene *sc, long k)
{
	gc_result g;
	int rc;
	CHECK((rc = prune_at(sc, 0, &g)) == 0);
	if (rc < 0)
		fprintf(stderr, "  k=%ld: the next prune: %s\n", k, err_msg(rc));
	CHECK((rc = sync_once(sc)) == 0);
	if (rc < 0)
		fprintf(stderr, "  k=%ld: the next sync: %s\n", k, err_msg(rc));
	CHECK(has_snapshot(sc) == 1);
	CHECK(replica_intact(sc) == 0);
}

static int prune_at(scene *sc, long k, gc_result *g)
{
	backend *be;
	repo *r;
	gc_opts o = { .max_unused = 0.0 };
	repo_open_opts oo = { NULL, 3, "prune", 1, 0, 1 };
	char msg[512];
	int rc = hooked_open(sc->dst, k, sync_hook, sc, &be);
	rc = rc ?: repo_open_with(&r, be, &oo);
	if (rc < 0)
		return rc;
	rc = gc_prune(r, &o, g);
	snprintf(msg, sizeof(msg), "%s", rc < 0 ? err_msg(rc) : "");
	repo_free(r);
	if (rc < 0)
		err_set(rc, "%s", msg);
	return rc;
}

TEST(a_sync_recreating_condemned_packs_loses_nothing_at_any_point_of_a_prune)
{
	setenv("DVALIN_CLOCK_SKEW", "0", 1);
	/* prune and writer run one inside the other's step: a notice never
	 * narrows while the writer waits for it */
	setenv("DVALIN_NOTICE_WAIT", "0", 1);
	int lost = 0, failed_syncs = 0, deleted_under = 0;
	long k = 1;
	for (; k < 400; k++) {
		scene sc;
		backend *keep_s, *keep_d;
		char src[64], dst[64];
		snprintf(src, sizeof(src), "mem:race-src-%ld", k);
		snprintf(dst, sizeof(dst), "mem:race-dst-%ld", k);
		/* hold the stores for the whole case */
		REQUIRE(backend_open(src, BACKEND_OPEN_CREATE, &keep_s) == 0);
		REQUIRE(backend_open(dst, BACKEND_OPEN_CREATE, &keep_d) == 0);
		REQUIRE(make_scene(&sc, k) == 0);
		gc_result g;
		int rc = prune_at(&sc, k, &g);
		CHECK(rc == 0);
		if (rc < 0)
			fprintf(stderr, "  k=%ld: prune: %s\n", k, err_msg(rc));
		int done = !sc.synced;
		if (sc.synced) {
			if (sc.sync_rc == 0 && replica_intact(&sc) != 0) {
				lost++;
				fprintf(stderr, "  k=%ld: the sync reported success, and its snapshot lost blobs: %s\n",
					k, err_msg(-DV_ECORRUPT));
			}
			if (sc.sync_rc != 0) {
				failed_syncs++;
				CHECK(strstr(sc.sync_msg, "being deleted") || strstr(sc.sync_msg, "was deleted"));
				CHECK(has_snapshot(&sc) == 0);
			}
			deleted_under += g.packs_deleted > 0 && sc.sync_rc != 0;
		}
		/* afterwards the replica is consistent: prune, sync and read it all */
		check_recovers(&sc, k);
		backend_free(keep_s);
		backend_free(keep_d);
		if (done) {
			/* k is past the prune's last operation: every point was tried */
			CHECK(k > 20);
			break;
		}
	}
	CHECK(lost == 0);
	printf("  %ld points tried; syncs that failed (what they stored was being deleted): %d, %d of them with packs deleted\n",
	       k, failed_syncs, deleted_under);
}

/*
 * The other way round: the record waits (a lease older than it), and a
 * whole prune, which finds it ripe, runs before the k-th operation of a
 * sync on the replica, for every k.
 */
TEST(a_prune_at_any_point_of_a_sync_recreating_condemned_packs_loses_nothing)
{
	setenv("DVALIN_CLOCK_SKEW", "0", 1);
	/* prune and writer run one inside the other's step: a notice never
	 * narrows while the writer waits for it */
	setenv("DVALIN_NOTICE_WAIT", "0", 1);
	int failed_syncs = 0;
	long k = 1;
	for (; k < 400; k++) {
		scene sc;
		backend *keep_s, *keep_d;
		char src[64], dst[64];
		repo *older;
		gc_result g;
		snprintf(src, sizeof(src), "mem:race-src-%ld", 1000 + k);
		snprintf(dst, sizeof(dst), "mem:race-dst-%ld", 1000 + k);
		REQUIRE(backend_open(src, BACKEND_OPEN_CREATE, &keep_s) == 0);
		REQUIRE(backend_open(dst, BACKEND_OPEN_CREATE, &keep_d) == 0);
		REQUIRE(make_scene(&sc, 1000 + k) == 0);
		REQUIRE(open_as(sc.dst, NULL, "read", &older) == 0);
		REQUIRE(prune_at(&sc, 0, &g) == 0);
		CHECK(g.packs_condemned == 2 && g.records_waiting == 1 && g.packs_deleted == 0);
		repo_free(older);
		int rc = sync_hooked(&sc, k, prune_hook, &sc);
		int done = !sc.synced;
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", rc ? err_msg(rc) : "");
		CHECK(sc.sync_rc == 0); /* the prune */
		if (rc == 0 && replica_intact(&sc) != 0) {
			CHECK(!"the sync reported success, and its snapshot lost blobs");
			fprintf(stderr, "  k=%ld: %s\n", k, err_msg(-DV_ECORRUPT));
		}
		if (rc != 0) {
			failed_syncs++;
			CHECK(strstr(msg, "being deleted") || strstr(msg, "was deleted"));
			CHECK(has_snapshot(&sc) == 0);
		}
		check_recovers(&sc, k);
		backend_free(keep_s);
		backend_free(keep_d);
		if (done) {
			CHECK(k > 10);
			break;
		}
	}
	printf("  %ld points tried; syncs that failed (a pack they stored was deleted): %d\n", k,
	       failed_syncs);
}

/* ---------- a prune that loses its lease ---------- */

static int count_entry(void *ud, const backend_entry *e)
{
	(void)e;
	(*(uint64_t *)ud)++;
	return 0;
}

struct lease_thief {
	const char *url;
	long removed_at; /* the operation before which the lease went, 0 if there was none */
	long k;
};

static int steal(void *ud, const backend_entry *e)
{
	backend *be = ud;
	return backend_remove(be, e->name);
}

/* What `dvalin unlock --remove-all`, or a prune or repair that took the
 * stalled prune for dead, does: its lease file goes. */
static void steal_lease(void *ud)
{
	struct lease_thief *t = ud;
	backend *be;
	uint64_t before = 0;
	if (backend_open(t->url, 0, &be) < 0)
		return;
	backend_list(be, "locks", count_entry, &before);
	backend_list(be, "locks", steal, be);
	if (before)
		t->removed_at = t->k;
	backend_free(be);
}

static uint64_t count_packs(const char *url)
{
	backend *be;
	uint64_t n = 0;
	if (backend_open(url, 0, &be) == 0)
		backend_list(be, "data", count_entry, &n);
	backend_free(be);
	return n;
}

/*
 * docs/concurrency.md, "A prune that stalls": the replica's prune, which
 * condemns both packs and deletes them at once, loses its lease before
 * its k-th storage operation, for every k.  Whenever the lease was gone
 * before the prune's last confirmation (the three operations before a
 * deletion: stat of the lease, list and read of the leases), the prune
 * deleted no pack and said why; and the replica recovers.
 */
TEST(a_prune_that_lost_its_lease_deletes_nothing_at_any_point)
{
	setenv("DVALIN_CLOCK_SKEW", "0", 1);
	int stopped = 0;
	long k = 1;
	for (; k < 400; k++) {
		scene sc;
		backend *keep_s, *keep_d, *be;
		char src[64], dst[64];
		repo *r;
		gc_result g;
		gc_opts o = { .max_unused = 0.0 };
		repo_open_opts oo = { NULL, 3, "prune", 1, 0, 1 };
		snprintf(src, sizeof(src), "mem:race-src-%ld", 2000 + k);
		snprintf(dst, sizeof(dst), "mem:race-dst-%ld", 2000 + k);
		REQUIRE(backend_open(src, BACKEND_OPEN_CREATE, &keep_s) == 0);
		REQUIRE(backend_open(dst, BACKEND_OPEN_CREATE, &keep_d) == 0);
		REQUIRE(make_scene(&sc, 2000 + k) == 0);
		uint64_t packs = count_packs(dst);
		struct lease_thief t = { dst, 0, k };
		REQUIRE(hooked_open(dst, k, steal_lease, &t, &be) == 0);
		hooked *h = H(be);
		int rc = repo_open_with(&r, be, &oo);
		if (rc < 0) { /* the lease went while it was being taken */
			CHECK(rc == -ESTALE || rc == -ENOENT);
			backend_free(keep_s);
			backend_free(keep_d);
			continue;
		}
		rc = gc_prune(r, &o, &g);
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", rc < 0 ? err_msg(rc) : "");
		long ops = h->ops, removed = h->data_removed_at;
		repo_free(r);
		if (t.removed_at && (!removed || t.removed_at < removed - 2)) {
			/* gone before the last confirmation: nothing deleted, and why */
			CHECK(rc == -ESTALE);
			CHECK(strstr(msg, "prune stopped before deleting") && strstr(msg, "was removed"));
			CHECK(!removed && count_packs(dst) == packs);
			stopped += rc == -ESTALE;
			if (rc != -ESTALE || removed)
				fprintf(stderr, "  k=%ld: rc %d, pack removed at %ld: %s\n", k, rc, removed, msg);
		} else {
			CHECK(rc == 0);
		}
		check_recovers(&sc, k);
		backend_free(keep_s);
		backend_free(keep_d);
		if (k > ops) {
			CHECK(k > 20 && stopped > 10);
			break;
		}
	}
	printf("  %ld points tried, %d prunes stopped before deleting\n", k, stopped);
}
