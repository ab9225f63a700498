/* SPDX-License-Identifier: BSD-2-Clause */
/* The bounded id cache, and snapfs: path lookup and reads at offsets over a real repository. */
#include "harness.h"

#include "../../src/base/err.h"
#include "../../src/base/idcache.h"
#include "../../src/core/blob.h"
#include "../../src/jobs/snapfs.h"
#include "../../src/jobs/snapwalk.h"
#include "../../src/jobs/treeio.h"
#include "../../src/repo/session.h"
#include "../../src/backend/backend.h"

#include <pthread.h>
#include <unistd.h>

/* ---------- idcache ---------- */

typedef struct {
	idcache_entry entry;
	int *freed;
} val;

static void free_val(idcache_entry *e)
{
	val *v = (val *)e;
	(*v->freed)++;
	free(v);
}

static val *new_val(uint8_t key, size_t cost, int *freed)
{
	val *v = calloc(1, sizeof(*v));
	memset(v->entry.id, 0, 32);
	v->entry.id[0] = key;
	v->entry.id[31] = key; /* distinct beyond the hashed bytes too */
	v->entry.cost = cost;
	v->freed = freed;
	return v;
}

TEST(idcache_evicts_unheld_oldest_first)
{
	idcache *c;
	int freed = 0;
	REQUIRE(idcache_new(&c, 100, free_val) == 0);
	idcache_entry *e[4];
	for (int i = 0; i < 3; i++) {
		REQUIRE(idcache_add(c, &new_val((uint8_t)i, 40, &freed)->entry, &e[i]) == 0);
		if (i < 2)
			idcache_release(c, e[i]);
	}
	/* 120 > 100 with 0 and 1 unheld: 0, the oldest, went */
	CHECK(freed == 1);
	uint8_t id[32] = { 0 };
	CHECK(idcache_get(c, id) == NULL);
	id[0] = id[31] = 1;
	idcache_entry *one = idcache_get(c, id);
	CHECK(one == e[1]);
	/* held entries are never evicted, whatever the bound */
	REQUIRE(idcache_add(c, &new_val(3, 500, &freed)->entry, &e[3]) == 0);
	CHECK(freed == 1);
	idcache_release(c, e[3]); /* now 3 (500) is unheld and alone over the bound */
	CHECK(freed == 2);
	idcache_release(c, one);
	idcache_release(c, e[2]);
	idcache_stats st;
	idcache_get_stats(c, &st);
	CHECK(st.entries == 2 && st.cost == 80 && st.hits == 1 && st.misses == 1);
	idcache_free(c);
	CHECK(freed == 4);
}

TEST(idcache_add_of_a_cached_id_keeps_the_first)
{
	idcache *c;
	int freed = 0;
	REQUIRE(idcache_new(&c, 1000, free_val) == 0);
	idcache_entry *a, *b;
	REQUIRE(idcache_add(c, &new_val(7, 10, &freed)->entry, &a) == 0);
	REQUIRE(idcache_add(c, &new_val(7, 10, &freed)->entry, &b) == 0);
	CHECK(a == b && freed == 1);
	idcache_release(c, a);
	idcache_release(c, b);
	/* many entries: the table grows and every one is still found */
	for (int i = 0; i < 5000; i++) {
		val *v = new_val(0, 0, &freed);
		memcpy(v->entry.id, &i, sizeof(i));
		v->entry.id[20] = 1;
		REQUIRE(idcache_add(c, &v->entry, &a) == 0);
		idcache_release(c, a);
	}
	for (int i = 0; i < 5000; i += 499) {
		uint8_t id[32] = { 0 };
		memcpy(id, &i, sizeof(i));
		id[20] = 1;
		a = idcache_get(c, id);
		CHECK(a != NULL);
		idcache_release(c, a);
	}
	idcache_free(c);
}

/* ---------- snapfs over a repository ---------- */

typedef struct {
	backend *keep; /* holds the in-memory store while the test runs */
	repo *r;
	uint8_t root[32];
	uint8_t data[3][300000];
} fixture;

static void store(repo *r, int type, const void *p, size_t n, uint8_t id[32])
{
	repo_blob_id(r, id, p, n);
	repo_save_blob(r, type, id, p, n);
}

static tree_node file_node(const char *name)
{
	tree_node n;
	memset(&n, 0, sizeof(n));
	n.name = (const uint8_t *)name;
	n.name_len = strlen(name);
	n.type = NODE_FILE;
	n.mode = 0644;
	n.nlink = 1;
	return n;
}

/*
 * /big: data 0 | a hole of 1 MiB | data 1 | data 2;  /sub/small: "hello";
 * /sub/deeper/: empty.
 */
static int make_fixture(fixture *f)
{
	static int serial;
	char url[64];
	backend *be;
	snprintf(url, sizeof(url), "mem:snapfs-%d", ++serial);
	repo_init_params ip = REPO_INIT_PARAMS_INIT;
	ip.kdf.log_n = 10;
	if (backend_open(url, BACKEND_OPEN_CREATE, &f->keep) < 0 ||
	    repo_create(f->keep, "pw", &ip) < 0 || backend_open(url, 0, &be) < 0 ||
	    repo_open(&f->r, be, "pw", 3) < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		test_fill(f->data[i], sizeof(f->data[i]), 2 * (uint64_t)i + 1); /* seeds are made odd */
	uint8_t ids[3][32], small[32], deeper[32], sub[32];
	for (int i = 0; i < 3; i++)
		store(f->r, BLOB_DATA, f->data[i], sizeof(f->data[i]), ids[i]);
	store(f->r, BLOB_DATA, "hello", 5, small);

	tree_writer w = TREE_WRITER_INIT;
	buf plain = BUF_INIT;
	tree_writer_finish(&w, &plain); /* the empty tree */
	repo_blob_id(f->r, deeper, plain.data, plain.len);
	repo_save_blob(f->r, BLOB_TREE, deeper, plain.data, plain.len);
	buf_release(&plain);

	tree_node dn = file_node("deeper");
	dn.type = NODE_DIR;
	dn.mode = 0755;
	tree_writer_ref(&w, deeper, &dn.subtree);
	tree_writer_add(&w, &dn);
	tree_seg s1 = { 5, 0 };
	tree_node sn = file_node("small");
	tree_writer_ref(&w, small, &s1.ref);
	sn.segs = &s1;
	sn.nsegs = 1;
	sn.size = 5;
	tree_writer_add(&w, &sn);
	if (treeio_store(f->r, &w, sub) < 0)
		return -1;

	tree_seg segs[4] = { { 300000, 0 }, { 1 << 20, 0 }, { 300000, 0 }, { 300000, 0 } };
	tree_writer_ref(&w, ids[0], &segs[0].ref);
	tree_writer_ref(&w, ids[1], &segs[2].ref);
	tree_writer_ref(&w, ids[2], &segs[3].ref);
	tree_node bn = file_node("big");
	bn.segs = segs;
	bn.nsegs = 4;
	bn.size = 900000 + (1 << 20);
	tree_writer_add(&w, &bn);
	tree_node un = file_node("sub");
	un.type = NODE_DIR;
	tree_writer_ref(&w, sub, &un.subtree);
	tree_writer_add(&w, &un);
	if (treeio_store(f->r, &w, f->root) < 0 || repo_flush(f->r) < 0)
		return -1;
	tree_writer_release(&w);
	return 0;
}

static void free_fixture(fixture *f)
{
	repo_free(f->r);
	backend_free(f->keep);
}

/* The expected bytes of /big at [off, off + n). */
static void expect_big(const fixture *f, uint64_t off, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t at = off + i;
		if (at < 300000)
			out[i] = f->data[0][at];
		else if (at < 300000 + (1 << 20))
			out[i] = 0;
		else if (at < 600000 + (1 << 20))
			out[i] = f->data[1][at - 300000 - (1 << 20)];
		else
			out[i] = f->data[2][at - 600000 - (1 << 20)];
	}
}

/* The fixture, a snapfs over it with params p, a session and /big opened. */
typedef struct {
	fixture f;
	snapfs *fs;
	snapfs_session *s;
	snapfs_file *big;
} env;

static int env_open(env *e, const snapfs_params *p)
{
	snapfs_path sp;
	int rc = make_fixture(&e->f) < 0 ? -1 : 0;
	rc = rc ?: snapfs_new(&e->fs, e->f.r, p);
	rc = rc ?: snapfs_session_new(&e->s, e->fs);
	rc = rc ?: snapfs_lookup(e->s, e->f.root, "/big", 4, &sp);
	if (rc == 0) {
		rc = snapfs_file_open(&e->big, &sp.parent->t, sp.node);
		snapfs_path_release(e->fs, &sp);
	}
	return rc;
}

static void env_close(env *e)
{
	snapfs_file_close(e->big);
	snapfs_session_free(e->s);
	snapfs_free(e->fs);
	free_fixture(&e->f);
}

TEST(snapfs_lookup_names_the_chain)
{
	static env e;
	snapfs_params p = SNAPFS_PARAMS_INIT;
	REQUIRE(env_open(&e, &p) == 0);
	snapfs *fs = e.fs;
	snapfs_session *s = e.s;
	const uint8_t *root = e.f.root;
	snapfs_path sp;
	REQUIRE(snapfs_lookup(s, root, "/", 1, &sp) == 0);
	CHECK(sp.depth == 0 && sp.node == NULL && sp.dir && sp.dir->t.n == 2);
	snapfs_path_release(fs, &sp);
	REQUIRE(snapfs_lookup(s, root, "sub//./small", 12, &sp) == 0);
	CHECK(sp.depth == 2 && sp.nchain == 2 && sp.dir == NULL);
	CHECK(sp.node->size == 5 && sp.nodes[0]->type == NODE_DIR);
	CHECK(sp.parent == sp.chain[1] && memcmp(sp.nodes[0]->name, "sub", 3) == 0);
	snapfs_path_release(fs, &sp);
	REQUIRE(snapfs_lookup(s, root, "/sub/deeper/", 12, &sp) == 0);
	CHECK(sp.depth == 2 && sp.nchain == 3 && sp.dir && sp.dir->t.n == 0);
	snapfs_path_release(fs, &sp);
	CHECK(snapfs_lookup(s, root, "/sub/nope", 9, &sp) == -DV_ENOTFOUND);
	CHECK(strstr(err_msg(-DV_ENOTFOUND), "'/sub/nope' is not in the snapshot") != NULL);
	CHECK(snapfs_lookup(s, root, "/big/x", 6, &sp) == -ENOTDIR);
	CHECK(strstr(err_msg(-ENOTDIR), "'/big' is not a directory") != NULL);
	CHECK(snapfs_lookup(s, root, "/sub/../big", 11, &sp) == -DV_EUSAGE);
	CHECK(sp.chain == NULL);
	env_close(&e);
}

TEST(snapfs_reads_any_range_and_holes_fetch_nothing)
{
	static env e;
	snapfs_params p = SNAPFS_PARAMS_INIT;
	p.verify = 1;
	REQUIRE(env_open(&e, &p) == 0);
	snapfs *fs = e.fs;
	snapfs_session *s = e.s;
	snapfs_file *file = e.big;
	const fixture *f = &e.f;
	CHECK(snapfs_file_size(file) == 900000 + (1 << 20));
	static uint8_t got[400000], want[400000];
	size_t n;
	/* inside the hole: zeros, and nothing fetched */
	REQUIRE(snapfs_file_read(s, file, 400000, got, 100000, &n) == 0);
	expect_big(f, 400000, 100000, want);
	CHECK(n == 100000 && memcmp(got, want, n) == 0);
	snapfs_stats st;
	snapfs_get_stats(fs, &st);
	CHECK(st.blobs_fetched == 0);
	/* across data, hole and data: two chunks fetched */
	uint64_t off = 300000 + (1 << 20) - 50000;
	REQUIRE(snapfs_file_read(s, file, 250000, got, 400000, &n) == 0);
	expect_big(f, 250000, 400000, want);
	CHECK(n == 400000 && memcmp(got, want, n) == 0);
	REQUIRE(snapfs_file_read(s, file, off, got, 400000, &n) == 0);
	expect_big(f, off, 400000, want);
	CHECK(n == 400000 && memcmp(got, want, n) == 0);
	snapfs_get_stats(fs, &st);
	CHECK(st.blobs_fetched == 3 && st.bytes_fetched == 900000);
	/* the end: short reads, then nothing */
	REQUIRE(snapfs_file_read(s, file, snapfs_file_size(file) - 10, got, 100, &n) == 0);
	CHECK(n == 10 && memcmp(got, f->data[2] + 300000 - 10, 10) == 0);
	REQUIRE(snapfs_file_read(s, file, snapfs_file_size(file) + 5, got, 100, &n) == 0);
	CHECK(n == 0);
	/* a second read of the same chunk comes from the cache */
	REQUIRE(snapfs_file_read(s, file, 0, got, 10, &n) == 0);
	snapfs_get_stats(fs, &st);
	CHECK(st.blobs_fetched == 3 && st.blob_hits >= 1);
	env_close(&e);
}

TEST(snapfs_blob_cache_stays_within_its_bound)
{
	static env e;
	snapfs_params p = SNAPFS_PARAMS_INIT;
	p.blob_cache = 400000; /* room for one chunk */
	REQUIRE(env_open(&e, &p) == 0);
	static uint8_t got[2000000];
	size_t n;
	for (int round = 0; round < 2; round++)
		REQUIRE(snapfs_file_read(e.s, e.big, 0, got, sizeof(got), &n) == 0);
	snapfs_stats st;
	snapfs_get_stats(e.fs, &st);
	CHECK(st.blob_cache_bytes <= 400000);
	CHECK(st.blobs_fetched == 6); /* each chunk evicted by the next */
	env_close(&e);
}

/* Threads, each with its own session, read one shared file. */
typedef struct {
	snapfs *fs;
	snapfs_file *file;
	const fixture *f;
	int bad;
} reader_arg;

static void *reader(void *p)
{
	reader_arg *a = p;
	snapfs_session *s;
	if (snapfs_session_new(&s, a->fs) < 0) {
		a->bad = 1;
		return NULL;
	}
	uint64_t seed = (uint64_t)(uintptr_t)p;
	uint8_t got[70000], want[70000];
	for (int i = 0; i < 200; i++) {
		uint64_t off = test_rand(&seed) % snapfs_file_size(a->file);
		size_t n;
		if (snapfs_file_read(s, a->file, off, got, sizeof(got), &n) < 0) {
			a->bad = 1;
			break;
		}
		expect_big(a->f, off, n, want);
		a->bad |= memcmp(got, want, n) != 0;
	}
	snapfs_session_free(s);
	return NULL;
}

TEST(snapfs_sessions_read_in_parallel)
{
	static env e;
	snapfs_params p = SNAPFS_PARAMS_INIT;
	p.blob_cache = 700000;
	REQUIRE(env_open(&e, &p) == 0);
	pthread_t th[4];
	reader_arg a[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (reader_arg){ e.fs, e.big, &e.f, 0 };
		REQUIRE(pthread_create(&th[i], NULL, reader, &a[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK(!a[i].bad);
	}
	env_close(&e);
}

static int count_pre(void *ud, const buf *path, const snapfs_tree *t, const tree_node *n,
		     size_t depth)
{
	(void)t;
	buf *seen = ud;
	buf_append(seen, path->data, path->len);
	buf_put_u8(seen, (uint8_t)('0' + depth));
	buf_put_u8(seen, ' ');
	return n->name_len == 6 ? SNAPWALK_SKIP : 0; /* "deeper" */
}

static int count_post(void *ud, const buf *path, const snapfs_tree *t, const tree_node *n,
		      size_t depth)
{
	(void)t, (void)n, (void)depth;
	buf *seen = ud;
	buf_append(seen, "post:", 5);
	buf_append(seen, path->data, path->len);
	buf_put_u8(seen, ' ');
	return 0;
}

TEST(snapwalk_visits_in_name_order)
{
	static env e;
	snapfs_params p = SNAPFS_PARAMS_INIT;
	REQUIRE(env_open(&e, &p) == 0);
	snapfs_session *s = e.s;
	const snapfs_tree *root;
	REQUIRE(snapfs_tree_get(s, e.f.root, &root) == 0);
	buf seen = BUF_INIT;
	snapwalk_ops ops = { count_pre, count_post, NULL, &seen };
	REQUIRE(snapwalk_run(s, root, "/", 1, 0, &ops) == 0);
	buf_put_u8(&seen, 0);
	CHECK(strcmp((char *)seen.data,
		     "/big1 /sub1 /sub/deeper2 /sub/small2 post:/sub ") == 0);
	buf_release(&seen);
	snapfs_tree_put(e.fs, root);
	env_close(&e);
}
