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

#include <pthread.h>

#include "backend/backend.h"
#include "backend/mem.h"
#include "base/err.h"
#include "base/strlist.h"
#include "core/blob.h"
#include "jobs/gc.h"
#include "jobs/sync.h"
#include "repo/gcrec.h"
#include "repo/repo.h"
#include "repo/session.h"
#include "repo/snapshots.h"

#define PASS "race pass"
#define NDATA 6

/* ---------- a backend that runs a hook before its k-th operation ---------- */

/*
 * A gate stops one party (a thread with its own backend) before an
 * operation on a name, until the test lets it go: for interleavings of
 * several writers and a prune that no nesting of hooks can express.
 */
typedef struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const char *op, *prefix; /* the next stop, NULL if none */
	int stopped, go, ended;
	int die_after; /* every operation after the one it stopped at fails */
	int dead;
} gate;

typedef struct {
	backend base;
	backend *inner;
	long ops, at; /* operations made; the hook runs before operation number at */
	long data_removed_at; /* the operation that first removed a pack, 0 if none */
	void (*hook)(void *ud);
	void *ud;
	gate *gate;
} hooked;

static hooked *H(backend *b)
{
	return (hooked *)b;
}

static int gate_pass(gate *g, const char *op, const char *name)
{
	pthread_mutex_lock(&g->mu);
	int dead = g->dead;
	if (getenv("RACE_TRACE")) /* every operation of every gated party */
		fprintf(stderr, "    [%p] %s %s\n", (void *)g, op, name);
	if (!dead && g->op && strcmp(op, g->op) == 0 && strncmp(name, g->prefix, strlen(g->prefix)) == 0) {
		g->op = NULL;
		g->stopped = 1;
		pthread_cond_broadcast(&g->cv);
		while (!g->go)
			pthread_cond_wait(&g->cv, &g->mu);
		g->go = g->stopped = 0;
		g->dead = g->die_after;
		pthread_cond_broadcast(&g->cv);
	}
	pthread_mutex_unlock(&g->mu);
	return dead ? -EIO : 0;
}

/* The inner backend for the next operation, or NULL when the party is dead. */
static backend *step(backend *b, const char *op, const char *name)
{
	hooked *h = H(b);
	if (++h->ops == h->at && h->hook)
		h->hook(h->ud);
	return h->gate && gate_pass(h->gate, op, name) < 0 ? NULL : h->inner;
}

static int h_put(backend *b, const char *name, backend_hint hint, const void *p, size_t n)
{
	backend *in = step(b, "put", name);
	return in ? backend_put(in, name, hint, p, n) : -EIO;
}

static int h_get(backend *b, const char *name, backend_hint hint, bytes *out)
{
	backend *in = step(b, "get", name);
	return in ? backend_get(in, name, hint, out) : -EIO;
}

static int h_get_range(backend *b, const char *name, backend_hint hint, uint64_t off, void *p, size_t n)
{
	backend *in = step(b, "get", name);
	return in ? backend_get_range(in, name, hint, off, p, n) : -EIO;
}

/* A handle is the inner backend's handle, read through its own ops. */
typedef struct {
	backend *inner;
	backend_file *f;
} h_file;

static int h_open_read(backend *b, const char *name, backend_hint hint, void **out, uint64_t *size)
{
	backend *in = step(b, "get", name);
	if (!in)
		return -EIO;
	h_file *f = malloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->inner = in;
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
	backend *in = step(b, "stat", name);
	return in ? backend_stat(in, name, out) : -EIO;
}

static int h_list(backend *b, const char *dir, backend_list_fn fn, void *ud)
{
	backend *in = step(b, "list", dir);
	return in ? backend_list(in, dir, fn, ud) : -EIO;
}

static void note_removal(hooked *h, const char *name)
{
	if (!h->data_removed_at && strncmp(name, "data/", 5) == 0)
		h->data_removed_at = h->ops;
}

static int h_remove(backend *b, const char *name)
{
	backend *in = step(b, "remove", name);
	if (!in)
		return -EIO;
	note_removal(H(b), name);
	return backend_remove(in, name);
}

static int h_remove_batch(backend *b, const char *const *names, size_t n)
{
	backend *in = step(b, "remove", n ? names[0] : "");
	if (!in)
		return -EIO;
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

static int hooked_open(const char *url, long at, void (*hook)(void *), void *ud, gate *g, backend **out)
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
	h->gate = g;
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
static int sync_hooked(const scene *sc, long k, void (*hook)(void *), void *ud, gate *g)
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
	rc = rc ?: hooked_open(sc->dst, k, hook, ud, g, &be);
	rc = rc ?: repo_open_with(&d, be, &oo);
	rc = rc ?: sync_run(s, d, &o, &res);
	sync_result_release(&res);
	repo_free(s);
	repo_free(d);
	return rc;
}

static int sync_once(const scene *sc)
{
	return sync_hooked(sc, 0, NULL, NULL, NULL);
}

static void sync_hook(void *ud)
{
	scene *sc = ud;
	sc->synced = 1;
	sc->sync_rc = sync_once(sc);
	snprintf(sc->sync_msg, sizeof(sc->sync_msg), "%s", sc->sync_rc ? err_msg(sc->sync_rc) : "");
}

static int prune_at(scene *sc, long k, gc_result *g, gate *gt);

static void prune_hook(void *ud)
{
	scene *sc = ud;
	gc_result g;
	sc->synced = 1; /* here: the prune ran */
	sc->sync_rc = prune_at(sc, 0, &g, NULL);
	snprintf(sc->sync_msg, sizeof(sc->sync_msg), "%s", sc->sync_rc ? err_msg(sc->sync_rc) : "");
}

/*
 * Saves the scene's blobs (the same plaintext each time: a second save
 * deduplicates) and a snapshot of them by host.
 */
static int save_scene(repo *r, scene *sc, const char *host, uint8_t snap_id[32])
{
	uint64_t seed = 7;
	int rc = 0;
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
		s->host = strdup(host);
		s->user = strdup("u");
		s->time = 1700000000;
		strlist_add(&s->paths, &s->npaths, "/srv");
		memcpy(s->tree, sc->tree, 32);
		rc = repo_flush(r);
		rc = rc ?: repo_save_snapshot(r, s);
		memcpy(snap_id, s->id, 32);
		snapshot_free(s);
	}
	return rc;
}

/*
 * A source with one snapshot (a tree pack and a data pack), a replica
 * that got it by sync and forgot it again: both packs unused there.
 */
static int make_scene(scene *sc, long k)
{
	backend *ks = NULL, *kd = NULL;
	repo *r = NULL;
	repo_init_params p = REPO_INIT_PARAMS_INIT;
	p.kdf.log_n = 10;
	memset(sc, 0, sizeof(*sc));
	snprintf(sc->src, sizeof(sc->src), "mem:race-src-%ld", k);
	snprintf(sc->dst, sizeof(sc->dst), "mem:race-dst-%ld", k);
	int rc = backend_open(sc->src, BACKEND_OPEN_CREATE, &ks);
	rc = rc ?: repo_create(ks, PASS, &p);
	rc = rc ?: open_as(sc->src, PASS, "backup", &r);
	rc = rc ?: save_scene(r, sc, "h", sc->snap);
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
	CHECK((rc = prune_at(sc, 0, &g, NULL)) == 0);
	if (rc < 0)
		fprintf(stderr, "  k=%ld: the next prune: %s\n", k, err_msg(rc));
	CHECK((rc = sync_once(sc)) == 0);
	if (rc < 0)
		fprintf(stderr, "  k=%ld: the next sync: %s\n", k, err_msg(rc));
	CHECK(has_snapshot(sc) == 1);
	CHECK(replica_intact(sc) == 0);
}

static int prune_at(scene *sc, long k, gc_result *g, gate *gt)
{
	backend *be;
	repo *r;
	gc_opts o = { .max_unused = 0.0 };
	repo_open_opts oo = { NULL, 3, "prune", 1, 0, 1 };
	char msg[512];
	int rc = hooked_open(sc->dst, k, sync_hook, sc, gt, &be);
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
		int rc = prune_at(&sc, k, &g, NULL);
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
		REQUIRE(prune_at(&sc, 0, &g, NULL) == 0);
		CHECK(g.packs_condemned == 2 && g.records_waiting == 1 && g.packs_deleted == 0);
		repo_free(older);
		int rc = sync_hooked(&sc, k, prune_hook, &sc, NULL);
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
		REQUIRE(hooked_open(dst, k, steal_lease, &t, NULL, &be) == 0);
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

/* ---------- three parties: a writer that gives up, one that relies on it ---------- */

typedef struct {
	scene *sc;
	gate g;
	int rc;
	char msg[512];
	pthread_t t;
} party;

static void party_init(party *p, scene *sc)
{
	memset(p, 0, sizeof(*p));
	p->sc = sc;
	pthread_mutex_init(&p->g.mu, NULL);
	pthread_cond_init(&p->g.cv, NULL);
}

static void gate_stop_at(gate *g, const char *op, const char *prefix)
{
	pthread_mutex_lock(&g->mu);
	g->op = op;
	g->prefix = prefix;
	pthread_mutex_unlock(&g->mu);
}

/* 1 once the party stopped at its stop, 0 if it ended first. */
static int gate_wait(gate *g)
{
	pthread_mutex_lock(&g->mu);
	while (!g->stopped && !g->ended)
		pthread_cond_wait(&g->cv, &g->mu);
	int stopped = g->stopped;
	pthread_mutex_unlock(&g->mu);
	return stopped;
}

/* Lets a stopped party go on; with die, every later operation of it fails
 * (it was killed right after this one). */
static void gate_go(gate *g, int die)
{
	pthread_mutex_lock(&g->mu);
	if (g->stopped) {
		g->go = 1;
		g->die_after = die;
		pthread_cond_broadcast(&g->cv);
		/* until it is on its way: a gate_wait after this one waits for
		 * the next stop, not this one */
		while (g->go)
			pthread_cond_wait(&g->cv, &g->mu);
	}
	pthread_mutex_unlock(&g->mu);
}

static void party_ended(party *p, int rc)
{
	p->rc = rc;
	snprintf(p->msg, sizeof(p->msg), "%s", rc ? err_msg(rc) : "");
	pthread_mutex_lock(&p->g.mu);
	p->g.ended = 1;
	pthread_cond_broadcast(&p->g.cv);
	pthread_mutex_unlock(&p->g.mu);
}

static void *sync_party(void *ud)
{
	party *p = ud;
	party_ended(p, sync_hooked(p->sc, 0, NULL, NULL, &p->g));
	return NULL;
}

static void *prune_party(void *ud)
{
	party *p = ud;
	gc_result g;
	party_ended(p, prune_at(p->sc, 0, &g, &p->g));
	return NULL;
}

/* A backup on the replica that stores what the scene's snapshot holds
 * (every blob deduplicated against the index) and commits. */
static void *backup_party(void *ud)
{
	party *p = ud;
	backend *be;
	repo *r = NULL;
	uint8_t snap[32];
	repo_open_opts oo = { PASS, 3, "backup", 0, 0, 1 };
	int rc = hooked_open(p->sc->dst, 0, NULL, NULL, &p->g, &be);
	rc = rc ?: repo_open_with(&r, be, &oo);
	rc = rc ?: save_scene(r, p->sc, "w", snap);
	repo_free(r);
	party_ended(p, rc);
	return NULL;
}

static void remove_leases(const char *url)
{
	backend *be;
	if (backend_open(url, 0, &be) == 0)
		backend_list(be, "locks", steal, be);
	backend_free(be);
}

/*
 * docs/concurrency.md, "The writer's index files": a sync W' indexes a
 * re-created condemned pack again (file F); a backup W deduplicates
 * against F and passes its first commit check; a phase 2 writes its
 * notice; W' reads it and gives up; the phase 2 reads the index and
 * marks; W writes its snapshot and is killed before its second check;
 * the phase 2 goes on.  Had W' withdrawn F's entries of the pack (as it
 * once did for every pack the notice named), the phase 2 would have found
 * no index naming it and deleted it under W's snapshot.
 */
TEST(a_writer_giving_up_does_not_hide_a_pack_another_relies_on)
{
	setenv("DVALIN_CLOCK_SKEW", "0", 1);
	setenv("DVALIN_NOTICE_WAIT", "0", 1);
	scene sc;
	backend *keep_s, *keep_d;
	repo *older;
	gc_result g;
	REQUIRE(backend_open("mem:race-src-3000", BACKEND_OPEN_CREATE, &keep_s) == 0);
	REQUIRE(backend_open("mem:race-dst-3000", BACKEND_OPEN_CREATE, &keep_d) == 0);
	REQUIRE(make_scene(&sc, 3000) == 0);
	/* both packs condemned; the record waits for an older reader */
	REQUIRE(open_as(sc.dst, NULL, "read", &older) == 0);
	REQUIRE(prune_at(&sc, 0, &g, NULL) == 0);
	CHECK(g.packs_condemned == 2 && g.records_waiting == 1);
	repo_free(older);

	party P, W1, W;
	party_init(&P, &sc);
	party_init(&W1, &sc);
	party_init(&W, &sc);
	/* the prune, its phase 1 done and the record ripe, before its notice */
	gate_stop_at(&P.g, "put", GC_NOTICE_NAME);
	REQUIRE(pthread_create(&P.t, NULL, prune_party, &P) == 0);
	REQUIRE(gate_wait(&P.g));
	/* W': the packs copied again and indexed, before its commit check's
	 * read of the notice */
	gate_stop_at(&W1.g, "get", GC_NOTICE_NAME);
	REQUIRE(pthread_create(&W1.t, NULL, sync_party, &W1) == 0);
	REQUIRE(gate_wait(&W1.g));
	/* W: deduplicated against W''s index file, first check passed */
	gate_stop_at(&W.g, "put", "snapshots/");
	REQUIRE(pthread_create(&W.t, NULL, backup_party, &W) == 0);
	REQUIRE(gate_wait(&W.g));
	/* the notice written, the index not read yet */
	gate_stop_at(&P.g, "list", "index");
	gate_go(&P.g, 0);
	CHECK(gate_wait(&P.g));
	/* W' finds its packs named and gives up */
	gate_go(&W1.g, 0);
	pthread_join(W1.t, NULL);
	CHECK(W1.rc != 0 && strstr(W1.msg, "being deleted"));
	/* the prune marks (W has no snapshot yet) and comes to its deletions */
	gate_stop_at(&P.g, "remove", "data/");
	gate_go(&P.g, 0);
	int deleting = gate_wait(&P.g);
	/* W writes its snapshot and is killed right after */
	gate_go(&W.g, 1);
	pthread_join(W.t, NULL);
	CHECK(W.rc != 0);
	gate_go(&P.g, 0);
	pthread_join(P.t, NULL);
	CHECK(P.rc == 0);
	if (P.rc)
		fprintf(stderr, "  the prune: %s\n", P.msg);
	/* the killed backup's lease is stale by now */
	remove_leases(sc.dst);
	int n = has_snapshot(&sc);
	CHECK(n == 1); /* W's, left by the kill */
	CHECK(!deleting);
	if (n > 0 && replica_intact(&sc) != 0)
		CHECK(!"a snapshot was left whose packs the prune deleted");
	/* and the replica goes on: prune, sync, read back */
	CHECK(prune_at(&sc, 0, &g, NULL) == 0);
	CHECK(sync_once(&sc) == 0);
	CHECK(replica_intact(&sc) == 0);
	backend_free(keep_s);
	backend_free(keep_d);
}
