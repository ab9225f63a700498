/* SPDX-License-Identifier: BSD-2-Clause */
#include "strlist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int strlist_add(char ***list, size_t *n, const char *s)
{
	if (*n >= STRLIST_MAX)
		return -E2BIG;
	char **l = realloc(*list, (*n + 1) * sizeof(*l));
	if (!l)
		return -ENOMEM;
	*list = l;
	if (!(l[*n] = strdup(s)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

void strlist_free(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}
