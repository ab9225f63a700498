/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ratelimit: failed authentications per client address.  After
 * RATELIMIT_FAILS failures within one RATELIMIT_WINDOW_S window an
 * address is refused (429) until the window ends, whatever it sends, so
 * guessing tokens costs a minute per ten guesses.  The table holds
 * RATELIMIT_SLOTS addresses; when full, the oldest window is reused,
 * so memory stays bounded however many addresses try.
 *
 * Threads: one mutex; any thread may call.
 */
#ifndef DV_SERVER_RATELIMIT_H
#define DV_SERVER_RATELIMIT_H

#include <pthread.h>
#include <stdint.h>

#define RATELIMIT_FAILS 10
#define RATELIMIT_WINDOW_S 60
#define RATELIMIT_SLOTS 1024

typedef struct {
	char addr[64];
	int64_t start; /* the window's first failure, seconds */
	unsigned fails;
} ratelimit_slot;

typedef struct {
	pthread_mutex_t lock;
	ratelimit_slot slot[RATELIMIT_SLOTS];
} ratelimit;

void ratelimit_init(ratelimit *r);
void ratelimit_release(ratelimit *r);
/* Seconds until addr may try again (> 0), or 0 if it may now. */
int64_t ratelimit_wait(ratelimit *r, const char *addr, int64_t now);
/* Counts a failed authentication from addr. */
void ratelimit_fail(ratelimit *r, const char *addr, int64_t now);

#endif
