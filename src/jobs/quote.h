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

/*
 * For listings (ls): the bytes as they are when they are UTF-8 without
 * control characters and do not start with '"'; else the whole name in
 * double quotes with C escapes (\n, \t, \r, \", \\, \xNN for a byte
 * that is not UTF-8 or a control byte, \uNNNN for a C1 control), as
 * restic prints such names.  So every entry is one line, a terminal never
 * gets an escape sequence, and the exact bytes can be recovered.  Returns
 * a NUL-terminated string held in out ("(out of memory)" on failure).
 */
const char *quote_listing(buf *out, const void *p, size_t n);

#endif
