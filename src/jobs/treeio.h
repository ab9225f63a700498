/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * treeio: tree blobs to and from the repository (load and decode; encode
 * and save), and the depth rule every walk over trees applies.
 */
#ifndef DV_JOBS_TREEIO_H
#define DV_JOBS_TREEIO_H

#include <stddef.h>
#include <stdint.h>

#include "../archive/tree.h"
#include "../repo/repo.h"

/* Loads and decodes tree id into out (released by the caller). */
int treeio_load(repo *r, const uint8_t id[32], tree *out);
/* Finishes tw, stores the tree blob (deduplicated) and gives its id. */
int treeio_store(repo *r, tree_writer *tw, uint8_t out_id[32]);
/*
 * The depth rule (TREE_MAX_DEPTH): t is the tree of the directory at path,
 * depth levels below the root (the root "/" is 0), so its entries are at
 * depth + 1.  0 when they may be read; else -ELOOP with a message naming
 * the path (shortened), for a forged snapshot nested too deeply or whose
 * trees form a cycle (possible for someone holding the key: blob ids are
 * checked only with --verify).  Walks keep their depth within the limit,
 * so their stack use is bounded (docs/internals.md, "Walks over trees").
 */
int treeio_check_depth(const tree *t, size_t depth, const void *path, size_t path_len);

#endif
