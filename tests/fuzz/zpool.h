/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the two zpool targets do with parsed `zpool status` output: apply
 * every pool rule, with the same bytes standing in for `zdb -C` too, at a
 * fixed time, as `dvalin zpool-check` does; every row must have a depth
 * and section in range.
 */
#ifndef DV_TEST_FUZZ_ZPOOL_H
#define DV_TEST_FUZZ_ZPOOL_H

#include "fuzz.h"

#include "base/err.h"
#include "disks/zpool.h"

static void fuzz_zpool(const uint8_t *data, size_t size)
{
	zpool_status s;
	char *zdb = malloc(size + 1);
	if (!zdb)
		return;
	memcpy(zdb, data, size);
	zdb[size] = 0;
	if (zpool_parse(&s, (const char *)data, size) == 0) {
		for (size_t i = 0; i < s.n; i++)
			for (size_t k = 0; k < s.v[i].nrows; k++)
				FUZZ_CHECK(s.v[i].rows[k].depth >= 0 && s.v[i].rows[k].section >= 0 &&
					   s.v[i].rows[k].section <= 5);
		(void)zpool_evaluate(&s, zdb, 1700000000);
		zpool_status_release(&s);
	}
	free(zdb);
	err_clear();
}

#endif
