/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * result: reading the --json documents of the daemon's children (jansson):
 * whether a job's output is one valid JSON value, a backup's, a drill's or a
 * sync's summary, a `stats` sample, and the disks of a `disks --json` for the metrics.
 * Only reads: every value is checked for its type and range, since the
 * text comes from another process (normally dvalin itself).
 */
#ifndef DV_DAEMON_RESULT_H
#define DV_DAEMON_RESULT_H

#include <stddef.h>
#include <stdint.h>

/* 1 if text is exactly one JSON value (white space around allowed). */
int result_valid(const char *text, size_t n);

typedef struct {
	uint64_t files, bytes_read, bytes_added;
	char snapshot_id[65];
	int journal_asked;           /* it has "journal" (it ran with --journal): */
	int journal_used;
	uint64_t journal_dirs;       /* used: the directories walked */
	char journal_reason[512];    /* not used: why */
} result_backup;
/* 1 and *out from `backup --json`, 0 if the document is not one. */
int result_backup_summary(const char *text, result_backup *out);

typedef struct {
	uint64_t files, bytes;       /* files_sampled, bytes_sampled: what was restored and checked */
	uint64_t mismatches;         /* entries_failed + live.failed + restore_errors */
	double bytes_per_second, estimate_s;
	char snapshot_id[65];
} result_drill;
/* 1 and *out from `drill --json`, 0 if the document is not one. */
int result_drill_summary(const char *text, result_drill *out);

typedef struct {
	uint64_t copied, skipped;    /* snapshots_copied; snapshots_skipped (a blob damaged or missing in the source) */
	uint64_t bytes_read, bytes_written;
	double seconds;              /* duration_seconds */
} result_sync;
/* 1 and *out from `sync --json`, 0 if the document is not one. */
int result_sync_summary(const char *text, result_sync *out);

typedef struct {
	uint64_t snapshots, size, logical;
} result_stats;
/* 1 and *out from `stats --json`: snapshots, pack_bytes, logical_bytes. */
int result_stats_sample(const char *text, result_stats *out);

typedef struct {
	char device[128], model[128], serial[128];
	int verdict;     /* 0 ok, 1 warning, 2 failing, -1 unknown */
	int has_temp, temp;
	int has_hours;
	int64_t hours;
} result_disk;
/* Calls fn for each disk of a `disks --json` document; the count, or <0. */
int result_disks(const char *text, int (*fn)(void *ud, const result_disk *d), void *ud);

#endif
