/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cleanup: scope-bound release of locals and small helpers.
 *
 * _cleanup_(fn) runs fn(&var) when var leaves scope; the helpers below
 * accept NULL / -1 so a local may be initialised "empty" and released on
 * every path.  Use take_ptr()/take_fd() to hand ownership to a caller.
 */
#ifndef DV_BASE_CLEANUP_H
#define DV_BASE_CLEANUP_H

#include <stdlib.h>
#include <unistd.h>
#include <dirent.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

static inline void *take_ptr_(void **p)
{
	void *v = *p;
	*p = NULL;
	return v;
}
#define take_ptr(p) take_ptr_((void **)&(p))

static inline int take_fd(int *fd)
{
	int v = *fd;
	*fd = -1;
	return v;
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* checked_add/checked_mul live in checked.h; included for old users. */
#include "checked.h"

#endif
