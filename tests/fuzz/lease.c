/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: a lease file (locks/<hex>), plain text.  A lease that
 * parses is judged stale or live at several clock readings (prune does
 * this for every lease it lists), and must survive lease_format() ->
 * lease_parse() unchanged.
 */
#include "fuzz.h"

#include "base/err.h"
#include "repo/lease.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lease_info i, j;
	memset(&i, 0, sizeof(i));
	memset(&j, 0, sizeof(j));
	if (lease_parse(&i, (const char *)data, size) < 0) {
		/* what lease_list() does with a file that does not parse */
		i.damaged = 1;
		FUZZ_CHECK(lease_is_stale(&i, INT64_MAX) == 0);
		err_clear();
		return 0;
	}
	/* clock readings a host can have; the file's times are the hostile part */
	static const int64_t nows[] = { 0, 1700000000000000000, 4000000000000000000 };
	for (size_t k = 0; k < sizeof(nows) / sizeof(nows[0]); k++)
		(void)lease_is_stale(&i, nows[k]);
	char text[2048];
	int n = lease_format(text, sizeof(text), &i);
	FUZZ_CHECK(n > 0);
	/* (a value that is a NUL byte parses, as an empty string that the
	 * writer could not write back) */
	if (i.kind[0] && i.host[0]) {
		FUZZ_CHECK(lease_parse(&j, text, (size_t)n) == 0);
		FUZZ_CHECK(strcmp(i.kind, j.kind) == 0 && strcmp(i.host, j.host) == 0 && i.pid == j.pid &&
			   i.start_ns == j.start_ns && i.refresh_ns == j.refresh_ns);
	}
	err_clear();
	return 0;
}
