/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * checksum: XXH3-128 of stored bytes.  Not a security measure (the AEAD
 * tag is that); it lets anyone without the key detect bit rot in packs,
 * indexes and pack tables.
 */
#ifndef DV_CORE_CHECKSUM_H
#define DV_CORE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#define CHECKSUM_LEN 16

void checksum128(uint8_t out[CHECKSUM_LEN], const void *p, size_t n);

#endif
