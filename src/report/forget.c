/* SPDX-License-Identifier: BSD-2-Clause */
#include "forget.h"
#include "report.h"
#include "snapshot.h"

void report_forget_decision(json *j, const forget_decision *d)
{
	const forget_item *it = &d->it;
	int keep = it->rule != RULE_NONE;
	char reason[256];
	forget_reason(d, reason, sizeof(reason));
	json_obj_begin(j);
	json_key(j, "snapshot"); report_snapshot(j, d->s, it->is_protected);
	json_key(j, "action"); json_str(j, keep ? "keep" : "remove");
	json_key(j, "rule");
	if (keep)
		json_str(j, forget_rule_name(it->rule));
	else
		json_null(j);
	json_key(j, "rank");
	if (it->rank)
		json_uint(j, (uint64_t)it->rank);
	else
		json_null(j);
	json_key(j, "reason"); json_str(j, reason);
	json_key(j, "superseded_by");
	if (d->superseded_by) {
		char label[32];
		forget_period_label(it, it->superseded_rule, label);
		json_obj_begin(j);
		json_key(j, "rule"); json_str(j, forget_rule_name(it->superseded_rule));
		json_key(j, "period"); json_str(j, label);
		report_id(j, "snapshot_id", d->superseded_by->s->id);
		json_obj_end(j);
	} else {
		json_null(j);
	}
	json_key(j, "removed"); json_bool(j, d->removed);
	json_obj_end(j);
}

static void list_or_null(json *j, const char *key, const char **v, size_t n, int grouped)
{
	if (grouped) {
		report_strlist(j, key, (char *const *)v, n);
	} else {
		json_key(j, key);
		json_null(j);
	}
}

void report_forget_group(json *j, const forget_group *g, int group_by)
{
	json_obj_begin(j);
	if (group_by & FORGET_GROUP_HOST) {
		report_str(j, "host", g->host);
	} else {
		json_key(j, "host");
		json_null(j);
	}
	list_or_null(j, "paths", g->paths, g->npaths, group_by & FORGET_GROUP_PATHS);
	list_or_null(j, "tags", g->tags, g->ntags, group_by & FORGET_GROUP_TAGS);
	json_key(j, "snapshots");
	json_arr_begin(j);
	for (size_t i = 0; i < g->n; i++)
		report_forget_decision(j, &g->v[i]);
	json_arr_end(j);
	json_obj_end(j);
}

void report_forget(json *j, const forget_result *res, bool dry_run, const backend_requests *req)
{
	json_obj_begin(j);
	json_key(j, "dry_run"); json_bool(j, dry_run);
	json_key(j, "groups");
	json_arr_begin(j);
	for (size_t k = 0; k < res->ngroups; k++)
		report_forget_group(j, &res->groups[k], res->group_by);
	json_arr_end(j);
	json_key(j, "to_remove"); json_uint(j, res->removals);
	json_key(j, "removed"); json_uint(j, res->removed);
	report_requests(j, req);
	json_key(j, "keyless"); json_bool(j, res->keyless);
	json_key(j, "kept_without_plaintext_time"); json_uint(j, res->predating);
	json_obj_end(j);
}
