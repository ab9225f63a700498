/* SPDX-License-Identifier: BSD-2-Clause */
#include "readlease.h"
#include "../base/checked.h"
#include "../repo/lease.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Whether a and b are within d of each other, without wrapping. */
static int near(int64_t a, int64_t b, int64_t d)
{
	return sat_sub_i64(a, b) <= d && sat_sub_i64(b, a) <= d;
}

int readlease_check(const char *text, size_t n, const char *old, size_t old_n, int64_t now_ns,
		    int64_t skew_ns, char *why, size_t cap)
{
	lease_info l, o;
	memset(&l, 0, sizeof(l));
	memset(&o, 0, sizeof(o));
	if (lease_parse(&l, text, n) < 0) {
		snprintf(why, cap, "it is not a lease file (docs/format.md)");
		return -EACCES;
	}
	if (strcmp(l.kind, "read") != 0) {
		snprintf(why, cap, "a lease of kind '%s' needs 'append'; this right stores read leases only", l.kind);
		return -EACCES;
	}
	/* a start or refresh off the server's clock would protect from
	 * earlier than the reader began, or make the lease look younger than
	 * it is */
	if (!near(l.refresh_ns, now_ns, skew_ns) || l.refresh_ns < l.start_ns) {
		snprintf(why, cap, "its refresh time is not now (the clocks differ by more than the allowance, or it was forged)");
		return -EACCES;
	}
	if (!old) {
		if (!near(l.start_ns, now_ns, skew_ns)) {
			snprintf(why, cap, "a new read lease must start now (the clocks differ by more than the allowance, or it was forged)");
			return -EACCES;
		}
	} else if (lease_parse(&o, old, old_n) < 0 || strcmp(o.kind, l.kind) != 0 || o.start_ns != l.start_ns ||
		   o.pid != l.pid || strcmp(o.host, l.host) != 0) {
		snprintf(why, cap, "a refresh must keep the lease's kind, start, host and pid");
		return -EACCES;
	}
	/* leases expire: one kept alive for ever would hold back every
	 * prune's deletions for ever */
	if (sat_sub_i64(now_ns, l.start_ns) > sat_add_i64((int64_t)READLEASE_MAX_S * 1000000000, skew_ns)) {
		snprintf(why, cap, "a read lease is kept at most %d h; this one started earlier", READLEASE_MAX_S / 3600);
		return -EACCES;
	}
	return 0;
}
