/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The repository server's pure parts and its store: the route table's
 * rights (every rule of docs/http-api.md), tokens (made, checked,
 * revoked, expired, forged), the rate limit, and the store: uploads
 * checked against their names, never written through a planted symlink,
 * no replacement unless asked, lease owners, listings.
 */
#include "harness.h"

#include "base/err.h"
#include "base/fsio.h"
#include "base/sql.h"
#include "repo/layout.h"
#include "server/ratelimit.h"
#include "server/readlease.h"
#include "server/route.h"
#include "server/store.h"
#include "server/token.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static server_right need(route_op op, layout_kind k, int exists, int own, int init)
{
	route_ask a = { op, k, exists, own, init };
	return route_right(&a).right;
}

TEST(route_table_gives_each_request_its_right)
{
	/* reading anything: read */
	for (int k = 0; k < LAYOUT_KINDS; k++)
		CHECK(need(ROUTE_READ, (layout_kind)k, 1, 0, 1) == RIGHT_READ);
	CHECK(need(ROUTE_LIST, LAYOUT_PACK, 0, 0, 1) == RIGHT_READ);
	/* append creates, and puts content-addressed files again */
	CHECK(need(ROUTE_PUT, LAYOUT_PACK, 0, 0, 1) == RIGHT_APPEND);
	CHECK(need(ROUTE_PUT, LAYOUT_PACK, 1, 0, 1) == RIGHT_APPEND);
	CHECK(need(ROUTE_PUT, LAYOUT_INDEX, 0, 0, 1) == RIGHT_APPEND);
	CHECK(need(ROUTE_PUT, LAYOUT_SNAPSHOT, 0, 0, 1) == RIGHT_APPEND);
	CHECK(need(ROUTE_PUT, LAYOUT_PROTECTED, 0, 0, 1) == RIGHT_APPEND);
	/* init with append; keys and config of an initialised repository: admin */
	CHECK(need(ROUTE_PUT, LAYOUT_KEY, 0, 0, 0) == RIGHT_APPEND);
	CHECK(need(ROUTE_PUT, LAYOUT_CONFIG, 0, 0, 0) == RIGHT_APPEND);
	CHECK(need(ROUTE_PUT, LAYOUT_KEY, 0, 0, 1) == RIGHT_ADMIN);
	CHECK(need(ROUTE_PUT, LAYOUT_CONFIG, 1, 0, 1) == RIGHT_ADMIN);
	/* leases: one's own with read (below append only a read lease), others' with prune */
	route_ask la = { ROUTE_PUT, LAYOUT_LEASE, 0, 1, 1 };
	CHECK(route_right(&la).right == RIGHT_READ && route_right(&la).any_body == RIGHT_APPEND);
	la.exists = 1;
	CHECK(route_right(&la).right == RIGHT_READ && route_right(&la).any_body == RIGHT_APPEND);
	CHECK(need(ROUTE_PUT, LAYOUT_LEASE, 1, 0, 1) == RIGHT_PRUNE);
	CHECK(need(ROUTE_DELETE, LAYOUT_LEASE, 1, 1, 1) == RIGHT_READ);
	CHECK(need(ROUTE_DELETE, LAYOUT_LEASE, 1, 0, 1) == RIGHT_PRUNE);
	/* what prune and forget remove, and gc records */
	CHECK(need(ROUTE_DELETE, LAYOUT_PACK, 1, 0, 1) == RIGHT_PRUNE);
	CHECK(need(ROUTE_DELETE, LAYOUT_INDEX, 1, 0, 1) == RIGHT_PRUNE);
	CHECK(need(ROUTE_DELETE, LAYOUT_SNAPSHOT, 1, 0, 1) == RIGHT_PRUNE);
	CHECK(need(ROUTE_DELETE, LAYOUT_GCREC, 1, 0, 1) == RIGHT_PRUNE);
	CHECK(need(ROUTE_PUT, LAYOUT_GCREC, 0, 0, 1) == RIGHT_PRUNE);
	CHECK(need(ROUTE_PUT, LAYOUT_GCREC, 1, 0, 1) == RIGHT_PRUNE);
	/* and what only admin removes */
	CHECK(need(ROUTE_DELETE, LAYOUT_PROTECTED, 1, 0, 1) == RIGHT_ADMIN);
	CHECK(need(ROUTE_DELETE, LAYOUT_KEY, 1, 0, 1) == RIGHT_ADMIN);
	CHECK(need(ROUTE_DELETE, LAYOUT_CONFIG, 1, 0, 1) == RIGHT_ADMIN);
	/* the property that matters: append never removes or replaces what it did not make */
	for (int k = 0; k < LAYOUT_KINDS; k++)
		for (int init = 0; init < 2; init++) {
			CHECK(need(ROUTE_DELETE, (layout_kind)k, 1, 0, init) > RIGHT_APPEND);
			if (!layout_is_immutable((layout_kind)k) && k != LAYOUT_PROTECTED)
				CHECK(init == 0 || need(ROUTE_PUT, (layout_kind)k, 1, 0, init) > RIGHT_APPEND);
		}
	server_right r;
	CHECK(route_right_parse("prune", &r) == 0 && r == RIGHT_PRUNE);
	CHECK(route_right_parse("root", &r) == -EINVAL);
	CHECK(strcmp(route_right_name(RIGHT_ADMIN), "admin") == 0);
}

static size_t read_lease_text(char *out, const char *kind, long pid, int64_t start, int64_t refresh)
{
	/* docs/format.md, "Leases" */
	return (size_t)snprintf(out, 1024, "dvalin-lease 1\nkind %s\nhost box\npid %ld\nstart %lld\nrefresh %lld\n",
				kind, pid, (long long)start, (long long)refresh);
}

TEST(a_read_token_stores_only_a_read_lease_of_now_kept_for_a_day_at_most)
{
	const int64_t s = 1000000000, now = (int64_t)1800000000 * s, skew = 300 * s;
	char a[1024], b[1024], why[200];
	size_t na = read_lease_text(a, "read", 7, now, now), nb;
	CHECK(readlease_check(a, na, NULL, 0, now, skew, why, sizeof(why)) == 0);
	/* not a lease, another kind */
	CHECK(readlease_check("x\n", 2, NULL, 0, now, skew, why, sizeof(why)) == -EACCES);
	nb = read_lease_text(b, "backup", 7, now, now);
	CHECK(readlease_check(b, nb, NULL, 0, now, skew, why, sizeof(why)) == -EACCES && strstr(why, "'append'"));
	/* a start from long ago would protect from then; times off the clock */
	nb = read_lease_text(b, "read", 7, now - 3600 * s, now);
	CHECK(readlease_check(b, nb, NULL, 0, now, skew, why, sizeof(why)) == -EACCES);
	nb = read_lease_text(b, "read", 7, now, now + 2 * skew);
	CHECK(readlease_check(b, nb, NULL, 0, now, skew, why, sizeof(why)) == -EACCES);
	nb = read_lease_text(b, "read", 7, INT64_MIN, INT64_MAX);
	CHECK(readlease_check(b, nb, NULL, 0, now, skew, why, sizeof(why)) == -EACCES);
	/* a refresh keeps the start and pid */
	int64_t later = now + 3600 * s;
	nb = read_lease_text(b, "read", 7, now, later);
	CHECK(readlease_check(b, nb, a, na, later, skew, why, sizeof(why)) == 0);
	nb = read_lease_text(b, "read", 7, now - 60 * s, later);
	CHECK(readlease_check(b, nb, a, na, later, skew, why, sizeof(why)) == -EACCES);
	nb = read_lease_text(b, "read", 8, now, later);
	CHECK(readlease_check(b, nb, a, na, later, skew, why, sizeof(why)) == -EACCES);
	/* and it ends: no refresh beyond READLEASE_MAX_S (+ skew) */
	later = now + (READLEASE_MAX_S + 600) * s;
	nb = read_lease_text(b, "read", 7, now, later);
	CHECK(readlease_check(b, nb, a, na, later, skew, why, sizeof(why)) == -EACCES && strstr(why, "at most"));
}

static sql_db *temp_db(char path[64])
{
	snprintf(path, 64, "/tmp/dvalin-unit-tokens-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	close(fd);
	sql_db *db;
	if (sql_open(&db, path, "token test") < 0)
		return NULL;
	return token_schema(db) < 0 ? NULL : db;
}

static int count_tokens(void *ud, const token_info *t)
{
	(void)t;
	(*(int *)ud)++;
	return 0;
}

TEST(tokens_are_checked_revoked_expired_and_not_forged)
{
	char path[64];
	sql_db *db = temp_db(path);
	REQUIRE(db);
	char tok[TOKEN_TEXT_MAX], tok2[TOKEN_TEXT_MAX], why[160];
	REQUIRE(token_add(db, "nightly", "nas", RIGHT_APPEND, 0, tok) == 0);
	CHECK(strncmp(tok, "dvt_", 4) == 0 && strlen(tok) == 4 + 16 + 1 + 64);
	CHECK(token_add(db, "nightly", NULL, RIGHT_READ, 0, tok2) == -EEXIST);
	CHECK(token_add(db, "bad name", NULL, RIGHT_READ, 0, tok2) == -EINVAL);
	REQUIRE(token_add(db, "soon", NULL, RIGHT_ADMIN, 1000, tok2) == 0);
	token_info t;
	CHECK(token_check(db, tok, 500, &t, why, sizeof(why)) == 0);
	CHECK(strcmp(t.name, "nightly") == 0 && strcmp(t.repo, "nas") == 0 && t.right == RIGHT_APPEND);
	/* the database holds no secret */
	int64_t n = -1;
	CHECK(sql_get_int(db, &n, "SELECT COUNT(*) FROM tokens WHERE instr(secret_sha256, ?1) > 0",
			  SQL_ARGS(SQL_TEXT(tok + 4 + 17))) == 0 && n == 0);
	/* one changed digit of the secret, of the selector; garbage */
	char forged[TOKEN_TEXT_MAX];
	snprintf(forged, sizeof(forged), "%s", tok);
	forged[strlen(forged) - 1] = forged[strlen(forged) - 1] == '0' ? '1' : '0';
	CHECK(token_check(db, forged, 500, &t, why, sizeof(why)) == -EACCES && strstr(why, "unknown"));
	snprintf(forged, sizeof(forged), "%s", tok);
	forged[5] = forged[5] == '0' ? '1' : '0';
	CHECK(token_check(db, forged, 500, &t, why, sizeof(why)) == -EACCES);
	CHECK(token_check(db, "dvt_zz", 500, &t, why, sizeof(why)) == -EACCES && strstr(why, "not a dvalin"));
	CHECK(token_check(db, "", 500, &t, why, sizeof(why)) == -EACCES);
	/* expiry */
	CHECK(token_check(db, tok2, 999, &t, why, sizeof(why)) == 0 && t.right == RIGHT_ADMIN && !t.repo[0]);
	CHECK(token_check(db, tok2, 1000, &t, why, sizeof(why)) == -EACCES && strstr(why, "expired"));
	/* revocation */
	CHECK(token_revoke(db, "nightly", 600) == 0);
	CHECK(token_check(db, tok, 700, &t, why, sizeof(why)) == -EACCES && strstr(why, "revoked"));
	CHECK(token_revoke(db, "nobody", 600) == -DV_ENOTFOUND);
	int count = 0;
	CHECK(token_list(db, count_tokens, &count) == 0 && count == 2);
	sql_close(db);
	/* and all of it survives reopening */
	REQUIRE(sql_open(&db, path, "token test") == 0);
	CHECK(token_check(db, tok, 700, &t, why, sizeof(why)) == -EACCES && strstr(why, "revoked"));
	CHECK(token_check(db, tok2, 999, &t, why, sizeof(why)) == 0);
	sql_close(db);
	unlink(path);
}

TEST(failed_authentications_are_rate_limited_per_address)
{
	static ratelimit r; /* large */
	ratelimit_init(&r);
	for (int i = 0; i < RATELIMIT_FAILS; i++) {
		CHECK(ratelimit_wait(&r, "203.0.113.5", 100) == 0);
		ratelimit_fail(&r, "203.0.113.5", 100 + i);
	}
	CHECK(ratelimit_wait(&r, "203.0.113.5", 110) == RATELIMIT_WINDOW_S - 10);
	CHECK(ratelimit_wait(&r, "198.51.100.1", 110) == 0); /* another address is not held up */
	CHECK(ratelimit_wait(&r, "203.0.113.5", 100 + RATELIMIT_WINDOW_S) == 0); /* the window ends */
	/* many addresses: memory stays bounded, the newest counts */
	for (int i = 0; i < RATELIMIT_SLOTS * 2; i++) {
		char a[32];
		snprintf(a, sizeof(a), "10.0.%d.%d", i / 256, i % 256);
		ratelimit_fail(&r, a, 1000 + i);
	}
	for (int i = 0; i < RATELIMIT_FAILS; i++)
		ratelimit_fail(&r, "192.0.2.9", 5000);
	CHECK(ratelimit_wait(&r, "192.0.2.9", 5001) > 0);
	ratelimit_release(&r);
}

static char store_dir[64];

static store *temp_store(void)
{
	snprintf(store_dir, sizeof(store_dir), "/tmp/dvalin-unit-store-XXXXXX");
	if (!mkdtemp(store_dir))
		return NULL;
	store *s;
	return store_open(&s, store_dir) < 0 ? NULL : s;
}

static void remove_store(store *s)
{
	store_free(s);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", store_dir);
	CHECK(system(cmd) == 0);
}

static int upload(store *s, const char *name, const void *p, size_t n, unsigned flags, const char *owner)
{
	store_upload *u;
	int rc = store_upload_begin(&u, s, name);
	if (rc < 0)
		return rc;
	rc = store_upload_write(u, p, n);
	rc = rc ?: store_upload_commit(u, flags, owner);
	store_upload_free(u);
	return rc;
}

static const char lease_text[] = "dvalin-lease 1\nkind backup\nhost h\npid 42\nstart 1\nrefresh 2\n";

TEST(store_checks_uploads_and_never_replaces_unasked)
{
	store *s = temp_store();
	REQUIRE(s);
	const char *lease = "locks/0123456789abcdef";
	CHECK(upload(s, lease, "garbage", 7, 0, "token:a") == -DV_ECORRUPT);
	CHECK(store_has(s, lease) == 0);
	CHECK(upload(s, lease, lease_text, strlen(lease_text), 0, "token:a") == 0);
	CHECK(store_has(s, lease) == 1);
	CHECK(upload(s, lease, lease_text, strlen(lease_text), 0, "token:a") == -EEXIST);
	CHECK(upload(s, lease, lease_text, strlen(lease_text), STORE_REPLACE, NULL) == 0);
	/* the owner was recorded once, and is told apart */
	CHECK(store_lease_is_own(s, lease, "token:a") == 1);
	CHECK(store_lease_is_own(s, lease, "token:b") == 0);
	CHECK(store_lease_is_own(s, "locks/00000000000000ff", "token:b") == 1); /* missing: nobody's */
	/* a snapshot name that is not the hash of its bytes */
	char snap[128];
	snprintf(snap, sizeof(snap), "snapshots/%064d", 0);
	CHECK(upload(s, snap, "DVALSNP1", 8, 0, NULL) == -DV_ECORRUPT);
	/* no temporary files are left behind, and the listing shows the lease only */
	store_walk *w;
	const char *name;
	uint64_t size;
	int n = 0;
	REQUIRE(store_walk_begin(&w, s, "locks") == 0);
	while (store_walk_next(w, &name, &size) == 1) {
		CHECK(strcmp(name, lease) == 0 && size == strlen(lease_text));
		n++;
	}
	store_walk_free(w);
	CHECK(n == 1);
	CHECK(store_remove(s, lease) == 0);
	CHECK(store_remove(s, lease) == -ENOENT);
	remove_store(s);
}

TEST(store_never_follows_a_planted_symlink)
{
	store *s = temp_store();
	REQUIRE(s);
	char outside[80], link[160];
	snprintf(outside, sizeof(outside), "%s-outside", store_dir);
	REQUIRE(mkdir(outside, 0700) == 0);
	/* a directory of the layout that leads out of the repository */
	snprintf(link, sizeof(link), "%s/locks", store_dir);
	REQUIRE(symlink(outside, link) == 0);
	CHECK(upload(s, "locks/0123456789abcdef", lease_text, strlen(lease_text), 0, NULL) < 0);
	char path[200];
	snprintf(path, sizeof(path), "%s/0123456789abcdef", outside);
	CHECK(access(path, F_OK) < 0);
	/* a file that is a symlink to a file outside */
	snprintf(path, sizeof(path), "%s/secret", outside);
	REQUIRE(fsio_write_atomic(AT_FDCWD, path, "secret", 6) == 0);
	REQUIRE(mkdir((snprintf(link, sizeof(link), "%s/index", store_dir), link), 0700) == 0);
	snprintf(link, sizeof(link), "%s/index/%064d", store_dir, 1);
	REQUIRE(symlink(path, link) == 0);
	char name[100];
	snprintf(name, sizeof(name), "index/%064d", 1);
	int fd;
	struct stat st;
	CHECK(store_open_file(s, name, &fd, &st) == -ENOENT);
	CHECK(store_has(s, name) == 0);
	/* a listing does not follow it either */
	store_walk *w;
	const char *got;
	uint64_t size;
	REQUIRE(store_walk_begin(&w, s, "index") == 0);
	CHECK(store_walk_next(w, &got, &size) == 0);
	store_walk_free(w);
	REQUIRE(store_walk_begin(&w, s, "locks") == 0);
	CHECK(store_walk_next(w, &got, &size) == 0);
	store_walk_free(w);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", outside);
	CHECK(system(cmd) == 0);
	remove_store(s);
}

TEST(scratch_store_takes_any_name_and_bytes)
{
	store *s = temp_store();
	REQUIRE(s);
	store_free(s);
	char mark[100];
	snprintf(mark, sizeof(mark), "%s/" STORE_SCRATCH_MARK, store_dir);
	REQUIRE(fsio_write_atomic(AT_FDCWD, mark, "", 0) == 0);
	REQUIRE(store_open(&s, store_dir) == 0);
	CHECK(store_is_scratch(s));
	CHECK(upload(s, "a/b/c/d", "anything", 8, 0, NULL) == 0);
	CHECK(upload(s, "a/b/c/d", "else", 4, STORE_REPLACE, NULL) == 0);
	store_walk *w;
	const char *got;
	uint64_t size;
	REQUIRE(store_walk_begin(&w, s, "a") == 0);
	CHECK(store_walk_next(w, &got, &size) == 1 && strcmp(got, "a/b/c/d") == 0 && size == 4);
	CHECK(store_walk_next(w, &got, &size) == 0);
	store_walk_free(w);
	remove_store(s);
}

TEST(a_listing_sweeps_uploads_whose_server_died)
{
	store *s = temp_store();
	REQUIRE(s);
	pid_t dead = fork();
	REQUIRE(dead >= 0);
	if (dead == 0)
		_exit(0);
	REQUIRE(waitpid(dead, NULL, 0) == dead);
	char dir[160], path[300];
	snprintf(dir, sizeof(dir), "%s/data/ab", store_dir);
	snprintf(path, sizeof(path), "%s/data", store_dir);
	REQUIRE(mkdir(path, 0700) == 0 && mkdir(dir, 0700) == 0);
	const char *names[3];
	char gone[64], live[64];
	snprintf(gone, sizeof(gone), ".tmp-%d-0-ab00", (int)dead);
	snprintf(live, sizeof(live), ".tmp-%d-0-ab01", (int)getpid());
	names[0] = gone;
	names[1] = live;
	names[2] = ".tmp-x-0-ab02"; /* not one of ours: left alone */
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		REQUIRE(fsio_write_atomic(AT_FDCWD, path, "half", 4) == 0);
	}
	CHECK(fsio_tmp_pid(gone) == dead && fsio_tmp_pid(".tmp-0-1-a") < 0 && fsio_tmp_pid("ab") < 0);
	store_walk *w;
	const char *got;
	uint64_t size;
	REQUIRE(store_walk_begin(&w, s, "data") == 0);
	CHECK(store_walk_next(w, &got, &size) == 0); /* temporary files are never listed */
	store_walk_free(w);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		CHECK((access(path, F_OK) == 0) == (i != 0));
	}
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/data'", store_dir);
	CHECK(system(cmd) == 0);
	remove_store(s);
}
