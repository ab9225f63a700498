/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * blob: the envelope of one blob as stored inside a pack (docs/format.md
 * section "Blob envelope").
 *
 *   data blob:  sealed
 *   tree blob:  le32 n | n child ids (32 bytes each) | sealed
 *   sealed   =  crypto_seal(enc key, aad, u8 compression | payload)
 *   aad      =  "dvblob1" | u8 type | id | (tree) the child id region
 *
 * A tree blob's plaintext (what its id is the HMAC of) starts with the
 * same child id region, so the ids a tree references are readable, and
 * authenticated, without the key.  Compression is zstd, used only when
 * it saves at least 1/32 of the size.
 */
#ifndef DV_CORE_BLOB_H
#define DV_CORE_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "../base/buf.h"
#include "crypto.h"

enum blob_type {
	BLOB_DATA = 1,
	BLOB_TREE = 2,
};

#define BLOB_MAX_RAW ((size_t)256 << 20)
#define BLOB_MAX_CHILDREN (BLOB_MAX_RAW / 32)

typedef struct blob_ctx blob_ctx;

/* level: zstd level, 0 = do not compress. keys are borrowed.  A context is
 * used by one thread at a time. */
int blob_ctx_new(blob_ctx **out, const crypto_keys *keys, int level);
void blob_ctx_free(blob_ctx *c);

/* The keyed id of a plaintext. */
/* The keyed id of a plaintext (with c's reusable HMAC context: c's thread only). */
void blob_id(uint8_t out[32], blob_ctx *c, const void *plain, size_t n);

/* Appends the stored form of plaintext plain (with id) to out. */
int blob_seal(blob_ctx *c, buf *out, int type, const uint8_t id[32], const void *plain, size_t n);

/*
 * Decodes stored bytes into the plaintext (out is reset first).  When
 * verify is set the plaintext's id is recomputed and compared.
 * Returns -DV_EBADKEY / -DV_ECORRUPT on damage.
 */
int blob_open(blob_ctx *c, buf *out, int type, const uint8_t id[32], const void *stored,
	      size_t n, size_t raw_len, int verify);

/* Keyless: the child ids of a stored tree blob, pointing into stored. */
int blob_children(const uint8_t **out_ids, uint32_t *out_n, const void *stored, size_t n);

#endif
