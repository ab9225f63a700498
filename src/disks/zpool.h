/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zpool: checks of ZFS pools from the text of `zpool status -P` (and
 * `zdb -C` for per-vdev ashift when given); docs/disks.md lists the rules.
 */
#ifndef DV_DISKS_ZPOOL_H
#define DV_DISKS_ZPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "disks.h"

typedef struct {
	char name[512], state[24], extra[256];
	uint64_t rd, wr, ck;
	int depth;   /* 0: the pool row, 1: top-level vdev, 2+: below */
	int section; /* 0 data, 1 logs, 2 cache, 3 spares, 4 special, 5 dedup */
	int leaf;    /* no rows below it */
} zpool_row;

typedef struct {
	char name[256], state[24];
	char status[1024], scan[512], errors[512];
	zpool_row *rows;
	size_t nrows, caprows;
	disk_report report;
} zpool_pool;

typedef struct {
	zpool_pool *v;
	size_t n, cap;
} zpool_status;

/* Parses the text of `zpool status` (one or more pools). */
int zpool_parse(zpool_status *s, const char *text, size_t n);
/*
 * Evaluates every pool into its report.  zdb: the text of `zdb -C`
 * (NULL if not available); now: seconds since the epoch.
 */
int zpool_evaluate(zpool_status *s, const char *zdb, int64_t now);
void zpool_status_release(zpool_status *s);
/*
 * A counter as zpool prints it ("0", "12", "2.72K", "1.5E": suffixes are
 * powers of 1024): floored, saturated at UINT64_MAX; -EINVAL if s is not one.
 */
int zpool_parse_count(const char *s, uint64_t *out);

#endif
