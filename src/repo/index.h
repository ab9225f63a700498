/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * index: where each blob lives (pack, offset, sizes).
 *
 * Index files are sorted tables with a 256-entry fan-out on the first id
 * byte, like git's .idx, read in place through a file mapping: a lookup
 * is a search over mapped pages, and memory stays flat in the number of
 * blobs.  The mapping is the backend's own where it returns mappings
 * (local), else a local copy (backend_get_mapped), so the promise holds
 * on every backend.  Blobs added in this session live in a small
 * open-addressing table until index_set_write() stores them as a new
 * index file, which then joins the set as a mapped file: the table holds
 * only the blobs of the last few packs.  Many files are searched through
 * merged runs (k-way merges of the files into one sorted table in an
 * unlinked local file), so a lookup costs one search however many index
 * files there are; runs too large to keep resident are read by block
 * through a fixed cache, so resident memory stays flat in the number of
 * blobs.  All index data is plaintext: no key is needed.
 */
#ifndef DV_REPO_INDEX_H
#define DV_REPO_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "../backend/backend.h"
#include "../base/buf.h"
#include "../base/idmap.h"

typedef struct {
	const uint8_t *pack_id;
	uint32_t offset, stored_len, raw_len;
	uint8_t type;
	uint64_t pos; /* a dense position in the set, < index_set_positions() */
} index_loc;

/* One decoded entry, used for building index files. */
typedef struct {
	uint8_t id[32];
	uint32_t pack; /* position in the pack id list */
	uint32_t offset, stored_len, raw_len;
	uint8_t type;
} index_entry;

typedef struct index_set index_set;

int index_set_new(index_set **out);
void index_set_free(index_set *s);
/*
 * Maps and validates every file under index/ (as file mappings on every
 * backend: see the top of this file).
 */
int index_set_load(index_set *s, backend *be);
/* Only the files that skip (loaded earlier) does not hold. */
int index_set_load_new(index_set *s, backend *be, const index_set *skip);
/* Like index_set_load, but skips damaged files (see index_set_damaged). */
int index_set_load_tolerant(index_set *s, backend *be);
/* Names of the files a tolerant load skipped. */
void index_set_damaged(const index_set *s, char ***names, size_t *n);
const char *index_set_file_name(const index_set *s, size_t i);
/*
 * Positions are dense numbers for entries (valid until the set changes),
 * so a pass over the repository can keep one bit per blob.
 */
uint64_t index_set_positions(const index_set *s);
/* Every entry of the files and every stored session entry, in no order;
 * an id may appear more than once.  fn returning non-zero stops. */
typedef int (*index_foreach_fn)(void *ud, const uint8_t *id, const index_loc *loc);
int index_set_foreach(const index_set *s, index_foreach_fn fn, void *ud);
/* A lookup: 0 and *out filled when found, else -DV_ENOTFOUND.  out->pack_id
 * is NULL while the blob is pending or its pack is still being written. */
int index_set_lookup(const index_set *s, const uint8_t id[32], index_loc *out);
/*
 * Builds one sorted table over every file's ids (a run: 60 bytes a blob
 * in an unlinked file, searched through its mapping), so that a lookup
 * is one search instead of one per file: for a pass that looks up every
 * blob of a repository of many index files (sync).  Lookups answer as before (the newest file's entry of an id
 * in several).  Loading more files drops it; call again after.
 */
int index_set_merge(index_set *s);

/* Adds the blobs of a pack's table to s (0 if the pack no longer exists). */
int index_add_pack_table(index_set *s, backend *be, const uint8_t pack[32]);

/* Reserves a slot for a pack being written; its id is set when stored. */
int index_set_pack_slot(index_set *s, uint32_t *out_slot);
/* Adds to out the id of every pack stored through a slot of s (this session's). */
int index_set_session_packs(const index_set *s, idmap *out);
void index_set_pack_stored(index_set *s, uint32_t slot, const uint8_t id[32]);
/* The entries in the in-memory table: this session's blobs not yet in a
 * mapped index file (what the next index_set_write writes and drops). */
size_t index_set_session_entries(const index_set *s);
int index_set_add(index_set *s, const uint8_t id[32], int type, uint32_t slot, uint32_t offset,
		  uint32_t stored_len, uint32_t raw_len);
/*
 * A blob being sealed has slot INDEX_PENDING: lookups find it (pack_id
 * NULL), so it is not stored twice; index_set_place() gives its place.
 */
#define INDEX_PENDING UINT32_MAX
void index_set_place(index_set *s, const uint8_t id[32], uint32_t slot, uint32_t offset,
		     uint32_t stored_len);
/* Writes blobs of stored packs added since the last write as one index file. */
int index_set_write(index_set *s, backend *be);
/*
 * Replaces the index files index_set_write wrote by one naming the same
 * blobs less those of packs: for a writer that will not commit, whose
 * packs a prune deletes (docs/concurrency.md, "Deleting"), so that no
 * index file it leaves names a deleted pack.
 */
int index_set_withdraw(index_set *s, backend *be, const idmap *packs);
/*
 * Replaces the files of s that name a pack of among that is gone by one
 * file (written first) without the entries of any gone pack they name,
 * and says how many it replaced.  exists(ud, pack) answers 1, 0 (gone)
 * or a negative code.  For a prune: the packs it deleted may be named by
 * index files written after it read the index, by writers that stored
 * them again and gave up (docs/concurrency.md, "The writer's index
 * files").  Only for packs that are gone: dropping the only entry of a
 * pack that exists would hide it from a prune that has yet to read the
 * index, which may then delete it under whoever relies on it.
 */
typedef int (*index_exists_fn)(void *ud, const uint8_t pack[32]);
int index_set_drop_missing(const index_set *s, backend *be, const idmap *among, index_exists_fn exists,
			   void *ud, size_t *rewritten);
size_t index_set_file_count(const index_set *s);
/* The packs the set names, at most (a pack named by two files counts twice). */
uint64_t index_set_pack_count_max(const index_set *s);
/*
 * Writes entries as one index file named by its SHA-256 (nothing when n
 * is 0) and gives its name ("" if none).  Entries are sorted in place and
 * duplicate ids dropped.  The name may be that of an existing file with
 * the same contents: a caller replacing files must not delete it.
 */
int index_write_entries(backend *be, index_entry *e, size_t n, const uint8_t (*packs)[32],
			size_t npacks, char out_name[80]);

/*
 * Collects entries (with their packs by id) for one new index file: what
 * prune, repair and the return of condemned packs write.  RAM is bounded:
 * beyond a budget of entries (DVALIN_INDEX_MEMORY, default 16 MiB at 60
 * bytes an entry) the buffered entries are sorted and written as a run to
 * an unlinked spill file; index_builder_write k-way merges the runs and
 * the rest in id order into the encoded file (in a spill file too) and
 * stores it from its mapping.  The bytes are those index_write_entries
 * gives for the same entries: of equal ids the one added first is kept.
 * Zeroed (or INDEX_BUILDER_INIT) is an empty builder.
 */
typedef struct {
	index_entry *e; /* the entries held in RAM: every one when in_ram */
	size_t n, cap;
	uint8_t (*packs)[32];
	size_t npacks, cappacks;
	idmap pos; /* pack id -> position in packs */
	/* set before the first add by a caller that reads e itself (check):
	 * nothing is spilled, whatever the budget */
	int in_ram;
	size_t budget;   /* entries held before a run is spilled (0: not read yet) */
	int fd;          /* the runs' spill file, open while nruns > 0 */
	uint64_t *run_end; /* records in the file up to the end of each run */
	size_t nruns, capruns;
} index_builder;

#define INDEX_BUILDER_INIT { .pos = IDMAP_INIT }

int index_builder_add(index_builder *b, const uint8_t id[32], const uint8_t pack[32],
		      uint32_t offset, uint32_t stored_len, uint32_t raw_len, int type);
/* index_write_entries of everything added; the builder is emptied. */
int index_builder_write(index_builder *b, backend *be, char out_name[80]);
void index_builder_release(index_builder *b);
/*
 * The entries a builder holds in RAM before it spills a run:
 * DVALIN_INDEX_MEMORY (bytes, or with a K, M or G suffix; default 16M)
 * over 60 bytes an entry, at least 1.
 */
size_t index_builder_budget(void);

/* Pure codec, for the writer, tests and fuzzing. entries are sorted in place. */
int index_encode(buf *out, index_entry *entries, size_t n, const uint8_t (*packs)[32],
		 size_t npacks);
/* Validates a whole index file image; 0 or -DV_ECORRUPT / -DV_EFORMAT. */
int index_validate(const uint8_t *p, size_t n);

#endif
