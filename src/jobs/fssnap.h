/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fssnap: consistent file system snapshots for a backup
 * (backup --snapshot btrfs|zfs|lvm).
 *
 * For each file system that holds a backed-up path (a btrfs subvolume, a
 * ZFS dataset, an LVM logical volume) one snapshot is made before the
 * walk and removed after it.  The walk reads the snapshot in place of the
 * live path (backup_walk_alias) and records the live names, so restores
 * and the next backup's change detection work as for a live backup.
 *
 *   btrfs  a read-only snapshot SUBVOLUME/.dvalin-snap-PID-START of the
 *          subvolume holding the path (`btrfs subvolume snapshot -r`;
 *          removed with `btrfs subvolume delete`)
 *   zfs    DATASET@dvalin-snap-PID-START, read in
 *          MOUNTPOINT/.zfs/snapshot/dvalin-snap-PID-START
 *          (`zfs snapshot`; `zfs destroy`)
 *   lvm    a snapshot volume VG/dvalin-snap-PID-START-N of the logical
 *          volume (`lvcreate -s`: a thin snapshot of a thin volume, else
 *          one of 10% of the origin's size), mounted read-only at
 *          /run/dvalin/VG/NAME (`umount`, `lvremove` afterwards).  With
 *          --read-devices a path that is a logical volume itself is read
 *          from its snapshot's device instead.
 *
 * The tools are run without a shell (base/proc.h) and their own messages
 * end up in ours.  PID and START (seconds since the epoch) identify the
 * process that made a snapshot: one whose process is gone was left by a
 * dvalin that could not clean up (itself and its guard killed, a power
 * cut) and is removed by the next snapshot backup of that file system;
 * a live process's are left alone.  The removal of each snapshot is
 * registered with the backup's guard (base/guard.h) before the snapshot
 * is made, so an interrupted backup removes it too.
 *
 * Limits: btrfs snapshots do not contain nested subvolumes (the walk
 * warns about each and stores it empty), ZFS snapshots do not contain
 * child datasets, an LVM snapshot of a file system that was not frozen
 * (lvcreate freezes ext4 and XFS) is only crash-consistent.
 */
#ifndef DV_JOBS_FSSNAP_H
#define DV_JOBS_FSSNAP_H

#include <stddef.h>

#include "../base/guard.h"
#include "backup_walk.h"

/*
 * The names of dvalin's snapshots start with this (btrfs: with a dot
 * before it).  A walk leaves out btrfs snapshots of that name, so that
 * one backup never stores another's snapshot (or its empty placeholder).
 */
#define FSSNAP_PREFIX "dvalin-snap-"

typedef enum {
	FSSNAP_NONE = 0,
	FSSNAP_BTRFS,
	FSSNAP_ZFS,
	FSSNAP_LVM,
} fssnap_kind;

/* "btrfs", "zfs", "lvm"; -DV_EUSAGE for another name. */
int fssnap_parse_kind(const char *name, fssnap_kind *out);
const char *fssnap_kind_name(fssnap_kind k);

typedef struct {
	fssnap_kind kind;
	char **paths;     /* absolute, normalized (backup's prepared paths) */
	size_t npaths;
	int read_devices; /* lvm: a path that is a logical volume is snapshotted as a device */
	guard *guard;     /* NULL: no cleanup if this process dies */
} fssnap_params;

typedef struct fssnap fssnap;

/*
 * Checks that every path is on a file system of the kind (else an error
 * naming it, nothing made), removes stale snapshots of those file
 * systems, and makes one snapshot of each.  On failure, what was made is
 * removed again.
 */
int fssnap_create(fssnap **out, const fssnap_params *p);
/* The aliases for the walk (owned by s). */
const backup_walk_alias *fssnap_aliases(const fssnap *s, size_t *out_n);
/* Removes every snapshot: 0, or the first failure (each is logged). */
int fssnap_remove(fssnap *s);
/* Removes what is left, then frees s.  NULL-safe. */
void fssnap_free(fssnap *s);

#endif
