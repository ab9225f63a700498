/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * disks: the verdict on a disk from a smart_reading and, when known, the
 * previous reading's counters (docs/disks.md lists every rule and why).
 * PASSED proves nothing on its own: every attribute, the error and
 * self-test logs and their growth are looked at.  Pure: no I/O.
 */
#ifndef DV_DISKS_DISKS_H
#define DV_DISKS_DISKS_H

#include <stddef.h>
#include <stdint.h>

#include "smart.h"

enum { SEV_OK = 0, SEV_ADVICE = 1, SEV_WARNING = 2, SEV_FAILING = 3 };

typedef struct {
	int severity;
	char code[40];      /* stable identifier, e.g. "ata-attr-5", "nvme-media-errors" */
	char message[256];
	char source[256];   /* the attribute or log entry it came from */
} disk_finding;

typedef struct {
	disk_finding *v;
	size_t n, cap;
	int verdict;        /* SEV_OK, SEV_WARNING or SEV_FAILING */
} disk_report;

/* A lookup of the previous reading of a counter: 0 and *out when known, else < 0. */
typedef int (*disks_prev_fn)(void *ud, const char *key, uint64_t *out);
/* A counter to remember for the next run. */
typedef int (*disks_counter_fn)(void *ud, const char *key, uint64_t val);

int disks_evaluate(const smart_reading *r, disks_prev_fn prev, void *ud, disk_report *out);
int disks_counters(const smart_reading *r, disks_counter_fn fn, void *ud);
void disk_report_release(disk_report *rep);
/* Appends a finding and raises the verdict (advice never does). */
int disks_add_finding(disk_report *rep, int sev, const char *code, const char *source,
		      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
const char *disks_severity_name(int sev); /* ok, advice, warning, failing */
/* The finding that decided the verdict (NULL if none). */
const disk_finding *disks_worst(const disk_report *rep);

#endif
