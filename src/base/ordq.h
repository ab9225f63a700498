/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ordq: jobs run on a thread pool (workq) and handed back to the
 * submitting thread in the order they were submitted.
 *
 * For passes over a repository whose output must not depend on the
 * number of threads (check's report lines, the blobs a repack copies into
 * new packs, in their order): the expensive part (work) runs on any
 * worker, the part that reports or appends (done) runs on the caller's
 * thread, one job at a time, in submission order.
 *
 * Memory: at most `window` jobs are submitted and not yet handed back
 * (ordq_submit blocks, handing back what finished, until one is), so a
 * job holding a pack's bytes bounds memory at window packs.
 *
 * Errors: the first negative value done returns is the queue's error.
 * From then on work is no longer called (a worker skips the job) and
 * done receives every later job with rc -ECANCELED, to release it;
 * ordq_submit and ordq_finish return the error.  A work function's
 * error message (base/err.h, thread-local) is carried back with its job
 * and restored on the caller's thread before done sees it, so the
 * caller reports the message of the job that failed (whatever its code:
 * a work function's own -ECANCELED carries its message too).
 *
 * threads 1: no thread is started; ordq_submit runs work and done on the
 * caller's thread at once (the one-thread baseline runs the same code).
 * All functions are called by one thread.
 */
#ifndef DV_BASE_ORDQ_H
#define DV_BASE_ORDQ_H

#include <stddef.h>

typedef struct ordq ordq;

typedef struct {
	int threads;   /* 1..64 */
	size_t window; /* jobs submitted and not handed back, at most (>= threads) */
	int (*work)(void *state, void *job);      /* on a worker; <0 fails the job */
	int (*done)(void *ud, void *job, int rc); /* on the caller, in order; owns the job */
	int (*state_new)(void **out, void *arg);  /* one per worker; may be NULL */
	void (*state_free)(void *state);          /* may be NULL */
	void *arg, *ud;
} ordq_params;

int ordq_new(ordq **out, const ordq_params *p);
/*
 * Queues job (the queue owns it from now: it reaches done whatever
 * happens), first handing back finished jobs; 0 or the queue's error.
 */
int ordq_submit(ordq *q, void *job);
/* Waits for every job and hands it back; 0 or the queue's error. */
int ordq_finish(ordq *q);
/* ordq_finish (its result ignored), then frees.  NULL-safe. */
void ordq_free(ordq *q);

#endif
