/* SPDX-License-Identifier: BSD-2-Clause */
#include "blob.h"
#include "../base/cleanup.h"
#include "../base/err.h"

#include <errno.h>
#include <string.h>
#include <zstd.h>

struct blob_ctx {
	const crypto_keys *keys;
	int level;
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	crypto_ctx *cc; /* this thread's HMAC and AES-GCM contexts */
	buf tmp;
};

int blob_ctx_new(blob_ctx **out, const crypto_keys *keys, int level)
{
	blob_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->keys = keys;
	c->level = level;
	c->cctx = ZSTD_createCCtx();
	c->dctx = ZSTD_createDCtx();
	if (!c->cctx || !c->dctx || crypto_ctx_new(&c->cc, keys) < 0) {
		blob_ctx_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void blob_ctx_free(blob_ctx *c)
{
	if (!c)
		return;
	ZSTD_freeCCtx(c->cctx);
	ZSTD_freeDCtx(c->dctx);
	crypto_ctx_free(c->cc);
	buf_release(&c->tmp);
	free(c);
}

void blob_id(uint8_t out[32], blob_ctx *c, const void *plain, size_t n)
{
	crypto_ctx_id(c->cc, out, plain, n);
}

/* Length of the child id region at the start of a tree plaintext/stored blob. */
static int children_len(size_t *out, const uint8_t *p, size_t n)
{
	if (n < 4)
		return -DV_ECORRUPT;
	uint32_t cnt = le32_get(p);
	if (cnt > BLOB_MAX_CHILDREN || (size_t)cnt * 32 > n - 4)
		return -DV_ECORRUPT;
	*out = 4 + (size_t)cnt * 32;
	return 0;
}

static int make_aad(buf *aad, int type, const uint8_t id[32], const uint8_t *region, size_t rlen)
{
	int r = buf_append(aad, "dvblob1", 7);
	if (!r)
		r = buf_put_u8(aad, (uint8_t)type);
	if (!r)
		r = buf_append(aad, id, 32);
	if (!r)
		r = buf_append(aad, region, rlen);
	return r;
}

/*
 * Whether compressing p is worth trying: large payloads are sampled first
 * (three 4 KiB slices compressed at level 1), so incompressible data
 * (media, encrypted or already compressed files) costs no full zstd pass.
 */
static int worth_compressing(blob_ctx *c, const uint8_t *p, size_t n)
{
	enum { SLICE = 4096 };
	if (n < 16 * SLICE)
		return 1;
	uint8_t sample[3 * SLICE];
	memcpy(sample, p, SLICE);
	memcpy(sample + SLICE, p + n / 2, SLICE);
	memcpy(sample + 2 * SLICE, p + n - SLICE, SLICE);
	size_t bound = ZSTD_compressBound(sizeof(sample));
	c->tmp.len = 0;
	if (buf_reserve(&c->tmp, bound) < 0)
		return 1;
	size_t z = ZSTD_compressCCtx(c->cctx, c->tmp.data, bound, sample, sizeof(sample), 1);
	return ZSTD_isError(z) || z < sizeof(sample) - sizeof(sample) / 32;
}

int blob_seal(blob_ctx *c, buf *out, int type, const uint8_t id[32], const void *plain, size_t n)
{
	const uint8_t *p = plain;
	size_t region = 0;
	int r;
	if (n > BLOB_MAX_RAW)
		return -EFBIG;
	if (type == BLOB_TREE && (r = children_len(&region, p, n)) < 0)
		return r;
	const uint8_t *body = p + region;
	size_t body_len = n - region;
	size_t bound = ZSTD_compressBound(body_len);
	buf _cleanup_(buf_releasep) aad = BUF_INIT;
	if ((r = make_aad(&aad, type, id, p, region)) < 0)
		return r;
	if ((r = buf_reserve(out, region + CRYPTO_OVERHEAD + 1 + MAX(bound, body_len))) < 0)
		return r;

	/*
	 * Built in place: the child region, then the inner plaintext
	 * (compression byte, payload compressed if it pays) right where the
	 * ciphertext goes, encrypted over itself.  A payload stored as it is
	 * is encrypted straight from the caller's buffer (no copy).
	 */
	uint8_t *dst = out->data + out->len;
	uint8_t *inner = dst + region + CRYPTO_NONCE_LEN;
	size_t inner_len = 0;
	memcpy(dst, p, region);
	if (c->level > 0 && body_len >= 128 && worth_compressing(c, body, body_len)) {
		size_t z = ZSTD_compressCCtx(c->cctx, inner + 1, bound, body, body_len, c->level);
		if (!ZSTD_isError(z) && z < body_len - body_len / 32) {
			inner[0] = 1;
			inner_len = 1 + z;
		}
	}
	if (inner_len) {
		r = crypto_ctx_seal(c->cc, dst + region, aad.data, aad.len, inner, inner_len, NULL, 0);
	} else {
		static const uint8_t raw = 0;
		inner_len = 1 + body_len;
		r = crypto_ctx_seal(c->cc, dst + region, aad.data, aad.len, &raw, 1, body, body_len);
	}
	if (r < 0)
		return r;
	out->len += region + inner_len + CRYPTO_OVERHEAD;
	return 0;
}

int blob_open(blob_ctx *c, buf *out, int type, const uint8_t id[32], const void *stored,
	      size_t n, size_t raw_len, int verify)
{
	const uint8_t *s = stored;
	size_t region = 0;
	int r;
	if (raw_len > BLOB_MAX_RAW)
		return -DV_ECORRUPT;
	if (type == BLOB_TREE && (r = children_len(&region, s, n)) < 0)
		return r;
	if (n - region < CRYPTO_OVERHEAD + 1 || region > raw_len)
		return -DV_ECORRUPT;
	buf _cleanup_(buf_releasep) aad = BUF_INIT;
	if ((r = make_aad(&aad, type, id, s, region)) < 0)
		return r;
	size_t inner = n - region - CRYPTO_OVERHEAD;
	c->tmp.len = 0;
	if ((r = buf_reserve(&c->tmp, inner)) < 0)
		return r;
	r = crypto_ctx_open(c->cc, c->tmp.data, aad.data, aad.len, s + region, n - region);
	if (r < 0)
		return r;

	out->len = 0;
	/* at least one byte: an empty plaintext still gets a buffer to copy to
	 * (memcpy and pointer arithmetic on NULL are undefined) */
	if ((r = buf_reserve(out, raw_len ? raw_len : 1)) < 0)
		return r;
	memcpy(out->data, s, region);
	size_t body_len = raw_len - region;
	if (c->tmp.data[0] == 0) {
		if (inner - 1 != body_len)
			return -DV_ECORRUPT;
		memcpy(out->data + region, c->tmp.data + 1, body_len);
	} else if (c->tmp.data[0] == 1) {
		size_t z = ZSTD_decompressDCtx(c->dctx, out->data + region, body_len,
					       c->tmp.data + 1, inner - 1);
		if (ZSTD_isError(z) || z != body_len)
			return -DV_ECORRUPT;
	} else {
		return -DV_ECORRUPT;
	}
	out->len = raw_len;
	if (verify) {
		uint8_t check[32];
		blob_id(check, c, out->data, out->len);
		if (memcmp(check, id, 32) != 0)
			return -DV_ECORRUPT;
	}
	return 0;
}

int blob_children(const uint8_t **out_ids, uint32_t *out_n, const void *stored, size_t n)
{
	size_t region;
	int r = children_len(&region, stored, n);
	if (r < 0)
		return r;
	*out_n = le32_get(stored);
	*out_ids = (const uint8_t *)stored + 4;
	return 0;
}
