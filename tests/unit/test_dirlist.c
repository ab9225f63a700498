/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Directory listings of the backup walk (jobs/dirlist.h): getdents64 over
 * several buffers, statx giving what fstatat gives (the trees of an
 * unchanged tree must not change), and the read-ahead thread's listings
 * equal to the walk's own, or none when the directory is not the one
 * expected.
 */
#include "harness.h"

#include "../../src/jobs/dirlist.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void mkdir_tmp(void)
{
	strcpy(dir, "/tmp/dv-dirlist-XXXXXX");
	if (!mkdtemp(dir))
		abort();
}

static void rm_tmp(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "  could not remove %s\n", dir);
}

static void touch(int dfd, const char *name, const char *data)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		abort();
	close(fd);
}

/* What fstatat says, in every field a tree node records or the walk compares. */
static int same_as_fstatat(int dfd, const dirlist_entry *e)
{
	struct stat st;
	if (fstatat(dfd, e->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return e->rc == -errno;
	const struct stat *x = &e->st;
	return e->rc == 0 && x->st_dev == st.st_dev && x->st_ino == st.st_ino && x->st_mode == st.st_mode &&
	       x->st_nlink == st.st_nlink && x->st_uid == st.st_uid && x->st_gid == st.st_gid &&
	       x->st_rdev == st.st_rdev && x->st_size == st.st_size &&
	       x->st_mtim.tv_sec == st.st_mtim.tv_sec && x->st_mtim.tv_nsec == st.st_mtim.tv_nsec &&
	       x->st_ctim.tv_sec == st.st_ctim.tv_sec && x->st_ctim.tv_nsec == st.st_ctim.tv_nsec;
}

TEST(dirlist_sorted_entries_with_what_fstatat_says)
{
	mkdir_tmp();
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	REQUIRE(dfd >= 0);
	/* long names: more than one getdents64 buffer of them */
	char name[200];
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "%0150d-%d", 2000 - i, i);
		touch(dfd, name, i % 3 ? "x" : "");
	}
	touch(dfd, "file", "contents\n");
	CHECK(mkdirat(dfd, "sub", 0750) == 0);
	CHECK(symlinkat("file", dfd, "link") == 0);
	CHECK(symlinkat("nowhere", dfd, "dangling") == 0);
	CHECK(linkat(dfd, "file", dfd, "hard", 0) == 0);
	CHECK(mkfifoat(dfd, "fifo", 0600) == 0);
	dirlist l = DIRLIST_INIT;
	REQUIRE(dirlist_names(dfd, &l) == 0);
	CHECK(l.n == 2006);
	for (size_t i = 1; i < l.n; i++)
		CHECK(strcmp(l.e[i - 1].name, l.e[i].name) < 0);
	dirlist_stat(dfd, &l);
	size_t same = 0;
	for (size_t i = 0; i < l.n; i++)
		same += same_as_fstatat(dfd, &l.e[i]);
	CHECK(same == l.n);
	dirlist_release(&l);
	/* a name gone between the listing and its stat */
	REQUIRE(dirlist_names(dfd, &l) == 0);
	CHECK(unlinkat(dfd, "fifo", 0) == 0);
	dirlist_stat(dfd, &l);
	size_t gone = 0;
	for (size_t i = 0; i < l.n; i++)
		gone += strcmp(l.e[i].name, "fifo") == 0 && l.e[i].rc == -ENOENT;
	CHECK(gone == 1);
	/* keeping only some */
	unsigned char *keep = calloc(l.n, 1);
	REQUIRE(keep);
	keep[0] = keep[l.n - 1] = 1;
	char *last = strdup(l.e[l.n - 1].name);
	dirlist_keep(&l, keep);
	CHECK(l.n == 2 && last && strcmp(l.e[1].name, last) == 0);
	free(last);
	free(keep);
	dirlist_release(&l);
	close(dfd);
	rm_tmp();
}

static int same_listing(const dirlist *a, const dirlist *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->e[i].name, b->e[i].name) || a->e[i].rc != b->e[i].rc ||
		    a->e[i].st.st_ino != b->e[i].st.st_ino || a->e[i].st.st_size != b->e[i].st.st_size)
			return 0;
	return 1;
}

TEST(dirlist_ahead_lists_what_the_walk_would)
{
	mkdir_tmp();
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	REQUIRE(dfd >= 0);
	char name[32];
	struct stat st[8];
	for (int d = 0; d < 8; d++) {
		snprintf(name, sizeof(name), "d%d", d);
		REQUIRE(mkdirat(dfd, name, 0700) == 0);
		int sfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		REQUIRE(sfd >= 0);
		for (int i = 0; i < 10 * d; i++) {
			snprintf(name, sizeof(name), "f%d", i);
			touch(sfd, name, "data");
		}
		close(sfd);
		snprintf(name, sizeof(name), "d%d", d);
		REQUIRE(fstatat(dfd, name, &st[d], AT_SYMLINK_NOFOLLOW) == 0);
	}
	dirlist_ahead *a = NULL;
	REQUIRE(dirlist_ahead_new(&a, 1000, 16) == 0);
	dirlist_batch *b = NULL;
	REQUIRE(dirlist_ahead_begin(a, dfd, &b) == 0 && b);
	dirlist_req *r[8];
	for (int d = 0; d < 8; d++) {
		snprintf(name, sizeof(name), "d%d", d);
		/* d5 is asked for as if it were d4: not the directory expected */
		CHECK(dirlist_ahead_add(b, name, &st[d == 5 ? 4 : d], &r[d]) == 0 && r[d]);
	}
	dirlist_ahead_end(b);
	close(dfd); /* the batch holds a duplicate of its own */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	REQUIRE(dfd >= 0);
	dirlist_ahead_drop(r[7]); /* a directory the walk does not enter */
	int taken = 0, own = 0;
	for (int d = 0; d < 7; d++) {
		dirlist got = DIRLIST_INIT, want = DIRLIST_INIT;
		snprintf(name, sizeof(name), "d%d", d);
		int sfd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		REQUIRE(sfd >= 0);
		REQUIRE(dirlist_names(sfd, &want) == 0);
		dirlist_stat(sfd, &want);
		if (dirlist_ahead_take(r[d], &got) == 1) {
			taken++;
			CHECK(d != 5);
			CHECK(same_listing(&got, &want));
			CHECK(got.n == (size_t)(10 * d));
		} else {
			own++;
		}
		dirlist_release(&got);
		dirlist_release(&want);
		close(sfd);
	}
	/* the thread may not have got to all of them, but never to d5 */
	CHECK(taken + own == 7 && own >= 1);
	dirlist_ahead_free(a);
	close(dfd);
	rm_tmp();
}

TEST(dirlist_ahead_without_budget_or_descriptors_queues_nothing)
{
	dirlist_ahead *a = NULL;
	/* too few descriptors to spare: no thread, the walk lists everything */
	CHECK(dirlist_ahead_new(&a, 100, 1) == -EMFILE && a == NULL);
	REQUIRE(dirlist_ahead_new(&a, 0, 16) == 0);
	int dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	REQUIRE(dfd >= 0);
	dirlist_batch *b = (dirlist_batch *)&b;
	CHECK(dirlist_ahead_begin(a, dfd, &b) == 0 && b == NULL);
	dirlist_req *r = (dirlist_req *)&r;
	struct stat st;
	REQUIRE(fstat(dfd, &st) == 0);
	CHECK(dirlist_ahead_add(NULL, "tmp", &st, &r) == 0 && r == NULL);
	dirlist_ahead_end(NULL);
	dirlist_ahead_drop(NULL);
	close(dfd);
	dirlist_ahead_free(a);
}
