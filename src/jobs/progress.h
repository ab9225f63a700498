/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * progress: counters a running job updates and a display thread reads.
 * Plain atomics: the job never waits for the display.
 */
#ifndef DV_JOBS_PROGRESS_H
#define DV_JOBS_PROGRESS_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct {
	atomic_uint_fast64_t files, bytes;     /* processed so far */
	atomic_uint_fast64_t est_files, est_bytes; /* expected totals, 0 = unknown */
	atomic_uint_fast64_t errors;
	int want_estimate; /* set by a display: scan for totals when none are known */
	/* what files counts ("files" when NULL), and an optional count of
	 * larger steps shown as "done/total unit" (sync: snapshots) */
	const char *unit, *steps_unit;
	atomic_uint_fast64_t steps, est_steps;
} job_progress;

#endif
