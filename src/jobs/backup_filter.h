/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * backup_filter: what a backup leaves out, decided per entry by the walk
 * (backup_walk.c) after it stat()ed the entry:
 *
 *   - --exclude and --iexclude patterns (jobs/match.h), from the command
 *     line and from --exclude-file / --iexclude-file;
 *   - --exclude-larger-than SIZE: regular files above SIZE bytes;
 *   - the repository itself, when it lies inside a backed-up path (its
 *     directory's device and inode): left out, and said once;
 *   - --exclude-caches (a CACHEDIR.TAG with the signature of the Cache
 *     Directory Tagging Specification, https://bford.info/cachedir/) and
 *     --exclude-if-present NAME: such a directory is kept with its tag
 *     file but without the rest of its contents, as GNU tar does, so a
 *     restore shows where something was left out.
 *
 * Used by the walking thread only.
 */
#ifndef DV_JOBS_BACKUP_FILTER_H
#define DV_JOBS_BACKUP_FILTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../base/buf.h"
#include "match.h"

typedef struct {
	char **excludes, **iexcludes;
	size_t nexcludes, niexcludes;
	char **if_present; /* --exclude-if-present names */
	size_t nif_present;
	int caches;           /* --exclude-caches */
	uint64_t larger_than; /* 0: no limit */
	int repo_dirfd;       /* the repository's local directory, or -1 */
} backup_filter_params;

typedef struct {
	match_set patterns;
	const backup_filter_params *p;
	int has_repo, repo_said;
	dev_t repo_dev;
	ino_t repo_ino;
	uint64_t excluded; /* entries left out by any rule */
} backup_filter;

/* -DV_EUSAGE with a message for a bad pattern. */
int backup_filter_init(backup_filter *f, const backup_filter_params *p);
void backup_filter_release(backup_filter *f);

/*
 * 1 when the entry at path (absolute, its stat in st) is left out: a
 * pattern, its size, or it is the repository (told once with log_info).
 */
int backup_filter_entry(backup_filter *f, const buf *path, const struct stat *st);

/*
 * For a directory about to be listed (dirfd): the name of the tag that
 * keeps its contents out (CACHEDIR.TAG or an --exclude-if-present name),
 * or NULL.  The walk then keeps only that name of it.
 */
const char *backup_filter_tagged(backup_filter *f, int dirfd);

#endif
