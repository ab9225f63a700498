/* SPDX-License-Identifier: BSD-2-Clause */
#include "progress.h"
#include "cli.h"
#include "../base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct progress_display {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;
	job_progress *p;
	const char *verb;
	struct timespec start;
};

static void clear_line(void)
{
	fputs("\r\033[K", stderr);
}

static double elapsed(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void draw(progress_display *d)
{
	double secs = elapsed(&d->start);
	uint64_t files = atomic_load(&d->p->files), done = atomic_load(&d->p->bytes);
	uint64_t est = atomic_load(&d->p->est_bytes), errs = atomic_load(&d->p->errors);
	char b[32], r[32], t[32], eta[48] = "";
	cli_human_bytes(b, done);
	cli_human_bytes(r, secs > 0 ? (uint64_t)((double)done / secs) : 0);
	cli_human_duration(t, secs);
	if (est > done && done > 0 && secs > 1) {
		char e[32];
		cli_human_duration(e, (double)(est - done) * secs / (double)done);
		snprintf(eta, sizeof(eta), ", ETA %s", e);
	}
	char steps[64] = "";
	if (d->p->steps_unit)
		snprintf(steps, sizeof(steps), " %llu/%llu %s,",
			 (unsigned long long)atomic_load(&d->p->steps),
			 (unsigned long long)atomic_load(&d->p->est_steps), d->p->steps_unit);
	fprintf(stderr, "\r\033[K[%s] %s%s %llu %s, %s, %s/s%s%s", t, d->verb, steps,
		(unsigned long long)files, d->p->unit ? d->p->unit : "files", b, r, eta,
		errs ? ", with errors" : "");
	fflush(stderr);
}

static void *run(void *arg)
{
	progress_display *d = arg;
	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 250000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&d->cond, &d->lock, &until);
		if (!d->stop)
			draw(d);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

int progress_start(progress_display **out, job_progress *p, const char *verb, int enabled)
{
	*out = NULL;
	if (!enabled)
		return 0;
	progress_display *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->p = p;
	d->verb = verb;
	clock_gettime(CLOCK_MONOTONIC, &d->start);
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	if (pthread_create(&d->thread, NULL, run, d) != 0) {
		free(d);
		return 0; /* no display is not an error */
	}
	log_set_hook(clear_line);
	*out = d;
	return 0;
}

void progress_stop(progress_display *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->stop = 1;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	log_set_hook(NULL);
	clear_line();
	fflush(stderr);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d);
}
