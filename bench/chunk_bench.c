/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * chunk_bench: the speed of dvalin's chunk boundary search per core, the
 * one primitive of a backup that `openssl speed` and `zstd -b` do not
 * measure.  CPU time over 256 MiB of random data, default chunk sizes:
 * the candidate scan that the seal threads run (chunker_scan) and the
 * serial search (chunker_cut).  Prints "scan GB/s" and "cut GB/s".
 */
#include "core/chunker.h"
#include "core/crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(void)
{
	uint8_t key[32] = { 1 };
	uint64_t gear[256];
	crypto_derive((uint8_t *)gear, sizeof(gear), key, "dvalin-gear-v1");
	chunker c;
	chunker_params p = CHUNKER_PARAMS_INIT;
	chunker_init(&c, &p, gear);
	size_t n = (size_t)256 << 20;
	uint8_t *b = malloc(n);
	chunker_cands cc = { malloc(65536 * sizeof(uint32_t)), 0, 65536, 0, n, 0 };
	if (!b || !cc.pos || crypto_random(b, n) < 0)
		return 1;
	double t = cpu();
	chunker_scan(&c, b, &cc);
	double scan = (double)n / (cpu() - t) / 1e9;
	t = cpu();
	size_t chunks = 0;
	for (size_t off = 0; off < n; chunks++)
		off += chunker_cut(&c, b + off, n - off);
	double cut = (double)n / (cpu() - t) / 1e9;
	printf("scan %.2f GB/s\ncut %.2f GB/s\nchunks %zu\n", scan, cut, chunks);
	free(b);
	free(cc.pos);
	return 0;
}
