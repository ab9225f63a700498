/* SPDX-License-Identifier: BSD-2-Clause */
#include "checksum.h"
#include "../base/buf.h"

#include <xxhash.h>

void checksum128(uint8_t out[CHECKSUM_LEN], const void *p, size_t n)
{
	XXH128_hash_t h = XXH3_128bits(p, n);
	le64_put(out, h.low64);
	le64_put(out + 8, h.high64);
}
