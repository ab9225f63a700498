/* SPDX-License-Identifier: BSD-2-Clause */
/* hex: lower-case hex encoding of ids. */
#ifndef DV_BASE_HEX_H
#define DV_BASE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*n hex digits and a NUL to out (size >= 2*n+1). */
void hex_encode(char *out, const uint8_t *in, size_t n);
/* The value of one hex digit (either case), or -1. */
int hex_digit_value(char c);
/* Decodes exactly 2*n hex digits; returns 0 or -EINVAL. */
int hex_decode(uint8_t *out, const char *in, size_t n);
/* True when s is a non-empty string of hex digits of at most max chars. */
int hex_is_prefix(const char *s, size_t max);

#endif
