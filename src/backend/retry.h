/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * retry: when to try a failed request again.  Pure: the caller decides
 * what is transient and sleeps; this says how long, and when to give up.
 * Shared by every remote backend (S3 today; the HTTPS client can use it).
 *
 * Exponential backoff with "full jitter": the n-th delay is uniform in
 * [0, min(max_delay, base * 2^n)], so many clients throttled at once
 * (503 SlowDown) spread out instead of returning together.  A delay the
 * server asks for (Retry-After) is honoured when longer, up to max_delay.
 * Attempts stop when the next one would begin after the budget, counted
 * from the first attempt, or after max_attempts.
 *
 * DVALIN_RETRY_SECONDS sets the budget (default 120 s; 0: no retries),
 * so an outage of a minute or two is ridden out, and a location that is
 * simply wrong fails within that time.
 */
#ifndef DV_BACKEND_RETRY_H
#define DV_BACKEND_RETRY_H

#include <stdint.h>

typedef struct {
	int64_t base_ns;      /* the first delay's upper bound */
	int64_t max_delay_ns; /* cap of any single delay */
	int64_t budget_ns;    /* no attempt starts later than this after the first */
	unsigned max_attempts;
} retry_policy;

#define RETRY_POLICY_INIT { 200000000, 10000000000, 120000000000, 64 }

typedef struct {
	retry_policy p;
	unsigned attempts; /* made so far */
	int64_t start_ns;  /* monotonic time of the first */
	uint64_t rng;
} retry_state;

/* The default policy, with the budget from DVALIN_RETRY_SECONDS when it is a number >= 0. */
retry_policy retry_policy_default(void);

/* Starts counting at the first attempt, made at now_ns (monotonic); seed varies the jitter. */
void retry_start(retry_state *s, const retry_policy *p, int64_t now_ns, uint64_t seed);

/*
 * After a failed attempt at now_ns: the delay before the next (>= 0), or
 * -1 when none should be made.  hint_ns is a delay the server asked for
 * (0: none).
 */
int64_t retry_next(retry_state *s, int64_t now_ns, int64_t hint_ns);

/* CLOCK_MONOTONIC in ns. */
int64_t retry_now_ns(void);

/* Sleeps ns; returns early once a stop was asked (base/interrupt.h). */
void retry_sleep(int64_t ns);

#endif
