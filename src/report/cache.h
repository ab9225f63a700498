/* SPDX-License-Identifier: BSD-2-Clause */
/* report/cache: the JSON of `cache` (docs/json.md, "Caches"). */
#ifndef DV_REPORT_CACHE_H
#define DV_REPORT_CACHE_H

#include "../backend/cachedir.h"
#include "../base/json.h"

/*
 * {id, location, path, size, last_used, in_use} of a cache below root
 * (size null when not counted), and "reason" when reason is not NULL.
 */
void report_cache(json *j, const cachedir_entry *e, const char *root, const char *reason);
/* {"root", "caches": [...], "untagged", "others"}: a listing. */
void report_caches(json *j, const cachedir_list *l, const char *root);
/*
 * {"root", "removed": [...], "kept": [... with "reason"]}: what a
 * removal did; removed and kept are indexes into l, reasons[i] says why
 * kept[i] stayed.
 */
void report_cache_removal(json *j, const cachedir_list *l, const char *root, const size_t *removed,
			  size_t nremoved, const size_t *kept, char *const *reasons, size_t nkept);

#endif
