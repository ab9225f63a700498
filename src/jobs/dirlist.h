/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dirlist: a directory's sorted entries with their stat, for the backup
 * walk (backup_walk.c), read with getdents64 into a large buffer and
 * statx relative to the directory (only the fields a node records, never
 * syncing with a remote server: AT_STATX_DONT_SYNC).
 *
 * The read-ahead (dirlist_ahead) does the same on a thread of its own for
 * the subdirectories the walk will enter next, so that listing and
 * stat'ing, which are most of an unchanged re-backup, run beside the walk's
 * comparisons and tree assembly.  The walk submits a directory's
 * subdirectories when it lists it, in the order it will enter them; newer
 * submissions go first (they are deeper, so needed sooner: the walk is
 * depth-first).  At most a budget of entries is held listed ahead; what
 * the thread did not get to, the walk lists itself.
 */
#ifndef DV_JOBS_DIRLIST_H
#define DV_JOBS_DIRLIST_H

#include <stddef.h>
#include <sys/stat.h>

typedef struct {
	char *name;     /* owned until taken */
	struct stat st;
	int rc;         /* 0, or the stat's negative errno (-ENOENT: vanished) */
} dirlist_entry;

typedef struct {
	dirlist_entry *e;
	size_t n;
} dirlist;

#define DIRLIST_INIT { NULL, 0 }

/* The sorted names of the directory fd (without . and ..); no stat yet. */
int dirlist_names(int fd, dirlist *out);
/* Stats every entry of l in fd (per-entry failures go to e[i].rc). */
void dirlist_stat(int fd, dirlist *l);
/* Keeps the entries for which keep[i] is set (the others are freed). */
void dirlist_keep(dirlist *l, const unsigned char *keep);
/* Frees the names still owned and the array. */
void dirlist_release(dirlist *l);

typedef struct dirlist_ahead dirlist_ahead;
typedef struct dirlist_req dirlist_req;

/*
 * Starts the thread; budget: entries held listed ahead at most; fds:
 * descriptors it may hold (a duplicate per directory whose subdirectories
 * are queued, and the one it lists).
 */
int dirlist_ahead_new(dirlist_ahead **out, size_t budget, unsigned fds);
/* Stops the thread; every request must have been taken or dropped. */
void dirlist_ahead_free(dirlist_ahead *a);

typedef struct dirlist_batch dirlist_batch;

/*
 * Asks for subdirectories of dirfd (a duplicate is kept while needed):
 * begin, then add each in the order the walk will enter them, then end.
 * A request expects the directory it opens to be st's (device and inode);
 * with the budget or the descriptors used up, *out is NULL (not queued).
 */
int dirlist_ahead_begin(dirlist_ahead *a, int dirfd, dirlist_batch **out);
int dirlist_ahead_add(dirlist_batch *b, const char *name, const struct stat *st, dirlist_req **out);
void dirlist_ahead_end(dirlist_batch *b); /* NULL-safe */
/*
 * Takes the listing of a request (waiting while it is being read): 1 with
 * *out filled (names owned by the caller now), or 0 when the thread did
 * not list it (not yet started, or it failed): the walk lists it itself.
 * The request is freed either way.
 */
int dirlist_ahead_take(dirlist_req *r, dirlist *out);
/* Frees a request that will not be taken (NULL-safe). */
void dirlist_ahead_drop(dirlist_req *r);

#endif
