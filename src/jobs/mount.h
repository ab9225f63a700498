/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mount: the repository as a read-only file system (FUSE, through the
 * low-level API of libfuse3).
 *
 *   snapshots/<time>/...       every snapshot, named by its time as
 *                              recorded (RFC 3339 with its offset; a time
 *                              two snapshots share gets "-<short id>")
 *   hosts/<host>/<time>/...    the snapshots of each host
 *   hosts/<host>/latest        a symlink to the newest of them
 *   tags/<tag>/<time>/..., tags/<tag>/latest
 *
 * Inside a snapshot every entry has the size, mode, owner, times, xattrs
 * (ACLs included) and symlink target it was recorded with; the names of
 * a hard-linked file are links to one inode (one inode number, nlink as
 * recorded).  Reads go through snapfs: only the chunks a read touches
 * are fetched and decrypted, holes fetch nothing, and chunks and trees
 * stay in bounded caches.
 *
 * Inodes: the kernel holds a reference (its lookup count) to each inode
 * it knows; an entry of a snapshot gets an inode on lookup and loses it
 * on the kernel's forget, so memory follows what the kernel caches, not
 * the size of the snapshots (an inode is the id of its tree and an index:
 * about 130 bytes).  The node id is the address of the inode; the
 * virtual directories live as long as the mount.  Requests run on
 * libfuse's worker threads, each with its own snapfs session.
 *
 * Permissions are the kernel's (default_permissions) on the recorded
 * modes and owners, so with --allow-other a user reads what the user
 * could read on the original system.  The snapshots are listed once, at
 * mount time.
 */
#ifndef DV_JOBS_MOUNT_H
#define DV_JOBS_MOUNT_H

#include <stddef.h>
#include <stdint.h>

#include "../repo/repo.h"
#include "snapfs.h"

typedef struct {
	const char *mountpoint;
	int allow_other;
	size_t blob_cache, tree_cache; /* bytes (snapfs_params) */
	void (*mounted)(void *ud);     /* called once the file system is mounted */
	void *ud;
} mount_opts;

/*
 * Mounts and serves until unmounted (fusermount3 -u, umount) or
 * signalled (SIGINT, SIGTERM, SIGHUP: then it unmounts itself).  out
 * gets what was read.  A clear error when FUSE is not available or not
 * allowed.
 */
int mount_run(repo *r, const mount_opts *o, snapfs_stats *out);

#endif
