/* SPDX-License-Identifier: BSD-2-Clause */
/* report/prune: the JSON of a prune (docs/json.md, "Prune result"). */
#ifndef DV_REPORT_PRUNE_H
#define DV_REPORT_PRUNE_H

#include <stdbool.h>

#include "../backend/backend.h"
#include "../base/json.h"
#include "../jobs/gc.h"

void report_prune(json *j, const gc_result *g, bool dry_run, const backend_requests *req);

#endif
