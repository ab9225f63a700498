/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * forge: writes a hostile but well-formed snapshot into a repository, as
 * someone holding the key could, for the safety and robustness tests.
 *
 *   forge REPO traversal      root tree with ".", "..", "a/b", "ok" (a safe
 *                             file), "sub/" holding "..", and "x\0y"
 *   forge REPO badlink        a symlink whose target holds a NUL byte
 *   forge REPO deep N         directories "d" nested so that the deepest
 *                             entry, the file "f" (holding "deep\n"), is at
 *                             depth N ("/d/.../d/f" has N components)
 *   forge REPO expand N [SIZE]  trees sharing subtrees: tree k holds "a" and
 *                             "b", both tree k-1; tree 0 holds the file "f"
 *                             of SIZE bytes (default 1; 0: empty), so N + 1
 *                             distinct trees describe 2^N files
 *   forge REPO cycle          a tree stored under an id of our choosing that
 *                             lists itself as its subdirectory "loop" (ids
 *                             are only checked with --verify)
 *   forge REPO wide D F       D directories "dNNNN" of F files each ("fD_N",
 *                             all holding one shared chunk): D * F files
 *                             in D + 1 distinct trees, to list quickly
 *   forge REPO rawsnap BODYHEX [TREEHEX]
 *                             a snapshot file whose sealed body is exactly
 *                             BODYHEX (root tree: TREEHEX, or a new empty one)
 *
 * The password comes from $DVALIN_PASSWORD.  Prints the snapshot id.
 */
#include "archive/tree.h"
#include "base/err.h"
#include "base/hex.h"
#include "base/strlist.h"
#include "core/blob.h"
#include "core/crypto.h"
#include "repo/format.h"
#include "repo/key.h"
#include "repo/repo.h"
#include "repo/session.h"
#include "repo/snapshots.h"

#include <dirent.h>
#include <errno.h>
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
	n.nlink = 1;
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

/* A file node holding len bytes of data (one chunk). */
static int file_node_n(repo *r, tree_writer *w, tree_node *n, tree_seg *seg, const void *data,
		       size_t len)
{
	uint8_t id[32];
	n->size = len;
	n->segs = seg;
	n->nsegs = len ? 1 : 0;
	if (!len)
		return 0;
	repo_blob_id(r, id, data, len);
	int rc = repo_save_blob(r, BLOB_DATA, id, data, len);
	rc = rc ?: tree_writer_ref(w, id, &seg->ref);
	seg->len = len;
	return rc;
}

static int file_node(repo *r, tree_writer *w, tree_node *n, tree_seg *seg, const char *text)
{
	return file_node_n(r, w, n, seg, text, strlen(text));
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

/* A tree holding one directory entry called name, the subtree sub. */
static int dir_tree(repo *r, const char *name, const uint8_t sub[32], uint8_t out[32])
{
	tree_writer w = TREE_WRITER_INIT;
	tree_node n = mk(name, strlen(name), NODE_DIR);
	int rc = tree_writer_ref(&w, sub, &n.subtree);
	rc = rc ?: tree_writer_add(&w, &n);
	rc = rc ?: save_tree(r, &w, out);
	tree_writer_release(&w);
	return rc;
}

static int deep(repo *r, long depth, uint8_t root[32])
{
	tree_writer w = TREE_WRITER_INIT;
	tree_seg seg;
	uint8_t id[32];
	tree_node n = mk("f", 1, NODE_FILE);
	int rc = depth < 1 ? -EINVAL : 0;
	rc = rc ?: file_node(r, &w, &n, &seg, "deep\n");
	rc = rc ?: tree_writer_add(&w, &n);
	rc = rc ?: save_tree(r, &w, id);
	tree_writer_release(&w);
	for (long i = 1; rc == 0 && i < depth; i++)
		rc = dir_tree(r, "d", id, id);
	memcpy(root, id, 32);
	return rc;
}

static int expand(repo *r, long levels, long size, uint8_t root[32])
{
	tree_writer w = TREE_WRITER_INIT;
	tree_seg seg;
	uint8_t id[32];
	if (levels < 0 || levels > 1000 || size < 0 || size > (1L << 20))
		return -EINVAL;
	char *data = malloc((size_t)size + 1);
	if (!data)
		return -ENOMEM;
	memset(data, 'x', (size_t)size);
	tree_node n = mk("f", 1, NODE_FILE);
	int rc = file_node_n(r, &w, &n, &seg, data, (size_t)size);
	free(data);
	rc = rc ?: tree_writer_add(&w, &n);
	rc = rc ?: save_tree(r, &w, id);
	for (long i = 0; rc == 0 && i < levels; i++) {
		tree_node a = mk("a", 1, NODE_DIR), b = mk("b", 1, NODE_DIR);
		rc = tree_writer_ref(&w, id, &a.subtree);
		b.subtree = a.subtree;
		rc = rc ?: tree_writer_add(&w, &a);
		rc = rc ?: tree_writer_add(&w, &b);
		rc = rc ?: save_tree(r, &w, id);
	}
	tree_writer_release(&w);
	memcpy(root, id, 32);
	return rc;
}

static int wide(repo *r, long dirs, long files, uint8_t root[32])
{
	if (dirs < 1 || dirs > 100000 || files < 0 || files > 1000000)
		return -EINVAL;
	tree_writer w = TREE_WRITER_INIT, rw = TREE_WRITER_INIT;
	tree_seg seg;
	int rc = 0;
	for (long d = 0; rc == 0 && d < dirs; d++) {
		char dname[32];
		uint8_t id[32];
		for (long f = 0; rc == 0 && f < files; f++) {
			char fname[48];
			snprintf(fname, sizeof(fname), "f%ld_%07ld", d, f);
			tree_node n = mk(fname, strlen(fname), NODE_FILE);
			rc = file_node(r, &w, &n, &seg, "x\n");
			rc = rc ?: tree_writer_add(&w, &n);
		}
		rc = rc ?: save_tree(r, &w, id);
		snprintf(dname, sizeof(dname), "d%05ld", d);
		tree_node n = mk(dname, strlen(dname), NODE_DIR);
		rc = rc ?: tree_writer_ref(&rw, id, &n.subtree);
		rc = rc ?: tree_writer_add(&rw, &n);
	}
	rc = rc ?: save_tree(r, &rw, root);
	tree_writer_release(&w);
	tree_writer_release(&rw);
	return rc;
}

/* The plaintext of a tree whose only entry "loop" is the tree itself. */
static int cycle(repo *r, uint8_t root[32])
{
	tree_writer w = TREE_WRITER_INIT;
	buf p = BUF_INIT;
	int rc = crypto_random(root, 32);
	tree_node n = mk("loop", 4, NODE_DIR);
	rc = rc ?: tree_writer_ref(&w, root, &n.subtree);
	rc = rc ?: tree_writer_add(&w, &n);
	rc = rc ?: tree_writer_finish(&w, &p);
	rc = rc ?: repo_save_blob(r, BLOB_TREE, root, p.data, p.len);
	buf_release(&p);
	tree_writer_release(&w);
	return rc;
}

/* The master keys, from the first key file the password opens. */
static int load_keys(const char *path, crypto_keys *k)
{
	char dir[4096], name[4400];
	snprintf(dir, sizeof(dir), "%s/keys", path);
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	int rc = -DV_EBADKEY;
	for (struct dirent *e; rc < 0 && (e = readdir(d));) {
		uint8_t file[512];
		if (e->d_name[0] == '.')
			continue;
		snprintf(name, sizeof(name), "%s/%s", dir, e->d_name);
		FILE *f = fopen(name, "rb");
		if (!f)
			continue;
		size_t n = fread(file, 1, sizeof(file), f);
		fclose(f);
		rc = key_decode(k, file, n, getenv("DVALIN_PASSWORD"));
	}
	closedir(d);
	return rc;
}

/* A snapshot file with a body of our choosing, sealed as dvalin would. */
static int rawsnap(repo *r, const char *path, const char *bodyhex, const char *treehex)
{
	crypto_keys k;
	uint8_t h[SNAPSHOT_HEADER_LEN] = { 0 }, id[32];
	size_t blen = strlen(bodyhex) / 2;
	int rc = load_keys(path, &k);
	if (rc < 0)
		return rc;
	memcpy(h, SNAPSHOT_MAGIC, MAGIC_LEN);
	le32_put(h + 8, FORMAT_VERSION);
	if (treehex) {
		if (strlen(treehex) != 64 || hex_decode(h + 16, treehex, 32) < 0)
			return -EINVAL;
	} else {
		tree_writer w = TREE_WRITER_INIT;
		rc = save_tree(r, &w, h + 16);
		tree_writer_release(&w);
		rc = rc ?: repo_flush(r);
		if (rc < 0)
			return rc;
	}
	uint8_t *body = malloc(blen + 1), *file = malloc(sizeof(h) + blen + CRYPTO_OVERHEAD);
	if (!body || !file)
		rc = -ENOMEM;
	else if (strlen(bodyhex) % 2 || (blen && hex_decode(body, bodyhex, blen) < 0))
		rc = -EINVAL;
	else
		memcpy(file, h, sizeof(h));
	rc = rc ?: crypto_seal(file + sizeof(h), k.enc, h, sizeof(h), body, blen);
	if (rc == 0) {
		char hex[65], name[80];
		crypto_sha256(id, file, sizeof(h) + blen + CRYPTO_OVERHEAD);
		hex_encode(hex, id, 32);
		snprintf(name, sizeof(name), "snapshots/%s", hex);
		rc = backend_put(repo_backend(r), name, BACKEND_META, file,
				 sizeof(h) + blen + CRYPTO_OVERHEAD);
		if (rc == 0)
			printf("%s\n", hex);
	}
	crypto_wipe(&k, sizeof(k));
	free(body);
	free(file);
	return rc;
}

static long arg_long(int argc, char **argv, int i, long dflt)
{
	return i < argc ? strtol(argv[i], NULL, 10) : dflt;
}

int main(int argc, char **argv)
{
	if (argc < 3 || !getenv("DVALIN_PASSWORD")) {
		fprintf(stderr, "usage: DVALIN_PASSWORD=... forge REPO traversal|badlink|deep N|"
				"expand N [SIZE]|cycle|wide D F|rawsnap BODYHEX [TREEHEX]\n");
		return 2;
	}
	repo *r;
	backend *be;
	int rc = backend_open(argv[1], 0, &be);
	rc = rc ?: repo_open(&r, be, getenv("DVALIN_PASSWORD"), 3);
	if (rc < 0) {
		fprintf(stderr, "forge: %s\n", err_msg(rc));
		return 1;
	}
	const char *mode = argv[2];
	if (strcmp(mode, "rawsnap") == 0) {
		rc = argc < 4 ? -EINVAL : rawsnap(r, argv[1], argv[3], argc > 4 ? argv[4] : NULL);
		if (rc < 0)
			fprintf(stderr, "forge: %s\n", err_msg(rc));
		repo_free(r);
		return rc ? 1 : 0;
	}
	snapshot *s = snapshot_new();
	if (!s)
		rc = -ENOMEM;
	else if (strcmp(mode, "traversal") == 0)
		rc = traversal(r, s->tree);
	else if (strcmp(mode, "badlink") == 0)
		rc = badlink(r, s->tree);
	else if (strcmp(mode, "deep") == 0)
		rc = deep(r, arg_long(argc, argv, 3, 0), s->tree);
	else if (strcmp(mode, "expand") == 0)
		rc = expand(r, arg_long(argc, argv, 3, -1), arg_long(argc, argv, 4, 1), s->tree);
	else if (strcmp(mode, "cycle") == 0)
		rc = cycle(r, s->tree);
	else if (strcmp(mode, "wide") == 0)
		rc = wide(r, arg_long(argc, argv, 3, 0), arg_long(argc, argv, 4, 0), s->tree);
	else
		rc = -EINVAL;
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
