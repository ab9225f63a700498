/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the plaintext body of a snapshot (its tag-length-value
 * fields).  The harness seals it under a fixed header with the fixed fuzz
 * keys, as someone holding a repository's key could, so every input
 * reaches the field decoder.
 */
#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	crypto_keys k;
	uint8_t *file = malloc(SNAPSHOT_HEADER_LEN + size + CRYPTO_OVERHEAD);
	if (!file)
		return 0;
	fuzz_keys(&k);
	memset(file, 0, SNAPSHOT_HEADER_LEN);
	memcpy(file, SNAPSHOT_MAGIC, MAGIC_LEN);
	le32_put(file + 8, FORMAT_VERSION);
	memset(file + 16, 0xab, 32); /* the root tree id */
	if (crypto_seal(file + SNAPSHOT_HEADER_LEN, k.enc, file, SNAPSHOT_HEADER_LEN, data, size) == 0)
		fuzz_snapshot_file(file, SNAPSHOT_HEADER_LEN + size + CRYPTO_OVERHEAD);
	free(file);
	return 0;
}
