/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rate: a limit on bytes per second shared by threads (sync --limit-rate).
 *
 * The limiter keeps a virtual clock, the time at which the bytes taken so
 * far are paid for at the rate.  Taking n bytes moves it on by n / rate;
 * the taker sleeps until the clock is no longer ahead of now.  A clock
 * that fell behind (the start, an idle spell) is brought up to now less
 * the burst, so idling saves at most one burst of credit.  rate_delay_ns()
 * is the pure rule, for tests; rate_take() locks, asks it and sleeps.
 * Times are saturating: no rate or size makes them wrap.
 */
#ifndef DV_BASE_RATE_H
#define DV_BASE_RATE_H

#include <pthread.h>
#include <stdint.h>

#define RATE_BURST_NS 250000000 /* a quarter of a second of credit */

typedef struct {
	uint64_t bytes_per_s; /* 0: no limit */
	int64_t clock_ns;     /* the virtual clock */
	int started;          /* clock_ns is set */
} rate_state;

/*
 * The rule: takes n bytes at now (nanoseconds, any monotonic origin) and
 * returns how long to wait before going on (0: at once).
 */
int64_t rate_delay_ns(rate_state *s, int64_t now_ns, uint64_t n);

typedef struct {
	pthread_mutex_t lock;
	rate_state s;
} rate_limit;

void rate_init(rate_limit *r, uint64_t bytes_per_s);
void rate_release(rate_limit *r);
/* Waits as long as the limit says for n bytes (any thread; NULL: no limit). */
void rate_take(rate_limit *r, uint64_t n);
/*
 * "20M", "500K", "1G", "123" (bytes per second; K, M, G are 1024, 1024^2,
 * 1024^3; a trailing "/s" or "B" is allowed) into *out, at least 1.
 */
int rate_parse(const char *s, uint64_t *out);

#endif
