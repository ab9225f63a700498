/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * notice: the daemon's own notifications, through the channels of
 * notify/alert.c: a job failed, a job recovered, and the dead man's
 * switch ("backup home has not succeeded for 26 h", also when it never
 * ran at all).
 *
 * Each job's current conditions are findings (codes job-failed,
 * job-partial, job-overdue) judged by the same once-per-condition rule as
 * disks and pools (disks/diskwatch.c): a condition is announced when it
 * appears or gets worse, and once more when it goes away.  The conditions
 * are remembered in STATE-DIR/alerts.db, so a restart neither repeats nor
 * forgets them.
 *
 * Sending happens on a thread of its own (a slow SMTP server must not stall
 * the scheduler); messages wait in a queue of at most NOTICE_QUEUE_MAX
 * (beyond it they are dropped and logged).  notice_close() sends what is
 * queued (each send has curl's 30 s limit) and stops the thread.
 */
#ifndef DV_DAEMON_NOTICE_H
#define DV_DAEMON_NOTICE_H

#include <stdint.h>

#include "../notify/alert.h"

#define NOTICE_QUEUE_MAX 256

typedef struct notice notice;

int notice_open(notice **out, const char *state_path);
void notice_close(notice *n);

/* The conditions of one job now. */
typedef struct {
	const char *job, *kind;
	int failed;              /* the last run failed (SEV_FAILING) or was partial (SEV_WARNING); 0: ok */
	const char *fail_text;   /* "failed (exit status 1): cannot open repository ..." */
	int overdue;             /* max-age has passed without a success */
	const char *overdue_text;/* "has not succeeded for 26 h" */
	const char *log_tail;    /* the last lines of the run's log, or NULL */
	const char *link;        /* a URL to the run in the web UI, or NULL */
} notice_job;

/*
 * Judges the conditions and queues one message with everything that
 * changed (new, worse, recovered) for every channel.  *queued is 1 when a
 * message was queued.
 */
int notice_job_update(notice *n, const alert_config *channels, const notice_job *j, int64_t now,
		      int *queued);
/* Forgets a job's conditions (it was removed from the configuration). */
int notice_job_forget(notice *n, const char *job);
/* Messages sent and failed since the start (for metrics and tests). */
void notice_counts(notice *n, uint64_t *sent, uint64_t *failed);
/* Queues a message as it is (the cold-drive notice of a sync, tests). */
int notice_send(notice *n, const alert_config *channels, const char *title, const char *body,
		const char *severity);

#endif
