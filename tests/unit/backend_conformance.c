/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * backend_conformance: the tests every backend must pass, by URL.
 *
 *   backend_conformance URL [URL...] [-t FILTER]
 *
 * Each test works below a name of its own ("conformance-<pid>/<test>/"),
 * removes what it wrote, and checks the contract of backend.h, not an
 * implementation: atomic put and replace seen from concurrent readers,
 * ranged and short reads, reads past the end, missing names, stat,
 * listings of thousands of names and of nested names, handles, removal (and in batches),
 * every allowed name character (and the refusal of the others), several
 * threads using one backend at once, a second backend opened on the
 * same URL, list-and-fetch, files as mappings and staged puts (seen
 * only once committed, nothing left of a discarded one).  A remote backend
 * (https:, ssh:, s3:) runs it unchanged, given a URL of a scratch
 * location.  `make test` runs it on a temporary directory and on mem:.
 */
#define HARNESS_OWN_MAIN
#include "harness.h"

#include "backend/backend.h"
#include "backend/local.h"
#include "base/cleanup.h"
#include "base/err.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <unistd.h>

static const char *url;  /* the backend under test */
static char root[64];    /* this run's prefix */

/* "<root>/<fmt...>" */
static const char *nm(char out[BACKEND_NAME_MAX + 1], const char *fmt, ...)
{
	char tail[BACKEND_NAME_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tail, sizeof(tail), fmt, ap);
	va_end(ap);
	size_t rl = strlen(root), tl = strlen(tail);
	if (rl + 1 + tl > BACKEND_NAME_MAX)
		tl = BACKEND_NAME_MAX - rl - 1;
	memcpy(out, root, rl);
	out[rl] = '/';
	memcpy(out + rl + 1, tail, tl);
	out[rl + 1 + tl] = 0;
	return out;
}

static backend *open_be(void)
{
	backend *b = NULL;
	int rc = backend_open(url, BACKEND_OPEN_CREATE, &b);
	if (rc < 0)
		fprintf(stderr, "  cannot open '%s': %s\n", url, err_msg(rc));
	return rc < 0 ? NULL : b;
}

/* Whether name holds exactly the n bytes at want. */
static int holds(backend *b, const char *name, const uint8_t *want, size_t n)
{
	bytes got = BYTES_INIT;
	if (backend_get(b, name, BACKEND_DATA, &got) < 0)
		return 0;
	int ok = got.len == n && (n == 0 || memcmp(got.data, want, n) == 0);
	bytes_release(&got);
	return ok;
}

/* ---------- listings, collected ---------- */

typedef struct {
	char **names;
	uint64_t *sizes;
	size_t n;
} listing;

static int collect(void *ud, const backend_entry *e)
{
	listing *l = ud;
	char **names = realloc(l->names, (l->n + 1) * sizeof(*names));
	uint64_t *sizes = realloc(l->sizes, (l->n + 1) * sizeof(*sizes));
	if (names)
		l->names = names;
	if (sizes)
		l->sizes = sizes;
	if (!names || !sizes || !(l->names[l->n] = strdup(e->name)))
		return -ENOMEM;
	l->sizes[l->n++] = e->size;
	return 0;
}

static void listing_free(listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->sizes);
	memset(l, 0, sizeof(*l));
}

static int list_all(backend *b, const char *dir, listing *out)
{
	memset(out, 0, sizeof(*out));
	return backend_list(b, dir, collect, out);
}

/* How often name occurs in l; its size in *size. */
static int count_in(const listing *l, const char *name, uint64_t *size)
{
	int c = 0;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->names[i], name) == 0) {
			c++;
			if (size)
				*size = l->sizes[i];
		}
	return c;
}

static int remove_cb(void *ud, const backend_entry *e)
{
	int r = backend_remove(ud, e->name);
	return r == -ENOENT ? 0 : r;
}

/* Removes everything below dir. */
static void clean(backend *b, const char *dir)
{
	CHECK(backend_list(b, dir, remove_cb, b) == 0);
	listing l;
	CHECK(list_all(b, dir, &l) == 0 && l.n == 0);
	listing_free(&l);
}

/* ---------- whole files ---------- */

TEST(put_get_stat_roundtrip)
{
	backend *b = open_be();
	REQUIRE(b);
	static const size_t sizes[] = { 0, 1, 100, 4095, 4096, 65537, (3u << 20) + 3 };
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		char name[256];
		uint8_t *p = malloc(sizes[i] + 1);
		REQUIRE(p);
		test_fill(p, sizes[i], i + 1);
		nm(name, "rt/f%zu", i);
		CHECK(backend_put(b, name, BACKEND_DATA, p, sizes[i]) == 0);
		bytes got = BYTES_INIT;
		CHECK(backend_get(b, name, BACKEND_META, &got) == 0);
		CHECK(got.len == sizes[i] && (sizes[i] == 0 || memcmp(got.data, p, sizes[i]) == 0));
		if (sizes[i] && (b->flags & BACKEND_RETURNS_MAPPINGS))
			CHECK(got.file_mapped);
		bytes_release(&got);
		backend_stat_t st;
		uint64_t size = 1234;
		CHECK(backend_stat(b, name, &st) == 0 && st.size == sizes[i] && st.mtime_ns > 0);
		CHECK(backend_size(b, name, &size) == 0 && size == sizes[i]);
		free(p);
	}
	char dir[256];
	clean(b, nm(dir, "rt"));
	backend_free(b);
}

TEST(missing_names_are_enoent)
{
	backend *b = open_be();
	REQUIRE(b);
	char name[256];
	nm(name, "missing/nothing-here");
	bytes got = BYTES_INIT;
	backend_stat_t st;
	backend_file *f = NULL;
	uint8_t x[4];
	CHECK(backend_get(b, name, BACKEND_DATA, &got) == -ENOENT);
	CHECK(strstr(err_msg(-ENOENT), "nothing-here") != NULL); /* the message names it */
	CHECK(backend_stat(b, name, &st) == -ENOENT);
	CHECK(backend_open_read(b, name, BACKEND_DATA, &f, NULL) == -ENOENT && !f);
	CHECK(backend_get_range(b, name, BACKEND_DATA, 0, x, 1) == -ENOENT);
	CHECK(backend_get_mapped(b, name, BACKEND_META, &got) == -ENOENT);
	CHECK(backend_remove(b, name) == -ENOENT);
	backend_free(b);
}

TEST(replace_gives_the_new_contents)
{
	backend *b = open_be();
	REQUIRE(b);
	char name[256], dir[256];
	uint8_t a[5000], c[300];
	test_fill(a, sizeof(a), 7);
	test_fill(c, sizeof(c), 8);
	nm(name, "replace/x");
	CHECK(backend_put(b, name, BACKEND_META, a, sizeof(a)) == 0);
	CHECK(backend_put(b, name, BACKEND_META, c, sizeof(c)) == 0);
	CHECK(holds(b, name, c, sizeof(c)));
	uint64_t size;
	CHECK(backend_size(b, name, &size) == 0 && size == sizeof(c));
	listing l;
	CHECK(list_all(b, nm(dir, "replace"), &l) == 0 && l.n == 1);
	listing_free(&l);
	clean(b, dir);
	backend_free(b);
}

/* ---------- staged puts ---------- */

/* Names starting with '.' in the local directory dir (-1 for other backends): temporaries. */
static int hidden_in(backend *b, const char *dir)
{
	int dfd = local_backend_dirfd(b);
	if (dfd < 0)
		return -1;
	int fd = openat(dfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

TEST(staged_puts_appear_only_when_committed)
{
	backend *b = open_be();
	REQUIRE(b);
	char name[4][256], gone[256], dir[256], sub[2][256];
	uint8_t p[4][3000], old[100];
	for (int i = 0; i < 4; i++)
		test_fill(p[i], sizeof(p[i]), 40 + i);
	test_fill(old, sizeof(old), 49);
	nm(name[0], "staged/a/x");
	nm(name[1], "staged/a/y");
	nm(name[2], "staged/new/z"); /* its directory does not exist yet */
	nm(name[3], "staged/a/old"); /* replaces a file */
	nm(sub[0], "staged/a");
	nm(sub[1], "staged/new");
	CHECK(backend_put(b, name[3], BACKEND_DATA, old, sizeof(old)) == 0);
	backend_staged *v[5] = { NULL };
	for (int i = 0; i < 4; i++)
		CHECK(backend_put_staged(b, name[i], BACKEND_DATA, p[i], sizeof(p[i]), &v[i]) == 0);
	int staging = v[0] != NULL;
	for (int i = 1; i < 4; i++) /* one way for every file of a backend */
		CHECK((v[i] != NULL) == staging);
	listing l;
	CHECK(list_all(b, nm(dir, "staged"), &l) == 0);
	if (staging) { /* nothing seen before the commit: the old file as it was */
		CHECK(l.n == 1 && holds(b, name[3], old, sizeof(old)));
		CHECK(backend_stat(b, name[0], &(backend_stat_t){ 0 }) == -ENOENT);
		err_clear();
	} else { /* put at once */
		CHECK(l.n == 4 && holds(b, name[0], p[0], sizeof(p[0])));
	}
	listing_free(&l);
	CHECK(backend_commit_staged(b, v, 5) == 0); /* a NULL entry is skipped */
	for (int i = 0; i < 5; i++)
		CHECK(v[i] == NULL);
	for (int i = 0; i < 4; i++)
		CHECK(holds(b, name[i], p[i], sizeof(p[i])));
	/* discarded: nothing of it, not even its temporary */
	backend_staged *d = NULL;
	CHECK(backend_put_staged(b, nm(gone, "staged/a/gone"), BACKEND_DATA, old, 10, &d) == 0);
	backend_discard_staged(b, d);
	backend_discard_staged(b, NULL);
	if (staging)
		CHECK(backend_stat(b, gone, &(backend_stat_t){ 0 }) == -ENOENT);
	else
		CHECK(backend_remove(b, gone) == 0);
	err_clear();
	CHECK(list_all(b, dir, &l) == 0 && l.n == 4);
	listing_free(&l);
	for (int i = 0; i < 2; i++)
		CHECK(hidden_in(b, sub[i]) <= 0);
	CHECK(hidden_in(b, dir) <= 0);
	clean(b, dir);
	backend_free(b);
}

/* ---------- ranged reads and handles ---------- */

static void check_range(backend *b, backend_file *f, const char *name, const uint8_t *p,
			uint64_t size, uint64_t off, size_t n)
{
	uint8_t *q = malloc(n + 1);
	REQUIRE(q);
	int want = off <= size && n <= size - off ? 0 : -ENODATA;
	int got = f ? backend_file_read(b, f, off, q, n)
		    : backend_get_range(b, name, BACKEND_DATA, off, q, n);
	CHECK(got == want);
	if (got != want)
		fprintf(stderr, "  read of %zu at %llu from %llu bytes gave %d\n", n,
			(unsigned long long)off, (unsigned long long)size, got);
	if (want == 0 && got == 0)
		CHECK(n == 0 || memcmp(q, p + off, n) == 0);
	free(q);
}

static void range_cases(backend *b, backend_file *f, const char *name, const uint8_t *p,
			uint64_t size)
{
	uint64_t s = 99;
	check_range(b, f, name, p, size, 0, 0);
	check_range(b, f, name, p, size, size, 0);
	check_range(b, f, name, p, size, 0, (size_t)size);
	check_range(b, f, name, p, size, size - 1, 1);
	check_range(b, f, name, p, size, size - 10, 20);     /* short */
	check_range(b, f, name, p, size, 0, (size_t)size + 1);
	check_range(b, f, name, p, size, size + 1, 0);        /* past the end */
	check_range(b, f, name, p, size, size + 5000, 10);
	check_range(b, f, name, p, size, UINT64_MAX - 1, 4); /* off + n overflows */
	for (int i = 0; i < 200; i++) {
		uint64_t off = test_rand(&s) % (size + 10);
		size_t n = (size_t)(test_rand(&s) % 9000);
		check_range(b, f, name, p, size, off, n);
	}
}

TEST(ranged_reads_short_reads_and_past_the_end)
{
	backend *b = open_be();
	REQUIRE(b);
	char name[256];
	enum { SIZE = 100003 };
	static uint8_t p[SIZE];
	test_fill(p, SIZE, 11);
	nm(name, "range/f");
	REQUIRE(backend_put(b, name, BACKEND_DATA, p, SIZE) == 0);
	range_cases(b, NULL, name, p, SIZE);
	backend_file *f;
	uint64_t size = 0;
	REQUIRE(backend_open_read(b, name, BACKEND_DATA, &f, &size) == 0);
	CHECK(size == SIZE);
	range_cases(b, f, name, p, SIZE);
	backend_file_close(b, f);
	CHECK(backend_remove(b, name) == 0);
	backend_free(b);
}

TEST(handles_read_one_version)
{
	backend *b = open_be();
	REQUIRE(b);
	char name[256];
	uint8_t a[20000], c[20000];
	memset(a, 'a', sizeof(a));
	memset(c, 'c', sizeof(c));
	nm(name, "handle/f");
	REQUIRE(backend_put(b, name, BACKEND_DATA, a, sizeof(a)) == 0);
	backend_file *f1, *f2;
	REQUIRE(backend_open_read(b, name, BACKEND_DATA, &f1, NULL) == 0);
	REQUIRE(backend_open_read(b, name, BACKEND_DATA, &f2, NULL) == 0);
	uint8_t q[20000];
	CHECK(backend_file_read(b, f1, 0, q, 1000) == 0 && q[0] == 'a' && q[999] == 'a');
	/* replaced: a handle reads the old version or fails, never a mix */
	REQUIRE(backend_put(b, name, BACKEND_DATA, c, sizeof(c)) == 0);
	int r = backend_file_read(b, f1, 0, q, sizeof(q));
	if (r == 0) {
		size_t na = 0;
		for (size_t i = 0; i < sizeof(q); i++)
			na += q[i] == 'a';
		CHECK(na == sizeof(q) || na == 0);
	} else {
		CHECK(r == -ENOENT || r == -ESTALE);
	}
	backend_file_close(b, f1);
	/* removed: the same */
	REQUIRE(backend_remove(b, name) == 0);
	r = backend_file_read(b, f2, 100, q, 100);
	CHECK(r == 0 || r == -ENOENT || r == -ESTALE);
	backend_file_close(b, f2);
	backend_file_close(b, NULL); /* NULL-safe */
	backend_free(b);
}

/* ---------- removal in batches, listed times ---------- */

struct times_seen {
	backend *b;
	size_t n, agree;
};

/* A listed time is 0 (not told) or what stat says. */
static int check_time(void *ud, const backend_entry *e)
{
	struct times_seen *t = ud;
	backend_stat_t st;
	t->n++;
	if (backend_stat(t->b, e->name, &st) == 0 && (e->mtime_ns == 0 || e->mtime_ns == st.mtime_ns))
		t->agree++;
	return 0;
}

TEST(remove_batch_and_listed_times)
{
	backend *b = open_be();
	REQUIRE(b);
	char names[6][BACKEND_NAME_MAX + 1];
	const char *v[6];
	for (int i = 0; i < 6; i++) {
		v[i] = nm(names[i], "batch/f%d", i);
		/* the last one is never written: a missing name is no error */
		if (i < 5)
			REQUIRE(backend_put(b, names[i], BACKEND_DATA, "x", 1) == 0);
	}
	char dir[BACKEND_NAME_MAX + 1];
	nm(dir, "batch");
	struct times_seen t = { b, 0, 0 };
	CHECK(backend_list(b, dir, check_time, &t) == 0);
	CHECK(t.n == 5 && t.agree == 5);
	CHECK(backend_remove_batch(b, v, 0) == 0);
	const char *bad[2] = { names[0], "../escape" };
	CHECK(backend_remove_batch(b, bad, 2) == -EINVAL);
	CHECK(backend_remove_batch(b, v, 6) == 0);
	listing l;
	CHECK(list_all(b, dir, &l) == 0);
	CHECK(l.n == 0);
	listing_free(&l);
	backend_free(b);
}

/* ---------- listing ---------- */

TEST(list_thousands_of_names_with_sizes)
{
	backend *b = open_be();
	REQUIRE(b);
	enum { N = 3000 };
	char name[256], dir[256];
	uint8_t p[16];
	test_fill(p, sizeof(p), 3);
	for (int i = 0; i < N; i++)
		REQUIRE(backend_put(b, nm(name, "many/%04x%s", i, i % 2 ? "-x" : ""), BACKEND_META, p,
				    (size_t)(i % 16)) == 0);
	listing l;
	REQUIRE(list_all(b, nm(dir, "many"), &l) == 0);
	CHECK(l.n == N);
	/* every name exactly once, with its size */
	uint8_t *seen = calloc(N, 1);
	REQUIRE(seen);
	size_t prefix = strlen(dir) + 1;
	for (size_t i = 0; i < l.n; i++) {
		unsigned v;
		if (strncmp(l.names[i], dir, prefix - 1) != 0 || sscanf(l.names[i] + prefix, "%4x", &v) != 1 ||
		    v >= N) {
			CHECK(!"a listed name that was never written");
			continue;
		}
		CHECK(!seen[v]);
		seen[v] = 1;
		CHECK(l.sizes[i] == v % 16);
	}
	free(seen);
	listing_free(&l);
	clean(b, dir);
	backend_free(b);
}

TEST(list_is_recursive_and_exact)
{
	backend *b = open_be();
	REQUIRE(b);
	static const char *const files[] = { "n/a", "n/b/c", "n/b/d/e/f", "n2/x", "nn", "n-/y" };
	char name[256], dir[256];
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		REQUIRE(backend_put(b, nm(name, "%s", files[i]), BACKEND_META, files[i], strlen(files[i])) == 0);
	listing l;
	REQUIRE(list_all(b, nm(dir, "n"), &l) == 0);
	CHECK(l.n == 3);
	uint64_t size = 0;
	CHECK(count_in(&l, nm(name, "n/a"), &size) == 1 && size == 3);
	CHECK(count_in(&l, nm(name, "n/b/c"), NULL) == 1);
	CHECK(count_in(&l, nm(name, "n/b/d/e/f"), &size) == 1 && size == 9);
	listing_free(&l);
	REQUIRE(list_all(b, nm(dir, "n/b"), &l) == 0);
	CHECK(l.n == 2);
	listing_free(&l);
	/* a missing directory and a file list nothing */
	CHECK(list_all(b, nm(dir, "absent"), &l) == 0 && l.n == 0);
	listing_free(&l);
	CHECK(list_all(b, nm(dir, "n/a"), &l) == 0 && l.n == 0);
	listing_free(&l);
	CHECK(list_all(b, root, &l) == 0 && l.n == ARRAY_SIZE(files));
	listing_free(&l);
	clean(b, root);
	backend_free(b);
}

struct stopper {
	int calls;
};

static int stop_second(void *ud, const backend_entry *e)
{
	(void)e;
	return ++((struct stopper *)ud)->calls == 2 ? 7 : 0;
}

TEST(list_stops_when_asked)
{
	backend *b = open_be();
	REQUIRE(b);
	char name[256], dir[256];
	for (int i = 0; i < 5; i++)
		REQUIRE(backend_put(b, nm(name, "stop/%d", i), BACKEND_META, "x", 1) == 0);
	struct stopper s = { 0 };
	CHECK(backend_list(b, nm(dir, "stop"), stop_second, &s) == 7 && s.calls == 2);
	/* the callback may remove what is listed */
	CHECK(backend_list(b, dir, remove_cb, b) == 0);
	listing l;
	CHECK(list_all(b, dir, &l) == 0 && l.n == 0);
	listing_free(&l);
	backend_free(b);
}

/* ---------- names ---------- */

TEST(every_allowed_character_and_no_other)
{
	backend *b = open_be();
	REQUIRE(b);
	static const char *const good[] = {
		"abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789",
		"a-b_c.d", "-", "_", "x.", "a.b/c-d/_e", "A/B/C/D/E/F/G/H/I/J",
	};
	char name[512], dir[256];
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		nm(name, "names/%s", good[i]);
		CHECK(backend_name_is_valid(name));
		CHECK(backend_put(b, name, BACKEND_META, good[i], strlen(good[i])) == 0);
		CHECK(holds(b, name, (const uint8_t *)good[i], strlen(good[i])));
	}
	listing l;
	CHECK(list_all(b, nm(dir, "names"), &l) == 0 && l.n == ARRAY_SIZE(good));
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		CHECK(count_in(&l, nm(name, "names/%s", good[i]), NULL) == 1);
	listing_free(&l);
	/* the longest name there may be, and one longer */
	size_t len = strlen(nm(name, "names/"));
	memset(name + len, 'z', BACKEND_NAME_MAX - len);
	name[BACKEND_NAME_MAX] = 0;
	CHECK(backend_put(b, name, BACKEND_META, "long", 4) == 0);
	CHECK(holds(b, name, (const uint8_t *)"long", 4));
	name[BACKEND_NAME_MAX] = 'z';
	name[BACKEND_NAME_MAX + 1] = 0;
	CHECK(backend_put(b, name, BACKEND_META, "long", 4) == -EINVAL);
	clean(b, dir);
	static const char *const bad[] = {
		"", "/a", "a/", "a//b", ".a", "a/.b", "..", "a/../b", "a b", "a\\b", "a:b",
		"\xc3\xbc", "a\nb", "a*", "a?b", "%41",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		bytes got = BYTES_INIT;
		CHECK(!backend_name_is_valid(bad[i]));
		CHECK(backend_put(b, bad[i], BACKEND_META, "x", 1) == -EINVAL);
		CHECK(backend_get(b, bad[i], BACKEND_META, &got) == -EINVAL);
		CHECK(backend_remove(b, bad[i]) == -EINVAL);
		CHECK(backend_list(b, bad[i], remove_cb, b) == -EINVAL);
	}
	backend_free(b);
}

/* ---------- atomicity and threads ---------- */

enum { ATOM_A = 300000, ATOM_B = 200000 };

struct atom {
	backend *b;
	const char *name;
	_Atomic int stop;
	_Atomic int bad, missing, reads;
};

/* Whether p is all 'a' (ATOM_A bytes) or all 'b' (ATOM_B bytes). */
static int whole(const uint8_t *p, size_t n)
{
	if (n != ATOM_A && n != ATOM_B)
		return 0;
	uint8_t c = n == ATOM_A ? 'a' : 'b';
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

static void *atom_reader(void *arg)
{
	struct atom *a = arg;
	uint8_t *q = malloc(ATOM_A);
	while (q && !a->stop) {
		bytes got = BYTES_INIT;
		int r = backend_get(a->b, a->name, BACKEND_DATA, &got);
		if (r == 0) {
			a->bad += !whole(got.data, got.len);
			bytes_release(&got);
		} else {
			a->missing += r == -ENOENT;
			a->bad += r != -ENOENT;
		}
		backend_file *f;
		uint64_t size;
		r = backend_open_read(a->b, a->name, BACKEND_DATA, &f, &size);
		if (r == 0) {
			int rr = size <= ATOM_A ? backend_file_read(a->b, f, 0, q, (size_t)size) : -EFBIG;
			a->bad += rr == 0 ? !whole(q, (size_t)size) : rr != -ENOENT && rr != -ESTALE;
			backend_file_close(a->b, f);
		} else {
			a->missing += r == -ENOENT;
			a->bad += r != -ENOENT;
		}
		a->reads++;
	}
	free(q);
	return NULL;
}

TEST(put_is_atomic_for_concurrent_readers)
{
	backend *b = open_be();
	REQUIRE(b);
	char name[256];
	uint8_t *pa = malloc(ATOM_A), *pb = malloc(ATOM_B);
	REQUIRE(pa && pb);
	memset(pa, 'a', ATOM_A);
	memset(pb, 'b', ATOM_B);
	struct atom a = { b, nm(name, "atomic/f"), 0, 0, 0, 0 };
	REQUIRE(backend_put(b, name, BACKEND_DATA, pa, ATOM_A) == 0);
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		REQUIRE(pthread_create(&t[i], NULL, atom_reader, &a) == 0);
	for (int i = 0; i < 150; i++)
		CHECK(backend_put(b, name, BACKEND_DATA, i % 2 ? pa : pb, i % 2 ? ATOM_A : ATOM_B) == 0);
	/* at least some reads overlapped the writes */
	while (a.reads < 30)
		usleep(1000);
	a.stop = 1;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	CHECK(a.bad == 0);
	if (b->flags & BACKEND_ATOMIC_REPLACE)
		CHECK(a.missing == 0);
	CHECK(backend_remove(b, name) == 0);
	free(pa);
	free(pb);
	backend_free(b);
}

struct worker {
	backend *b;
	int id;
	int errors;
};

/* One thread's mix of every operation on its own names and a shared one. */
static void *mixed(void *arg)
{
	struct worker *w = arg;
	backend *b = w->b;
	char name[256], dir[256], shared[256];
	uint8_t p[5000], q[5000];
	nm(dir, "mix/t%d", w->id);
	nm(shared, "mix/shared");
	memset(q, 's', sizeof(q));
	for (int i = 0; i < 120; i++) {
		size_t n = 1000 + (size_t)(i * 37 % 4000);
		test_fill(p, n, (uint64_t)(w->id * 1000 + i));
		nm(name, "mix/t%d/f%d", w->id, i);
		w->errors += backend_put(b, name, BACKEND_DATA, p, n) != 0;
		w->errors += !holds(b, name, p, n);
		uint8_t r[100];
		w->errors += backend_get_range(b, name, BACKEND_DATA, 10, r, 100) != 0 ||
			     memcmp(r, p + 10, 100) != 0;
		backend_file *f;
		uint64_t size = 0;
		if (backend_open_read(b, name, BACKEND_DATA, &f, &size) == 0) {
			w->errors += size != n || backend_file_read(b, f, n - 50, r, 50) != 0 ||
				     memcmp(r, p + n - 50, 50) != 0;
			backend_file_close(b, f);
		} else {
			w->errors++;
		}
		backend_stat_t st;
		w->errors += backend_stat(b, name, &st) != 0 || st.size != n;
		if (i % 3 == 0)
			w->errors += backend_remove(b, name) != 0;
		if (i % 10 == 0) {
			listing l;
			w->errors += list_all(b, dir, &l) != 0 || l.n != (size_t)(i - i / 3);
			listing_free(&l);
		}
		w->errors += backend_put(b, shared, BACKEND_META, q, sizeof(q)) != 0;
		bytes got = BYTES_INIT;
		if (backend_get(b, shared, BACKEND_META, &got) == 0) {
			w->errors += got.len != sizeof(q) || memcmp(got.data, q, sizeof(q)) != 0;
			bytes_release(&got);
		} else {
			w->errors++;
		}
	}
	return NULL;
}

TEST(threads_use_one_backend_at_once)
{
	backend *b = open_be();
	REQUIRE(b);
	enum { T = 4 };
	struct worker w[T];
	pthread_t t[T];
	for (int i = 0; i < T; i++) {
		w[i] = (struct worker){ b, i, 0 };
		REQUIRE(pthread_create(&t[i], NULL, mixed, &w[i]) == 0);
	}
	for (int i = 0; i < T; i++) {
		pthread_join(t[i], NULL);
		CHECK(w[i].errors == 0);
	}
	char dir[256];
	listing l;
	CHECK(list_all(b, nm(dir, "mix"), &l) == 0 && l.n == T * 80 + 1);
	listing_free(&l);
	clean(b, dir);
	backend_free(b);
}

/* ---------- a second backend on the same URL ---------- */

TEST(a_second_open_sees_the_same_files)
{
	backend *b1 = open_be(), *b2 = open_be();
	REQUIRE(b1 && b2);
	char name[256];
	nm(name, "reopen/f");
	CHECK(backend_put(b1, name, BACKEND_META, "one", 3) == 0);
	CHECK(holds(b2, name, (const uint8_t *)"one", 3));
	CHECK(backend_remove(b2, name) == 0);
	uint64_t size;
	CHECK(backend_size(b1, name, &size) == -ENOENT);
	backend_free(b1);
	backend_free(b2);
}

TEST(mkdir_is_optional_and_harmless)
{
	backend *b = open_be();
	REQUIRE(b);
	char dir[256], name[256];
	CHECK(backend_mkdir(b, nm(dir, "made/sub")) == 0);
	CHECK(backend_mkdir(b, dir) == 0);
	listing l;
	CHECK(list_all(b, nm(dir, "made"), &l) == 0 && l.n == 0);
	listing_free(&l);
	CHECK(backend_put(b, nm(name, "made/sub/f"), BACKEND_META, "x", 1) == 0);
	CHECK(holds(b, name, (const uint8_t *)"x", 1));
	clean(b, dir);
	backend_free(b);
}

/* ---------- list and fetch, files as mappings ---------- */

struct fetch_ctx {
	backend *b;
	int got, missing, mapped;
	size_t bytes;
};

static int fetch_want(void *ud, const backend_entry *e)
{
	struct fetch_ctx *c = ud;
	/* every file ending in 5 vanishes between listing and fetching */
	if (e->name[strlen(e->name) - 1] == '5')
		backend_remove(c->b, e->name);
	return e->name[strlen(e->name) - 1] != '9'; /* and 9 is not wanted */
}

static int fetch_got(void *ud, const char *name, int rc, bytes *b)
{
	struct fetch_ctx *c = ud;
	(void)name;
	if (rc == -ENOENT) {
		c->missing++;
		return 0;
	}
	if (rc < 0)
		return rc;
	c->got++;
	c->mapped += b->file_mapped;
	c->bytes += b->len;
	return 0;
}

TEST(fetch_dir_lists_then_fetches)
{
	backend *b = open_be();
	REQUIRE(b);
	char name[256], dir[256];
	uint8_t p[70000];
	test_fill(p, sizeof(p), 5);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 40; i++)
			REQUIRE(backend_put(b, nm(name, "fetch/%02d", i), BACKEND_META, p, 1000 + i) == 0);
		struct fetch_ctx c = { b, 0, 0, 0, 0 };
		unsigned flags = round ? BACKEND_FETCH_SKIP_MISSING | BACKEND_FETCH_MAPPED : 0;
		CHECK(backend_fetch_dir(b, nm(dir, "fetch"), BACKEND_META, flags, fetch_want, fetch_got, &c) == 0);
		CHECK(c.got == 32);
		CHECK(c.missing == (round ? 0 : 4));
		CHECK(c.mapped == (round ? 32 : (b->flags & BACKEND_RETURNS_MAPPINGS ? 32 : 0)));
		clean(b, dir);
	}
	backend_free(b);
}

TEST(get_mapped_maps_on_every_backend)
{
	backend *b = open_be();
	REQUIRE(b);
	char name[256];
	size_t n = (9u << 20) + 77; /* more than one copying step */
	uint8_t *p = malloc(n);
	REQUIRE(p);
	test_fill(p, n, 77);
	REQUIRE(backend_put(b, nm(name, "mapped/big"), BACKEND_META, p, n) == 0);
	bytes m = BYTES_INIT;
	CHECK(backend_get_mapped(b, name, BACKEND_META, &m) == 0);
	CHECK(m.file_mapped && m.len == n && memcmp(m.data, p, n) == 0);
	bytes_release(&m);
	CHECK(backend_put(b, name, BACKEND_META, p, 0) == 0);
	CHECK(backend_get_mapped(b, name, BACKEND_META, &m) == 0 && m.len == 0);
	bytes_release(&m);
	CHECK(backend_remove(b, name) == 0);
	free(p);
	backend_free(b);
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	const char *filter = NULL;
	snprintf(root, sizeof(root), "conformance-%ld", (long)getpid());
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
			filter = argv[++i];
			continue;
		}
	}
	int urls = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-t") == 0) {
			i++;
			continue;
		}
		url = argv[i];
		urls++;
		printf("== backend %s\n", url);
		harness_run(filter, &passed, &failed);
		/* nothing left behind */
		backend *b = open_be();
		listing l;
		if (!b || list_all(b, root, &l) < 0 || l.n) {
			printf("FAIL %s: files left below %s\n", url, root);
			failed++;
		}
		if (b)
			listing_free(&l);
		backend_free(b);
	}
	if (!urls) {
		fprintf(stderr, "usage: backend_conformance URL [URL...] [-t FILTER]\n");
		return 2;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
