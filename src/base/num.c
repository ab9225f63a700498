/* SPDX-License-Identifier: BSD-2-Clause */
#include "num.h"

#include <errno.h>
#include <math.h>

/* 2^64 and 2^63 are exact in a double; every double in range converts. */
#define TWO64 18446744073709551616.0
#define TWO63 9223372036854775808.0

int num_u64_of_double(double d, uint64_t *out)
{
	if (isnan(d) || d < 0)
		return -EINVAL;
	if (d >= TWO64) { /* +inf too */
		*out = UINT64_MAX;
		return 0;
	}
	uint64_t v = (uint64_t)d; /* defined: 0 <= d < 2^64 */
	if ((double)v != d)
		return -EINVAL; /* a fraction is not a count */
	*out = v;
	return 0;
}

int num_i64_of_double(double d, int64_t *out)
{
	if (isnan(d))
		return -EINVAL;
	if (d >= TWO63 || d < -TWO63) {
		*out = d > 0 ? INT64_MAX : INT64_MIN;
		return 0;
	}
	int64_t v = (int64_t)d; /* defined: -2^63 <= d < 2^63 */
	if ((double)v != d)
		return -EINVAL;
	*out = v;
	return 0;
}

int num_parse_u64(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned digit = (unsigned)(*p - '0');
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, digit, &v))
			v = UINT64_MAX; /* saturated: stays there */
	}
	*out = v;
	if (end)
		*end = p;
	return 0;
}
