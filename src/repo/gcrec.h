/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * gcrec: records of condemned packs (docs/format.md "Condemned packs",
 * docs/concurrency.md for why they exist).
 *
 * A prune does not delete the packs it finds unused.  It writes a record
 * gc/<hex> naming them, stops indexing them, and stores in the record the
 * time at which no index names them any more.  A later prune deletes the
 * packs once no process that could have read the old index is alive, or
 * returns them to the index when a snapshot committed meanwhile uses one
 * of their blobs.  Plaintext: prune needs no key.
 */
#ifndef DV_REPO_GCREC_H
#define DV_REPO_GCREC_H

#include <stddef.h>
#include <stdint.h>

#include "../backend/backend.h"
#include "../base/buf.h"
#include "../base/idmap.h"
#include "index.h"

typedef struct {
	char name[80];   /* "gc/<hex>" */
	int64_t time_ns; /* since when no index names the packs; 0: not yet */
	uint8_t (*packs)[32];
	size_t npacks;
} gc_record;

/* A fresh record name. */
int gc_record_name(char out[80]);
int gc_record_put(backend *be, const gc_record *r);
/*
 * All records; damaged ones are skipped and counted (message names one).
 * The deletion notice (below) is no record and is not loaded; whether
 * the listing had one goes into *out_notice (may be NULL).
 */
int gc_records_load(backend *be, gc_record **out, size_t *out_n, size_t *out_damaged);
int gc_records_load_noting(backend *be, gc_record **out, size_t *out_n, size_t *out_damaged,
			   int *out_notice);
void gc_records_free(gc_record *v, size_t n);
/*
 * The condemned packs of records: the id of every pack they name into
 * ids, and the blobs of its table into tables (either may be NULL; a
 * pack already deleted has no table and adds nothing there).
 */
int gc_records_add_packs(const gc_record *v, size_t n, backend *be, idmap *ids, index_set *tables);
/*
 * gc_records_load and gc_records_add_packs at once; damaged records are
 * counted in *out_damaged (may be NULL) and the message names one.
 */
int gc_condemned_load(backend *be, idmap *ids, index_set *tables, size_t *out_damaged);

/*
 * The deletion notice (docs/concurrency.md, "Deleting"): a file in the
 * record format at the reserved name GC_NOTICE_NAME naming the packs a
 * prune's phase 2 may be deleting right now.  The prune writes it before
 * it reads the index to decide, narrows it to the packs it does delete,
 * and removes it after the deletions; a writer about to commit a
 * snapshot reads it after its own index file exists and does not commit
 * if it names a pack the snapshot relies on.  Only one prune runs at a
 * time, so one name serves.  An older dvalin reads the file as one more
 * record of the same packs, which is what it also is.
 */
#define GC_NOTICE_NAME "gc/00000000000000000000000000000000"
int gc_notice_put(backend *be, const uint8_t (*packs)[32], size_t n, int64_t time_ns);
/* The packs the notice names, added to ids; none when there is no notice. */
int gc_notice_load(backend *be, idmap *ids);
/* 0 also when there is none. */
int gc_notice_remove(backend *be);

/* The pure codec, for tests. */
int gc_record_encode(buf *out, const gc_record *r);
int gc_record_decode(gc_record *r, const uint8_t *p, size_t n);

#endif
