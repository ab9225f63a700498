/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * drill: a restore drill.  Restores a sample of a snapshot's files (or
 * all of it) into a scratch directory with the restore job itself, then
 * proves the result three ways:
 *
 *  1. every restored byte matches the snapshot: each data extent, read
 *     back from the scratch directory, has the keyed id its chunk has in
 *     the tree, each hole reads as zeros, and size, mode, owner (as root),
 *     mtime and xattrs are as recorded;
 *  2. every sampled file that is unchanged on the live system since the
 *     snapshot (same size, mtime, ctime and inode as recorded) equals the
 *     live file byte for byte and in mode, owner and xattrs; a file that
 *     changed or is gone is reported, not counted as a failure;
 *  3. the restore's throughput gives an estimate of the time a full
 *     restore would take.
 *
 * Sampling: regular files, by count or by share of the data bytes,
 * weighted so that large, old (mtime) and long unchanged (ctime) files
 * are drawn more often than small recent ones (weighted sampling without
 * replacement, Efraimidis-Spirakis: key = log(u) / weight, the largest
 * keys win), plus always the largest file, the oldest and the longest
 * unchanged.  u comes from a hash of the seed and the path, so a seed
 * gives the same sample whatever the walk order; memory is the sample.
 *
 * Estimate: the sample is restored in two parts, its smaller and its
 * larger files, and the restore's time modelled as a cost per entry
 * created (files, directories) plus a cost per byte.  For e entries and b
 * bytes restored in T seconds out of E and B, the full time lies between
 * T * min(E/e, B/b) and T * max(E/e, B/b); the two parts give the two
 * costs and so the estimate within those bounds (the upper bound when
 * timing noise makes a cost negative).  Sampled files are scattered, each
 * with directories of its own, which a full restore shares among many
 * files, so the estimate leans high.  A full drill measures it.
 *
 * The scratch directory (a new one below the target) is removed at the
 * end unless asked to keep it.  The result is a value (drill_result) the
 * command prints and the daemon records in its history (report/drill.h
 * is its JSON).
 */
#ifndef DV_JOBS_DRILL_H
#define DV_JOBS_DRILL_H

#include <stddef.h>
#include <stdint.h>

#include "../repo/repo.h"
#include "../repo/snapshot.h"
#include "progress.h"

typedef struct {
	const char *target;  /* where the scratch directory is made */
	uint64_t sample;     /* files to sample (when share is 0) */
	double share;        /* share of the data bytes to sample, in (0, 1] */
	int full;            /* restore and verify everything */
	uint64_t seed;
	int live;            /* compare with the live files (1), never (0) */
	int keep;            /* leave the scratch directory */
	int threads;         /* restore writers */
} drill_opts;

#define DRILL_DEFAULT_SAMPLE 200
#define DRILL_DEFAULT_TARGET "/var/tmp"

enum {
	DRILL_FAIL_CONTENT = 1, /* restored bytes differ from the snapshot, or are missing */
	DRILL_FAIL_META,        /* restored metadata differs from the snapshot */
	DRILL_FAIL_LIVE,        /* differs from a live file unchanged since the snapshot */
	DRILL_CHANGED,          /* the live file changed since the snapshot (not a failure) */
	DRILL_GONE,             /* the live file is gone (not a failure) */
};

typedef struct {
	char *path;   /* absolute path in the snapshot (bytes as recorded) */
	size_t path_len;
	int kind;     /* DRILL_* */
	char *reason; /* one line */
} drill_finding;

/* Findings of the kinds that are not failures are listed up to this many. */
#define DRILL_MAX_NOTES 1000

typedef struct {
	int full;
	uint64_t seed;
	char *scratch;                  /* the scratch directory used */
	uint64_t files_total, bytes_total; /* regular files and their data bytes (no holes) */
	uint64_t entries_total;
	uint64_t files_sampled, bytes_sampled;
	uint64_t entries_verified, entries_failed;
	uint64_t restore_errors;        /* entries the restore itself reported */
	uint64_t live_compared, live_identical, live_changed, live_gone, live_failed;
	const char *live_skipped;       /* why live files were not compared, or NULL */
	double restore_seconds, verify_seconds;
	double bytes_per_second;
	double estimate_seconds, estimate_seconds_min;
	drill_finding *findings;
	size_t nfindings, cap_findings;
	char **sampled;                 /* the paths drawn, sorted (not for a full drill) */
	size_t nsampled;
	uint64_t notes_dropped;         /* changed/gone findings beyond DRILL_MAX_NOTES */
	int ok;                         /* nothing failed */
} drill_result;

/*
 * Runs the drill of s.  0 when it ran to its end (r->ok tells whether it
 * passed), < 0 when it could not run (no space, target not writable,
 * repository unreadable).  out is released by drill_result_release().
 */
int drill_run(repo *r, const snapshot *s, const drill_opts *o, job_progress *prog,
	      drill_result *out);
void drill_result_release(drill_result *res);
/* "content", "metadata", "live", "changed", "gone". */
const char *drill_kind_name(int kind);
/* 1 for the kinds that make a drill fail. */
int drill_kind_fails(int kind);

#endif
