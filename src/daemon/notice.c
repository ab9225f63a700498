/* SPDX-License-Identifier: BSD-2-Clause */
#include "notice.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../base/log.h"
#include "../disks/diskstate.h"
#include "../disks/diskwatch.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct message {
	struct message *next;
	char *title, *body, *severity;
	alert_channel *ch;
	size_t nch;
} message;

struct notice {
	diskstate *st;
	pthread_t thread;
	int started, stopping;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	message *head, *tail;
	size_t queued;
	uint64_t sent, failed;
};

static void message_free(message *m)
{
	if (!m)
		return;
	free(m->title);
	free(m->body);
	free(m->severity);
	free(m->ch);
	free(m);
}

static void *sender(void *ud)
{
	notice *n = ud;
	pthread_mutex_lock(&n->lock);
	for (;;) {
		while (!n->head && !n->stopping)
			pthread_cond_wait(&n->cond, &n->lock);
		message *m = n->head;
		if (!m)
			break; /* stopping, and nothing left */
		n->head = m->next;
		if (!n->head)
			n->tail = NULL;
		n->queued--;
		pthread_mutex_unlock(&n->lock);
		uint64_t ok = 0, bad = 0;
		for (size_t i = 0; i < m->nch; i++) {
			int rc = alert_send(&m->ch[i], m->title, m->body, m->severity);
			if (rc < 0) {
				log_error("notification '%s': %s", m->title, err_msg(rc));
				bad++;
			} else {
				ok++;
			}
		}
		message_free(m);
		pthread_mutex_lock(&n->lock);
		n->sent += ok;
		n->failed += bad;
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

int notice_open(notice **out, const char *state_path)
{
	notice *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	int rc = diskstate_open(&n->st, state_path);
	if (rc == 0) {
		int e = pthread_create(&n->thread, NULL, sender, n);
		if (e)
			rc = err_sys(-e, "cannot start the notification thread");
		n->started = e == 0;
	}
	if (rc < 0) {
		notice_close(n);
		return rc;
	}
	*out = n;
	return 0;
}

void notice_close(notice *n)
{
	if (!n)
		return;
	if (n->started) {
		pthread_mutex_lock(&n->lock);
		n->stopping = 1;
		pthread_cond_signal(&n->cond);
		pthread_mutex_unlock(&n->lock);
		pthread_join(n->thread, NULL);
	}
	while (n->head) {
		message *m = n->head;
		n->head = m->next;
		message_free(m);
	}
	diskstate_close(n->st);
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->cond);
	free(n);
}

int notice_send(notice *n, const alert_config *channels, const char *title, const char *body,
		const char *severity)
{
	if (!channels || !channels->n)
		return 0;
	message *m = calloc(1, sizeof(*m));
	if (!m || !(m->title = strdup(title)) || !(m->body = strdup(body)) || !(m->severity = strdup(severity)) ||
	    !(m->ch = calloc(channels->n, sizeof(*m->ch)))) {
		message_free(m);
		return -ENOMEM;
	}
	memcpy(m->ch, channels->v, channels->n * sizeof(*m->ch));
	m->nch = channels->n;
	pthread_mutex_lock(&n->lock);
	int full = n->queued >= NOTICE_QUEUE_MAX;
	if (!full) {
		if (n->tail)
			n->tail->next = m;
		else
			n->head = m;
		n->tail = m;
		n->queued++;
		pthread_cond_signal(&n->cond);
	}
	pthread_mutex_unlock(&n->lock);
	if (full) {
		log_error("notification '%s' dropped: %d messages are already waiting to be sent", title,
			  NOTICE_QUEUE_MAX);
		message_free(m);
		return -ENOSPC;
	}
	return 1;
}

void notice_counts(notice *n, uint64_t *sent, uint64_t *failed)
{
	pthread_mutex_lock(&n->lock);
	*sent = n->sent;
	*failed = n->failed;
	pthread_mutex_unlock(&n->lock);
}

static void job_key(char out[96], const char *job)
{
	snprintf(out, 96, "job:%s", job);
}

int notice_job_forget(notice *n, const char *job)
{
	char key[96];
	job_key(key, job);
	static const char *const codes[] = { "job-failed", "job-partial", "job-overdue" };
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < 3; i++)
		rc = diskstate_alert_clear(n->st, key, codes[i]);
	return rc;
}

int notice_job_update(notice *n, const alert_config *channels, const notice_job *j, int64_t now,
		      int *queued)
{
	*queued = 0;
	char key[96];
	job_key(key, j->job);
	disk_report rep = { NULL, 0, 0, SEV_OK };
	disk_notices out = { NULL, 0, 0 };
	int rc = 0;
	if (j->failed)
		rc = disks_add_finding(&rep, j->failed, j->failed >= SEV_FAILING ? "job-failed" : "job-partial",
				       "last run", "%s %s %s", j->kind, j->job, j->fail_text ? j->fail_text : "failed");
	if (rc == 0 && j->overdue)
		rc = disks_add_finding(&rep, SEV_FAILING, "job-overdue", "max-age", "%s %s %s", j->kind, j->job,
				       j->overdue_text ? j->overdue_text : "is overdue");
	/* seconds, as the disk conditions are kept */
	rc = rc ?: diskstate_begin(n->st);
	if (rc == 0) {
		rc = diskwatch_decide(n->st, key, &rep, now / 1000000, &out);
		int c = diskstate_commit(n->st);
		rc = rc ?: c;
	}
	buf body = BUF_INIT;
	int worst = -1, any_bad = 0;
	for (size_t i = 0; rc == 0 && i < out.n; i++) {
		const disk_notice *d = &out.v[i];
		if (d->kind == NOTICE_RECOVERED) {
			rc = buf_appendf(&body, "recovered: %s\n", d->message);
		} else {
			rc = buf_appendf(&body, "%s\n", d->message);
			any_bad = 1;
		}
		int sev = d->kind == NOTICE_RECOVERED ? SEV_OK : d->severity;
		worst = sev > worst ? sev : worst;
	}
	if (rc == 0 && out.n && any_bad && j->log_tail && *j->log_tail) {
		int tl = (int)strlen(j->log_tail);
		while (tl > 0 && j->log_tail[tl - 1] == '\n')
			tl--;
		rc = buf_appendf(&body, "\nThe end of its log:\n%.*s\n", tl < 900 ? tl : 900, j->log_tail);
	}
	if (rc == 0 && out.n && j->link)
		rc = buf_appendf(&body, "\n%s\n", j->link);
	if (rc == 0 && out.n) {
		char host[256] = "", title[400];
		gethostname(host, sizeof(host) - 1);
		int overdue_only = j->overdue && !j->failed;
		snprintf(title, sizeof(title), "dvalin on %s: %s %s %s", host, j->kind, j->job,
			 worst == SEV_OK ? "recovered"
			 : overdue_only && any_bad ? "is overdue"
			 : worst >= SEV_FAILING ? "FAILED" : "needs attention");
		rc = buf_put_u8(&body, 0);
		int s = rc ?: notice_send(n, channels, title, (const char *)body.data,
					 worst == SEV_OK ? "ok" : disks_severity_name(worst));
		if (s > 0)
			*queued = 1;
		else if (s < 0 && s != -ENOSPC)
			rc = s;
		if (!channels || !channels->n)
			log_info("%s (no notification channel configured)", title);
	}
	buf_release(&body);
	disk_notices_release(&out);
	disk_report_release(&rep);
	return rc;
}
