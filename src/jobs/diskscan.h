/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * diskscan: the disk health job (`dvalin disks`, and the daemon's disk
 * checks): read every disk smartctl can see (smartctl --scan-open, then
 * smartctl -x --json per device) or saved smartctl outputs, judge each
 * one against what the state database remembers (disks/diskwatch.c),
 * and send the resulting notices through the alert channels.
 *
 * A disk that cannot be read is kept in the result with its error and
 * the scan goes on with the others; only a failure that stops the whole
 * run (smartctl missing, a bad state file, no memory) is returned.
 */
#ifndef DV_JOBS_DISKSCAN_H
#define DV_JOBS_DISKSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "../disks/disks.h"
#include "../disks/diskwatch.h"
#include "../disks/smart.h"
#include "../notify/alert.h"

typedef struct {
	char *const *files;   /* saved outputs to evaluate instead of live disks */
	size_t nfiles;
	const char *only;     /* live: only this device (NULL: every device) */
	const char *state;    /* state database (NULL: remember nothing, no notices) */
	const alert_config *alerts; /* channels for the notices (NULL: send none) */
	int64_t now;          /* seconds since the epoch */
} diskscan_opts;

typedef struct {
	smart_reading r;
	disk_report rep;
	disk_notices notices;
	char label[256];      /* the device or file name asked for */
	char error[512];      /* why it could not be read; "" if it was */
} diskscan_disk;

typedef struct {
	diskscan_disk *v;
	size_t n, cap;
	int verdict;          /* the worst of every disk's verdict (SEV_*) */
	int unreadable;       /* disks that could not be read */
	size_t sent;          /* notifications accepted by a channel */
	size_t send_failed;   /* ... and refused (each one logged) */
} diskscan_result;

/* 0 when the scan ran (res filled, release it), <0 if it could not. */
int diskscan_run(const diskscan_opts *o, diskscan_result *res);
void diskscan_result_release(diskscan_result *res);

#endif
