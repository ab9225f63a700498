/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mountinfo: the mounts of this process (/proc/self/mountinfo), to find
 * the file system that holds a path (its device, type, source and where
 * it is mounted) and whether a block device is mounted.
 *
 * Fields are unescaped (the kernel writes a space as \040); entries are
 * in the file's order, so a later mount on the same point hides an
 * earlier one.
 */
#ifndef DV_BASE_MOUNTINFO_H
#define DV_BASE_MOUNTINFO_H

#include <stddef.h>
#include <sys/types.h>

typedef struct {
	unsigned major, minor; /* st_dev of the file system */
	char *root;            /* the directory of the file system mounted here */
	char *target;          /* the mount point */
	char *fstype;
	char *source;          /* device, dataset ("tank/data") or "none" */
} mount_entry;

typedef struct {
	mount_entry *v;
	size_t n;
} mount_table;

#define MOUNT_TABLE_INIT { NULL, 0 }

int mount_table_load(mount_table *t);
void mount_table_release(mount_table *t);
/*
 * The mount that holds the absolute, normalized path whose file system is
 * dev: the last entry with that device whose target is path or one of
 * its ancestors, the longest such.  NULL if none.
 */
const mount_entry *mount_table_find(const mount_table *t, const char *path, dev_t dev);
/* The first mount of the file system dev, or NULL. */
const mount_entry *mount_table_by_dev(const mount_table *t, dev_t dev);

#endif
