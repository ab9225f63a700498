/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * relied: the packs a writing process relies on, and the check that its
 * snapshot is committed only while they exist (docs/concurrency.md, "The
 * commit check").
 *
 * A backup relies on every pack holding a blob it deduplicated against
 * the index it read, a chunk it reused from its parent, or a blob it
 * stored itself.  The lease protocol keeps those packs from being deleted
 * while the backup runs.  This is the second line: before and after the
 * snapshot is written, every relied-on pack must still exist (no correct
 * prune deletes one while the lease is live; a prune that did not see the
 * lease, a clock out of the skew allowance, or a hand in the repository
 * can).
 *
 * Not thread-safe: the owner (repo) guards it with its lock.
 */
#ifndef DV_REPO_RELIED_H
#define DV_REPO_RELIED_H

#include <stdint.h>

#include "../backend/backend.h"
#include "../base/idmap.h"

typedef struct {
	idmap packs;
	int incomplete; /* a pack could not be noted (no memory): nothing is vouched for */
} relied;

#define RELIED_INIT { IDMAP_INIT, 0 }

/* Notes a pack (all zeros, the index's id of a pack not yet stored, is
 * ignored: its writer notes it when stored). */
void relied_add(relied *r, const uint8_t pack[32]);
/*
 * Notes a pack this process sealed itself: every blob in it freshly
 * encrypted (a new nonce each), so its name is new, and no correct prune
 * condemns it while the lease that is older than it lives.  The deletion
 * notice can name such a pack only by way of a prune that ignores the
 * lease, which the existence look is for: a check whose packs are all of
 * this kind does not read the notice (docs/concurrency.md, "Deleting").
 */
void relied_add_sealed(relied *r, const uint8_t pack[32]);
void relied_release(relied *r);

/*
 * 0 when every relied-on pack exists and the deletion notice (gcrec.h,
 * read first) names none of them.  Otherwise a negative code
 * (-ESTALE, -ENOMEM or the storage's error) with a message naming the
 * pack; who (e.g. "backup") goes into the message.  packs_max (what the
 * index names, at most) says what a listing of data/ would cost: on a
 * remote backend the check lists instead of asking for each pack when
 * that takes fewer requests (a page of 1,000 names against one request
 * per relied-on pack).
 */
int relied_check(const relied *r, backend *be, const char *who, uint64_t packs_max);
/*
 * relied_check, which also adds every relied-on pack that is deleted to
 * gone (may be NULL: relied_check).  Not those the deletion notice names
 * and that still exist: an index entry of such a pack is what keeps a
 * prune that has not read the index yet from deleting it under another
 * writer that relies on it (docs/concurrency.md, "The writer's index
 * files").
 */
int relied_check_noting(const relied *r, backend *be, const char *who, uint64_t packs_max,
			idmap *gone);
/*
 * 1 when the deletion notice names a relied-on pack, 0 when it names none
 * (or there is none), or a negative code.  The notice first names every
 * pack of the prune's ripe records, most of which that prune then
 * returns to the index and drops from it: a writer the notice stops can
 * ask again until it says 0, then check again.
 */
int relied_notice_names(const relied *r, backend *be);

#endif
