/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * snapfs: a snapshot read like a file system.  Resolves a path to its
 * node (with the chain of trees on the way) and reads a file's contents
 * at any offset.  The one reader of snapshot contents for mount, dump,
 * drill, diff, find and the web UI's browsing.
 *
 * Caches: decoded trees and plaintext data blobs are kept in two bounded
 * LRU caches (base/idcache.h), shared by every session of a snapfs.  A
 * read fetches and decrypts only the blobs its range touches; holes read
 * as zeros and fetch nothing.  A blob or tree handed out is held until
 * released, and is never evicted while held, so memory is the two bounds
 * plus what callers hold at once.
 *
 * Threads: a snapfs is shared; each thread that reads makes its own
 * session (snapfs_session_new: its own repository session, so its own
 * decompression context and open packs) and uses it alone.  Trees and
 * files handed out are read-only and may be used from any thread while
 * held.  snapfs_free() runs when no session is left.
 *
 * Ownership: a snapfs borrows its repository, which must outlive it.
 * Hostile input: every tree is decoded by archive/tree.c (bounds-checked);
 * a chunk whose plaintext length differs from its segment fails the read
 * with -DV_ECORRUPT; paths deeper than TREE_MAX_DEPTH are refused.
 */
#ifndef DV_JOBS_SNAPFS_H
#define DV_JOBS_SNAPFS_H

#include <stddef.h>
#include <stdint.h>

#include "../archive/tree.h"
#include "../base/idcache.h"
#include "../repo/repo.h"

typedef struct snapfs snapfs;
typedef struct snapfs_session snapfs_session;

typedef struct {
	size_t tree_cache; /* bytes of decoded trees kept unheld */
	size_t blob_cache; /* bytes of plaintext data blobs kept unheld */
	int verify;        /* re-hash every blob fetched against its id */
} snapfs_params;

#define SNAPFS_PARAMS_INIT { (size_t)64 << 20, (size_t)64 << 20, 0 }

int snapfs_new(snapfs **out, repo *r, const snapfs_params *p);
/* NULL-safe; every session, tree and file must be released first. */
void snapfs_free(snapfs *fs);
repo *snapfs_repo(snapfs *fs);

int snapfs_session_new(snapfs_session **out, snapfs *fs);
/* NULL-safe. */
void snapfs_session_free(snapfs_session *s);
snapfs *snapfs_session_fs(snapfs_session *s);

/* A decoded tree from the cache: read-only while held. */
typedef struct {
	idcache_entry entry; /* entry.id is the tree's id */
	tree t;
} snapfs_tree;

/* The tree id, held (from the cache, else loaded and decoded). */
int snapfs_tree_get(snapfs_session *s, const uint8_t id[32], const snapfs_tree **out);
/* Drops a hold (NULL-safe). */
void snapfs_tree_put(snapfs *fs, const snapfs_tree *t);
/*
 * The listing of directory node n of t, held: loads the subtree that n
 * names (-DV_ECORRUPT if n is not a directory or names no child).
 */
int snapfs_subtree_get(snapfs_session *s, const snapfs_tree *t, const tree_node *n,
		       const snapfs_tree **out);

/*
 * Where a path leads: the chain of trees from the root to it.  chain[i]
 * is the listing of the directory at depth i (chain[0] the root's), held;
 * nodes[i] is the node of component i + 1, in chain[i].  For a directory
 * the chain goes on to its own listing (chain[depth]), which is `dir`.
 * node is NULL for the root "/", which has no node (snapfs_root_node()
 * gives it one).
 */
typedef struct {
	const snapfs_tree **chain;
	size_t nchain;
	const tree_node **nodes;
	size_t depth;              /* components: 0 for "/" */
	const tree_node *node;     /* nodes[depth - 1] */
	const snapfs_tree *parent; /* chain[depth - 1], NULL for the root */
	const snapfs_tree *dir;    /* its own listing when a directory, else NULL */
} snapfs_path;

#define SNAPFS_PATH_INIT { NULL, 0, NULL, 0, NULL, NULL, NULL }

/*
 * Resolves path (len bytes; absolute or not: components split at '/',
 * empty ones and "." skipped) from the root tree.  -DV_ENOTFOUND when a
 * component does not exist, -ENOTDIR when one before the last is not a
 * directory, -DV_EUSAGE for "..", -ELOOP beyond TREE_MAX_DEPTH; each with
 * a message naming the path.  out is released by snapfs_path_release()
 * on success and left empty on failure.
 */
int snapfs_lookup(snapfs_session *s, const uint8_t root[32], const void *path, size_t len,
		  snapfs_path *out);
void snapfs_path_release(snapfs *fs, snapfs_path *p);

/*
 * The node the root directory of a snapshot shows: a directory 0755 owned
 * by root, with the snapshot's time as its times (a snapshot's root "/"
 * is not recorded as a node of its own).
 */
void snapfs_root_node(tree_node *out, int64_t time, uint32_t time_ns);

/*
 * An open file: its segments with their ids and offsets, copied from the
 * node, so it needs no tree held.  Read-only once opened: threads may read
 * through one file at once, each with its own session.
 */
typedef struct snapfs_file snapfs_file;

/* n must be a regular file node of t. */
int snapfs_file_open(snapfs_file **out, const tree *t, const tree_node *n);
/* NULL-safe. */
void snapfs_file_close(snapfs_file *f);
uint64_t snapfs_file_size(const snapfs_file *f);
/*
 * Reads len bytes at off into dst; *out_n is less than len only at the
 * end of the file (0 at or past it).  Holes are zeros, fetched from
 * nowhere; each chunk touched comes from the blob cache or is fetched.
 */
int snapfs_file_read(snapfs_session *s, snapfs_file *f, uint64_t off, void *dst, size_t len,
		     size_t *out_n);
/*
 * The extents of the file, in order: extent i (< snapfs_file_extents())
 * is len bytes at off, a hole when hole is set.  Adjacent extents of the
 * same kind are not merged.
 */
size_t snapfs_file_extents(const snapfs_file *f);
void snapfs_file_extent(const snapfs_file *f, size_t i, uint64_t *off, uint64_t *len, int *hole);
/*
 * lseek's SEEK_DATA (want_data) and SEEK_HOLE: the first offset at or
 * after off that is data, or a hole (the end of the file counts as one).
 * -ENXIO when off is at or past the end, or no data follows.
 */
int snapfs_file_seek(const snapfs_file *f, uint64_t off, int want_data, uint64_t *out);
/* The id of extent i's chunk (NULL for a hole). */
const uint8_t *snapfs_file_extent_id(const snapfs_file *f, size_t i);

typedef struct {
	uint64_t trees_loaded, tree_hits;
	uint64_t blobs_fetched, blob_hits;
	uint64_t bytes_fetched; /* plaintext bytes of the blobs fetched */
	size_t tree_cache_bytes, blob_cache_bytes; /* cached now */
} snapfs_stats;

void snapfs_get_stats(snapfs *fs, snapfs_stats *out);

#endif
