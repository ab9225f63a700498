/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The snapshot file codec: version 2 files carry their time and keyed
 * group ids in plaintext (what forget --no-key and sync read), agreeing
 * with the sealed body; group ids treat paths and tags as sets; a header
 * that disagrees with its body is corrupt; version 1 files (no plaintext
 * fields) still decode, keyed and keyless.
 */
#include "harness.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/strlist.h"
#include "core/crypto.h"
#include "repo/format.h"
#include "repo/snapshot.h"

static void keys(crypto_keys *k, uint8_t seed)
{
	memset(k, seed, sizeof(*k));
	k->mac[0] ^= 1;
	k->chunk[0] ^= 2;
}

static snapshot *make(const char *host, const char *const *paths, size_t np,
		      const char *const *tags, size_t nt)
{
	snapshot *s = snapshot_new();
	s->host = strdup(host);
	s->user = strdup("root");
	for (size_t i = 0; i < np; i++)
		strlist_add(&s->paths, &s->npaths, paths[i]);
	for (size_t i = 0; i < nt; i++)
		strlist_add(&s->tags, &s->ntags, tags[i]);
	s->time = 1795420800; /* 2026-11-23 */
	s->time_nsec = 123456789;
	s->tz_offset = 3600;
	memset(s->tree, 0x5a, 32);
	return s;
}

TEST(version_2_carries_time_and_groups_in_plaintext)
{
	crypto_keys k;
	keys(&k, 7);
	const char *paths[] = { "/srv", "/home" }, *tags[] = { "daily" };
	snapshot *s = make("nas", paths, 2, tags, 1), *d = NULL;
	buf b = BUF_INIT;
	REQUIRE(snapshot_encode(&b, s, &k) == 0);
	CHECK(le32_get(b.data + 8) == SNAPSHOT_VERSION);
	snapshot_header h;
	REQUIRE(snapshot_decode_header(b.data, b.len, &h) == 0);
	CHECK(h.version == 2 && h.has_plain);
	CHECK(h.time == s->time && h.time_nsec == s->time_nsec && h.tz_offset == 3600);
	CHECK(memcmp(h.tree, s->tree, 32) == 0 && memcmp(h.id, s->id, 32) == 0);
	uint8_t g[SNAPSHOT_GROUPS][32];
	REQUIRE(snapshot_group_ids(g, s, &k) == 0);
	CHECK(memcmp(g, h.group, sizeof(g)) == 0);
	REQUIRE(snapshot_decode(&d, b.data, b.len, &k) == 0);
	CHECK(strcmp(d->host, "nas") == 0 && d->npaths == 2 && d->time == s->time);
	snapshot_free(d);
	/* a flipped plaintext byte fails authentication of the body */
	b.data[SNAPSHOT_HEADER_LEN + 3] ^= 1;
	CHECK(snapshot_decode(&d, b.data, b.len, &k) == -DV_ECORRUPT);
	buf_release(&b);
	snapshot_free(s);
}

TEST(group_ids_are_sets_keyed_and_distinct_per_field)
{
	crypto_keys k, other;
	keys(&k, 7);
	keys(&other, 8);
	const char *p1[] = { "/a", "/b" }, *p2[] = { "/b", "/a", "/a" }, *p3[] = { "/a" };
	const char *t1[] = { "x", "y" }, *t2[] = { "y", "x" };
	snapshot *a = make("h", p1, 2, t1, 2), *b = make("h", p2, 3, t2, 2), *c = make("h", p3, 1, NULL, 0);
	snapshot *d = make("other", p1, 2, t1, 2);
	uint8_t ga[3][32], gb[3][32], gc[3][32], gd[3][32], go[3][32];
	REQUIRE(snapshot_group_ids(ga, a, &k) == 0 && snapshot_group_ids(gb, b, &k) == 0);
	REQUIRE(snapshot_group_ids(gc, c, &k) == 0 && snapshot_group_ids(gd, d, &k) == 0);
	REQUIRE(snapshot_group_ids(go, a, &other) == 0);
	CHECK(memcmp(ga, gb, sizeof(ga)) == 0); /* order and duplicates do not matter */
	CHECK(memcmp(ga[SNAPSHOT_GROUP_PATHS], gc[SNAPSHOT_GROUP_PATHS], 32) != 0);
	CHECK(memcmp(ga[SNAPSHOT_GROUP_TAGS], gc[SNAPSHOT_GROUP_TAGS], 32) != 0);
	CHECK(memcmp(ga[SNAPSHOT_GROUP_HOST], gc[SNAPSHOT_GROUP_HOST], 32) == 0);
	CHECK(memcmp(ga[SNAPSHOT_GROUP_HOST], gd[SNAPSHOT_GROUP_HOST], 32) != 0);
	CHECK(memcmp(ga[SNAPSHOT_GROUP_PATHS], gd[SNAPSHOT_GROUP_PATHS], 32) == 0);
	CHECK(memcmp(ga, go, sizeof(ga)) != 0); /* keyed: another repository, other ids */
	/* the field label separates equal values of different fields */
	const char *ph[] = { "h" };
	snapshot *e = make("h", ph, 1, ph, 1);
	uint8_t ge[3][32];
	REQUIRE(snapshot_group_ids(ge, e, &k) == 0);
	CHECK(memcmp(ge[SNAPSHOT_GROUP_PATHS], ge[SNAPSHOT_GROUP_TAGS], 32) != 0);
	snapshot_free(a);
	snapshot_free(b);
	snapshot_free(c);
	snapshot_free(d);
	snapshot_free(e);
}

/* A version 2 file whose header was made for other values, sealed correctly. */
static void seal_with_header(buf *out, const snapshot *body_of, const snapshot *header_of,
			     const crypto_keys *k)
{
	buf a = BUF_INIT, b = BUF_INIT;
	snapshot *x = (snapshot *)body_of, *y = (snapshot *)header_of;
	REQUIRE(snapshot_encode(&a, x, k) == 0 && snapshot_encode(&b, y, k) == 0);
	size_t ha = SNAPSHOT_HEADER_LEN + le32_get(a.data + 12);
	size_t hb = SNAPSHOT_HEADER_LEN + le32_get(b.data + 12);
	uint8_t *body = malloc(a.len);
	REQUIRE(crypto_open(body, k->enc, a.data, ha, a.data + ha, a.len - ha) == 0);
	size_t blen = a.len - ha - CRYPTO_OVERHEAD;
	out->len = 0;
	REQUIRE(buf_reserve(out, hb + blen + CRYPTO_OVERHEAD) == 0);
	memcpy(out->data, b.data, hb);
	REQUIRE(crypto_seal(out->data + hb, k->enc, b.data, hb, body, blen) == 0);
	out->len = hb + blen + CRYPTO_OVERHEAD;
	free(body);
	buf_release(&a);
	buf_release(&b);
}

TEST(a_header_that_disagrees_with_its_body_is_corrupt)
{
	crypto_keys k;
	keys(&k, 9);
	const char *p[] = { "/srv" };
	snapshot *s = make("nas", p, 1, NULL, 0), *other = make("laptop", p, 1, NULL, 0);
	snapshot *later = make("nas", p, 1, NULL, 0), *d = NULL;
	later->time += 86400;
	buf f = BUF_INIT;
	seal_with_header(&f, s, other, &k);
	snapshot_header h;
	CHECK(snapshot_decode_header(f.data, f.len, &h) == 0); /* keyless cannot tell */
	CHECK(snapshot_decode(&d, f.data, f.len, &k) == -DV_ECORRUPT);
	seal_with_header(&f, s, later, &k);
	CHECK(snapshot_decode(&d, f.data, f.len, &k) == -DV_ECORRUPT);
	seal_with_header(&f, s, s, &k);
	CHECK(snapshot_decode(&d, f.data, f.len, &k) == 0);
	snapshot_free(d);
	buf_release(&f);
	snapshot_free(s);
	snapshot_free(other);
	snapshot_free(later);
}

TEST(version_1_files_still_decode_without_plaintext_fields)
{
	crypto_keys k;
	keys(&k, 3);
	const char *p[] = { "/srv" };
	snapshot *s = make("nas", p, 1, NULL, 0), *d = NULL;
	buf v2 = BUF_INIT;
	REQUIRE(snapshot_encode(&v2, s, &k) == 0);
	/* the same body under a version 1 header (48 bytes, the field after the version 0) */
	size_t h2 = SNAPSHOT_HEADER_LEN + le32_get(v2.data + 12);
	uint8_t *body = malloc(v2.len);
	REQUIRE(crypto_open(body, k.enc, v2.data, h2, v2.data + h2, v2.len - h2) == 0);
	size_t blen = v2.len - h2 - CRYPTO_OVERHEAD;
	uint8_t *f = malloc(SNAPSHOT_HEADER_LEN + blen + CRYPTO_OVERHEAD);
	memcpy(f, v2.data, SNAPSHOT_HEADER_LEN);
	le32_put(f + 8, 1);
	le32_put(f + 12, 0);
	REQUIRE(crypto_seal(f + SNAPSHOT_HEADER_LEN, k.enc, f, SNAPSHOT_HEADER_LEN, body, blen) == 0);
	size_t n = SNAPSHOT_HEADER_LEN + blen + CRYPTO_OVERHEAD;
	snapshot_header h;
	REQUIRE(snapshot_decode_header(f, n, &h) == 0);
	CHECK(h.version == 1 && !h.has_plain && memcmp(h.tree, s->tree, 32) == 0);
	REQUIRE(snapshot_decode(&d, f, n, &k) == 0);
	CHECK(strcmp(d->host, "nas") == 0 && d->time == s->time);
	snapshot_free(d);
	/* an unknown version is refused as such */
	le32_put(f + 8, 3);
	CHECK(snapshot_decode_header(f, n, &h) == -DV_EFORMAT);
	free(f);
	free(body);
	buf_release(&v2);
	snapshot_free(s);
}

TEST(hostile_plaintext_fields_are_refused)
{
	crypto_keys k;
	keys(&k, 4);
	const char *p[] = { "/srv" };
	snapshot *s = make("nas", p, 1, NULL, 0);
	buf b = BUF_INIT;
	REQUIRE(snapshot_encode(&b, s, &k) == 0);
	snapshot_header h;
	uint32_t plain = le32_get(b.data + 12);
	/* P beyond the file, beyond the cap, or cutting a field short */
	le32_put(b.data + 12, (uint32_t)b.len);
	CHECK(snapshot_decode_header(b.data, b.len, &h) == -DV_ECORRUPT);
	le32_put(b.data + 12, SNAPSHOT_PLAIN_MAX + 1);
	CHECK(snapshot_decode_header(b.data, b.len, &h) == -DV_ECORRUPT);
	le32_put(b.data + 12, plain - 1);
	CHECK(snapshot_decode_header(b.data, b.len, &h) == -DV_ECORRUPT);
	le32_put(b.data + 12, 0); /* no fields: both are required */
	CHECK(snapshot_decode_header(b.data, b.len, &h) == -DV_ECORRUPT);
	le32_put(b.data + 12, plain);
	CHECK(snapshot_decode_header(b.data, b.len, &h) == 0);
	buf_release(&b);
	snapshot_free(s);
}
