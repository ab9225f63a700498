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

int change_parent_segs(repo *r, const tree *pt, const tree_node *pn, seglist *out)
{
	out->n = 0;
	int rc = seglist_reserve(out, pn->nsegs);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < pn->nsegs; i++) {
		const uint8_t *id = pn->segs[i].ref ? tree_child(pt, pn->segs[i].ref) : NULL;
		if (id && !repo_has_blob(r, id))
			return 1;
		if ((rc = seglist_push(out, pn->segs[i].len, id)) < 0)
			return rc;
	}
	return 0;
}
