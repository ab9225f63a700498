/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * metrics: the Prometheus text exposition format (version 0.0.4) of the
 * daemon's state, served at /metrics (docs/daemon.md lists every metric).
 *
 * Names follow Prometheus's conventions: a dvalin_ prefix, base units as
 * suffixes (_seconds, _bytes, _celsius), _timestamp_seconds for Unix
 * times, _total for counters.  A job is labelled job_name, not job: "job"
 * is the label Prometheus gives every scraped target, and a target's own
 * "job" label would be renamed exported_job.
 *
 * The writer is pure: it takes plain values (the daemon copies them under
 * its lock) and a FILE, and writes each metric family once with its HELP
 * and TYPE lines, as `promtool check metrics` wants.
 */
#ifndef DV_DAEMON_METRICS_H
#define DV_DAEMON_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
	const char *name, *kind;
	int64_t last_success_us, last_end_us;  /* 0: never */
	double last_duration_s;
	int last_exit;                         /* -1: none */
	int has_bytes;
	uint64_t last_bytes_added;
	int has_drill;                         /* the last run was a drill with a summary: */
	uint64_t drill_files, drill_mismatches;
	double drill_bytes_per_second, drill_estimate_s;
	int running, overdue;
	int64_t next_us;                       /* 0: none */
	int journal;                           /* a backup with journal = yes: */
	int journal_up;                        /* its recorder is recording */
	uint64_t journal_restarts;
	int journal_used;                      /* its last backup used the journal: 1, 0; -1 not known */
} metrics_job;

typedef struct {
	const char *name;
	int64_t time_us;                       /* of the sample; 0: none yet */
	uint64_t size, snapshots, logical;
} metrics_repo;

typedef struct {
	const char *device, *model, *serial;
	int verdict;                           /* 0 ok, 1 warning, 2 failing, -1 could not be read */
	int has_temp;
	int temp;
	int has_hours;
	int64_t hours;
	/* key counters; -1: not known for this disk */
	int64_t reallocated, pending, uncorrectable, crc_errors, media_errors;
} metrics_disk;

typedef struct {
	const metrics_job *jobs;
	size_t njobs;
	const metrics_repo *repos;
	size_t nrepos;
	const metrics_disk *disks;
	size_t ndisks;
	int64_t start_us, now_us;
	int running, queued;
	uint64_t notices_sent, notices_failed;
	const char *version;
} metrics_state;

void metrics_write(FILE *f, const metrics_state *s);

#endif
