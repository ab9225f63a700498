/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the two SMART targets do with a reading that parsed: judge it with
 * every rule (disks_evaluate, with a previous reading of each counter made
 * up from the input, so the growth rules run too) and list its counters,
 * as `dvalin disks` does.
 */
#ifndef DV_TEST_FUZZ_SMART_H
#define DV_TEST_FUZZ_SMART_H

#include "fuzz.h"

#include "base/err.h"
#include "disks/disks.h"
#include "disks/smart.h"

struct prev_ctx {
	const uint8_t *p;
	size_t n;
};

static int prev_counter(void *ud, const char *key, uint64_t *out)
{
	struct prev_ctx *c = ud;
	uint64_t h = 14695981039346656037ull;
	for (const char *k = key; *k; k++)
		h = (h ^ (uint8_t)*k) * 1099511628211ull;
	if (c->n == 0 || (h & 3) == 0)
		return 0; /* not known */
	/* a previous value: small, equal-ish, or huge */
	uint8_t b = c->p[h % c->n];
	*out = (h & 3) == 1 ? b : (h & 3) == 2 ? (uint64_t)b << 40 : UINT64_MAX - b;
	return 1;
}

static int count_counter(void *ud, const char *key, uint64_t val)
{
	(void)val;
	FUZZ_CHECK(key && key[0]);
	(*(size_t *)ud)++;
	return 0;
}

static void fuzz_smart_judge(const smart_reading *r, const uint8_t *p, size_t n)
{
	struct prev_ctx c = { p, n };
	disk_report rep;
	size_t nc = 0;
	memset(&rep, 0, sizeof(rep));
	if (disks_evaluate(r, prev_counter, &c, &rep) == 0) {
		FUZZ_CHECK(rep.verdict == SEV_OK || rep.verdict == SEV_WARNING ||
			   rep.verdict == SEV_FAILING);
		const disk_finding *w = disks_worst(&rep);
		FUZZ_CHECK(rep.verdict == SEV_OK || w != NULL);
	}
	disk_report_release(&rep);
	(void)disks_counters(r, count_counter, &nc);
	for (size_t i = 0; i < r->nattrs; i++)
		(void)smart_attr_count(&r->attrs[i]);
}

#endif
