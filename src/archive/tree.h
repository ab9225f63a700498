/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tree: the codec of tree blobs, one per directory (docs/format.md,
 * "Tree blob").
 *
 * A tree plaintext is the child id region (le32 n | n distinct ids, in
 * order of first use) followed by the body: u8 version | varint count |
 * nodes sorted by name (bytewise, strictly ascending).  Nodes refer to
 * blobs by 1-based position in the child region (0 = a hole), so each id
 * is stored once and the region lists everything the tree references.
 *
 * The codec checks structure (bounds, order, references, sizes); it does
 * not judge names: whether ".." or "a/b" may be created is the decision
 * of whoever turns nodes into files, FUSE entries or archive paths, each
 * with tree_name_safe().  Pure: no I/O.
 */
#ifndef DV_ARCHIVE_TREE_H
#define DV_ARCHIVE_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "../base/buf.h"

enum node_type {
	NODE_FILE = 1,
	NODE_DIR = 2,
	NODE_SYMLINK = 3,
	NODE_FIFO = 4,
	NODE_CHR = 5,
	NODE_BLK = 6,
	NODE_SOCK = 7,
};

#define TREE_VERSION 1
#define TREE_NAME_MAX 255
#define TREE_TARGET_MAX 65536
/*
 * The deepest directory nesting a snapshot may have, counted from its root
 * "/" (so "/a" is at depth 1).  backup does not descend below it (the entry
 * is skipped with a warning, exit 3); every reader of trees (ls, restore,
 * check, repair, diff, mount, ...) accepts every depth up to it and refuses
 * a deeper, forged one with an error naming the path.  One constant, so a
 * depth that backup writes is one that every command reads.
 */
#define TREE_MAX_DEPTH 1024

typedef struct {
	uint64_t len;
	uint32_t ref; /* 0: a hole of len bytes; else child position (1-based) */
} tree_seg;

/* A node; byte ranges point into a tree's plaintext or the caller's memory. */
typedef struct {
	const uint8_t *name;
	size_t name_len;
	uint8_t type;
	uint32_t mode; /* permission bits incl. setuid/setgid/sticky */
	uint32_t uid, gid;
	const uint8_t *user, *group;
	size_t user_len, group_len;
	int64_t mtime, ctime;
	uint32_t mtime_ns, ctime_ns;
	uint64_t dev, ino, nlink, size, rdev;
	const uint8_t *target; /* symlink */
	size_t target_len;
	const uint8_t *xattrs; /* encoded: varint n | (str name | str value)* */
	size_t xattrs_len;
	tree_seg *segs; /* file */
	size_t nsegs;
	uint32_t subtree; /* dir: child position */
	/*
	 * file: the contents of a block device read with --read-devices; rdev
	 * is the device's number (the extension field TREE_EXT_DEVICE).
	 */
	uint8_t device;
} tree_node;

/* Fields of a node's extension bytes (docs/format.md, "Node extension"). */
#define TREE_EXT_DEVICE 1

/* Iterates the encoded xattr list of a node. */
typedef struct {
	const uint8_t *p, *end;
	uint64_t left;
} tree_xattr_iter;

void tree_xattr_iter_init(tree_xattr_iter *it, const tree_node *n);
/* 1 and name/value set while there is one, 0 at the end, <0 if damaged. */
int tree_xattr_next(tree_xattr_iter *it, const uint8_t **name, size_t *name_len,
		    const uint8_t **value, size_t *value_len);
/* Encodes an xattr list into out (for capture). */
int tree_xattrs_begin(buf *out);
int tree_xattrs_add(buf *out, const void *name, size_t nlen, const void *value, size_t vlen);

typedef struct {
	buf children; /* le32 count | ids */
	buf body;
	uint32_t *slots; /* hash of child ids -> position, open addressing */
	size_t slot_cap;
	uint32_t nchildren;
	uint64_t count;
	buf last_name;
	int has_last;
} tree_writer;

#define TREE_WRITER_INIT { BUF_INIT, BUF_INIT, NULL, 0, 0, 0, BUF_INIT, 0 }

/* The position of id in the child region, adding it when new. */
int tree_writer_ref(tree_writer *w, const uint8_t id[32], uint32_t *out_ref);
/* Appends a node; names must come in strictly ascending order. */
int tree_writer_add(tree_writer *w, const tree_node *n);
/* The plaintext (child region then body) into out; the writer is reset. */
int tree_writer_finish(tree_writer *w, buf *out);
void tree_writer_release(tree_writer *w);

typedef struct {
	buf plain;
	const uint8_t *children;
	uint32_t nchildren;
	tree_node *nodes;
	size_t n;
} tree;

#define TREE_INIT { BUF_INIT, NULL, 0, NULL, 0 }

/* Decodes plain (taking ownership of its storage) into t. */
int tree_decode(tree *t, buf *plain);
void tree_release(tree *t);
/* The id of child position ref (1-based); NULL if out of range. */
const uint8_t *tree_child(const tree *t, uint32_t ref);
/* Index of the node called name, or -1. */
long tree_find(const tree *t, const void *name, size_t len);
/* The order of nodes in a tree: bytewise, a prefix first (<0, 0, >0). */
int tree_name_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn);
/*
 * 1 when name can stand as one file name: not empty, not "." or "..",
 * no '/' and no NUL.  Readers that create or present entries refuse the
 * others (a forged snapshot can hold them).
 */
int tree_name_safe(const uint8_t *name, size_t len);

#endif
