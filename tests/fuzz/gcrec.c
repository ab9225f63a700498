/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: a condemned-pack record (gc/<hex>).  A record that
 * decodes must encode back to the same bytes (the format has no slack).
 * Each input is also tried with its checksum recomputed.
 */
#include "fuzz.h"

#include "base/buf.h"
#include "base/err.h"
#include "core/checksum.h"
#include "repo/format.h"
#include "repo/gcrec.h"

static void one(const uint8_t *p, size_t n)
{
	gc_record r;
	memset(&r, 0, sizeof(r));
	if (gc_record_decode(&r, p, n) == 0) {
		buf out = BUF_INIT;
		FUZZ_CHECK(gc_record_encode(&out, &r) == 0);
		FUZZ_CHECK(out.len == n && memcmp(out.data, p, n) == 0);
		buf_release(&out);
		free(r.packs);
	}
	err_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size);
	if (size < GCREC_HEADER_LEN + 16)
		return 0;
	uint8_t *fixed = malloc(size);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	checksum128(fixed + size - 16, fixed, size - 16);
	if (memcmp(fixed + size - 16, data + size - 16, 16) != 0)
		one(fixed, size);
	free(fixed);
	return 0;
}
