/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * workq: a fixed pool of threads taking jobs from a bounded FIFO.
 *
 * Each thread owns a state made by state_new(arg) (say, a compression
 * context), passed to fn with every job.  workq_submit() blocks while
 * max_queued jobs wait, so a fast producer cannot outrun memory.  fn owns
 * the job once called.  All functions are called by one producer thread.
 */
#ifndef DV_BASE_WORKQ_H
#define DV_BASE_WORKQ_H

#include <stddef.h>

typedef struct workq workq;

typedef struct {
	int threads;
	size_t max_queued;
	void (*fn)(void *state, void *job);
	int (*state_new)(void **out, void *arg); /* may be NULL */
	void (*state_free)(void *state);          /* may be NULL */
	void *arg;
} workq_params;

int workq_new(workq **out, const workq_params *p);
int workq_submit(workq *q, void *job);
/* Returns when every submitted job has finished. */
void workq_wait(workq *q);
/* Waits for the jobs, stops the threads, frees. NULL-safe. */
void workq_free(workq *q);
/* Online processors, at least 1. */
int workq_default_threads(void);

#endif
