/* SPDX-License-Identifier: BSD-2-Clause */
/* report/diff: the JSON of one change between snapshots (docs/json.md, "Diff"). */
#ifndef DV_REPORT_DIFF_H
#define DV_REPORT_DIFF_H

#include "../base/json.h"
#include "../jobs/diff.h"

/* {"change", "path", "type", "fields", "before", "after"}: nodes as `ls` prints them. */
void report_diff_change(json *j, const diff_change *c);

#endif
