/* SPDX-License-Identifier: BSD-2-Clause */
#include "drill.h"
#include "report.h"
#include "../base/cleanup.h"

void report_drill(json *j, const snapshot *s, const drill_result *res, int kept, double seconds)
{
	json_obj_begin(j);
	report_id(j, "snapshot_id", s->id);
	json_key(j, "snapshot_time");
	report_time(j, s->time, s->time_nsec, s->tz_offset);
	report_str(j, "host", s->host ? s->host : "");
	json_key(j, "mode"); json_str(j, res->full ? "full" : "sample");
	json_key(j, "seed"); json_uint(j, res->seed);
	json_key(j, "ok"); json_bool(j, res->ok);
	report_counter c[] = {
		{ "entries_total", res->entries_total }, { "files_total", res->files_total },
		{ "bytes_total", res->bytes_total }, { "files_sampled", res->files_sampled },
		{ "bytes_sampled", res->bytes_sampled }, { "entries_verified", res->entries_verified },
		{ "entries_failed", res->entries_failed }, { "restore_errors", res->restore_errors },
	};
	report_counters(j, c, ARRAY_SIZE(c));
	json_key(j, "live");
	json_obj_begin(j);
	report_counter l[] = {
		{ "compared", res->live_compared }, { "identical", res->live_identical },
		{ "changed", res->live_changed }, { "gone", res->live_gone },
		{ "failed", res->live_failed },
	};
	report_counters(j, l, ARRAY_SIZE(l));
	json_key(j, "skipped");
	if (res->live_skipped)
		json_str(j, res->live_skipped);
	else
		json_null(j);
	json_obj_end(j);
	json_key(j, "restore_seconds"); json_double(j, res->restore_seconds);
	json_key(j, "verify_seconds"); json_double(j, res->verify_seconds);
	json_key(j, "bytes_per_second"); json_double(j, res->bytes_per_second);
	json_key(j, "estimate_seconds"); json_double(j, res->estimate_seconds);
	json_key(j, "estimate_seconds_min"); json_double(j, res->estimate_seconds_min);
	json_key(j, "findings");
	json_arr_begin(j);
	for (size_t i = 0; i < res->nfindings; i++) {
		const drill_finding *f = &res->findings[i];
		json_obj_begin(j);
		report_text(j, "path", f->path, f->path_len);
		json_key(j, "kind"); json_str(j, drill_kind_name(f->kind));
		json_key(j, "fails"); json_bool(j, drill_kind_fails(f->kind));
		json_key(j, "reason"); json_str(j, f->reason);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_key(j, "findings_dropped"); json_uint(j, res->notes_dropped);
	if (res->full) {
		json_key(j, "sampled");
		json_null(j);
	} else {
		report_strlist(j, "sampled", res->sampled, res->nsampled);
	}
	report_str(j, "scratch", res->scratch ? res->scratch : "");
	json_key(j, "kept"); json_bool(j, kept);
	json_key(j, "duration_seconds"); json_double(j, seconds);
	json_obj_end(j);
}
