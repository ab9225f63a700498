/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * match: --include / --exclude glob patterns (fnmatch(3), '*' also
 * matches '/').  A pattern with a '/' is matched against the whole
 * absolute path; one without is matched against the entry's name, so
 * "*.o" selects object files anywhere.
 */
#ifndef DV_JOBS_MATCH_H
#define DV_JOBS_MATCH_H

#include <stddef.h>

#include "../base/buf.h"

/* 1 when any pattern matches path (bytes, not NUL-terminated) or name. */
int match_any(char **patterns, size_t n, const buf *path, const char *name);
/*
 * 0 when nothing below the directory dir can match any pattern, so a walk
 * need not descend: a pattern with a '/' matches only paths that start
 * with its literal part (up to the first wildcard).  1 when something
 * might (a pattern without '/' can match a name anywhere).
 */
int match_may_contain(char **patterns, size_t n, const buf *dir);

#endif
