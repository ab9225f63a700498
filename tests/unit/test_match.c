/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Patterns (jobs/match.h) as restic users write them: anchored or at any
 * depth, directories only, "**", case, and what may lie below a directory.
 */
#include "harness.h"

#include "../../src/base/err.h"
#include "../../src/jobs/match.h"

static int m1(const char *pattern, const char *path, int is_dir)
{
	match_set m = MATCH_SET_INIT;
	int rc = match_add(&m, pattern, 0);
	int hit = rc == 0 && match_path(&m, path, strlen(path), is_dir);
	match_release(&m);
	return rc < 0 ? rc : hit;
}

static int below(const char *pattern, const char *dir)
{
	match_set m = MATCH_SET_INIT;
	int rc = match_add(&m, pattern, 0);
	int may = rc == 0 && match_below(&m, dir, strlen(dir));
	match_release(&m);
	return may;
}

TEST(match_anchored_and_at_any_depth)
{
	CHECK(m1("*.o", "/a/b/x.o", 0) == 1);
	CHECK(m1("*.o", "/x.o", 0) == 1);
	CHECK(m1("*.o", "/a/x.c", 0) == 0);
	CHECK(m1("data/src", "/home/u/data/src", 1) == 1);
	CHECK(m1("data/src", "/data/src", 1) == 1);
	CHECK(m1("data/src", "/home/data/src/x", 0) == 0); /* the walk stops at src */
	CHECK(m1("/data/src", "/home/data/src", 1) == 0);
	CHECK(m1("/home/*/x", "/home/u/x", 0) == 1);
	CHECK(m1("/home/*", "/home/u/x", 0) == 0); /* '*' stays within a component */
	CHECK(m1("./x", "/a/x", 0) == 1);
	CHECK(m1("a//b", "/q/a/b", 0) == 1);
}

TEST(match_trailing_slash_means_directories)
{
	CHECK(m1("src/", "/a/src", 1) == 1);
	CHECK(m1("src/", "/a/src", 0) == 0);
	CHECK(m1("/a/src/", "/a/src", 1) == 1);
}

TEST(match_double_star)
{
	CHECK(m1("/a/**/z", "/a/z", 0) == 1);
	CHECK(m1("/a/**/z", "/a/b/c/d/z", 0) == 1);
	CHECK(m1("/a/**/z", "/b/z", 0) == 0);
	CHECK(m1("**/build/**", "/x/build", 1) == 1);
	CHECK(m1("/a/**", "/a/q/r", 0) == 1);
	CHECK(m1("**", "/anything/at/all", 0) == 1);
	CHECK(m1("/**/**/**/x", "/1/2/3/4/5/6/7/8/9/x", 0) == 1);
}

TEST(match_case_and_errors)
{
	match_set m = MATCH_SET_INIT;
	REQUIRE(match_add(&m, "*.TMP", MATCH_ICASE) == 0);
	CHECK(match_path(&m, "/a/b.tmp", 8, 0) == 1);
	match_release(&m);
	CHECK(m1("*.TMP", "/a/b.tmp", 0) == 0);
	CHECK(m1("", "/a", 0) == -DV_EUSAGE);
	CHECK(m1("/", "/a", 0) == -DV_EUSAGE);
	CHECK(m1("//./", "/a", 0) == -DV_EUSAGE);
	char deep[2 * (MATCH_MAX_COMPONENTS + 1) + 1];
	for (size_t i = 0; i < MATCH_MAX_COMPONENTS + 1; i++)
		memcpy(deep + 2 * i, "/a", 2);
	deep[sizeof(deep) - 1] = 0;
	CHECK(m1(deep, "/a", 0) == -E2BIG);
}

TEST(match_below_tells_where_to_descend)
{
	CHECK(below("/srv/data/docs", "/srv") == 1);
	CHECK(below("/srv/data/docs", "/srv/data") == 1);
	CHECK(below("/srv/data/docs", "/etc") == 0);
	CHECK(below("/srv/data/docs", "/srv/data/docs") == 0); /* it matches itself: restored whole */
	CHECK(below("/srv/*/docs", "/srv/x") == 1);
	CHECK(below("docs", "/anywhere") == 1);
	CHECK(below("/a/**/z", "/a/b/c") == 1);
	CHECK(below("/a/b", "/") == 1);
}

TEST(match_remembers_unused_patterns)
{
	match_set m = MATCH_SET_INIT;
	REQUIRE(match_add(&m, "*.c", 0) == 0);
	REQUIRE(match_add(&m, "nothing", 0) == 0);
	CHECK(strcmp(match_unused(&m), "*.c") == 0);
	CHECK(match_path(&m, "/x/y.c", 6, 0) == 1);
	CHECK(strcmp(match_unused(&m), "nothing") == 0);
	match_release(&m);
}
