/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * syncsel: which snapshots a sync copies (sync.h has the filters).
 *
 * Candidates are the snapshot files of a repository, each with what its
 * header says without the key (id, root tree, and from format version 2
 * the time and keyed group ids) and, when the repository was opened with
 * the key, its decoded body.  Host, path and tag filters need bodies;
 * latest needs a time and a group, which version 2 headers give without
 * the key.  Pure apart from syncsel_load().
 */
#ifndef DV_JOBS_SYNCSEL_H
#define DV_JOBS_SYNCSEL_H

#include <stddef.h>

#include "sync.h"
#include "../repo/snapshot.h"

typedef struct {
	snapshot_header h;
	snapshot *s;   /* the body, or NULL without the key */
	int selected;
} syncsel_item;

/*
 * The snapshots of r, oldest first (those without a known time first);
 * bodies too unless r is keyless.  Damaged files are counted.
 */
int syncsel_load(repo *r, syncsel_item **out, size_t *out_n, size_t *out_damaged);
void syncsel_free(syncsel_item *v, size_t n);
/* 1 if a filter needs the snapshots' bodies (host, path, tag). */
int syncsel_needs_key(const sync_opts *o);
/* 1 when a decoded snapshot passes the host, path and tag filters. */
int syncsel_matches(const snapshot *s, const sync_opts *o);
/*
 * Sets selected on each item the filters choose.  -DV_EUSAGE with a
 * message when they cannot be applied (no bodies for host/path/tag, no
 * time for latest), -DV_ENOTFOUND / -DV_EAMBIG for an id prefix.
 */
int syncsel_apply(syncsel_item *v, size_t n, const sync_opts *o);

#endif
