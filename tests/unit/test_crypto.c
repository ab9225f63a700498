/* SPDX-License-Identifier: BSD-2-Clause */
#include "harness.h"
#include "base/err.h"
#include "base/hex.h"
#include "core/blob.h"
#include "core/crypto.h"

TEST(seal_open_round_trip)
{
	uint8_t key[32], msg[1000], sealed[1000 + CRYPTO_OVERHEAD], out[1000];
	test_fill(key, sizeof(key), 1);
	test_fill(msg, sizeof(msg), 2);
	REQUIRE(crypto_seal(sealed, key, "aad", 3, msg, sizeof(msg)) == 0);
	CHECK(crypto_open(out, key, "aad", 3, sealed, sizeof(sealed)) == 0);
	CHECK(memcmp(out, msg, sizeof(msg)) == 0);
	/* two seals of the same message differ (random nonce) */
	uint8_t again[sizeof(sealed)];
	REQUIRE(crypto_seal(again, key, "aad", 3, msg, sizeof(msg)) == 0);
	CHECK(memcmp(again, sealed, sizeof(sealed)) != 0);
}

TEST(tampering_is_detected)
{
	uint8_t key[32], msg[64], sealed[64 + CRYPTO_OVERHEAD], out[64];
	test_fill(key, sizeof(key), 3);
	test_fill(msg, sizeof(msg), 4);
	REQUIRE(crypto_seal(sealed, key, "x", 1, msg, sizeof(msg)) == 0);
	/* every single bit flip anywhere must fail authentication */
	for (size_t i = 0; i < sizeof(sealed); i++) {
		sealed[i] ^= 0x10;
		CHECK(crypto_open(out, key, "x", 1, sealed, sizeof(sealed)) == -DV_EBADKEY);
		sealed[i] ^= 0x10;
	}
	CHECK(crypto_open(out, key, "y", 1, sealed, sizeof(sealed)) == -DV_EBADKEY);
	key[0] ^= 1;
	CHECK(crypto_open(out, key, "x", 1, sealed, sizeof(sealed)) == -DV_EBADKEY);
	CHECK(crypto_open(out, key, "x", 1, sealed, CRYPTO_OVERHEAD - 1) == -DV_ECORRUPT);
}

/* RFC 7914 section 12, second vector. */
TEST(scrypt_known_answer)
{
	uint8_t out[32], want[32];
	REQUIRE(hex_decode(want, "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162", 32) == 0);
	REQUIRE(crypto_scrypt(out, "password", 8, (const uint8_t *)"NaCl", 4, 10, 8, 16) == 0);
	CHECK(memcmp(out, want, 32) == 0);
	CHECK(crypto_scrypt(out, "p", 1, (const uint8_t *)"s", 1, 40, 8, 1) == -EINVAL);
}

TEST(hmac_ids_are_keyed_and_deterministic)
{
	uint8_t k1[32] = { 1 }, k2[32] = { 2 }, a[32], b[32], c[32];
	crypto_hmac(a, k1, "data", 4);
	crypto_hmac(b, k1, "data", 4);
	crypto_hmac(c, k2, "data", 4);
	CHECK(memcmp(a, b, 32) == 0);
	CHECK(memcmp(a, c, 32) != 0);
}

static void keys_init(crypto_keys *k)
{
	test_fill((uint8_t *)k, sizeof(*k), 99);
}

TEST(blob_round_trip_compressible_and_not)
{
	crypto_keys k;
	keys_init(&k);
	blob_ctx *c;
	REQUIRE(blob_ctx_new(&c, &k, 3) == 0);
	size_t n = 100000;
	uint8_t *text = calloc(1, n), *rnd = malloc(n), id[32];
	REQUIRE(text && rnd);
	test_fill(rnd, n, 5);
	for (size_t i = 0; i < n; i++)
		text[i] = "hello dvalin "[i % 13];
	buf stored = BUF_INIT, out = BUF_INIT;
	blob_id(id, c, text, n);
	REQUIRE(blob_seal(c, &stored, BLOB_DATA, id, text, n) == 0);
	CHECK(stored.len < n / 10); /* compressed */
	CHECK(blob_open(c, &out, BLOB_DATA, id, stored.data, stored.len, n, 1) == 0);
	CHECK(out.len == n && memcmp(out.data, text, n) == 0);
	/* the id is bound: the same bytes under another id do not open */
	uint8_t other[32];
	memcpy(other, id, 32);
	other[0] ^= 1;
	CHECK(blob_open(c, &out, BLOB_DATA, other, stored.data, stored.len, n, 0) == -DV_EBADKEY);
	CHECK(blob_open(c, &out, BLOB_TREE, id, stored.data, stored.len, n, 0) < 0);
	stored.len = 0;
	blob_id(id, c, rnd, n);
	REQUIRE(blob_seal(c, &stored, BLOB_DATA, id, rnd, n) == 0);
	CHECK(stored.len == n + 1 + CRYPTO_OVERHEAD); /* stored raw (the sample said so) */
	CHECK(blob_open(c, &out, BLOB_DATA, id, stored.data, stored.len, n, 1) == 0);
	CHECK(memcmp(out.data, rnd, n) == 0);
	buf_release(&stored);
	buf_release(&out);
	free(text);
	free(rnd);
	blob_ctx_free(c);
}

TEST(tree_blob_children_are_readable_without_key)
{
	crypto_keys k;
	keys_init(&k);
	blob_ctx *c;
	REQUIRE(blob_ctx_new(&c, &k, 3) == 0);
	uint8_t plain[4 + 64 + 20], id[32];
	le32_put(plain, 2);
	test_fill(plain + 4, 64 + 20, 7);
	blob_id(id, c, plain, sizeof(plain));
	buf stored = BUF_INIT, out = BUF_INIT;
	REQUIRE(blob_seal(c, &stored, BLOB_TREE, id, plain, sizeof(plain)) == 0);
	const uint8_t *ids;
	uint32_t n;
	REQUIRE(blob_children(&ids, &n, stored.data, stored.len) == 0);
	CHECK(n == 2 && memcmp(ids, plain + 4, 64) == 0);
	CHECK(blob_open(c, &out, BLOB_TREE, id, stored.data, stored.len, sizeof(plain), 1) == 0);
	CHECK(out.len == sizeof(plain) && memcmp(out.data, plain, sizeof(plain)) == 0);
	/* the child list is authenticated: changing it breaks the blob */
	stored.data[4] ^= 1;
	CHECK(blob_open(c, &out, BLOB_TREE, id, stored.data, stored.len, sizeof(plain), 0) == -DV_EBADKEY);
	/* a count that points past the end is rejected */
	le32_put(stored.data, 1000000);
	CHECK(blob_children(&ids, &n, stored.data, stored.len) == -DV_ECORRUPT);
	buf_release(&stored);
	buf_release(&out);
	blob_ctx_free(c);
}

/* Sampling must not skip data that compresses only in part. */
TEST(mixed_payload_is_still_compressed)
{
	crypto_keys k;
	keys_init(&k);
	blob_ctx *c;
	REQUIRE(blob_ctx_new(&c, &k, 3) == 0);
	size_t n = 1 << 20;
	uint8_t *p = malloc(n), id[32];
	REQUIRE(p);
	test_fill(p, n, 11);
	memset(p + 4096, 'a', n / 2); /* compressible after the first slice */
	buf stored = BUF_INIT, out = BUF_INIT;
	blob_id(id, c, p, n);
	REQUIRE(blob_seal(c, &stored, BLOB_DATA, id, p, n) == 0);
	CHECK(stored.len < n * 3 / 4);
	CHECK(blob_open(c, &out, BLOB_DATA, id, stored.data, stored.len, n, 1) == 0);
	CHECK(out.len == n && memcmp(out.data, p, n) == 0);
	buf_release(&stored);
	buf_release(&out);
	free(p);
	blob_ctx_free(c);
}

/* The reusable per-thread contexts give the one-shot functions' results. */
TEST(reusable_contexts_match_one_shot)
{
	crypto_keys k;
	keys_init(&k);
	crypto_ctx *c;
	REQUIRE(crypto_ctx_new(&c, &k) == 0);
	uint8_t msg[3000], a[32], b[32];
	test_fill(msg, sizeof(msg), 3);
	for (size_t n = 0; n < sizeof(msg); n += 731) {
		crypto_ctx_id(c, a, msg, n);
		crypto_hmac(b, k.mac, msg, n);
		CHECK(memcmp(a, b, 32) == 0);
	}
	uint8_t sealed[sizeof(msg) + 1 + CRYPTO_OVERHEAD], out[sizeof(msg) + 1];
	const uint8_t head = 7;
	for (int round = 0; round < 3; round++) {
		REQUIRE(crypto_ctx_seal(c, sealed, "aad", 3, &head, 1, msg, sizeof(msg)) == 0);
		/* opened by the one-shot function and by the context alike */
		CHECK(crypto_open(out, k.enc, "aad", 3, sealed, sizeof(sealed)) == 0);
		CHECK(out[0] == 7 && memcmp(out + 1, msg, sizeof(msg)) == 0);
		memset(out, 0, sizeof(out));
		CHECK(crypto_ctx_open(c, out, "aad", 3, sealed, sizeof(sealed)) == 0);
		CHECK(out[0] == 7 && memcmp(out + 1, msg, sizeof(msg)) == 0);
		sealed[40] ^= 1;
		CHECK(crypto_ctx_open(c, out, "aad", 3, sealed, sizeof(sealed)) == -DV_EBADKEY);
	}
	/* in place, and a one-shot seal opened by the context */
	memcpy(sealed + CRYPTO_NONCE_LEN, msg, 100);
	REQUIRE(crypto_ctx_seal(c, sealed, NULL, 0, sealed + CRYPTO_NONCE_LEN, 100, NULL, 0) == 0);
	CHECK(crypto_ctx_open(c, out, NULL, 0, sealed, 100 + CRYPTO_OVERHEAD) == 0);
	CHECK(memcmp(out, msg, 100) == 0);
	REQUIRE(crypto_seal(sealed, k.enc, "z", 1, msg, 50) == 0);
	CHECK(crypto_ctx_open(c, out, "z", 1, sealed, 50 + CRYPTO_OVERHEAD) == 0);
	CHECK(memcmp(out, msg, 50) == 0);
	crypto_ctx_free(c);
}
