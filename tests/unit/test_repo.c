/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The repository layer over the in-memory backend: create and open
 * (right, wrong and no password), blobs of both types saved by several
 * sessions, flushed, read back after reopening; snapshots saved, listed,
 * found, protected and forgotten; damaged files skipped; leases taken
 * and dropped; condemned packs still readable; and the index staying
 * out of the heap on a backend that returns no file mappings.
 */
#include "harness.h"

#include "backend/backend.h"
#include "base/err.h"
#include "base/hex.h"
#include "base/strlist.h"
#include "core/blob.h"
#include "core/crypto.h"
#include "repo/gcrec.h"
#include "repo/lease.h"
#include "repo/repo.h"
#include "repo/session.h"
#include "repo/snapshots.h"
#include "jobs/gc.h"
#include "jobs/snapsel.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#define PASS "correct horse"

/* A new repository in mem:name; *keep holds the store open for the test. */
static int make_repo(const char *url, backend **keep)
{
	repo_init_params p = REPO_INIT_PARAMS_INIT;
	p.kdf.log_n = 10; /* fast */
	int rc = backend_open(url, BACKEND_OPEN_CREATE, keep);
	return rc ?: repo_create(*keep, PASS, &p);
}

static int open_repo(const char *url, const char *pass, repo **out)
{
	backend *be;
	int rc = backend_open(url, 0, &be);
	return rc ?: repo_open(out, be, pass, 3);
}

/* make_repo, then open it with the password. */
static int fresh_repo(const char *url, backend **keep, repo **out)
{
	int rc = make_repo(url, keep);
	return rc ?: open_repo(url, PASS, out);
}

static int copy_name(void *ud, const backend_entry *e)
{
	snprintf(ud, BACKEND_NAME_MAX + 1, "%s", e->name);
	return 1;
}

/* The name of some file below dir ("" if none). */
static const char *first_name(backend *be, const char *dir, char out[BACKEND_NAME_MAX + 1])
{
	out[0] = 0;
	backend_list(be, dir, copy_name, out);
	return out;
}

TEST(create_and_open_with_right_wrong_and_no_password)
{
	backend *keep;
	repo *r;
	REQUIRE(make_repo("mem:repo-open", &keep) == 0);
	repo_init_params p = REPO_INIT_PARAMS_INIT;
	p.kdf.log_n = 10;
	CHECK(repo_create(keep, PASS, &p) == -EEXIST);
	CHECK(strstr(err_msg(0), "mem:repo-open") != NULL);

	REQUIRE(open_repo("mem:repo-open", PASS, &r) == 0);
	CHECK(!repo_is_keyless(r));
	CHECK(strcmp(repo_location(r), "mem:repo-open") == 0);
	repo_free(r);
	CHECK(open_repo("mem:repo-open", "wrong", &r) == -DV_EBADKEY);
	CHECK(strstr(err_msg(0), "wrong password") != NULL);
	REQUIRE(open_repo("mem:repo-open", NULL, &r) == 0);
	CHECK(repo_is_keyless(r) == 1);
	repo_free(r);

	/* a store that does not exist, and one without a config */
	CHECK(open_repo("mem:no-such-store", PASS, &r) == -ENOENT);
	backend *empty;
	REQUIRE(backend_open("mem:empty", BACKEND_OPEN_CREATE, &empty) == 0);
	CHECK(open_repo("mem:empty", PASS, &r) == -DV_ENOTFOUND);
	CHECK(strstr(err_msg(0), "not a dvalin repository") != NULL);
	backend_free(empty);
	backend_free(keep);
	/* the last user gone, the store is too */
	CHECK(open_repo("mem:repo-open", PASS, &r) == -ENOENT);
}

/* A tree blob's plaintext: one child id, then a body. */
static size_t tree_plain(uint8_t *out, const uint8_t child[32], uint64_t seed)
{
	le32_put(out, 1);
	memcpy(out + 4, child, 32);
	test_fill(out + 36, 300, seed);
	return 336;
}

enum { NDATA = 40 };

struct saver {
	repo *r;
	int first, errors;
	uint8_t (*ids)[32];
};

/* Saves data blobs first .. first+NDATA-1 (sizes vary) through its own session. */
static void *save_some(void *arg)
{
	struct saver *s = arg;
	repo_session *rs;
	if (repo_session_new(&rs, s->r) < 0) {
		s->errors++;
		return NULL;
	}
	uint8_t *p = malloc(200000);
	for (int i = s->first; p && i < s->first + NDATA; i++) {
		size_t n = 1000 + (size_t)i * 3000;
		test_fill(p, n, (uint64_t)i);
		repo_blob_id(s->r, s->ids[i], p, n);
		s->errors += repo_session_save(rs, BLOB_DATA, s->ids[i], p, n) != 0;
	}
	free(p);
	repo_session_free(rs);
	return NULL;
}

static int data_ok(repo *r, const uint8_t (*ids)[32], int i, buf *out)
{
	uint8_t want[200000];
	size_t n = 1000 + (size_t)i * 3000;
	test_fill(want, n, (uint64_t)i);
	return repo_load_blob_verified(r, BLOB_DATA, ids[i], out) == 0 && out->len == n &&
	       memcmp(out->data, want, n) == 0;
}

TEST(blobs_saved_by_sessions_read_back_after_reopening)
{
	backend *keep;
	repo *r;
	REQUIRE(fresh_repo("mem:repo-blobs", &keep, &r) == 0);
	/* two sessions on two threads, overlapping by half */
	static uint8_t ids[NDATA * 3 / 2][32];
	struct saver s[2] = { { r, 0, 0, ids }, { r, NDATA / 2, 0, ids } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		REQUIRE(pthread_create(&t[i], NULL, save_some, &s[i]) == 0);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		CHECK(s[i].errors == 0);
	}
	uint8_t tree[336], tid[32];
	size_t tn = tree_plain(tree, ids[0], 1);
	repo_blob_id(r, tid, tree, tn);
	CHECK(repo_save_blob(r, BLOB_TREE, tid, tree, tn) == 0);
	CHECK(repo_has_blob(r, tid) == 1);
	REQUIRE(repo_flush(r) == 0);
	uint64_t added = repo_bytes_added(r);
	CHECK(added > 0);
	/* deduplicated: saving again adds nothing */
	CHECK(repo_save_blob(r, BLOB_TREE, tid, tree, tn) == 0);
	CHECK(repo_bytes_added(r) == added);
	buf out = BUF_INIT;
	for (int i = 0; i < NDATA * 3 / 2; i++)
		CHECK(data_ok(r, (const uint8_t(*)[32])ids, i, &out));
	repo_free(r);

	REQUIRE(open_repo("mem:repo-blobs", PASS, &r) == 0);
	for (int i = 0; i < NDATA * 3 / 2; i++) {
		CHECK(repo_has_blob(r, ids[i]) == 1);
		CHECK(data_ok(r, (const uint8_t(*)[32])ids, i, &out));
	}
	CHECK(repo_load_blob(r, BLOB_TREE, tid, &out) == 0 && out.len == tn &&
	      memcmp(out.data, tree, tn) == 0);
	/* the wrong type, and a blob that is not there */
	CHECK(repo_load_blob(r, BLOB_TREE, ids[0], &out) == -DV_ECORRUPT);
	uint8_t missing[32] = { 0x42 };
	CHECK(repo_has_blob(r, missing) == 0);
	CHECK(repo_load_blob(r, BLOB_DATA, missing, &out) == -DV_ENOTFOUND);
	/* every blob stored once: one pack of each type, one index file */
	CHECK(index_set_file_count(repo_index(r)) == 1);
	repo_free(r);
	buf_release(&out);
	backend_free(keep);
}

static snapshot *new_snap(int64_t t, const uint8_t tree[32])
{
	snapshot *s = snapshot_new();
	if (!s)
		return NULL;
	s->host = strdup("host");
	s->user = strdup("user");
	s->time = t;
	memcpy(s->tree, tree, 32);
	if (!s->host || !s->user || strlist_add(&s->paths, &s->npaths, "/srv") < 0) {
		snapshot_free(s);
		return NULL;
	}
	return s;
}

struct roots {
	int n;
	uint8_t trees[32][32];
};

static int note_root(void *ud, const uint8_t id[32], const uint8_t tree[32])
{
	struct roots *c = ud;
	(void)id;
	if (c->n < 32)
		memcpy(c->trees[c->n], tree, 32);
	c->n++;
	return 0;
}

TEST(snapshots_saved_listed_found_protected_forgotten)
{
	backend *keep;
	repo *r;
	REQUIRE(fresh_repo("mem:repo-snaps", &keep, &r) == 0);
	enum { N = 17 }; /* two share a first hex digit, whatever the ids */
	uint8_t ids[N][32], tree[32] = { 7 };
	int64_t base = 1700000000;
	for (int i = 0; i < N; i++) {
		snapshot *s = new_snap(base + (i * 7) % N, tree); /* saved out of order */
		REQUIRE(s);
		CHECK(repo_save_snapshot(r, s) == 0);
		memcpy(ids[i], s->id, 32);
		snapshot_free(s);
	}
	snapshot **v;
	size_t n, damaged = 9;
	REQUIRE(repo_load_snapshots(r, &v, &n, &damaged) == 0);
	CHECK(n == N && damaged == 0);
	for (size_t i = 1; i < n; i++)
		CHECK(v[i - 1]->time < v[i]->time);
	repo_free_snapshots(v, n);

	snapshot *s;
	REQUIRE(snapsel_find(r, NULL, "latest", &s, NULL) == 0);
	CHECK(s->time == base + N - 1);
	snapshot_free(s);
	char hex[65];
	hex_encode(hex, ids[3], 32);
	hex[12] = 0;
	REQUIRE(snapsel_find(r, NULL, hex, &s, NULL) == 0);
	CHECK(memcmp(s->id, ids[3], 32) == 0);
	snapshot_free(s);
	CHECK(snapsel_find(r, NULL, "xyz", &s, NULL) == -DV_EUSAGE);
	int ambiguous = 0;
	for (int d = 0; d < 16; d++) {
		char one[2] = { "0123456789abcdef"[d], 0 };
		int rc = snapsel_find(r, NULL, one, &s, NULL);
		if (rc == 0)
			snapshot_free(s);
		ambiguous += rc == -DV_EAMBIG;
		CHECK(rc == 0 || rc == -DV_EAMBIG || rc == -DV_ENOTFOUND);
	}
	CHECK(ambiguous > 0);

	/* protection */
	idmap prot = IDMAP_INIT;
	CHECK(repo_set_protected(r, ids[0], 1) == 0);
	CHECK(repo_load_protected(r, &prot) == 0 && prot.n == 1 && idmap_get(&prot, ids[0]));
	idmap_release(&prot);
	CHECK(repo_forget_snapshot(r, ids[0]) == -EPERM);
	CHECK(repo_set_protected(r, ids[0], 0) == 0);
	CHECK(repo_set_protected(r, ids[0], 0) == 0); /* already off */
	CHECK(repo_forget_snapshot(r, ids[0]) == 0);
	CHECK(repo_forget_snapshot(r, ids[0]) == -ENOENT);
	REQUIRE(repo_load_snapshots(r, &v, &n, NULL) == 0);
	CHECK(n == N - 1);
	repo_free_snapshots(v, n);
	repo_free(r);

	/* keyless: roots only, snapshots not */
	REQUIRE(open_repo("mem:repo-snaps", NULL, &r) == 0);
	struct roots c = { 0 };
	CHECK(repo_list_snapshot_roots(r, note_root, &c, &damaged) == 0 && damaged == 0);
	CHECK(c.n == N - 1 && memcmp(c.trees[0], tree, 32) == 0);
	CHECK(repo_load_snapshots(r, &v, &n, NULL) == -DV_EBADKEY);
	repo_free(r);
	backend_free(keep);
}

TEST(damaged_files_are_skipped_and_named)
{
	backend *keep;
	repo *r;
	REQUIRE(fresh_repo("mem:repo-damage", &keep, &r) == 0);
	uint8_t tree[32] = { 1 };
	snapshot *s = new_snap(1700000000, tree);
	REQUIRE(s && repo_save_snapshot(r, s) == 0);
	char good[80], hex[65];
	hex_encode(hex, s->id, 32);
	snprintf(good, sizeof(good), "snapshots/%s", hex);
	snapshot_free(s);
	/* garbage, and a good file under a name that is not its hash */
	static const char junk_name[] = "snapshots/00000000000000000000000000000000000000000000000000000000000000aa";
	REQUIRE(backend_put(keep, junk_name, BACKEND_META, "garbage", 7) == 0);
	bytes b = BYTES_INIT;
	REQUIRE(backend_get(keep, good, BACKEND_META, &b) == 0);
	REQUIRE(backend_put(keep, "snapshots/1111111111111111111111111111111111111111111111111111111111111111",
			    BACKEND_META, b.data, b.len) == 0);
	bytes_release(&b);
	snapshot **v;
	size_t n, damaged;
	REQUIRE(repo_load_snapshots(r, &v, &n, &damaged) == 0);
	CHECK(n == 1 && damaged == 2);
	CHECK(strstr(err_msg(0), "snapshots/") != NULL && strstr(err_msg(0), "damaged") != NULL);
	repo_free_snapshots(v, n);
	size_t removed;
	CHECK(repo_remove_unreadable_snapshots(r, &removed) == 0 && removed == 2);
	REQUIRE(repo_load_snapshots(r, &v, &n, &damaged) == 0);
	CHECK(n == 1 && damaged == 0);
	repo_free_snapshots(v, n);
	repo_free(r);

	/* a damaged index file: refused by name, or skipped when tolerant */
	REQUIRE(backend_put(keep, "index/0123", BACKEND_META, "not an index", 12) == 0);
	CHECK(open_repo("mem:repo-damage", PASS, &r) == -DV_ECORRUPT);
	CHECK(strstr(err_msg(0), "index/0123") != NULL);
	backend *be;
	REQUIRE(backend_open("mem:repo-damage", 0, &be) == 0);
	repo_open_opts o = { .pass = PASS, .level = 3, .tolerant = 1 };
	REQUIRE(repo_open_with(&r, be, &o) == 0);
	char **names;
	index_set_damaged(repo_index(r), &names, &n);
	CHECK(n == 1 && strcmp(names[0], "index/0123") == 0);
	repo_free(r);
	REQUIRE(backend_remove(keep, "index/0123") == 0);

	/* a damaged key file beside the good one is passed over (by its listed size) */
	REQUIRE(backend_put(keep, "keys/0000", BACKEND_META, "bad key", 7) == 0);
	REQUIRE(open_repo("mem:repo-damage", PASS, &r) == 0);
	repo_free(r);
	CHECK(open_repo("mem:repo-damage", "wrong", &r) == -DV_EBADKEY);
	CHECK(strstr(err_msg(0), "1 key file(s) skipped") != NULL);

	/* a damaged gc record is counted and named */
	REQUIRE(backend_put(keep, "gc/00", BACKEND_META, "bad record", 10) == 0);
	idmap ids = IDMAP_INIT;
	CHECK(gc_condemned_load(keep, &ids, NULL, &damaged) == 0 && damaged == 1 && ids.n == 0);
	CHECK(strstr(err_msg(0), "gc/00") != NULL);
	idmap_release(&ids);
	backend_free(keep);
}

TEST(leases_are_taken_and_dropped)
{
	backend *keep, *be;
	repo *a, *b, *c;
	REQUIRE(make_repo("mem:repo-lease", &keep) == 0);
	repo_open_opts backup = { .pass = PASS, .level = 3, .lease = "backup" },
	               prune = { .level = 3, .lease = "prune", .exclusive = 1 };
	REQUIRE(backend_open("mem:repo-lease", 0, &be) == 0);
	REQUIRE(repo_open_with(&a, be, &backup) == 0);
	REQUIRE(backend_open("mem:repo-lease", 0, &be) == 0);
	REQUIRE(repo_open_with(&b, be, &prune) == 0);
	REQUIRE(backend_open("mem:repo-lease", 0, &be) == 0);
	CHECK(repo_open_with(&c, be, &prune) == -EBUSY); /* frees be */
	CHECK(strstr(err_msg(0), "in use by a prune") != NULL);
	lease_info *v;
	size_t n;
	REQUIRE(lease_list(keep, &v, &n) == 0);
	CHECK(n == 2);
	int kinds = 0;
	for (size_t i = 0; i < n; i++)
		kinds |= (strcmp(v[i].kind, "backup") == 0) | (strcmp(v[i].kind, "prune") == 0) << 1;
	CHECK(kinds == 3);
	free(v);
	CHECK(repo_lease(a) && lease_confirm(repo_lease(a)) == 0);
	repo_free(b);
	repo_free(a);
	REQUIRE(lease_list(keep, &v, &n) == 0);
	CHECK(n == 0);
	free(v);
	backend_free(keep);
}

TEST(condemned_packs_stay_readable_but_do_not_deduplicate)
{
	backend *keep;
	repo *r;
	REQUIRE(fresh_repo("mem:repo-condemned", &keep, &r) == 0);
	uint8_t p[5000], id[32];
	test_fill(p, sizeof(p), 5);
	repo_blob_id(r, id, p, sizeof(p));
	REQUIRE(repo_save_blob(r, BLOB_DATA, id, p, sizeof(p)) == 0);
	REQUIRE(repo_flush(r) == 0);
	index_loc loc;
	REQUIRE(repo_locate_blob(r, id, &loc) == 0 && loc.pack_id);
	/* what a prune does: record the pack, drop it from the index */
	gc_record rec = { "", 1, NULL, 1 };
	uint8_t pack[32];
	memcpy(pack, loc.pack_id, 32);
	rec.packs = &pack;
	REQUIRE(gc_record_name(rec.name) == 0 && gc_record_put(keep, &rec) == 0);
	repo_free(r);
	char idx[BACKEND_NAME_MAX + 1];
	REQUIRE(backend_remove(keep, first_name(keep, "index", idx)) == 0);
	CHECK(first_name(keep, "index", idx)[0] == 0);
	REQUIRE(open_repo("mem:repo-condemned", PASS, &r) == 0);
	CHECK(repo_has_blob(r, id) == 0);
	buf out = BUF_INIT;
	CHECK(repo_load_blob_verified(r, BLOB_DATA, id, &out) == 0 && out.len == sizeof(p));
	buf_release(&out);
	repo_free(r);
	backend_free(keep);
}

static long rss_anon_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "RssAnon:", 8) == 0)
			v = atol(line + 8);
	if (f)
		fclose(f);
	return v;
}

/*
 * The index's flat-memory promise on a backend that lends heap memory:
 * a 52 MB index file loaded through mem: adds next to nothing to the
 * heap (it is copied to an unlinked local file and mapped from there).
 */
TEST(index_over_mem_stays_out_of_the_heap)
{
	enum { N = 1000000 };
	char cache[] = "/tmp/dvalin-unit-cache-XXXXXX";
	REQUIRE(mkdtemp(cache));
	setenv("XDG_CACHE_HOME", cache, 1);
	backend *be;
	REQUIRE(backend_open("mem:", 0, &be) == 0);
	index_entry *e = calloc(N, sizeof(*e));
	REQUIRE(e);
	uint8_t pack[1][32] = { { 3 } };
	for (uint32_t i = 0; i < N; i++) {
		crypto_sha256(e[i].id, &i, sizeof(i));
		e[i].offset = i;
		e[i].stored_len = e[i].raw_len = 100;
		e[i].type = BLOB_DATA;
	}
	buf file = BUF_INIT;
	REQUIRE(index_encode(&file, e, N, (const uint8_t(*)[32])pack, 1) == 0);
	REQUIRE(backend_put(be, "index/big", BACKEND_META, file.data, file.len) == 0);
	size_t file_kb = file.len / 1024;
	buf_release(&file);
	free(e);
	long before = rss_anon_kb();
	index_set *s;
	REQUIRE(index_set_new(&s) == 0);
	REQUIRE(index_set_load(s, be) == 0);
	long grown = rss_anon_kb() - before;
	/* the 4 MiB copying buffer and allocator noise, not the 52 MB file */
	CHECK(before > 0 && grown < (long)file_kb / 5);
	if (grown >= (long)file_kb / 5)
		fprintf(stderr, "  index of %zu KiB grew the heap by %ld KiB\n", file_kb, grown);
	for (uint32_t i = 0; i < N; i += 997) {
		uint8_t id[32];
		index_loc loc;
		crypto_sha256(id, &i, sizeof(i));
		CHECK(index_set_lookup(s, id, &loc) == 0 && loc.offset == i);
	}
	index_set_free(s);
	backend_free(be);
	char dir[sizeof(cache) + 8];
	snprintf(dir, sizeof(dir), "%s/dvalin", cache);
	CHECK(rmdir(dir) == 0); /* the copy was unlinked: nothing is left */
	CHECK(rmdir(cache) == 0);
	unsetenv("XDG_CACHE_HOME");
}

/*
 * A backend that passes everything to another and, once armed, runs a
 * hook right after the next index file is stored: the moment between a
 * session writing an index file and mapping it back, where a concurrent
 * prune can fold the file into one of its own and delete it.
 */
typedef struct {
	backend base;
	backend *in;
	void (*after_index_put)(void);
} hook_backend;

static backend *hook_in(backend *b) { return ((hook_backend *)b)->in; }

static int hook_put(backend *b, const char *name, backend_hint hint, const void *p, size_t n)
{
	hook_backend *h = (hook_backend *)b;
	int rc = backend_put(h->in, name, hint, p, n);
	if (rc == 0 && strncmp(name, "index/", 6) == 0 && h->after_index_put) {
		void (*fn)(void) = h->after_index_put;
		h->after_index_put = NULL; /* once */
		fn();
	}
	return rc;
}
static int hook_get(backend *b, const char *name, backend_hint hint, bytes *out)
{
	return backend_get(hook_in(b), name, hint, out);
}
static int hook_open_read(backend *b, const char *name, backend_hint hint, void **out,
			  uint64_t *size)
{
	return backend_open_read(hook_in(b), name, hint, (backend_file **)out, size);
}
static backend *hook_file_owner; /* file handles belong to it (one hook backend at a time) */
static int hook_file_read(void *f, uint64_t off, void *p, size_t n)
{
	return backend_file_read(hook_file_owner, f, off, p, n);
}
static void hook_file_close(void *f) { backend_file_close(hook_file_owner, f); }
static int hook_stat(backend *b, const char *name, backend_stat_t *out)
{
	return backend_stat(hook_in(b), name, out);
}
static int hook_list(backend *b, const char *dir, backend_list_fn fn, void *ud)
{
	return backend_list(hook_in(b), dir, fn, ud);
}
static int hook_remove(backend *b, const char *name) { return backend_remove(hook_in(b), name); }
static void hook_free(backend *b)
{
	backend_free(hook_in(b));
	free(b->location);
	free(b);
}
static const struct backend_ops hook_ops = {
	.version = BACKEND_OPS_VERSION,
	.put = hook_put,
	.get = hook_get,
	.open_read = hook_open_read,
	.file_read = hook_file_read,
	.file_close = hook_file_close,
	.stat = hook_stat,
	.list = hook_list,
	.remove = hook_remove,
	.free = hook_free,
};

static const char *fold_url;
static gc_result fold_res;
static int fold_rc = 1;

/* What `dvalin prune` does, in another repository handle on the same store. */
static void prune_now(void)
{
	repo_open_opts prune = { .level = 3, .lease = "prune", .exclusive = 1 };
	gc_opts o = { .max_unused = 0.1 };
	backend *be;
	repo *p;
	fold_rc = backend_open(fold_url, 0, &be);
	fold_rc = fold_rc ?: repo_open_with(&p, be, &prune);
	if (fold_rc == 0) {
		fold_rc = gc_prune(p, &o, &fold_res);
		repo_free(p);
	}
}

static int count_one(void *ud, const backend_entry *e)
{
	(void)e;
	++*(size_t *)ud;
	return 0;
}

static size_t count_files(backend *be, const char *dir)
{
	size_t n = 0;
	backend_list(be, dir, count_one, &n);
	return n;
}

/*
 * The race of a backup that spills its blobs into index files with a
 * prune (docs/concurrency.md, "Spilled index files"), made to happen on
 * demand: the backup stores x and writes an index file; before it maps
 * the file back, a prune folds that file and the older one into a new
 * file and deletes both.  The backup goes on: its flush succeeds, a later
 * copy of x is deduplicated (also after the next index file, whose
 * spill drops written entries from the table), and everything it stored
 * is indexed and readable afterwards.
 */
TEST(a_prune_folding_a_spilled_index_file_loses_nothing)
{
	char cache[] = "/tmp/dvalin-unit-cache-XXXXXX";
	REQUIRE(mkdtemp(cache));
	setenv("XDG_CACHE_HOME", cache, 1);
	/* the packs of this test, which no snapshot uses, stay young (the default skew) */
	setenv("DVALIN_CLOCK_SKEW", "300", 1);
	backend *keep, *in;
	repo *r;
	fold_url = "mem:repo-fold";
	REQUIRE(fresh_repo(fold_url, &keep, &r) == 0);
	uint8_t a[3000], x[4000], y[5000], ida[32], idx[32], idy[32];
	test_fill(a, sizeof(a), 11);
	test_fill(x, sizeof(x), 12);
	test_fill(y, sizeof(y), 13);
	repo_blob_id(r, ida, a, sizeof(a));
	repo_blob_id(r, idx, x, sizeof(x));
	repo_blob_id(r, idy, y, sizeof(y));
	REQUIRE(repo_save_blob(r, BLOB_DATA, ida, a, sizeof(a)) == 0);
	REQUIRE(repo_flush(r) == 0); /* an older index file */
	repo_free(r);

	hook_backend *h = calloc(1, sizeof(*h));
	REQUIRE(h && backend_open(fold_url, 0, &in) == 0);
	REQUIRE(backend_init(&h->base, &hook_ops, 0, fold_url) == 0);
	h->in = in;
	hook_file_owner = in;
	repo_open_opts backup = { .pass = PASS, .level = 3, .lease = "backup" };
	REQUIRE(repo_open_with(&r, &h->base, &backup) == 0);
	REQUIRE(repo_save_blob(r, BLOB_DATA, idx, x, sizeof(x)) == 0);
	h->after_index_put = prune_now;
	CHECK(repo_flush(r) == 0);
	REQUIRE(fold_rc == 0);
	/* the prune replaced both files (nothing condemned: the packs are young) */
	CHECK(fold_res.index_files_replaced == 2 && fold_res.packs_condemned == 0);
	CHECK(count_files(keep, "index") == 1);

	uint64_t added = repo_bytes_added(r);
	REQUIRE(repo_save_blob(r, BLOB_DATA, idx, x, sizeof(x)) == 0);
	CHECK(repo_bytes_added(r) == added); /* deduplicated, not stored again */
	REQUIRE(repo_save_blob(r, BLOB_DATA, idy, y, sizeof(y)) == 0);
	CHECK(repo_flush(r) == 0); /* this file is mapped back; the table drops its entries */
	added = repo_bytes_added(r);
	CHECK(repo_has_blob(r, idx) && repo_has_blob(r, idy) && repo_has_blob(r, ida));
	REQUIRE(repo_save_blob(r, BLOB_DATA, idx, x, sizeof(x)) == 0);
	CHECK(repo_bytes_added(r) == added);
	CHECK(repo_flush(r) == 0);
	repo_free(r);

	/* a new session finds every blob in the index */
	REQUIRE(open_repo(fold_url, PASS, &r) == 0);
	buf out = BUF_INIT;
	CHECK(repo_has_blob(r, idx) && repo_has_blob(r, idy) && repo_has_blob(r, ida));
	CHECK(repo_load_blob_verified(r, BLOB_DATA, idx, &out) == 0 && out.len == sizeof(x) &&
	      memcmp(out.data, x, sizeof(x)) == 0);
	CHECK(repo_load_blob_verified(r, BLOB_DATA, idy, &out) == 0 && out.len == sizeof(y));
	buf_release(&out);
	repo_free(r);
	backend_free(keep);
	char dir[sizeof(cache) + 8];
	snprintf(dir, sizeof(dir), "%s/dvalin", cache);
	rmdir(dir);
	CHECK(rmdir(cache) == 0);
	unsetenv("XDG_CACHE_HOME");
	unsetenv("DVALIN_CLOCK_SKEW");
}
