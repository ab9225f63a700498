/* SPDX-License-Identifier: BSD-2-Clause */
#include "diff.h"
#include "node.h"
#include "report.h"

static void node_or_null(json *j, const char *key, const tree *t, const tree_node *n)
{
	json_key(j, key);
	if (n)
		report_node(j, t, n, NULL, 0, 0);
	else
		json_null(j);
}

void report_diff_change(json *j, const diff_change *c)
{
	static const struct {
		unsigned bit;
		const char *name;
	} fields[] = { { DIFF_F_CONTENT, "content" }, { DIFF_F_MODE, "mode" },
		       { DIFF_F_OWNER, "owner" }, { DIFF_F_MTIME, "mtime" },
		       { DIFF_F_XATTRS, "xattrs" } };
	json_obj_begin(j);
	json_key(j, "change"); json_str(j, diff_change_name(c->change));
	report_text(j, "path", c->path->data, c->path->len);
	json_key(j, "type"); json_str(j, report_node_type((c->b ? c->b : c->a)->type));
	json_key(j, "fields");
	json_arr_begin(j);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (c->fields & fields[i].bit)
			json_str(j, fields[i].name);
	json_arr_end(j);
	node_or_null(j, "before", c->ta, c->a);
	node_or_null(j, "after", c->tb, c->b);
	json_obj_end(j);
}
