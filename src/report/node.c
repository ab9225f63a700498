/* SPDX-License-Identifier: BSD-2-Clause */
#include "node.h"
#include "report.h"

static void storage(json *j, const tree *t, const tree_node *n)
{
	if (n->type == NODE_DIR)
		report_id(j, "subtree", tree_child(t, n->subtree));
	if (n->type == NODE_FILE) {
		json_key(j, "content");
		json_arr_begin(j);
		for (size_t i = 0; i < n->nsegs; i++) {
			json_obj_begin(j);
			json_key(j, "length");
			json_uint(j, n->segs[i].len);
			/* a hole has no blob */
			report_id(j, "blob", n->segs[i].ref ? tree_child(t, n->segs[i].ref) : NULL);
			json_obj_end(j);
		}
		json_arr_end(j);
	}
	json_key(j, "xattrs");
	json_arr_begin(j);
	tree_xattr_iter it;
	const uint8_t *k, *v;
	size_t kl, vl;
	tree_xattr_iter_init(&it, n);
	while (tree_xattr_next(&it, &k, &kl, &v, &vl) > 0) {
		json_obj_begin(j);
		report_text(j, "name", k, kl);
		report_text(j, "value", v, vl);
		json_obj_end(j);
	}
	json_arr_end(j);
}

const char *report_node_type(int type)
{
	static const char *const names[] = { "unknown", "file", "dir", "symlink", "fifo",
					     "chardev", "blockdev", "socket" };
	return type >= NODE_FILE && type <= NODE_SOCK ? names[type] : names[0];
}

void report_node(json *j, const tree *t, const tree_node *n, const void *path, size_t path_len,
		 int flags)
{
	json_obj_begin(j);
	if (path)
		report_text(j, "path", path, path_len);
	report_text(j, "name", n->name, n->name_len);
	json_key(j, "type"); json_str(j, report_node_type(n->type));
	json_key(j, "mode"); json_uint(j, n->mode);
	json_key(j, "uid"); json_uint(j, n->uid);
	json_key(j, "gid"); json_uint(j, n->gid);
	report_text(j, "user", n->user, n->user_len);
	report_text(j, "group", n->group, n->group_len);
	json_key(j, "size"); json_uint(j, n->size);
	json_key(j, "mtime"); report_time_utc(j, n->mtime, n->mtime_ns);
	json_key(j, "ctime"); report_time_utc(j, n->ctime, n->ctime_ns);
	json_key(j, "dev"); json_uint(j, n->dev);
	json_key(j, "inode"); json_uint(j, n->ino);
	json_key(j, "nlink"); json_uint(j, n->nlink);
	if (n->type == NODE_SYMLINK)
		report_text(j, "link_target", n->target, n->target_len);
	if (n->type == NODE_CHR || n->type == NODE_BLK || n->device) {
		json_key(j, "rdev");
		json_uint(j, n->rdev);
	}
	if (n->device) {
		json_key(j, "device_contents");
		json_bool(j, 1);
	}
	if (flags & REPORT_NODE_STORAGE)
		storage(j, t, n);
	json_obj_end(j);
}
