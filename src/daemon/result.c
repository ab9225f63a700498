/* SPDX-License-Identifier: BSD-2-Clause */
#include "result.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

int result_valid(const char *text, size_t n)
{
	json_error_t e;
	json_t *v = json_loadb(text, n, JSON_DECODE_ANY, &e);
	if (!v)
		return 0;
	json_decref(v);
	return 1;
}

static int u64(json_t *o, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return 0;
	*out = (uint64_t)json_integer_value(v);
	return 1;
}

int result_backup_summary(const char *text, result_backup *out)
{
	memset(out, 0, sizeof(*out));
	if (!text)
		return 0;
	json_t *o = json_loads(text, 0, NULL);
	int ok = json_is_object(o);
	json_t *id = ok ? json_object_get(o, "snapshot_id") : NULL;
	ok = ok && json_is_string(id) && strlen(json_string_value(id)) == 64;
	ok = ok && u64(o, "total_files", &out->files) && u64(o, "bytes_read", &out->bytes_read) &&
	     u64(o, "bytes_added", &out->bytes_added);
	if (ok)
		snprintf(out->snapshot_id, sizeof(out->snapshot_id), "%s", json_string_value(id));
	json_t *jn = ok ? json_object_get(o, "journal") : NULL;
	if (json_is_object(jn) && json_is_boolean(json_object_get(jn, "used"))) {
		out->journal_asked = 1;
		out->journal_used = json_is_true(json_object_get(jn, "used"));
		if (!u64(jn, "directories", &out->journal_dirs))
			out->journal_dirs = 0;
		json_t *why = json_object_get(jn, "reason");
		if (!out->journal_used && json_is_string(why))
			snprintf(out->journal_reason, sizeof(out->journal_reason), "%s", json_string_value(why));
	}
	json_decref(o);
	return ok;
}

/* A finite number >= 0 below 2^63 (seconds, bytes per second). */
static int num(json_t *o, const char *key, double *out)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_number(v))
		return 0;
	double d = json_number_value(v);
	if (!(d >= 0 && d < 9.2e18))
		return 0;
	*out = d;
	return 1;
}

int result_drill_summary(const char *text, result_drill *out)
{
	memset(out, 0, sizeof(*out));
	json_t *o = text ? json_loads(text, 0, NULL) : NULL;
	json_t *id = json_is_object(o) ? json_object_get(o, "snapshot_id") : NULL;
	json_t *live = json_is_object(o) ? json_object_get(o, "live") : NULL;
	uint64_t ef = 0, lf = 0, re = 0;
	int ok = json_is_string(id) && strlen(json_string_value(id)) == 64 && json_is_object(live) &&
		 u64(o, "files_sampled", &out->files) && u64(o, "bytes_sampled", &out->bytes) &&
		 u64(o, "entries_failed", &ef) && u64(o, "restore_errors", &re) && u64(live, "failed", &lf) &&
		 num(o, "bytes_per_second", &out->bytes_per_second) && num(o, "estimate_seconds", &out->estimate_s);
	/* each is below 2^63 (jansson's integers), so the sum cannot wrap */
	out->mismatches = ef + lf + re;
	if (ok)
		snprintf(out->snapshot_id, sizeof(out->snapshot_id), "%s", json_string_value(id));
	json_decref(o);
	return ok;
}

int result_sync_summary(const char *text, result_sync *out)
{
	memset(out, 0, sizeof(*out));
	json_t *o = text ? json_loads(text, 0, NULL) : NULL;
	int ok = json_is_object(o) && json_is_array(json_object_get(o, "snapshots")) &&
		 u64(o, "snapshots_copied", &out->copied) && u64(o, "snapshots_skipped", &out->skipped) &&
		 u64(o, "bytes_read", &out->bytes_read) && u64(o, "bytes_written", &out->bytes_written) &&
		 num(o, "duration_seconds", &out->seconds);
	json_decref(o);
	return ok;
}

int result_stats_sample(const char *text, result_stats *out)
{
	memset(out, 0, sizeof(*out));
	json_t *o = text ? json_loads(text, 0, NULL) : NULL;
	int ok = json_is_object(o) && u64(o, "snapshots", &out->snapshots) &&
		 u64(o, "pack_bytes", &out->size) && u64(o, "logical_bytes", &out->logical);
	json_decref(o);
	return ok;
}

static void str(json_t *o, const char *key, char *out, size_t cap)
{
	json_t *v = json_object_get(o, key);
	snprintf(out, cap, "%s", json_is_string(v) ? json_string_value(v) : "");
}

int result_disks(const char *text, int (*fn)(void *ud, const result_disk *d), void *ud)
{
	json_t *o = text ? json_loads(text, 0, NULL) : NULL;
	json_t *disks = json_is_object(o) ? json_object_get(o, "disks") : NULL;
	if (!json_is_array(disks)) {
		json_decref(o);
		return 0;
	}
	int n = 0, rc = 0;
	size_t i;
	json_t *d;
	json_array_foreach(disks, i, d) {
		if (!json_is_object(d))
			continue;
		result_disk r;
		memset(&r, 0, sizeof(r));
		str(d, "device", r.device, sizeof(r.device));
		str(d, "model", r.model, sizeof(r.model));
		str(d, "serial", r.serial, sizeof(r.serial));
		json_t *v = json_object_get(d, "verdict");
		const char *vs = json_is_string(v) ? json_string_value(v) : "";
		r.verdict = strcmp(vs, "ok") == 0 ? 0 : strcmp(vs, "warning") == 0 ? 1 : strcmp(vs, "failing") == 0 ? 2 : -1;
		json_t *t = json_object_get(d, "temperature");
		if (json_is_integer(t) && json_integer_value(t) > -100 && json_integer_value(t) < 1000) {
			r.has_temp = 1;
			r.temp = (int)json_integer_value(t);
		}
		json_t *h = json_object_get(d, "hours");
		if (json_is_integer(h) && json_integer_value(h) >= 0) {
			r.has_hours = 1;
			r.hours = json_integer_value(h);
		}
		if ((rc = fn(ud, &r)) < 0)
			break;
		n++;
	}
	json_decref(o);
	return rc < 0 ? rc : n;
}
