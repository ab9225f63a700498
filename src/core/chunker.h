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

#endif
