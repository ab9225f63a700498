/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the JSON of `zpool status -j` (OpenZFS 2.3 and later).
 * zpool_parse() takes JSON when a '{' starts a line before any "pool:";
 * inputs that would go the text way are left to zpool_text, so the
 * fuzzer's time here goes to the JSON reader.
 */
#include "zpool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *brace = memchr(data, '{', size);
	if (!brace || (brace != data && brace[-1] != '\n'))
		return 0;
	fuzz_zpool(data, size);
	return 0;
}
