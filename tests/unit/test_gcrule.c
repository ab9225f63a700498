/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The lease/gc deletion rule (repo/gcrule.h) and the commit check
 * (repo/relied.h): arithmetic at the edges, the lease parser's refusals,
 * and property tests against a slow model written from the prose of
 * docs/concurrency.md with 128-bit integers, so that nothing in it can
 * overflow or saturate.
 *
 * The property tests run DVALIN_PROPTEST_CASES random cases (default
 * 20000) from DVALIN_PROPTEST_SEED (default fixed); a failure prints the
 * seed and case number that reproduce it.
 */
#include "harness.h"
#include "../../src/backend/backend.h"
#include "../../src/base/checked.h"
#include "../../src/base/err.h"
#include "../../src/repo/gcrec.h"
#include "../../src/repo/gcrule.h"
#include "../../src/repo/lease.h"
#include "../../src/repo/pack.h"
#include "../../src/repo/relied.h"

#include <inttypes.h>

#define S_NS 1000000000LL

/* ---------- checked.h ---------- */

TEST(saturating_arithmetic_at_the_edges)
{
	CHECK(sat_sub_i64(INT64_MIN, 300 * S_NS) == INT64_MIN);
	CHECK(sat_sub_i64(INT64_MIN, 1) == INT64_MIN);
	CHECK(sat_sub_i64(INT64_MIN, 0) == INT64_MIN);
	CHECK(sat_sub_i64(INT64_MAX, -1) == INT64_MAX);
	CHECK(sat_sub_i64(0, INT64_MIN) == INT64_MAX);
	CHECK(sat_sub_i64(-1, INT64_MIN) == INT64_MAX);
	CHECK(sat_sub_i64(-2, INT64_MAX) == INT64_MIN);
	CHECK(sat_sub_i64(-1, INT64_MAX) == INT64_MIN);
	CHECK(sat_sub_i64(5, 7) == -2);
	CHECK(sat_add_i64(INT64_MAX, 300 * S_NS) == INT64_MAX);
	CHECK(sat_add_i64(INT64_MAX, 1) == INT64_MAX);
	CHECK(sat_add_i64(INT64_MIN, -1) == INT64_MIN);
	CHECK(sat_add_i64(INT64_MIN, INT64_MAX) == -1);
	CHECK(sat_add_i64(INT64_MAX, INT64_MIN) == -1);
	CHECK(sat_add_i64(-3, 3) == 0);
	CHECK(sat_mul_i64(INT64_MAX, 2) == INT64_MAX);
	CHECK(sat_mul_i64(INT64_MIN, 2) == INT64_MIN);
	CHECK(sat_mul_i64(INT64_MIN, -1) == INT64_MAX);
	CHECK(sat_mul_i64(-3, INT64_MAX) == INT64_MIN);
	CHECK(sat_mul_i64(9223372036LL, S_NS) == 9223372036LL * S_NS);
	CHECK(sat_mul_i64(9223372037LL, S_NS) == INT64_MAX); /* seconds past 2262 */
	CHECK(sat_add_u64(UINT64_MAX, 1) == UINT64_MAX);
	CHECK(sat_add_u64(UINT64_MAX - 1, 1) == UINT64_MAX);
	CHECK(sat_sub_u64(1, 2) == 0 && sat_sub_u64(0, UINT64_MAX) == 0 && sat_sub_u64(9, 4) == 5);
	uint64_t u;
	size_t z;
	CHECK(checked_add(&u, UINT64_MAX, (uint64_t)1) == -EOVERFLOW);
	CHECK(checked_mul(&z, SIZE_MAX / 2, (size_t)3) == -EOVERFLOW);
	CHECK(checked_mul(&z, (size_t)1 << 20, (size_t)32) == 0 && z == (size_t)32 << 20);
}

/* ---------- the rule at the edges ---------- */

static const gcrule_clock CLK = { 1700000000LL * S_NS, 1800 * S_NS, 300 * S_NS };

static gcrule_lease trusted_at(int64_t start, int64_t refresh)
{
	gcrule_lease l = { 1, start, refresh, 0, 0, 0 };
	return l;
}

TEST(the_bug_one_unparsable_lease_switched_protection_off)
{
	/* A running backup's lease and one damaged file: the record written
	 * after the backup started must wait, and no pack may be condemned. */
	int64_t now = CLK.now_ns;
	gcrule_lease v[2] = { trusted_at(now - 60 * S_NS, now), { 0, 0, 0, 0, 1, now } };
	gcrule_horizon h;
	gcrule_verdict d[2];
	gcrule_leases(&h, v, 2, &CLK, d);
	CHECK(h.live == 2 && h.oldest == INT64_MIN);
	CHECK(!d[0].stale && d[0].trust == GCRULE_TRUSTED);
	CHECK(!d[1].stale && d[1].trust == GCRULE_UNPARSABLE);
	CHECK(!gcrule_record_ripe(now - 30 * S_NS, &h, CLK.skew_ns));
	CHECK(!gcrule_record_ripe(1, &h, CLK.skew_ns));
	int64_t cut = gcrule_cutoff(&h, now, CLK.skew_ns);
	CHECK(cut == INT64_MIN);
	CHECK(gcrule_pack_young(INT64_MIN, cut) && gcrule_pack_young(0, cut));
	/* without the damaged file the valid lease still protects */
	gcrule_leases(&h, v, 1, &CLK, d);
	CHECK(!gcrule_record_ripe(now - 30 * S_NS, &h, CLK.skew_ns));
	CHECK(gcrule_record_ripe(now - 60 * S_NS - CLK.skew_ns, &h, CLK.skew_ns));
}

TEST(times_at_the_int64_edges_never_wrap)
{
	gcrule_horizon h = GCRULE_HORIZON_INIT;
	gcrule_horizon_add(&h, INT64_MIN);
	CHECK(gcrule_cutoff(&h, INT64_MAX, INT64_MAX) == INT64_MIN);
	CHECK(gcrule_cutoff(&h, 5, 300 * S_NS) == INT64_MIN);
	CHECK(!gcrule_record_ripe(INT64_MAX, &h, 0));
	CHECK(!gcrule_record_ripe(1, &h, INT64_MAX));
	CHECK(!gcrule_record_ripe(INT64_MIN, &h, 0)); /* not dated */
	h = (gcrule_horizon)GCRULE_HORIZON_INIT;
	gcrule_horizon_add(&h, INT64_MAX);
	/* T + skew past INT64_MAX is later than any start */
	CHECK(!gcrule_record_ripe(INT64_MAX, &h, 1));
	CHECK(!gcrule_record_ripe(INT64_MAX - 5, &h, 300 * S_NS));
	CHECK(gcrule_record_ripe(INT64_MAX - 5, &h, 5));
	CHECK(gcrule_cutoff(&h, INT64_MAX, 300 * S_NS) == INT64_MAX - 300 * S_NS);
	CHECK(!gcrule_record_ripe_for(INT64_MAX, INT64_MAX, INT64_MAX));
	CHECK(!gcrule_record_ripe_for(-1, INT64_MAX, 0));
	CHECK(!gcrule_record_ripe_for(0, INT64_MAX, 0));
	CHECK(gcrule_record_ripe_for(1, INT64_MAX, INT64_MAX - 1));
	CHECK(!gcrule_record_ripe_for(2, INT64_MAX, INT64_MAX - 1));
	/* no live lease: ripe once dated, whatever the time */
	h = (gcrule_horizon)GCRULE_HORIZON_INIT;
	CHECK(gcrule_record_ripe(INT64_MAX, &h, INT64_MAX) && !gcrule_record_ripe(0, &h, 0));
	CHECK(gcrule_cutoff(&h, 77, INT64_MAX) == 77);
}

TEST(lease_times_at_the_edges)
{
	int64_t from = 0;
	gcrule_clock c = CLK;
	gcrule_lease l = trusted_at(INT64_MIN, INT64_MIN);
	CHECK(gcrule_lease_trust(&l, &c) == GCRULE_BAD_START);
	CHECK(!gcrule_lease_stale(&l, &c, &from) && from == INT64_MIN); /* no file time */
	l.mtime_known = 1;
	l.mtime_ns = INT64_MIN; /* the storage says: never written since */
	CHECK(gcrule_lease_stale(&l, &c, &from));
	l.mtime_ns = INT64_MAX; /* written in the far future: live */
	CHECK(!gcrule_lease_stale(&l, &c, &from) && from == INT64_MIN);
	l = trusted_at(1, INT64_MAX);
	CHECK(gcrule_lease_trust(&l, &c) == GCRULE_FUTURE);
	CHECK(!gcrule_lease_stale(&l, &c, &from) && from == INT64_MIN);
	l = trusted_at(c.now_ns, c.now_ns - 1);
	CHECK(gcrule_lease_trust(&l, &c) == GCRULE_BAD_ORDER);
	/* refreshed at INT64_MIN + 1: now - refresh does not fit in int64 */
	l = trusted_at(1, 1);
	c.now_ns = INT64_MAX;
	CHECK(gcrule_lease_trust(&l, &c) == GCRULE_TRUSTED && gcrule_lease_stale(&l, &c, &from));
	/* expiry + skew past INT64_MAX: nothing is old enough */
	c.expiry_ns = INT64_MAX;
	c.skew_ns = INT64_MAX;
	CHECK(!gcrule_lease_stale(&l, &c, &from) && from == 1);
	l = trusted_at(INT64_MAX, INT64_MAX); /* now + skew saturates: trusted */
	CHECK(gcrule_lease_trust(&l, &c) == GCRULE_TRUSTED);
	/* negative allowances count as 0, never as "more lenient" */
	c = CLK;
	c.skew_ns = -300 * S_NS;
	l = trusted_at(c.now_ns - 1, c.now_ns - 1);
	CHECK(!gcrule_lease_stale(&l, &c, &from));
	CHECK(!gcrule_record_ripe_for(c.now_ns - 1, c.now_ns - 4, -5));
	CHECK(gcrule_record_ripe_for(c.now_ns - 1, c.now_ns - 1, -5));
	/* a dead process on this host is gone whatever its times say */
	l = trusted_at(INT64_MIN, INT64_MAX);
	l.process_gone = 1;
	CHECK(gcrule_lease_stale(&l, &c, &from));
	l.parsed = 0; /* but an unparsable file proves nothing about its process */
	CHECK(!gcrule_lease_stale(&l, &c, &from));
}

TEST(a_clock_behind_does_not_make_a_rewritten_lease_stale)
{
	/* refresh says "an hour ago" (writer's clock an hour behind), the
	 * storage says it was just written */
	gcrule_lease l = trusted_at(CLK.now_ns - 7200 * S_NS, CLK.now_ns - 3600 * S_NS);
	int64_t from;
	CHECK(gcrule_lease_stale(&l, &CLK, &from)); /* without the file time */
	l.mtime_known = 1;
	l.mtime_ns = CLK.now_ns - 10 * S_NS;
	CHECK(!gcrule_lease_stale(&l, &CLK, &from) && from == CLK.now_ns - 7200 * S_NS);
}

/* ---------- the lease parser ---------- */

static int parses(const char *text)
{
	lease_info o;
	memset(&o, 0, sizeof(o));
	return lease_parse(&o, text, strlen(text)) == 0;
}

TEST(lease_parser_refuses_what_it_cannot_represent_or_print)
{
	CHECK(parses("dvalin-lease 1\nkind backup\nhost h\npid 2147483647\nstart 1\nrefresh 2\n"));
	CHECK(!parses("dvalin-lease 1\nkind backup\nhost h\npid 2147483648\nstart 1\nrefresh 2\n"));
	CHECK(!parses("dvalin-lease 1\nkind backup\nhost h\npid 1099511627777\nstart 1\nrefresh 2\n"));
	CHECK(!parses("dvalin-lease 1\nkind backup\nhost h\npid -4\nstart 1\nrefresh 2\n"));
	CHECK(!parses("dvalin-lease 1\nkind backup\nhost a\x1b[2Jb\npid 7\nstart 1\nrefresh 2\n"));
	CHECK(!parses("dvalin-lease 1\nkind backup\nhost a b\npid 7\nstart 1\nrefresh 2\n"));
	CHECK(!parses("dvalin-lease 1\nkind back\x7fup\nhost h\npid 7\nstart 1\nrefresh 2\n"));
	CHECK(!parses("dvalin-lease 1\nkind backup\nhost h\npid 7\nstart 99999999999999999999\nrefresh 2\n"));
	CHECK(!parses("dvalin-lease 1\nkind backup\nhost h\npid 7\nstart -99999999999999999999\nrefresh 2\n"));
	CHECK(!parses("dvalin-lease 1\nkind backup\nhost h\npid 7\nstart 1x\nrefresh 2\n"));
	/* extreme but representable times parse; the rule distrusts them */
	CHECK(parses("dvalin-lease 1\nkind backup\nhost h\npid 7\nstart -9223372036854775808\nrefresh 9223372036854775807\n"));
	lease_info nul;
	memset(&nul, 0, sizeof(nul));
	const char with_nul[] = "dvalin-lease 1\nkind backup\nhost h\0x\npid 7\nstart 1\nrefresh 2\n";
	CHECK(lease_parse(&nul, with_nul, sizeof(with_nul) - 1) < 0);
}

/* ---------- the commit check ---------- */

static void put_pack(backend *be, const uint8_t id[32])
{
	char name[80];
	pack_name(name, id);
	REQUIRE(backend_put(be, name, BACKEND_DATA, "x", 1) == 0);
}

TEST(commit_check_finds_deleted_packs)
{
	backend *be;
	REQUIRE(backend_open("mem:", 0, &be) == 0);
	uint8_t p[2][32], zero[32] = { 0 };
	memset(p[0], 0xa0, 32);
	memset(p[1], 0xa1, 32);
	relied r = RELIED_INIT;
	CHECK(relied_check(&r, be, "backup", 0) == 0); /* relies on nothing */
	relied_add(&r, zero); /* a pack still being written: ignored */
	relied_add(&r, p[0]);
	relied_add(&r, p[1]);
	relied_add(&r, p[1]);
	CHECK(r.packs.n == 2);
	put_pack(be, p[0]);
	CHECK(relied_check(&r, be, "backup", 0) == -ESTALE);
	CHECK(strstr(err_msg(-ESTALE), "was deleted while this backup ran") != NULL);
	put_pack(be, p[1]);
	CHECK(relied_check(&r, be, "backup", 0) == 0);
	/* condemned is not deleted: the lease holds the record back, and
	 * the next prune returns the pack (the normal race) */
	gc_record rec = { "gc/a", 1, p, 2 };
	REQUIRE(gc_record_put(be, &rec) == 0);
	CHECK(relied_check(&r, be, "backup", 0) == 0);
	char name[80];
	pack_name(name, p[1]);
	REQUIRE(backend_remove(be, name) == 0);
	CHECK(relied_check(&r, be, "repair", 0) == -ESTALE);
	CHECK(strstr(err_msg(-ESTALE), "this repair uses") != NULL);
	/* a remote backend lists data/ instead when that costs fewer
	 * requests: the same answers */
	be->flags |= BACKEND_REMOTE;
	CHECK(relied_check(&r, be, "backup", 0) == -ESTALE);
	CHECK(strstr(err_msg(-ESTALE), "was deleted while this backup ran") != NULL);
	put_pack(be, p[1]);
	uint8_t other[32];
	memset(other, 0xb0, 32);
	put_pack(be, other); /* listed, not relied on */
	CHECK(relied_check(&r, be, "backup", 0) == 0);
	CHECK(relied_check(&r, be, "backup", 5000) == 0); /* more pages than packs: stats */
	REQUIRE(backend_remove(be, name) == 0);
	CHECK(relied_check(&r, be, "backup", 0) == -ESTALE);
	CHECK(relied_check(&r, be, "backup", 5000) == -ESTALE);
	r.incomplete = 1;
	CHECK(relied_check(&r, be, "backup", 0) == -ENOMEM);
	relied_release(&r);
	backend_free(be);
}

/* A mem: store holding n packs with ids of bytes first, first + 1, ... */
static backend *store_with_packs(uint8_t (*p)[32], int n, int first)
{
	backend *be;
	if (backend_open("mem:", 0, &be) < 0)
		return NULL;
	for (int i = 0; i < n; i++) {
		memset(p[i], first + i, 32);
		put_pack(be, p[i]);
	}
	return be;
}

TEST(commit_check_refuses_packs_the_deletion_notice_names)
{
	uint8_t p[3][32];
	backend *be = store_with_packs(p, 3, 0xc0);
	REQUIRE(be != NULL);
	relied r = RELIED_INIT;
	relied_add(&r, p[0]);
	relied_add(&r, p[1]);
	idmap gone = IDMAP_INIT;
	/* a notice naming other packs only, and an empty one, are no obstacle */
	REQUIRE(gc_notice_put(be, (const uint8_t(*)[32])p + 2, 1, 5) == 0);
	CHECK(relied_check_noting(&r, be, "sync", 0, &gone) == 0 && gone.n == 0);
	REQUIRE(gc_notice_put(be, NULL, 0, 5) == 0);
	CHECK(relied_check(&r, be, "sync", 0) == 0);
	/* naming one: refused although the pack exists; only the deleted pack
	 * is noted as gone (an entry of the named one, which exists, may be
	 * what keeps a prune from deleting it under another writer) */
	REQUIRE(gc_notice_put(be, (const uint8_t(*)[32])p + 1, 2, 5) == 0);
	char name[80];
	pack_name(name, p[0]);
	REQUIRE(backend_remove(be, name) == 0);
	CHECK(relied_check_noting(&r, be, "sync", 0, &gone) == -ESTALE);
	CHECK(strstr(err_msg(-ESTALE), "that this sync uses is being deleted by a prune") != NULL);
	CHECK(gone.n == 1 && idmap_get(&gone, p[0]) && !idmap_get(&gone, p[1]));
	CHECK(relied_check(&r, be, "sync", 0) == -ESTALE);
	/* it is no record: readers of records pass over it */
	gc_record *v = NULL;
	size_t n = 9;
	int notice = 0;
	CHECK(gc_records_load_noting(be, &v, &n, NULL, &notice) == 0 && n == 0 && notice == 1);
	gc_records_free(v, n);
	/* a damaged notice could name anything */
	REQUIRE(backend_put(be, GC_NOTICE_NAME, BACKEND_META, "junk", 4) == 0);
	CHECK(relied_check(&r, be, "sync", 0) == -DV_ECORRUPT);
	CHECK(strstr(err_msg(-DV_ECORRUPT), "is damaged") != NULL);
	/* removed: only the deleted pack counts */
	REQUIRE(gc_notice_remove(be) == 0 && gc_notice_remove(be) == 0);
	put_pack(be, p[0]);
	CHECK(relied_check(&r, be, "sync", 0) == 0);
	idmap_release(&gone);
	relied_release(&r);
	backend_free(be);
}

TEST(packs_a_writer_sealed_itself_need_no_notice)
{
	uint8_t p[2][32];
	backend *be = store_with_packs(p, 2, 0xd0);
	REQUIRE(be != NULL);
	/* a notice naming them (only a prune that ignored the lease writes
	 * one) is not read: not even a damaged one stops the check */
	relied r = RELIED_INIT;
	relied_add_sealed(&r, p[0]);
	relied_add(&r, p[0]); /* deduplicated against its own pack later */
	REQUIRE(backend_put(be, GC_NOTICE_NAME, BACKEND_META, "junk", 4) == 0);
	CHECK(relied_check(&r, be, "backup", 0) == 0);
	/* the existence look still runs */
	char name[80];
	pack_name(name, p[0]);
	REQUIRE(backend_remove(be, name) == 0);
	CHECK(relied_check(&r, be, "backup", 0) == -ESTALE);
	put_pack(be, p[0]);
	/* one pack found through the index: the notice is read again */
	relied_add(&r, p[1]);
	CHECK(relied_check(&r, be, "backup", 0) == -DV_ECORRUPT);
	REQUIRE(gc_notice_put(be, (const uint8_t(*)[32])p + 1, 1, 5) == 0);
	CHECK(relied_check(&r, be, "backup", 0) == -ESTALE);
	CHECK(strstr(err_msg(-ESTALE), "being deleted") != NULL);
	relied_release(&r);
	backend_free(be);
}

/* ---------- property tests against a slow model ---------- */

__extension__ typedef __int128 wide;
#define NEG_INF (-((wide)1 << 100)) /* "since the beginning of time" */

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);
	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

static uint64_t rnd(uint64_t *s, uint64_t n)
{
	return n ? test_rand(s) % n : 0;
}

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A time drawn to hit the interesting places: near now, near the
 * allowances, at the int64 edges, anywhere. */
static int64_t draw_time(uint64_t *s, int64_t now, int64_t expiry, int64_t skew)
{
	int64_t edges[] = { INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX };
	int64_t d = (int64_t)rnd(s, 7) - 3;
	switch (rnd(s, 8)) {
	case 0: return edges[rnd(s, ARRAY_LEN(edges))];
	case 1: return (int64_t)test_rand(s);
	case 2: return sat_add_i64(sat_sub_i64(now, sat_add_i64(expiry, skew)), d);
	case 3: return sat_add_i64(sat_add_i64(now, skew), d);
	case 4: return sat_add_i64(sat_sub_i64(now, skew), d);
	default: return sat_add_i64(now, (int64_t)rnd(s, 2 * 3600) * S_NS * (rnd(s, 2) ? 1 : -1) + d);
	}
}

/* What the generator meant a lease file to be. */
typedef struct {
	int damage;   /* 0: well formed; else the kind of damage */
	int host;     /* 0 this host, 1 another, 2 with a space, 3 with ESC */
	int64_t pid;  /* 100 alive, 200 dead, or hostile */
	int64_t start, refresh;
	int mtime_known;
	int64_t mtime;
} spec;

static const char *kinds[] = { "backup", "read", "prune", "repair" };
static const char *hosts[] = { "here", "elsewhere", "a b", "x\x1b[0m" };

/* The model's reading of a spec: would it parse, per docs/format.md? */
static int model_parses(const spec *p)
{
	return p->damage == 0 && p->host < 2 && p->pid >= 1 && p->pid <= INT32_MAX;
}

static int model_gone(const spec *p)
{
	return model_parses(p) && p->host == 0 && p->pid == 200;
}

static size_t render(char *out, size_t cap, const spec *p, uint64_t *s)
{
	char text[512];
	int n = snprintf(text, sizeof(text), "dvalin-lease 1\nkind %s\nhost %s\npid %" PRId64 "\nstart %" PRId64 "\nrefresh %" PRId64 "\n",
			 kinds[rnd(s, 4)], hosts[p->host], p->pid, p->start, p->refresh);
	size_t len = (size_t)n;
	switch (p->damage) {
	case 1: /* garbage */
		len = rnd(s, 200);
		for (size_t i = 0; i < len; i++)
			text[i] = (char)(test_rand(s) >> 56);
		if (len >= 15 && rnd(s, 2))
			memcpy(text, "dvalin-lease 2\n", 15); /* and never "1" */
		else if (len > 0)
			text[0] = 'X';
		break;
	case 2: /* truncated before the last newline */
		len = rnd(s, len);
		break;
	case 3: /* a number too big for 64 bits */
		n = snprintf(text, sizeof(text), "dvalin-lease 1\nkind backup\nhost here\npid 100\nstart 1%019" PRIu64 "0\nrefresh 5\n",
			     (uint64_t)(test_rand(s) % 10000000000000000000ULL));
		len = (size_t)n;
		break;
	case 4: /* a field missing */
		n = snprintf(text, sizeof(text), "dvalin-lease 1\nkind backup\nhost here\npid 100\nrefresh 5\n");
		len = (size_t)n;
		break;
	case 5: /* empty */
		len = 0;
		break;
	}
	memcpy(out, text, len < cap ? len : cap);
	return len < cap ? len : cap;
}

typedef struct {
	int parsed, trusted, stale;
	wide from;
} model_lease;

/* docs/concurrency.md, "Leases" and "Damaged leases and records",
 * transcribed without any arithmetic that could overflow. */
static model_lease model_judge(const spec *p, wide now, wide expiry, wide skew)
{
	model_lease m = { model_parses(p), 0, 0, 0 };
	m.trusted = m.parsed && p->start > 0 && p->refresh >= p->start && (wide)p->refresh <= now + skew;
	wide limit = expiry + skew;
	int refresh_old = now - (wide)p->refresh > limit;
	int file_old = p->mtime_known && now - (wide)p->mtime > limit;
	if (model_gone(p))
		m.stale = 1;
	else if (m.trusted)
		m.stale = refresh_old && (!p->mtime_known || file_old);
	else
		m.stale = file_old;
	m.from = m.trusted ? (wide)p->start : NEG_INF;
	return m;
}

/* A pack is young when some live lease, or the prune itself, may have
 * written it: modified at or after (that start - skew). */
static int model_young(wide mtime, const model_lease *v, size_t n, wide own, wide skew)
{
	if (mtime >= own)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (!v[i].stale && mtime >= v[i].from - skew)
			return 1;
	return 0;
}

/* Ripe: dated, and every live lease started at or after T + skew. */
static int model_ripe(wide t, const model_lease *v, size_t n, wide skew)
{
	if (t <= 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!v[i].stale && v[i].from < t + skew)
			return 0;
	return 1;
}

#define MAXL 8

typedef struct {
	gcrule_clock c;
	int64_t own;
	size_t nl, nr, np;
	spec sp[MAXL + 1];
	int64_t rec[6], pack[6];
} scenario;

static void draw(scenario *x, uint64_t *s)
{
	memset(x, 0, sizeof(*x));
	int64_t now = rnd(s, 20) ? 1700000000LL * S_NS + (int64_t)rnd(s, 1000000) * S_NS
				 : (int64_t)test_rand(s);
	int64_t allow[] = { 0, 1, S_NS, 60 * S_NS, 300 * S_NS, 1800 * S_NS, 10000000LL * S_NS,
			    INT64_MAX / 2, INT64_MAX };
	x->c.now_ns = now;
	x->c.expiry_ns = allow[rnd(s, ARRAY_LEN(allow))];
	x->c.skew_ns = allow[rnd(s, ARRAY_LEN(allow))];
	x->own = sat_sub_i64(now, (int64_t)rnd(s, 100) * S_NS);
	x->nl = rnd(s, MAXL + 1);
	for (size_t i = 0; i < x->nl; i++) {
		spec *p = &x->sp[i];
		p->damage = rnd(s, 4) ? 0 : 1 + (int)rnd(s, 5);
		p->host = rnd(s, 6) ? (int)rnd(s, 2) : 2 + (int)rnd(s, 2);
		int64_t pids[] = { 100, 200, 0, -1, INT32_MAX, (int64_t)INT32_MAX + 1, INT64_MAX };
		p->pid = rnd(s, 3) ? 100 + 100 * (int64_t)rnd(s, 2) : pids[rnd(s, ARRAY_LEN(pids))];
		p->start = draw_time(s, now, x->c.expiry_ns, x->c.skew_ns);
		p->refresh = rnd(s, 2) ? sat_add_i64(p->start, (int64_t)rnd(s, 4000) * S_NS)
				       : draw_time(s, now, x->c.expiry_ns, x->c.skew_ns);
		p->mtime_known = rnd(s, 5) != 0;
		p->mtime = rnd(s, 2) ? p->refresh : draw_time(s, now, x->c.expiry_ns, x->c.skew_ns);
	}
	x->nr = rnd(s, 6);
	for (size_t i = 0; i < x->nr; i++)
		x->rec[i] = draw_time(s, now, x->c.expiry_ns, x->c.skew_ns);
	x->np = rnd(s, 6);
	for (size_t i = 0; i < x->np; i++)
		x->pack[i] = draw_time(s, now, x->c.expiry_ns, x->c.skew_ns);
}

typedef struct {
	int stale[MAXL + 1];
	int young[6], ripe[6];
} outcome;

/* The code under test, from the lease files' text to the decisions. */
static int run_code(const scenario *x, size_t nl, uint64_t *s, outcome *o)
{
	gcrule_lease in[MAXL + 1];
	gcrule_verdict d[MAXL + 1];
	memset(in, 0, sizeof(in));
	int ok = 1;
	for (size_t i = 0; i < nl; i++) {
		char text[600];
		size_t len = render(text, sizeof(text), &x->sp[i], s);
		lease_info li;
		memset(&li, 0, sizeof(li));
		li.damaged = lease_parse(&li, text, len) < 0;
		if ((!li.damaged) != model_parses(&x->sp[i]))
			ok = 0; /* the parser disagrees with format.md */
		backend_stat_t st = { 0, x->sp[i].mtime };
		lease_rule_input(&in[i], &li, x->sp[i].mtime_known ? &st : NULL,
				 !li.damaged && strcmp(li.host, "here") == 0 && li.pid == 200);
	}
	gcrule_horizon h;
	gcrule_leases(&h, in, nl, &x->c, d);
	for (size_t i = 0; i < nl; i++)
		o->stale[i] = d[i].stale;
	int64_t cut = gcrule_cutoff(&h, x->own, x->c.skew_ns);
	for (size_t i = 0; i < x->np; i++)
		o->young[i] = gcrule_pack_young(x->pack[i], cut);
	for (size_t i = 0; i < x->nr; i++)
		o->ripe[i] = gcrule_record_ripe(x->rec[i], &h, x->c.skew_ns);
	return ok;
}

static void run_model(const scenario *x, size_t nl, outcome *o)
{
	model_lease m[MAXL + 1];
	for (size_t i = 0; i < nl; i++) {
		m[i] = model_judge(&x->sp[i], x->c.now_ns, x->c.expiry_ns, x->c.skew_ns);
		o->stale[i] = m[i].stale;
	}
	for (size_t i = 0; i < x->np; i++)
		o->young[i] = model_young(x->pack[i], m, nl, x->own, x->c.skew_ns);
	for (size_t i = 0; i < x->nr; i++)
		o->ripe[i] = model_ripe(x->rec[i], m, nl, x->c.skew_ns);
}

static int same(const outcome *a, const outcome *b, const scenario *x, size_t nl)
{
	for (size_t i = 0; i < nl; i++)
		if (a->stale[i] != b->stale[i])
			return 0;
	for (size_t i = 0; i < x->np; i++)
		if (a->young[i] != b->young[i])
			return 0;
	for (size_t i = 0; i < x->nr; i++)
		if (a->ripe[i] != b->ripe[i])
			return 0;
	return 1;
}

/* b protects at least what a does: every pack young in a is young in b,
 * every record unripe in a is unripe in b. */
static int at_least_as_careful(const outcome *a, const outcome *b, const scenario *x)
{
	for (size_t i = 0; i < x->np; i++)
		if (a->young[i] && !b->young[i])
			return 0;
	for (size_t i = 0; i < x->nr; i++)
		if (!a->ripe[i] && b->ripe[i])
			return 0;
	return 1;
}

/*
 * Runs one property over DVALIN_PROPTEST_CASES random scenarios; prop
 * returns 0 when the property fails, with a short reason.  Stops after
 * five failures, each printed with what reproduces it.
 */
typedef int (*property)(scenario *x, uint64_t *s, const char **why);

static void proptest(const char *name, uint64_t salt, property prop)
{
	uint64_t seed = env_u64("DVALIN_PROPTEST_SEED", 0x6763727566); /* "gcruf" */
	uint64_t cases = env_u64("DVALIN_PROPTEST_CASES", 20000);
	uint64_t s = (seed ^ salt) | 1, fails = 0;
	for (uint64_t k = 0; k < cases && fails < 5; k++) {
		scenario x;
		const char *why = "";
		draw(&x, &s);
		if (!prop(&x, &s, &why)) {
			fprintf(stderr, "  %s: %s: DVALIN_PROPTEST_SEED=%#" PRIx64 " case %" PRIu64 "\n",
				name, why, seed, k);
			fails++;
		}
	}
	CHECK(fails == 0);
}

static int matches_the_model(scenario *x, uint64_t *s, const char **why)
{
	outcome code, model;
	memset(&code, 0, sizeof(code));
	memset(&model, 0, sizeof(model));
	int parsed_ok = run_code(x, x->nl, s, &code);
	run_model(x, x->nl, &model);
	*why = parsed_ok ? "the rule disagrees with the model" : "the parser disagrees with format.md";
	return parsed_ok && same(&code, &model, x, x->nl);
}

TEST(property_rule_matches_the_model)
{
	proptest("model", 0, matches_the_model);
}

/* Whatever a lease file holds, adding it to the locks/ folder can only
 * keep more packs young and more records waiting. */
static int one_more_lease_protects_no_less(scenario *x, uint64_t *s, const char **why)
{
	outcome fewer, more;
	memset(&fewer, 0, sizeof(fewer));
	memset(&more, 0, sizeof(more));
	if (x->nl == 0)
		return 1;
	run_code(x, x->nl - 1, s, &fewer);
	run_code(x, x->nl, s, &more);
	*why = "less careful with one more lease file";
	return at_least_as_careful(&fewer, &more, x);
}

TEST(property_more_lease_files_never_mean_less_protection)
{
	proptest("monotonic", 0x5a5a, one_more_lease_protects_no_less);
}

/*
 * The safety argument of docs/concurrency.md: a backup B whose lease is
 * live (this host, running, refreshed within the expiry) and that read the
 * index before a record's time T (start < T) keeps that record unripe, and
 * keeps young every pack it wrote (dated by the storage at most skew
 * before its start), whatever else is in locks/: damaged, hostile, from
 * the future or from 1970.
 */
static int live_backup_keeps_its_packs(scenario *x, uint64_t *s, const char **why)
{
	outcome o;
	memset(&o, 0, sizeof(o));
	/* realistic allowances for B itself; the other leases stay hostile */
	x->c.now_ns = 1700000000LL * S_NS + (int64_t)rnd(s, 1000000) * S_NS;
	x->c.expiry_ns = (1 + (int64_t)rnd(s, 3600)) * S_NS;
	x->c.skew_ns = (int64_t)rnd(s, 600) * S_NS;
	int64_t start = x->c.now_ns - (int64_t)rnd(s, 86400) * S_NS;
	spec *b = &x->sp[x->nl];
	memset(b, 0, sizeof(*b));
	b->host = 0;
	b->pid = 100;
	b->start = start;
	b->refresh = x->c.now_ns - (int64_t)rnd(s, (uint64_t)x->c.expiry_ns);
	if (b->refresh < start)
		b->refresh = start;
	b->mtime_known = (int)rnd(s, 2);
	b->mtime = b->refresh;
	x->nr = 1 + rnd(s, 5);
	for (size_t i = 0; i < x->nr; i++)
		x->rec[i] = start + 1 + (int64_t)rnd(s, 86400) * S_NS;
	x->np = 1 + rnd(s, 5);
	for (size_t i = 0; i < x->np; i++)
		x->pack[i] = start - x->c.skew_ns + (int64_t)rnd(s, 86400) * S_NS;
	run_code(x, x->nl + 1, s, &o);
	int ok = !o.stale[x->nl];
	for (size_t i = 0; i < x->nr; i++)
		ok &= !o.ripe[i];
	for (size_t i = 0; i < x->np; i++)
		ok &= o.young[i];
	*why = "a live backup lost its protection";
	return ok;
}

TEST(property_a_live_backup_is_protected_against_any_other_leases)
{
	proptest("safety", 0xb00b, live_backup_keeps_its_packs);
}
