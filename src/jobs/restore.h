/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * restore: writes a snapshot's files under a target directory.
 *
 * Safety: every file system call is relative to a directory descriptor
 * opened with O_NOFOLLOW, and every name is checked (no "", ".", "..",
 * '/', NUL) before use, so nothing is ever written outside the target,
 * whatever the tree says and whatever symlinks exist in the target.
 * Metadata of a directory is applied after its children.  Holes of
 * sparse files are left unwritten.  Hard links are restored as links.
 *
 * Expansion: before anything of a subtree is written, what it expands to
 * (jobs/expand.h: entries, bytes, disk use) is checked against the entry
 * limit and the target's free space and inodes (statvfs), so a snapshot
 * that would fill the disk fails with an error first; the totals are the
 * progress estimate.
 *
 * An existing target: what is already there is compared with the
 * snapshot entry by entry, and --overwrite decides (restic's four modes;
 * the default, if-changed, keeps a file whose type, size and mtime match
 * and replaces one that differs).  Every entry replaced, kept or deleted
 * is told to the caller (on_event), so nothing is overwritten without a
 * word.  A directory in the way of a file is replaced only with --delete;
 * a symlink in the way of a directory never is (the restore refuses to go
 * through it).  --delete removes what the snapshot does not have, only
 * inside the backed-up paths and only where the whole directory is
 * restored (not excluded, within --include).  --dry-run writes nothing and
 * tells the same.
 */
#ifndef DV_JOBS_RESTORE_H
#define DV_JOBS_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "../repo/repo.h"
#include "../repo/snapshot.h"
#include "progress.h"

/* --overwrite: the zero value is the default */
enum {
	RESTORE_IF_CHANGED = 0, /* replace what differs in type, size or mtime */
	RESTORE_ALWAYS,         /* replace every existing entry */
	RESTORE_IF_NEWER,       /* replace only what is older than in the snapshot */
	RESTORE_NEVER,          /* keep every existing entry */
};

/* What on_event tells: an existing entry of the target and its fate. */
enum {
	RESTORE_EV_REPLACED, /* it differed and was (or would be) replaced */
	RESTORE_EV_KEPT,     /* it differs, but --overwrite kept it */
	RESTORE_EV_DELETED,  /* not in the snapshot: removed (or would be), --delete */
};

/* path: the entry in the target, quoted for messages; why: a few words. */
typedef void (*restore_event_fn)(void *ud, int ev, const char *path, const char *why);

typedef struct {
	const char *target;
	/* SNAPSHOT:PATH: what PATH holds goes into target itself (restic's
	 * convention), a file as target/NAME; NULL: the snapshot's root */
	const char *subpath;
	char **includes;
	size_t nincludes;
	char **excludes;
	size_t nexcludes;
	char **iexcludes; /* --iexclude: without regard to case */
	size_t niexcludes;
	int overwrite; /* RESTORE_IF_CHANGED, ... */
	int dry_run;   /* decide and tell, write nothing */
	int del;       /* --delete */
	restore_event_fn on_event;
	void *ud;
	int verify;  /* re-hash every blob read */
	int threads; /* file writers; <= 1: all in the calling thread */
	/*
	 * Entries the restore may create or examine (0: no limit): a forged
	 * snapshot whose trees share subtrees can describe 2^40 files from a
	 * few blobs.  No file system holds RESTORE_MAX_ENTRIES files.
	 */
	uint64_t max_entries;
	int no_space_check; /* write even when the target seems too small */
	/*
	 * A selection besides the includes, for a caller that picks entries
	 * itself (drill): select(ud, path) is 1 when the entry at path (its
	 * absolute path in the snapshot) is restored, with everything below
	 * it; may_contain(ud, dir) is 0 when nothing below the directory dir
	 * is selected, so the walk does not read it (NULL: every directory is
	 * read).  select NULL: the includes alone decide (none: everything).
	 */
	int (*select)(void *ud, const buf *path);
	int (*may_contain)(void *ud, const buf *dir);
	void *select_ud;
} restore_opts;

#define RESTORE_MAX_ENTRIES 1000000000ULL

typedef struct {
	uint64_t files, dirs, others, bytes; /* written (to be written, in a dry run) */
	uint64_t errors;        /* entries not restored or restored wrongly */
	uint64_t not_permitted; /* entries with something a non-root user may not restore */
	/* ... by kind: owners not set, device nodes not made, xattrs refused */
	uint64_t owners_skipped, devices_skipped, xattrs_skipped;
	uint64_t replaced;      /* existing entries that differed, replaced */
	uint64_t unchanged;     /* existing entries that matched (metadata set again) */
	uint64_t kept;          /* existing entries that differ, kept by --overwrite */
	uint64_t deleted;       /* entries removed by --delete (a directory counts once) */
	int as_root;
} restore_stats;

/*
 * Restores s.  0 when it ran to its end (entries that failed are counted
 * in errors, each reported once); a negative code when the restore could
 * not go on (an --include that matched nothing: -DV_ENOTFOUND, after the
 * walk).  *out is filled either way.
 */
int restore_run(repo *r, const snapshot *s, const restore_opts *o, job_progress *prog,
		restore_stats *out);

#endif
