/* SPDX-License-Identifier: BSD-2-Clause */
#include "relied.h"
#include "pack.h"
#include "../base/err.h"
#include "../base/hex.h"

#include <errno.h>
#include <string.h>

void relied_add(relied *r, const uint8_t pack[32])
{
	static const uint8_t unset[32];
	idmap_slot *s;
	/* a pack still being written has no id yet (the index gives zeros):
	 * it is noted when stored */
	if (memcmp(pack, unset, 32) == 0)
		return;
	if (idmap_put(&r->packs, pack, &s, NULL) < 0)
		r->incomplete = 1;
}

void relied_release(relied *r)
{
	idmap_release(&r->packs);
	r->incomplete = 0;
}

int relied_check(const relied *r, backend *be, const char *who)
{
	if (r->incomplete)
		return err_set(-ENOMEM, "out of memory noting the packs this %s uses: cannot check that they still exist", who);
	for (size_t i = 0; i < r->packs.cap; i++) {
		const idmap_slot *s = &r->packs.slots[i];
		if (!s->used)
			continue;
		char name[80];
		backend_stat_t st;
		pack_name(name, s->id);
		int rc = backend_stat(be, name, &st);
		if (rc == -ENOENT)
			return err_set(-ESTALE, "pack '%s' that this %s uses was deleted while this %s ran (a prune did not see its lease, or clocks differ by more than the skew allowance)",
				       name + 8, who, who);
		if (rc < 0)
			return err_set(rc, "cannot check pack '%s' that this %s uses: %s", name + 8, who,
				       err_msg(rc));
	}
	return 0;
}
