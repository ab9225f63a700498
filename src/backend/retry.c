/* SPDX-License-Identifier: BSD-2-Clause */
/* retry: backoff with full jitter under a time budget (retry.h). */
#include "retry.h"
#include "../base/checked.h"
#include "../base/interrupt.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

retry_policy retry_policy_default(void)
{
	retry_policy p = RETRY_POLICY_INIT;
	const char *e = getenv("DVALIN_RETRY_SECONDS");
	if (e && *e) {
		char *end;
		double v = strtod(e, &end);
		/* NaN, negative, huge or not a number: the default */
		if (*end == 0 && v >= 0 && v <= 7 * 86400.0)
			p.budget_ns = (int64_t)(v * 1e9);
	}
	return p;
}

void retry_start(retry_state *s, const retry_policy *p, int64_t now_ns, uint64_t seed)
{
	s->p = *p;
	s->attempts = 1;
	s->start_ns = now_ns;
	s->rng = seed | 1;
}

/* xorshift64*: jitter needs no quality beyond "not in step with others" */
static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545F4914F6CDD1DULL;
}

int64_t retry_next(retry_state *s, int64_t now_ns, int64_t hint_ns)
{
	if (s->attempts >= s->p.max_attempts)
		return -1;
	/* base * 2^(attempts-1), capped; shifts stop well before overflow */
	int64_t cap = s->p.base_ns;
	for (unsigned i = 1; i < s->attempts && cap < s->p.max_delay_ns; i++)
		cap = sat_mul_i64(cap, 2);
	if (cap > s->p.max_delay_ns)
		cap = s->p.max_delay_ns;
	int64_t d = cap > 0 ? (int64_t)(next_rand(&s->rng) % ((uint64_t)cap + 1)) : 0;
	if (hint_ns > d)
		d = hint_ns < s->p.max_delay_ns ? hint_ns : s->p.max_delay_ns;
	if (sat_add_i64(now_ns, d) > sat_add_i64(s->start_ns, s->p.budget_ns))
		return -1;
	s->attempts++;
	return d;
}

int64_t retry_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void retry_sleep(int64_t ns)
{
	if (ns <= 0)
		return;
	struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
	/* a signal that asks to stop ends the wait: the caller then gives up */
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !interrupt_pending())
		;
}
