/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * forget: retention policies (the semantics of Proxmox Backup Server and
 * borg; docs/dvalin.1 has a worked example).
 *
 * Within one group, snapshots newest first: protected, tagged (--keep-tag)
 * and recent (--keep-within) snapshots are kept first; then the rules run
 * from the finest to the coarsest: last, hourly, daily, weekly (ISO
 * weeks), monthly, yearly.  A rule keeps the newest snapshot of each of
 * its N most recent periods, skipping periods that already hold a kept
 * snapshot, and marks the other snapshots of a period it kept for removal
 * so that coarser rules pass over them.  Periods are taken in the time
 * zone the snapshot was made in.  Pure: no I/O.
 */
#ifndef DV_JOBS_FORGET_H
#define DV_JOBS_FORGET_H

#include <stddef.h>
#include <stdint.h>

enum forget_rule {
	RULE_NONE = 0, /* removed */
	RULE_PROTECTED,
	RULE_TAG,
	RULE_WITHIN,
	RULE_LAST,
	RULE_HOURLY,
	RULE_DAILY,
	RULE_WEEKLY,
	RULE_MONTHLY,
	RULE_YEARLY,
};

typedef struct {
	int keep[6];       /* last, hourly, daily, weekly, monthly, yearly; -1 unset */
	int64_t within_s;  /* -1 unset */
} forget_policy;

typedef struct {
	int64_t time;      /* seconds since the epoch */
	int32_t tz_offset; /* seconds east of UTC */
	int is_protected, has_keep_tag;
	/* results */
	int rule;          /* enum forget_rule */
	int rank;          /* the n-th period of its rule */
	int decided;
} forget_item;

void forget_policy_init(forget_policy *p);
int forget_policy_empty(const forget_policy *p);
/* Decides every item; items must be sorted newest first. */
int forget_apply(forget_item *items, size_t n, const forget_policy *p, int64_t now);
const char *forget_rule_name(int rule);
/* "30d", "12h", "2w", "6m", "1y", combinations such as "1y6m". */
int forget_parse_duration(const char *s, int64_t *out_s);

#endif
