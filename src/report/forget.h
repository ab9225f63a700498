/* SPDX-License-Identifier: BSD-2-Clause */
/* report/forget: the JSON of forget's decisions (docs/json.md, "Forget"). */
#ifndef DV_REPORT_FORGET_H
#define DV_REPORT_FORGET_H

#include <stdbool.h>

#include "../backend/backend.h"
#include "../base/json.h"
#include "../jobs/forget.h"

/* {snapshot, action, rule, rank, reason, superseded_by, removed} */
void report_forget_decision(json *j, const forget_decision *d);
/* {host, paths, tags, snapshots: [decisions]}; null for a field not grouped by */
void report_forget_group(json *j, const forget_group *g, int group_by);
/* {dry_run, groups, to_remove, removed} */
void report_forget(json *j, const forget_result *res, bool dry_run, const backend_requests *req);

#endif
