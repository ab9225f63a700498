/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * worker: what each thread of a job's pool owns: its own reader of the
 * repository (compression context, buffers) and a data buffer.  Used as
 * the state of a workq whose argument is the repo.
 */
#ifndef DV_JOBS_WORKER_H
#define DV_JOBS_WORKER_H

#include "../base/buf.h"
#include "../repo/repo.h"
#include "../repo/session.h"

typedef struct {
	repo_session *rd;
	buf data;
} job_worker;

/* workq state_new/state_free; arg is the repo. */
int job_worker_new(void **out, void *repo);
void job_worker_free(void *state);

#endif
