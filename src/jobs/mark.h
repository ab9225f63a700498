/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mark: which blobs the snapshots reach, without the key.
 *
 * Tree blobs carry their child ids in plaintext (docs/format.md), so the
 * walk reads only those regions.  Each distinct tree is read once: the
 * mark bit of its index position says it was visited, so the cost is the
 * number of distinct trees, not snapshots times files.  Bits are kept per
 * index position (one bit per blob), for the index and for the blobs of
 * condemned packs, which snapshots committed during a prune may use.
 */
#ifndef DV_JOBS_MARK_H
#define DV_JOBS_MARK_H

#include <stddef.h>
#include <stdint.h>

#include "../repo/repo.h"

typedef struct {
	backend *be;
	const index_set *main, *cond; /* cond may be NULL */
	uint8_t *bits_main, *bits_cond;
	/* index files that appeared after main was loaded, read after the
	 * snapshots were listed (mark_snapshots): a snapshot committed
	 * meanwhile finds its blobs here */
	index_set *late;
	uint8_t *bits_late;
	/* positions each bit array covers (entries added to a set later have none) */
	uint64_t npos_main, npos_cond, npos_late;
	uint64_t trees, blobs, missing, unreadable, snapshots, damaged_snapshots;
	/* called for each referenced blob found in neither set (parent: the
	 * tree that names it, NULL for a snapshot root) */
	void (*on_missing)(void *ud, const uint8_t id[32], const uint8_t *parent);
	void *ud;
	/* the pack being read, kept open between trees */
	backend_file *f;
	uint8_t f_id[32];
	uint8_t (*stack)[32];
	size_t nstack, capstack;
} marker;

int mark_init(marker *m, backend *be, const index_set *main, const index_set *cond);
void mark_release(marker *m);
/*
 * Loads the index files that appeared since main was loaded into late
 * (once), so that snapshots listed after main find their blobs there.
 */
int mark_load_late(marker *m);
/* Marks everything reachable from a root tree. */
int mark_tree(marker *m, const uint8_t root[32]);
/*
 * Marks from every snapshot of r (counts damaged snapshot files).  The
 * snapshots are listed first, then the index is read again, so that
 * snapshots committed meanwhile by running backups are fully found.
 */
int mark_snapshots(marker *m, repo *r);
/* The sets a marker looks in, in this order. */
enum { MARK_MAIN, MARK_COND, MARK_LATE };
/*
 * Where id is stored: 0, *loc and *set (MARK_*), else -DV_ENOTFOUND (not
 * in any set, or only as an entry added after the bits were made).  For
 * walks that keep bits of their own (sync), by set and position.
 */
int mark_find(const marker *m, const uint8_t id[32], index_loc *loc, int *set);
/* The bit array of a set (NULL for a set the marker does not have). */
uint8_t *mark_bits(const marker *m, int set);
/*
 * 1 if id is a blob the marking reached, else 0 (an id the sets did not
 * hold when their bits were made counts as not reached).
 */
int mark_is_marked(const marker *m, const uint8_t id[32]);
/* Whether an entry's position is marked. */
static inline int mark_test(const uint8_t *bits, uint64_t pos)
{
	return bits[pos >> 3] >> (pos & 7) & 1;
}
/* Marks a position; 1 if it was not marked before. */
static inline int mark_set(uint8_t *bits, uint64_t pos)
{
	uint8_t mask = (uint8_t)(1u << (pos & 7));
	if (bits[pos >> 3] & mask)
		return 0;
	bits[pos >> 3] |= mask;
	return 1;
}

#endif
