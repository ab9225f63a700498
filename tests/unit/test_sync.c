/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The sync job over mem: (a backend without file mappings): a replica is
 * filled without the key, every blob opens there with the key and the
 * snapshot files are the same bytes; a second run copies nothing; a dry
 * run writes nothing; another repository is refused; a damaged blob is
 * not copied and its snapshot is skipped while the others are copied;
 * packs left unindexed by a killed run are adopted, not copied again.
 */
#include "harness.h"

#include "backend/backend.h"
#include "base/err.h"
#include "base/hex.h"
#include "base/strlist.h"
#include "core/blob.h"
#include "jobs/sync.h"
#include "repo/pack.h"
#include "repo/repo.h"
#include "repo/session.h"
#include "repo/snapshots.h"

#define PASS "sync pass"

static int make(const char *url, backend **keep)
{
	repo_init_params p = REPO_INIT_PARAMS_INIT;
	p.kdf.log_n = 10;
	int rc = backend_open(url, BACKEND_OPEN_CREATE, keep);
	return rc ?: repo_create(*keep, PASS, &p);
}

static int open_url(const char *url, const char *pass, repo **out)
{
	backend *be;
	int rc = backend_open(url, 0, &be);
	return rc ?: repo_open(out, be, pass, 3);
}

static uint64_t seed = 42;

/* A data blob of n random bytes; its id in id. */
static void data_blob(repo *r, size_t n, uint8_t id[32])
{
	uint8_t *p = malloc(n);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)test_rand(&seed);
	repo_blob_id(r, id, p, n);
	CHECK(repo_save_blob(r, BLOB_DATA, id, p, n) == 0);
	free(p);
}

/* A tree blob naming children (its body is opaque to sync). */
static void tree_blob(repo *r, const uint8_t (*kids)[32], uint32_t n, uint8_t id[32])
{
	size_t len = 4 + (size_t)n * 32 + 5;
	uint8_t *p = malloc(len);
	le32_put(p, n);
	memcpy(p + 4, kids, (size_t)n * 32);
	memcpy(p + 4 + (size_t)n * 32, "body!", 5);
	repo_blob_id(r, id, p, len);
	CHECK(repo_save_blob(r, BLOB_TREE, id, p, len) == 0);
	free(p);
}

static void snap(repo *r, const uint8_t tree[32], int64_t t, uint8_t id[32])
{
	snapshot *s = snapshot_new();
	s->host = strdup("h");
	s->user = strdup("u");
	s->time = t;
	strlist_add(&s->paths, &s->npaths, "/srv");
	memcpy(s->tree, tree, 32);
	CHECK(repo_flush(r) == 0);
	CHECK(repo_save_snapshot(r, s) == 0);
	memcpy(id, s->id, 32);
	snapshot_free(s);
}

static int count_packs(void *ud, const backend_entry *e)
{
	(void)e;
	(*(size_t *)ud)++;
	return 0;
}

static size_t npacks(backend *be)
{
	size_t n = 0;
	backend_list(be, "data", count_packs, &n);
	return n;
}

static int run_sync(const char *from, const char *to, int dry, sync_result *res)
{
	repo *s = NULL, *d = NULL;
	sync_opts o;
	memset(&o, 0, sizeof(o));
	o.dry_run = dry;
	o.threads = 2;
	int rc = open_url(from, NULL, &s);
	rc = rc ?: open_url(to, NULL, &d);
	rc = rc ?: sync_run(s, d, &o, res);
	repo_free(s);
	repo_free(d);
	return rc;
}

static const sync_snapshot *find(const sync_result *res, const uint8_t id[32])
{
	for (size_t i = 0; i < res->n; i++)
		if (memcmp(res->v[i].id, id, 32) == 0)
			return &res->v[i];
	return NULL;
}

TEST(a_replica_is_filled_without_the_key)
{
	backend *ks, *kd;
	repo *r;
	REQUIRE(make("mem:sync-a-src", &ks) == 0);
	REQUIRE(open_url("mem:sync-a-src", PASS, &r) == 0);
	uint8_t d[40][32], t1[32], t2[32], s1[32], s2[32], kids[21][32];
	for (int i = 0; i < 40; i++)
		data_blob(r, 70000 + (size_t)i * 1000, d[i]);
	tree_blob(r, (const uint8_t(*)[32])d, 20, t1);
	memcpy(kids[0], t1, 32);
	memcpy(kids + 1, d + 20, 20 * 32);
	tree_blob(r, (const uint8_t(*)[32])kids, 21, t2);
	snap(r, t1, 1700000000, s1);
	snap(r, t2, 1700000100, s2);
	repo_free(r);

	REQUIRE(backend_open("mem:sync-a-dst", BACKEND_OPEN_CREATE, &kd) == 0);
	REQUIRE(repo_create_replica(kd, ks) == 0);
	/* a dry run decides and writes nothing */
	sync_result res;
	CHECK(run_sync("mem:sync-a-src", "mem:sync-a-dst", 1, &res) == 0);
	CHECK(res.copied == 2 && res.bytes_needed > 40 * 70000 && res.bytes_written == 0);
	sync_result_release(&res);
	CHECK(npacks(kd) == 0);

	REQUIRE(run_sync("mem:sync-a-src", "mem:sync-a-dst", 0, &res) == 0);
	CHECK(res.copied == 2 && res.skipped == 0 && res.trees_copied == 2 && res.blobs_copied == 40);
	CHECK(res.packs_reused >= 1 && res.packs_written >= 2 && res.at_destination == 2);
	sync_result_release(&res);

	/* the replica opens with the source's password; every blob is there and intact */
	REQUIRE(open_url("mem:sync-a-dst", PASS, &r) == 0);
	buf out = BUF_INIT;
	for (int i = 0; i < 40; i++)
		CHECK(repo_load_blob_verified(r, BLOB_DATA, d[i], &out) == 0);
	CHECK(repo_load_blob_verified(r, BLOB_TREE, t2, &out) == 0);
	snapshot **v;
	size_t n;
	REQUIRE(repo_load_snapshots(r, &v, &n, NULL) == 0);
	CHECK(n == 2 && memcmp(v[0]->id, s1, 32) == 0 && memcmp(v[1]->id, s2, 32) == 0);
	repo_free_snapshots(v, n);
	repo_free(r);
	buf_release(&out);

	/* nothing new: nothing crosses */
	REQUIRE(run_sync("mem:sync-a-src", "mem:sync-a-dst", 0, &res) == 0);
	CHECK(res.copied == 0 && res.present == 2 && res.bytes_read == 0 && res.bytes_written == 0);
	sync_result_release(&res);
	backend_free(ks);
	backend_free(kd);
}

TEST(another_repository_is_refused)
{
	backend *a, *b;
	REQUIRE(make("mem:sync-b-1", &a) == 0 && make("mem:sync-b-2", &b) == 0);
	sync_result res;
	CHECK(run_sync("mem:sync-b-1", "mem:sync-b-2", 0, &res) == -EXDEV);
	CHECK(strstr(err_msg(-EXDEV), "is not a replica of") != NULL);
	sync_result_release(&res);
	backend_free(a);
	backend_free(b);
}

/* Flips a byte of a stored blob inside its pack (the table stays: the name still fits). */
static void damage_blob(backend *be, const uint8_t blob[32])
{
	repo *r;
	backend *b2;
	REQUIRE(backend_open(be->location, 0, &b2) == 0);
	REQUIRE(repo_open(&r, b2, NULL, 0) == 0);
	index_loc loc;
	REQUIRE(repo_locate_blob(r, blob, &loc) == 0);
	char name[80];
	pack_name(name, loc.pack_id);
	bytes b = BYTES_INIT;
	REQUIRE(backend_get(be, name, BACKEND_DATA, &b) == 0);
	uint8_t *copy = malloc(b.len);
	memcpy(copy, b.data, b.len);
	copy[loc.offset + loc.stored_len / 2] ^= 0x10;
	REQUIRE(backend_put(be, name, BACKEND_DATA, copy, b.len) == 0);
	free(copy);
	bytes_release(&b);
	repo_free(r);
}

TEST(a_damaged_blob_is_not_copied_and_its_snapshot_is_skipped)
{
	backend *ks, *kd;
	repo *r;
	REQUIRE(make("mem:sync-c-src", &ks) == 0);
	REQUIRE(open_url("mem:sync-c-src", PASS, &r) == 0);
	uint8_t good[3][32], bad[32], tg[32], tb[32], kids[4][32], sg[32], sb[32];
	for (int i = 0; i < 3; i++)
		data_blob(r, 50000, good[i]);
	tree_blob(r, (const uint8_t(*)[32])good, 3, tg);
	snap(r, tg, 1700000000, sg);
	data_blob(r, 60000, bad);
	memcpy(kids, good, sizeof(good));
	memcpy(kids[3], bad, 32);
	tree_blob(r, (const uint8_t(*)[32])kids, 4, tb);
	snap(r, tb, 1700000100, sb);
	repo_free(r);
	damage_blob(ks, bad);

	REQUIRE(backend_open("mem:sync-c-dst", BACKEND_OPEN_CREATE, &kd) == 0);
	REQUIRE(repo_create_replica(kd, ks) == 0);
	sync_result res;
	CHECK(run_sync("mem:sync-c-src", "mem:sync-c-dst", 0, &res) == -DV_ECORRUPT);
	const sync_snapshot *x = find(&res, sb), *y = find(&res, sg);
	REQUIRE(x && y);
	CHECK(x->state == SYNC_SKIPPED && strstr(x->reason, "damaged") != NULL);
	CHECK(y->state == SYNC_COPIED && res.copied == 1 && res.blobs_damaged == 1);
	sync_result_release(&res);
	REQUIRE(open_url("mem:sync-c-dst", PASS, &r) == 0);
	CHECK(repo_has_blob(r, bad) == 0 && repo_has_blob(r, good[0]) == 1);
	snapshot **v;
	size_t n;
	REQUIRE(repo_load_snapshots(r, &v, &n, NULL) == 0);
	CHECK(n == 1 && memcmp(v[0]->id, sg, 32) == 0);
	repo_free_snapshots(v, n);
	repo_free(r);
	backend_free(ks);
	backend_free(kd);
}

static int drop_index(void *ud, const backend_entry *e)
{
	return backend_remove(ud, e->name);
}

TEST(packs_of_a_killed_run_are_adopted)
{
	backend *ks, *kd;
	repo *r;
	REQUIRE(make("mem:sync-d-src", &ks) == 0);
	REQUIRE(open_url("mem:sync-d-src", PASS, &r) == 0);
	uint8_t d[8][32], t[32], s[32];
	for (int i = 0; i < 8; i++)
		data_blob(r, 100000, d[i]);
	tree_blob(r, (const uint8_t(*)[32])d, 8, t);
	snap(r, t, 1700000000, s);
	repo_free(r);
	REQUIRE(backend_open("mem:sync-d-dst", BACKEND_OPEN_CREATE, &kd) == 0);
	REQUIRE(repo_create_replica(kd, ks) == 0);
	sync_result res;
	REQUIRE(run_sync("mem:sync-d-src", "mem:sync-d-dst", 0, &res) == 0);
	sync_result_release(&res);
	/* as if killed after storing the packs: no index, no snapshot */
	REQUIRE(backend_list(kd, "index", drop_index, kd) == 0);
	char name[80], hex[65];
	hex_encode(hex, s, 32);
	snprintf(name, sizeof(name), "snapshots/%s", hex);
	REQUIRE(backend_remove(kd, name) == 0);
	REQUIRE(run_sync("mem:sync-d-src", "mem:sync-d-dst", 0, &res) == 0);
	CHECK(res.copied == 1 && res.packs_adopted >= 2);
	CHECK(res.blobs_copied == 0 && res.trees_copied == 0); /* nothing crossed again */
	sync_result_release(&res);
	REQUIRE(open_url("mem:sync-d-dst", PASS, &r) == 0);
	buf out = BUF_INIT;
	for (int i = 0; i < 8; i++)
		CHECK(repo_load_blob_verified(r, BLOB_DATA, d[i], &out) == 0);
	buf_release(&out);
	repo_free(r);
	backend_free(ks);
	backend_free(kd);
}
