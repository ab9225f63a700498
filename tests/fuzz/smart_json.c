/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the output of `smartctl -x --json` (what a disk's firmware
 * and smartctl report is not trusted), and of `smartctl --scan-open
 * --json`, which is parsed from the same bytes.
 */
#include "smart.h"

static int scan_cb(void *ud, const char *name, const char *type)
{
	(void)ud;
	(void)type;
	FUZZ_CHECK(name != NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	smart_reading r;
	if (smart_parse_json(&r, (const char *)data, size) == 0) {
		fuzz_smart_judge(&r, data, size);
		smart_reading_release(&r);
	}
	(void)smart_parse_scan((const char *)data, size, scan_cb, NULL);
	err_clear();
	return 0;
}
