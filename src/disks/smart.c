/* SPDX-License-Identifier: BSD-2-Clause */
#include "smart.h"
#include "../base/buf.h"
#include "../base/err.h"
#include "../base/num.h"

#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void smart_reading_release(smart_reading *r)
{
	free(r->attrs);
	memset(r, 0, sizeof(*r));
}

static void init(smart_reading *r)
{
	memset(r, 0, sizeof(*r));
	r->rotational = -1;
	r->last_selftest_hours = -1;
}

static void copy_str(char *out, size_t cap, json_t *v)
{
	if (json_is_string(v))
		snprintf(out, cap, "%s", json_string_value(v));
}

/*
 * Numbers are decoded as doubles (JSON_DECODE_INT_AS_REAL): smartctl
 * writes unsigned 64-bit and 128-bit counters, which jansson's int64
 * refuses, failing the whole document.  Converted only through num_*, so
 * a huge value saturates; a fractional one is no integer (absent).
 */
/* An integer member; 1 when present. */
static int get_int(json_t *o, const char *key, int64_t *out)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) && num_i64_of_double(json_number_value(v), out) == 0;
}

/* An int member, clamped into int (a temperature of 2^32 + 40 is not 40). */
static int get_int32(json_t *o, const char *key, int *out)
{
	int64_t v;
	if (!get_int(o, key, &v))
		return 0;
	*out = num_clamp_int(v, INT_MIN, INT_MAX);
	return 1;
}

static int get_u64(json_t *o, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) && num_u64_of_double(json_number_value(v), out) == 0;
}

static int add_attr(smart_reading *r, size_t *cap, const smart_attr *a)
{
	if (r->nattrs >= 256)
		return 0;
	int rc = array_reserve(&r->attrs, cap, r->nattrs + 1, sizeof(*a));
	if (rc == 0)
		r->attrs[r->nattrs++] = *a;
	return rc;
}

static int parse_ata(smart_reading *r, json_t *root)
{
	json_t *table = json_object_get(json_object_get(root, "ata_smart_attributes"), "table");
	size_t i, cap = 0;
	json_t *e;
	json_array_foreach(table, i, e) {
		smart_attr a;
		int64_t v;
		memset(&a, 0, sizeof(a));
		if (!get_int(e, "id", &v) || v < 1 || v > 255)
			continue;
		a.id = (int)v;
		copy_str(a.name, sizeof(a.name), json_object_get(e, "name"));
		if (!get_int32(e, "value", &a.value))
			a.value = -1;
		if (!get_int32(e, "worst", &a.worst))
			a.worst = -1;
		if (!get_int32(e, "thresh", &a.thresh))
			a.thresh = -1;
		copy_str(a.when_failed, sizeof(a.when_failed), json_object_get(e, "when_failed"));
		a.prefail = json_is_true(json_object_get(json_object_get(e, "flags"), "prefailure"));
		json_t *raw = json_object_get(e, "raw");
		get_u64(raw, "value", &a.raw);
		copy_str(a.raw_str, sizeof(a.raw_str), json_object_get(raw, "string"));
		int rc = add_attr(r, &cap, &a);
		if (rc < 0)
			return rc;
	}
	json_t *log = json_object_get(root, "ata_smart_error_log");
	json_t *part = json_object_get(log, "extended");
	if (!part)
		part = json_object_get(log, "summary");
	if (part && get_u64(part, "count", &r->errlog_count))
		r->has_errlog = 1;
	json_t *st = json_object_get(root, "ata_smart_self_test_log");
	const char *kinds[] = { "extended", "standard" };
	for (size_t k = 0; k < 2; k++) {
		json_t *t = json_object_get(json_object_get(st, kinds[k]), "table");
		if (!json_is_array(t))
			continue;
		r->has_selftests = 1;
		json_array_foreach(t, i, e) {
			json_t *status = json_object_get(e, "status");
			const char *s = json_string_value(json_object_get(status, "string"));
			int64_t h;
			r->nselftests++;
			if (i == 0 && get_int(e, "lifetime_hours", &h) && h > r->last_selftest_hours)
				r->last_selftest_hours = h;
			if (json_is_false(json_object_get(status, "passed")) && s && strstr(s, "read failure")) {
				if (!r->selftest_read_failure)
					get_u64(e, "lba", &r->selftest_lba);
				r->selftest_read_failure = 1;
			}
		}
	}
	return 0;
}

static void parse_nvme(smart_reading *r, json_t *root)
{
	json_t *h = json_object_get(root, "nvme_smart_health_information_log");
	if (!json_is_object(h))
		return;
	r->has_nvme = 1;
	get_u64(h, "critical_warning", &r->nvme_critical_warning);
	get_u64(h, "available_spare", &r->nvme_spare);
	get_u64(h, "available_spare_threshold", &r->nvme_spare_threshold);
	get_u64(h, "percentage_used", &r->nvme_used);
	get_u64(h, "media_errors", &r->nvme_media_errors);
	get_u64(h, "num_err_log_entries", &r->nvme_err_entries);
}

static void parse_scsi(smart_reading *r, json_t *root)
{
	if (get_u64(root, "scsi_grown_defect_list", &r->grown_defects))
		r->has_grown = 1;
	json_t *log = json_object_get(root, "scsi_error_counter_log");
	const char *dirs[] = { "read", "write", "verify" };
	for (size_t i = 0; i < 3; i++)
		if (get_u64(json_object_get(log, dirs[i]), "total_uncorrected_errors", &r->uncorrected[i]))
			r->has_uncorrected = 1;
}

int smart_parse_json(smart_reading *r, const char *text, size_t n)
{
	json_error_t jerr;
	init(r);
	json_t *root = json_loadb(text, n, JSON_DECODE_INT_AS_REAL, &jerr);
	if (!root)
		return err_set(-DV_EFORMAT, "not smartctl JSON (line %d: %s)", jerr.line, jerr.text);
	static const char *const markers[] = { "smartctl", "smart_status", "ata_smart_attributes",
					       "nvme_smart_health_information_log",
					       "scsi_grown_defect_list", "scsi_error_counter_log" };
	int known = 0;
	for (size_t i = 0; json_is_object(root) && i < sizeof(markers) / sizeof(markers[0]); i++)
		known |= json_object_get(root, markers[i]) != NULL;
	if (!known) {
		json_decref(root);
		return err_set(-DV_EFORMAT, "not smartctl JSON output (no SMART data in it)");
	}
	json_t *dev = json_object_get(root, "device");
	copy_str(r->device, sizeof(r->device), json_object_get(dev, "name"));
	const char *proto = json_string_value(json_object_get(dev, "protocol"));
	if (proto)
		r->kind = strcmp(proto, "ATA") == 0 ? DISK_ATA : strcmp(proto, "NVMe") == 0 ? DISK_NVME
						    : strcmp(proto, "SCSI") == 0 ? DISK_SCSI : 0;
	copy_str(r->model, sizeof(r->model), json_object_get(root, "model_name"));
	if (!r->model[0])
		copy_str(r->model, sizeof(r->model), json_object_get(root, "scsi_model_name"));
	copy_str(r->serial, sizeof(r->serial), json_object_get(root, "serial_number"));
	int64_t v;
	if (get_int(root, "rotation_rate", &v))
		r->rotational = v > 0;
	else if (r->kind == DISK_NVME)
		r->rotational = 0;
	json_t *ss = json_object_get(root, "smart_status");
	if (json_is_boolean(json_object_get(ss, "passed"))) {
		r->has_passed = 1;
		r->passed = json_is_true(json_object_get(ss, "passed"));
	}
	if (get_int32(json_object_get(root, "smartctl"), "exit_status", &r->exit_status))
		r->has_exit = 1;
	if (get_int(json_object_get(root, "power_on_time"), "hours", &r->hours))
		r->has_hours = 1;
	json_t *t = json_object_get(root, "temperature");
	if (get_int32(t, "current", &r->temp))
		r->has_temp = r->temp > 0; /* 0 means "no sensor" on several drives */
	if (!get_int32(t, "op_limit_max", &r->temp_limit))
		get_int32(t, "drive_trip", &r->temp_limit);
	int rc = parse_ata(r, root);
	parse_nvme(r, root);
	parse_scsi(r, root);
	if (!r->kind)
		r->kind = r->nattrs ? DISK_ATA : r->has_nvme ? DISK_NVME : r->has_grown ? DISK_SCSI : 0;
	json_decref(root);
	if (rc < 0)
		smart_reading_release(r);
	return rc;
}

/* ---------- the text of smartctl -a ---------- */

static const char *line_value(const char *line, const char *key)
{
	size_t kl = strlen(key);
	if (strncmp(line, key, kl) != 0)
		return NULL;
	line += kl;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

static void copy_line(char *out, size_t cap, const char *v)
{
	size_t n = strcspn(v, "\n");
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\r'))
		n--;
	snprintf(out, cap, "%.*s", (int)n, v);
}

/* A whole word of digits, clamped into int; -1 if it is not one. */
static int small_number(const char *word, int *out)
{
	uint64_t v;
	const char *end;
	if (num_parse_u64(word, &end, &v) < 0 || *end)
		return -1;
	*out = v > INT_MAX ? INT_MAX : (int)v;
	return 0;
}

/* "  5 Reallocated_Sector_Ct 0x0033 100 100 036 Pre-fail Always FAILING_NOW 4095" */
static int parse_attr_line(const char *l, smart_attr *a)
{
	char name[48], flag[16], type[16], upd[16], wf[16], raw[64], ids[16], vals[16], worsts[16], thrs[16];
	int id, val, worst, thr;
	memset(a, 0, sizeof(*a));
	/* numbers as words, then decoded: sscanf's %d is undefined on overflow */
	if (sscanf(l, " %15s %47s %15s %15s %15s %15s %15s %15s %15s %63[^\n]", ids, name, flag, vals,
		   worsts, thrs, type, upd, wf, raw) != 10 || small_number(ids, &id) < 0 ||
	    small_number(vals, &val) < 0 || small_number(worsts, &worst) < 0 ||
	    small_number(thrs, &thr) < 0 || id < 1 || id > 255)
		return 0;
	a->id = id;
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->value = val;
	a->worst = worst;
	a->thresh = thr;
	a->prefail = strcmp(type, "Pre-fail") == 0;
	if (strcmp(wf, "FAILING_NOW") == 0)
		snprintf(a->when_failed, sizeof(a->when_failed), "now");
	else if (strcmp(wf, "In_the_past") == 0)
		snprintf(a->when_failed, sizeof(a->when_failed), "past");
	copy_line(a->raw_str, sizeof(a->raw_str), raw);
	a->raw = strtoull(a->raw_str, NULL, 10);
	return 1;
}

int smart_parse_text(smart_reading *r, const char *text, size_t n)
{
	init(r);
	char *copy = strndup(text, n);
	if (!copy)
		return -ENOMEM;
	size_t cap = 0;
	int in_attrs = 0, in_tests = 0, rc = 0, seen = 0;
	for (char *l = copy; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *v;
		if ((v = line_value(l, "Device Model:")) || (v = line_value(l, "Model Number:")) ||
		    (v = line_value(l, "Product:")))
			copy_line(r->model, sizeof(r->model), v);
		else if ((v = line_value(l, "Serial Number:")) || (v = line_value(l, "Serial number:")))
			copy_line(r->serial, sizeof(r->serial), v);
		else if ((v = line_value(l, "SMART overall-health self-assessment test result:"))) {
			r->has_passed = seen = 1;
			r->passed = strncmp(v, "PASSED", 6) == 0;
		} else if ((v = line_value(l, "ATA Error Count:"))) {
			r->has_errlog = 1;
			r->errlog_count = strtoull(v, NULL, 10);
		} else if (strncmp(l, "No Errors Logged", 16) == 0) {
			r->has_errlog = 1;
		} else if (strncmp(l, "ID# ATTRIBUTE_NAME", 18) == 0) {
			in_attrs = seen = 1;
			r->kind = DISK_ATA;
			continue;
		} else if (strncmp(l, "Num  Test_Description", 21) == 0) {
			in_tests = 1;
			r->has_selftests = 1;
			continue;
		}
		if (*l == '\n' || *l == '\r') {
			in_attrs = in_tests = 0;
			continue;
		}
		smart_attr a;
		if (in_attrs && parse_attr_line(l, &a)) {
			if (a.id == 9 && !r->has_hours) {
				r->has_hours = 1;
				r->hours = (int64_t)strtoll(a.raw_str, NULL, 10);
			}
			if (a.id == 194 && !r->has_temp) {
				uint64_t t = 0; /* "36 (Min/Max 20/45)": the leading number */
				num_parse_u64(a.raw_str, NULL, &t);
				r->temp = t > INT_MAX ? INT_MAX : (int)t;
				r->has_temp = r->temp > 0;
			}
			if ((rc = add_attr(r, &cap, &a)) < 0)
				break;
		} else if (in_tests && l[0] == '#') {
			r->nselftests++;
			if (strstr(l, "read failure")) {
				if (!r->selftest_read_failure) {
					/* the LBA is the last field */
					char *end = strchr(l, '\n');
					char *p = end ? end : l + strlen(l);
					while (p > l && isspace((unsigned char)p[-1]))
						p--;
					while (p > l && !isspace((unsigned char)p[-1]))
						p--;
					r->selftest_lba = strtoull(p, NULL, 0);
				}
				r->selftest_read_failure = 1;
			}
		}
	}
	free(copy);
	if (rc == 0 && !seen)
		rc = err_set(-DV_EFORMAT, "neither smartctl JSON nor the text of 'smartctl -a'");
	if (rc < 0)
		smart_reading_release(r);
	return rc;
}

int smart_parse(smart_reading *r, const char *text, size_t n)
{
	size_t i = 0;
	while (i < n && isspace((unsigned char)text[i]))
		i++;
	return i < n && text[i] == '{' ? smart_parse_json(r, text, n) : smart_parse_text(r, text, n);
}

uint64_t smart_attr_count(const smart_attr *a)
{
	if (a->raw <= 0xffff)
		return a->raw;
	/* smartctl decodes vendor packings into a leading number (e.g. "4 4 4") */
	char *end;
	unsigned long long lead = strtoull(a->raw_str, &end, 10);
	if (end != a->raw_str && lead < a->raw)
		return lead;
	/* packed 16-bit counters (Seagate's 188 and others): the lowest */
	return a->raw & 0xffff;
}

int smart_parse_scan(const char *text, size_t n, smart_scan_fn fn, void *ud)
{
	json_t *root = json_loadb(text, n, 0, NULL);
	if (!root)
		return err_set(-DV_EFORMAT, "smartctl --scan-open --json gave no JSON");
	json_t *devs = json_object_get(root, "devices"), *e;
	size_t i;
	int rc = 0;
	json_array_foreach(devs, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *type = json_string_value(json_object_get(e, "type"));
		if (name && (rc = fn(ud, name, type)) != 0)
			break;
	}
	json_decref(root);
	return rc;
}
