/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The cache decorator (backend/cache.h) over mem:, with a policy of its
 * own: names below "k/" hinted META are kept, and a name's last component
 * is the hex SHA-256 of its contents.  A second backend on the same mem:
 * store changes the files behind the cache's back, so each test can tell
 * a read served from the copy from one that went to the backend.
 */
#include "harness.h"

#include "backend/backend.h"
#include "backend/cache.h"
#include "base/err.h"
#include "base/hex.h"
#include "core/crypto.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

static int test_keeps(void *ud, const char *name, backend_hint hint)
{
	(void)ud;
	return strncmp(name, "k/", 2) == 0 && hint == BACKEND_META;
}

static int test_verify(void *ud, const char *name, const uint8_t *p, size_t n)
{
	int *calls = ud;
	char h[65];
	uint8_t d[32];
	if (calls)
		(*calls)++;
	crypto_sha256(d, p, n);
	hex_encode(h, d, 32);
	const char *base = strrchr(name, '/');
	return strcmp(base ? base + 1 : name, h) == 0 ? 0 : -DV_ECORRUPT;
}

static char cache_dir[64];

/* The cache over mem:NAME, and a plain backend on the same store: 0 when both are open. */
static int open_pair(const char *store, backend **cached, backend **plain, int *verify_calls)
{
	snprintf(cache_dir, sizeof(cache_dir), "/tmp/dvalin-unit-cache-XXXXXX");
	*cached = *plain = NULL;
	if (!mkdtemp(cache_dir))
		return -1;
	backend *inner;
	char url[64];
	snprintf(url, sizeof(url), "mem:%s", store);
	if (backend_open(url, BACKEND_OPEN_CREATE, &inner) < 0 ||
	    backend_open(url, 0, plain) < 0)
		return -1;
	cache_policy p = { test_keeps, test_verify, verify_calls };
	if (cache_backend_new(cached, inner, cache_dir, &p) < 0)
		*cached = NULL;
	return *cached && *plain ? 0 : -1;
}

static void close_pair(backend *cached, backend *plain)
{
	backend_free(cached);
	backend_free(plain);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cache_dir);
	CHECK(system(cmd) == 0);
}

/* "k/<sha256 of p>" */
static void kept_name(char out[80], const void *p, size_t n)
{
	uint8_t d[32];
	char h[65];
	crypto_sha256(d, p, n);
	hex_encode(h, d, 32);
	snprintf(out, 80, "k/%s", h);
}

/* Puts the n bytes at p into b under their kept name (into name): 0 or < 0. */
static int store_kept(backend *b, const void *p, size_t n, backend_hint hint, char name[80])
{
	kept_name(name, p, n);
	return backend_put(b, name, hint, p, n);
}

static int copy_exists(const char *name)
{
	char path[256];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", cache_dir, name);
	return stat(path, &st) == 0;
}

static int holds(backend *b, const char *name, backend_hint hint, const void *want, size_t n)
{
	bytes got = BYTES_INIT;
	int r = backend_get(b, name, hint, &got);
	int ok = r == 0 && got.len == n && memcmp(got.data, want, n) == 0;
	bytes_release(&got);
	return ok;
}

TEST(kept_file_is_fetched_once_and_served_from_the_copy)
{
	backend *c, *plain;
	REQUIRE(open_pair("cache-once", &c, &plain, NULL) == 0);
	static const char text[] = "an index file";
	char name[80];
	REQUIRE(store_kept(plain, text, sizeof(text), BACKEND_META, name) == 0);
	bytes got = BYTES_INIT;
	REQUIRE(backend_get(c, name, BACKEND_META, &got) == 0);
	CHECK(got.len == sizeof(text) && memcmp(got.data, text, sizeof(text)) == 0);
	CHECK(got.file_mapped);
	bytes_release(&got);
	CHECK(copy_exists(name));
	/* gone from the backend: still read, from the copy */
	REQUIRE(backend_remove(plain, name) == 0);
	CHECK(holds(c, name, BACKEND_META, text, sizeof(text)));
	uint8_t part[4];
	CHECK(backend_get_range(c, name, BACKEND_META, 3, part, 4) == 0 && memcmp(part, text + 3, 4) == 0);
	CHECK(backend_get_range(c, name, BACKEND_META, sizeof(text) - 2, part, 4) == -ENODATA);
	CHECK(backend_get_mapped(c, name, BACKEND_META, &got) == 0 && got.file_mapped &&
	      got.len == sizeof(text));
	bytes_release(&got);
	close_pair(c, plain);
}

TEST(names_not_kept_and_data_hints_pass_through)
{
	backend *c, *plain;
	REQUIRE(open_pair("cache-through", &c, &plain, NULL) == 0);
	static const char text[] = "a lease";
	char name[80];
	REQUIRE(backend_put(plain, "locks/a", BACKEND_META, text, sizeof(text)) == 0);
	REQUIRE(store_kept(plain, text, sizeof(text), BACKEND_DATA, name) == 0);
	CHECK(holds(c, "locks/a", BACKEND_META, text, sizeof(text)));
	CHECK(holds(c, name, BACKEND_DATA, text, sizeof(text)));
	CHECK(!copy_exists("locks/a") && !copy_exists(name));
	REQUIRE(backend_remove(plain, "locks/a") == 0);
	REQUIRE(backend_remove(plain, name) == 0);
	bytes got = BYTES_INIT;
	CHECK(backend_get(c, "locks/a", BACKEND_META, &got) == -ENOENT);
	CHECK(backend_get(c, name, BACKEND_DATA, &got) == -ENOENT);
	CHECK(backend_get(c, "k/missing", BACKEND_META, &got) == -ENOENT);
	close_pair(c, plain);
}

TEST(damaged_copy_is_detected_and_fetched_again)
{
	int calls = 0;
	backend *c, *plain;
	REQUIRE(open_pair("cache-damage", &c, &plain, &calls) == 0);
	static const char text[] = "a snapshot, sealed";
	char name[80], path[256];
	REQUIRE(store_kept(plain, text, sizeof(text), BACKEND_META, name) == 0);
	REQUIRE(holds(c, name, BACKEND_META, text, sizeof(text)));
	/* a flipped byte in the copy */
	snprintf(path, sizeof(path), "%s/%s", cache_dir, name);
	int fd = open(path, O_RDWR);
	REQUIRE(fd >= 0);
	CHECK(pwrite(fd, "X", 1, 2) == 1);
	close(fd);
	calls = 0;
	CHECK(holds(c, name, BACKEND_META, text, sizeof(text)));
	CHECK(calls == 2); /* the damaged copy, then the fetched bytes */
	/* and the copy is whole again */
	REQUIRE(backend_remove(plain, name) == 0);
	CHECK(holds(c, name, BACKEND_META, text, sizeof(text)));
	/* a truncated copy too (a crash while it was written) */
	REQUIRE(backend_put(plain, name, BACKEND_META, text, sizeof(text)) == 0);
	REQUIRE(truncate(path, 3) == 0);
	CHECK(holds(c, name, BACKEND_META, text, sizeof(text)));
	close_pair(c, plain);
}

TEST(bytes_that_fail_the_check_are_returned_but_not_kept)
{
	backend *c, *plain;
	REQUIRE(open_pair("cache-bad", &c, &plain, NULL) == 0);
	static const char text[] = "not what the name says";
	const char *name = "k/0000000000000000000000000000000000000000000000000000000000000000";
	REQUIRE(backend_put(plain, name, BACKEND_META, text, sizeof(text)) == 0);
	CHECK(holds(c, name, BACKEND_META, text, sizeof(text)));
	CHECK(!copy_exists(name));
	backend_file *f;
	uint64_t size = 0;
	REQUIRE(backend_open_read(c, name, BACKEND_META, &f, &size) == 0);
	char b[5];
	CHECK(size == sizeof(text) && backend_file_read(c, f, 4, b, 5) == 0 && memcmp(b, text + 4, 5) == 0);
	backend_file_close(c, f);
	close_pair(c, plain);
}

TEST(put_writes_through_and_remove_drops_the_copy)
{
	backend *c, *plain;
	REQUIRE(open_pair("cache-put", &c, &plain, NULL) == 0);
	static const char text[] = "a tree pack";
	char name[80];
	REQUIRE(store_kept(c, text, sizeof(text), BACKEND_META, name) == 0);
	CHECK(holds(plain, name, BACKEND_META, text, sizeof(text)));
	CHECK(copy_exists(name));
	REQUIRE(backend_remove(c, name) == 0);
	CHECK(!copy_exists(name));
	bytes got = BYTES_INIT;
	CHECK(backend_get(c, name, BACKEND_META, &got) == -ENOENT);
	CHECK(backend_get(plain, name, BACKEND_META, &got) == -ENOENT);
	close_pair(c, plain);
}

static int count_entry(void *ud, const backend_entry *e)
{
	(void)e;
	(*(int *)ud)++;
	return 0;
}

static int keep_none(void *ud, const char *name)
{
	(void)ud;
	(void)name;
	return 0;
}

TEST(listing_drops_copies_of_files_removed_elsewhere)
{
	backend *c, *plain;
	REQUIRE(open_pair("cache-list", &c, &plain, NULL) == 0);
	char names[3][80];
	for (int i = 0; i < 3; i++) {
		char text[32];
		snprintf(text, sizeof(text), "file %d", i);
		REQUIRE(store_kept(c, text, strlen(text), BACKEND_META, names[i]) == 0);
		CHECK(copy_exists(names[i]));
	}
	/* a prune elsewhere removes one */
	REQUIRE(backend_remove(plain, names[1]) == 0);
	int n = 0;
	REQUIRE(backend_list(c, "k", count_entry, &n) == 0);
	CHECK(n == 2);
	CHECK(copy_exists(names[0]) && !copy_exists(names[1]) && copy_exists(names[2]));
	/* and the caller that knows what is in use drops the rest */
	CHECK(cache_backend_retain(c, "k", keep_none, NULL) == 0);
	CHECK(!copy_exists(names[0]) && !copy_exists(names[2]));
	CHECK(cache_backend_retain(plain, "k", keep_none, NULL) == 0); /* not a cache: nothing */
	close_pair(c, plain);
}

struct reader_arg {
	backend *c;
	char (*names)[80];
	int bad;
};

static void *reader(void *p)
{
	struct reader_arg *a = p;
	for (int round = 0; round < 20; round++)
		for (int i = 0; i < 8; i++) {
			char text[32];
			snprintf(text, sizeof(text), "shared %d", i);
			if (!holds(a->c, a->names[i], BACKEND_META, text, strlen(text)))
				a->bad++;
		}
	return NULL;
}

TEST(threads_fetch_the_same_files_at_once)
{
	backend *c, *plain;
	REQUIRE(open_pair("cache-threads", &c, &plain, NULL) == 0);
	char names[8][80];
	for (int i = 0; i < 8; i++) {
		char text[32];
		snprintf(text, sizeof(text), "shared %d", i);
		REQUIRE(store_kept(plain, text, strlen(text), BACKEND_META, names[i]) == 0);
	}
	pthread_t t[4];
	struct reader_arg a[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (struct reader_arg){ c, names, 0 };
		REQUIRE(pthread_create(&t[i], NULL, reader, &a[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK(a[i].bad == 0);
	}
	close_pair(c, plain);
}

TEST(cache_dir_follows_xdg_then_home)
{
	char dir[64] = "/tmp/dvalin-unit-xdg-XXXXXX", out[256], want[128];
	REQUIRE(mkdtemp(dir));
	char *old_xdg = getenv("XDG_CACHE_HOME") ? strdup(getenv("XDG_CACHE_HOME")) : NULL;
	char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	setenv("XDG_CACHE_HOME", dir, 1);
	CHECK(backend_cache_dir(out, sizeof(out), "ab/cd") == 0);
	snprintf(want, sizeof(want), "%s/dvalin/ab/cd", dir);
	CHECK(strcmp(out, want) == 0);
	struct stat st;
	CHECK(stat(want, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
	setenv("XDG_CACHE_HOME", "relative", 1); /* ignored, as the spec says */
	setenv("HOME", dir, 1);
	CHECK(backend_cache_dir(out, sizeof(out), NULL) == 0);
	snprintf(want, sizeof(want), "%s/.cache/dvalin", dir);
	CHECK(strcmp(out, want) == 0);
	unsetenv("XDG_CACHE_HOME");
	unsetenv("HOME");
	CHECK(backend_cache_dir(out, sizeof(out), NULL) == -ENOENT);
	CHECK(backend_cache_dir(out, 12, NULL) == -ENOENT);
	setenv("HOME", dir, 1);
	CHECK(backend_cache_dir(out, 12, NULL) == -ENAMETOOLONG);
	if (old_xdg)
		setenv("XDG_CACHE_HOME", old_xdg, 1);
	if (old_home)
		setenv("HOME", old_home, 1);
	else
		unsetenv("HOME");
	free(old_xdg);
	free(old_home);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}
