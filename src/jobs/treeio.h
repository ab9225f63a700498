/* SPDX-License-Identifier: BSD-2-Clause */
/* treeio: tree blobs to and from the repository (load and decode; encode and save). */
#ifndef DV_JOBS_TREEIO_H
#define DV_JOBS_TREEIO_H

#include <stdint.h>

#include "../archive/tree.h"
#include "../repo/repo.h"

/* Loads and decodes tree id into out (released by the caller). */
int treeio_load(repo *r, const uint8_t id[32], tree *out);
/* Finishes tw, stores the tree blob (deduplicated) and gives its id. */
int treeio_store(repo *r, tree_writer *tw, uint8_t out_id[32]);

#endif
