/* SPDX-License-Identifier: BSD-2-Clause */
#include "cli.h"
#include "../jobs/snapsel.h"
#include "../jobs/treeio.h"
#include "../archive/tree.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/json.h"
#include "../core/blob.h"
#include "../report/config.h"
#include "../report/node.h"
#include "../report/snapshot.h"
#include "../repo/format.h"
#include "../repo/session.h"
#include "../repo/snapshots.h"

#include <stdio.h>
#include <string.h>

const char cmd_cat_usage[] =
	"usage: dvalin cat -r REPO config | snapshot ID | tree ID | blob ID\n\n"
	"Print a repository object, decrypted (a debugging aid):\n"
	"  config         format version, repository id, chunker parameters (JSON)\n"
	"  snapshot ID    a snapshot ('latest' or an id prefix) as JSON, the same\n"
	"                 object as in 'snapshots --json'\n"
	"  tree ID        a tree blob (64-hex id, or a snapshot for its root) as JSON:\n"
	"                 its child ids and its nodes as in 'ls --json', with each\n"
	"                 node's subtree, content blobs and xattrs (docs/json.md)\n"
	"  blob ID        the plaintext of a data blob (64-hex id), raw bytes\n";

static int cat_config(repo *r)
{
	json j;
	json_init(&j, stdout);
	report_config(&j, repo_get_config(r));
	json_finish(&j);
	return 0;
}

static int cat_snapshot(repo *r, const char *spec)
{
	snapshot *s;
	idmap prot = IDMAP_INIT;
	int rc = snapsel_find(r, NULL, spec, &s, NULL);
	if (rc < 0)
		return rc;
	if ((rc = repo_load_protected(r, &prot)) == 0) {
		json j;
		json_init(&j, stdout);
		report_snapshot(&j, s, idmap_get(&prot, s->id) != NULL);
		json_finish(&j);
	}
	idmap_release(&prot);
	snapshot_free(s);
	return rc;
}

static int parse_id(uint8_t id[32], const char *s)
{
	if (strlen(s) != 64 || hex_decode(id, s, 32) < 0)
		return err_set(-DV_EUSAGE, "'%s' is not a blob id (64 hex digits)", s);
	return 0;
}

static int cat_tree(repo *r, const char *spec)
{
	uint8_t id[32];
	int rc;
	/* a full id names a tree if there is one, else a snapshot */
	if (strlen(spec) == 64 && hex_decode(id, spec, 32) == 0 && repo_has_blob(r, id)) {
		rc = 0;
	} else {
		snapshot *s;
		if ((rc = snapsel_find(r, NULL, spec, &s, NULL)) < 0)
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
		report_node(&j, &t, &t.nodes[i], NULL, 0, REPORT_NODE_STORAGE);
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
