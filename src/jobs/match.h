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

#endif
