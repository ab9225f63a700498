/* SPDX-License-Identifier: BSD-2-Clause */
#include "treeio.h"
#include "quote.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../core/blob.h"
#include "../repo/session.h"

#include <errno.h>
#include <string.h>

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

int treeio_check_depth(const tree *t, size_t depth, const void *path, size_t path_len)
{
	if (t->n == 0 || depth < TREE_MAX_DEPTH)
		return 0;
	/* a path this deep is long: its start and its end name it well enough */
	buf _cleanup_(buf_releasep) q = BUF_INIT;
	const char *s = quote_path(&q, path, path_len);
	size_t n = strlen(s);
	if (n > 200)
		return err_set(-ELOOP, "'%.60s...%s' nests deeper than %d levels (a forged snapshot, or its trees form a cycle)",
			       s, s + n - 120, TREE_MAX_DEPTH);
	return err_set(-ELOOP, "'%s' nests deeper than %d levels (a forged snapshot, or its trees form a cycle)",
		       s, TREE_MAX_DEPTH);
}
