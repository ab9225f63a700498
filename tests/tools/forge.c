/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * forge: writes a hostile but well-formed snapshot into a repository, as
 * someone holding the key could, for the restore safety tests.
 *
 *   forge REPO traversal   root tree with ".", "..", "a/b", "ok" (a safe
 *                          file), "sub/" holding "..", and "x\0y"
 *   forge REPO badlink     a symlink whose target holds a NUL byte
 *
 * The password comes from $DVALIN_PASSWORD.  Prints the snapshot id.
 */
#include "archive/tree.h"
#include "base/err.h"
#include "base/hex.h"
#include "base/strlist.h"
#include "core/blob.h"
#include "repo/repo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static tree_node mk(const char *name, size_t len, int type)
{
	tree_node n;
	memset(&n, 0, sizeof(n));
	n.name = (const uint8_t *)name;
	n.name_len = len;
	n.type = (uint8_t)type;
	n.mode = type == NODE_DIR ? 0755 : 0644;
	n.mtime = 1700000000;
	return n;
}

static int save_tree(repo *r, tree_writer *w, uint8_t id[32])
{
	buf p = BUF_INIT;
	int rc = tree_writer_finish(w, &p);
	if (rc == 0) {
		repo_blob_id(r, id, p.data, p.len);
		rc = repo_save_blob(r, BLOB_TREE, id, p.data, p.len);
	}
	buf_release(&p);
	return rc;
}

/* A file node holding text (one chunk). */
static int file_node(repo *r, tree_writer *w, tree_node *n, tree_seg *seg, const char *text)
{
	uint8_t id[32];
	size_t len = strlen(text);
	repo_blob_id(r, id, text, len);
	int rc = repo_save_blob(r, BLOB_DATA, id, text, len);
	rc = rc ?: tree_writer_ref(w, id, &seg->ref);
	seg->len = len;
	n->segs = seg;
	n->nsegs = 1;
	n->size = len;
	return rc;
}

static int traversal(repo *r, uint8_t root[32])
{
	tree_writer w = TREE_WRITER_INIT, sw = TREE_WRITER_INIT;
	tree_seg segs[6];
	uint8_t sub[32];
	int rc = 0;
	/* sub/ holds an entry named ".." with content */
	tree_node n = mk("..", 2, NODE_FILE);
	rc = rc ?: file_node(r, &sw, &n, &segs[0], "escaped via sub/..\n");
	rc = rc ?: tree_writer_add(&sw, &n);
	rc = rc ?: save_tree(r, &sw, sub);

	n = mk(".", 1, NODE_FILE);
	rc = rc ?: file_node(r, &w, &n, &segs[1], "dot\n");
	rc = rc ?: tree_writer_add(&w, &n);
	n = mk("..", 2, NODE_FILE);
	rc = rc ?: file_node(r, &w, &n, &segs[2], "escaped via ..\n");
	rc = rc ?: tree_writer_add(&w, &n);
	n = mk("a/b", 3, NODE_FILE);
	rc = rc ?: file_node(r, &w, &n, &segs[3], "slash in name\n");
	rc = rc ?: tree_writer_add(&w, &n);
	n = mk("ok", 2, NODE_FILE);
	rc = rc ?: file_node(r, &w, &n, &segs[4], "safe\n");
	rc = rc ?: tree_writer_add(&w, &n);
	n = mk("sub", 3, NODE_DIR);
	rc = rc ?: tree_writer_ref(&w, sub, &n.subtree);
	rc = rc ?: tree_writer_add(&w, &n);
	n = mk("x\0y", 3, NODE_FILE);
	rc = rc ?: file_node(r, &w, &n, &segs[5], "nul in name\n");
	rc = rc ?: tree_writer_add(&w, &n);
	rc = rc ?: save_tree(r, &w, root);
	tree_writer_release(&w);
	tree_writer_release(&sw);
	return rc;
}

static int badlink(repo *r, uint8_t root[32])
{
	tree_writer w = TREE_WRITER_INIT;
	tree_node n = mk("l", 1, NODE_SYMLINK);
	n.target = (const uint8_t *)"/etc\0/passwd";
	n.target_len = 12;
	int rc = tree_writer_add(&w, &n);
	rc = rc ?: save_tree(r, &w, root);
	tree_writer_release(&w);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 3 || !getenv("DVALIN_PASSWORD")) {
		fprintf(stderr, "usage: DVALIN_PASSWORD=... forge REPO traversal|badlink\n");
		return 2;
	}
	repo *r;
	int rc = repo_open(&r, argv[1], getenv("DVALIN_PASSWORD"), 3);
	if (rc < 0) {
		fprintf(stderr, "forge: %s\n", err_msg(rc));
		return 1;
	}
	snapshot *s = snapshot_new();
	rc = !s ? -12 : strcmp(argv[2], "traversal") == 0 ? traversal(r, s->tree) : badlink(r, s->tree);
	rc = rc ?: repo_flush(r);
	if (rc == 0) {
		s->host = strdup("forged");
		s->user = strdup("mallory");
		s->time = time(NULL);
		rc = strlist_add(&s->paths, &s->npaths, "/");
		rc = rc ?: repo_save_snapshot(r, s);
	}
	if (rc == 0) {
		char hex[65];
		hex_encode(hex, s->id, 32);
		printf("%s\n", hex);
	} else {
		fprintf(stderr, "forge: %s\n", err_msg(rc));
	}
	snapshot_free(s);
	repo_free(r);
	return rc ? 1 : 0;
}
