/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * base/ordq: jobs handed back in submission order whatever the workers'
 * timing, at most window jobs in flight, the first error stops work and
 * every job still reaches done (so it is freed: ASan's leak check), the
 * failing job's message survives, and freeing a queue with jobs in
 * flight waits for them.  Also built under ThreadSanitizer by make test.
 */
#include "harness.h"

#include "base/err.h"
#include "base/ordq.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

typedef struct {
	size_t seq;
	unsigned delay_us;
	int fail; /* work returns -EIO (or fail's code when negative) with a message */
	int worked;
} job;

typedef struct {
	size_t next;      /* the seq done expects */
	size_t handed, cancelled, failed, out_of_order;
	int done_fails_at; /* done returns -EPIPE for this seq (-1: never) */
	char msg[128];     /* err_msg seen with the first failure */
	atomic_int in_flight, max_in_flight;
	atomic_int states;
} ctx;

static int state_new(void **out, void *arg)
{
	ctx *c = arg;
	atomic_fetch_add(&c->states, 1);
	*out = c;
	return 0;
}

static void state_free(void *state)
{
	ctx *c = state;
	atomic_fetch_sub(&c->states, 1);
}

static int work(void *state, void *arg)
{
	ctx *c = state;
	job *j = arg;
	int now = atomic_fetch_add(&c->in_flight, 1) + 1;
	int m = atomic_load(&c->max_in_flight);
	while (now > m && !atomic_compare_exchange_weak(&c->max_in_flight, &m, now))
		;
	if (j->delay_us) {
		struct timespec ts = { 0, (long)j->delay_us * 1000 };
		nanosleep(&ts, NULL);
	}
	j->worked = 1;
	atomic_fetch_sub(&c->in_flight, 1);
	if (j->fail)
		return err_set(j->fail < 0 ? j->fail : -EIO, "job %zu failed on purpose", j->seq);
	return 0;
}

static int done(void *ud, void *arg, int rc)
{
	ctx *c = ud;
	job *j = arg;
	if (j->seq != c->next)
		c->out_of_order++;
	c->next = j->seq + 1;
	c->handed++;
	if (rc == -ECANCELED)
		c->cancelled++;
	else if (rc < 0 && c->failed++ == 0)
		snprintf(c->msg, sizeof(c->msg), "%s", err_msg(rc));
	int d = (long)j->seq == c->done_fails_at ? -EPIPE : rc;
	free(j);
	return d;
}

static ordq *make(ctx *c, int threads, size_t window)
{
	memset(c, 0, sizeof(*c));
	c->done_fails_at = -1;
	ordq_params p = { .threads = threads, .window = window, .work = work, .done = done,
			  .state_new = state_new, .state_free = state_free, .arg = c, .ud = c };
	ordq *q = NULL;
	return ordq_new(&q, &p) == 0 ? q : NULL;
}

static job *new_job(size_t seq, uint64_t *rng, int fail)
{
	job *j = calloc(1, sizeof(*j));
	if (j) {
		j->seq = seq;
		j->delay_us = rng ? (unsigned)(test_rand(rng) % 400) : 0;
		j->fail = fail;
	}
	return j;
}

TEST(order_kept_under_random_delays)
{
	for (int threads = 1; threads <= 4; threads++) {
		ctx c;
		size_t window = 2 * (size_t)threads;
		ordq *q = make(&c, threads, window);
		REQUIRE(q);
		uint64_t rng = 0x9e3779b97f4a7c15ull + (uint64_t)threads;
		int rc = 0;
		for (size_t i = 0; rc == 0 && i < 300; i++)
			rc = ordq_submit(q, new_job(i, &rng, 0));
		CHECK(rc == 0);
		CHECK(ordq_finish(q) == 0);
		CHECK(c.handed == 300);
		CHECK(c.out_of_order == 0);
		CHECK(c.cancelled == 0);
		CHECK(atomic_load(&c.max_in_flight) <= (int)threads);
		ordq_free(q);
		CHECK(atomic_load(&c.states) == 0);
	}
}

/* The window bounds the jobs submitted and not handed back: done is
 * called before a submission would exceed it. */
static size_t submitted;
static size_t max_pending;
static int done_counting(void *ud, void *arg, int rc)
{
	ctx *c = ud;
	size_t pending = submitted - c->handed;
	if (pending > max_pending)
		max_pending = pending;
	return done(ud, arg, rc);
}

TEST(window_bounds_jobs_in_flight)
{
	ctx c;
	memset(&c, 0, sizeof(c));
	c.done_fails_at = -1;
	ordq_params p = { .threads = 2, .window = 3, .work = work, .done = done_counting,
			  .state_new = state_new, .state_free = state_free, .arg = &c, .ud = &c };
	ordq *q = NULL;
	REQUIRE(ordq_new(&q, &p) == 0);
	uint64_t rng = 42;
	submitted = max_pending = 0;
	for (size_t i = 0; i < 100; i++) {
		submitted++;
		CHECK(ordq_submit(q, new_job(i, &rng, 0)) == 0);
	}
	CHECK(ordq_finish(q) == 0);
	ordq_free(q);
	CHECK(c.handed == 100 && c.out_of_order == 0);
	/* the job being handed back counts: at most window + 1 submitted */
	CHECK(max_pending <= 4);
	CHECK(max_pending >= 1);
}

TEST(work_error_stops_later_work_and_keeps_its_message)
{
	for (int threads = 1; threads <= 3; threads++) {
		ctx c;
		ordq *q = make(&c, threads, 2 * (size_t)threads);
		REQUIRE(q);
		uint64_t rng = 7;
		job *kept[200];
		int rc = 0;
		size_t n = 0;
		for (; n < 200; n++) {
			/* job 50 fails; later ones fail too, with other messages */
			kept[n] = new_job(n, &rng, n >= 50);
			rc = ordq_submit(q, kept[n]);
			if (rc < 0) {
				n++;
				break;
			}
		}
		int fin = ordq_finish(q);
		CHECK(rc == -EIO || fin == -EIO);
		CHECK(fin == -EIO);
		CHECK(c.handed == n); /* every job reached done, freed there */
		CHECK(c.out_of_order == 0);
		CHECK(c.failed == 1);
		CHECK(strcmp(c.msg, "job 50 failed on purpose") == 0);
		CHECK(c.cancelled == n - 51);
		/* submitting after the error runs no work, still hands the job back */
		CHECK(ordq_submit(q, new_job(n, NULL, 0)) == -EIO);
		CHECK(ordq_finish(q) == -EIO);
		CHECK(c.handed == n + 1 && c.cancelled == n - 50);
		ordq_free(q);
	}
}

/* A worker's own -ECANCELED is a failure like any other: its message is
 * carried back (not taken for the queue's cancellation of a later job). */
TEST(work_failing_with_ecanceled_keeps_its_message)
{
	for (int threads = 1; threads <= 3; threads++) {
		ctx c;
		ordq *q = make(&c, threads, 2 * (size_t)threads);
		REQUIRE(q);
		err_set(-EINVAL, "a message of the caller's own");
		int rc = 0;
		size_t n = 0;
		while (rc == 0 && n < 20) {
			job *j = new_job(n, NULL, 0);
			if (j && n == 5)
				j->fail = -ECANCELED;
			n++;
			rc = ordq_submit(q, j);
		}
		CHECK(ordq_finish(q) == -ECANCELED);
		CHECK(c.handed == n && c.out_of_order == 0);
		CHECK(strcmp(err_msg(-ECANCELED), "job 5 failed on purpose") == 0);
		ordq_free(q);
	}
}

TEST(done_error_cancels_the_rest)
{
	for (int threads = 1; threads <= 3; threads++) {
		ctx c;
		ordq *q = make(&c, threads, 2 * (size_t)threads);
		REQUIRE(q);
		c.done_fails_at = 10;
		uint64_t rng = 99;
		size_t n = 0;
		int rc = 0;
		while (rc == 0 && n < 100)
			rc = ordq_submit(q, new_job(n++, &rng, 0));
		CHECK(ordq_finish(q) == -EPIPE);
		CHECK(c.handed == n && c.out_of_order == 0);
		CHECK(c.cancelled == n - 11);
		CHECK(n < 100); /* submit reported the error once it was handed back */
		ordq_free(q);
	}
}

/* Freeing with jobs in flight (the caller's own error path) waits for
 * them and hands each back, so none leaks and no worker outlives q. */
TEST(free_with_jobs_in_flight)
{
	ctx c;
	ordq *q = make(&c, 3, 6);
	REQUIRE(q);
	uint64_t rng = 5;
	for (size_t i = 0; i < 6; i++)
		CHECK(ordq_submit(q, new_job(i, &rng, 0)) == 0);
	ordq_free(q);
	CHECK(c.handed == 6 && c.out_of_order == 0);
	CHECK(atomic_load(&c.states) == 0);
}

TEST(bad_parameters)
{
	ordq *q = NULL;
	ordq_params p = { .threads = 0, .window = 1, .work = work, .done = done };
	CHECK(ordq_new(&q, &p) == -EINVAL);
	p.threads = 65;
	CHECK(ordq_new(&q, &p) == -EINVAL);
	p.threads = 2;
	p.work = NULL;
	CHECK(ordq_new(&q, &p) == -EINVAL);
	ordq_free(NULL);
}
