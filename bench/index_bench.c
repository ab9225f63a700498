/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * index_bench: lookups per second in an index of N blobs (default 10
 * million) and the memory it takes.  The index is a real index file,
 * written and read through a backend, searched through mmap.
 *
 *   index_bench [N] [URL] [FILES]
 *
 * With FILES > 1 the N blobs are spread over that many index files, as
 * the backups between two prunes leave them, to show what a lookup costs
 * as index files accumulate.
 *
 * URL is a directory (the default, build/index-bench) or any backend
 * URL: mem:x shows that the index stays out of the heap on a backend
 * that returns no file mappings (the file is copied to a local file and
 * mapped from there).  RssAnon is the heap the index costs; RssFile is
 * mapped page cache the kernel can drop at any time.
 */
#include "backend/backend.h"
#include "base/buf.h"
#include "base/err.h"
#include "repo/index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static void make_id(uint8_t id[32], uint64_t *s)
{
	for (int k = 0; k < 4; k++) {
		uint64_t v = rnd(s);
		memcpy(id + 8 * k, &v, 8);
	}
}

static long status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			v = atol(line + strlen(key) + 1);
	if (f)
		fclose(f);
	return v;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
	const char *dir = argc > 2 ? argv[2] : "build/index-bench";
	size_t nfiles = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
	if (nfiles < 1 || nfiles > 4096 || nfiles > n)
		nfiles = 1;
	backend *be;
	int rc = backend_open(dir, BACKEND_OPEN_CREATE, &be);
	if (rc < 0) {
		fprintf(stderr, "index_bench: %s\n", err_msg(rc));
		return 1;
	}
	/* build and store the index file */
	index_entry *e = calloc(n, sizeof(*e));
	uint8_t packs[1][32] = { { 1 } };
	uint64_t seed = 42;
	if (!e)
		return 1;
	for (size_t i = 0; i < n; i++) {
		make_id(e[i].id, &seed);
		e[i].offset = (uint32_t)i;
		e[i].stored_len = e[i].raw_len = 1000;
		e[i].type = 1;
	}
	buf file = BUF_INIT;
	double t0 = now();
	size_t file_len = 0;
	for (size_t f = 0; f < nfiles; f++) {
		size_t lo = n * f / nfiles, hi = n * (f + 1) / nfiles;
		char name[64];
		snprintf(name, sizeof(name), "index/bench%zu", f);
		if ((rc = index_encode(&file, e + lo, hi - lo, (const uint8_t(*)[32])packs, 1)) < 0 ||
		    (rc = backend_put(be, name, BACKEND_META, file.data, file.len)) < 0) {
			fprintf(stderr, "index_bench: cannot write the index: %s\n", err_msg(rc));
			return 1;
		}
		file_len += file.len;
	}
	double t_write = now() - t0;
	buf_release(&file);
	free(e);

	long anon0 = status_kb("RssAnon:");
	index_set *s;
	t0 = now();
	if (index_set_new(&s) < 0 || (rc = index_set_load(s, be)) < 0) {
		fprintf(stderr, "index_bench: %s\n", err_msg(rc));
		return 1;
	}
	double t_load = now() - t0;

	/* hits in random order, then misses */
	seed = 42;
	size_t hits = 0, lookups = n;
	t0 = now();
	for (size_t i = 0; i < lookups; i++) {
		uint8_t id[32];
		index_loc loc;
		make_id(id, &seed);
		hits += index_set_lookup(s, id, &loc) == 0;
	}
	double t_hit = now() - t0;
	uint64_t miss_seed = 4242;
	size_t misses = 0;
	t0 = now();
	for (size_t i = 0; i < lookups / 10; i++) {
		uint8_t id[32];
		index_loc loc;
		make_id(id, &miss_seed);
		misses += index_set_lookup(s, id, &loc) != 0;
	}
	double t_miss = now() - t0;
	long anon1 = status_kb("RssAnon:"), filekb = status_kb("RssFile:");
	printf("index micro-benchmark: %zu blobs in %zu index file(s), %.0f MB (written in %.2f s, "
	       "opened and validated in %.2f s)\n", n, nfiles, (double)file_len / 1e6, t_write, t_load);
	printf("  lookups (hits, random order): %.2f million/s, %zu of %zu found\n",
	       (double)lookups / t_hit / 1e6, hits, lookups);
	printf("  lookups (misses): %.2f million/s, %zu of %zu missed\n",
	       (double)(lookups / 10) / t_miss / 1e6, misses, lookups / 10);
	printf("  heap for the index: %.1f bytes per blob (RssAnon +%ld KiB); "
	       "mapped page cache touched: %ld KiB (reclaimable)\n",
	       (double)(anon1 - anon0) * 1024 / (double)n, anon1 - anon0, filekb);
	index_set_free(s);
	for (size_t f = 0; f < nfiles; f++) {
		char name[64];
		snprintf(name, sizeof(name), "index/bench%zu", f);
		backend_remove(be, name);
	}
	backend_free(be);
	return hits == lookups && misses == lookups / 10 ? 0 : 1;
}
