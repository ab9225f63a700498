/* SPDX-License-Identifier: BSD-2-Clause */
#include "relied.h"
#include "gcrec.h"
#include "pack.h"
#include "../base/err.h"
#include "../base/hex.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* A relied-on pack's value: sealed by this process (relied_add_sealed). */
#define SEALED 1

static void note(relied *r, const uint8_t pack[32], int sealed)
{
	static const uint8_t unset[32];
	idmap_slot *s;
	/* a pack still being written has no id yet (the index gives zeros):
	 * it is noted when stored */
	if (memcmp(pack, unset, 32) == 0)
		return;
	if (idmap_put(&r->packs, pack, &s, NULL) < 0)
		r->incomplete = 1;
	else if (sealed)
		s->val = SEALED; /* a later deduplication against it changes nothing */
}

void relied_add(relied *r, const uint8_t pack[32])
{
	note(r, pack, 0);
}

void relied_add_sealed(relied *r, const uint8_t pack[32])
{
	note(r, pack, 1);
}

/* 1 when every relied-on pack was sealed by this process. */
static int all_sealed(const relied *r)
{
	for (size_t i = 0; i < r->packs.cap; i++)
		if (r->packs.slots[i].used && r->packs.slots[i].val != SEALED)
			return 0;
	return 1;
}

void relied_release(relied *r)
{
	idmap_release(&r->packs);
	r->incomplete = 0;
}

/* Names a listing of data/ costs, per request (S3 and the like). */
#define LIST_PAGE 1000

struct listed {
	const idmap *want;
	idmap found;
};

static int note_listed(void *ud, const backend_entry *e)
{
	struct listed *l = ud;
	const char *base = strrchr(e->name, '/');
	uint8_t id[32];
	idmap_slot *s;
	if (!base || strlen(base + 1) != 64 || hex_decode(id, base + 1, 32) < 0 ||
	    !idmap_get(l->want, id))
		return 0;
	return idmap_put(&l->found, id, &s, NULL);
}

/*
 * A relied-on pack the deletion notice names: a prune that read the index
 * before ours existed may delete it after we looked (docs/concurrency.md,
 * "Deleting").  Read before the packs are looked at: a notice removed
 * since was removed after its deletions, which the look then finds.
 */
static int check_notice(const relied *r, backend *be, const char *who)
{
	if (all_sealed(r))
		return 0; /* relied_add_sealed says why: on S3 a GET each check */
	idmap deleting = IDMAP_INIT;
	int rc = gc_notice_load(be, &deleting);
	if (rc < 0) {
		idmap_release(&deleting);
		return err_set(rc, "cannot tell whether a prune is deleting the packs this %s uses: %s", who,
			       err_msg(rc));
	}
	for (size_t i = 0; deleting.n && i < r->packs.cap; i++) {
		const idmap_slot *s = &r->packs.slots[i];
		if (!s->used || !idmap_get(&deleting, s->id))
			continue;
		char name[80];
		pack_name(name, s->id);
		rc = err_set(-ESTALE, "pack '%s' that this %s uses is being deleted by a prune that condemned it (it was stored or indexed again after that prune read the index)",
			     name + 8, who);
		break;
	}
	idmap_release(&deleting);
	return rc;
}

int relied_notice_names(const relied *r, backend *be)
{
	int rc = check_notice(r, be, "writer");
	return rc == -ESTALE ? 1 : rc;
}

int relied_check(const relied *r, backend *be, const char *who, uint64_t packs_max)
{
	return relied_check_noting(r, be, who, packs_max, NULL);
}

int relied_check_noting(const relied *r, backend *be, const char *who, uint64_t packs_max,
			idmap *gone)
{
	if (r->incomplete)
		return err_set(-ENOMEM, "out of memory noting the packs this %s uses: cannot check that they still exist", who);
	int notice = check_notice(r, be, who);
	if (notice < 0 && (notice != -ESTALE || !gone))
		return notice;
	struct listed l = { &r->packs, IDMAP_INIT };
	int listing = (be->flags & BACKEND_REMOTE) && packs_max / LIST_PAGE + 1 < r->packs.n;
	if (listing) {
		int rc = backend_list(be, "data", note_listed, &l);
		if (rc < 0) {
			idmap_release(&l.found);
			return err_set(rc, "cannot check the packs this %s uses: %s", who, err_msg(rc));
		}
	}
	int first = notice;
	char msg[512] = ""; /* the first failure's: the looks below record their own */
	if (first < 0)
		snprintf(msg, sizeof(msg), "%s", err_msg(first));
	for (size_t i = 0; i < r->packs.cap; i++) {
		const idmap_slot *s = &r->packs.slots[i];
		if (!s->used)
			continue;
		char name[80];
		backend_stat_t st;
		pack_name(name, s->id);
		int rc = listing ? (idmap_get(&l.found, s->id) ? 0 : -ENOENT) : backend_stat(be, name, &st);
		if (rc == -ENOENT) {
			/* every deleted pack is noted; the message names the first */
			idmap_slot *d;
			if (gone && idmap_put(gone, s->id, &d, NULL) < 0) {
				first = err_set(-ENOMEM, "out of memory noting the deleted packs");
				snprintf(msg, sizeof(msg), "%s", err_msg(first));
				break;
			}
			if (first == 0) {
				first = err_set(-ESTALE, "pack '%s' that this %s uses was deleted while this %s ran (a prune did not see its lease, or clocks differ by more than the skew allowance)",
						name + 8, who, who);
				snprintf(msg, sizeof(msg), "%s", err_msg(first));
			}
			if (!gone)
				break;
			continue;
		}
		if (rc < 0) {
			idmap_release(&l.found);
			return err_set(rc, "cannot check pack '%s' that this %s uses: %s", name + 8, who,
				       err_msg(rc));
		}
	}
	idmap_release(&l.found);
	return first < 0 ? err_set(first, "%s", msg) : 0;
}
