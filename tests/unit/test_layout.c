/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * repo/layout: every file a repository writes is of a known kind and
 * passes its check, a changed byte fails it, names outside the layout are
 * refused; and a repository on a remote backend (mem: posing as one) is
 * read through the metadata cache with layout's policy.
 */
#include "harness.h"

#include "backend/backend.h"
#include "base/err.h"
#include "base/hex.h"
#include "base/strlist.h"
#include "core/blob.h"
#include "jobs/snapsel.h"
#include "repo/format.h"
#include "repo/gcrec.h"
#include "repo/layout.h"
#include "repo/repo.h"
#include "repo/session.h"
#include "repo/snapshots.h"

#include <sys/stat.h>
#include <unistd.h>

#define PASS "correct horse"

static int make_repo(const char *url, backend **keep)
{
	repo_init_params p = REPO_INIT_PARAMS_INIT;
	p.kdf.log_n = 10;
	int rc = backend_open(url, BACKEND_OPEN_CREATE, keep);
	return rc ?: repo_create(*keep, PASS, &p);
}

/* Opens url with a backup lease; remote makes the mem: backend pose as a remote one. */
static int open_as(const char *url, int remote, int no_cache, repo **out)
{
	backend *be;
	int rc = backend_open(url, 0, &be);
	if (rc < 0)
		return rc;
	if (remote)
		be->flags |= BACKEND_REMOTE;
	repo_open_opts o = { PASS, 3, "backup", 0, 0, no_cache };
	return repo_open_with(out, be, &o);
}

/* Stores a data blob, a tree blob naming it and a snapshot of that tree. */
static int fill(repo *r, uint8_t snap_id[32])
{
	uint8_t data[5000], tree[36 + 200], did[32], tid[32];
	test_fill(data, sizeof(data), 7);
	repo_blob_id(r, did, data, sizeof(data));
	le32_put(tree, 1);
	memcpy(tree + 4, did, 32);
	test_fill(tree + 36, 200, 8);
	repo_blob_id(r, tid, tree, sizeof(tree));
	int rc = repo_save_blob(r, BLOB_DATA, did, data, sizeof(data));
	rc = rc ?: repo_save_blob(r, BLOB_TREE, tid, tree, sizeof(tree));
	rc = rc ?: repo_flush(r);
	snapshot *s = rc ? NULL : snapshot_new();
	if (rc == 0 && !s)
		rc = -ENOMEM;
	if (s) {
		s->host = strdup("host");
		s->user = strdup("user");
		s->time = 1700000000;
		memcpy(s->tree, tid, 32);
		rc = !s->host || !s->user ? -ENOMEM : strlist_add(&s->paths, &s->npaths, "/srv");
		rc = rc ?: repo_save_snapshot(r, s);
		if (rc == 0)
			memcpy(snap_id, s->id, 32);
		snapshot_free(s);
	}
	return rc;
}

struct files {
	char names[64][BACKEND_NAME_MAX + 1];
	int n;
};

static int note(void *ud, const backend_entry *e)
{
	struct files *f = ud;
	if (f->n < 64)
		snprintf(f->names[f->n++], BACKEND_NAME_MAX + 1, "%s", e->name);
	return 0;
}

static void all_files(backend *be, struct files *f)
{
	static const char *const dirs[] = REPO_DIRS;
	f->n = 0;
	snprintf(f->names[f->n++], BACKEND_NAME_MAX + 1, "config");
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		backend_list(be, dirs[i], note, f);
}

TEST(every_file_a_repository_writes_passes_its_check_and_a_changed_byte_fails_it)
{
	backend *keep;
	repo *r;
	REQUIRE(make_repo("mem:layout-files", &keep) == 0);
	REQUIRE(open_as("mem:layout-files", 0, 0, &r) == 0);
	uint8_t snap[32];
	REQUIRE(fill(r, snap) == 0);
	REQUIRE(repo_set_protected(r, snap, 1) == 0);
	gc_record rec = { "", 5, NULL, 0 };
	REQUIRE(gc_record_name(rec.name) == 0 && gc_record_put(keep, &rec) == 0);
	struct files f;
	all_files(keep, &f);
	int seen[LAYOUT_KINDS] = { 0 };
	for (int i = 0; i < f.n; i++) {
		layout_kind k;
		bytes b = BYTES_INIT;
		REQUIRE(layout_kind_of(f.names[i], &k) == 0);
		seen[k]++;
		REQUIRE(backend_get(keep, f.names[i], BACKEND_META, &b) == 0);
		CHECK(b.len <= layout_max_size(k));
		int ok = layout_check(f.names[i], b.data, b.len);
		CHECK(ok == 0);
		if (ok)
			fprintf(stderr, "  %s: %s\n", f.names[i], err_msg(ok));
		uint8_t *copy = malloc(b.len + 1);
		REQUIRE(copy);
		memcpy(copy, b.data, b.len);
		if (k == LAYOUT_PROTECTED) {
			copy[0] = 'x';
			CHECK(layout_check(f.names[i], copy, 1) == -DV_ECORRUPT);
		} else if (k == LAYOUT_LEASE) {
			CHECK(layout_check(f.names[i], copy, 10) == -DV_ECORRUPT);
		} else {
			/* a byte in the middle, and the last one */
			copy[b.len / 2] ^= 0x40;
			CHECK(layout_check(f.names[i], copy, b.len) == -DV_ECORRUPT);
			copy[b.len / 2] ^= 0x40;
			copy[b.len - 1] ^= 1;
			CHECK(layout_check(f.names[i], copy, b.len) == -DV_ECORRUPT);
		}
		free(copy);
		bytes_release(&b);
	}
	for (int k = 0; k < LAYOUT_KINDS; k++) {
		CHECK(seen[k] > 0); /* the test wrote every kind */
		if (!seen[k])
			fprintf(stderr, "  no %s was written\n", layout_kind_name((layout_kind)k));
	}
	repo_free(r);
	backend_free(keep);
}

TEST(names_outside_the_layout_are_refused)
{
	static const char *const good[] = {
		"config",
		"keys/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"data/01/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"index/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"snapshots/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"locks/0123456789abcdef",
		"gc/0123456789abcdef0123456789abcdef",
		"protected/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	};
	static const char *const bad[] = {
		"configx", "keys", "keys/", "keys/abc",
		"keys/0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
		"data/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"data/02/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"data/01/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/x",
		"index/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeff",
		"locks/0123456789abcde", "locks/0123456789abcdefg", "gc/0123", "other/file", "",
		"snapshots/../0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"data/01/", "data/01", "data/0",
	};
	layout_kind k;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECK(layout_kind_of(good[i], &k) == 0);
		CHECK((int)k == (int)i);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* a heap copy of exactly the name, so ASan sees a read past its end
		 * (the fuzz target found one after "data/ab/") */
		char *name = strdup(bad[i]);
		REQUIRE(name);
		CHECK(layout_kind_of(name, &k) == -DV_ENOTFOUND);
		CHECK(layout_check(name, (const uint8_t *)"", 0) == -DV_ENOTFOUND);
		free(name);
	}
	CHECK(layout_is_dir("data") && layout_is_dir("data/ff") && layout_is_dir("locks"));
	CHECK(!layout_is_dir("data/f") && !layout_is_dir("data/ff/x") && !layout_is_dir("config") &&
	      !layout_is_dir("other"));
	CHECK(layout_is_immutable(LAYOUT_PACK) && layout_is_immutable(LAYOUT_INDEX) &&
	      !layout_is_immutable(LAYOUT_LEASE) && !layout_is_immutable(LAYOUT_CONFIG));
	CHECK(layout_max_size(LAYOUT_PROTECTED) == 0 && layout_max_size(LAYOUT_CONFIG) == CONFIG_LEN);
}

static int cached(const char *cache, const char *name)
{
	char path[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", cache, name);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

TEST(a_remote_repository_is_read_through_the_metadata_cache)
{
	char xdg[] = "/tmp/dvalin-unit-layout-XXXXXX", cache[256];
	REQUIRE(mkdtemp(xdg));
	setenv("XDG_CACHE_HOME", xdg, 1);
	backend *keep;
	repo *r;
	REQUIRE(make_repo("mem:layout-remote", &keep) == 0);
	REQUIRE(open_as("mem:layout-remote", 1, 0, &r) == 0);
	char hex[65];
	hex_encode(hex, repo_get_config(r)->id, 32);
	snprintf(cache, sizeof(cache), "%s/dvalin/%s", xdg, hex);
	uint8_t snap[32];
	REQUIRE(fill(r, snap) == 0);
	repo_free(r);
	/* what went through the cache: keys, index, snapshot, the tree pack;
	 * not the data pack, the config or the lease */
	struct files f;
	all_files(keep, &f);
	int copies = 0;
	char index_name[BACKEND_NAME_MAX + 1] = "", snap_name[BACKEND_NAME_MAX + 1] = "";
	for (int i = 0; i < f.n; i++) {
		layout_kind k;
		REQUIRE(layout_kind_of(f.names[i], &k) == 0);
		int want = k == LAYOUT_KEY || k == LAYOUT_INDEX || k == LAYOUT_SNAPSHOT;
		if (k == LAYOUT_INDEX)
			snprintf(index_name, sizeof(index_name), "%s", f.names[i]);
		if (k == LAYOUT_SNAPSHOT)
			snprintf(snap_name, sizeof(snap_name), "%s", f.names[i]);
		if (k == LAYOUT_PACK)
			copies += cached(cache, f.names[i]);
		else
			CHECK(cached(cache, f.names[i]) == want);
	}
	CHECK(copies == 1); /* the tree pack, not the data pack */
	REQUIRE(index_name[0] && snap_name[0]);

	/* the index file changed behind the cache (it cannot, as its name is
	 * its hash: so the cached copy is what the name promises) */
	REQUIRE(backend_put(keep, index_name, BACKEND_META, "garbage", 7) == 0);
	REQUIRE(open_as("mem:layout-remote", 1, 0, &r) == 0);
	buf out = BUF_INIT;
	snapshot *s;
	REQUIRE(snapsel_find(r, NULL, "latest", &s, NULL) == 0);
	CHECK(repo_load_blob(r, BLOB_TREE, s->tree, &out) == 0);
	snapshot_free(s);
	buf_release(&out);
	repo_free(r);
	CHECK(open_as("mem:layout-remote", 1, 1, &r) < 0); /* --no-cache reads the garbage */

	/* a snapshot removed elsewhere leaves the cache at the next listing */
	REQUIRE(backend_remove(keep, snap_name) == 0);
	REQUIRE(open_as("mem:layout-remote", 1, 0, &r) == 0);
	snapshot **v;
	size_t n;
	REQUIRE(repo_load_snapshots(r, &v, &n, NULL) == 0);
	CHECK(n == 0);
	repo_free_snapshots(v, n);
	CHECK(!cached(cache, snap_name));
	repo_free(r);
	backend_free(keep);
	unsetenv("XDG_CACHE_HOME");
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", xdg);
	CHECK(system(cmd) == 0);
}
