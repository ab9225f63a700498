/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: a whole snapshot file (header, sealed body), decoded with
 * the fixed fuzz keys; the corpus holds real snapshots re-sealed with
 * them.  Mutations mostly exercise the header checks and the refusal of
 * what fails authentication; snapshot_body reaches the body decoder.
 */
#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_snapshot_file(data, size);
	return 0;
}
