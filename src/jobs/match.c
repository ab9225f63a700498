/* SPDX-License-Identifier: BSD-2-Clause */
#include "match.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

int match_any(char **patterns, size_t n, const buf *path, const char *name)
{
	if (n == 0)
		return 0;
	char *full = strndup((const char *)path->data, path->len);
	int hit = 0;
	for (size_t i = 0; full && !hit && i < n; i++)
		hit = fnmatch(patterns[i], strchr(patterns[i], '/') ? full : name, 0) == 0;
	free(full);
	return hit;
}
