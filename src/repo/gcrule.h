/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * gcrule: the deletion rule of docs/concurrency.md as pure functions.
 *
 * Which lease files count, from when each live one protects, which packs
 * are too young to condemn, and which condemnation records are ripe.  No
 * I/O: the caller reads leases, file times and records and passes them in,
 * so unit tests, property tests and fuzzers call the rule directly.
 *
 * Invariant: every input that is damaged, implausible or unknown moves the
 * answer towards "keep" (a lease protects from INT64_MIN, a record stays
 * unripe), never towards "delete".  All time arithmetic saturates
 * (base/checked.h): no input can wrap a time around.
 */
#ifndef DV_REPO_GCRULE_H
#define DV_REPO_GCRULE_H

#include <stddef.h>
#include <stdint.h>

/* The prune's view of time. */
typedef struct {
	int64_t now_ns;    /* its wall clock */
	int64_t expiry_ns; /* lease expiry, >= 0 */
	int64_t skew_ns;   /* clock skew allowance between hosts, >= 0 */
} gcrule_clock;

/* One lease file as the prune found it. */
typedef struct {
	int parsed;           /* the text parsed (lease_parse) */
	int64_t start_ns;     /* parsed: the writer's start and last refresh */
	int64_t refresh_ns;
	int process_gone;     /* parsed, this host, and its pid is not running */
	int mtime_known;      /* the storage's modification time of the file */
	int64_t mtime_ns;
} gcrule_lease;

/* Why a lease file is not trusted; GCRULE_TRUSTED (0) when it is. */
enum {
	GCRULE_TRUSTED = 0,
	GCRULE_UNPARSABLE,    /* not a lease */
	GCRULE_BAD_START,     /* start <= 0: not after the epoch */
	GCRULE_BAD_ORDER,     /* refreshed before it started */
	GCRULE_FUTURE,        /* refreshed later than now + skew */
};
int gcrule_lease_trust(const gcrule_lease *l, const gcrule_clock *c);
/* A short reason for a gcrule_lease_trust() code. */
const char *gcrule_trust_reason(int trust);

/*
 * 1 if the lease is stale (its process may be taken for gone), else 0
 * with *from set to the earliest time from which its process may have read
 * an index: its start when trusted, INT64_MIN otherwise.
 *
 * Trusted: stale when its process is gone, or when neither its refresh
 * time (the writer's clock) nor the file's modification time (the
 * storage's, when known) is within expiry + skew of now.  Untrusted:
 * stale when its process is gone (the host and pid parsed), or when the
 * file's modification time is known and older than expiry + skew.
 */
int gcrule_lease_stale(const gcrule_lease *l, const gcrule_clock *c, int64_t *from);

/* The live leases other than the prune's own, summarised. */
typedef struct {
	size_t live;
	int64_t oldest; /* least "from" among them; INT64_MAX when live == 0 */
} gcrule_horizon;

#define GCRULE_HORIZON_INIT { 0, INT64_MAX }

void gcrule_horizon_add(gcrule_horizon *h, int64_t from);

/* What the rule made of one lease file. */
typedef struct {
	int stale; /* may be removed */
	int trust; /* gcrule_lease_trust() */
} gcrule_verdict;

/*
 * The whole lease side of the rule: every lease of v (the caller leaves
 * out its own) judged into verdicts[i] (may be NULL), the live ones
 * summarised in *out.
 */
void gcrule_leases(gcrule_horizon *out, const gcrule_lease *v, size_t n, const gcrule_clock *c,
		   gcrule_verdict *verdicts);

/*
 * Packs modified at or after the cutoff are young and never condemned:
 * the oldest live start less the skew (packs are dated by the storage's
 * clock), or the prune's own start if earlier.
 */
int64_t gcrule_cutoff(const gcrule_horizon *h, int64_t own_start_ns, int64_t skew_ns);
int gcrule_pack_young(int64_t mtime_ns, int64_t cutoff_ns);

/* Whether a record's time says when the index changed (else: date it now). */
int gcrule_record_dated(int64_t time_ns);
/*
 * A dated record is ripe when no live lease is left, or when every live
 * lease protects from at or after its time plus the skew.
 */
int gcrule_record_ripe(int64_t time_ns, const gcrule_horizon *h, int64_t skew_ns);
/* One live lease's part of gcrule_record_ripe: from >= time + skew. */
int gcrule_record_ripe_for(int64_t time_ns, int64_t from, int64_t skew_ns);

#endif
