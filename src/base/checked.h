/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * checked: arithmetic that cannot overflow.
 *
 * checked_add/checked_mul report overflow (-EOVERFLOW) for sizes that must
 * be exact before an allocation.  The sat_* functions saturate instead,
 * for times and counters where the nearest representable value is the
 * right answer: a time "skew before the beginning of time" is still the
 * beginning of time (INT64_MIN), never a wrapped value in the far future.
 * Comparisons on saturated times stay monotonic, which is what the lease
 * and gc rules (docs/concurrency.md) need.
 */
#ifndef DV_BASE_CHECKED_H
#define DV_BASE_CHECKED_H

#include <errno.h>
#include <stdint.h>

/* Overflow-checked size arithmetic: return -EOVERFLOW on overflow. */
#define checked_add(out, a, b) (__builtin_add_overflow((a), (b), (out)) ? -EOVERFLOW : 0)
#define checked_mul(out, a, b) (__builtin_mul_overflow((a), (b), (out)) ? -EOVERFLOW : 0)

static inline int64_t sat_add_i64(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static inline int64_t sat_sub_i64(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return b < 0 ? INT64_MAX : INT64_MIN;
	return r;
}

static inline int64_t sat_mul_i64(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_mul_overflow(a, b, &r))
		return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
	return r;
}

static inline uint64_t sat_add_u64(uint64_t a, uint64_t b)
{
	uint64_t r;
	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static inline uint64_t sat_mul_u64(uint64_t a, uint64_t b)
{
	uint64_t r;
	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* a - b, or 0 when b > a. */
static inline uint64_t sat_sub_u64(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

#endif
