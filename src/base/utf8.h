/* SPDX-License-Identifier: BSD-2-Clause */
/* utf8: validating UTF-8 (RFC 3629: no overlong forms, no surrogates). */
#ifndef DV_BASE_UTF8_H
#define DV_BASE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * The length of the valid UTF-8 sequence at p (n > 0 bytes left), 1 for
 * ASCII, or 0 when the bytes there are not UTF-8.  With cp non-NULL, the
 * code point is stored there.
 */
size_t utf8_len(const uint8_t *p, size_t n, uint32_t *cp);

#endif
