/* SPDX-License-Identifier: BSD-2-Clause */
/* report/stats: the JSON of `stats` (docs/json.md, "Stats"). */
#ifndef DV_REPORT_STATS_H
#define DV_REPORT_STATS_H

#include "../base/json.h"
#include "../jobs/stats.h"

void report_stats(json *j, const stats_result *s);
/* logical bytes / unique raw bytes of file contents; 0 when nothing is stored */
double report_stats_dedup_ratio(const stats_result *s);
/* unique raw / unique stored bytes; 0 when nothing is stored */
double report_stats_compression_ratio(const stats_result *s);
/* index bytes no snapshot uses (what prune could free) */
uint64_t report_stats_unused(const stats_result *s);

#endif
