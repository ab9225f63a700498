/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * idmap: a hash map from 32-byte ids (uniformly distributed: keyed
 * hashes) to a 64-bit value.  Open addressing; for per-pack and per-tree
 * bookkeeping of maintenance jobs, not for per-blob tables.
 */
#ifndef DV_BASE_IDMAP_H
#define DV_BASE_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint8_t id[32];
	uint64_t val;
	int used;
} idmap_slot;

typedef struct {
	idmap_slot *slots;
	size_t cap, n;
} idmap;

#define IDMAP_INIT { NULL, 0, 0 }

/* The slot for id, inserted with val 0 when new (*created set). */
int idmap_put(idmap *m, const uint8_t id[32], idmap_slot **out, int *created);
/* The slot for id, or NULL. */
idmap_slot *idmap_get(const idmap *m, const uint8_t id[32]);
void idmap_release(idmap *m);

#endif
