/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the text of a paper key (`dvalin key import` reads what a
 * person typed).  One that reads must print back to a text that reads to
 * the same id and keys, and a rejected one must leave a one-line message.
 */
#include "fuzz.h"

#include "base/err.h"
#include "repo/paperkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t id[32], id2[32];
	crypto_keys k, k2;
	int rc = paperkey_decode((const char *)data, size, id, &k);
	if (rc == 0) {
		buf out = BUF_INIT;
		FUZZ_CHECK(paperkey_encode(&out, id, &k) == 0);
		FUZZ_CHECK(paperkey_decode((const char *)out.data, out.len, id2, &k2) == 0);
		FUZZ_CHECK(memcmp(id, id2, 32) == 0 && memcmp(&k, &k2, sizeof(k)) == 0);
		buf_release(&out);
	} else {
		FUZZ_CHECK(strchr(err_msg(rc), '\n') == NULL);
	}
	err_clear();
	return 0;
}
