/* SPDX-License-Identifier: BSD-2-Clause */
/* report/repair: the JSON of `repair index` and `repair snapshots` (docs/json.md, "Repair"). */
#ifndef DV_REPORT_REPAIR_H
#define DV_REPORT_REPAIR_H

#include "../base/json.h"
#include "../jobs/repair.h"

void report_repair_index(json *j, const repair_index_result *r);
void report_repair_snapshots(json *j, const repair_snapshots_result *r);

#endif
