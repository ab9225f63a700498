/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * progress display: a thread that redraws one status line on stderr
 * (files, bytes, rate, ETA) four times a second while a job runs.
 */
#ifndef DV_CLI_PROGRESS_H
#define DV_CLI_PROGRESS_H

#include "../jobs/progress.h"

typedef struct progress_display progress_display;

/* Starts a display when enabled; *out is NULL otherwise. */
int progress_start(progress_display **out, job_progress *p, const char *verb, int enabled);
/* Stops the thread and clears the line. NULL-safe. */
void progress_stop(progress_display *d);

#endif
