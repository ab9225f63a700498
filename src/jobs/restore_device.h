/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * restore_device: one file of a snapshot written to a block device or to
 * an image file (restore --to-device): a disk or volume backed up with
 * --read-devices, or a VM image, goes back whole.
 *
 * A block device is checked before a byte is written: it must hold the
 * file (BLKGETSIZE64); it must not be mounted, nor any of its partitions
 * (/proc/self/mountinfo); nothing may hold it (its sysfs holders:
 * device-mapper, md, ...); and it is opened with O_EXCL, which the kernel
 * refuses while a file system, swap or another exclusive opener uses it.
 * Holes are zeroed with BLKZEROOUT (no data is sent: the device makes the
 * zeros, or the kernel writes them), so the device's old contents never
 * show through.  A larger device keeps its bytes beyond the file (a
 * warning says how many).  Anything else that exists must be a regular
 * file; it is replaced by a sparse image: holes are not written, the size
 * is set at the end.  Everything is flushed (fsync) before success.
 */
#ifndef DV_JOBS_RESTORE_DEVICE_H
#define DV_JOBS_RESTORE_DEVICE_H

#include <stdint.h>

#include "../repo/repo.h"
#include "../repo/snapshot.h"
#include "progress.h"

typedef struct {
	const char *path;   /* the file in the snapshot, absolute */
	const char *target; /* a block device, or an image file (created if missing) */
	int verify;         /* re-hash every chunk read */
} restore_device_opts;

typedef struct {
	uint64_t size;   /* the file's size */
	uint64_t data;   /* bytes written from chunks */
	uint64_t zeroed; /* bytes of holes zeroed on a device (left out of an image) */
	int device;      /* the target is a block device */
} restore_device_stats;

int restore_device_run(repo *r, const snapshot *s, const restore_device_opts *o, job_progress *prog,
		       restore_device_stats *out);

#endif
