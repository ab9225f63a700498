/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * chunker: content-defined chunking with FastCDC (gear hash, normalized
 * chunking).
 *
 * The gear table is secret (derived from the repository's chunk key by the
 * caller), so chunk boundaries do not reveal file contents.  The hash is
 * fp = (fp << 1) + gear[byte]; its top bits depend on the last 64 bytes,
 * so the masks test top bits.  Normalization: before `avg` bytes a
 * stricter mask (2 more bits) is used, after it a looser one (2 fewer),
 * which narrows the size distribution around avg.  Pure: no I/O.
 */
#ifndef DV_CORE_CHUNKER_H
#define DV_CORE_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint32_t min, avg, max;
} chunker_params;

#define CHUNKER_PARAMS_INIT { 256u << 10, 1u << 20, 2u << 20 }

typedef struct {
	uint64_t gear[256];
	uint64_t mask_s, mask_l;
	chunker_params p;
} chunker;

/* avg must be a power of two, 64 <= min < avg < max <= 64 MiB. */
int chunker_params_is_valid(const chunker_params *p);
void chunker_init(chunker *c, const chunker_params *p, const uint64_t gear[256]);
/*
 * Returns the length of the first chunk of buf[0..len).  Callers pass at
 * least p.max bytes unless the input ends within them, in which case
 * they pass what is left (and a final short chunk is returned).
 */
size_t chunker_cut(const chunker *c, const uint8_t *buf, size_t len);

/*
 * The same cuts, found by several threads.  The hash after byte i
 * depends only on bytes i-63..i once 64 bytes have entered it since the
 * chunker's reset at a chunk's start + min, so:
 *
 *  - chunker_scan() records, for any range of a buffer and independently
 *    of every other range, the candidate positions: each i whose hash
 *    over buf[i-63..i] passes the loose mask, with bit 31 set when it
 *    also passes the strict one (a strict pass implies a loose one);
 *  - chunker_cut_cands() then finds each cut as chunker_cut() does,
 *    computing the first 63 positions after start + min exactly and
 *    taking the rest from the candidates.
 *
 * Candidates are sparse (one per 256 KiB on average at the default
 * sizes); data that makes them dense (a repeated byte whose hash passes)
 * fills out to cap, and the range is marked dense: chunker_cut_cands()
 * then hashes that range itself.  Unit-tested against chunker_cut().
 */
#define CHUNKER_CAND_STRICT 0x80000000u

typedef struct {
	uint32_t *pos;  /* ascending buffer positions, | CHUNKER_CAND_STRICT */
	size_t n, cap;
	size_t from, to; /* the range scanned */
	int dense;       /* more than cap candidates: none are recorded */
} chunker_cands;

/* Scans buf[from, to) (buf[from-63, from) must be valid bytes of the same
 * data when from >= 63); positions must stay below 2^31. */
void chunker_scan(const chunker *c, const uint8_t *buf, chunker_cands *out);
/*
 * The length of the chunk starting at buf[start], with len bytes after it
 * available (as chunker_cut), given the candidate lists parts[0..nparts)
 * that cover [start, start + len) in ascending order.
 */
size_t chunker_cut_cands(const chunker *c, const uint8_t *buf, size_t start, size_t len,
			 const chunker_cands *parts, size_t nparts);

#endif
