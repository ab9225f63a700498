/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * smart: what smartctl says about one disk, read from `smartctl -x --json`
 * output (or, for old saved reports, the text of `smartctl -a`), in one
 * shape for ATA, NVMe and SCSI.  Parsing only; the judgement is disks.c.
 */
#ifndef DV_DISKS_SMART_H
#define DV_DISKS_SMART_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	int id;
	char name[48];
	int value, worst, thresh;
	int prefail;
	char when_failed[12]; /* "", "now", "past" */
	uint64_t raw;         /* the raw 48-bit value */
	char raw_str[64];     /* smartctl's decoding of it */
} smart_attr;

enum { DISK_ATA = 1, DISK_NVME, DISK_SCSI };

typedef struct {
	char device[128], model[128], serial[96];
	int kind;            /* DISK_* or 0 if unknown */
	int rotational;      /* 1 spinning, 0 solid state, -1 unknown */
	int has_passed, passed;
	int has_exit, exit_status;
	int has_hours;
	int64_t hours;
	int has_temp, temp, temp_limit; /* limit 0: unknown */
	smart_attr *attrs;
	size_t nattrs;
	int has_errlog;
	uint64_t errlog_count;
	int has_selftests;
	size_t nselftests;
	int selftest_read_failure; /* a self-test ended in a read failure */
	uint64_t selftest_lba;
	int64_t last_selftest_hours; /* -1: none */
	int has_nvme;
	uint64_t nvme_critical_warning, nvme_spare, nvme_spare_threshold, nvme_used;
	uint64_t nvme_media_errors, nvme_err_entries;
	int has_grown;
	uint64_t grown_defects;
	int has_uncorrected;
	uint64_t uncorrected[3]; /* read, write, verify */
} smart_reading;

/* Parses smartctl --json output (-x or -a); -DV_EFORMAT if it is not. */
int smart_parse_json(smart_reading *r, const char *text, size_t n);
/* Parses the text of `smartctl -a` (ATA; smartctl 5.x to 7.x). */
int smart_parse_text(smart_reading *r, const char *text, size_t n);
/* Either, by the first character. */
int smart_parse(smart_reading *r, const char *text, size_t n);
void smart_reading_release(smart_reading *r);
/* Calls fn(ud, name, type) for each device of `smartctl --scan-open --json`. */
typedef int (*smart_scan_fn)(void *ud, const char *name, const char *type);
int smart_parse_scan(const char *text, size_t n, smart_scan_fn fn, void *ud);
/* The count an ATA attribute's raw value stands for (vendor packing decoded). */
uint64_t smart_attr_count(const smart_attr *a);

#endif
