/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * local: a backend over a directory of the local file system (local.c
 * says how).  Reached through backend_open() with a path or file:PATH.
 */
#ifndef DV_BACKEND_LOCAL_H
#define DV_BACKEND_LOCAL_H

#include "backend.h"

/*
 * Opens the directory path; with BACKEND_OPEN_CREATE makes it first if
 * missing, and its missing parents too (as mkdir -p).
 */
int local_backend_open(backend **out, const char *path, unsigned flags);
/*
 * The directory descriptor of a local backend (owned by it), or -1 for
 * any other backend: what knows a repository's place in the file system
 * (backup leaves it out, init looks at what is there).
 */
int local_backend_dirfd(const backend *b);

#endif
