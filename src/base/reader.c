/* SPDX-License-Identifier: BSD-2-Clause */
#include "reader.h"
#include "buf.h"

const uint8_t *reader_bytes(reader *r, size_t n)
{
	if (r->bad || reader_left(r) < n) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *p = r->p;
	if (n)
		r->p += n;
	return p;
}

uint8_t reader_u8(reader *r)
{
	const uint8_t *p = reader_bytes(r, 1);
	return p ? p[0] : 0;
}

uint32_t reader_le32(reader *r)
{
	const uint8_t *p = reader_bytes(r, 4);
	return p ? le32_get(p) : 0;
}

uint64_t reader_le64(reader *r)
{
	const uint8_t *p = reader_bytes(r, 8);
	return p ? le64_get(p) : 0;
}

uint64_t reader_varint(reader *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		const uint8_t *p = reader_bytes(r, 1);
		if (!p)
			return 0;
		if (shift == 63 && *p > 1)
			break;
		v |= (uint64_t)(*p & 0x7f) << shift;
		if (!(*p & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

int64_t reader_svarint(reader *r)
{
	uint64_t u = reader_varint(r);
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

const uint8_t *reader_str(reader *r, size_t *out_len, size_t max)
{
	uint64_t n = reader_varint(r);
	if (n > max || n > reader_left(r)) {
		r->bad = true;
		*out_len = 0;
		return NULL;
	}
	*out_len = (size_t)n;
	return reader_bytes(r, (size_t)n);
}
