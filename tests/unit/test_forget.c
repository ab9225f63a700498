/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Retention: a count of 0 is no rule, the reasons of removals, periods
 * that do not follow the order of time (several time zones), and the
 * plan of the forget job (grouping by sets, the safety checks) on
 * snapshots in memory.  The worked example is in test_maintenance.c.
 */
#include "harness.h"

#include "../../src/base/err.h"
#include "../../src/base/strlist.h"
#include "../../src/jobs/forget.h"
#include "snapfix.h"

#include <time.h>

TEST(forget_zero_is_no_rule)
{
	forget_policy p;
	forget_policy_init(&p);
	CHECK(forget_policy_is_empty(&p));
	p.keep[0] = 0;
	p.within_s = 0;
	CHECK(forget_policy_is_empty(&p));
	forget_item it[2];
	memset(it, 0, sizeof(it));
	it[0].time = test_utc(2026, 1, 2, 0);
	it[1].time = test_utc(2026, 1, 1, 0);
	p.keep[2] = 1; /* daily 1 beside last 0 and within 0 */
	CHECK(!forget_policy_is_empty(&p));
	REQUIRE(forget_apply(it, 2, &p, it[0].time) == 0);
	CHECK(it[0].rule == RULE_DAILY && it[1].rule == RULE_NONE);
	CHECK(it[1].superseded_rule == 0); /* not kept by any rule: daily has its one day */
}

TEST(forget_older_snapshots_of_a_kept_period_say_by_whom)
{
	/*
	 * Periods need not follow time across time zones: newest first, the
	 * days are 11-22 (22:00 at UTC-2), 11-23 (01:00 at UTC+5), 11-22
	 * (10:00 UTC).  With daily 1 the first is kept; the third, of the same
	 * day, is removed as superseded by it, although a newer day came
	 * between them (a scan that stopped at the second would miss that).
	 */
	forget_item it[3];
	memset(it, 0, sizeof(it));
	it[0].time = test_utc(2026, 11, 23, 0);
	it[0].tz_offset = -7200;
	it[1].time = test_utc(2026, 11, 22, 20);
	it[1].tz_offset = 5 * 3600;
	it[2].time = test_utc(2026, 11, 22, 10);
	forget_policy p;
	forget_policy_init(&p);
	p.keep[2] = 1;
	REQUIRE(forget_apply(it, 3, &p, it[0].time) == 0);
	CHECK(it[0].rule == RULE_DAILY && it[0].rank == 1);
	CHECK(it[1].rule == RULE_NONE && it[1].superseded_rule == 0);
	CHECK(it[2].rule == RULE_NONE && it[2].superseded_rule == RULE_DAILY && it[2].superseded_by == 0);
	char label[32];
	forget_period_label(&it[2], RULE_DAILY, label);
	CHECK(strcmp(label, "2026-11-22") == 0);
	forget_period_label(&it[1], RULE_WEEKLY, label);
	CHECK(strcmp(label, "2026-W48") == 0);
	forget_period_label(&it[1], RULE_HOURLY, label);
	CHECK(strcmp(label, "2026-11-23 01:00") == 0);
}

TEST(forget_times_without_a_calendar_date_are_their_own_period)
{
	forget_item it[3];
	memset(it, 0, sizeof(it));
	it[0].time = INT64_MAX; /* a forged snapshot: time + offset overflows */
	it[0].tz_offset = 3600;
	it[1].time = INT64_MAX - 1;
	it[2].time = test_utc(2026, 1, 1, 0);
	forget_policy p;
	forget_policy_init(&p);
	p.keep[5] = 2; /* yearly */
	REQUIRE(forget_apply(it, 3, &p, 0) == 0);
	CHECK(it[0].rule == RULE_YEARLY && it[1].rule == RULE_YEARLY && it[2].rule == RULE_NONE);
}

/* ---------- the plan ---------- */


static void plan(forget_result *res, snapshot **v, size_t n, const forget_opts *o)
{
	memset(res, 0, sizeof(*res));
	res->prot = (idmap)IDMAP_INIT;
	res->snaps = calloc(n, sizeof(*res->snaps));
	memcpy(res->snaps, v, n * sizeof(*v));
	res->nsnaps = n;
	CHECK(forget_plan(res, o) == 0);
}

TEST(forget_groups_paths_and_tags_as_sets)
{
	snapshot *v[] = {
		test_snap(1000, "h", "/a,/b", "x,y"), test_snap(2000, "h", "/b,/a", "y,x"),
		test_snap(3000, "h", "/a", "x"),       test_snap(4000, "g", "/a", "x"),
	};
	forget_opts o;
	memset(&o, 0, sizeof(o));
	forget_policy_init(&o.pol);
	o.pol.keep[0] = 1;
	o.group_by = FORGET_GROUP_HOST | FORGET_GROUP_PATHS | FORGET_GROUP_TAGS;
	forget_result res;
	plan(&res, v, 4, &o);
	REQUIRE(res.ngroups == 3);
	size_t sizes[3] = { res.groups[0].n, res.groups[1].n, res.groups[2].n };
	CHECK(sizes[0] + sizes[1] + sizes[2] == 4);
	const forget_group *two = NULL;
	for (size_t k = 0; k < 3; k++)
		if (res.groups[k].n == 2)
			two = &res.groups[k];
	REQUIRE(two);
	CHECK(two->npaths == 2 && strcmp(two->paths[0], "/a") == 0 && strcmp(two->paths[1], "/b") == 0);
	CHECK(two->ntags == 2 && strcmp(two->tags[0], "x") == 0);
	CHECK(two->v[0].s->time == 2000 && two->v[0].it.rule == RULE_LAST);
	CHECK(two->v[1].it.rule == RULE_NONE && res.removals == 1);
	char why[256];
	forget_reason(&two->v[1], why, sizeof(why));
	CHECK(strcmp(why, "not kept by any rule") == 0);
	forget_reason(&two->v[0], why, sizeof(why));
	CHECK(strcmp(why, "last #1") == 0);
	forget_result_release(&res);
	/* --host: only that host's snapshots are decided */
	snapsel_filter f = SNAPSEL_FILTER_INIT;
	REQUIRE(snapsel_filter_add(&f, SNAPSEL_OPT_HOST, "g") == 0);
	o.filter = &f;
	o.group_by = 0;
	snapshot *w[] = { test_snap(1000, "h", "/a", ""), test_snap(4000, "g", "/a", "") };
	plan(&res, w, 2, &o);
	CHECK(res.ngroups == 1 && res.ndecisions == 1 && res.decisions[0].s->time == 4000);
	forget_result_release(&res);
	snapsel_filter_release(&f);
}
