/* SPDX-License-Identifier: BSD-2-Clause */
#include "relied.h"
#include "gcrec.h"
#include "gcrule.h"
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

/* A condemnation record that threatens a relied-on pack. */
static int check_records(const relied *r, backend *be, int64_t from_ns, int64_t skew_ns,
			 const char *who)
{
	gc_record *v = NULL;
	size_t n = 0;
	/* damaged records are skipped: their packs are condemned again, with
	 * a later time, as unindexed packs (docs/concurrency.md) */
	int rc = gc_records_load(be, &v, &n, NULL);
	if (rc < 0)
		return err_set(rc, "cannot read the condemned-pack records to check this %s's packs: %s",
			       who, err_msg(rc));
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!gcrule_record_ripe_for(v[i].time_ns, from_ns, skew_ns))
			continue; /* this process's lease holds it back */
		for (size_t k = 0; k < v[i].npacks; k++) {
			if (!idmap_get(&r->packs, v[i].packs[k]))
				continue;
			char hex[65];
			hex_encode(hex, v[i].packs[k], 32);
			rc = err_set(-ESTALE, "pack '%s' that this %s uses was condemned by a prune that did not count its lease ('%s'); it may be deleted at any moment",
				     hex, who, v[i].name);
			break;
		}
	}
	gc_records_free(v, n);
	return rc;
}

int relied_check(const relied *r, backend *be, int64_t from_ns, int64_t skew_ns, const char *who)
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
	return check_records(r, be, from_ns, skew_ns, who);
}
