/* SPDX-License-Identifier: BSD-2-Clause */
#include "snapshot.h"
#include "report.h"
#include "../base/cleanup.h"
#include "../base/hex.h"

void report_snapshot_summary(json *j, const snapshot_stats *st)
{
	report_counter c[] = {
		{ "files_new", st->files_new },       { "files_changed", st->files_changed },
		{ "files_unchanged", st->files_unchanged }, { "dirs", st->dirs },
		{ "total_files", st->total_files },   { "total_bytes", st->total_bytes },
		{ "bytes_read", st->bytes_read },     { "bytes_added", st->bytes_added },
		{ "errors", st->errors },
	};
	report_counters(j, c, ARRAY_SIZE(c));
}

void report_snapshot(json *j, const snapshot *s, bool is_protected)
{
	char hex[65];
	hex_encode(hex, s->id, 32);
	json_obj_begin(j);
	json_key(j, "id"); json_str(j, hex);
	json_key(j, "short_id"); json_strn(j, hex, 8);
	json_key(j, "time"); report_time(j, s->time, s->time_nsec, s->tz_offset);
	report_str(j, "host", s->host);
	report_str(j, "user", s->user);
	report_strlist(j, "paths", s->paths, s->npaths);
	report_strlist(j, "tags", s->tags, s->ntags);
	report_id(j, "parent", s->has_parent ? s->parent : NULL);
	report_id(j, "tree", s->tree);
	json_key(j, "protected"); json_bool(j, is_protected);
	report_strlist(j, "damaged_paths", s->damaged, s->ndamaged);
	json_key(j, "summary");
	json_obj_begin(j);
	report_snapshot_summary(j, &s->stats);
	json_obj_end(j);
	json_obj_end(j);
}
