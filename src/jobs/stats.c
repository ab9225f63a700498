/* SPDX-License-Identifier: BSD-2-Clause */
#include "stats.h"
#include "mark.h"
#include "../base/err.h"
#include "../core/blob.h"
#include "../repo/snapshots.h"

#include <errno.h>
#include <string.h>

typedef struct {
	marker *m;
	stats_result *res;
} sctx;

static int count(void *ud, const uint8_t *id, const index_loc *loc)
{
	sctx *c = ud;
	(void)id;
	c->res->index_blobs++;
	c->res->index_stored += loc->stored_len;
	if (mark_test(c->m->bits_main, loc->pos)) {
		c->res->raw_used += loc->raw_len;
		if (loc->type == BLOB_DATA)
			c->res->data_raw_used += loc->raw_len;
		c->res->stored_used += loc->stored_len;
	}
	return 0;
}

/* The listing gives each pack's size: no stat per pack. */
static int count_pack(void *ud, const backend_entry *e)
{
	sctx *c = ud;
	c->res->packs++;
	c->res->pack_bytes += e->size;
	return 0;
}

int stats_run(repo *r, stats_result *res)
{
	memset(res, 0, sizeof(*res));
	snapshot **v;
	size_t n, damaged;
	int rc = repo_load_snapshots(r, &v, &n, &damaged);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		res->logical_files += v[i]->stats.total_files;
		res->logical_bytes += v[i]->stats.total_bytes;
	}
	res->snapshots = n;
	repo_free_snapshots(v, n);
	marker m;
	if ((rc = mark_init(&m, repo_backend(r), repo_index(r), NULL)) < 0)
		return rc;
	sctx c = { &m, res };
	rc = mark_snapshots(&m, r);
	res->blobs_used = m.blobs;
	res->trees = m.trees;
	rc = rc ?: index_set_foreach(repo_index(r), count, &c);
	rc = rc ?: backend_list(repo_backend(r), "data", count_pack, &c);
	mark_release(&m);
	return rc;
}
