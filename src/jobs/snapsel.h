/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * snapsel: which snapshots a command means.  The one place where a
 * snapshot named on the command line is found, for every command that
 * takes one (ls, restore, cat, forget, tag, backup --parent, dump, diff,
 * drill) or reads several (snapshots, find, mount, forget, tag), and where
 * --snapshot, --host, --path and --tag select; also for the daemon's
 * drills.  New ways to name a snapshot are added here.
 *
 * A snapshot argument is
 *
 *     latest | ID | latest:PATH | ID:PATH
 *
 * ID is a unique prefix of a snapshot id (hex, any case).  "latest" is
 * the newest snapshot that passes the filter.  The filter narrows what an
 * ID may name too: among the snapshots it passes, the prefix must be
 * unique (a prefix that names a snapshot the filter rejects fails, with
 * the filter in the message).  An ambiguous prefix lists its candidates.
 * ":PATH" names a path inside that snapshot (where a command takes one);
 * it is absolute in the snapshot ("latest:etc" is "latest:/etc").
 *
 * The filter follows restic: a snapshot passes when its id starts with one
 * of the --snapshot prefixes (any id if none), its host is one of
 * the --host values (any host if none), its paths include every --path
 * (made absolute against the working directory, trailing '/' ignored),
 * and it carries every tag of at least one --tag value, a value being a
 * comma-separated list ("--tag a,b --tag c": a and b, or c).
 *
 * Ownership: a filter owns copies of its strings (snapsel_filter_release);
 * snapsel_find's snapshot and path belong to the caller.
 */
#ifndef DV_JOBS_SNAPSEL_H
#define DV_JOBS_SNAPSEL_H

#include <stddef.h>

#include "../repo/repo.h"
#include "../repo/snapshots.h"

typedef struct {
	char **ids;   /* hex prefixes */
	size_t nids;
	char **hosts;
	size_t nhosts;
	char **paths; /* absolute, no trailing '/' */
	size_t npaths;
	char **tags;  /* each a comma-separated list */
	size_t ntags;
} snapsel_filter;

#define SNAPSEL_FILTER_INIT { NULL, 0, NULL, 0, NULL, 0, NULL, 0 }

/* The options that fill a filter: --snapshot ID, --host H, --path P, --tag LIST. */
enum { SNAPSEL_OPT_SNAPSHOT = 0x5300, SNAPSEL_OPT_HOST, SNAPSEL_OPT_PATH, SNAPSEL_OPT_TAG };

/*
 * Adds one option's value (opt: SNAPSEL_OPT_*); -DV_EUSAGE for an id that
 * is not hex, -ENOMEM, -E2BIG, or -EINVAL for another opt.
 */
int snapsel_filter_add(snapsel_filter *f, int opt, const char *value);
/*
 * The value of a path option (--OPT) as snapshots record paths: absolute
 * (from the working directory), lexically cleaned.  Caller frees *out.
 */
int snapsel_path_arg(const char *opt, const char *value, char **out);
/* 1 when no option was given. */
int snapsel_filter_empty(const snapsel_filter *f);
/* NULL-safe. */
void snapsel_filter_release(snapsel_filter *f);
/* 1 when s passes the filter. */
int snapsel_match(const snapsel_filter *f, const snapshot *s);
/* "--host a --tag x" (what the filter is, for messages); "" when empty. */
void snapsel_filter_text(const snapsel_filter *f, char *out, size_t cap);

/*
 * The snapshots that pass f (NULL: all), oldest first; damaged snapshot
 * files are skipped and counted in *out_damaged (may be NULL).
 */
int snapsel_list(repo *r, const snapsel_filter *f, snapshot ***out, size_t *out_n,
		 size_t *out_damaged);

/*
 * Splits "SPEC[:PATH]": *out_spec is SPEC (a copy), *out_path the path
 * made absolute ("/" for ":" or ":/"), or NULL without ':'.  -DV_EUSAGE
 * for a SPEC that is neither "latest" nor hex.  Pure.
 */
int snapsel_parse(const char *arg, char **out_spec, char **out_path);

/*
 * Pure: the index in v (oldest first, as repo_load_snapshots lists them)
 * of the snapshot SPEC (no ":PATH") names among those f passes.
 * -DV_ENOTFOUND, -DV_EAMBIG (the message lists the candidates) or
 * -DV_EUSAGE, each with a message.
 */
int snapsel_pick(snapshot *const *v, size_t n, const snapsel_filter *f, const char *spec,
		 size_t *out_index);

/*
 * Loads the snapshots and finds the one arg names.  out_path NULL: arg may
 * not have ":PATH" (-DV_EUSAGE if it has); else *out_path is the path or
 * NULL.  f may be NULL (no filter).
 */
int snapsel_find(repo *r, const snapsel_filter *f, const char *arg, snapshot **out,
		 char **out_path);

#endif
