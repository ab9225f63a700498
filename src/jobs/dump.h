/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dump: part of a snapshot as one byte stream, written through a
 * callback (stdout for `dump`, an HTTP response for the daemon's
 * downloads): a file's contents as they are, or a tar stream.
 *
 * The tar stream is POSIX pax (libarchive), with everything a restore
 * would set: mode, numeric owner and names, times with nanoseconds,
 * symlink targets, devices and fifos, hard links as links, xattrs
 * (SCHILY.xattr), POSIX ACLs (SCHILY.acl.access/default, converted from
 * the system.posix_acl_* xattrs), sparse files as GNU sparse 1.0, and
 * names of any length or bytes.  Entries are named by their path in the
 * snapshot without the leading '/', and the directories on the way to
 * what is dumped come first, so `tar -x -C T` lays things out as
 * `restore --target T` does.
 *
 * Bad input: an entry whose name cannot be a file name ('/', NUL, "..")
 * is left out with an error naming it; a file whose contents cannot be
 * read is padded with zeros to its recorded size (the stream stays
 * valid) and named; both count as errors.  Sockets cannot be stored in a
 * tar stream and are left out with a warning.  Both stop with -EINTR
 * when interrupt_pending() (base/interrupt.h).
 */
#ifndef DV_JOBS_DUMP_H
#define DV_JOBS_DUMP_H

#include <stddef.h>
#include <stdint.h>

#include "snapfs.h"

/* Writes n bytes; 0 or a negative code, which stops the dump. */
typedef int (*dump_write_fn)(void *ud, const void *p, size_t n);

/* The contents of the regular file p names (snapfs_lookup), in order. */
int dump_file(snapfs_session *s, const snapfs_path *p, dump_write_fn fn, void *ud);

typedef struct {
	uint64_t entries, files, bytes;
	uint64_t errors;  /* entries left out or damaged (each logged) */
	uint64_t skipped; /* sockets */
} dump_stats;

/*
 * A tar stream of what p names (snapfs_lookup; the root for the whole
 * snapshot): the directories on the way, the entry itself and, for a
 * directory, everything below it.  Returns 0 when the stream was written
 * to its end (out->errors may still count damaged entries), < 0 when it
 * stopped.
 */
int dump_tar(snapfs_session *s, const snapfs_path *p, dump_write_fn fn, void *ud,
	     dump_stats *out);

#endif
