/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mktree: the benchmark's many-small-files workload, generated
 * deterministically (the same tree for the same arguments on every
 * machine): N files of 0-8 KiB in about N/333 directories, a few of them
 * nested deeply, contents from a seeded generator (half the files text
 * over a small alphabet, which compresses, half random bytes, which does
 * not), so no two files dedup by accident.
 *
 *   mktree DIR N [MAX]   create the tree (DIR must not exist); file sizes
 *                        0..MAX bytes (default 8192)
 *   mktree -t DIR N K    modify K files of it in place (seed K): a slightly
 *                        changed tree for the re-backup rows
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The directory path of directory d (0 is the top): most directories sit
 * two levels down, every 100th starts a chain 12 levels deep. */
static void dir_path(char *out, size_t cap, const char *top, uint64_t d)
{
	if (d % 100 == 99) {
		int n = snprintf(out, cap, "%s/deep%llu", top, (unsigned long long)d);
		for (int k = 0; k < 12 && n > 0 && (size_t)n < cap; k++)
			n += snprintf(out + n, cap - (size_t)n, "/level%d", k);
		return;
	}
	snprintf(out, cap, "%s/g%02llu/d%05llu", top, (unsigned long long)(d % 30),
		 (unsigned long long)d);
}

static int mkdirs(char *p)
{
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static void fill(uint8_t *b, size_t n, uint64_t seed)
{
	static const char alpha[] = "etaoin shrdlu\ncmfwyp";
	uint64_t s = mix(seed);
	int text = s & 1;
	for (size_t i = 0; i < n; i++) {
		if (i % 8 == 0)
			s = mix(s);
		uint8_t v = (uint8_t)(s >> (8 * (i % 8)));
		b[i] = text ? (uint8_t)alpha[v % 20] : v;
	}
}

static int write_file(const char *path, uint64_t seed, uint64_t size)
{
	uint8_t b[8192];
	fill(b, size, seed);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, b, size) != (ssize_t)size) {
		perror(path);
		return -1;
	}
	return close(fd);
}

int main(int argc, char **argv)
{
	int touch = argc > 1 && strcmp(argv[1], "-t") == 0;
	if (touch ? argc != 5 : argc != 3 && argc != 4) {
		fprintf(stderr, "usage: mktree DIR N [MAX] | mktree -t DIR N K\n");
		return 2;
	}
	uint64_t maxsize = !touch && argc == 4 ? strtoull(argv[3], NULL, 10) : 8192;
	if (maxsize > 8192)
		maxsize = 8192;
	const char *top = argv[1 + touch];
	uint64_t n = strtoull(argv[2 + touch], NULL, 10);
	uint64_t ndirs = n / 333 + 1;
	char dir[4096], path[4200];
	if (touch) {
		uint64_t k = strtoull(argv[4], NULL, 10);
		for (uint64_t j = 0; j < k; j++) {
			uint64_t i = mix(j ^ (k << 32)) % n;
			dir_path(dir, sizeof(dir), top, i % ndirs);
			snprintf(path, sizeof(path), "%s/f%07llu", dir, (unsigned long long)i);
			if (write_file(path, mix(i) ^ k, mix(i + k) % 8193) < 0)
				return 1;
		}
		return 0;
	}
	if (mkdir(top, 0755) < 0) {
		perror(top);
		return 1;
	}
	for (uint64_t d = 0; d < ndirs; d++) {
		dir_path(dir, sizeof(dir), top, d);
		if (mkdirs(dir) < 0) {
			perror(dir);
			return 1;
		}
	}
	for (uint64_t i = 0; i < n; i++) {
		dir_path(dir, sizeof(dir), top, i % ndirs);
		snprintf(path, sizeof(path), "%s/f%07llu", dir, (unsigned long long)i);
		if (write_file(path, mix(i), mix(i) % (maxsize + 1)) < 0)
			return 1;
	}
	return 0;
}
