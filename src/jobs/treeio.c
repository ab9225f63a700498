/* SPDX-License-Identifier: BSD-2-Clause */
#include "treeio.h"
#include "../base/cleanup.h"
#include "../core/blob.h"

int treeio_load(repo *r, const uint8_t id[32], tree *out)
{
	buf _cleanup_(buf_releasep) plain = BUF_INIT;
	int rc = repo_load_blob(r, BLOB_TREE, id, &plain);
	return rc ?: tree_decode(out, &plain);
}

int treeio_store(repo *r, tree_writer *tw, uint8_t out_id[32])
{
	buf _cleanup_(buf_releasep) plain = BUF_INIT;
	int rc = tree_writer_finish(tw, &plain);
	if (rc < 0)
		return rc;
	repo_blob_id(r, out_id, plain.data, plain.len);
	return repo_save_blob(r, BLOB_TREE, out_id, plain.data, plain.len);
}
