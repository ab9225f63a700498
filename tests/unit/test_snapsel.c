/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Naming snapshots (jobs/snapsel.h), on snapshots in memory: the argument
 * syntax, the filter's restic semantics, latest, prefixes and the message
 * of an ambiguous one.
 */
#include "harness.h"

#include "../../src/base/err.h"
#include "../../src/base/strlist.h"
#include "../../src/jobs/snapsel.h"
#include "snapfix.h"

#include <unistd.h>

/* A snapshot with the id bytes given (test_snap derives them from the time). */
static snapshot *snap(int64_t t, uint8_t id0, uint8_t id1, const char *host, const char *paths,
		      const char *tags)
{
	snapshot *s = test_snap(t, host, paths, tags);
	s->id[0] = id0;
	s->id[1] = id1;
	return s;
}

TEST(snapsel_parse_splits_and_cleans_the_path)
{
	char *spec, *path;
	REQUIRE(snapsel_parse("latest", &spec, &path) == 0);
	CHECK(strcmp(spec, "latest") == 0 && path == NULL);
	free(spec);
	REQUIRE(snapsel_parse("AB12:etc//ssh/./x/../", &spec, &path) == 0);
	CHECK(strcmp(spec, "AB12") == 0 && strcmp(path, "/etc/ssh") == 0);
	free(spec);
	free(path);
	REQUIRE(snapsel_parse("latest:", &spec, &path) == 0);
	CHECK(strcmp(path, "/") == 0);
	free(spec);
	free(path);
	REQUIRE(snapsel_parse("latest:/../..", &spec, &path) == 0);
	CHECK(strcmp(path, "/") == 0); /* no way above the root */
	free(spec);
	free(path);
	CHECK(snapsel_parse("newest", &spec, &path) == -DV_EUSAGE);
	CHECK(snapsel_parse(":/etc", &spec, &path) == -DV_EUSAGE);
	CHECK(snapsel_parse("12g4", &spec, &path) == -DV_EUSAGE);
}

TEST(snapsel_filter_follows_restic)
{
	snapshot *a = snap(1, 0xaa, 0, "h1", "/a,/b", "x,y");
	snapshot *b = snap(2, 0xab, 0, "h2", "/a", "");
	snapsel_filter f = SNAPSEL_FILTER_INIT;
	CHECK(snapsel_filter_empty(&f) && snapsel_match(&f, a) && snapsel_match(NULL, a));
	REQUIRE(snapsel_filter_add(&f, SNAPSEL_OPT_HOST, "h2") == 0);
	REQUIRE(snapsel_filter_add(&f, SNAPSEL_OPT_HOST, "h1") == 0);
	CHECK(snapsel_match(&f, a) && snapsel_match(&f, b));
	REQUIRE(snapsel_filter_add(&f, SNAPSEL_OPT_PATH, "/b/") == 0);
	CHECK(strcmp(f.paths[0], "/b") == 0);
	CHECK(snapsel_match(&f, a) && !snapsel_match(&f, b));
	snapsel_filter_release(&f);
	/* --tag x,y needs both; two --tag values need either */
	REQUIRE(snapsel_filter_add(&f, SNAPSEL_OPT_TAG, "x,z") == 0);
	CHECK(!snapsel_match(&f, a));
	REQUIRE(snapsel_filter_add(&f, SNAPSEL_OPT_TAG, "y,x") == 0);
	CHECK(snapsel_match(&f, a) && !snapsel_match(&f, b));
	char text[128];
	snapsel_filter_text(&f, text, sizeof(text));
	CHECK(strcmp(text, "--tag x,z --tag y,x") == 0);
	snapsel_filter_release(&f);
	/* an empty --tag value asks for snapshots without tags (as restic's --tag '') */
	REQUIRE(snapsel_filter_add(&f, SNAPSEL_OPT_TAG, "") == 0);
	CHECK(!snapsel_match(&f, a) && snapsel_match(&f, b));
	snapsel_filter_release(&f);
	/* a relative --path is made absolute against the working directory */
	char cwd[4096];
	REQUIRE(getcwd(cwd, sizeof(cwd)) != NULL);
	REQUIRE(snapsel_filter_add(&f, SNAPSEL_OPT_PATH, "sub/../x") == 0);
	CHECK(strncmp(f.paths[0], cwd, strlen(cwd)) == 0 && strcmp(f.paths[0] + strlen(cwd), "/x") == 0);
	snapsel_filter_release(&f);
	snapshot_free(a);
	snapshot_free(b);
}

TEST(snapsel_pick_latest_prefixes_and_candidates)
{
	snapshot *v[] = {
		snap(100, 0xab, 0x01, "h1", "/a", ""),
		snap(200, 0xab, 0x02, "h2", "/a", ""),
		snap(300, 0xcd, 0x03, "h1", "/b", ""),
	};
	size_t i = 99;
	REQUIRE(snapsel_pick(v, 3, NULL, "latest", &i) == 0);
	CHECK(i == 2);
	snapsel_filter f = SNAPSEL_FILTER_INIT;
	REQUIRE(snapsel_filter_add(&f, SNAPSEL_OPT_PATH, "/a") == 0);
	REQUIRE(snapsel_pick(v, 3, &f, "latest", &i) == 0);
	CHECK(i == 1);
	CHECK(snapsel_pick(v, 3, NULL, "AB", &i) == -DV_EAMBIG);
	CHECK(strstr(err_msg(0), "'AB' is ambiguous: 2 snapshots match: ab010000 (") != NULL);
	CHECK(strstr(err_msg(0), "ab020000 (") != NULL && strstr(err_msg(0), "host h2)") != NULL);
	REQUIRE(snapsel_pick(v, 3, NULL, "ab02", &i) == 0);
	CHECK(i == 1);
	/* the filter narrows prefixes too: ab is unique among h1's snapshots */
	snapsel_filter_release(&f);
	REQUIRE(snapsel_filter_add(&f, SNAPSEL_OPT_HOST, "h1") == 0);
	REQUIRE(snapsel_pick(v, 3, &f, "ab", &i) == 0);
	CHECK(i == 0);
	CHECK(snapsel_pick(v, 3, &f, "ab02", &i) == -DV_ENOTFOUND);
	CHECK(strcmp(err_msg(0), "snapshot 'ab02' does not match --host h1") == 0);
	CHECK(snapsel_pick(v, 3, NULL, "ef", &i) == -DV_ENOTFOUND);
	CHECK(strcmp(err_msg(0), "no snapshot matches 'ef'") == 0);
	CHECK(snapsel_pick(v, 0, NULL, "latest", &i) == -DV_ENOTFOUND);
	CHECK(snapsel_pick(v, 3, NULL, "latest:/x", &i) == -DV_EUSAGE);
	snapsel_filter_release(&f);
	REQUIRE(snapsel_filter_add(&f, SNAPSEL_OPT_HOST, "h3") == 0);
	CHECK(snapsel_pick(v, 3, &f, "latest", &i) == -DV_ENOTFOUND);
	CHECK(strcmp(err_msg(0), "no snapshot matches --host h3") == 0);
	snapsel_filter_release(&f);
	for (size_t k = 0; k < 3; k++)
		snapshot_free(v[k]);
}

/* --snapshot (find, drill): id prefixes, any of them, checked as hex, combined with the rest */
TEST(snapsel_snapshot_ids_filter_by_prefix)
{
	snapshot *v[] = {
		snap(100, 0xab, 0x01, "h1", "/a", ""),
		snap(200, 0xab, 0x02, "h2", "/a", ""),
		snap(300, 0xcd, 0x03, "h1", "/b", ""),
	};
	snapsel_filter f = SNAPSEL_FILTER_INIT;
	CHECK(snapsel_filter_add(&f, SNAPSEL_OPT_SNAPSHOT, "xyz") == -DV_EUSAGE);
	CHECK(strstr(err_msg(0), "invalid --snapshot 'xyz'") != NULL);
	REQUIRE(snapsel_filter_add(&f, SNAPSEL_OPT_SNAPSHOT, "AB") == 0);
	CHECK(!snapsel_filter_empty(&f));
	CHECK(snapsel_match(&f, v[0]) && snapsel_match(&f, v[1]) && !snapsel_match(&f, v[2]));
	size_t i = 99;
	REQUIRE(snapsel_pick(v, 3, &f, "latest", &i) == 0);
	CHECK(i == 1);
	REQUIRE(snapsel_filter_add(&f, SNAPSEL_OPT_SNAPSHOT, "cd03") == 0);
	CHECK(snapsel_match(&f, v[2]));
	REQUIRE(snapsel_filter_add(&f, SNAPSEL_OPT_HOST, "h1") == 0);
	CHECK(snapsel_match(&f, v[0]) && !snapsel_match(&f, v[1]) && snapsel_match(&f, v[2]));
	char text[128];
	snapsel_filter_text(&f, text, sizeof(text));
	CHECK(strcmp(text, "--snapshot AB --snapshot cd03 --host h1") == 0);
	snapsel_filter_release(&f);
	CHECK(snapsel_filter_empty(&f));
	for (size_t k = 0; k < 3; k++)
		snapshot_free(v[k]);
}
