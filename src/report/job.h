/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report/job: the JSON of the daemon's jobs and runs (docs/json.md, "Job",
 * "Run"), printed by `dvalin jobs --json`, `jobs log --json` and served by
 * the web UI's API: one shape everywhere.
 *
 * The values are plain structs filled by the daemon (its history and
 * scheduler); this folder only encodes them.
 */
#ifndef DV_REPORT_JOB_H
#define DV_REPORT_JOB_H

#include <stdint.h>

#include "../base/json.h"

#define RUN_NAME_MAX 64
#define RUN_WORD_MAX 16
#define RUN_REASON_MAX 512

/* A backup run and its change journal: none asked, asked but not used, used. */
enum { RUN_JOURNAL_NONE, RUN_JOURNAL_NOT_USED, RUN_JOURNAL_USED };

/* One run of a job, as the history keeps it. */
typedef struct {
	int64_t id;
	char job[RUN_NAME_MAX];
	char kind[RUN_WORD_MAX];     /* backup, prune, check, drill, sync, disks, zpool, restore */
	char trigger[RUN_WORD_MAX];  /* schedule, catch-up, manual */
	char status[RUN_WORD_MAX];   /* running, ok, partial, warning, failing, damage, failed,
					timeout, interrupted, aborted */
	int64_t start_us, end_us;    /* the daemon's clock; end_us 0 while running */
	int exit_code;               /* -1: none (running, killed by a signal, never started) */
	double duration_s;           /* real seconds */
	char reason[RUN_REASON_MAX]; /* why it failed, in one line ("" when it did not) */
	int has_summary;             /* the job's --json gave these: */
	uint64_t files, bytes_read, bytes_added; /* drill: files and bytes restored and checked;
						    sync: snapshots copied, bytes read, written */
	uint64_t mismatches;         /* drill: entries that did not match or restore;
					sync: snapshots not copied (damage in the source) */
	double bytes_per_second;     /* drill: the restore's throughput; sync: read from the source */
	double estimate_s;           /* drill: a full restore's estimated time */
	char snapshot_id[65];        /* "" if none */
	int journal;                 /* backup: RUN_JOURNAL_* */
	uint64_t journal_dirs;       /* used: the directories walked */
	char journal_reason[RUN_REASON_MAX]; /* not used: why */
	char *result;                /* the job's whole --json document, or NULL (owned) */
	char *log;                   /* what it wrote to stderr, or NULL (owned) */
} run_info;

void run_info_release(run_info *r);

/* A job as the scheduler sees it. */
typedef struct {
	const char *name, *kind;
	const char *repository;      /* NULL for disks and zpool */
	const char *schedule;        /* the normalized calendar, or NULL */
	int64_t next_us;             /* 0: none */
	int64_t max_age_s;           /* 0: none */
	int64_t last_success_us;     /* 0: never */
	int64_t known_since_us;      /* when the daemon first saw the job */
	int overdue;                 /* max-age has passed since the last success */
	int64_t running_id;          /* the run in progress, or 0 */
	int queued;                  /* due and waiting for a slot */
	const run_info *last;      /* the latest finished run, or NULL */
	/* a backup with journal = yes: its recorder (docs/daemon.md, "Change journal") */
	int journal;                 /* the job has one */
	const char *journal_state;   /* "recording", "starting", "down" */
	int64_t journal_pid;         /* while it runs, else 0 */
	uint64_t journal_restarts;   /* times it ended and was started again */
	const char *journal_reason;  /* why it is down, or why it last ended; NULL: never */
	const char *journal_file;
} job_info;

/* A time on the daemon's clock, in the local offset. */
void report_time_us(json *j, int64_t us);
/* A run; with_log adds "log" (and "result" is always there, null or the document). */
void report_run(json *j, const run_info *r, int with_log);
void report_job(json *j, const job_info *jb);

#endif
