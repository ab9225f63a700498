/* SPDX-License-Identifier: BSD-2-Clause */
#include "pack.h"
#include "format.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../core/checksum.h"
#include "../core/crypto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int pack_writer_buf(pack_writer *w, buf **out)
{
	if (w->data.len == 0) {
		uint8_t h[PACK_HEADER_LEN] = { 0 };
		memcpy(h, PACK_MAGIC, MAGIC_LEN);
		le32_put(h + 8, FORMAT_VERSION);
		int r = buf_append(&w->data, h, sizeof(h));
		if (r < 0)
			return r;
	}
	*out = &w->data;
	return 0;
}

int pack_writer_commit(pack_writer *w, int type, const uint8_t id[32], uint32_t raw_len,
		       size_t start, const uint8_t *cksum)
{
	size_t stored = w->data.len - start;
	if (stored > UINT32_MAX || start > UINT32_MAX)
		return -EFBIG;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;
		pack_entry *e = realloc(w->entries, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		w->entries = e;
		w->cap = cap;
	}
	pack_entry *e = &w->entries[w->n++];
	e->type = (uint8_t)type;
	memcpy(e->id, id, 32);
	e->offset = start;
	e->stored_len = (uint32_t)stored;
	e->raw_len = raw_len;
	if (cksum)
		memcpy(e->cksum, cksum, CHECKSUM_LEN);
	else
		checksum128(e->cksum, w->data.data + start, stored);
	return 0;
}

static void entry_encode(uint8_t *p, const pack_entry *e)
{
	p[0] = e->type;
	memcpy(p + 1, e->id, 32);
	le64_put(p + 33, e->offset);
	le32_put(p + 41, e->stored_len);
	le32_put(p + 45, e->raw_len);
	memcpy(p + 49, e->cksum, 16);
}

int pack_writer_finish(pack_writer *w, uint8_t out_id[32])
{
	size_t table_off = w->data.len;
	size_t table_len = w->n * PACK_ENTRY_LEN;
	int r = buf_reserve(&w->data, table_len + PACK_TRAILER_LEN);
	if (r < 0)
		return r;
	uint8_t *t = w->data.data + table_off;
	for (size_t i = 0; i < w->n; i++)
		entry_encode(t + i * PACK_ENTRY_LEN, &w->entries[i]);
	uint8_t *tr = t + table_len;
	le32_put(tr, (uint32_t)w->n);
	le32_put(tr + 4, 0);
	le64_put(tr + 8, table_off);
	checksum128(tr + 16, t, table_len);
	memcpy(tr + 32, PACK_END_MAGIC, MAGIC_LEN);
	w->data.len += table_len + PACK_TRAILER_LEN;
	/* the table holds a checksum of every blob: hashing it names the
	 * contents without hashing every stored byte a second time */
	crypto_sha256(out_id, t, table_len + PACK_TRAILER_LEN);
	return 0;
}

void pack_writer_reset(pack_writer *w)
{
	w->data.len = 0;
	w->n = 0;
}

void pack_writer_release(pack_writer *w)
{
	buf_release(&w->data);
	free(w->entries);
	w->entries = NULL;
	w->n = w->cap = 0;
}

void pack_name(char out[80], const uint8_t id[32])
{
	char h[65];
	hex_encode(h, id, 32);
	snprintf(out, 80, "data/%.2s/%s", h, h);
}

/* Validates a trailer; on success sets count and table offset. */
static int parse_trailer(const uint8_t *tr, uint64_t file_len, uint32_t *count, uint64_t *table_off)
{
	if (memcmp(tr + 32, PACK_END_MAGIC, MAGIC_LEN) != 0)
		return -DV_ECORRUPT;
	*count = le32_get(tr);
	*table_off = le64_get(tr + 8);
	if (*count > PACK_MAX_BLOBS || *table_off < PACK_HEADER_LEN ||
	    *table_off > file_len - PACK_TRAILER_LEN ||
	    file_len - PACK_TRAILER_LEN - *table_off != (uint64_t)*count * PACK_ENTRY_LEN)
		return -DV_ECORRUPT;
	return 0;
}

static int parse_table(pack_entry **out, const uint8_t *t, uint32_t count, uint64_t table_off,
		       const uint8_t *cksum)
{
	uint8_t c[16];
	checksum128(c, t, (size_t)count * PACK_ENTRY_LEN);
	if (memcmp(c, cksum, 16) != 0)
		return -DV_ECORRUPT;
	pack_entry *e = calloc(count ? count : 1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *p = t + (size_t)i * PACK_ENTRY_LEN;
		e[i].type = p[0];
		memcpy(e[i].id, p + 1, 32);
		e[i].offset = le64_get(p + 33);
		e[i].stored_len = le32_get(p + 41);
		e[i].raw_len = le32_get(p + 45);
		memcpy(e[i].cksum, p + 49, 16);
		if ((e[i].type != 1 && e[i].type != 2) || e[i].offset < PACK_HEADER_LEN ||
		    e[i].stored_len == 0 || e[i].offset > table_off ||
		    e[i].stored_len > table_off - e[i].offset) {
			free(e);
			return -DV_ECORRUPT;
		}
	}
	*out = e;
	return 0;
}

int pack_parse(pack_entry **out, size_t *out_n, const uint8_t *file, size_t file_len)
{
	uint32_t count;
	uint64_t toff;
	if (file_len < PACK_HEADER_LEN + PACK_TRAILER_LEN || memcmp(file, PACK_MAGIC, MAGIC_LEN) != 0)
		return -DV_ECORRUPT;
	if (le32_get(file + 8) != FORMAT_VERSION)
		return -DV_EFORMAT;
	const uint8_t *tr = file + file_len - PACK_TRAILER_LEN;
	int r = parse_trailer(tr, file_len, &count, &toff);
	if (r < 0)
		return r;
	r = parse_table(out, file + toff, count, toff, tr + 16);
	if (r < 0)
		return r;
	*out_n = count;
	return 0;
}

int pack_is_named(const uint8_t *file, size_t file_len, size_t n, const uint8_t id[32])
{
	uint8_t got[32];
	size_t tail = n * PACK_ENTRY_LEN + PACK_TRAILER_LEN;
	if (n > PACK_MAX_BLOBS || tail > file_len)
		return 0;
	crypto_sha256(got, file + file_len - tail, tail);
	return memcmp(got, id, 32) == 0;
}

int pack_entry_is_intact(const pack_entry *e, const uint8_t *stored)
{
	uint8_t c[16];
	checksum128(c, stored, e->stored_len);
	return memcmp(c, e->cksum, 16) == 0;
}

int pack_verify(const uint8_t id[32], const uint8_t *file, size_t file_len)
{
	_cleanup_free_ pack_entry *e = NULL;
	size_t n;
	int r = pack_parse(&e, &n, file, file_len);
	if (r == -DV_EFORMAT)
		return err_set(-DV_ECORRUPT, "not a pack of format version %d", FORMAT_VERSION);
	if (r == -DV_ECORRUPT)
		return err_set(r, "not a pack, or its table is damaged");
	if (r < 0)
		return r;
	if (!pack_is_named(file, file_len, n, id))
		return err_set(-DV_ECORRUPT, "the SHA-256 of its table is not its name");
	for (size_t i = 0; i < n; i++)
		if (!pack_entry_is_intact(&e[i], file + e[i].offset))
			return err_set(-DV_ECORRUPT, "blob %zu of %zu (at offset %llu) does not match its checksum",
				       i + 1, n, (unsigned long long)e[i].offset);
	return 0;
}

int pack_read_table(backend *be, const uint8_t id[32], pack_entry **out, size_t *out_n)
{
	char name[80];
	uint64_t size = 0;
	uint8_t tr[PACK_TRAILER_LEN];
	uint32_t count;
	uint64_t toff;
	backend_file *f;
	pack_name(name, id);
	/* the handle for the size and the trailer; the pack's type is not
	 * known yet, hence the DATA hint */
	int r = backend_open_read(be, name, BACKEND_DATA, &f, &size);
	if (r < 0)
		return r;
	_cleanup_free_ uint8_t *t = NULL;
	if (size < PACK_HEADER_LEN + PACK_TRAILER_LEN)
		r = err_set(-DV_ECORRUPT, "pack '%s' is truncated", name + 8);
	r = r ?: backend_file_read(be, f, size - PACK_TRAILER_LEN, tr, sizeof(tr));
	if (r == 0 && parse_trailer(tr, size, &count, &toff) < 0)
		r = err_set(-DV_ECORRUPT, "pack '%s' has a damaged trailer", name + 8);
	if (r == 0 && !(t = malloc((size_t)count * PACK_ENTRY_LEN + 1)))
		r = -ENOMEM;
	backend_file_close(be, f);
	/* The table by a read of its own: through the handle, a second read
	 * would make a remote backend fetch the whole pack (s3.c), megabytes
	 * for what prune and check want of condemned and indexed packs.  The
	 * trailer's checksum of the table makes a mix of versions an error. */
	if (r == 0 && count)
		r = backend_get_range(be, name, BACKEND_DATA, toff, t, (size_t)count * PACK_ENTRY_LEN);
	if (r < 0)
		return r;
	r = parse_table(out, t, count, toff, tr + 16);
	if (r == -DV_ECORRUPT)
		return err_set(r, "pack '%s' has a damaged table", name + 8);
	if (r < 0)
		return r;
	*out_n = count;
	return 0;
}
