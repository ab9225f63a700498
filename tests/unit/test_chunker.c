/* SPDX-License-Identifier: BSD-2-Clause */
#include "harness.h"
#include "core/chunker.h"
#include "core/crypto.h"

#define MB (1u << 20)

static void make_chunker(chunker *c, uint8_t seedbyte)
{
	uint8_t seed[32];
	uint64_t gear[256];
	memset(seed, seedbyte, sizeof(seed));
	crypto_derive((uint8_t *)gear, sizeof(gear), seed, "dvalin-gear-v1");
	chunker_params p = CHUNKER_PARAMS_INIT;
	chunker_init(c, &p, gear);
}

/* Cuts a whole buffer; returns the number of chunks, their ends in ends[]. */
static size_t cut_all(const chunker *c, const uint8_t *p, size_t n, size_t *ends, size_t max)
{
	size_t off = 0, k = 0;
	while (off < n && k < max) {
		size_t l = chunker_cut(c, p + off, n - off);
		off += l;
		ends[k++] = off;
	}
	return k;
}

TEST(chunk_sizes_within_bounds_and_near_average)
{
	chunker c;
	make_chunker(&c, 1);
	size_t n = 64 * MB;
	uint8_t *p = malloc(n);
	size_t *ends = malloc(4096 * sizeof(*ends));
	REQUIRE(p && ends);
	test_fill(p, n, 42);
	size_t k = cut_all(&c, p, n, ends, 4096);
	CHECK(ends[k - 1] == n);
	for (size_t i = 0; i + 1 < k; i++) {
		size_t len = ends[i] - (i ? ends[i - 1] : 0);
		CHECK(len >= c.p.min && len <= c.p.max);
	}
	double avg = (double)n / (double)k;
	CHECK(avg > 0.6 * MB && avg < 1.8 * MB);
	free(p);
	free(ends);
}

TEST(chunking_is_deterministic_and_keyed)
{
	chunker a, b, other;
	make_chunker(&a, 7);
	make_chunker(&b, 7);
	make_chunker(&other, 8);
	size_t n = 16 * MB;
	uint8_t *p = malloc(n);
	size_t e1[256], e2[256], e3[256];
	REQUIRE(p);
	test_fill(p, n, 9);
	size_t k1 = cut_all(&a, p, n, e1, 256), k2 = cut_all(&b, p, n, e2, 256);
	size_t k3 = cut_all(&other, p, n, e3, 256);
	CHECK(k1 == k2 && memcmp(e1, e2, k1 * sizeof(size_t)) == 0);
	CHECK(k1 != k3 || memcmp(e1, e3, k1 * sizeof(size_t)) != 0);
	free(p);
}

/* Inserting bytes shifts content; boundaries after the edit must re-align. */
TEST(boundaries_survive_an_insertion)
{
	chunker c;
	make_chunker(&c, 3);
	size_t n = 32 * MB, ins = 1000, at = 10 * MB + 12345;
	uint8_t *a = malloc(n), *b = malloc(n + ins);
	size_t ea[512], eb[512];
	REQUIRE(a && b);
	test_fill(a, n, 5);
	memcpy(b, a, at);
	test_fill(b + at, ins, 77);
	memcpy(b + at + ins, a + at, n - at);
	size_t ka = cut_all(&c, a, n, ea, 512), kb = cut_all(&c, b, n + ins, eb, 512);
	/* count boundaries of b that are boundaries of a, shifted after the edit */
	size_t shared = 0;
	for (size_t i = 0; i < kb; i++) {
		size_t e = eb[i] > at ? eb[i] - ins : eb[i];
		for (size_t j = 0; j < ka; j++)
			if (ea[j] == e) {
				shared++;
				break;
			}
	}
	CHECK(shared + 3 >= kb);
	CHECK(ka > 10);
	free(a);
	free(b);
}

TEST(short_input_is_one_chunk)
{
	chunker c;
	make_chunker(&c, 1);
	uint8_t p[100] = { 0 };
	CHECK(chunker_cut(&c, p, sizeof(p)) == sizeof(p));
	CHECK(chunker_cut(&c, p, 0) == 0);
}

TEST(params_validation)
{
	chunker_params ok = CHUNKER_PARAMS_INIT, bad = { 1000, 999, 5000 }, npot = { 64, 1000, 5000 };
	CHECK(chunker_params_is_valid(&ok));
	CHECK(!chunker_params_is_valid(&bad));
	CHECK(!chunker_params_is_valid(&npot));
}

/* Cuts with candidates from nparts scans of [0, n) (cap each). */
static size_t cut_all_cands(const chunker *c, const uint8_t *p, size_t n, size_t *ends, size_t max,
			    size_t nparts, size_t cap)
{
	chunker_cands parts[16];
	for (size_t k = 0; k < nparts; k++) {
		parts[k] = (chunker_cands){ malloc(cap * sizeof(uint32_t)), 0, cap, n * k / nparts,
					    n * (k + 1) / nparts, 0 };
		if (!parts[k].pos)
			abort();
		chunker_scan(c, p, &parts[k]);
	}
	size_t off = 0, k = 0;
	while (off < n && k < max) {
		off += chunker_cut_cands(c, p, off, n - off, parts, nparts);
		ends[k++] = off;
	}
	for (size_t i = 0; i < nparts; i++)
		free(parts[i].pos);
	return k;
}

/* The parallel search gives chunker_cut()'s boundaries exactly, however
 * the buffer is split, and where candidates are dense too. */
TEST(candidate_scan_cuts_like_the_serial_chunker)
{
	chunker c;
	make_chunker(&c, 3);
	size_t n = 24 * MB;
	uint8_t *p = malloc(n);
	size_t *e1 = malloc(4096 * sizeof(size_t)), *e2 = malloc(4096 * sizeof(size_t));
	REQUIRE(p && e1 && e2);
	test_fill(p, n, 9);
	/* runs of a repeated byte and short repeating patterns in between */
	memset(p + 3 * MB, 0, MB);
	for (size_t i = 9 * MB; i < 11 * MB; i++)
		p[i] = (uint8_t)(i % 7);
	for (int b = 0; b < 256; b++)
		memset(p + 14 * MB + (size_t)b * 4096, b, 4096);
	size_t k1 = cut_all(&c, p, n, e1, 4096);
	static const size_t splits[] = { 1, 2, 3, 7, 16 };
	for (size_t s = 0; s < sizeof(splits) / sizeof(*splits); s++) {
		for (size_t cap = 4; cap <= 100000; cap *= 50) {
			size_t k2 = cut_all_cands(&c, p, n, e2, 4096, splits[s], cap);
			CHECK(k1 == k2 && memcmp(e1, e2, k1 * sizeof(size_t)) == 0);
		}
	}
	/* every byte value as the repeated one: some pass the mask everywhere */
	uint8_t *z = malloc(4 * MB);
	REQUIRE(z);
	for (int b = 0; b < 256; b += 5) {
		memset(z, b, 4 * MB);
		k1 = cut_all(&c, z, 4 * MB, e1, 4096);
		size_t k2 = cut_all_cands(&c, z, 4 * MB, e2, 4096, 3, 1000);
		CHECK(k1 == k2 && memcmp(e1, e2, k1 * sizeof(size_t)) == 0);
	}
	free(z);
	free(p);
	free(e1);
	free(e2);
}
