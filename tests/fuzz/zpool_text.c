/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the text of `zpool status -P` (one or more pools).
 */
#include "zpool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_zpool(data, size);
	return 0;
}
