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

int match_may_contain(char **patterns, size_t n, const buf *dir)
{
	for (size_t i = 0; i < n; i++) {
		const char *pat = patterns[i];
		if (!strchr(pat, '/'))
			return 1;
		size_t lit = strcspn(pat, "*?[\\");
		/* compare the literal part with dir + "/", as far as both go */
		size_t k = 0;
		for (; k < lit && k < dir->len; k++)
			if (pat[k] != (char)dir->data[k])
				break;
		if (k == dir->len && (k == lit || pat[k] == '/'))
			return 1; /* dir is on the way to what the pattern names */
		if (k == lit)
			return 1; /* the literal part ends inside dir: wildcards may match the rest */
	}
	return 0;
}
