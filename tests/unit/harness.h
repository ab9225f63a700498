/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * harness: a tiny unit-test runner.  TEST(name) defines and registers a
 * test; CHECK(cond) records a failure with file and line and goes on;
 * REQUIRE(cond) stops the test.  main() runs every test (or those whose
 * name contains argv[1]) and prints "N passed, N failed".
 */
#ifndef DV_TEST_HARNESS_H
#define DV_TEST_HARNESS_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void (*test_fn)(void);
struct test_case {
	const char *name;
	test_fn fn;
};

static struct test_case tests_[256];
static int ntests_, failed_checks_;

#define TEST(name)                                                        \
	static void name(void);                                           \
	__attribute__((constructor)) static void register_##name(void)    \
	{                                                                 \
		tests_[ntests_++] = (struct test_case){ #name, name };    \
	}                                                                 \
	static void name(void)

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			if (failed_checks_ < 20)                                 \
				fprintf(stderr, "  %s:%d: check failed: %s\n",  \
					__FILE__, __LINE__, #cond);              \
			failed_checks_++;                                        \
		}                                                                \
	} while (0)

#define REQUIRE(cond)                                                            \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "  %s:%d: requirement failed: %s\n",     \
				__FILE__, __LINE__, #cond);                      \
			failed_checks_++;                                        \
			return;                                                  \
		}                                                                \
	} while (0)

/* Deterministic test data: xorshift64*. */
static inline uint64_t test_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/* Seconds since the epoch of a UTC date and hour. */
static inline int64_t test_utc(int y, int mo, int d, int h)
{
	struct tm tm = { 0 };
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	return (int64_t)timegm(&tm);
}

static inline void test_fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t s = seed | 1;
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(test_rand(&s) >> 56);
}

/* Runs the tests whose name contains filter (NULL: all); adds to the counts. */
static inline void harness_run(const char *filter, int *passed, int *failed)
{
	for (int i = 0; i < ntests_; i++) {
		if (filter && !strstr(tests_[i].name, filter))
			continue;
		int before = failed_checks_;
		tests_[i].fn();
		if (failed_checks_ == before) {
			(*passed)++;
			printf("ok   %s\n", tests_[i].name);
		} else {
			(*failed)++;
			printf("FAIL %s\n", tests_[i].name);
		}
		fflush(stdout);
	}
}

/* A test program with arguments of its own defines HARNESS_OWN_MAIN. */
#ifndef HARNESS_OWN_MAIN
int main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	harness_run(argc > 1 ? argv[1] : NULL, &passed, &failed);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
#endif

#endif
