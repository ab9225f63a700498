/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * diskwatch: one disk checked against what was remembered: the previous
 * counters feed the growth rules, the new ones are stored, and alert
 * states decide what to notify: a condition once, again when it worsens,
 * and its recovery.
 */
#ifndef DV_DISKS_DISKWATCH_H
#define DV_DISKS_DISKWATCH_H

#include <stdint.h>

#include "disks.h"
#include "diskstate.h"
#include "smart.h"

enum { NOTICE_NEW = 1, NOTICE_WORSE, NOTICE_RECOVERED };

typedef struct {
	int kind, severity;
	char code[40], message[256];
} disk_notice;

typedef struct {
	disk_notice *v;
	size_t n, cap;
} disk_notices;

/* A stable name for a disk: model and serial, else the device. */
void diskwatch_key(const smart_reading *r, char out[300]);
/* st may be NULL (no memory: no growth rules, no notices). */
int diskwatch_check(diskstate *st, const smart_reading *r, int64_t now, disk_report *rep,
		    disk_notices *out);
/*
 * The once-per-condition rule on its own, for anything that has findings
 * (a disk, a pool, a daemon job): compares rep's findings of warning and
 * above with the conditions remembered under key, records the changes and
 * appends a notice for each new condition, each one that got worse, and
 * each one that went away.  The caller holds the transaction.
 */
int diskwatch_decide(diskstate *st, const char *key, const disk_report *rep, int64_t now,
		     disk_notices *out);
void disk_notices_release(disk_notices *n);

#endif
