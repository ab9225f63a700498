/* SPDX-License-Identifier: BSD-2-Clause */
#include "disks.h"
#include "../base/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Raw counters that predict failure: above zero a warning, at or above
 * `failing` (or growing) failing.  docs/disks.md gives the reasons. */
static const struct {
	int id;
	uint64_t failing;
} watched[] = {
	{ 5, 100 },   /* Reallocated_Sector_Ct */
	{ 10, 10 },   /* Spin_Retry_Count */
	{ 184, 10 },  /* End-to-End_Error */
	{ 187, 10 },  /* Reported_Uncorrect */
	{ 188, 100 }, /* Command_Timeout */
	{ 196, 100 }, /* Reallocated_Event_Count */
	{ 197, 10 },  /* Current_Pending_Sector */
	{ 198, 10 },  /* Offline_Uncorrectable */
};

#define add disks_add_finding

#define TEMP_DEFAULT_HDD 55
#define TEMP_DEFAULT_SSD 70
#define SELFTEST_AGE_HOURS (60 * 24)

const char *disks_severity_name(int sev)
{
	static const char *const n[] = { "ok", "advice", "warning", "failing" };
	return sev >= 0 && sev <= 3 ? n[sev] : "?";
}

int disks_add_finding(disk_report *rep, int sev, const char *code, const char *source,
		      const char *fmt, ...)
{
	int rc = array_reserve(&rep->v, &rep->cap, rep->n + 1, sizeof(*rep->v));
	if (rc < 0)
		return rc;
	disk_finding *f = &rep->v[rep->n++];
	memset(f, 0, sizeof(*f));
	f->severity = sev;
	snprintf(f->code, sizeof(f->code), "%s", code);
	snprintf(f->source, sizeof(f->source), "%s", source);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	if (sev > rep->verdict && sev != SEV_ADVICE)
		rep->verdict = sev;
	return 0;
}

/* Whether a counter grew since the last reading. */
static int grew(disks_prev_fn prev, void *ud, const char *key, uint64_t now, uint64_t *before)
{
	return prev && prev(ud, key, before) == 0 && now > *before;
}

/* A counter that should stay 0: a warning above zero, failing once it grows. */
static int counter_rule(disk_report *rep, disks_prev_fn prev, void *ud, const char *key,
			uint64_t now, const char *code, const char *src, const char *what)
{
	uint64_t before;
	if (grew(prev, ud, key, now, &before))
		return add(rep, SEV_FAILING, code, src, "%s grew from %llu to %llu", what,
			   (unsigned long long)before, (unsigned long long)now);
	return add(rep, SEV_WARNING, code, src, "%s: %llu", what, (unsigned long long)now);
}

static void attr_source(char out[256], const smart_attr *a)
{
	snprintf(out, 256, "attribute %d %s: value %d, worst %d, thresh %d, when_failed '%s', raw %s",
		 a->id, a->name, a->value, a->worst, a->thresh, a->when_failed,
		 a->raw_str[0] ? a->raw_str : "?");
}

static int watched_failing_level(int id)
{
	for (size_t i = 0; i < sizeof(watched) / sizeof(watched[0]); i++)
		if (watched[i].id == id)
			return (int)watched[i].failing;
	return -1;
}

static int eval_attr(const smart_attr *a, disks_prev_fn prev, void *ud, disk_report *rep)
{
	char src[256], code[40], key[32];
	int rc = 0;
	attr_source(src, a);
	snprintf(code, sizeof(code), "ata-attr-%d", a->id);
	if (strcmp(a->when_failed, "now") == 0)
		rc = add(rep, SEV_FAILING, code, src, "attribute %d %s is failing now (value %d, threshold %d)",
			 a->id, a->name, a->value, a->thresh);
	else if (strcmp(a->when_failed, "past") == 0)
		rc = add(rep, SEV_WARNING, code, src, "attribute %d %s was at its threshold in the past",
			 a->id, a->name);
	else if (a->prefail && a->thresh > 0 && a->value >= 0 && a->value <= a->thresh)
		rc = add(rep, SEV_FAILING, code, src, "pre-fail attribute %d %s is at or below its threshold (value %d, threshold %d)",
			 a->id, a->name, a->value, a->thresh);
	if (rc < 0)
		return rc;
	uint64_t count = smart_attr_count(a), before = 0;
	snprintf(key, sizeof(key), "ata.%d", a->id);
	int level = watched_failing_level(a->id);
	if (level >= 0 && count > 0) {
		char c2[40];
		snprintf(c2, sizeof(c2), "ata-count-%d", a->id);
		if (grew(prev, ud, key, count, &before))
			return add(rep, SEV_FAILING, c2, src, "%s grew from %llu to %llu since the last reading",
				   a->name, (unsigned long long)before, (unsigned long long)count);
		if (count >= (uint64_t)level)
			return add(rep, SEV_FAILING, c2, src, "%s is %llu (failing at %d or more)", a->name,
				   (unsigned long long)count, level);
		return add(rep, SEV_WARNING, c2, src, "%s is %llu (should be 0)", a->name,
			   (unsigned long long)count);
	}
	if (a->id == 199 && count > 0) {
		int g = grew(prev, ud, key, count, &before);
		return add(rep, SEV_WARNING, "ata-crc-199", src,
			   "%llu interface CRC errors%s: check the SATA cable, backplane or controller, not the disk",
			   (unsigned long long)count, g ? " and growing" : "");
	}
	return 0;
}

static int eval_ata(const smart_reading *r, disks_prev_fn prev, void *ud, disk_report *rep)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < r->nattrs; i++)
		rc = eval_attr(&r->attrs[i], prev, ud, rep);
	char src[256];
	if (rc == 0 && r->has_errlog && r->errlog_count > 0) {
		snprintf(src, sizeof(src), "ATA error log: %llu entries", (unsigned long long)r->errlog_count);
		rc = counter_rule(rep, prev, ud, "ata.errlog", r->errlog_count, "ata-error-log", src,
				  "ATA error log entries");
	}
	if (rc == 0 && r->selftest_read_failure) {
		snprintf(src, sizeof(src), "self-test log: read failure at LBA %llu",
			 (unsigned long long)r->selftest_lba);
		rc = add(rep, SEV_FAILING, "selftest-read-failure", src,
			 "a self-test ended in a read failure (LBA %llu)", (unsigned long long)r->selftest_lba);
	}
	if (rc == 0 && r->has_selftests && r->nselftests == 0)
		rc = add(rep, SEV_ADVICE, "selftest-none", "self-test log: empty",
			 "no self-test has ever run: schedule 'smartctl -t long' regularly");
	if (rc == 0 && r->has_hours && r->last_selftest_hours >= 0) {
		int64_t age = r->hours - r->last_selftest_hours;
		if (r->hours > 65535) /* the log's hours wrap at 16 bits */
			age = (r->hours - r->last_selftest_hours) & 0xffff;
		snprintf(src, sizeof(src), "self-test log: newest at %lld power-on hours, now %lld",
			 (long long)r->last_selftest_hours, (long long)r->hours);
		if (age > SELFTEST_AGE_HOURS)
			rc = add(rep, SEV_ADVICE, "selftest-old", src,
				 "the last self-test ran %lld power-on hours ago: schedule 'smartctl -t long' regularly",
				 (long long)age);
	}
	return rc;
}

static int eval_nvme(const smart_reading *r, disks_prev_fn prev, void *ud, disk_report *rep)
{
	static const char *const bits[] = { "available spare below threshold", "temperature out of range",
					     "reliability degraded", "media placed in read-only mode",
					     "volatile memory backup failed" };
	char src[256];
	uint64_t before;
	int rc = 0;
	snprintf(src, sizeof(src), "NVMe health log: critical_warning 0x%02llx",
		 (unsigned long long)r->nvme_critical_warning);
	for (int b = 0; rc == 0 && b < 5; b++)
		if (r->nvme_critical_warning & (1u << b))
			rc = add(rep, SEV_FAILING, "nvme-critical-warning", src, "NVMe critical warning: %s", bits[b]);
	if (rc == 0 && r->nvme_spare_threshold && r->nvme_spare <= r->nvme_spare_threshold) {
		snprintf(src, sizeof(src), "NVMe health log: available_spare %llu%%, threshold %llu%%",
			 (unsigned long long)r->nvme_spare, (unsigned long long)r->nvme_spare_threshold);
		rc = add(rep, SEV_FAILING, "nvme-spare", src, "available spare %llu%% is at or below its threshold",
			 (unsigned long long)r->nvme_spare);
	}
	if (rc == 0 && r->nvme_used >= 90) {
		snprintf(src, sizeof(src), "NVMe health log: percentage_used %llu%%", (unsigned long long)r->nvme_used);
		rc = add(rep, r->nvme_used >= 100 ? SEV_FAILING : SEV_WARNING, "nvme-wear", src,
			 "%llu%% of the rated endurance is used", (unsigned long long)r->nvme_used);
	}
	if (rc == 0 && r->nvme_media_errors > 0) {
		snprintf(src, sizeof(src), "NVMe health log: media_errors %llu", (unsigned long long)r->nvme_media_errors);
		rc = counter_rule(rep, prev, ud, "nvme.media_errors", r->nvme_media_errors,
				  "nvme-media-errors", src, "media errors (unrecovered data)");
	}
	if (rc == 0 && grew(prev, ud, "nvme.err_entries", r->nvme_err_entries, &before)) {
		snprintf(src, sizeof(src), "NVMe health log: num_err_log_entries %llu",
			 (unsigned long long)r->nvme_err_entries);
		rc = add(rep, SEV_WARNING, "nvme-error-log", src, "the error log grew from %llu to %llu entries",
			 (unsigned long long)before, (unsigned long long)r->nvme_err_entries);
	}
	return rc;
}

static int eval_scsi(const smart_reading *r, disks_prev_fn prev, void *ud, disk_report *rep)
{
	static const char *const dirs[] = { "read", "write", "verify" };
	char src[256];
	int rc = 0;
	if (r->has_grown && r->grown_defects > 0) {
		snprintf(src, sizeof(src), "SCSI grown defect list: %llu", (unsigned long long)r->grown_defects);
		rc = counter_rule(rep, prev, ud, "scsi.grown", r->grown_defects, "scsi-grown-defects",
				  src, "grown defects (remapped sectors)");
	}
	for (int i = 0; rc == 0 && i < 3; i++) {
		if (!r->uncorrected[i])
			continue;
		char code[40];
		snprintf(src, sizeof(src), "SCSI error counter log: %s total_uncorrected_errors %llu", dirs[i],
			 (unsigned long long)r->uncorrected[i]);
		snprintf(code, sizeof(code), "scsi-uncorrected-%s", dirs[i]);
		rc = add(rep, SEV_FAILING, code, src, "%llu uncorrected %s errors",
			 (unsigned long long)r->uncorrected[i], dirs[i]);
	}
	return rc;
}

/* smartctl's exit status bits (smartctl(8), "RETURN VALUES"). */
static int eval_exit(const smart_reading *r, disk_report *rep)
{
	char src[256];
	int rc = 0, e = r->exit_status;
	if (!r->has_exit)
		return 0;
	snprintf(src, sizeof(src), "smartctl exit status %d (0x%02x)", e, e);
	if (rc == 0 && (e & 0x08))
		rc = add(rep, SEV_FAILING, "smartctl-disk-failing", src, "smartctl: the disk is failing (bit 3)");
	if (rc == 0 && (e & 0x10))
		rc = add(rep, SEV_FAILING, "smartctl-prefail", src, "smartctl: pre-fail attributes at or below threshold (bit 4)");
	if (rc == 0 && (e & 0x20))
		rc = add(rep, SEV_WARNING, "smartctl-past-threshold", src, "smartctl: attributes were at or below threshold in the past (bit 5)");
	if (rc == 0 && (e & 0x40))
		rc = add(rep, SEV_WARNING, "smartctl-error-log", src, "smartctl: the error log has records (bit 6)");
	if (rc == 0 && (e & 0x80))
		rc = add(rep, SEV_WARNING, "smartctl-selftest-log", src, "smartctl: the self-test log has errors (bit 7)");
	if (rc == 0 && (e & 0x04))
		rc = add(rep, SEV_ADVICE, "smartctl-command-failed", src, "smartctl: a SMART command failed or a checksum was wrong (bit 2): some data may be missing");
	return rc;
}

int disks_evaluate(const smart_reading *r, disks_prev_fn prev, void *ud, disk_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	int rc = 0;
	if (r->has_passed && !r->passed)
		rc = add(rep, SEV_FAILING, "smart-status-failed", "SMART overall-health self-assessment: FAILED",
			 "the drive's own overall assessment is FAILED");
	rc = rc ?: eval_exit(r, rep);
	rc = rc ?: eval_ata(r, prev, ud, rep);
	if (rc == 0 && r->has_nvme)
		rc = eval_nvme(r, prev, ud, rep);
	rc = rc ?: eval_scsi(r, prev, ud, rep);
	if (rc == 0 && r->has_temp) {
		int limit = r->temp_limit > 0 ? r->temp_limit
					      : r->rotational == 1 ? TEMP_DEFAULT_HDD
					      : r->rotational == 0 ? TEMP_DEFAULT_SSD : TEMP_DEFAULT_HDD;
		char src[256];
		snprintf(src, sizeof(src), "temperature %d C, limit %d C%s", r->temp, limit,
			 r->temp_limit > 0 ? " (the drive's)" : " (dvalin's default)");
		if (r->temp > limit)
			rc = add(rep, SEV_WARNING, "temperature", src, "temperature %d C is above %d C", r->temp, limit);
	}
	if (rc < 0)
		disk_report_release(rep);
	return rc;
}

int disks_counters(const smart_reading *r, disks_counter_fn fn, void *ud)
{
	char key[32];
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < r->nattrs; i++) {
		const smart_attr *a = &r->attrs[i];
		if (watched_failing_level(a->id) < 0 && a->id != 199)
			continue;
		snprintf(key, sizeof(key), "ata.%d", a->id);
		rc = fn(ud, key, smart_attr_count(a));
	}
	if (rc == 0 && r->has_errlog)
		rc = fn(ud, "ata.errlog", r->errlog_count);
	if (rc == 0 && r->has_nvme) {
		rc = fn(ud, "nvme.media_errors", r->nvme_media_errors);
		rc = rc ?: fn(ud, "nvme.err_entries", r->nvme_err_entries);
	}
	if (rc == 0 && r->has_grown)
		rc = fn(ud, "scsi.grown", r->grown_defects);
	return rc;
}

void disk_report_release(disk_report *rep)
{
	free(rep->v);
	memset(rep, 0, sizeof(*rep));
}

const disk_finding *disks_worst(const disk_report *rep)
{
	const disk_finding *w = NULL;
	for (size_t i = 0; i < rep->n; i++)
		if (!w || rep->v[i].severity > w->severity)
			w = &rep->v[i];
	return w;
}
