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
		REQUIRE(pack_writer_commit(w, 1 + (i % 2), ids[i], (uint32_t)n, start) == 0);
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
