/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz: what the fuzz targets share (README.md in this folder says how a
 * target is built and added).
 *
 * A target is one file that defines LLVMFuzzerTestOneInput().  Linked
 * with clang's -fsanitize=fuzzer it is a libFuzzer binary (`make fuzz`);
 * linked with replay.c (gcc, ASan/UBSan) it is a plain program that feeds
 * it every file of its corpus and crash folders (`make test`).  So a
 * target must be deterministic, keep no state between inputs beyond
 * caches set up once, free what it allocates, and never print on success.
 *
 * FUZZ_CHECK states an invariant the code under test must keep (a
 * round-trip, a lookup that must find what was validated): a violation
 * aborts, which both builds report as a failure of that input.
 */
#ifndef DV_TEST_FUZZ_H
#define DV_TEST_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "core/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                  \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__,   \
				__LINE__, #cond);                                         \
			abort();                                                          \
		}                                                                         \
	} while (0)

/* The passphrase of the key files in the key target's corpus. */
#define FUZZ_PASSPHRASE "dvalin-fuzz"

/*
 * The fixed master keys the snapshot and blob targets seal their inputs
 * with (tests/tools/fuzzseeds.c re-seals real objects with them), so a
 * mutated input reaches the decoder behind the authentication.
 */
static inline void fuzz_keys(crypto_keys *k)
{
	uint8_t seed[32];
	memset(seed, 0x5a, sizeof(seed));
	crypto_derive((uint8_t *)k, sizeof(*k), seed, "dvalin-fuzz-keys");
}

/*
 * The additional data of a sealed blob (docs/format.md): "dvblob1" | u8
 * type | id | the child id region (trees).  The blob target seals inner
 * plaintexts with it; tests/tools/fuzzseeds.c opens real ones with it.
 */
static inline int fuzz_blob_aad(buf *aad, int type, const uint8_t id[32], const uint8_t *region,
				size_t rlen)
{
	aad->len = 0;
	int r = buf_append(aad, "dvblob1", 7);
	r = r ?: buf_put_u8(aad, (uint8_t)type);
	r = r ?: buf_append(aad, id, 32);
	return r ?: buf_append(aad, region, rlen);
}

#endif
