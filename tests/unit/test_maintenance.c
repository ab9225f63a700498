/* SPDX-License-Identifier: BSD-2-Clause */
/* Retention policy, condemned-pack records, leases and the mark walk. */
#include "harness.h"

#include "../../src/backend/backend.h"
#include "../../src/jobs/forget.h"
#include "../../src/repo/gcrec.h"
#include "../../src/repo/lease.h"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The worked example of dvalin(1). */
TEST(forget_worked_example)
{
	int64_t t[] = { test_utc(2026, 11, 23, 10), test_utc(2026, 11, 23, 8), test_utc(2026, 11, 22, 20),
			test_utc(2026, 11, 21, 12), test_utc(2026, 11, 16, 9), test_utc(2026, 11, 15, 9),
			test_utc(2026, 11, 8, 9), test_utc(2026, 10, 31, 9), test_utc(2026, 10, 15, 9),
			test_utc(2026, 9, 30, 9), test_utc(2025, 12, 31, 9) };
	int want_rule[] = { RULE_LAST, RULE_LAST, RULE_DAILY, RULE_DAILY, RULE_NONE,
			    RULE_WEEKLY, RULE_WEEKLY, RULE_MONTHLY, RULE_NONE, RULE_MONTHLY,
			    RULE_YEARLY };
	int want_rank[] = { 1, 2, 1, 2, 0, 1, 2, 1, 0, 2, 1 };
	forget_item it[11];
	memset(it, 0, sizeof(it));
	for (int i = 0; i < 11; i++)
		it[i].time = t[i];
	forget_policy p;
	forget_policy_init(&p);
	for (int k = 0; k < 5; k++)
		p.keep[k == 0 ? 0 : k + 1] = 2; /* last, daily, weekly, monthly, yearly */
	REQUIRE(forget_apply(it, 11, &p, t[0]) == 0);
	for (int i = 0; i < 11; i++) {
		CHECK(it[i].rule == want_rule[i]);
		CHECK(it[i].rank == want_rank[i]);
	}
}

TEST(forget_periods_use_the_recorded_time_zone)
{
	/* 23:30 UTC on Sunday is Monday 00:30 at UTC+1: another day and ISO week */
	forget_item it[2];
	memset(it, 0, sizeof(it));
	it[0].time = test_utc(2026, 11, 22, 23) + 1800;
	it[0].tz_offset = 3600;
	it[1].time = test_utc(2026, 11, 22, 20);
	it[1].tz_offset = 3600;
	forget_policy p;
	forget_policy_init(&p);
	p.keep[3] = 5; /* weekly */
	REQUIRE(forget_apply(it, 2, &p, it[0].time) == 0);
	CHECK(it[0].rule == RULE_WEEKLY && it[1].rule == RULE_WEEKLY);
	it[0].tz_offset = 0;
	REQUIRE(forget_apply(it, 2, &p, it[0].time) == 0);
	CHECK(it[0].rule == RULE_WEEKLY && it[1].rule == RULE_NONE);
}

TEST(forget_protected_and_within_count_as_covering)
{
	forget_item it[3];
	memset(it, 0, sizeof(it));
	it[0].time = test_utc(2026, 1, 3, 12);
	it[1].time = test_utc(2026, 1, 3, 10);
	it[1].is_protected = 1;
	it[2].time = test_utc(2026, 1, 2, 10);
	forget_policy p;
	forget_policy_init(&p);
	p.keep[2] = 1; /* daily 1: the newest day holds a protected one already */
	REQUIRE(forget_apply(it, 3, &p, it[0].time) == 0);
	CHECK(it[1].rule == RULE_PROTECTED);
	CHECK(it[0].rule == RULE_NONE);
	CHECK(it[2].rule == RULE_DAILY && it[2].rank == 1);
	p.keep[2] = -1;
	p.within_s = 86400;
	REQUIRE(forget_apply(it, 3, &p, it[0].time) == 0);
	CHECK(it[0].rule == RULE_WITHIN && it[2].rule == RULE_NONE);
}

TEST(forget_durations)
{
	int64_t s;
	CHECK(forget_parse_duration("30d", &s) == 0 && s == 30 * 86400);
	CHECK(forget_parse_duration("1y6m", &s) == 0 && s == 365 * 86400 + 6 * 31 * 86400);
	CHECK(forget_parse_duration("12h", &s) == 0 && s == 12 * 3600);
	CHECK(forget_parse_duration("", &s) < 0);
	CHECK(forget_parse_duration("5", &s) < 0);
	CHECK(forget_parse_duration("d", &s) < 0);
	CHECK(forget_parse_duration("-3d", &s) < 0);
	CHECK(forget_parse_duration("3q", &s) < 0);
}

TEST(gc_record_round_trip_and_damage)
{
	uint8_t packs[3][32];
	for (int i = 0; i < 3; i++)
		memset(packs[i], i + 1, 32);
	gc_record r = { "gc/x", 1234567890123LL, packs, 3 }, d;
	buf b = BUF_INIT;
	REQUIRE(gc_record_encode(&b, &r) == 0);
	memset(&d, 0, sizeof(d));
	REQUIRE(gc_record_decode(&d, b.data, b.len) == 0);
	CHECK(d.time_ns == r.time_ns && d.npacks == 3 && memcmp(d.packs, packs, 96) == 0);
	free(d.packs);
	for (size_t i = 0; i < b.len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			b.data[i] ^= (uint8_t)(1u << bit);
			memset(&d, 0, sizeof(d));
			int rc = gc_record_decode(&d, b.data, b.len);
			CHECK(rc < 0);
			if (rc == 0)
				free(d.packs);
			b.data[i] ^= (uint8_t)(1u << bit);
		}
	}
	for (size_t n = 0; n < b.len; n++)
		CHECK(gc_record_decode(&d, b.data, n) < 0);
	buf_release(&b);
}

TEST(lease_codec)
{
	lease_info i = { "locks/ab", "backup", "host-1", 4242, 111, 222, 0 }, o;
	char text[512];
	int n = lease_format(text, sizeof(text), &i);
	REQUIRE(n > 0);
	memset(&o, 0, sizeof(o));
	REQUIRE(lease_parse(&o, text, (size_t)n) == 0);
	CHECK(strcmp(o.kind, "backup") == 0 && strcmp(o.host, "host-1") == 0);
	CHECK(o.pid == 4242 && o.start_ns == 111 && o.refresh_ns == 222);
	for (int k = 1; k < n; k++)
		CHECK(lease_parse(&o, text, (size_t)k) < 0);
	CHECK(lease_parse(&o, "dvalin-lease 2\n", 15) < 0);
	CHECK(lease_parse(&o, "dvalin-lease 1\nkind x\nhost h\npid 0\nstart 1\nrefresh 1\n", 52) < 0);
}

TEST(lease_staleness)
{
	lease_info i;
	memset(&i, 0, sizeof(i));
	snprintf(i.kind, sizeof(i.kind), "backup");
	gethostname(i.host, sizeof(i.host) - 1);
	i.pid = getpid();
	int64_t now = lease_now_ns();
	i.start_ns = i.refresh_ns = now;
	CHECK(!lease_is_stale(&i, now));
	i.refresh_ns = now - lease_expiry_ns() - lease_skew_ns() - 1;
	i.start_ns = i.refresh_ns - 1;
	CHECK(lease_is_stale(&i, now)); /* not refreshed for too long */
	i.start_ns = now;
	CHECK(!lease_is_stale(&i, now)); /* refreshed before it started: untrusted, live */
	i.refresh_ns = now;
	snprintf(i.host, sizeof(i.host), "some-other-host");
	i.pid = 999999999;
	CHECK(!lease_is_stale(&i, now)); /* a pid elsewhere proves nothing */
	i.damaged = 1;
	i.refresh_ns = 0;
	CHECK(!lease_is_stale(&i, now)); /* unreadable: assume live */
}

/*
 * A process stopped (SIGSTOP, a suspended laptop) for longer than half
 * its lease expiry has lost its lease for good, even once its refresher
 * has woken up: that thread must not rewrite the file and so make the
 * lease look confirmed (docs/concurrency.md, "A prune that stalls").  The
 * child takes a prune's lease (expiry 3 s), is stopped for 2 s, and
 * confirms right after it resumes and again once the refresher has had
 * its turn; both fail, and the file keeps its refresh time from before.
 */
TEST(a_lease_stopped_past_half_its_expiry_stays_lost)
{
	int ready[2], go[2];
	REQUIRE(pipe(ready) == 0 && pipe(go) == 0);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		setenv("DVALIN_LEASE_EXPIRY", "3", 1);
		backend *be;
		lease *l;
		char c;
		if (backend_open("mem:", 0, &be) < 0 || lease_take(&l, be, "prune", 1) < 0)
			_exit(10);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(11);
		int64_t resumed = lease_now_ns();
		int first = lease_confirm_exclusive(l);
		struct timespec ts = { 1, 0 }; /* the refresher's turn (every 0.5 s) */
		nanosleep(&ts, NULL);
		int second = lease_confirm(l);
		lease_info *v;
		size_t n;
		int rewritten = lease_list(be, &v, &n) < 0 || n != 1 ||
				v[0].refresh_ns > resumed - 1000000000;
		_exit(first != -ESTALE ? 1 : second != -ESTALE ? 2 : rewritten ? 3 : 0);
	}
	char c;
	REQUIRE(read(ready[0], &c, 1) == 1);
	REQUIRE(kill(pid, SIGSTOP) == 0);
	struct timespec stall = { 2, 0 }; /* the stall under test, more than expiry/2 */
	nanosleep(&stall, NULL);
	REQUIRE(kill(pid, SIGCONT) == 0);
	REQUIRE(write(go[1], "g", 1) == 1);
	int st;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fprintf(stderr, "  child: status %d\n", st);
	close(ready[0]), close(ready[1]), close(go[0]), close(go[1]);
}

TEST(lease_take_excludes_a_second_prune_but_not_backups)
{
	backend *be;
	REQUIRE(backend_open("mem:", 0, &be) == 0);
	lease *a, *b, *c;
	REQUIRE(lease_take(&a, be, "prune", 1) == 0);
	CHECK(lease_take(&b, be, "prune", 1) == -EBUSY);
	REQUIRE(lease_take(&c, be, "backup", 0) == 0);
	CHECK(lease_confirm(c) == 0);
	lease_info *v;
	size_t n;
	REQUIRE(lease_list(be, &v, &n) == 0);
	CHECK(n == 2);
	free(v);
	lease_drop(a);
	REQUIRE(lease_take(&b, be, "repair", 1) == 0);
	lease_drop(b);
	lease_drop(c);
	REQUIRE(lease_list(be, &v, &n) == 0);
	CHECK(n == 0);
	free(v);
	backend_free(be);
}
