/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * clock: the daemon's idea of "now", in microseconds since the epoch.
 *
 * Normally the real time.  For tests, two environment variables replace
 * it, so that a schedule of hours fires within seconds without sleeping
 * for hours:
 *
 *   DVALIN_TEST_TIME_START  seconds since the epoch the clock starts at
 *                           (default: the real time at start)
 *   DVALIN_TEST_TIME_SCALE  how many seconds pass per real second
 *                           (1..100000; default 1: at 100000
 *                           the clock lasts 1000 real days)
 *
 * Schedules, history times, ages and max-age all use this clock; timeouts
 * and the stop deadline use real (monotonic) time, since a child process
 * runs at the speed it runs.  clock_real_wait_ms() converts a wait on this
 * clock into real milliseconds for poll().
 */
#ifndef DV_DAEMON_CLOCK_H
#define DV_DAEMON_CLOCK_H

#include <stdint.h>

#define CLOCK_USEC ((int64_t)1000000)

/* Reads the environment once; 0, or -EINVAL naming the bad variable. */
int clock_init(void);
/* Now, on the daemon's clock (µs). */
int64_t clock_now(void);
/* Monotonic real time (µs), for timeouts. */
int64_t clock_mono(void);
/* Real milliseconds until the daemon's clock reaches when (0 if past; capped). */
int clock_real_wait_ms(int64_t when, int cap_ms);
/* The scale (1 unless a test set one). */
int64_t clock_scale(void);

#endif
