/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * meta: capturing file metadata into tree nodes and applying it back.
 *
 * Everything works relative to a directory descriptor and a single name,
 * never a path, so paths longer than PATH_MAX work and no symlink in a
 * path is ever followed.  Extended attributes of entries that cannot be
 * opened safely (symlinks, fifos, devices) are reached through
 * /proc/self/fd/<dirfd>/<name> with the l* calls, which do not follow the
 * last component.  POSIX ACLs are the system.posix_acl_* xattrs and
 * travel with them.
 */
#ifndef DV_ARCHIVE_META_H
#define DV_ARCHIVE_META_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../base/buf.h"
#include "tree.h"

/* A cache of uid/gid -> name look-ups. */
typedef struct meta_names meta_names;

int meta_names_new(meta_names **out);
void meta_names_free(meta_names *m);

/* Fills type, mode, ids, names, times, dev/ino, nlink, size, rdev. */
/* The NODE_* type of a stat mode (what a backup records for it). */
uint8_t meta_node_type(mode_t m);
void meta_from_stat(tree_node *n, const struct stat *st, meta_names *names);
/*
 * The other way: st as a file system would report the node (type and
 * mode, owner, size, nlink, rdev, mtime and ctime; atime is mtime, not
 * being recorded; st_blocks counts the data, not the holes).  st_ino and
 * st_dev are left 0 for the caller, whose numbering they are.
 */
void meta_to_stat(struct stat *st, const tree_node *n);
/* Encoded xattr list of dirfd/name (empty when there are none). */
int meta_read_xattrs(buf *out, int dirfd, const char *name);
/* The target of symlink dirfd/name, any length. */
int meta_read_link(buf *out, int dirfd, const char *name);

enum {
	META_FAIL_OWNER = 1,
	META_FAIL_MODE = 2,
	META_FAIL_XATTR = 4,
	META_FAIL_TIME = 8,
};

/*
 * Applies owner, mode, xattrs and mtime.  fd >= 0: an open file or
 * directory; fd < 0: the entry dirfd/name itself (symlink, fifo, device).
 * Returns 0 when all applied, otherwise a negative errno of the first
 * failure with *out_failed telling which parts failed.  Ownership is
 * only attempted when restore_owner is set.
 */
int meta_apply(int fd, int dirfd, const char *name, const tree_node *n, int restore_owner,
	       unsigned *out_failed);

#endif
