/* SPDX-License-Identifier: BSD-2-Clause */
#include "repair.h"
#include "report.h"
#include "../base/cleanup.h"

void report_repair_index(json *j, const repair_index_result *r)
{
	report_counter c[] = {
		{ "packs", r->packs }, { "packs_damaged", r->packs_bad },
		{ "blobs", r->blobs }, { "blobs_damaged", r->blobs_damaged },
		{ "index_files_replaced", r->index_files_removed },
	};
	json_obj_begin(j);
	report_counters(j, c, ARRAY_SIZE(c));
	json_obj_end(j);
}

void report_repair_snapshots(json *j, const repair_snapshots_result *r)
{
	report_counter c[] = {
		{ "snapshots", r->snapshots }, { "rewritten", r->rewritten },
		{ "forgotten", r->forgotten }, { "unreadable_removed", r->unreadable_removed },
		{ "damaged_paths", r->paths },
	};
	json_obj_begin(j);
	report_counters(j, c, ARRAY_SIZE(c));
	json_obj_end(j);
}
