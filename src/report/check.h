/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report/check: the JSON of `check` (docs/json.md, "Check result").  The
 * affected files are streamed while the check runs, so the document is
 * written in two parts: report_check_affected() for each entry of the
 * open "affected" array, then report_check_result() for the rest.
 */
#ifndef DV_REPORT_CHECK_H
#define DV_REPORT_CHECK_H

#include <stddef.h>

#include "../backend/backend.h"
#include "../base/json.h"
#include "../jobs/check.h"

/* One file or directory that loses data: {snapshot_id, snapshot_time, path, damage}. */
void report_check_affected(json *j, const snapshot *s, const char *path, const char *what);
/*
 * Closes the "affected" array and writes the rest of the object:
 * problem_list, levels, ok, error (NULL: the check ran to its end) and
 * the counters.
 */
void report_check_result(json *j, const check_result *r, char *const *problems, size_t nproblems,
			 const char *error, const backend_requests *req);

#endif
