/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: a pack file (header, blobs, table, trailer).  The table is
 * parsed both ways dvalin reads it: pack_parse() over the whole file
 * (check --read-data, repair) and pack_read_table() through a backend,
 * trailer first (index rebuilds, prune).  Whatever the first accepts the
 * second must accept with the same entries, and every entry must lie
 * inside the blob area.
 *
 * A mutation almost never keeps the table's XXH3 checksum right, so each
 * input is also tried with the checksum recomputed (when the trailer
 * places the table inside the file): that lets the fuzzer reach the
 * entry checks behind it.
 */
#include "fuzz.h"

#include "backend/backend.h"
#include "base/buf.h"
#include "base/err.h"
#include "core/checksum.h"
#include "repo/format.h"
#include "repo/pack.h"

static backend *be;

static void one(const uint8_t *p, size_t n)
{
	pack_entry *e = NULL, *e2 = NULL;
	size_t ne = 0, ne2 = 0;
	uint8_t id[32] = { 0 };
	char name[80];
	int r = pack_parse(&e, &ne, p, n);
	pack_name(name, id);
	FUZZ_CHECK(backend_put(be, name, BACKEND_DATA, p, n) == 0);
	int r2 = pack_read_table(be, id, &e2, &ne2);
	if (r == 0) {
		FUZZ_CHECK(r2 == 0 && ne2 == ne);
		FUZZ_CHECK(ne == 0 || memcmp(e, e2, ne * sizeof(*e)) == 0);
		uint64_t table = n - PACK_TRAILER_LEN - (uint64_t)ne * PACK_ENTRY_LEN;
		for (size_t i = 0; i < ne; i++)
			FUZZ_CHECK(e[i].offset >= PACK_HEADER_LEN && e[i].stored_len > 0 &&
				   e[i].offset + e[i].stored_len <= table);
	}
	free(e);
	if (r2 == 0)
		free(e2);
	err_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!be && backend_open("mem:", 0, &be) < 0)
		abort();
	one(data, size);
	if (size < PACK_HEADER_LEN + PACK_TRAILER_LEN)
		return 0;
	const uint8_t *tr = data + size - PACK_TRAILER_LEN;
	uint64_t count = le32_get(tr), off = le64_get(tr + 8);
	if (off > size - PACK_TRAILER_LEN || count * PACK_ENTRY_LEN != size - PACK_TRAILER_LEN - off)
		return 0;
	uint8_t *fixed = malloc(size);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	uint8_t ck[16];
	checksum128(ck, fixed + off, (size_t)count * PACK_ENTRY_LEN);
	if (memcmp(ck, tr + 16, 16) != 0) {
		memcpy(fixed + size - PACK_TRAILER_LEN + 16, ck, 16);
		one(fixed, size);
	}
	free(fixed);
	return 0;
}
