/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * change: change detection against the parent snapshot (DESIGN.md: the
 * parent snapshot itself, no separate cache).
 *
 * A file whose size, mtime, ctime, inode and mode equal its node in the
 * parent is taken as unchanged: it is not opened, and its chunk list is
 * the parent's, provided every chunk is still stored.  ctime moves with
 * any change of the inode (xattrs included), so an equal inode and ctime
 * also mean the parent's xattrs are current.  The predicates are pure and
 * answer 1 (yes) or 0 (no).
 */
#ifndef DV_ARCHIVE_CHANGE_H
#define DV_ARCHIVE_CHANGE_H

#include <sys/stat.h>

#include "../repo/repo.h"
#include "seglist.h"
#include "tree.h"

/* 1 when pn (may be NULL) is a file node matching st's size, times, inode and mode. */
int change_file_unchanged(const tree_node *pn, const struct stat *st);
/* 1 when pn (may be NULL) has st's inode and ctime: its xattrs are current. */
int change_same_inode_ctime(const tree_node *pn, const struct stat *st);
/* 1 when two fstat()s of one open file show the same size, mtime and ctime. */
int change_same_version(const struct stat *a, const struct stat *b);
/*
 * The chunk list of pn (a file node of tree pt) into out: 0, or 1 when a
 * chunk is no longer stored (the file must be read), or a negative code.
 */
int change_parent_segs(repo *r, const tree *pt, const tree_node *pn, seglist *out);
/* The two halves of it: the copy (0 or a negative code), and the check
 * (1 when every chunk of s is in the index, else 0; any thread). */
int change_copy_segs(const tree *pt, const tree_node *pn, seglist *out);
int change_segs_are_stored(repo *r, const seglist *s);

#endif
