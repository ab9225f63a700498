/* SPDX-License-Identifier: BSD-2-Clause */
#include "job.h"
#include "report.h"
#include "../base/cleanup.h"
#include "../base/tz.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void run_info_release(run_info *r)
{
	free(r->result);
	free(r->log);
	r->result = r->log = NULL;
}

void report_time_us(json *j, int64_t us)
{
	int64_t sec = us / 1000000 - (us % 1000000 < 0);
	uint32_t nsec = (uint32_t)(us - sec * 1000000) * 1000;
	time_t t = (time_t)sec;
	struct tm tm;
	/* through tz: the daemon's scheduler may switch the zone on another thread */
	int32_t off = 0;
	if (tz_enter(NULL) == 0) {
		off = localtime_r(&t, &tm) ? (int32_t)tm.tm_gmtoff : 0;
		tz_leave();
	}
	report_time(j, sec, nsec, off);
}

static void int_or_null(json *j, const char *key, int64_t v, int has)
{
	json_key(j, key);
	if (has)
		json_int(j, v);
	else
		json_null(j);
}

static void time_or_null(json *j, const char *key, int64_t us)
{
	json_key(j, key);
	if (us)
		report_time_us(j, us);
	else
		json_null(j);
}

void report_run(json *j, const run_info *r, int with_log)
{
	json_obj_begin(j);
	json_key(j, "id");
	json_int(j, r->id);
	report_str(j, "job", r->job);
	report_str(j, "kind", r->kind);
	report_str(j, "trigger", r->trigger);
	report_str(j, "status", r->status);
	int_or_null(j, "exit_code", r->exit_code, r->exit_code >= 0);
	time_or_null(j, "start", r->start_us);
	time_or_null(j, "end", r->end_us);
	json_key(j, "duration_seconds");
	json_double(j, r->duration_s);
	if (r->reason[0]) {
		report_str(j, "reason", r->reason);
	} else {
		json_key(j, "reason");
		json_null(j);
	}
	json_key(j, "summary");
	if (r->has_summary && strcmp(r->kind, "sync") == 0) {
		/* a sync's row holds its counts in the shared columns (report/job.h) */
		json_obj_begin(j);
		report_counter c[] = {
			{ "snapshots_copied", r->files },   { "snapshots_skipped", r->mismatches },
			{ "bytes_read", r->bytes_read },    { "bytes_written", r->bytes_added },
		};
		report_counters(j, c, ARRAY_SIZE(c));
		json_key(j, "bytes_per_second");
		json_double(j, r->bytes_per_second);
		json_obj_end(j);
	} else if (r->has_summary) {
		int drill = strcmp(r->kind, "drill") == 0;
		json_obj_begin(j);
		json_key(j, "files");
		json_uint(j, r->files);
		json_key(j, drill ? "bytes" : "bytes_read");
		json_uint(j, r->bytes_read);
		if (drill) {
			json_key(j, "mismatches");
			json_uint(j, r->mismatches);
			json_key(j, "bytes_per_second");
			json_double(j, r->bytes_per_second);
			json_key(j, "estimate_seconds");
			json_double(j, r->estimate_s);
		} else {
			json_key(j, "bytes_added");
			json_uint(j, r->bytes_added);
			json_key(j, "journal");
			if (r->journal == RUN_JOURNAL_NONE) {
				json_null(j);
			} else {
				json_obj_begin(j);
				json_key(j, "used");
				json_bool(j, r->journal == RUN_JOURNAL_USED);
				json_key(j, "directories");
				json_uint(j, r->journal_dirs);
				json_key(j, "reason");
				if (r->journal == RUN_JOURNAL_USED)
					json_null(j);
				else
					json_str(j, r->journal_reason);
				json_obj_end(j);
			}
		}
		json_key(j, "snapshot_id");
		if (r->snapshot_id[0])
			json_str(j, r->snapshot_id);
		else
			json_null(j);
		json_obj_end(j);
	} else {
		json_null(j);
	}
	json_key(j, "result");
	if (r->result)
		json_raw(j, r->result);
	else
		json_null(j);
	if (with_log) {
		json_key(j, "log");
		json_str(j, r->log ? r->log : "");
	}
	json_obj_end(j);
}

void report_job(json *j, const job_info *jb)
{
	json_obj_begin(j);
	report_str(j, "name", jb->name);
	report_str(j, "kind", jb->kind);
	if (jb->repository) {
		report_str(j, "repository", jb->repository);
	} else {
		json_key(j, "repository");
		json_null(j);
	}
	json_key(j, "schedule");
	if (jb->schedule)
		json_str(j, jb->schedule);
	else
		json_null(j);
	time_or_null(j, "next_run", jb->next_us);
	json_key(j, "running");
	json_bool(j, jb->running_id != 0);
	int_or_null(j, "running_run_id", jb->running_id, jb->running_id != 0);
	json_key(j, "queued");
	json_bool(j, jb->queued);
	int_or_null(j, "max_age_seconds", jb->max_age_s, jb->max_age_s != 0);
	time_or_null(j, "last_success", jb->last_success_us);
	time_or_null(j, "known_since", jb->known_since_us);
	json_key(j, "overdue");
	json_bool(j, jb->overdue);
	json_key(j, "last_run");
	if (jb->last)
		report_run(j, jb->last, 0);
	else
		json_null(j);
	json_key(j, "journal");
	if (jb->journal) {
		json_obj_begin(j);
		report_str(j, "recorder", jb->journal_state);
		int_or_null(j, "pid", jb->journal_pid, jb->journal_pid != 0);
		json_key(j, "restarts");
		json_uint(j, jb->journal_restarts);
		json_key(j, "reason");
		if (jb->journal_reason)
			json_str(j, jb->journal_reason);
		else
			json_null(j);
		report_str(j, "file", jb->journal_file);
		json_obj_end(j);
	} else {
		json_null(j);
	}
	json_obj_end(j);
}
