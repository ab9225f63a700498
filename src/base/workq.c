/* SPDX-License-Identifier: BSD-2-Clause */
#include "workq.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct workq {
	workq_params p;
	pthread_mutex_t lock;
	pthread_cond_t has_job, has_room, idle;
	void **ring;
	size_t head, count;
	int busy, stop, nthreads;
	pthread_t *threads;
	void **states;
};

static void *worker(void *arg)
{
	void **a = arg;
	workq *q = a[0];
	void *state = a[1];
	free(a);
	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->count && !q->stop)
			pthread_cond_wait(&q->has_job, &q->lock);
		if (!q->count && q->stop)
			break;
		void *job = q->ring[q->head];
		q->head = (q->head + 1) % q->p.max_queued;
		q->count--;
		q->busy++;
		pthread_cond_signal(&q->has_room);
		pthread_mutex_unlock(&q->lock);
		q->p.fn(state, job);
		pthread_mutex_lock(&q->lock);
		q->busy--;
		if (!q->busy && !q->count)
			pthread_cond_broadcast(&q->idle);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

int workq_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

int workq_new(workq **out, const workq_params *p)
{
	workq *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->p = *p;
	if (q->p.max_queued < 1)
		q->p.max_queued = 1;
	q->ring = calloc(q->p.max_queued, sizeof(*q->ring));
	q->threads = calloc((size_t)p->threads, sizeof(*q->threads));
	q->states = calloc((size_t)p->threads, sizeof(*q->states));
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->has_job, NULL);
	pthread_cond_init(&q->has_room, NULL);
	pthread_cond_init(&q->idle, NULL);
	if (!q->ring || !q->threads || !q->states) {
		workq_free(q);
		return -ENOMEM;
	}
	for (int i = 0; i < p->threads; i++) {
		int rc = p->state_new ? p->state_new(&q->states[i], p->arg) : 0;
		void **a = malloc(2 * sizeof(*a));
		if (rc == 0 && !a)
			rc = -ENOMEM;
		if (rc == 0) {
			a[0] = q;
			a[1] = q->states[i];
			if (pthread_create(&q->threads[i], NULL, worker, a) != 0)
				rc = -EAGAIN;
		}
		if (rc < 0) {
			free(a);
			if (q->states[i] && p->state_free)
				p->state_free(q->states[i]);
			q->states[i] = NULL;
			workq_free(q);
			return rc;
		}
		q->nthreads++;
	}
	*out = q;
	return 0;
}

int workq_submit(workq *q, void *job)
{
	pthread_mutex_lock(&q->lock);
	while (q->count == q->p.max_queued)
		pthread_cond_wait(&q->has_room, &q->lock);
	q->ring[(q->head + q->count) % q->p.max_queued] = job;
	q->count++;
	pthread_cond_signal(&q->has_job);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

void workq_wait(workq *q)
{
	pthread_mutex_lock(&q->lock);
	while (q->count || q->busy)
		pthread_cond_wait(&q->idle, &q->lock);
	pthread_mutex_unlock(&q->lock);
}

void workq_free(workq *q)
{
	if (!q)
		return;
	if (q->nthreads)
		workq_wait(q);
	pthread_mutex_lock(&q->lock);
	q->stop = 1;
	pthread_cond_broadcast(&q->has_job);
	pthread_mutex_unlock(&q->lock);
	for (int i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	for (int i = 0; q->states && i < q->p.threads; i++)
		if (q->states[i] && q->p.state_free)
			q->p.state_free(q->states[i]);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->has_job);
	pthread_cond_destroy(&q->has_room);
	pthread_cond_destroy(&q->idle);
	free(q->ring);
	free(q->threads);
	free(q->states);
	free(q);
}
