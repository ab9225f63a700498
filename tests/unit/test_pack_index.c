/* SPDX-License-Identifier: BSD-2-Clause */
#include "harness.h"
#include "backend/backend.h"
#include "base/err.h"
#include "core/crypto.h"
#include "repo/format.h"
#include "repo/index.h"
#include "repo/pack.h"

#define NBLOBS 300

/* Builds a pack of NBLOBS random blobs; ids are their SHA-256. */
static void build_pack(pack_writer *w, uint8_t ids[][32], uint8_t pack_id[32])
{
	for (int i = 0; i < NBLOBS; i++) {
		uint8_t data[100 + NBLOBS];
		size_t n = 100 + (size_t)i;
		test_fill(data, n, (uint64_t)i + 1);
		crypto_sha256(ids[i], data, n);
		buf *b;
		REQUIRE(pack_writer_buf(w, &b) == 0);
		size_t start = b->len;
		REQUIRE(buf_append(b, data, n) == 0);
		REQUIRE(pack_writer_commit(w, 1 + (i % 2), ids[i], (uint32_t)n, start, NULL) == 0);
	}
	REQUIRE(pack_writer_finish(w, pack_id) == 0);
}

TEST(pack_table_round_trip_and_damage)
{
	pack_writer w = PACK_WRITER_INIT;
	static uint8_t ids[NBLOBS][32];
	uint8_t pid[32], check[32];
	build_pack(&w, ids, pid);
	size_t tail = NBLOBS * PACK_ENTRY_LEN + PACK_TRAILER_LEN;
	crypto_sha256(check, w.data.data + w.data.len - tail, tail);
	CHECK(memcmp(check, pid, 32) == 0);
	pack_entry *e;
	size_t n;
	REQUIRE(pack_parse(&e, &n, w.data.data, w.data.len) == 0);
	CHECK(n == NBLOBS);
	for (size_t i = 0; i < n; i++) {
		CHECK(memcmp(e[i].id, ids[i], 32) == 0);
		CHECK(e[i].stored_len == 100 + i);
		CHECK(e[i].type == 1 + (i % 2));
	}
	free(e);
	/* any flipped bit of the table or trailer is caught */
	size_t table = w.data.len - PACK_TRAILER_LEN - NBLOBS * PACK_ENTRY_LEN;
	for (size_t i = table; i < w.data.len; i += 7) {
		w.data.data[i] ^= 4;
		CHECK(pack_parse(&e, &n, w.data.data, w.data.len) < 0);
		w.data.data[i] ^= 4;
	}
	/* truncation at any length is an error, never a crash */
	for (size_t len = 0; len < w.data.len; len += 997)
		CHECK(pack_parse(&e, &n, w.data.data, len) < 0);
	pack_writer_release(&w);
}

TEST(pack_table_read_through_backend)
{
	backend *be;
	REQUIRE(backend_open("mem:", 0, &be) == 0);
	pack_writer w = PACK_WRITER_INIT;
	static uint8_t ids[NBLOBS][32];
	uint8_t pid[32];
	char name[80];
	build_pack(&w, ids, pid);
	pack_name(name, pid);
	REQUIRE(backend_put(be, name, BACKEND_DATA, w.data.data, w.data.len) == 0);
	pack_entry *e;
	size_t n;
	CHECK(pack_read_table(be, pid, &e, &n) == 0 && n == NBLOBS);
	free(e);
	REQUIRE(backend_put(be, name, BACKEND_DATA, w.data.data, w.data.len - 5) == 0);
	CHECK(pack_read_table(be, pid, &e, &n) == -DV_ECORRUPT);
	pack_writer_release(&w);
	backend_free(be);
}

/* The index is rebuilt from pack tables alone, then every blob is found. */
TEST(index_rebuilt_from_pack_tables_finds_every_blob)
{
	backend *be;
	REQUIRE(backend_open("mem:", 0, &be) == 0);
	static uint8_t ids[NBLOBS][32];
	uint8_t pid[32];
	pack_writer w = PACK_WRITER_INIT;
	build_pack(&w, ids, pid);
	pack_entry *e;
	size_t n;
	REQUIRE(pack_parse(&e, &n, w.data.data, w.data.len) == 0);
	index_entry *ie = calloc(n, sizeof(*ie));
	REQUIRE(ie);
	for (size_t i = 0; i < n; i++) {
		memcpy(ie[i].id, e[i].id, 32);
		ie[i].pack = 0;
		ie[i].offset = (uint32_t)e[i].offset;
		ie[i].stored_len = e[i].stored_len;
		ie[i].raw_len = e[i].raw_len;
		ie[i].type = e[i].type;
	}
	buf idx = BUF_INIT;
	REQUIRE(index_encode(&idx, ie, n, (const uint8_t(*)[32])pid, 1) == 0);
	CHECK(index_validate(idx.data, idx.len) == 0);
	REQUIRE(backend_put(be, "index/a", BACKEND_META, idx.data, idx.len) == 0);
	index_set *s;
	REQUIRE(index_set_new(&s) == 0);
	REQUIRE(index_set_load(s, be) == 0);
	for (size_t i = 0; i < NBLOBS; i++) {
		index_loc loc;
		CHECK(index_set_lookup(s, ids[i], &loc) == 0);
		CHECK(memcmp(loc.pack_id, pid, 32) == 0);
		CHECK(loc.offset == e[i].offset && loc.stored_len == e[i].stored_len);
	}
	uint8_t missing[32] = { 0xff };
	index_loc loc;
	CHECK(index_set_lookup(s, missing, &loc) == -DV_ENOTFOUND);
	index_set_free(s);
	/* a damaged index file is refused with its name */
	idx.data[idx.len / 2] ^= 1;
	CHECK(index_validate(idx.data, idx.len) == -DV_ECORRUPT);
	REQUIRE(backend_put(be, "index/a", BACKEND_META, idx.data, idx.len) == 0);
	REQUIRE(index_set_new(&s) == 0);
	CHECK(index_set_load(s, be) == -DV_ECORRUPT);
	CHECK(strstr(err_msg(0), "index/a") != NULL);
	index_set_free(s);
	for (size_t len = 0; len < idx.len; len += 331)
		CHECK(index_validate(idx.data, len) < 0);
	buf_release(&idx);
	free(ie);
	free(e);
	pack_writer_release(&w);
	backend_free(be);
}

static int count_one(void *ud, const uint8_t *id, const index_loc *loc)
{
	(void)id;
	(void)loc;
	++*(uint64_t *)ud;
	return 0;
}

TEST(index_set_new_blobs_and_write)
{
	backend *be;
	index_set *s, *t;
	REQUIRE(backend_open("mem:", 0, &be) == 0);
	REQUIRE(index_set_new(&s) == 0);
	uint32_t slot;
	uint8_t pid[32] = { 9 }, id[32];
	REQUIRE(index_set_pack_slot(s, &slot) == 0);
	for (uint32_t i = 0; i < 100000; i++) {
		crypto_sha256(id, &i, sizeof(i));
		REQUIRE(index_set_add(s, id, 1, slot, i * 10, 10, 20) == 0);
	}
	/* not written until the pack is stored */
	CHECK(index_set_write(s, be) == 0);
	REQUIRE(index_set_new(&t) == 0);
	REQUIRE(index_set_load(t, be) == 0);
	CHECK(index_set_file_count(t) == 0);
	index_set_free(t);
	index_set_pack_stored(s, slot, pid);
	CHECK(index_set_write(s, be) == 0);
	REQUIRE(index_set_new(&t) == 0);
	REQUIRE(index_set_load(t, be) == 0);
	CHECK(index_set_file_count(t) == 1);
	for (uint32_t i = 0; i < 100000; i++) {
		index_loc loc;
		crypto_sha256(id, &i, sizeof(i));
		CHECK(index_set_lookup(t, id, &loc) == 0 && loc.offset == i * 10);
	}
	index_set_free(t);
	index_set_free(s);
	backend_free(be);
}

/* One index file of n entries: ids from seed (some made to share the first
 * 8 bytes of the one before), offsets tagging the file. */
static void write_index_file(backend *be, uint32_t seed, uint32_t n, uint32_t tag,
			     const uint8_t (*ids_from)[32], uint32_t nfrom)
{
	index_entry *e = calloc(n, sizeof(*e));
	uint8_t pack[1][32] = { { (uint8_t)tag } };
	REQUIRE(e);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = seed + i;
		if (i < nfrom)
			memcpy(e[i].id, ids_from[i], 32);          /* an id another file has */
		else
			crypto_sha256(e[i].id, &k, sizeof(k));
		if (i % 7 == 3 && i >= nfrom && i > 0) {            /* same prefix, another id */
			memcpy(e[i].id, e[i - 1].id, 8);
			e[i].id[20] ^= 0x5a;
		}
		e[i].pack = 0;
		e[i].offset = tag << 24 | i;
		e[i].stored_len = 10 + i % 5;
		e[i].raw_len = 20;
		e[i].type = 1 + (i % 2);
	}
	char name[80];
	REQUIRE(index_write_entries(be, e, n, (const uint8_t(*)[32])pack, 1, name) == 0);
	free(e);
}

static void same_loc(const index_set *s, const index_set *t, const uint8_t id[32])
{
	index_loc a, b;
	int ra = index_set_lookup(s, id, &a), rb = index_set_lookup(t, id, &b);
	CHECK(ra == rb);
	if (ra == 0 && rb == 0)
		CHECK(a.offset == b.offset && a.pos == b.pos && a.type == b.type &&
		      a.stored_len == b.stored_len && memcmp(a.pack_id, b.pack_id, 32) == 0);
}

TEST(index_merge_answers_as_the_files_do)
{
	for (int big = 0; big < 2; big++) {
		backend *be;
		REQUIRE(backend_open("mem:", 0, &be) == 0);
		uint32_t n = big ? 40000 : 300; /* 16-bit and 8-bit fan-outs */
		static uint8_t shared[50][32];
		for (uint32_t i = 0; i < 50; i++) {
			uint32_t k = 900000000 + i;
			crypto_sha256(shared[i], &k, sizeof(k));
		}
		/* three files; the shared ids are in each, with different places */
		for (uint32_t f = 0; f < 3; f++)
			write_index_file(be, f * 1000000, n, f + 1, (const uint8_t(*)[32])shared, 50);
		index_set *plain, *merged;
		REQUIRE(index_set_new(&plain) == 0 && index_set_new(&merged) == 0);
		REQUIRE(index_set_load(plain, be) == 0 && index_set_load(merged, be) == 0);
		REQUIRE(index_set_merge(merged) == 0);
		uint8_t id[32];
		for (uint32_t f = 0; f < 3; f++) {
			for (uint32_t i = 0; i < n; i++) {
				uint32_t k = f * 1000000 + i;
				crypto_sha256(id, &k, sizeof(k));
				same_loc(plain, merged, id);
				if (i % 7 == 3) { /* the twin with the same first 8 bytes */
					uint32_t p = k - 1;
					uint8_t prev[32];
					crypto_sha256(prev, &p, sizeof(p));
					memcpy(id, prev, 8);
					id[20] ^= 0x5a;
					same_loc(plain, merged, id);
				}
				index_loc l;
				id[31] ^= 1; /* present prefix, absent id */
				CHECK(index_set_lookup(merged, id, &l) == -DV_ENOTFOUND);
			}
		}
		for (uint32_t i = 0; i < 50; i++)
			same_loc(plain, merged, shared[i]);
		/* a file loaded later: the merged view goes, the lookups stay right */
		write_index_file(be, 5000000, 100, 9, (const uint8_t(*)[32])shared, 10);
		REQUIRE(index_set_load_new(merged, be, merged) == 0);
		REQUIRE(index_set_load_new(plain, be, plain) == 0);
		for (uint32_t i = 0; i < 50; i++)
			same_loc(plain, merged, shared[i]);
		uint32_t k = 5000000 + 60;
		crypto_sha256(id, &k, sizeof(k));
		index_loc l;
		CHECK(index_set_lookup(merged, id, &l) == 0 && l.offset == (9u << 24 | 60));
		REQUIRE(index_set_merge(merged) == 0);
		CHECK(index_set_lookup(merged, id, &l) == 0 && l.offset == (9u << 24 | 60));
		for (uint32_t i = 0; i < 50; i++)
			same_loc(plain, merged, shared[i]);
		index_set_free(plain);
		index_set_free(merged);
		backend_free(be);
	}
}

/* The entries of every index file in be (SIZE_MAX if they cannot be read). */
static size_t entries_in_files(backend *be)
{
	index_set *t;
	size_t n = SIZE_MAX;
	if (index_set_new(&t) < 0)
		return n;
	if (index_set_load(t, be) == 0)
		n = (size_t)index_set_positions(t);
	index_set_free(t);
	return n;
}

TEST(index_set_writes_each_blob_once_across_writes_and_growth)
{
	backend *be;
	index_set *s;
	REQUIRE(backend_open("mem:", 0, &be) == 0);
	REQUIRE(index_set_new(&s) == 0);
	uint8_t id[32], pid[32];
	uint32_t slots[3];
	for (uint32_t p = 0; p < 3; p++)
		REQUIRE(index_set_pack_slot(s, &slots[p]) == 0);
	/* three packs' blobs, the table growing several times in between;
	 * pack 1 is stored last, so its blobs wait through two writes */
	for (uint32_t i = 0; i < 30000; i++) {
		crypto_sha256(id, &i, sizeof(i));
		REQUIRE(index_set_add(s, id, 1, slots[i % 3], i, 10, 20) == 0);
	}
	memset(pid, 1, 32);
	index_set_pack_stored(s, slots[0], pid);
	REQUIRE(index_set_write(s, be) == 0);
	CHECK(entries_in_files(be) == 10000);
	for (uint32_t i = 30000; i < 60000; i++) { /* more growth, more of packs 0 and 2 */
		crypto_sha256(id, &i, sizeof(i));
		REQUIRE(index_set_add(s, id, 1, slots[i % 3 == 1 ? 0 : i % 3], i, 10, 20) == 0);
	}
	memset(pid, 2, 32);
	index_set_pack_stored(s, slots[2], pid);
	REQUIRE(index_set_write(s, be) == 0);
	CHECK(entries_in_files(be) == 10000 + 20000 + 20000);
	memset(pid, 3, 32);
	index_set_pack_stored(s, slots[1], pid);
	REQUIRE(index_set_write(s, be) == 0);
	CHECK(entries_in_files(be) == 60000);
	REQUIRE(index_set_write(s, be) == 0); /* nothing new: no file */
	CHECK(entries_in_files(be) == 60000);
	index_set *t;
	REQUIRE(index_set_new(&t) == 0);
	REQUIRE(index_set_load(t, be) == 0);
	for (uint32_t i = 0; i < 60000; i++) {
		index_loc loc;
		crypto_sha256(id, &i, sizeof(i));
		CHECK(index_set_lookup(t, id, &loc) == 0 && loc.offset == i);
	}
	index_set_free(t);
	index_set_free(s);
	backend_free(be);
}

/*
 * Many index files are searched through merged runs: every lookup must
 * give what a search of the files newest first gives (an id in several
 * files: the newest file's entry), misses must miss, and the blobs a
 * session writes leave its table for the mapped files and runs.
 */
static uint32_t newest_file(uint32_t i, uint32_t files, uint32_t half)
{
	uint32_t f = i / half;
	return f < files ? f : files - 1;
}

/* exact: the newest file must win (a session's files are in the order
 * written); else any file holding the id (a load lists files in no order) */
static int lookups_match(index_set *s, uint32_t files, uint32_t per, int exact)
{
	int ok = 1;
	uint8_t id[32];
	for (uint32_t i = 0; i < (files + 1) * per / 2; i++) {
		index_loc loc;
		crypto_sha256(id, &i, sizeof(i));
		uint32_t f = newest_file(i, files, per / 2);
		int found = index_set_lookup(s, id, &loc) == 0 && loc.pack_id;
		int holds = found && (loc.offset == f || (loc.offset + 1 == f && i < loc.offset * per / 2 + per));
		ok &= found && (exact ? loc.offset == f : holds) && loc.pack_id[0] == loc.offset + 1 &&
		      loc.stored_len == 10;
	}
	for (uint32_t i = 1u << 30; i < (1u << 30) + 20000; i++) {
		index_loc loc;
		crypto_sha256(id, &i, sizeof(i));
		ok &= index_set_lookup(s, id, &loc) == -DV_ENOTFOUND;
	}
	return ok;
}

/* Index files (files of them, per ids each) written by one session, then loaded. */
static void runs_case(uint32_t files, uint32_t per)
{
	backend *be;
	index_set *s, *t;
	REQUIRE(backend_open("mem:", 0, &be) == 0);
	REQUIRE(index_set_new(&s) == 0);
	uint8_t id[32];
	/* file f holds ids f*per/2 .. f*per/2 + per: each overlaps the next */
	for (uint32_t f = 0; f < files; f++) {
		uint32_t slot;
		uint8_t pid[32] = { 0 };
		pid[0] = (uint8_t)(f + 1);
		REQUIRE(index_set_pack_slot(s, &slot) == 0);
		for (uint32_t i = f * per / 2; i < f * per / 2 + per; i++) {
			crypto_sha256(id, &i, sizeof(i));
			REQUIRE(index_set_add(s, id, 1, slot, f, 10, 20) == 0);
		}
		index_set_pack_stored(s, slot, pid);
		REQUIRE(index_set_write(s, be) == 0);
		/* the session finds its blobs in the files it wrote and mapped */
		if (f == 2 || f == files - 1)
			CHECK(lookups_match(s, f + 1, per, 1));
	}
	CHECK(index_set_file_count(s) == files);
	/* a fresh load of the same files answers the same */
	REQUIRE(index_set_new(&t) == 0);
	REQUIRE(index_set_load(t, be) == 0);
	CHECK(index_set_file_count(t) == files);
	CHECK(lookups_match(t, files, per, 0));
	/* every entry of every file is still visited (duplicates too) */
	uint64_t seen = 0;
	CHECK(index_set_foreach(t, count_one, &seen) == 0 && seen == (uint64_t)files * per);
	index_set_free(t);
	index_set_free(s);
	backend_free(be);
}

TEST(index_runs_answer_like_the_files_newest_first)
{
	runs_case(23, 3000);
}

/* 4,800 ids: every run below the 1 MiB searched through its mapping */
TEST(small_index_runs_searched_through_their_mappings_answer_the_same)
{
	runs_case(23, 400);
}

/*
 * 240,000 ids in 23 files, merged 4 at a time and then pairwise: the
 * runs are larger than the 1 MiB searched through a mapping, so lookups
 * go through the sparse arrays and the block cache (pread), misses
 * included, and a 4 MiB cache holds only part of them.
 */
TEST(index_runs_read_by_block_answer_the_same)
{
	runs_case(23, 20000);
}
