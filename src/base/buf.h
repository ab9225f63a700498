/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * buf: a growable byte buffer with a hard cap, and the little-endian and
 * varint encoders every on-disk format of dvalin uses.
 *
 * A buf owns its storage; buf_release() frees it and leaves an empty buf.
 * Growth beyond BUF_CAP fails with -EFBIG: sizes that come from untrusted
 * input can never make us allocate without bound.
 */
#ifndef DV_BASE_BUF_H
#define DV_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

#define BUF_CAP ((size_t)1 << 30)

typedef struct {
	uint8_t *data;
	size_t len, cap;
} buf;

#define BUF_INIT { NULL, 0, 0 }

int buf_reserve(buf *b, size_t extra);
/*
 * buf_reserve, and when b holds no memory yet, the new memory starts at a
 * multiple of align (a power of two, at least sizeof(void *)): for data
 * written with O_DIRECT (fsio_write_bulk), which then needs no bounce
 * copy.  A later growth keeps the contents, not the alignment.
 */
int buf_reserve_aligned(buf *b, size_t extra, size_t align);
/*
 * Makes room for need elements of size elem in the array *p of capacity
 * *cap (in elements), doubling; -ENOMEM on failure (*p unchanged).
 */
int array_reserve(void *p, size_t *cap, size_t need, size_t elem);
int buf_append(buf *b, const void *p, size_t n);
/* Appends printf-formatted text (without a NUL). */
int buf_appendf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_put_u8(buf *b, uint8_t v);
int buf_put_le16(buf *b, uint16_t v);
int buf_put_le32(buf *b, uint32_t v);
int buf_put_le64(buf *b, uint64_t v);
int buf_put_varint(buf *b, uint64_t v);
/* Zig-zag encoded signed varint. */
int buf_put_svarint(buf *b, int64_t v);
/* varint length, then the bytes. */
int buf_put_str(buf *b, const void *p, size_t n);
void buf_release(buf *b);
/* Give up ownership of the storage to the caller. */
uint8_t *buf_steal(buf *b);

static inline void buf_releasep(buf *b)
{
	buf_release(b);
}

static inline void le32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static inline void le64_put(uint8_t *p, uint64_t v)
{
	le32_put(p, (uint32_t)v);
	le32_put(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le64_get(const uint8_t *p)
{
	return (uint64_t)le32_get(p) | (uint64_t)le32_get(p + 4) << 32;
}

#endif
