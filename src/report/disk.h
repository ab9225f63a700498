/* SPDX-License-Identifier: BSD-2-Clause */
/* report/disk: the JSON of disks, pools and their findings (docs/json.md, "Disk"). */
#ifndef DV_REPORT_DISK_H
#define DV_REPORT_DISK_H

#include "../base/json.h"
#include "../disks/disks.h"
#include "../disks/zpool.h"
#include "../jobs/diskscan.h"
#include "../jobs/poolscan.h"

/* The findings as an array of {severity, code, message, source}. */
void report_findings(json *j, const disk_report *rep);
/* One disk of a scan (an unreadable one too: verdict "unknown" and its error). */
void report_disk(json *j, const diskscan_disk *d);
/* One pool. */
void report_pool(json *j, const zpool_pool *p);
/* The whole document of `disks --json` and of `zpool-check --json`. */
void report_diskscan(json *j, const diskscan_result *res);
void report_poolscan(json *j, const poolscan_result *res);

#endif
