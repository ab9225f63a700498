/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * unlock: removes the lease files of processes that are gone (restic's
 * `unlock`), by the very rule prune applies (repo/gcrule.h): a lease is
 * stale when its process is gone from this host, or nothing rewrote it
 * for the lease expiry plus the clock skew.  Live leases stay, unless
 * remove_all: then every lease goes, which a running prune or backup
 * notices at its next commit check (it fails rather than trust data a
 * concurrent prune may delete).  Needs no key.
 */
#ifndef DV_JOBS_UNLOCK_H
#define DV_JOBS_UNLOCK_H

#include <stddef.h>

#include "../repo/lease.h"
#include "../repo/repo.h"

enum { UNLOCK_REMOVED_STALE, UNLOCK_KEPT_LIVE, UNLOCK_REMOVED_LIVE };

typedef struct {
	int remove_all;
	/* each lease and what happened to it; why: a few words */
	void (*on_lease)(void *ud, const lease_info *l, int what, const char *why);
	void *ud;
} unlock_opts;

typedef struct {
	size_t stale_removed, live_kept, live_removed, failed;
} unlock_result;

int unlock_run(repo *r, const unlock_opts *o, unlock_result *out);

#endif
