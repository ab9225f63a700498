/* SPDX-License-Identifier: BSD-2-Clause */
#include "sync.h"
#include "report.h"
#include "../base/cleanup.h"
#include "../base/hex.h"

const char *report_sync_state(int state)
{
	switch (state) {
	case SYNC_COPIED: return "copied";
	case SYNC_PRESENT: return "present";
	case SYNC_SKIPPED: return "skipped";
	case SYNC_REMOVED: return "removed";
	case SYNC_KEPT_PROTECTED: return "kept_protected";
	default: return "";
	}
}

void report_sync_snapshot(json *j, const sync_snapshot *x)
{
	char hex[65];
	hex_encode(hex, x->id, 32);
	json_obj_begin(j);
	json_key(j, "id"); json_str(j, hex);
	json_key(j, "short_id"); json_strn(j, hex, 8);
	json_key(j, "time");
	if (x->has_time)
		report_time(j, x->time, x->time_nsec, x->tz_offset);
	else
		json_null(j);
	report_id(j, "tree", x->tree);
	json_key(j, "state"); json_str(j, report_sync_state(x->state));
	json_key(j, "reason");
	if (x->reason[0])
		json_str(j, x->reason);
	else
		json_null(j);
	json_obj_end(j);
}

void report_sync_fields(json *j, const sync_result *res, const char *source, const char *destination,
			int dry_run, const char *error)
{
	report_str(j, "source", source);
	report_str(j, "destination", destination);
	json_key(j, "dry_run"); json_bool(j, dry_run);
	json_key(j, "snapshots");
	json_arr_begin(j);
	for (size_t i = 0; i < res->n; i++)
		report_sync_snapshot(j, &res->v[i]);
	json_arr_end(j);
	report_counter c[] = {
		{ "snapshots_selected", res->selected },
		{ "snapshots_copied", res->copied },
		{ "snapshots_present", res->present },
		{ "snapshots_skipped", res->skipped },
		{ "snapshots_removed", res->removed },
		{ "snapshots_kept_protected", res->kept_protected },
		{ "snapshots_at_destination", res->at_destination },
		{ "trees_walked", res->trees_walked },
		{ "trees_copied", res->trees_copied },
		{ "blobs_copied", res->blobs_copied },
		{ "blobs_present", res->blobs_present },
		{ "blobs_damaged", res->blobs_damaged },
		{ "blobs_missing", res->blobs_missing },
		{ "packs_reused", res->packs_reused },
		{ "packs_repacked", res->packs_repacked },
		{ "packs_adopted", res->packs_adopted },
		{ "packs_written", res->packs_written },
		{ "bytes_read", res->bytes_read },
		{ "bytes_written", res->bytes_written },
		{ "bytes_needed", res->bytes_needed },
		{ "protection_marks_set", res->protected_marks },
	};
	report_counters(j, c, ARRAY_SIZE(c));
	json_key(j, "duration_seconds"); json_double(j, res->seconds);
	json_key(j, "error");
	if (error)
		json_str(j, error);
	else
		json_null(j);
}
