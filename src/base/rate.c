/* SPDX-License-Identifier: BSD-2-Clause */
#include "rate.h"
#include "checked.h"
#include "num.h"

#include <errno.h>
#include <string.h>
#include <time.h>

int64_t rate_delay_ns(rate_state *s, int64_t now_ns, uint64_t n)
{
	if (s->bytes_per_s == 0)
		return 0;
	int64_t floor = sat_sub_i64(now_ns, RATE_BURST_NS);
	if (!s->started || s->clock_ns < floor)
		s->clock_ns = floor;
	s->started = 1;
	/* n / rate seconds, in nanoseconds, without overflowing: whole seconds first */
	uint64_t secs = n / s->bytes_per_s, rest = n % s->bytes_per_s;
	uint64_t ns = sat_add_u64(sat_mul_u64(secs, 1000000000u),
				  (uint64_t)((double)rest * 1e9 / (double)s->bytes_per_s));
	s->clock_ns = sat_add_i64(s->clock_ns, ns > INT64_MAX ? INT64_MAX : (int64_t)ns);
	int64_t ahead = sat_sub_i64(s->clock_ns, now_ns);
	return ahead > 0 ? ahead : 0;
}

void rate_init(rate_limit *r, uint64_t bytes_per_s)
{
	pthread_mutex_init(&r->lock, NULL);
	r->s.bytes_per_s = bytes_per_s;
	r->s.clock_ns = 0;
	r->s.started = 0;
}

void rate_release(rate_limit *r)
{
	pthread_mutex_destroy(&r->lock);
}

void rate_take(rate_limit *r, uint64_t n)
{
	if (!r || r->s.bytes_per_s == 0)
		return;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	int64_t now = sat_add_i64(sat_mul_i64(t.tv_sec, 1000000000), t.tv_nsec);
	pthread_mutex_lock(&r->lock);
	int64_t wait = rate_delay_ns(&r->s, now, n);
	pthread_mutex_unlock(&r->lock);
	if (wait > 0) {
		struct timespec d = { (time_t)(wait / 1000000000), (long)(wait % 1000000000) };
		while (nanosleep(&d, &d) < 0 && errno == EINTR)
			;
	}
}

int rate_parse(const char *s, uint64_t *out)
{
	const char *end;
	uint64_t v;
	if (num_parse_u64(s, &end, &v) < 0)
		return -EINVAL;
	uint64_t mul = 1;
	switch (*end) {
	case 'k': case 'K': mul = 1024; end++; break;
	case 'm': case 'M': mul = 1024 * 1024; end++; break;
	case 'g': case 'G': mul = 1024 * 1024 * 1024; end++; break;
	default: break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (strcmp(end, "/s") == 0)
		end += 2;
	if (*end || v == 0 || v > UINT64_MAX / mul)
		return -EINVAL;
	*out = v * mul;
	return 0;
}
