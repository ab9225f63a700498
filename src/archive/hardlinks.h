/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hardlinks: the inodes with more than one name met by a walk, keyed by
 * (device, inode), each with the contents of its first name.
 *
 * The first name of an inode is read (or reuses the parent snapshot's
 * list); later names take its seglist instead of reading the file again.
 * While the first name is still being read, `pending` points at whatever
 * the walk uses to wait for it (opaque here).  Open addressing, grown at
 * half full; entries do not move except when hardlinks_add() grows the
 * table, so a pointer from hardlinks_find() is valid until the next add.
 * One thread.
 */
#ifndef DV_ARCHIVE_HARDLINKS_H
#define DV_ARCHIVE_HARDLINKS_H

#include <stddef.h>
#include <stdint.h>

#include "seglist.h"

typedef struct {
	uint64_t dev, ino;
	int used;
	int ready;       /* segs holds the contents */
	void *pending;   /* the first name's reader, until ready or failed */
	seglist segs;
} hardlink;

typedef struct {
	hardlink *v;
	size_t cap, n;
} hardlinks;

#define HARDLINKS_INIT { NULL, 0, 0 }

/* The entry of (dev, ino), or NULL. */
hardlink *hardlinks_find(hardlinks *t, uint64_t dev, uint64_t ino);
/* The entry of (dev, ino), added (zeroed but for the key) when new. */
int hardlinks_add(hardlinks *t, uint64_t dev, uint64_t ino, hardlink **out);
void hardlinks_release(hardlinks *t);

#endif
