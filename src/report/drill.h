/* SPDX-License-Identifier: BSD-2-Clause */
/* report/drill: the JSON of a restore drill (docs/json.md, "Drill"). */
#ifndef DV_REPORT_DRILL_H
#define DV_REPORT_DRILL_H

#include "../base/json.h"
#include "../jobs/drill.h"

/* The drill object: the result of drill_run() on snapshot s; kept: the scratch directory stays. */
void report_drill(json *j, const snapshot *s, const drill_result *res, int kept, double seconds);

#endif
