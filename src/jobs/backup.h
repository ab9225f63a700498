/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * backup: walks paths into tree blobs and data blobs and records a
 * snapshot.
 *
 * Each path is stored under its absolute name: the snapshot's root tree
 * is "/", with intermediate directories carrying the metadata of the real
 * ones.  The parent snapshot (latest of the same host and paths) is
 * walked alongside: a file whose size, mtime, ctime, inode and mode are
 * unchanged is not opened, its chunk list is reused.
 */
#ifndef DV_JOBS_BACKUP_H
#define DV_JOBS_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "../repo/repo.h"
#include "../repo/snapshot.h"
#include "progress.h"

typedef struct {
	char **paths;
	size_t npaths;
	char **excludes;
	size_t nexcludes;
	char **tags;
	size_t ntags;
	const char *host;     /* NULL: this machine's name */
	int one_file_system;
	int force;            /* re-read every file, ignoring the parent */
	int has_time;
	int64_t time;
	int32_t tz_offset;
	const char *parent;   /* snapshot id or NULL to find one */
	int threads;          /* file readers; <= 1: all in the calling thread */
	/* more of what is left out (backup_filter.h) */
	char **iexcludes;     /* --iexclude: patterns without regard to case */
	size_t niexcludes;
	char **if_present;    /* --exclude-if-present NAME */
	size_t nif_present;
	int exclude_caches;   /* --exclude-caches */
	uint64_t larger_than; /* --exclude-larger-than; 0: no limit */
	int dry_run;          /* read, chunk and count, store nothing (res.snap not saved) */
} backup_opts;

typedef struct {
	snapshot *snap;     /* the new snapshot (owned by the result; unsaved, id zero, in a dry run) */
	uint64_t files_changed_while_read;
	double seconds;
	int dry_run;        /* nothing was stored */
} backup_result;

/*
 * Runs a backup.  Returns 0 (per-file problems are warnings, counted in
 * snap->stats.errors) or a negative code for a fatal failure, in which
 * case nothing but unreferenced packs was written.
 */
int backup_run(repo *r, const backup_opts *o, job_progress *prog, backup_result *out);
void backup_result_release(backup_result *res);

#endif
