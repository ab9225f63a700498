/* SPDX-License-Identifier: BSD-2-Clause */
#include "cache.h"
#include "report.h"

#include <limits.h>
#include <stdio.h>

void report_cache(json *j, const cachedir_entry *e, const char *root, const char *reason)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", root, e->id);
	json_obj_begin(j);
	report_str(j, "id", e->id);
	if (e->location) {
		report_str(j, "location", e->location);
	} else {
		json_key(j, "location");
		json_null(j);
	}
	report_str(j, "path", path);
	json_key(j, "size");
	if (e->sized)
		json_uint(j, e->size);
	else
		json_null(j);
	json_key(j, "last_used"); report_time_utc(j, e->last_used, 0);
	json_key(j, "in_use"); json_bool(j, e->in_use);
	if (reason)
		report_str(j, "reason", reason);
	json_obj_end(j);
}

void report_caches(json *j, const cachedir_list *l, const char *root)
{
	json_obj_begin(j);
	report_str(j, "root", root);
	json_key(j, "caches");
	json_arr_begin(j);
	for (size_t i = 0; i < l->n; i++)
		report_cache(j, &l->v[i], root, NULL);
	json_arr_end(j);
	json_key(j, "untagged"); json_uint(j, l->untagged);
	json_key(j, "others"); json_uint(j, l->others);
	json_obj_end(j);
}

void report_cache_removal(json *j, const cachedir_list *l, const char *root, const size_t *removed,
			  size_t nremoved, const size_t *kept, char *const *reasons, size_t nkept)
{
	json_obj_begin(j);
	report_str(j, "root", root);
	json_key(j, "removed");
	json_arr_begin(j);
	for (size_t i = 0; i < nremoved; i++)
		report_cache(j, &l->v[removed[i]], root, NULL);
	json_arr_end(j);
	json_key(j, "kept");
	json_arr_begin(j);
	for (size_t i = 0; i < nkept; i++)
		report_cache(j, &l->v[kept[i]], root, reasons[i]);
	json_arr_end(j);
	json_obj_end(j);
}
