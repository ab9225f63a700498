/* SPDX-License-Identifier: BSD-2-Clause */
#include "worker.h"
#include "../repo/session.h"

#include <errno.h>
#include <stdlib.h>

int job_worker_new(void **out, void *arg)
{
	job_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	int rc = repo_session_new(&w->rd, arg);
	if (rc < 0) {
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void job_worker_free(void *state)
{
	job_worker *w = state;
	repo_session_free(w->rd);
	buf_release(&w->data);
	free(w);
}
