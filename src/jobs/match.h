/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * match: the patterns of --include and --exclude, one matcher for backup
 * and restore (and every later command that selects files), with the
 * semantics restic users expect:
 *
 *   - a pattern is a list of components split at '/', each a glob
 *     (fnmatch(3): '*', '?', '[...]', '\' escapes; '*' stays within a
 *     component);
 *   - "**" as a whole component matches any number of components, none
 *     included;
 *   - a pattern that starts with '/' is matched from the root; any other
 *     matches at any depth ("src/x.o" matches /a/src/x.o and /src/x.o);
 *   - a pattern that ends with '/' matches directories only;
 *   - a pattern that matches a directory selects everything below it (an
 *     excluded directory is not entered, an included one is restored
 *     whole).
 *
 * Paths are absolute paths of the snapshot (or, for a backup, of the file
 * system), as bytes.  A set remembers which patterns matched something,
 * so a command can say that one matched nothing.  Not thread-safe: the
 * walks that match run on one thread.
 */
#ifndef DV_JOBS_MATCH_H
#define DV_JOBS_MATCH_H

#include <stddef.h>

enum { MATCH_ICASE = 1 }; /* --iexclude: compare without regard to case (ASCII) */

typedef struct match_pattern match_pattern;

typedef struct {
	match_pattern *v;
	size_t n, cap;
} match_set;

#define MATCH_SET_INIT { NULL, 0, 0 }

/* At most this many patterns in a set, and components in one. */
#define MATCH_MAX_PATTERNS 100000
#define MATCH_MAX_COMPONENTS 256

/*
 * Adds a pattern; -DV_EUSAGE with a message for an empty one (or "/"),
 * -E2BIG beyond the caps, -ENOMEM.
 */
int match_add(match_set *m, const char *pattern, int flags);
/* Adds every pattern of the list (the options as the job got them). */
int match_add_list(match_set *m, char *const *patterns, size_t n, int flags);
void match_release(match_set *m);
/* 1 when no pattern was added. */
int match_empty(const match_set *m);

/*
 * 1 when a pattern matches the path itself (is_dir: whether it is a
 * directory, for patterns ending in '/'); marks the pattern as used.
 */
int match_path(match_set *m, const void *path, size_t len, int is_dir);
/*
 * 1 when a pattern may match something below the directory dir (so a walk
 * that selects must descend into it); 0 when nothing below can match.
 */
int match_below(const match_set *m, const void *dir, size_t len);
/* The first pattern that matched nothing so far, or NULL. */
const char *match_unused(const match_set *m);

#endif
