/* SPDX-License-Identifier: BSD-2-Clause */
#include "check.h"
#include "report.h"
#include "../base/cleanup.h"

void report_check_affected(json *j, const snapshot *s, const char *path, const char *what)
{
	json_obj_begin(j);
	report_id(j, "snapshot_id", s->id);
	json_key(j, "snapshot_time"); report_time(j, s->time, s->time_nsec, s->tz_offset);
	report_str(j, "path", *path ? path : "/");
	json_key(j, "damage"); json_str(j, what);
	json_obj_end(j);
}

void report_check_result(json *j, const check_result *r, char *const *problems, size_t nproblems,
			 const char *error, const backend_requests *req)
{
	json_arr_end(j);
	json_key(j, "problem_list");
	json_arr_begin(j);
	for (size_t i = 0; i < nproblems; i++)
		json_str(j, problems[i]);
	json_arr_end(j);
	json_key(j, "levels");
	json_arr_begin(j);
	json_str(j, "structure");
	if (r->storage_checked)
		json_str(j, "storage");
	if (r->content_checked)
		json_str(j, "content");
	json_arr_end(j);
	json_key(j, "ok"); json_bool(j, r->problems == 0 && !error);
	json_key(j, "error");
	if (error)
		json_str(j, error);
	else
		json_null(j);
	report_counter c[] = {
		{ "problems", r->problems },
		{ "snapshots", r->snapshots },
		{ "snapshots_damaged", r->snapshots_damaged },
		{ "snapshots_affected", r->snapshots_affected },
		{ "files_affected", r->files_affected },
		{ "index_files", r->index_files },
		{ "index_files_damaged", r->index_files_damaged },
		{ "packs", r->packs },
		{ "packs_missing", r->packs_missing },
		{ "packs_damaged_table", r->packs_bad_table },
		{ "packs_unindexed", r->packs_unindexed },
		{ "packs_condemned", r->packs_condemned },
		{ "temporaries_left", r->temporaries },
		{ "index_mismatches", r->index_mismatches },
		{ "trees", r->trees },
		{ "blobs_referenced", r->blobs_referenced },
		{ "blobs_missing", r->blobs_missing },
		{ "packs_read", r->packs_read },
		{ "blobs_read", r->blobs_read },
		{ "bytes_read", r->bytes_read },
		{ "blobs_damaged", r->blobs_damaged },
	};
	report_counters(j, c, ARRAY_SIZE(c));
	report_requests(j, req);
	json_obj_end(j);
}
