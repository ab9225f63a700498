/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * find: entries matching a pattern and filters, across snapshots.
 *
 * The pattern is a glob (fnmatch(3)) matched against the name, or against
 * the whole absolute path when it holds a '/', or an extended regular
 * expression searched for in the whole path.  Filters: modification time
 * (newer: at or after, older: before), size (larger, smaller: strictly),
 * type.
 *
 * Snapshots share most of their trees, so a directory tree that held no
 * match once is remembered by id and not walked again in a later
 * snapshot; that holds when a match depends only on the entries (a glob
 * on names), not on where the tree sits (a path glob or a regex), and
 * then only trees that hold matches, or are new, are read again.
 */
#ifndef DV_JOBS_FIND_H
#define DV_JOBS_FIND_H

#include <stddef.h>
#include <stdint.h>

#include "../archive/tree.h"
#include "../base/buf.h"
#include "../repo/repo.h"
#include "../repo/snapshot.h"

typedef struct {
	const char *pattern;
	int regex;       /* an extended regular expression on the path */
	int ignore_case;
	int has_newer, has_older, has_larger, has_smaller;
	int64_t newer, older;     /* seconds since the epoch */
	uint64_t larger, smaller; /* bytes */
	int type;        /* NODE_*, 0 for any */
} find_opts;

typedef struct {
	const snapshot *s;
	const buf *path; /* absolute, in the snapshot */
	const tree *t;   /* holding n */
	const tree_node *n;
} find_match;

/* Called for each match; non-zero stops the search with that code. */
typedef int (*find_fn)(void *ud, const find_match *m);

typedef struct {
	uint64_t snapshots, entries, matches, subtrees_skipped, errors;
} find_stats;

/*
 * Searches snapshots v[0..n) in that order.  -DV_EUSAGE for a regex that
 * does not compile.  Directories that cannot be read are logged, counted
 * in errors and skipped.
 */
int find_run(repo *r, snapshot *const *v, size_t n, const find_opts *o, find_fn fn, void *ud,
	     find_stats *out);

#endif
