/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fsio: whole-buffer reads and writes that retry on EINTR and short
 * transfers, and the write-temp-fsync-rename step that makes every
 * repository file appear atomically.
 */
#ifndef DV_BASE_FSIO_H
#define DV_BASE_FSIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "buf.h"

int fsio_write_all(int fd, const void *p, size_t n);
/*
 * Writes p[0, n) into fd, an empty file opened for writing, from its
 * start: a large write goes past the page cache (O_DIRECT, through an
 * aligned bounce buffer when p is not aligned, the unaligned tail
 * buffered), where the file system allows, else like fsio_write_all.
 * For data written once and read much later (packs): on some machines the
 * kernel's copy into the page cache and its write-back cost more CPU than
 * sealing the data did.  Durability still needs the fsync.
 */
int fsio_write_bulk(int fd, const void *p, size_t n);
int fsio_pwrite_all(int fd, const void *p, size_t n, off_t off);
/* Reads exactly n bytes at off; -ENODATA if the file is shorter. */
int fsio_pread_exact(int fd, void *p, size_t n, off_t off);
/* Reads a whole file (at most max bytes, else -EFBIG) into out. */
int fsio_read_file(int dirfd, const char *name, buf *out, size_t max);
/*
 * Writes name in dirfd atomically: a temporary file in the same directory
 * is written, fsync'd and renamed over name, then the directory is
 * fsync'd.  A crash leaves either the old state or the complete new file.
 */
int fsio_write_atomic(int dirfd, const char *name, const void *p, size_t n);

/*
 * The steps of fsio_write_atomic, for files written piece by piece.
 * fsio_tmp_open creates a temporary file beside name (a path below dirfd
 * whose directory exists; the temporary's name, in tmp, is that path with
 * ".tmp-<pid>-<n>-" before its last component, so readers that ignore
 * names starting with '.' never see it) and returns its descriptor.
 * fsio_tmp_commit closes fd and renames tmp to name (with FSIO_DURABLE
 * after fsync of the file, and then of the directory; with
 * FSIO_NOREPLACE failing with -EEXIST if name exists), or removes tmp on
 * failure.  fd is closed in every case.
 */
#define FSIO_TMP_MAX 512
#define FSIO_DURABLE (1u << 0)
#define FSIO_NOREPLACE (1u << 1)
#define FSIO_BULK (1u << 2) /* fsio_write_bulk instead of fsio_write_all */
int fsio_tmp_open(int dirfd, const char *name, char tmp[FSIO_TMP_MAX]);
int fsio_tmp_commit(int dirfd, int fd, const char *tmp, const char *name, unsigned flags);
/* The process id in a last component fsio_tmp_open made, or -1 if base is not one. */
long fsio_tmp_pid(const char *base);
/*
 * 1 if base, an entry of dirfd, is a temporary file fsio_tmp_open made
 * whose write can never finish: its process is not running on this host
 * (kill gives ESRCH; a live process, or another user's, keeps it) and its
 * file was last modified at least min_age_s seconds before now_s (0: at
 * any age).  Its stat in *st.  0 for anything else: another name, a file
 * gone meanwhile, not a regular file.  The one rule the server's store
 * and the local backend apply (each says why its age is enough).
 */
int fsio_tmp_leftover(int dirfd, const char *base, int64_t min_age_s, int64_t now_s,
		      struct stat *st);
/* The whole write in one call: fsio_write_atomic is this with FSIO_DURABLE. */
int fsio_write_replace(int dirfd, const char *name, const void *p, size_t n, unsigned flags);
/*
 * Creates every missing directory of path (relative to dirfd, or absolute),
 * mode 0700; with durable each new directory is fsync'd into its parent.
 */
int fsio_mkdirs(int dirfd, const char *path, int durable);
/* mkdirat that accepts an existing directory. */
int fsio_mkdir(int dirfd, const char *name, mode_t mode);
/* mkdir -p: missing parents get parent_mode, path itself mode; existing ones are fine. */
int fsio_mkdir_p(const char *path, mode_t parent_mode, mode_t mode);
/* The size in bytes of the block device open as fd (BLKGETSIZE64). */
int fsio_blockdev_size(int fd, uint64_t *out);
/*
 * Opens the directory that holds rel (len bytes of '/'-separated names
 * below dirfd; leading, doubled and trailing '/' are skipped) one name at
 * a time, so paths beyond PATH_MAX work.  With nofollow no directory on
 * the way may be a symlink (-ENOTDIR).  *out_fd is the directory, name
 * the last component (NUL-terminated); -EINVAL for an empty path, "." or
 * "..", a NUL or a name longer than 255 bytes.
 */
int fsio_open_parent(int dirfd, const void *rel, size_t len, int nofollow, int *out_fd,
		     char name[256]);
/*
 * Removes dirfd/name and, for a directory, everything below it, never
 * following a symlink; directories it may not write are made writable
 * first.  0 when it is gone (or was never there).
 */
int fsio_remove_tree(int dirfd, const char *name);

#endif
