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
} job_progress;

#endif
