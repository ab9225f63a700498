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
 *
 * Instead of paths, a backup may store one stream (stdin, or a command's
 * output) as a file at a chosen path (backup_stream.h).  Around the
 * backup: the before hook runs first (its failure aborts: nothing is
 * recorded); then file system snapshots are made (fssnap.h) and the walk
 * reads them; the after hook runs once the data may change again (right
 * after the snapshots were made, else after the backup), whatever
 * happened before.  A guard process (base/guard.h) runs the after hook
 * and removes the snapshots if this process dies first.
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
	int read_devices;     /* block devices by content, not as device nodes */
	int snapshot;         /* fssnap_kind: read the paths from file system snapshots */
	/* a stream instead of paths: stored at stdin_name (then npaths is 0) */
	const char *stdin_name;
	uint32_t stdin_mode;
	const char *const *stdin_command; /* argv whose output is the stream; NULL: stdin */
	const char *before, *after;       /* hooks: shell commands, or NULL */
	double hook_timeout;              /* seconds, <= 0: none */
	const char *journal;  /* a change journal (journal.h) to walk only what changed, or NULL */
} backup_opts;

typedef struct {
	snapshot *snap;     /* the new snapshot (owned by the result; unsaved, id zero, in a dry run) */
	uint64_t files_changed_while_read;
	uint64_t bytes_new; /* read bytes not found in the repository (before compression) */
	double seconds;
	int dry_run;        /* nothing was stored */
	int stream;         /* a stream backup: */
	uint64_t stream_bytes;
	int command_status; /* its command's exit status (-1: stdin) */
	/* the after hook or removing a snapshot failed (logged): the backup is saved */
	int cleanup_failed;
	int journal_asked;  /* --journal was given (and not overridden by --force) */
	int journal_used;   /* walked only what the journal named */
	size_t journal_dirs; /* the directories it named (and their ancestors) */
	char journal_reason[512]; /* asked but not used: why ("journal not used: ...") */
} backup_result;

/*
 * Runs a backup.  Returns 0 (per-file problems are warnings, counted in
 * snap->stats.errors; a failed after hook or snapshot removal is logged
 * and out->cleanup_failed) or a negative code for a fatal failure, in
 * which case nothing but unreferenced packs was written.
 */
int backup_run(repo *r, const backup_opts *o, job_progress *prog, backup_result *out);
void backup_result_release(backup_result *res);

#endif
