/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Cache directories (backend/cachedir.h): the age rule of --cleanup, the
 * tag that marks, locks and dates a cache, and what removal refuses.
 * The lock of "another process" is taken here on a second descriptor of
 * the tag: flock(2) locks belong to the open file, so that is the same.
 */
#include "harness.h"

#include "backend/cachedir.h"
#include "base/err.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY 86400

TEST(age_rule_is_more_than_max_age_days)
{
	int64_t now = 1800000000;
	CHECK(!cachedir_is_old(now, now, 30));
	CHECK(!cachedir_is_old(now - 30 * DAY, now, 30)); /* exactly 30 days: not more */
	CHECK(cachedir_is_old(now - 30 * DAY - 1, now, 30));
	CHECK(cachedir_is_old(now - 1, now, 0));
	CHECK(!cachedir_is_old(now + 5 * DAY, now, 0)); /* dated in the future: not old */
	CHECK(!cachedir_is_old(now - 99 * 365 * (int64_t)DAY, now, UINT32_MAX)); /* capped, no overflow */
	CHECK(cachedir_is_old(INT64_MIN, now, CACHEDIR_MAX_AGE_DAYS));
}

static char root[64];

static void make_root(void)
{
	snprintf(root, sizeof(root), "/tmp/dvalin-unit-cachedir-XXXXXX");
	if (!mkdtemp(root))
		abort();
}

static void drop_root(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		abort();
}

/* Opens root/name as a cache of location and writes a file below it: the lock descriptor. */
static int use_cache(const char *name, const char *location)
{
	char dir[128], file[160];
	snprintf(dir, sizeof(dir), "%s/%s", root, name);
	int dfd, lk;
	if (cachedir_open(dir, location, &dfd, &lk) < 0)
		return -1;
	snprintf(file, sizeof(file), "%s/index", dir);
	mkdir(file, 0700);
	snprintf(file, sizeof(file), "%s/index/abc", dir);
	FILE *f = fopen(file, "w");
	if (f) {
		fputs("0123456789", f);
		fclose(f);
	}
	close(dfd);
	return lk;
}

static int exists(const char *name)
{
	char p[128];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", root, name);
	return lstat(p, &st) == 0;
}

TEST(open_tags_and_list_reads_location_size_and_use)
{
	make_root();
	int lk = use_cache("aa11", "https://h:1/r\n1");
	CHECK(lk >= 0);
	cachedir_list l;
	CHECK(cachedir_list_read(&l, root, 1) == 0);
	CHECK(l.n == 1 && l.others == 0 && l.untagged == 0);
	CHECK(strcmp(l.v[0].id, "aa11") == 0);
	CHECK(l.v[0].location && strcmp(l.v[0].location, "https://h:1/r?1") == 0); /* no line break */
	CHECK(l.v[0].sized && l.v[0].size > 10); /* the file and the tag */
	CHECK(l.v[0].in_use == 1);
	cachedir_list_release(&l);
	cachedir_close(-1, lk);
	CHECK(cachedir_list_read(&l, root, 0) == 0);
	CHECK(l.n == 1 && !l.v[0].in_use && !l.v[0].sized);
	cachedir_list_release(&l);
	/* a second open for another location rewrites the tag in place */
	lk = use_cache("aa11", "s3://b/p");
	cachedir_close(-1, lk);
	CHECK(cachedir_list_read(&l, root, 0) == 0);
	CHECK(l.n == 1 && strcmp(l.v[0].location, "s3://b/p") == 0);
	cachedir_list_release(&l);
	drop_root();
}

TEST(a_missing_root_lists_nothing)
{
	cachedir_list l;
	CHECK(cachedir_list_read(&l, "/tmp/dvalin-unit-cachedir-none/x", 1) == 0);
	CHECK(l.n == 0 && l.others == 0);
	CHECK(cachedir_remove("/tmp/dvalin-unit-cachedir-none/x", "ab") == -DV_ENOTFOUND);
	err_clear();
}

TEST(removal_keeps_a_cache_in_use_and_removes_it_after)
{
	make_root();
	int lk = use_cache("bb22", "https://h/r");
	CHECK(cachedir_remove(root, "bb22") == -EBUSY);
	CHECK(strstr(err_msg(-EBUSY), "in use") != NULL);
	err_clear();
	CHECK(exists("bb22/index/abc"));
	cachedir_close(-1, lk);
	CHECK(cachedir_remove(root, "bb22") == 0);
	CHECK(!exists("bb22"));
	CHECK(cachedir_remove(root, "bb22") == -DV_ENOTFOUND);
	err_clear();
	drop_root();
}

TEST(removal_refuses_what_is_not_a_dvalin_cache)
{
	make_root();
	char p[160];
	/* a directory named like a repository id, without the tag */
	const char *id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	snprintf(p, sizeof(p), "%s/%s", root, id);
	CHECK(mkdir(p, 0700) == 0);
	/* a directory with someone else's CACHEDIR.TAG */
	snprintf(p, sizeof(p), "%s/other", root);
	CHECK(mkdir(p, 0700) == 0);
	snprintf(p, sizeof(p), "%s/other/CACHEDIR.TAG", root);
	FILE *f = fopen(p, "w");
	CHECK(f != NULL);
	fputs("Signature: 8a477f597d28d172789f06886806bc55\n# some other tool\n", f);
	fclose(f);
	/* a symlink to a real dvalin cache outside the root */
	char outside[96];
	snprintf(outside, sizeof(outside), "%s-outside", root);
	int dfd, lk;
	CHECK(cachedir_open(outside, "https://h/x", &dfd, &lk) == 0);
	cachedir_close(dfd, lk);
	snprintf(p, sizeof(p), "%s/link", root);
	CHECK(symlink(outside, p) == 0);
	CHECK(cachedir_remove(root, id) == -DV_EFORMAT);
	CHECK(cachedir_remove(root, "other") == -DV_EFORMAT);
	CHECK(cachedir_remove(root, "link") == -DV_EFORMAT);
	CHECK(strstr(err_msg(-DV_EFORMAT), "symbolic link") != NULL);
	CHECK(cachedir_remove(root, "../x") == -DV_EUSAGE);
	CHECK(cachedir_remove(root, ".hidden") == -DV_EUSAGE);
	err_clear();
	CHECK(exists(id) && exists("other/CACHEDIR.TAG") && exists("link"));
	snprintf(p, sizeof(p), "%s/CACHEDIR.TAG", outside);
	struct stat st;
	CHECK(stat(p, &st) == 0); /* the link's target untouched */
	cachedir_list l;
	CHECK(cachedir_list_read(&l, root, 1) == 0);
	CHECK(l.n == 0 && l.untagged == 1 && l.others == 2);
	cachedir_list_release(&l);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", outside);
	CHECK(system(cmd) == 0);
	drop_root();
}

struct opener {
	char dir[128];
	int dfd, lk, rc;
};

static void *open_cache_thread(void *ud)
{
	struct opener *o = ud;
	o->rc = cachedir_open(o->dir, "https://h/r", &o->dfd, &o->lk);
	return NULL;
}

TEST(an_open_during_a_removal_ends_with_a_fresh_cache)
{
	make_root();
	int lk = use_cache("cc33", "https://h/r");
	cachedir_close(-1, lk);
	struct opener o = { .dfd = -1, .lk = -1 };
	snprintf(o.dir, sizeof(o.dir), "%s/cc33", root);
	/* a removal holds the tag exclusively while the opener starts: the
	 * opener meets the old tag (and waits) or none (and makes one); either
	 * way it must end with the directory that is there afterwards */
	char tag[160], file[160];
	snprintf(tag, sizeof(tag), "%s/CACHEDIR.TAG", o.dir);
	snprintf(file, sizeof(file), "%s/index/abc", o.dir);
	int t = open(tag, O_RDONLY);
	REQUIRE(t >= 0 && flock(t, LOCK_EX) == 0);
	pthread_t th;
	REQUIRE(pthread_create(&th, NULL, open_cache_thread, &o) == 0);
	unlink(file);
	snprintf(file, sizeof(file), "%s/index", o.dir);
	rmdir(file);
	unlink(tag);
	rmdir(o.dir); /* fails if the opener already made a new tag in it: then it stays */
	close(t);
	pthread_join(th, NULL);
	CHECK(o.rc == 0 && o.lk >= 0);
	struct stat a, b, c;
	CHECK(fstat(o.dfd, &a) == 0 && stat(o.dir, &b) == 0 && a.st_ino == b.st_ino);
	CHECK(fstat(o.lk, &c) == 0 && c.st_nlink == 1);
	CHECK(cachedir_remove(root, "cc33") == -EBUSY); /* and holds it */
	err_clear();
	cachedir_close(o.dfd, o.lk);
	drop_root();
}

