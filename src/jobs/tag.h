/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tag: changes the tags of snapshots (restic's `tag`).
 *
 * A snapshot file is named by its SHA-256 and sealed whole, so a changed
 * tag is a new snapshot: the same tree, time, host, paths and summary,
 * another id.  The new one is stored first (with the commit check of
 * repo_save_snapshot), its protection copied, and only then the old one
 * removed: a crash in between leaves both, never neither.
 */
#ifndef DV_JOBS_TAG_H
#define DV_JOBS_TAG_H

#include <stddef.h>

#include "../repo/repo.h"
#include "snapsel.h"

typedef struct {
	char **add;        /* --add: tags to add (appended, in this order, if absent) */
	size_t nadd;
	char **remove;     /* --remove */
	size_t nremove;
	char **set;        /* --set: the tags, replacing all (has_set with none: no tags) */
	size_t nset;
	int has_set;
	char *const *snapshots; /* as snapsel.h names them; none: every one the filter passes */
	size_t nsnapshots;
	const snapsel_filter *filter;
	/* each rewrite, once stored: old is gone, new took its place */
	void (*on_change)(void *ud, const snapshot *old, const snapshot *now);
	void *ud;
} tag_opts;

typedef struct {
	size_t changed;   /* snapshots rewritten */
	size_t unchanged; /* selected, but their tags were already so */
	size_t failed;    /* named ones not found, rewrites that failed (each reported) */
} tag_result;

/*
 * Pure: the tags s has after o (a new list in *out, owned by the caller):
 * 1 when they differ from its own, 0 when not.
 */
int tag_apply(const snapshot *s, const tag_opts *o, char ***out, size_t *out_n);

int tag_run(repo *r, const tag_opts *o, tag_result *out);

#endif
