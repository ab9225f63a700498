/* SPDX-License-Identifier: BSD-2-Clause */
#include "mark.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../core/blob.h"
#include "../repo/pack.h"
#include "../repo/snapshots.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int mark_init(marker *m, backend *be, const index_set *main, const index_set *cond)
{
	memset(m, 0, sizeof(*m));
	m->be = be;
	m->main = main;
	m->cond = cond;
	m->npos_main = index_set_positions(main);
	m->npos_cond = cond ? index_set_positions(cond) : 0;
	m->bits_main = calloc(m->npos_main / 8 + 1, 1);
	m->bits_cond = cond ? calloc(m->npos_cond / 8 + 1, 1) : NULL;
	if (!m->bits_main || (cond && !m->bits_cond)) {
		mark_release(m);
		return -ENOMEM;
	}
	return 0;
}

void mark_release(marker *m)
{
	backend_file_close(m->be, m->f);
	m->f = NULL;
	free(m->bits_main);
	free(m->bits_cond);
	free(m->bits_late);
	free(m->stack);
	index_set_free(m->late);
	m->bits_main = m->bits_cond = m->bits_late = NULL;
	m->late = NULL;
	m->stack = NULL;
}

int mark_find(const marker *m, const uint8_t id[32], index_loc *loc, int *set)
{
	const index_set *sets[] = { m->main, m->cond, m->late };
	const uint64_t npos[] = { m->npos_main, m->npos_cond, m->npos_late };
	for (int i = 0; i < 3; i++) {
		if (sets[i] && index_set_lookup(sets[i], id, loc) == 0 && loc->pack_id &&
		    loc->pos < npos[i]) {
			*set = i;
			return 0;
		}
	}
	return -DV_ENOTFOUND;
}

uint8_t *mark_bits(const marker *m, int set)
{
	return set == MARK_MAIN ? m->bits_main : set == MARK_COND ? m->bits_cond : m->bits_late;
}

/* Finds id; *bits is the bit array its position belongs to. */
static int find(marker *m, const uint8_t id[32], index_loc *loc, uint8_t **bits)
{
	int set = MARK_MAIN;
	int rc = mark_find(m, id, loc, &set);
	*bits = rc == 0 ? mark_bits(m, set) : NULL;
	return rc;
}

int mark_is_marked(const marker *m, const uint8_t id[32])
{
	index_loc loc;
	int set;
	if (mark_find(m, id, &loc, &set) < 0)
		return 0;
	const uint8_t *bits = mark_bits(m, set);
	return bits && mark_test(bits, loc.pos);
}


static int push(marker *m, const uint8_t id[32])
{
	int r = array_reserve(&m->stack, &m->capstack, m->nstack + 1, 32);
	if (r < 0)
		return r;
	memcpy(m->stack[m->nstack++], id, 32);
	return 0;
}

static int read_stored(marker *m, const index_loc *loc, buf *out)
{
	char name[80];
	if (!m->f || memcmp(m->f_id, loc->pack_id, 32) != 0) {
		backend_file_close(m->be, m->f);
		m->f = NULL;
		pack_name(name, loc->pack_id);
		int r = backend_open_read(m->be, name, BACKEND_META, &m->f, NULL); /* trees only */
		if (r < 0)
			return r;
		memcpy(m->f_id, loc->pack_id, 32);
	}
	out->len = 0;
	int r = buf_reserve(out, loc->stored_len);
	if (r < 0)
		return r;
	r = backend_file_read(m->be, m->f, loc->offset, out->data, loc->stored_len);
	if (r == 0)
		out->len = loc->stored_len;
	return r;
}

/* Visits one tree: marks its children and queues unvisited subtrees. */
static int visit(marker *m, const uint8_t id[32], buf *tmp)
{
	index_loc loc;
	uint8_t *bits;
	if (find(m, id, &loc, &bits) < 0 || loc.type != BLOB_TREE) {
		m->missing++;
		return 0;
	}
	int r = read_stored(m, &loc, tmp);
	const uint8_t *ids;
	uint32_t n;
	if (r == 0 && blob_children(&ids, &n, tmp->data, tmp->len) < 0)
		r = -DV_ECORRUPT;
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		m->unreadable++;
		if (m->on_missing)
			m->on_missing(m->ud, id, NULL);
		return 0;
	}
	m->trees++;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *c = ids + (size_t)i * 32;
		index_loc cl;
		uint8_t *cb;
		if (find(m, c, &cl, &cb) < 0) {
			m->missing++;
			if (m->on_missing)
				m->on_missing(m->ud, c, id);
			continue;
		}
		if (!mark_set(cb, cl.pos))
			continue;
		m->blobs++;
		if (cl.type == BLOB_TREE && (r = push(m, c)) < 0)
			return r;
	}
	return 0;
}

int mark_tree(marker *m, const uint8_t root[32])
{
	buf _cleanup_(buf_releasep) tmp = BUF_INIT;
	index_loc loc;
	uint8_t *bits;
	if (find(m, root, &loc, &bits) < 0) {
		m->missing++;
		if (m->on_missing)
			m->on_missing(m->ud, root, NULL);
		return 0;
	}
	if (!mark_set(bits, loc.pos))
		return 0;
	m->blobs++;
	int r = push(m, root);
	while (r == 0 && m->nstack) {
		uint8_t id[32];
		memcpy(id, m->stack[--m->nstack], 32);
		r = visit(m, id, &tmp);
	}
	return r;
}

struct roots {
	uint8_t (*v)[32];
	size_t n, cap;
};

static int add_root(void *ud, const uint8_t id[32], const uint8_t tree[32])
{
	struct roots *r = ud;
	(void)id;
	int rc = array_reserve(&r->v, &r->cap, r->n + 1, 32);
	if (rc == 0)
		memcpy(r->v[r->n++], tree, 32);
	return rc;
}

int mark_load_late(marker *m)
{
	if (m->late)
		return 0;
	int rc = index_set_new(&m->late);
	rc = rc ?: index_set_load_new(m->late, m->be, m->main);
	m->npos_late = rc == 0 ? index_set_positions(m->late) : 0;
	if (rc == 0 && !(m->bits_late = calloc(m->npos_late / 8 + 1, 1)))
		rc = -ENOMEM;
	return rc;
}

int mark_snapshots(marker *m, repo *r)
{
	struct roots roots = { NULL, 0, 0 };
	size_t damaged = 0;
	int rc = repo_list_snapshot_roots(r, add_root, &roots, &damaged);
	m->damaged_snapshots += damaged;
	rc = rc ?: mark_load_late(m);
	for (size_t i = 0; rc == 0 && i < roots.n; i++) {
		m->snapshots++;
		rc = mark_tree(m, roots.v[i]);
	}
	free(roots.v);
	return rc;
}
