/* SPDX-License-Identifier: BSD-2-Clause */
/* strlist: a growable array of owned C strings (paths, tags, patterns). */
#ifndef DV_BASE_STRLIST_H
#define DV_BASE_STRLIST_H

#include <stddef.h>

/* Appends a copy of s; at most STRLIST_MAX entries (-E2BIG beyond). */
int strlist_add(char ***list, size_t *n, const char *s);
/* Frees every string and the array. NULL-safe. */
void strlist_free(char **list, size_t n);

#define STRLIST_MAX 1000000

#endif
