/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: what the repository server checks every upload with
 * (repo/layout.c, docs/http-api.md) and the metadata cache checks every
 * local copy with.  The input is a file name, a NUL, and the file's
 * bytes: an upload a hostile client could send.  Besides no crash: a name
 * the layout knows is a valid backend name; layout_check says "not in the
 * layout" exactly when layout_kind_of does; a file it accepts fits its
 * kind's size limit; and the verdict is the same the second time.
 */
#include <errno.h>

#include "fuzz.h"

#include "backend/backend.h"
#include "base/err.h"
#include "repo/layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size < 256 ? size : 256);
	if (!nul)
		return 0;
	const char *name = (const char *)data;
	const uint8_t *p = nul + 1;
	size_t n = size - (size_t)(p - data);
	layout_kind k;
	int known = layout_kind_of(name, &k) == 0;
	if (known)
		FUZZ_CHECK(backend_name_is_valid(name) == 1 && k < LAYOUT_KINDS);
	int rc = layout_check(name, p, n);
	FUZZ_CHECK((rc == -DV_ENOTFOUND) == !known);
	FUZZ_CHECK(rc == 0 || rc == -DV_ECORRUPT || rc == -DV_ENOTFOUND || rc == -ENOMEM);
	if (rc == 0)
		FUZZ_CHECK(n <= layout_max_size(k));
	FUZZ_CHECK(layout_check(name, p, n) == rc);
	err_clear();
	return 0;
}
