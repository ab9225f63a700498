/* SPDX-License-Identifier: BSD-2-Clause */
/* ls: walks a snapshot's trees depth-first, in name order. */
#ifndef DV_JOBS_LS_H
#define DV_JOBS_LS_H

#include <stddef.h>

#include "../archive/tree.h"
#include "../repo/repo.h"
#include "../repo/snapshot.h"

/* Called for each node with its absolute path; non-zero stops the walk. */
typedef int (*ls_fn)(void *ud, const buf *path, const tree *t, const tree_node *n);

/* Lists everything at and below subpath ("/" or NULL: everything). */
int ls_run(repo *r, const snapshot *s, const char *subpath, ls_fn fn, void *ud);
/*
 * The same, at most max_depth levels below subpath (1: a directory and
 * its entries, as a browser shows it; 0: no limit).
 */
int ls_run_depth(repo *r, const snapshot *s, const char *subpath, int max_depth, ls_fn fn, void *ud);

#endif
