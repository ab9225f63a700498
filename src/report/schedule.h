/* SPDX-License-Identifier: BSD-2-Clause */
/* report/schedule: the JSON of a calendar expression (docs/json.md, "Schedule"). */
#ifndef DV_REPORT_SCHEDULE_H
#define DV_REPORT_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "../base/json.h"

typedef struct {
	const char *original;   /* as written */
	const char *normalized; /* NULL when invalid */
	const char *zone;       /* "UTC", a tz database name, or NULL: the local zone */
	const char *error;      /* why it is invalid, or NULL */
	const int64_t *next;    /* the next times, microseconds since the epoch */
	const int32_t *offset;  /* the local zone's offset at each, seconds east of UTC */
	size_t n;
} report_schedule_item;

void report_schedule(json *j, const report_schedule_item *s);

#endif
