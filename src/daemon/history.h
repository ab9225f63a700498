/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * history: what the daemon remembers across restarts, in SQLite
 * (STATE-DIR/daemon.db; docs/daemon.md, "State"):
 *
 *   runs          one row per run: job, kind, trigger, start, end, status,
 *                 exit code, the summary of the job's --json (files, bytes
 *                 read and added, snapshot id), that whole document, the
 *                 reason of a failure and the log; at most `history` rows
 *                 per job (the oldest are deleted)
 *   job_state     per job: when the daemon first saw it, when its schedule
 *                 last triggered (for catch-up), its last success (for the
 *                 dead man's switch)
 *   repo_samples  per repository over time: snapshot count, stored and
 *                 logical bytes (the growth plot); at most SAMPLES_MAX
 *                 per repository
 *
 * Times are microseconds on the daemon's clock (daemon/clock.h).  One
 * connection; the caller serializes access (the daemon holds its lock).
 * A run the daemon did not finish (it was killed) is marked "aborted" by
 * history_recover() at the next start.
 */
#ifndef DV_DAEMON_HISTORY_H
#define DV_DAEMON_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "../report/job.h"

#define HISTORY_SAMPLES_MAX 2000
#define HISTORY_LOG_MAX ((size_t)1 << 20)

typedef struct history history;

int history_open(history **out, const char *path);
void history_close(history *h);
/* Marks runs left "running" by a daemon that died as "aborted". */
int history_recover(history *h, int64_t now);

/* A new run (status "running"); *id is its number. */
int history_begin(history *h, const char *job, const char *kind, const char *trigger, int64_t start,
		  int64_t *id);
/* Records the end of run r->id (status, exit code, summary, result, log, reason). */
int history_finish(history *h, const run_info *r);
/* Deletes the oldest runs of job beyond keep. */
int history_trim(history *h, const char *job, int keep);

/* Run id into out (with its log when with_log): 1, or 0 if there is none. */
int history_get(history *h, int64_t id, int with_log, run_info *out);
/* The latest finished run of job (successful only when ok_only): 1 or 0. */
int history_last(history *h, const char *job, int ok_only, run_info *out);
/*
 * Runs newest first (job NULL: every job), at most limit, with ids below
 * before (0: from the newest); fn gets each run (without log and result).
 */
typedef int (*history_run_fn)(void *ud, const run_info *r);
int history_list(history *h, const char *job, int64_t before, int limit, history_run_fn fn, void *ud);

/* Per-job state; absent values are 0. */
typedef struct {
	int64_t first_seen, last_trigger, last_success;
} history_job_state;
int history_job_get(history *h, const char *job, history_job_state *out);
/* Records the job's first sighting if it has none. */
int history_job_seen(history *h, const char *job, int64_t now);
int history_job_triggered(history *h, const char *job, int64_t when);
int history_job_succeeded(history *h, const char *job, int64_t when);

/* Repository samples. */
typedef struct {
	int64_t time;
	uint64_t snapshots, size, logical;
} history_sample;
int history_sample_add(history *h, const char *repo, const history_sample *s);
/* Samples oldest first (at most max, the newest ones); fn gets each. */
typedef int (*history_sample_fn)(void *ud, const history_sample *s);
int history_samples(history *h, const char *repo, int max, history_sample_fn fn, void *ud);

#endif
