/* SPDX-License-Identifier: BSD-2-Clause */
/* spill: unlinked cache files (spill.h). */
#include "spill.h"
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An unlinked read-write file in dir. */
static int tmpfile_in(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd >= 0 ? fd : -errno;
	/* a file system without O_TMPFILE: create and unlink at once */
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/.dvalin-XXXXXX", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(path);
	return fd;
}

/*
 * A file on local disk for bytes that should cost page cache, not heap:
 * in the user's cache directory, which is on disk where /tmp may be a
 * tmpfs (RAM again).  Unlinked, so it is gone when unmapped and can never
 * be stale or left behind.
 */
int spill_file_open(void)
{
	char dir[PATH_MAX];
	int r = backend_cache_dir(dir, sizeof(dir), NULL);
	r = r ?: tmpfile_in(dir);
	if (r < 0)
		r = tmpfile_in("/var/tmp");
	if (r < 0)
		r = tmpfile_in("/tmp");
	return r;
}

