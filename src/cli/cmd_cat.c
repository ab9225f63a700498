/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../jobs/treeio.h"
#include "../archive/tree.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/json.h"
#include "../core/blob.h"
#include "../repo/format.h"

#include <stdio.h>
#include <string.h>

const char cmd_cat_usage[] =
	"usage: dvalin cat -r REPO config | snapshot ID | tree ID | blob ID\n\n"
	"Print a repository object, decrypted (a debugging aid):\n"
	"  config         format version, repository id, chunker parameters (JSON)\n"
	"  snapshot ID    a snapshot ('latest' or an id prefix) as JSON\n"
	"  tree ID        a tree blob (64-hex id, or a snapshot for its root) as JSON\n"
	"  blob ID        the plaintext of a data blob (64-hex id), raw bytes\n";

static int cat_config(repo *r)
{
	const repo_config *c = repo_get_config(r);
	json j;
	json_init(&j, stdout);
	json_obj_begin(&j);
	json_key(&j, "version"); json_uint(&j, FORMAT_VERSION);
	json_key(&j, "id"); json_hex(&j, c->id, 32);
	json_key(&j, "chunker");
	json_obj_begin(&j);
	json_key(&j, "algorithm"); json_str(&j, "fastcdc");
	json_key(&j, "min_size"); json_uint(&j, c->chunker.min);
	json_key(&j, "avg_size"); json_uint(&j, c->chunker.avg);
	json_key(&j, "max_size"); json_uint(&j, c->chunker.max);
	json_obj_end(&j);
	json_key(&j, "compression"); json_str(&j, "zstd");
	json_key(&j, "encryption"); json_str(&j, "aes-256-gcm with per-message hmac-sha256 subkeys");
	json_key(&j, "kdf"); json_str(&j, "scrypt");
	json_obj_end(&j);
	json_finish(&j);
	return 0;
}

static void strlist(json *j, char **v, size_t n)
{
	json_arr_begin(j);
	for (size_t i = 0; i < n; i++)
		json_str(j, v[i]);
	json_arr_end(j);
}

static int cat_snapshot(repo *r, const char *spec)
{
	snapshot *s;
	int rc = repo_find_snapshot(r, spec, &s);
	if (rc < 0)
		return rc;
	char when[40];
	snapshot_format_time(when, s);
	json j;
	json_init(&j, stdout);
	json_obj_begin(&j);
	json_key(&j, "id"); json_hex(&j, s->id, 32);
	json_key(&j, "time"); json_str(&j, when);
	json_key(&j, "tree"); json_hex(&j, s->tree, 32);
	json_key(&j, "host"); json_str(&j, s->host);
	json_key(&j, "user"); json_str(&j, s->user);
	json_key(&j, "paths"); strlist(&j, s->paths, s->npaths);
	json_key(&j, "tags"); strlist(&j, s->tags, s->ntags);
	json_key(&j, "parent");
	if (s->has_parent)
		json_hex(&j, s->parent, 32);
	else
		json_null(&j);
	json_obj_end(&j);
	json_finish(&j);
	snapshot_free(s);
	return 0;
}

static int parse_id(uint8_t id[32], const char *s)
{
	if (strlen(s) != 64 || hex_decode(id, s, 32) < 0)
		return err_set(-DV_EUSAGE, "'%s' is not a blob id (64 hex digits)", s);
	return 0;
}

static void print_node(json *j, const tree *t, const tree_node *n)
{
	json_obj_begin(j);
	json_key(j, "name"); json_strn(j, n->name, n->name_len);
	json_key(j, "type"); json_uint(j, n->type);
	json_key(j, "mode"); json_uint(j, n->mode);
	json_key(j, "uid"); json_uint(j, n->uid);
	json_key(j, "gid"); json_uint(j, n->gid);
	json_key(j, "user"); json_strn(j, n->user, n->user_len);
	json_key(j, "group"); json_strn(j, n->group, n->group_len);
	json_key(j, "mtime"); json_int(j, n->mtime);
	json_key(j, "mtime_ns"); json_uint(j, n->mtime_ns);
	json_key(j, "ctime"); json_int(j, n->ctime);
	json_key(j, "ctime_ns"); json_uint(j, n->ctime_ns);
	json_key(j, "dev"); json_uint(j, n->dev);
	json_key(j, "inode"); json_uint(j, n->ino);
	json_key(j, "nlink"); json_uint(j, n->nlink);
	json_key(j, "size"); json_uint(j, n->size);
	cli_json_node_extra(j, n);
	if (n->type == NODE_DIR) {
		json_key(j, "subtree");
		json_hex(j, tree_child(t, n->subtree), 32);
	}
	if (n->type == NODE_FILE) {
		json_key(j, "content");
		json_arr_begin(j);
		for (size_t i = 0; i < n->nsegs; i++) {
			json_obj_begin(j);
			json_key(j, "length");
			json_uint(j, n->segs[i].len);
			json_key(j, "blob");
			if (n->segs[i].ref)
				json_hex(j, tree_child(t, n->segs[i].ref), 32);
			else
				json_null(j); /* a hole */
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
		json_key(j, "name"); json_strn(j, k, kl);
		json_key(j, "value_hex"); 
		_cleanup_free_ char *h = malloc(2 * vl + 1);
		if (h) {
			hex_encode(h, v, vl);
			json_str(j, h);
		} else {
			json_null(j);
		}
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

static int cat_tree(repo *r, const char *spec)
{
	uint8_t id[32];
	int rc;
	/* a full id names a tree if there is one, else a snapshot */
	if (strlen(spec) == 64 && hex_decode(id, spec, 32) == 0 && repo_has_blob(r, id) == 0) {
		rc = 0;
	} else {
		snapshot *s;
		if ((rc = repo_find_snapshot(r, spec, &s)) < 0)
			return rc;
		memcpy(id, s->tree, 32);
		snapshot_free(s);
	}
	tree t = TREE_INIT;
	rc = treeio_load(r, id, &t);
	if (rc == -DV_ECORRUPT)
		return err_set(rc, "tree '%s' is damaged", spec);
	if (rc < 0)
		return rc;
	json j;
	json_init(&j, stdout);
	json_obj_begin(&j);
	json_key(&j, "id"); json_hex(&j, id, 32);
	json_key(&j, "children");
	json_arr_begin(&j);
	for (uint32_t i = 1; i <= t.nchildren; i++)
		json_hex(&j, tree_child(&t, i), 32);
	json_arr_end(&j);
	json_key(&j, "nodes");
	json_arr_begin(&j);
	for (size_t i = 0; i < t.n; i++)
		print_node(&j, &t, &t.nodes[i]);
	json_arr_end(&j);
	json_obj_end(&j);
	json_finish(&j);
	tree_release(&t);
	return 0;
}

static int cat_blob(repo *r, const char *spec)
{
	uint8_t id[32];
	int rc = parse_id(id, spec);
	if (rc < 0)
		return rc;
	buf _cleanup_(buf_releasep) plain = BUF_INIT;
	rc = repo_load_blob_verified(r, BLOB_DATA, id, &plain);
	if (rc < 0)
		return rc;
	fwrite(plain.data, 1, plain.len, stdout);
	return 0;
}

int cmd_cat(cli_ctx *ctx, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error(ctx, "what to print? config, snapshot ID, tree ID or blob ID");
	const char *what = argv[1];
	int needs_id = strcmp(what, "config") != 0;
	if (needs_id && strcmp(what, "snapshot") && strcmp(what, "tree") && strcmp(what, "blob"))
		return cli_usage_error(ctx, "unknown object type '%s'", what);
	if (argc != (needs_id ? 3 : 2))
		return cli_usage_error(ctx, needs_id ? "'%s' needs one ID" : "'%s' takes no argument", what);
	repo *r;
	int rc = cli_open_repo(ctx, &r);
	if (rc < 0)
		return cli_fail(rc);
	if (!needs_id)
		rc = cat_config(r);
	else if (strcmp(what, "snapshot") == 0)
		rc = cat_snapshot(r, argv[2]);
	else if (strcmp(what, "tree") == 0)
		rc = cat_tree(r, argv[2]);
	else
		rc = cat_blob(r, argv[2]);
	repo_free(r);
	return rc < 0 ? cli_fail(rc) : EXIT_OK;
}
