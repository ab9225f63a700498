/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pack: files that hold many blobs, and their plaintext tables.
 *
 * A pack is built in memory (a pack_writer), up to PACK_TARGET_SIZE, then
 * stored under the SHA-256 of its table and trailer.  Its table, at the end, lists
 * every blob with its offset, sizes and a checksum of its stored bytes,
 * so the index can be rebuilt from packs alone and storage integrity can
 * be verified without the key.
 */
#ifndef DV_REPO_PACK_H
#define DV_REPO_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "../backend/backend.h"
#include "../base/buf.h"

typedef struct {
	uint8_t type;
	uint8_t id[32];
	uint64_t offset;
	uint32_t stored_len, raw_len;
	uint8_t cksum[16];
} pack_entry;

typedef struct {
	buf data;
	pack_entry *entries;
	size_t n, cap;
} pack_writer;

#define PACK_WRITER_INIT { BUF_INIT, NULL, 0, 0 }

/* The buffer to append a stored blob to (starts a new pack if empty). */
int pack_writer_buf(pack_writer *w, buf **out);
/* Records the blob appended to the buffer since offset start; cksum is
 * its checksum128 when the caller computed it (outside a lock, say),
 * NULL to compute it here. */
int pack_writer_commit(pack_writer *w, int type, const uint8_t id[32], uint32_t raw_len,
		       size_t start, const uint8_t *cksum);
/* Appends table and trailer; out_id is the pack's name (SHA-256 of both). */
int pack_writer_finish(pack_writer *w, uint8_t out_id[32]);
/* Empties the writer for the next pack, keeping its allocations. */
void pack_writer_reset(pack_writer *w);
void pack_writer_release(pack_writer *w);

/* "data/ab/ab12..." for a pack id. */
void pack_name(char out[80], const uint8_t id[32]);

/*
 * Parses and validates the table of a pack whose whole bytes are given
 * (file_len total).  *out is malloc'd; the caller frees it.
 */
int pack_parse(pack_entry **out, size_t *out_n, const uint8_t *file, size_t file_len);
/*
 * Checks a whole pack against its id without the key: the table parses,
 * the SHA-256 of table and trailer is id, and every blob matches the
 * checksum the table gives it.  0, or -DV_ECORRUPT with a message
 * saying what does not match (the caller names the file).
 */
int pack_verify(const uint8_t id[32], const uint8_t *file, size_t file_len);
/*
 * Keyless checks of a whole pack file, given its parsed table: whether
 * its table and trailer (the last 40 + 65 * n bytes) hash to id, the name
 * it is stored under; and whether one blob's stored bytes match their
 * checksum in the table.  1 yes, 0 no.
 */
int pack_is_named(const uint8_t *file, size_t file_len, size_t n, const uint8_t id[32]);
int pack_entry_is_intact(const pack_entry *e, const uint8_t *stored);
/* Reads just the trailer and table of a stored pack through the backend. */
int pack_read_table(backend *be, const uint8_t id[32], pack_entry **out, size_t *out_n);

#endif
