/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * lease: who is using a repository, since when (docs/concurrency.md).
 *
 * Every process that opens a repository writes locks/<random> with its
 * kind, host, pid, start time and the time it last refreshed the file.
 * Leases are not locks: backups never wait for anything.  They tell a
 * prune which processes may still act on an index it is replacing, so it
 * deletes nothing such a process could reference.  Only prune and
 * repair exclude each other.  A lease whose process is gone (same host,
 * pid not running) or that was not refreshed for the expiry time is
 * stale.  Times are the writer's wall clock in nanoseconds; hosts sharing
 * a repository must agree within the clock skew allowance.
 */
#ifndef DV_REPO_LEASE_H
#define DV_REPO_LEASE_H

#include <stddef.h>
#include <stdint.h>

#include "gcrule.h"
#include "../backend/backend.h"

#define LEASE_EXPIRY_DEFAULT_S 1800
#define LEASE_SKEW_DEFAULT_S 300
#define LEASE_NOTICE_WAIT_DEFAULT_S 120
/* What a storage time may be off ours beyond the skew: its granularity and the write's duration. */
#define LEASE_MTIME_SLACK_NS 2000000000

typedef struct {
	char name[40];   /* "locks/<hex>" */
	char kind[16];   /* backup, read, prune, repair */
	char host[256];
	long pid;
	int64_t start_ns, refresh_ns;
	int damaged;     /* unparsable (see lease_eval for what it means) */
} lease_info;

typedef struct lease lease;

/* Wall-clock time in nanoseconds. */
int64_t lease_now_ns(void);
/* The expiry and skew allowance (DVALIN_LEASE_EXPIRY, DVALIN_CLOCK_SKEW). */
int64_t lease_expiry_ns(void);
int64_t lease_skew_ns(void);
/* How long a commit waits for a prune's deletion notice to stop naming
 * its packs (DVALIN_NOTICE_WAIT, seconds; docs/concurrency.md "Deleting"). */
int64_t lease_notice_wait_ns(void);

/*
 * Writes a new lease and starts a thread that refreshes it.  Fails with
 * -ERANGE when the lease file's time (the storage's clock) is further
 * from ours than the skew allowance (and LEASE_MTIME_SLACK_NS).  With
 * exclusive set, fails with -EBUSY (message naming the holder) when an
 * older live exclusive lease exists.
 */
int lease_take(lease **out, backend *be, const char *kind, int exclusive);
/* Removes the lease file and stops refreshing.  NULL-safe. */
void lease_drop(lease *l);
const char *lease_name(const lease *l);
int64_t lease_start_ns(const lease *l);
const char *lease_kind(const lease *l); /* as given to lease_take */
/*
 * 0 if the lease is certainly still live for others: its file is there
 * and was last refreshed within half the expiry time.  A process that cannot say so must not
 * commit anything that depends on blobs it found in the index.
 */
int lease_confirm(lease *l);
/*
 * lease_confirm, and no older live prune or repair lease than this one
 * (as lease_take checks with exclusive): what a prune checks right
 * before it deletes anything (docs/concurrency.md, "A prune that
 * stalls").  -ESTALE or -EBUSY with the reason.
 */
int lease_confirm_exclusive(lease *l);

/* Every lease file; damaged ones are listed with damaged set. */
int lease_list(backend *be, lease_info **out, size_t *out_n);
/*
 * Whether lease i's process is certainly gone: the lease parsed, names
 * this host, and its pid is not running.
 */
int lease_process_gone(const lease_info *i);
/*
 * The rule's view of lease i (gcrule.h, where the meaning of every field,
 * damaged and implausible ones included, is defined).  st is the
 * storage's stat of the file, NULL when unknown.
 */
void lease_rule_input(gcrule_lease *out, const lease_info *i, const backend_stat_t *st,
		      int process_gone);
/* The rule's clock: now, DVALIN_LEASE_EXPIRY, DVALIN_CLOCK_SKEW. */
gcrule_clock lease_clock(void);
/*
 * Every lease file but mine (a name, or NULL) judged by the rule
 * (gcrule.h), with the storage's time of each file: *out_v the leases,
 * *out_verdicts theirs, *out_gone whether each one's process is gone (for
 * messages), the live ones summed up in *out_h.  Files dropped while
 * they were listed are left out.  The caller frees the three arrays.
 */
int lease_judge(backend *be, const char *mine, lease_info **out_v, gcrule_verdict **out_verdicts,
		uint8_t **out_gone, size_t *out_n, gcrule_horizon *out_h);
/* Whether another process may treat lease i as gone (its file time unknown). */
int lease_is_stale(const lease_info *i, int64_t now_ns);

/* The pure codec, for tests. */
int lease_format(char *out, size_t cap, const lease_info *i);
int lease_parse(lease_info *out, const char *text, size_t n);

#endif
