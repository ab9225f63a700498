/* SPDX-License-Identifier: BSD-2-Clause */
#include "ordq.h"
#include "err.h"
#include "workq.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

/* A job between submission and hand-back; slots form a ring of window. */
typedef struct {
	ordq *q;
	void *job;
	int rc, finished;
	int ran;       /* work was called (else rc is the queue's -ECANCELED) */
	err_saved msg; /* the worker's message when work failed */
} ordq_slot;

struct ordq {
	ordq_params p;
	workq *pool;  /* NULL with one thread */
	void *state;  /* the inline state with one thread */
	ordq_slot *ring;
	size_t head, count;
	int err;      /* the first error done returned; read by workers */
	pthread_mutex_t lock;
	pthread_cond_t finished;
};

static void run(void *state, void *arg)
{
	ordq_slot *s = arg;
	ordq *q = s->q;
	pthread_mutex_lock(&q->lock);
	int stop = q->err;
	pthread_mutex_unlock(&q->lock);
	err_clear(); /* a message left by an earlier job is not this one's */
	int rc = stop ? -ECANCELED : q->p.work(state, s->job);
	if (rc < 0 && !stop)
		err_save(&s->msg);
	pthread_mutex_lock(&q->lock);
	s->rc = rc;
	s->ran = !stop;
	s->finished = 1;
	pthread_cond_broadcast(&q->finished);
	pthread_mutex_unlock(&q->lock);
}

int ordq_new(ordq **out, const ordq_params *p)
{
	if (p->threads < 1 || p->threads > 64 || !p->work || !p->done)
		return -EINVAL;
	ordq *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->p = *p;
	if (q->p.window < (size_t)p->threads)
		q->p.window = (size_t)p->threads;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->finished, NULL);
	int rc = (q->ring = calloc(q->p.window, sizeof(*q->ring))) ? 0 : -ENOMEM;
	if (rc == 0 && p->threads == 1) {
		rc = p->state_new ? p->state_new(&q->state, p->arg) : 0;
	} else if (rc == 0) {
		workq_params w = { p->threads, q->p.window, run, p->state_new, p->state_free, p->arg };
		rc = workq_new(&q->pool, &w);
	}
	if (rc < 0) {
		ordq_free(q);
		return rc;
	}
	*out = q;
	return 0;
}

/* Hands back the oldest job, which has finished. */
static void hand_back(ordq *q)
{
	ordq_slot *s = &q->ring[q->head];
	int rc = q->err ? -ECANCELED : s->rc;
	/* by the flag, not the code: a work function may fail with
	 * -ECANCELED of its own, and its message is the one to report */
	if (rc < 0 && !q->err && s->ran)
		err_restore(&s->msg);
	int d = q->p.done(q->p.ud, s->job, rc);
	q->head = (q->head + 1) % q->p.window;
	q->count--;
	if (d < 0 && !q->err) {
		pthread_mutex_lock(&q->lock);
		q->err = d;
		pthread_mutex_unlock(&q->lock);
	}
}

/* Hands back the finished jobs at the head; with wait, at least one. */
static void drain(ordq *q, int wait)
{
	while (q->count) {
		ordq_slot *s = &q->ring[q->head];
		pthread_mutex_lock(&q->lock);
		while (wait && !s->finished)
			pthread_cond_wait(&q->finished, &q->lock);
		int fin = s->finished;
		pthread_mutex_unlock(&q->lock);
		if (!fin)
			return;
		hand_back(q);
		wait = 0;
	}
}

int ordq_submit(ordq *q, void *job)
{
	if (!q->pool) {
		int rc = q->err ? -ECANCELED : (err_clear(), q->p.work(q->state, job));
		int d = q->p.done(q->p.ud, job, rc);
		if (d < 0 && !q->err)
			q->err = d;
		return q->err;
	}
	drain(q, q->count == q->p.window);
	ordq_slot *s = &q->ring[(q->head + q->count) % q->p.window];
	s->q = q;
	s->job = job;
	s->rc = 0;
	s->finished = 0;
	s->ran = 0;
	q->count++;
	/* workq's queue holds window jobs: this never blocks for long */
	workq_submit(q->pool, s);
	return q->err;
}

int ordq_finish(ordq *q)
{
	while (q->count)
		drain(q, 1);
	return q->err;
}

void ordq_free(ordq *q)
{
	if (!q)
		return;
	if (q->ring)
		ordq_finish(q);
	workq_free(q->pool);
	if (q->state && q->p.state_free)
		q->p.state_free(q->state);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->finished);
	free(q->ring);
	free(q);
}
