/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * format: magic numbers, versions and fixed sizes of every repository
 * file.  The specification is docs/format.md; change both together, and
 * keep readers for every released version (tests/golden pins v1).
 */
#ifndef DV_REPO_FORMAT_H
#define DV_REPO_FORMAT_H

#define FORMAT_VERSION 1

/*
 * Layout (docs/format.md "Layout"): the directories repo_create() makes,
 * so that a repository shows its parts to someone looking at it.  Packs
 * fan out into data/<first 2 hex digits>/ (pack_name()).  Backends know
 * none of this: a put makes whatever directory it needs.
 */
#define REPO_DIRS { "data", "index", "snapshots", "keys", "locks", "gc", "protected" }

#define MAGIC_LEN 8
#define CONFIG_MAGIC "DVALCFG1"
#define KEY_MAGIC "DVALKEY1"
#define PACK_MAGIC "DVALPACK"
#define PACK_END_MAGIC "DVPKEND1"
#define INDEX_MAGIC "DVALIDX1"
#define INDEX_END_MAGIC "DVIXEND1"
#define SNAPSHOT_MAGIC "DVALSNP1"
#define GCREC_MAGIC "DVALGCR1"

/* config: magic | le32 version | repo id[32] | le32 min avg max | cksum16 */
#define CONFIG_LEN (8 + 4 + 32 + 12 + 16)

/* pack: header | blobs | table | trailer */
#define PACK_HEADER_LEN 16
#define PACK_ENTRY_LEN 65   /* type | id | le64 off | le32 stored | le32 raw | cksum16 */
#define PACK_TRAILER_LEN 40 /* le32 count | le32 0 | le64 table off | cksum16 | magic */
#define PACK_TARGET_SIZE ((size_t)16 << 20)
#define PACK_MAX_BLOBS 1000000u
/* a backup writes an index file after this many packs (and at the end) */
#define REPO_INDEX_EVERY_PACKS 8
/* ... on remote storage (BACKEND_REMOTE), where each index file is one
 * more PUT and every later command lists and caches it: 512 MiB of packs */
#define REPO_INDEX_EVERY_PACKS_REMOTE 32
/* ... by a handle that batches its flushes (repo_batch_packs) on local
 * storage: one batch, up to 1 GiB of packs, per index file.  Measured on
 * the sync benchmark (48 packs): batches of 8 cost 35% more time than one
 * batch of all; a kill costs at most a batch's copying again */
#define REPO_INDEX_EVERY_PACKS_BATCHED 64
/* ... or once this many blobs wait in the session's table, whichever
 * comes first (checked as each pack is stored): 8 packs of 0-1 KiB files
 * are ~230,000 blobs, a 27 MB table (two while it grows) and a 17 MB index
 * file encoded in memory; this keeps both to this many blobs and one
 * pack's more (docs/performance.md, "3M small files") */
#define REPO_INDEX_EVERY_BLOBS 65536
/* ... twice that on remote storage, for the PUT each file costs there:
 * linux-6.1's 78,000 blobs make one index file, not two (up to ~20 MB
 * more of a small-file backup's memory there, none of a local one's) */
#define REPO_INDEX_EVERY_BLOBS_REMOTE 131072

/* index: header | fanout | pack ids | entries | trailer */
#define INDEX_HEADER_LEN 24 /* magic | le32 version | le32 npacks | le32 nblobs | le32 0 */
#define INDEX_FANOUT_LEN (256 * 4)
#define INDEX_ENTRY_LEN 52  /* id | le32 pack | le32 off | le32 stored | le32 raw | type | 3 pad */
#define INDEX_TRAILER_LEN 24 /* cksum16 | magic */

/*
 * snapshot: magic | le32 version | le32 P | tree id | P bytes of plaintext
 * fields (version 2; version 1 has P = 0) | sealed body
 */
#define SNAPSHOT_HEADER_LEN (8 + 4 + 4 + 32)
#define SNAPSHOT_VERSION 2       /* what snapshot_encode writes; 1 is still read */
#define SNAPSHOT_PLAIN_MAX 4096  /* cap on P */

/* condemned-pack record: magic | le32 version | le32 npacks | le64 time | ids | cksum16 */
#define GCREC_HEADER_LEN 24
#define GCREC_MAX_PACKS (1u << 24)

/* key: magic | le32 version | kdf | log_n | r | p | salt[32] | sealed keys */
#define KEY_HEADER_LEN (8 + 4 + 4 + 32)
#define KEY_KDF_SCRYPT 1

#endif
