/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * snapsel: choosing snapshots.  One place that turns what a user names
 * ("latest", an id prefix, filters by id, host, path and tag) into
 * snapshots, for every command that reads one (dump, diff, find, mount,
 * drill) and for the daemon's drills; new ways to name a snapshot are
 * added here.
 *
 * A filter matches a snapshot when each list that is not empty does: ids
 * (any prefix matches), hosts (any is the snapshot's host), paths (each
 * is one of the snapshot's backed-up paths), tags (each is among its
 * tags).  Ownership: filters own their strings (snapsel_filter_release);
 * snapshots returned belong to the caller.
 */
#ifndef DV_JOBS_SNAPSEL_H
#define DV_JOBS_SNAPSEL_H

#include <stddef.h>

#include "../repo/repo.h"
#include "../repo/snapshots.h"

typedef struct {
	char **ids;
	size_t nids;
	char **hosts;
	size_t nhosts;
	char **paths;
	size_t npaths;
	char **tags;
	size_t ntags;
} snapsel_filter;

#define SNAPSEL_FILTER_INIT { NULL, 0, NULL, 0, NULL, 0, NULL, 0 }

void snapsel_filter_release(snapsel_filter *f);
/* 1 when nothing is filtered. */
int snapsel_filter_empty(const snapsel_filter *f);
/* 1 when s passes f. */
int snapsel_match(const snapsel_filter *f, const snapshot *s);
/*
 * The snapshots that pass f (NULL: all), oldest first; damaged snapshot
 * files are skipped and counted in *out_damaged (may be NULL).
 */
int snapsel_list(repo *r, const snapsel_filter *f, snapshot ***out, size_t *out_n,
		 size_t *out_damaged);
/*
 * One snapshot: "latest" is the newest that passes f (NULL: any); else
 * spec is a unique prefix of a snapshot id (f is not applied to it).
 * -DV_ENOTFOUND, -DV_EAMBIG or -DV_EUSAGE with a message otherwise.
 */
int snapsel_find(repo *r, const char *spec, const snapsel_filter *f, snapshot **out);

#endif
