/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * quote: file names in messages.  Names may hold any byte but '/' and
 * NUL; messages must stay one line, so control bytes and backslashes are
 * escaped (\n, \t, \\, \xNN).
 */
#ifndef DV_JOBS_QUOTE_H
#define DV_JOBS_QUOTE_H

#include <stddef.h>

#include "../base/buf.h"

/* Returns a NUL-terminated escaped copy held in out. */
const char *quote_path(buf *out, const void *p, size_t n);

#endif
