/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * seglist: a file's contents as a list of segments, each a chunk (by
 * blob id) or a hole of some length.  It is what the ingest pipeline
 * produces, what a parent snapshot's node gives back for an unchanged
 * file, and what a hard link's later names reuse; seglist_to_node() turns
 * it into the segments of a tree node.
 *
 * A seglist owns its array; seglist_release() frees it and leaves an
 * empty list.  It grows by doubling: a stream of any length needs 41
 * bytes per chunk here (what the tree node will record anyway).
 */
#ifndef DV_ARCHIVE_SEGLIST_H
#define DV_ARCHIVE_SEGLIST_H

#include <stddef.h>
#include <stdint.h>

#include "tree.h"

typedef struct {
	uint64_t len;
	uint8_t id[32];
	uint8_t hole;
} seglist_seg;

typedef struct {
	seglist_seg *v;
	size_t n, cap;
} seglist;

#define SEGLIST_INIT { NULL, 0, 0 }

/* Appends a chunk of len bytes (id) or, with id NULL, a hole. */
int seglist_push(seglist *s, uint64_t len, const uint8_t *id);
/*
 * Room for more segments, exactly: most files are one chunk, and the
 * walk keeps the lists of the files of up to 64 directories at once.
 */
int seglist_reserve(seglist *s, size_t more);
/* Makes dst a copy of src. */
int seglist_copy(seglist *dst, const seglist *src);
/* The sum of the segment lengths (the file size the list describes). */
uint64_t seglist_size(const seglist *s);
/*
 * The segments of a tree node: *out (freed by the caller, never NULL on
 * success) holds s->n segments whose chunk ids are entered into tw.
 */
int seglist_to_node(const seglist *s, tree_writer *tw, tree_seg **out);
void seglist_release(seglist *s);

#endif
