/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * reader: bounds-checked decoding of untrusted bytes.
 *
 * A reader walks a byte range.  Every getter checks the remaining length;
 * on a short or malformed input it sets the sticky `bad` flag and returns
 * zero / NULL, so a decoder may read a whole record and test reader_ok()
 * once at the end.  Nothing here allocates.
 */
#ifndef DV_BASE_READER_H
#define DV_BASE_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
	const uint8_t *p, *end;
	bool bad;
} reader;

static inline void reader_init(reader *r, const void *p, size_t n)
{
	r->p = p;
	/* an empty range may be NULL, and NULL + 0 is undefined in C */
	r->end = n ? (const uint8_t *)p + n : r->p;
	r->bad = false;
}

static inline size_t reader_left(const reader *r)
{
	return (size_t)(r->end - r->p);
}

static inline bool reader_ok(const reader *r)
{
	return !r->bad;
}

uint8_t reader_u8(reader *r);
uint32_t reader_le32(reader *r);
uint64_t reader_le64(reader *r);
uint64_t reader_varint(reader *r);
int64_t reader_svarint(reader *r);
/* n bytes, or NULL (and bad) if fewer remain. */
const uint8_t *reader_bytes(reader *r, size_t n);
/* A varint length followed by that many bytes, at most max bytes. */
const uint8_t *reader_str(reader *r, size_t *out_len, size_t max);

#endif
