/* SPDX-License-Identifier: BSD-2-Clause */
#include "backup.h"
#include "report.h"
#include "snapshot.h"
#include "../base/cleanup.h"

void report_backup(json *j, const backup_result *res, const backend_requests *req)
{
	json_obj_begin(j);
	json_key(j, "dry_run"); json_bool(j, res->dry_run);
	report_id(j, "snapshot_id", res->dry_run ? NULL : res->snap->id);
	report_id(j, "parent", res->snap->has_parent ? res->snap->parent : NULL);
	report_snapshot_summary(j, &res->snap->stats);
	json_key(j, "files_changed_while_read"); json_uint(j, res->files_changed_while_read);
	json_key(j, "bytes_new"); json_uint(j, res->bytes_new);
	json_key(j, "cleanup_failed"); json_bool(j, res->cleanup_failed);
	if (res->stream) {
		json_key(j, "stream");
		json_obj_begin(j);
		report_str(j, "path", res->snap->paths[0]);
		json_key(j, "bytes"); json_uint(j, res->stream_bytes);
		json_key(j, "command_status");
		if (res->command_status >= 0)
			json_int(j, res->command_status);
		else
			json_null(j);
		json_obj_end(j);
	}
	if (res->journal_asked) {
		/* only with --journal: a backup without one has nothing to say */
		json_key(j, "journal");
		json_obj_begin(j);
		json_key(j, "used"); json_bool(j, res->journal_used);
		json_key(j, "directories"); json_uint(j, res->journal_used ? res->journal_dirs : 0);
		json_key(j, "reason");
		if (res->journal_used)
			json_null(j);
		else
			json_str(j, res->journal_reason);
		json_obj_end(j);
	}
	json_key(j, "duration_seconds"); json_double(j, res->seconds);
	report_requests(j, req);
	json_obj_end(j);
}

void report_restore(json *j, const restore_stats *st, double seconds, int dry_run,
		    const backend_requests *req)
{
	json_obj_begin(j);
	json_key(j, "dry_run"); json_bool(j, dry_run);
	report_counter c[] = {
		{ "files", st->files }, { "dirs", st->dirs }, { "others", st->others },
		{ "bytes", st->bytes }, { "errors", st->errors }, { "not_permitted", st->not_permitted },
		{ "owners_not_restored", st->owners_skipped },
		{ "devices_not_restored", st->devices_skipped },
		{ "xattrs_not_restored", st->xattrs_skipped },
		{ "replaced", st->replaced }, { "unchanged", st->unchanged }, { "kept", st->kept },
		{ "deleted", st->deleted },
	};
	report_counters(j, c, ARRAY_SIZE(c));
	json_key(j, "duration_seconds"); json_double(j, seconds);
	report_requests(j, req);
	json_obj_end(j);
}

void report_restore_device(json *j, const char *path, const char *target,
			   const restore_device_stats *st, double seconds)
{
	json_obj_begin(j);
	report_str(j, "path", path);
	report_str(j, "target", target);
	json_key(j, "device"); json_bool(j, st->device);
	report_counter c[] = { { "size", st->size }, { "data", st->data }, { "zeroed", st->zeroed } };
	report_counters(j, c, ARRAY_SIZE(c));
	json_key(j, "duration_seconds"); json_double(j, seconds);
	json_obj_end(j);
}
