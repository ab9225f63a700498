/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * poolscan: the ZFS pool job (`dvalin zpool-check`, and the daemon's
 * pool checks): run `zpool status -P` and, when present, `zdb -C` (or
 * read saved outputs of both), parse and judge every pool
 * (disks/zpool.c).
 */
#ifndef DV_JOBS_POOLSCAN_H
#define DV_JOBS_POOLSCAN_H

#include <stdint.h>

#include "../disks/zpool.h"
#include "../notify/alert.h"

typedef struct {
	const char *from;   /* saved `zpool status -P` text (NULL: run zpool) */
	const char *zdb;    /* saved `zdb -C` text (with from only; NULL: none) */
	int64_t now;        /* seconds since the epoch, for the scrub age */
	/*
	 * The state database of the disks (NULL: remember nothing): each
	 * pool's conditions are kept there under "pool:NAME" and announced
	 * through alerts (NULL: no channel) once, again when worse, and when
	 * they go away, as the disks' are.
	 */
	const char *state;
	const alert_config *alerts;
} poolscan_opts;

typedef struct {
	zpool_status pools; /* each with its report */
	int verdict;        /* the worst of every pool's verdict (SEV_*) */
	size_t sent, send_failed; /* notifications accepted and refused */
} poolscan_result;

/* 0 when the check ran (res filled, release it), <0 if it could not. */
int poolscan_run(const poolscan_opts *o, poolscan_result *res);
void poolscan_result_release(poolscan_result *res);

#endif
