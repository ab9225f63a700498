/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * num: untrusted numbers (JSON, command output) into integers without
 * undefined behaviour.  Converting a double that is NaN or out of range to
 * an integer is undefined in C (on x86 a huge count became 0 and NaN
 * 2^63), so doubles are checked first: out-of-range values saturate,
 * values that are not numbers at all are refused with -EINVAL.
 */
#ifndef DV_BASE_NUM_H
#define DV_BASE_NUM_H

#include <stdint.h>

/* d as a count: NaN, negative or fractional: -EINVAL; >= 2^64: UINT64_MAX. */
int num_u64_of_double(double d, uint64_t *out);
/* d as an integer: NaN or fractional: -EINVAL; beyond int64: saturated. */
int num_i64_of_double(double d, int64_t *out);
/*
 * Decimal digits at the start of s (at least one; no sign, no spaces) into
 * *out, saturating at UINT64_MAX; *end points after them.  -EINVAL when s
 * does not start with a digit.
 */
int num_parse_u64(const char *s, const char **end, uint64_t *out);
/* v clamped into [lo, hi]. */
static inline int num_clamp_int(int64_t v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : (int)v;
}

#endif
