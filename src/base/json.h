/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * json: a streaming JSON writer for --json output.
 *
 * The writer tracks nesting and commas; callers emit keys and values in
 * order.  Strings are arbitrary bytes: valid UTF-8 is passed through,
 * control characters are escaped, and bytes that are not valid UTF-8
 * (file names may hold any byte) are written as U+FFFD so the output is
 * always valid JSON.  Where the exact bytes matter, the caller also writes
 * them with json_base64() when json_is_utf8() says the text was not exact
 * (report/report.h does that for every name: the "_raw" fields).
 */
#ifndef DV_BASE_JSON_H
#define DV_BASE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

typedef struct {
	FILE *f;
	int depth;
	bool need_comma[JSON_MAX_DEPTH];
	bool after_key;
} json;

void json_init(json *j, FILE *f);
void json_obj_begin(json *j);
void json_obj_end(json *j);
void json_arr_begin(json *j);
void json_arr_end(json *j);
void json_key(json *j, const char *k);
void json_strn(json *j, const void *s, size_t n);
void json_str(json *j, const char *s);
void json_int(json *j, int64_t v);
void json_uint(json *j, uint64_t v);
void json_double(json *j, double v); /* three decimals */
void json_bool(json *j, bool v);
void json_null(json *j);
/*
 * A value already encoded as JSON (a document another dvalin process
 * printed, kept in the daemon's history), written as it is without its
 * trailing newline.  The caller vouches that it is one valid JSON value.
 */
void json_raw(json *j, const char *text);
void json_hex(json *j, const uint8_t *p, size_t n);
/* n bytes as a base64 string (RFC 4648, with padding). */
void json_base64(json *j, const void *p, size_t n);
/* Whether json_strn() writes these bytes exactly (valid UTF-8, no U+FFFD). */
bool json_is_utf8(const void *p, size_t n);
/* Ends the document with a newline. */
void json_finish(json *j);

#endif
