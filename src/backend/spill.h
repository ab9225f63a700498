/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * spill: unlinked files on local disk for bytes that should cost page
 * cache, not heap: copies of remote files read in place (index files as
 * mappings, backend.c), read many times (objcache.c) or built locally
 * (the index's merged lookup runs, repo/index.c).
 */
#ifndef DV_BACKEND_SPILL_H
#define DV_BACKEND_SPILL_H

/*
 * A new unlinked read-write file (descriptor, or a negative errno) in the
 * user's cache directory ($XDG_CACHE_HOME/dvalin, else ~/.cache/dvalin),
 * else /var/tmp, else /tmp: on disk where /tmp may be a tmpfs (RAM
 * again).  Gone when closed: it can never be stale or left behind.
 */
int spill_file_open(void);

#endif
