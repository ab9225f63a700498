/* SPDX-License-Identifier: BSD-2-Clause */
#include "clock.h"
#include "../base/err.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

static int64_t scale = 1, start_fake = -1, start_real;

static int64_t real_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * CLOCK_USEC + ts.tv_nsec / 1000;
}

int64_t clock_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * CLOCK_USEC + ts.tv_nsec / 1000;
}

static int env_int(const char *name, long long lo, long long hi, int64_t *out)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return 0;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (*end || errno || n < lo || n > hi)
		return err_set(-EINVAL, "%s must be an integer %lld..%lld, not '%s'", name, lo, hi, v);
	*out = n;
	return 1;
}

int clock_init(void)
{
	int64_t s = 1, t = -1;
	int rc = env_int("DVALIN_TEST_TIME_SCALE", 1, 100000, &s);
	if (rc < 0)
		return rc;
	rc = env_int("DVALIN_TEST_TIME_START", 0, 7000000000LL, &t);
	if (rc < 0)
		return rc;
	scale = s;
	start_real = clock_mono();
	start_fake = rc == 1 ? t * CLOCK_USEC : (s == 1 ? -1 : real_now());
	return 0;
}

int64_t clock_now(void)
{
	if (start_fake < 0)
		return real_now();
	return start_fake + (clock_mono() - start_real) * scale;
}

int64_t clock_scale(void)
{
	return scale;
}

int clock_real_wait_ms(int64_t when, int cap_ms)
{
	int64_t d = when - clock_now();
	if (d <= 0)
		return 0;
	int64_t ms = d / scale / 1000 + 1;
	return ms > cap_ms ? cap_ms : (int)ms;
}
