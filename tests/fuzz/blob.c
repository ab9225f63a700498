/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the envelope of a stored blob (docs/format.md, "Blobs and
 * the blob envelope"), behind the authentication: the part only someone
 * holding the key can forge.  Input:
 *
 *   u8 type (low bit: 0 data, 1 tree) | le32 plaintext length | rest
 *
 * For a tree, rest starts with the child id region (le32 n | n ids) when
 * it fits; what follows is the inner plaintext (u8 compression | payload)
 * that the harness seals with the fixed fuzz keys, with the additional
 * data blob_seal() uses.  blob_open() must refuse it or give exactly the
 * plaintext length asked for; a plaintext it gives must open again under
 * its own id with verification, and survive blob_seal() -> blob_open().
 * The plaintext length is capped at 16 MiB here (the format allows 256
 * MiB), so one input cannot allocate that much.
 */
#include "fuzz.h"

#include "base/buf.h"
#include "base/err.h"
#include "core/blob.h"

#define RAW_CAP ((size_t)16 << 20)

static blob_ctx *ctx;
static crypto_keys keys;

/* stored = region | seal(aad = "dvblob1" | type | id | region, inner) */
static int make_stored(buf *out, int type, const uint8_t id[32], const uint8_t *region, size_t rlen,
		       const uint8_t *inner, size_t ilen)
{
	buf aad = BUF_INIT;
	int r = fuzz_blob_aad(&aad, type, id, region, rlen);
	out->len = 0;
	r = r ?: buf_reserve(out, rlen + ilen + CRYPTO_OVERHEAD);
	if (r == 0) {
		memcpy(out->data, region, rlen);
		r = crypto_seal(out->data + rlen, keys.enc, aad.data, aad.len, inner, ilen);
		out->len = rlen + ilen + CRYPTO_OVERHEAD;
	}
	buf_release(&aad);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ctx) {
		fuzz_keys(&keys);
		if (blob_ctx_new(&ctx, &keys, 3) < 0)
			abort();
	}
	if (size < 5)
		return 0;
	int type = data[0] & 1 ? BLOB_TREE : BLOB_DATA;
	size_t raw_len = le32_get(data + 1) % (RAW_CAP + 1);
	const uint8_t *rest = data + 5;
	size_t rlen = 0, left = size - 5;
	if (type == BLOB_TREE) {
		if (left < 4)
			return 0; /* no region: the nonce would be read as one */
		uint64_t cnt = le32_get(rest);
		rlen = cnt <= (left - 4) / 32 ? 4 + (size_t)cnt * 32 : left;
	}
	uint8_t id[32] = { 0 };
	buf stored = BUF_INIT, plain = BUF_INIT, again = BUF_INIT, sealed = BUF_INIT;
	if (make_stored(&stored, type, id, rest, rlen, rest + rlen, left - rlen) < 0)
		goto out;
	if (type == BLOB_TREE) {
		const uint8_t *ids;
		uint32_t n;
		/* keyless: the ids lie within the stored bytes; the region's when it fits */
		if (blob_children(&ids, &n, stored.data, stored.len) == 0)
			FUZZ_CHECK(ids == stored.data + 4 && 4 + (size_t)n * 32 <= stored.len &&
				   (rlen == left || 4 + (size_t)n * 32 == rlen));
	}
	if (blob_open(ctx, &plain, type, id, stored.data, stored.len, raw_len, 0) < 0)
		goto out;
	FUZZ_CHECK(plain.len == raw_len);
	FUZZ_CHECK(rlen == 0 || memcmp(plain.data, rest, rlen) == 0);
	/* under its true id, with verification */
	blob_id(id, ctx, plain.data, plain.len);
	FUZZ_CHECK(make_stored(&stored, type, id, rest, rlen, rest + rlen, left - rlen) == 0);
	FUZZ_CHECK(blob_open(ctx, &again, type, id, stored.data, stored.len, raw_len, 1) == 0);
	FUZZ_CHECK(again.len == plain.len && (!plain.len || memcmp(again.data, plain.data, plain.len) == 0));
	/* and as blob_seal() stores it */
	FUZZ_CHECK(blob_seal(ctx, &sealed, type, id, plain.data, plain.len) == 0);
	FUZZ_CHECK(blob_open(ctx, &again, type, id, sealed.data, sealed.len, plain.len, 1) == 0);
	FUZZ_CHECK(again.len == plain.len && (!plain.len || memcmp(again.data, plain.data, plain.len) == 0));
out:
	err_clear();
	buf_release(&stored);
	buf_release(&plain);
	buf_release(&again);
	buf_release(&sealed);
	return 0;
}
