/* SPDX-License-Identifier: BSD-2-Clause */
/* snapfix: snapshots in memory for unit tests of what selects and decides on them. */
#ifndef DV_TEST_SNAPFIX_H
#define DV_TEST_SNAPFIX_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/base/strlist.h"
#include "../../src/repo/snapshot.h"

/* A snapshot at time t; paths and tags comma-separated; id from t. */
static inline snapshot *test_snap(int64_t t, const char *host, const char *paths, const char *tags)
{
	snapshot *s = snapshot_new();
	s->time = t;
	s->host = strdup(host);
	s->user = strdup("u");
	s->id[0] = (uint8_t)(t & 0xff);
	s->id[1] = (uint8_t)(t >> 8);
	char text[128], *save = NULL;
	snprintf(text, sizeof(text), "%s", paths);
	for (char *x = strtok_r(text, ",", &save); x; x = strtok_r(NULL, ",", &save))
		strlist_add(&s->paths, &s->npaths, x);
	snprintf(text, sizeof(text), "%s", tags);
	for (char *x = strtok_r(text, ",", &save); x; x = strtok_r(NULL, ",", &save))
		strlist_add(&s->tags, &s->ntags, x);
	return s;
}

#endif
