/* SPDX-License-Identifier: BSD-2-Clause */
#include "change.h"

int change_file_unchanged(const tree_node *pn, const struct stat *st)
{
	return pn && pn->type == NODE_FILE && pn->size == (uint64_t)st->st_size &&
	       pn->mtime == st->st_mtim.tv_sec && pn->mtime_ns == (uint32_t)st->st_mtim.tv_nsec &&
	       pn->ctime == st->st_ctim.tv_sec && pn->ctime_ns == (uint32_t)st->st_ctim.tv_nsec &&
	       pn->ino == st->st_ino && pn->mode == (st->st_mode & 07777u);
}

int change_same_inode_ctime(const tree_node *pn, const struct stat *st)
{
	return pn && pn->ino == st->st_ino && pn->ctime == st->st_ctim.tv_sec &&
	       pn->ctime_ns == (uint32_t)st->st_ctim.tv_nsec;
}

int change_same_version(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

int change_copy_segs(const tree *pt, const tree_node *pn, seglist *out)
{
	out->n = 0;
	int rc = seglist_reserve(out, pn->nsegs);
	for (size_t i = 0; rc == 0 && i < pn->nsegs; i++) {
		const uint8_t *id = pn->segs[i].ref ? tree_child(pt, pn->segs[i].ref) : NULL;
		rc = seglist_push(out, pn->segs[i].len, id);
	}
	return rc;
}

int change_segs_are_stored(repo *r, const seglist *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (!s->v[i].hole && !repo_has_blob(r, s->v[i].id))
			return 0;
	return 1;
}

int change_parent_segs(repo *r, const tree *pt, const tree_node *pn, seglist *out)
{
	int rc = change_copy_segs(pt, pn, out);
	if (rc < 0)
		return rc;
	return change_segs_are_stored(r, out) ? 0 : 1;
}
