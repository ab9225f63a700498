/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: a key file, opened with the passphrase of the corpus's key
 * files.  The scrypt parameters come from the file's header before
 * anything is authenticated, so the harness clamps the cost: an input
 * whose parameters would run scrypt with N * r * p above 2^14 (a few
 * milliseconds) is not decoded.  Parameters scrypt refuses (log2 N
 * outside 10..22, r outside 1..32, p outside 1..16) cost nothing and are
 * always decoded, so the refusal itself stays under test; the cap a
 * repository enforces is the library's business, this clamp only keeps
 * one input from taking seconds.  A key file that opens must open again
 * after key_encode() with the same passphrase (at the lowest cost).
 */
#include "fuzz.h"

#include "base/buf.h"
#include "base/err.h"
#include "repo/format.h"
#include "repo/key.h"

static int too_costly(const uint8_t *p, size_t n)
{
	if (n < KEY_HEADER_LEN)
		return 0;
	unsigned log_n = p[13], r = p[14], par = p[15];
	if (log_n < 10 || log_n > 22 || r < 1 || r > 32 || par < 1 || par > 16)
		return 0; /* refused before any work */
	return ((uint64_t)1 << log_n) * r * par > ((uint64_t)1 << 14);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	crypto_keys k, k2;
	if (too_costly(data, size))
		return 0;
	if (key_decode(&k, data, size, FUZZ_PASSPHRASE) == 0) {
		buf out = BUF_INIT;
		key_params kp = { 10, 8, 1 };
		FUZZ_CHECK(key_encode(&out, &k, FUZZ_PASSPHRASE, &kp) == 0);
		FUZZ_CHECK(key_decode(&k2, out.data, out.len, FUZZ_PASSPHRASE) == 0);
		FUZZ_CHECK(memcmp(&k, &k2, sizeof(k)) == 0);
		FUZZ_CHECK(key_decode(&k2, out.data, out.len, "not " FUZZ_PASSPHRASE) == -DV_EBADKEY);
		buf_release(&out);
	}
	err_clear();
	return 0;
}
