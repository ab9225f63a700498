/* SPDX-License-Identifier: BSD-2-Clause */
/* report/sync: the JSON of `sync` (docs/json.md, "Sync"). */
#ifndef DV_REPORT_SYNC_H
#define DV_REPORT_SYNC_H

#include "../base/json.h"
#include "../jobs/sync.h"

/* One snapshot of a sync: {id, short_id, time (or null), tree, state, reason (or null)}. */
void report_sync_snapshot(json *j, const sync_snapshot *x);
/*
 * Into an open object: source, destination, dry_run, snapshots (each as
 * above), the counters, duration_seconds and error (NULL: none).  The
 * caller may add "verify" (a check result) before closing the object.
 */
void report_sync_fields(json *j, const sync_result *res, const char *source, const char *destination,
			int dry_run, const char *error);
/* The name of a state: copied, present, skipped, removed, kept_protected. */
const char *report_sync_state(int state);

#endif
