/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * layout: the kinds of file a repository consists of, by name
 * (docs/format.md, "Layout"), and how each is checked against its name
 * without the key.  Two users: the metadata cache (which files never
 * change, and whether a local copy is whole: layout_cache_policy) and the
 * server, which refuses an upload that is not a well-formed file of its
 * kind or does not match its name (docs/http-api.md).
 *
 * Names are backend names (backend.h).  The strict forms: "config",
 * "keys/<64 hex>", "data/<2 hex>/<64 hex, starting with those 2>",
 * "index/<64 hex>", "snapshots/<64 hex>", "locks/<16 hex>",
 * "gc/<32 hex>", "protected/<64 hex>"; hex is lower case.
 */
#ifndef DV_REPO_LAYOUT_H
#define DV_REPO_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "../backend/cache.h"

typedef enum {
	LAYOUT_CONFIG,
	LAYOUT_KEY,
	LAYOUT_PACK,
	LAYOUT_INDEX,
	LAYOUT_SNAPSHOT,
	LAYOUT_LEASE,
	LAYOUT_GCREC,
	LAYOUT_PROTECTED,
	LAYOUT_KINDS
} layout_kind;

/* The kind of file name is: 0 and *out, or -DV_ENOTFOUND if no repository file has that name. */
int layout_kind_of(const char *name, layout_kind *out);
/* 1 if dir is a directory of the layout (listable): data, data/<2 hex>, index, ... */
int layout_is_dir(const char *dir);
/* "config", "key", "pack", "index", "snapshot", "lease", "gc record", "protection mark" */
const char *layout_kind_name(layout_kind k);
/* 1 if a file of kind k never changes once written (named by a hash of its contents). */
int layout_is_immutable(layout_kind k);
/* The largest file of kind k that dvalin writes, in bytes (docs/http-api.md, "Limits"). */
uint64_t layout_max_size(layout_kind k);

/*
 * Checks that the n bytes at p are a well-formed file of name's kind that
 * matches its name: a pack by the SHA-256 of its table and every blob's
 * checksum, index files, snapshots and key files by the SHA-256 of their
 * contents (and their structure), the config, leases and gc records by
 * their format, protection marks by being empty.  0, -DV_ECORRUPT with
 * a one-line reason (not naming the file: the caller does), or
 * -DV_ENOTFOUND for a name outside the layout.
 */
int layout_check(const char *name, const uint8_t *p, size_t n);

/*
 * The metadata cache's policy for a repository: index files, snapshots
 * and key files, and packs read or written as BACKEND_META (tree packs),
 * are kept; a copy is checked with layout_check.
 */
extern const cache_policy layout_cache_policy;

#endif
