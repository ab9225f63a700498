/* SPDX-License-Identifier: BSD-2-Clause */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(buf *b, size_t extra, size_t align)
{
	if (extra > BUF_CAP || b->len > BUF_CAP - extra)
		return -EFBIG;
	size_t need = b->len + extra;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > BUF_CAP / 2 ? BUF_CAP : cap * 2;
	if (align && !b->data) {
		void *a;
		if (posix_memalign(&a, align, cap) != 0)
			return -ENOMEM;
		b->data = a;
		b->cap = cap;
		return 0;
	}
	uint8_t *p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_reserve(buf *b, size_t extra)
{
	return reserve(b, extra, 0);
}

int buf_reserve_aligned(buf *b, size_t extra, size_t align)
{
	return reserve(b, extra, align);
}

int buf_appendf(buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	int rc = buf_reserve(b, (size_t)n + 1);
	if (rc < 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int buf_append(buf *b, const void *p, size_t n)
{
	int r = buf_reserve(b, n);
	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int buf_put_u8(buf *b, uint8_t v)
{
	return buf_append(b, &v, 1);
}

int buf_put_le16(buf *b, uint16_t v)
{
	uint8_t t[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	return buf_append(b, t, 2);
}

int buf_put_le32(buf *b, uint32_t v)
{
	uint8_t t[4];
	le32_put(t, v);
	return buf_append(b, t, 4);
}

int buf_put_le64(buf *b, uint64_t v)
{
	uint8_t t[8];
	le64_put(t, v);
	return buf_append(b, t, 8);
}

int buf_put_varint(buf *b, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;
	while (v >= 0x80) {
		t[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	t[n++] = (uint8_t)v;
	return buf_append(b, t, n);
}

int buf_put_svarint(buf *b, int64_t v)
{
	return buf_put_varint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

int buf_put_str(buf *b, const void *p, size_t n)
{
	int r = buf_put_varint(b, n);
	return r < 0 ? r : buf_append(b, p, n);
}

void buf_release(buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

uint8_t *buf_steal(buf *b)
{
	uint8_t *p = b->data;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

int array_reserve(void *p, size_t *cap, size_t need, size_t elem)
{
	void **arr = p;
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	if (n > SIZE_MAX / elem)
		return -ENOMEM;
	void *q = realloc(*arr, n * elem);
	if (!q)
		return -ENOMEM;
	*arr = q;
	*cap = n;
	return 0;
}
