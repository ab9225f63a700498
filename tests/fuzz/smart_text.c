/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the text of `smartctl -a` (old saved reports, smartctl
 * 5.x to 7.x), parsed and judged like smartctl's JSON.
 */
#include "smart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	smart_reading r;
	if (smart_parse_text(&r, (const char *)data, size) == 0) {
		fuzz_smart_judge(&r, data, size);
		smart_reading_release(&r);
	}
	err_clear();
	return 0;
}
