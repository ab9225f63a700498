/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * daemon: `dvalin daemon`, the service that runs every job on its
 * schedule (docs/daemon.md).  One thread runs the scheduler loop: it
 * waits in poll() on a signalfd (SIGTERM, SIGINT, SIGHUP, SIGCHLD), an
 * eventfd the web threads ring, and the output pipes of the running
 * jobs; it starts due jobs, collects their output, records their ends,
 * judges their conditions for notifications and pings systemd's watchdog.
 * The web UI and the local API run on libmicrohttpd's threads (web.c)
 * and read the same state under the daemon's one mutex.
 *
 * A job run is a sequence of steps, each a child process (runner.c): for
 * a backup the `before` hook, the backup, forget with the keep-* rules,
 * the `after` hook; for the others one dvalin command.  dvalin re-executes
 * itself for each, with --json, so the run's result is the very document
 * `dvalin ... --json` prints.
 *
 * Not overlapping: a job never runs twice at once; on one repository a
 * prune excludes another prune and any check (a check would see packs
 * vanish under it).  Other jobs run in parallel up to [daemon]
 * concurrency; a due job that must wait is queued and starts when it can.
 *
 * Signals: SIGTERM (and SIGINT) stop: nothing new starts, running steps
 * get SIGINT (dvalin's commands leave their repository consistent when
 * interrupted: packs before index before snapshot), then SIGKILL after
 * [daemon] stop-timeout; their runs are recorded "interrupted".  SIGHUP
 * reloads the configuration; a configuration with errors is refused and
 * the running one kept.
 *
 * Change journals: for a backup job with `journal = yes` the daemon keeps
 * one recorder running (recorder.c; STATE-DIR/journal/JOB.journal) from
 * its start to its stop, restarts it when it ends, stops it when a reload
 * drops the job or changes its paths, and gives the job's backups
 * `--journal FILE`; the backup decides whether the journal covers the
 * time since its parent and says so in its --json, which the run keeps.
 *
 * A seam for more sources of work: the loop's poll set and
 * daemon_request_run() are the only ways jobs get started, so another
 * event source adds its descriptor there and asks for a run.
 */
#ifndef DV_DAEMON_DAEMON_H
#define DV_DAEMON_DAEMON_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "auth.h"
#include "config.h"
#include "history.h"
#include "notice.h"
#include "recorder.h"
#include "runner.h"
#include "../base/buf.h"
#include "../report/job.h"

typedef struct daemon_run daemon_run;

/* The scheduler's state of one job. */
typedef struct {
	char name[CONFIG_NAME_MAX];
	int kind;
	const dconf_job *cfg;      /* NULL once removed from the configuration */
	int64_t next_us;           /* when it is next due (after the random delay); 0: never */
	int64_t next_elapse_us;    /* the calendar time behind next_us */
	int pending;               /* due, waiting for a slot */
	char pending_trigger[16];
	daemon_run *run;           /* running, or NULL */
	int64_t first_seen_us, last_success_us;
	int overdue;
	run_info last;             /* the last finished run (no log, no result) */
	int has_last;
	char last_tail[1024];      /* the end of its log, for notifications */
} daemon_job;

typedef struct {
	char name[128];
	int64_t time_us;
	uint64_t size, snapshots, logical;
	runner_child *child;       /* a stats run measuring it now */
	int want;                  /* measure again when possible */
} daemon_repo;

typedef struct daemon_state {
	pthread_mutex_t lock;
	char *config_path;
	dconf *cfg;
	history *hist;
	notice *notices;
	auth *auth;
	struct http_server *web, *local;
	char local_path[512];
	daemon_job *jobs;
	size_t njobs, cap_jobs;
	daemon_job restore_job;    /* restores asked from the web UI */
	daemon_run *pending_restore; /* asked for, to be started by the loop */
	daemon_repo *repos;
	size_t nrepos, cap_repos;
	daemon_run **runs;         /* running */
	size_t nruns, cap_runs;
	recorder **recs;           /* change-journal recorders: one per journal = yes job, and stopped
				    * ones until they have ended */
	size_t nrecs, cap_recs;
	int sigfd, evfd;
	int stopping, reload_asked, exit_status;
	int64_t start_us, stop_deadline_mono, watchdog_us, last_watchdog;
	int web_port;
	const char *version;       /* dvalin's, for the log and the metrics */
} daemon_state;

/* Runs the daemon on the configuration at path until SIGTERM: 0, or 1 if it could not start. */
int daemon_main(const char *config_path, const char *version);

/* ---------- for the web threads (hold d->lock) ---------- */

/*
 * Asks for a run of job now (trigger "manual"): 0 when queued, -ENOENT for
 * no such job, -EBUSY when it is already running or queued.
 */
int daemon_request_run(daemon_state *d, const char *job);
/*
 * Starts a restore of path in snapshot of repository repo into target (a
 * directory below a [web] restore-root): 0 and *id, -EBUSY while another
 * restore runs, -EPERM for a target outside the roots.
 */
int daemon_request_restore(daemon_state *d, const char *repo, const char *snapshot, const char *path,
			   const char *target, int64_t *id);
/* Fills jb for job i (its last run points into the daemon: copy what you keep). */
void daemon_job_info(daemon_state *d, const daemon_job *j, job_info *out);
/* The repository named name, or NULL. */
const dconf_repo *daemon_find_repo(const daemon_state *d, const char *name);
/* The environment entries for a child that opens r ("DVALIN_PASSWORD_FILE=..."), NULL-ended, into env. */
void daemon_repo_env(const daemon_state *d, const dconf_repo *r, char *env[2], char buf[600]);
/* The disks' state database (from [disks] state, or STATE-DIR/disks.db) into out. */
void daemon_disk_state_path(const daemon_state *d, char out[600]);
/* Writes /metrics. */
void daemon_metrics(daemon_state *d, FILE *f);
/* Wakes the scheduler loop (a run was asked for). */
void daemon_wake(daemon_state *d);

#endif
