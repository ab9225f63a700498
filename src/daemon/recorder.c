/* SPDX-License-Identifier: BSD-2-Clause */
#include "recorder.h"
#include "clock.h"
#include "runner.h"
#include "../base/err.h"
#include "../base/log.h"
#include "../base/strlist.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_US (1 * CLOCK_USEC)
#define BACKOFF_MAX_US (300 * CLOCK_USEC)
/* a recorder that ran this long before it ended was healthy: back-off from the start */
#define STABLE_US (60 * CLOCK_USEC)
#define REASON_MAX 512

struct recorder {
	char *job, *file;
	char **paths;
	size_t npaths;
	runner_child *child;
	int ready;             /* printed "recording" */
	int stopped;           /* asked to stop: never started again */
	int64_t started_mono;  /* of the current or last child */
	int64_t retry_mono;    /* not started before this */
	int64_t backoff_us;
	uint64_t restarts;
	int64_t ended_us;      /* real time of its last end the daemon did not ask for; 0: none */
	int has_reason;
	char reason[REASON_MAX];
	char logged[REASON_MAX]; /* the last reason logged */
};

int recorder_new(recorder **out, const char *job, const char *file, char *const *paths, size_t npaths)
{
	recorder *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	int rc = (r->job = strdup(job)) && (r->file = strdup(file)) ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < npaths; i++)
		rc = strlist_add(&r->paths, &r->npaths, paths[i]);
	if (rc < 0) {
		recorder_free(r);
		return rc;
	}
	r->backoff_us = BACKOFF_MIN_US;
	*out = r;
	return 0;
}

void recorder_free(recorder *r)
{
	if (!r)
		return;
	runner_free(r->child); /* kills and reaps one still running */
	strlist_free(r->paths, r->npaths);
	free(r->job);
	free(r->file);
	free(r);
}

int recorder_same(const recorder *r, const char *file, char *const *paths, size_t npaths)
{
	if (strcmp(r->file, file) != 0 || r->npaths != npaths)
		return 0;
	for (size_t i = 0; i < npaths; i++)
		if (strcmp(r->paths[i], paths[i]) != 0)
			return 0;
	return 1;
}

/* Records why it is down; logs it when it is news. */
static void set_reason(recorder *r, const char *what, const char *next)
{
	snprintf(r->reason, sizeof(r->reason), "%s", what);
	r->has_reason = 1;
	if (strcmp(r->logged, r->reason) == 0)
		return;
	snprintf(r->logged, sizeof(r->logged), "%s", r->reason);
	log_warn("backup %s: change journal: %s; %s", r->job, r->reason, next);
}

void recorder_tick(recorder *r, int64_t now)
{
	if (r->child || r->stopped || now < r->retry_mono)
		return;
	size_t n = 0;
	char **argv = calloc(r->npaths + 5, sizeof(*argv));
	if (!argv) {
		r->retry_mono = now + r->backoff_us;
		return;
	}
	argv[n++] = (char *)runner_self();
	argv[n++] = "journal";
	argv[n++] = r->file;
	argv[n++] = "--";
	for (size_t i = 0; i < r->npaths; i++)
		argv[n++] = r->paths[i];
	/* stdout is one line; stderr is kept as a window, for the reason of an end */
	runner_spec spec = { argv, NULL, 4096, 64 << 10, 0 };
	int rc = runner_start(&r->child, &spec);
	free(argv);
	r->ready = 0;
	r->started_mono = now;
	if (rc < 0) {
		r->child = NULL;
		char why[REASON_MAX];
		snprintf(why, sizeof(why), "cannot start the recorder: %s", err_msg(rc));
		set_reason(r, why, "its backups walk everything");
		r->retry_mono = now + r->backoff_us;
		r->backoff_us = r->backoff_us * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US : r->backoff_us * 2;
	}
}

void recorder_fds(const recorder *r, int fds[2])
{
	fds[0] = fds[1] = -1;
	if (r->child)
		runner_fds(r->child, fds);
}

static void check_ready(recorder *r)
{
	const buf *out = runner_stdout(r->child);
	if (r->ready || !out->len || !memchr(out->data, '\n', out->len))
		return;
	r->ready = out->len >= 10 && memcmp(out->data, "recording\n", 10) == 0;
	if (r->ready) {
		log_info("backup %s: change journal: recording into '%s'", r->job, r->file);
		r->logged[0] = 0; /* a later failure is news again */
	}
}

void recorder_pump(recorder *r, int fd)
{
	if (!r->child)
		return;
	runner_pump(r->child, fd);
	check_ready(r);
}

int recorder_reap(recorder *r, int64_t now)
{
	int st;
	if (!r->child || runner_reap(r->child, &st) != 1)
		return 0;
	check_ready(r);
	if (!r->stopped) {
		char how[48], line[400], why[REASON_MAX];
		runner_describe_exit(how, sizeof(how), st, runner_signaled(r->child));
		runner_last_line(runner_stderr(r->child), line, sizeof(line));
		snprintf(why, sizeof(why), "the recorder %s (%s)%s%.400s", r->ready ? "ended" : "could not start", how,
			 line[0] ? ": " : "", line);
		if (now - r->started_mono >= STABLE_US)
			r->backoff_us = BACKOFF_MIN_US;
		char next[96];
		snprintf(next, sizeof(next), "starting it again in %lld s; until it records, backups walk everything",
			 (long long)(r->backoff_us / CLOCK_USEC));
		set_reason(r, why, next);
		r->retry_mono = now + r->backoff_us;
		r->backoff_us = r->backoff_us * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US : r->backoff_us * 2;
		r->restarts++;
		r->ended_us = clock_now();
	} else if (st != 0 && st != 128 + SIGTERM) {
		/* asked to stop, and it did not end cleanly: say so (a sanitizer's report ends like this) */
		char how[48], line[400];
		runner_describe_exit(how, sizeof(how), st, runner_signaled(r->child));
		runner_last_line(runner_stderr(r->child), line, sizeof(line));
		log_warn("backup %s: change journal: the recorder, asked to stop, ended with %s%s%s", r->job, how,
			 line[0] ? ": " : "", line);
	}
	runner_free(r->child);
	r->child = NULL;
	r->ready = 0;
	return 1;
}

void recorder_stop(recorder *r)
{
	r->stopped = 1;
	if (r->child)
		runner_signal(r->child, SIGTERM);
}

void recorder_kill(recorder *r)
{
	if (r->child)
		runner_signal(r->child, SIGKILL);
}

const char *recorder_job(const recorder *r)
{
	return r->job;
}

const char *recorder_file(const recorder *r)
{
	return r->file;
}

int recorder_running(const recorder *r)
{
	return r->child != NULL;
}

int recorder_stopped(const recorder *r)
{
	return r->stopped;
}

const char *recorder_state(const recorder *r)
{
	return r->child && r->ready ? "recording" : r->child && !r->stopped ? "starting" : "down";
}

int recorder_starting(const recorder *r, int64_t now, int64_t grace_us)
{
	return r->child && !r->ready && !r->stopped && now - r->started_mono < grace_us;
}

pid_t recorder_pid(const recorder *r)
{
	return r->child ? runner_pid(r->child) : 0;
}

uint64_t recorder_restarts(const recorder *r)
{
	return r->restarts;
}

int64_t recorder_ended(const recorder *r)
{
	return r->ended_us;
}

const char *recorder_reason(const recorder *r)
{
	return r->has_reason ? r->reason : NULL;
}
