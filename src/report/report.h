/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report: the one JSON shape of each object dvalin prints.  Every --json
 * output is written by the encoders of this folder (report/snapshot.h,
 * node.h, check.h, prune.h, stats.h, forget.h, disk.h, job.h), so that
 * `cat`, `ls`, `snapshots` and the commands agree, and so that the HTTP API
 * and the daemon can later write the same shapes.  docs/json.md documents
 * every shape; REPORT_FORMAT is its version.
 *
 * The folder sits above jobs/ (it encodes their results) and below cli/.
 * Encoders only write: they take the object and an open json writer and
 * never fail (the writer's stream reports write errors at the end).
 *
 * This header holds the conventions every encoder shares:
 *  - times are RFC 3339 strings with nanoseconds (report_time);
 *  - text that may hold any bytes (names, paths, link targets) is written
 *    as a string and, when the bytes are not valid UTF-8 (the string then
 *    holds U+FFFD), also as "<key>_raw", the exact bytes in base64;
 *  - ids are 64 lowercase hex digits.
 */
#ifndef DV_REPORT_REPORT_H
#define DV_REPORT_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "../backend/backend.h"
#include "../base/json.h"

/* The version of the shapes in docs/json.md (printed by `dvalin version --json`). */
#define REPORT_FORMAT 1

/*
 * "2026-11-23T08:15:00.000000000+01:00": the time at offset seconds east
 * of UTC, as a snapshot records it ("+00:00" for an offset of 0: the
 * local time was UTC).  An offset that is not a whole number of minutes
 * or not below 24 hours cannot be written in RFC 3339; the time is then
 * written in UTC ("Z"), which keeps the instant exact.  Years beyond
 * 0000..9999 (only a forged or damaged object holds them) are written
 * with a sign and as many digits as they need (ISO 8601's expanded form).
 */
void report_time(json *j, int64_t sec, uint32_t nsec, int32_t offset);
/* "2026-11-23T07:15:00.000000000Z": a time that has no local offset (file times). */
void report_time_utc(json *j, int64_t sec, uint32_t nsec);
/* report_time() into out. */
#define REPORT_TIME_MAX 64
void report_format_time(char out[REPORT_TIME_MAX], int64_t sec, uint32_t nsec, int32_t offset);

/* "key": text, and "key_raw": base64 when the bytes are not valid UTF-8. */
void report_text(json *j, const char *key, const void *p, size_t n);
/* The same for a NUL-terminated string. */
void report_str(json *j, const char *key, const char *s);
/*
 * "key": [strings], and, when any of them is not valid UTF-8, "key_raw":
 * [base64 or null], null where the string is exact.
 */
void report_strlist(json *j, const char *key, char *const *v, size_t n);
/* "key": id in hex, or null when id is NULL. */
void report_id(json *j, const char *key, const uint8_t *id);

/* A named count, for objects that are only counters. */
typedef struct {
	const char *key;
	uint64_t val;
} report_counter;

/* "key": val for each counter, into an open object. */
void report_counters(json *j, const report_counter *c, size_t n);

/*
 * "requests": {"GET": n, "PUT": n, "HEAD": n, "LIST": n, "DELETE": n,
 * "POST": n}: what a remote backend was asked for so far, and
 * "request_bytes": {"sent": n, "received": n}, the bodies' bytes; both
 * null for a backend that makes no requests (req NULL).
 */
void report_requests(json *j, const backend_requests *req);

#endif
