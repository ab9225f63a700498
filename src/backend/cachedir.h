/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cachedir: the directories of the metadata cache (cache.h) as things a
 * user lists and removes (`dvalin cache`).  Each repository's cache is a
 * directory below the cache root (backend_cache_root()), named by the
 * repository id, and marked as dvalin's by its CACHEDIR.TAG
 * (docs/format.md, "Local cache"): a tag of the Cache Directory Tagging
 * Specification, so that backup tools (dvalin's --exclude-caches too)
 * skip it, with dvalin's own lines after the signature.  Nothing without
 * that tag is ever removed: not a foreign directory, not a symlink.
 *
 * The tag is also the cache's lock and clock: a process using a cache
 * holds a shared flock(2) on it for as long as it has the cache open
 * (released by the kernel when the process dies, so no lock is ever
 * stale), and sets its mtime when it opens and closes the cache, which
 * is the "last used" that --cleanup judges by.  Removal takes the lock
 * exclusively without waiting, so a cache in use is kept; a process
 * that opens a cache while it is being removed waits for the removal and
 * then makes a fresh one.  The lock is for tidiness, not correctness: a
 * copy removed under a reader is fetched again (cache.h).
 */
#ifndef DV_BACKEND_CACHEDIR_H
#define DV_BACKEND_CACHEDIR_H

#include <stddef.h>
#include <stdint.h>

#define CACHEDIR_TAG "CACHEDIR.TAG"
#define CACHEDIR_VERSION 1 /* of the tag's dvalin lines */
#define CACHEDIR_MAX_AGE_DAYS 36500u /* --max-age beyond 100 years is a typo */

/*
 * Opens dir (made, 0700, with its parents when missing) as a cache in
 * use by repository location: *dirfd, and in *lockfd the tag, written
 * when missing or naming another location, held with a shared lock and
 * touched.  *lockfd is -1 where the tag can be neither written nor read
 * (a read-only cache: used as it is, unlocked).
 */
int cachedir_open(const char *dir, const char *location, int *dirfd, int *lockfd);
/* Touches the tag (the last use) and closes both; either may be -1. */
void cachedir_close(int dirfd, int lockfd);

typedef struct {
	char *id;          /* the directory's name (the repository id) */
	char *location;    /* the repository the cache was last used for; NULL if not recorded */
	int64_t last_used; /* the tag's mtime, seconds since the epoch */
	int sized;         /* size was counted */
	uint64_t size;     /* bytes in the cache's files */
	int in_use;        /* a dvalin process has it open */
} cachedir_entry;

typedef struct {
	cachedir_entry *v; /* by id */
	size_t n;
	size_t untagged; /* directories named by a repository id without the tag (an older dvalin's) */
	size_t others;   /* other entries of the root: not dvalin caches */
} cachedir_list;

/*
 * The caches below root, sized when with_size; a missing root holds
 * none.  0 or < 0 (message set).
 */
int cachedir_list_read(cachedir_list *out, const char *root, int with_size);
void cachedir_list_release(cachedir_list *l);

/*
 * Removes the cache id below root: 0 when it is gone; -EBUSY (message
 * set) when a process has it open; -DV_ENOTFOUND when root has no such
 * entry; any other error (message set) when the entry is not a dvalin
 * cache directory (a symlink, a directory without dvalin's tag: not
 * touched) or could not be removed.
 */
int cachedir_remove(const char *root, const char *id);

/* 1 when a cache last used at last_used was not used for more than max_age_days at now. */
int cachedir_is_old(int64_t last_used, int64_t now, uint32_t max_age_days);

#endif
