/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: an index file.  index_validate() must accept exactly what
 * index_set_load() loads; after that every lookup is a binary search over
 * the file in place, so the target checks that every entry of a valid
 * file is found where it is, that ids next to it are found exactly when
 * present, and that iteration visits every entry once.
 *
 * Each input is also tried with its trailer checksum recomputed, so
 * mutations reach the fan-out, order and reference checks behind it.
 */
#include "fuzz.h"

#include "backend/backend.h"
#include "base/buf.h"
#include "base/err.h"
#include "core/checksum.h"
#include "repo/format.h"
#include "repo/index.h"

static size_t nseen;

static int count_cb(void *ud, const uint8_t *id, const index_loc *loc)
{
	(void)ud;
	(void)id;
	(void)loc;
	nseen++;
	return 0;
}

/* Whether id is among the n entries at ent (a linear scan, the model). */
static const uint8_t *find_linear(const uint8_t *ent, size_t n, const uint8_t id[32])
{
	for (size_t k = 0; k < n; k++)
		if (memcmp(ent + k * INDEX_ENTRY_LEN, id, 32) == 0)
			return ent + k * INDEX_ENTRY_LEN;
	return NULL;
}

static void lookups(const index_set *s, const uint8_t *p, size_t n)
{
	uint32_t npacks = le32_get(p + 12), nblobs = le32_get(p + 16);
	const uint8_t *packs = p + INDEX_HEADER_LEN + INDEX_FANOUT_LEN;
	const uint8_t *ent = packs + (size_t)npacks * 32;
	(void)n;
	for (uint32_t k = 0; k < nblobs; k++) {
		const uint8_t *e = ent + (size_t)k * INDEX_ENTRY_LEN;
		index_loc loc;
		FUZZ_CHECK(index_set_lookup(s, e, &loc) == 0);
		FUZZ_CHECK(memcmp(loc.pack_id, packs + (size_t)le32_get(e + 32) * 32, 32) == 0);
		FUZZ_CHECK(loc.offset == le32_get(e + 36) && loc.stored_len == le32_get(e + 40) &&
			   loc.raw_len == le32_get(e + 44) && loc.type == e[48]);
		FUZZ_CHECK(loc.pos < index_set_positions(s));
		/* neighbours: the same id with its first, a middle or last byte changed */
		static const int at[] = { 0, 1, 9, 31 };
		for (size_t j = 0; j < sizeof(at) / sizeof(at[0]); j++) {
			for (int delta = -1; delta <= 1; delta += 2) {
				uint8_t id[32];
				memcpy(id, e, 32);
				id[at[j]] = (uint8_t)(id[at[j]] + delta);
				int found = index_set_lookup(s, id, &loc) == 0;
				FUZZ_CHECK(found == (find_linear(ent, nblobs, id) != NULL));
			}
		}
	}
	nseen = 0;
	FUZZ_CHECK(index_set_foreach(s, count_cb, NULL) == 0 && nseen == nblobs);
}

static void one(backend *be, const uint8_t *p, size_t n)
{
	index_set *s;
	int v = index_validate(p, n);
	FUZZ_CHECK(backend_put(be, "index/f", BACKEND_META, p, n) == 0);
	if (index_set_new(&s) < 0)
		return;
	int r = index_set_load(s, be);
	FUZZ_CHECK((r == 0) == (v == 0));
	if (r == 0) {
		FUZZ_CHECK(index_set_file_count(s) == 1);
		lookups(s, p, n);
	}
	index_set_free(s);
	err_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static backend *be;
	if (!be && backend_open("mem:", 0, &be) < 0)
		abort();
	one(be, data, size);
	size_t min = INDEX_HEADER_LEN + INDEX_FANOUT_LEN + INDEX_TRAILER_LEN;
	if (size < min)
		return 0;
	uint8_t *fixed = malloc(size);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	uint8_t *tr = fixed + size - INDEX_TRAILER_LEN;
	uint8_t ck[16];
	checksum128(ck, fixed, size - INDEX_TRAILER_LEN);
	if (memcmp(ck, tr, 16) != 0 || memcmp(tr + 16, INDEX_END_MAGIC, MAGIC_LEN) != 0) {
		memcpy(tr, ck, 16);
		memcpy(tr + 16, INDEX_END_MAGIC, MAGIC_LEN);
		one(be, fixed, size);
	}
	free(fixed);
	return 0;
}
