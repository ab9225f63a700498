/* SPDX-License-Identifier: BSD-2-Clause */
/* report/snapshot: the JSON of a snapshot (docs/json.md, "Snapshot"). */
#ifndef DV_REPORT_SNAPSHOT_H
#define DV_REPORT_SNAPSHOT_H

#include <stdbool.h>

#include "../base/json.h"
#include "../repo/snapshot.h"

/* The snapshot object; is_protected comes from the repository's protected/ set. */
void report_snapshot(json *j, const snapshot *s, bool is_protected);
/* The fields of a backup's summary (files_new ... errors), into an open object. */
void report_snapshot_summary(json *j, const snapshot_stats *st);

#endif
