/* SPDX-License-Identifier: BSD-2-Clause */
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include "mount.h"
#include "snapsel.h"
#include "../archive/meta.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* Snapshot contents never change: the kernel may keep what it learnt. */
#define TIMEOUT_CONTENT 86400.0
/* The virtual directories are fixed for the mount, but stay cheap to re-ask. */
#define TIMEOUT_VIRTUAL 1.0

enum { K_VDIR = 1, K_LINK, K_SNAPROOT, K_NODE };

typedef struct minode minode;

typedef struct {
	char *name;
	minode *ino;
} vchild;

struct minode {
	int kind;
	uint8_t type;       /* K_NODE: the node's type */
	uint64_t nlookup;   /* the kernel's references (K_NODE), under the lock */
	uint64_t st_ino;    /* see entry_number() */
	uint32_t snap;      /* K_SNAPROOT, K_NODE: index in the snapshot list */
	uint32_t index;     /* K_NODE: the node's index in tree */
	uint8_t tree[32];   /* K_NODE: the listing that holds the node */
	uint8_t sub[32];    /* directories: their own listing */
	vchild *kids;       /* K_VDIR, sorted by name */
	size_t nkids;
	char *target;       /* K_LINK */
	uint64_t hl_dev, hl_ino; /* K_NODE files with several names */
	minode *hl_next;
	minode *all_next;   /* the permanent inodes, for freeing */
	LIST_ENTRY(minode) live_link; /* the live K_NODE inodes, for freeing at the end */
};

/* An open file. The kernel may still owe the release of some at unmount
 * (it sends RELEASE after close(2) returns), so the mount keeps them listed
 * and frees what is left at the end. */
typedef struct mfile {
	snapfs_file *f;
	LIST_ENTRY(mfile) link;
} mfile;

typedef struct {
	repo *r;
	snapfs *fs;
	snapshot **snaps;
	size_t nsnaps;
	minode *root, *permanent;
	LIST_HEAD(, minode) live;      /* K_NODE inodes the kernel holds, under the lock */
	LIST_HEAD(, mfile) open_files; /* under the lock */
	uint64_t next_number; /* of the permanent inodes */
	pthread_key_t key;  /* the thread's snapfs_session */
	pthread_mutex_t lock;
	minode **hl;        /* files with several names: (snap, dev, ino) -> inode */
	size_t hl_cap, hl_n;
	int64_t mount_time;
} mctx;

/* ---------- inodes ---------- */

static minode *ino_of(mctx *m, fuse_ino_t id)
{
	return id == FUSE_ROOT_ID ? m->root : (minode *)(uintptr_t)id;
}

static fuse_ino_t id_of(mctx *m, minode *i)
{
	return i == m->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)i;
}

static minode *permanent(mctx *m, int kind)
{
	minode *i = calloc(1, sizeof(*i));
	if (!i)
		return NULL;
	i->kind = kind;
	i->st_ino = ++m->next_number; /* 1 is the root, made first */
	i->all_next = m->permanent;
	m->permanent = i;
	return i;
}

static int add_child(minode *dir, const char *name, minode *child)
{
	vchild *k = realloc(dir->kids, (dir->nkids + 1) * sizeof(*k));
	if (!k)
		return -ENOMEM;
	dir->kids = k;
	if (!(k[dir->nkids].name = strdup(name)))
		return -ENOMEM;
	k[dir->nkids++].ino = child;
	return 0;
}

static size_t hl_bucket(const mctx *m, uint32_t snap, uint64_t dev, uint64_t ino)
{
	uint64_t key[3] = { snap, dev, ino };
	return (size_t)XXH3_64bits(key, sizeof(key)) & (m->hl_cap - 1);
}

/* Under the lock: the inode of a hard-linked file already known, held once more. */
static minode *hl_find(mctx *m, uint32_t snap, uint64_t dev, uint64_t ino)
{
	if (!m->hl_cap)
		return NULL;
	for (minode *i = m->hl[hl_bucket(m, snap, dev, ino)]; i; i = i->hl_next)
		if (i->snap == snap && i->hl_dev == dev && i->hl_ino == ino)
			return i;
	return NULL;
}

static void hl_insert(mctx *m, minode *n)
{
	if (m->hl_n >= m->hl_cap / 2) {
		size_t cap = m->hl_cap ? m->hl_cap * 2 : 1024;
		minode **v = calloc(cap, sizeof(*v));
		if (v) {
			minode **old = m->hl;
			size_t ocap = m->hl_cap;
			m->hl = v;
			m->hl_cap = cap;
			for (size_t b = 0; b < ocap; b++) {
				for (minode *i = old[b], *next; i; i = next) {
					next = i->hl_next;
					size_t k = hl_bucket(m, i->snap, i->hl_dev, i->hl_ino);
					i->hl_next = v[k];
					v[k] = i;
				}
			}
			free(old);
		}
	}
	if (!m->hl_cap)
		return; /* no table: the names just get inodes of their own */
	size_t k = hl_bucket(m, n->snap, n->hl_dev, n->hl_ino);
	n->hl_next = m->hl[k];
	m->hl[k] = n;
	m->hl_n++;
}

static void hl_remove(mctx *m, minode *n)
{
	if (!m->hl_cap)
		return;
	minode **p = &m->hl[hl_bucket(m, n->snap, n->hl_dev, n->hl_ino)];
	for (; *p; p = &(*p)->hl_next) {
		if (*p == n) {
			*p = n->hl_next;
			m->hl_n--;
			return;
		}
	}
}

/*
 * Inode numbers are stable: the same for an entry whenever it is looked
 * up or listed, whatever the kernel forgot in between.  The permanent
 * inodes count from 1 (the root); an entry of a snapshot is a hash of its
 * directory's number and its index there (so two copies of one subtree
 * differ; bit 62 keeps it above the counted ones); the names of a
 * hard-linked file share a hash of (snapshot, device, inode) with bit 63.
 */
static uint64_t entry_number(uint64_t dir, size_t index)
{
	uint64_t key[2] = { dir, index };
	return (XXH3_64bits(key, sizeof(key)) & ~(3ULL << 62)) | (1ULL << 62);
}

static uint64_t hl_number(uint32_t snap, uint64_t dev, uint64_t ino)
{
	uint64_t key[3] = { snap, dev, ino };
	return XXH3_64bits(key, sizeof(key)) | (1ULL << 63);
}

static uint64_t number_of(const minode *dir, uint32_t snap, const tree_node *n, size_t index)
{
	return n->type == NODE_FILE && n->nlink > 1 ? hl_number(snap, n->dev, n->ino)
						    : entry_number(dir->st_ino, index);
}

/* Under the lock: an inode the kernel now holds, or no longer. */
static void live_add(mctx *m, minode *i)
{
	LIST_INSERT_HEAD(&m->live, i, live_link);
}

static void live_remove(mctx *m, minode *i)
{
	LIST_REMOVE(i, live_link);
	if (i->hl_ino)
		hl_remove(m, i);
}

/* ---------- sessions and listings ---------- */

static snapfs_session *session(mctx *m)
{
	snapfs_session *s = pthread_getspecific(m->key);
	if (!s && snapfs_session_new(&s, m->fs) == 0 && pthread_setspecific(m->key, s) != 0) {
		snapfs_session_free(s);
		s = NULL;
	}
	return s;
}

static void session_free(void *s)
{
	snapfs_session_free(s);
}

/* A code for the kernel: errno values pass, ours are I/O errors. */
static int kerr(int rc)
{
	if (rc == -ENOMEM || rc == -ENOENT || rc == -ENOTDIR || rc == -ELOOP || rc == -EINTR)
		return -rc;
	return EIO;
}

static void log_damage(int rc)
{
	if (rc != -ENOMEM)
		log_error("%s", err_msg(rc));
}

/* The listing of a snapshot directory inode, held. */
static int listing(mctx *m, snapfs_session *s, const minode *i, const snapfs_tree **out)
{
	const uint8_t *id = i->kind == K_SNAPROOT ? m->snaps[i->snap]->tree : i->sub;
	int rc = snapfs_tree_get(s, id, out);
	if (rc < 0)
		log_damage(rc);
	return rc;
}

/* The node of a K_NODE inode, in its listing (held in *t). */
static int node_of(mctx *m, snapfs_session *s, const minode *i, const snapfs_tree **t,
		   const tree_node **out)
{
	int rc = snapfs_tree_get(s, i->tree, t);
	if (rc < 0) {
		log_damage(rc);
		return rc;
	}
	if (i->index >= (*t)->t.n) { /* cannot happen: the index came from this tree */
		snapfs_tree_put(m->fs, *t);
		return -EIO;
	}
	*out = &(*t)->t.nodes[i->index];
	return 0;
}

/* ---------- attributes ---------- */

static void virtual_stat(mctx *m, const minode *i, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = i->st_ino;
	st->st_mode = i->kind == K_LINK ? S_IFLNK | 0777 : S_IFDIR | 0555;
	st->st_nlink = i->kind == K_LINK ? 1 : 2;
	st->st_size = i->kind == K_LINK ? (off_t)strlen(i->target) : 0;
	st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = (time_t)m->mount_time;
	st->st_blksize = 4096;
}

/* The attributes of any inode; *timeout how long the kernel may keep them. */
static int attr_of(mctx *m, snapfs_session *s, const minode *i, struct stat *st, double *timeout)
{
	*timeout = TIMEOUT_CONTENT;
	if (i->kind == K_VDIR || i->kind == K_LINK) {
		virtual_stat(m, i, st);
		*timeout = TIMEOUT_VIRTUAL;
		return 0;
	}
	if (i->kind == K_SNAPROOT) {
		tree_node n;
		snapfs_root_node(&n, m->snaps[i->snap]->time, m->snaps[i->snap]->time_nsec);
		meta_to_stat(st, &n);
		st->st_ino = i->st_ino;
		return 0;
	}
	const snapfs_tree *t;
	const tree_node *n;
	int rc = node_of(m, s, i, &t, &n);
	if (rc < 0)
		return rc;
	meta_to_stat(st, n);
	st->st_ino = i->st_ino;
	snapfs_tree_put(m->fs, t);
	return 0;
}

/*
 * The node of inode i for a request: 0 and *t held, or < 0 with the error
 * replied already.
 */
static int req_node(fuse_req_t req, mctx *m, const minode *i, const snapfs_tree **t,
		    const tree_node **n)
{
	snapfs_session *s = session(m);
	int rc = s ? node_of(m, s, i, t, n) : -ENOMEM;
	if (rc < 0)
		fuse_reply_err(req, kerr(rc));
	return rc;
}

/* ---------- operations ---------- */

static void op_init(void *ud, struct fuse_conn_info *conn)
{
	(void)ud;
	/* ACLs: the kernel asks for system.posix_acl_* and enforces them */
	if (conn->capable & FUSE_CAP_POSIX_ACL)
		conn->want |= FUSE_CAP_POSIX_ACL;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS; /* every entry would become an inode */
}

/* The inode of node k of listing t of directory dir, held once more: new, or a hard link's. */
static minode *node_inode(mctx *m, const minode *dir, const snapfs_tree *t, size_t k)
{
	const tree_node *n = &t->t.nodes[k];
	int linked = n->type == NODE_FILE && n->nlink > 1;
	minode *i = calloc(1, sizeof(*i));
	if (!i)
		return NULL;
	i->kind = K_NODE;
	i->type = n->type;
	i->nlookup = 1;
	i->snap = dir->snap;
	i->index = (uint32_t)k;
	i->st_ino = number_of(dir, dir->snap, n, k);
	memcpy(i->tree, t->entry.id, 32);
	if (n->type == NODE_DIR) {
		const uint8_t *sub = tree_child(&t->t, n->subtree);
		if (!sub) {
			free(i);
			return NULL;
		}
		memcpy(i->sub, sub, 32);
	}
	if (linked) {
		i->hl_dev = n->dev;
		i->hl_ino = n->ino;
	}
	pthread_mutex_lock(&m->lock);
	minode *have = linked ? hl_find(m, i->snap, n->dev, n->ino) : NULL;
	if (have) { /* every name of the file is this one inode */
		have->nlookup++;
		free(i);
		i = have;
	} else {
		live_add(m, i);
		if (linked)
			hl_insert(m, i);
	}
	pthread_mutex_unlock(&m->lock);
	return i;
}

/* Drops n of the kernel's references; frees the inode at none. */
static void release_inode(mctx *m, minode *i, uint64_t n)
{
	pthread_mutex_lock(&m->lock);
	i->nlookup = i->nlookup > n ? i->nlookup - n : 0;
	uint64_t left = i->nlookup;
	if (left == 0)
		live_remove(m, i);
	pthread_mutex_unlock(&m->lock);
	if (left == 0)
		free(i);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	mctx *m = fuse_req_userdata(req);
	minode *p = ino_of(m, parent);
	struct fuse_entry_param e;
	memset(&e, 0, sizeof(e));
	if (p->kind == K_VDIR) {
		for (size_t k = 0; k < p->nkids; k++) {
			if (strcmp(p->kids[k].name, name) == 0) {
				e.ino = id_of(m, p->kids[k].ino);
				attr_of(m, NULL, p->kids[k].ino, &e.attr, &e.attr_timeout);
				e.entry_timeout = e.attr_timeout;
				fuse_reply_entry(req, &e);
				return;
			}
		}
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (p->kind != K_SNAPROOT && !(p->kind == K_NODE && p->type == NODE_DIR)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	snapfs_session *s = session(m);
	const snapfs_tree *t;
	int rc = s ? listing(m, s, p, &t) : -ENOMEM;
	if (rc < 0) {
		fuse_reply_err(req, kerr(rc));
		return;
	}
	size_t len = strlen(name);
	long k = tree_find(&t->t, name, len);
	if (k < 0 || !tree_name_safe((const uint8_t *)name, len)) {
		snapfs_tree_put(m->fs, t);
		fuse_reply_err(req, ENOENT);
		return;
	}
	minode *i = node_inode(m, p, t, (size_t)k);
	if (!i) {
		snapfs_tree_put(m->fs, t);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	meta_to_stat(&e.attr, &t->t.nodes[k]);
	e.attr.st_ino = i->st_ino;
	snapfs_tree_put(m->fs, t);
	e.ino = id_of(m, i);
	e.attr_timeout = e.entry_timeout = TIMEOUT_CONTENT;
	if (fuse_reply_entry(req, &e) == -ENOENT)
		release_inode(m, i, 1); /* the request was interrupted: the kernel holds no reference */
}

static void forget_one(mctx *m, fuse_ino_t id, uint64_t n)
{
	minode *i = ino_of(m, id);
	if (i->kind == K_NODE) /* the others are permanent */
		release_inode(m, i, n);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n)
{
	forget_one(fuse_req_userdata(req), ino, n);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	mctx *m = fuse_req_userdata(req);
	for (size_t k = 0; k < count; k++)
		forget_one(m, f[k].ino, f[k].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	mctx *m = fuse_req_userdata(req);
	minode *i = ino_of(m, ino);
	struct stat st;
	double timeout;
	snapfs_session *s = i->kind == K_NODE ? session(m) : NULL;
	int rc = i->kind == K_NODE && !s ? -ENOMEM : attr_of(m, s, i, &st, &timeout);
	if (rc < 0)
		fuse_reply_err(req, kerr(rc));
	else
		fuse_reply_attr(req, &st, timeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	mctx *m = fuse_req_userdata(req);
	minode *i = ino_of(m, ino);
	if (i->kind == K_LINK) {
		fuse_reply_readlink(req, i->target);
		return;
	}
	const snapfs_tree *t;
	const tree_node *n;
	if (i->kind != K_NODE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (req_node(req, m, i, &t, &n) < 0)
		return;
	char *target = n->type == NODE_SYMLINK ? strndup((const char *)n->target, n->target_len) : NULL;
	int nul = target && strlen(target) != n->target_len; /* a forged target */
	snapfs_tree_put(m->fs, t);
	if (!target || nul)
		fuse_reply_err(req, !target && n->type != NODE_SYMLINK ? EINVAL : EIO);
	else
		fuse_reply_readlink(req, target);
	free(target);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	mctx *m = fuse_req_userdata(req);
	minode *i = ino_of(m, ino);
	fi->fh = 0;
	if (i->kind == K_VDIR) {
		fuse_reply_open(req, fi);
		return;
	}
	snapfs_session *s = session(m);
	const snapfs_tree *t;
	int rc = i->kind != K_SNAPROOT && !(i->kind == K_NODE && i->type == NODE_DIR) ? -ENOTDIR
		 : s ? listing(m, s, i, &t) : -ENOMEM;
	if (rc < 0) {
		fuse_reply_err(req, kerr(rc));
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)t; /* held while the directory is open */
	fi->keep_cache = 1;
	fi->cache_readdir = 1;
	if (fuse_reply_open(req, fi) == -ENOENT)
		snapfs_tree_put(m->fs, t);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	mctx *m = fuse_req_userdata(req);
	snapfs_tree_put(m->fs, (const snapfs_tree *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static mode_t dtype_mode(uint8_t type)
{
	tree_node n;
	memset(&n, 0, sizeof(n));
	n.type = type;
	struct stat st;
	meta_to_stat(&st, &n);
	return st.st_mode & S_IFMT;
}

/* Entry off of a directory: 0 ".", 1 "..", then its children; 0 past the end. */
static int dir_entry(const minode *i, const snapfs_tree *t, off_t off, const char **name,
		     struct stat *st)
{
	memset(st, 0, sizeof(*st));
	if (off < 2) {
		*name = off == 0 ? "." : "..";
		st->st_mode = S_IFDIR;
		st->st_ino = off == 0 ? i->st_ino : 1;
		return 1;
	}
	size_t k = (size_t)(off - 2);
	if (i->kind == K_VDIR) {
		if (k >= i->nkids)
			return 0;
		*name = i->kids[k].name;
		st->st_ino = i->kids[k].ino->st_ino;
		st->st_mode = i->kids[k].ino->kind == K_LINK ? S_IFLNK : S_IFDIR;
		return 1;
	}
	if (k >= t->t.n)
		return 0;
	const tree_node *n = &t->t.nodes[k];
	*name = NULL; /* the caller copies the name: it is not NUL-terminated */
	st->st_mode = dtype_mode(n->type);
	st->st_ino = number_of(i, i->snap, n, k); /* what a lookup will say */
	return 1;
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	mctx *m = fuse_req_userdata(req);
	minode *i = ino_of(m, ino);
	const snapfs_tree *t = (const snapfs_tree *)(uintptr_t)fi->fh;
	if (size > (1 << 20))
		size = 1 << 20;
	char *out = malloc(size);
	char name[TREE_NAME_MAX + 1];
	if (!out) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size_t used = 0;
	for (;; off++) {
		const char *nm;
		struct stat st;
		if (!dir_entry(i, t, off, &nm, &st))
			break;
		if (!nm) {
			const tree_node *n = &t->t.nodes[off - 2];
			if (!tree_name_safe(n->name, n->name_len) || n->name_len > TREE_NAME_MAX)
				continue; /* never shown: the kernel would refuse it */
			memcpy(name, n->name, n->name_len);
			name[n->name_len] = 0;
			nm = name;
		}
		size_t need = fuse_add_direntry(req, out + used, size - used, nm, &st, off + 1);
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, out, used);
	free(out);
}

static snapfs_file *file_of(const struct fuse_file_info *fi)
{
	return ((const mfile *)(uintptr_t)fi->fh)->f;
}

static void file_release(mctx *m, mfile *h)
{
	pthread_mutex_lock(&m->lock);
	LIST_REMOVE(h, link);
	pthread_mutex_unlock(&m->lock);
	snapfs_file_close(h->f);
	free(h);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	mctx *m = fuse_req_userdata(req);
	minode *i = ino_of(m, ino);
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (i->kind != K_NODE) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	const snapfs_tree *t;
	const tree_node *n;
	if (req_node(req, m, i, &t, &n) < 0)
		return;
	snapfs_file *f = NULL;
	int rc = n->type == NODE_FILE ? snapfs_file_open(&f, &t->t, n) : -EISDIR;
	snapfs_tree_put(m->fs, t);
	if (rc < 0) {
		fuse_reply_err(req, rc == -EISDIR ? EISDIR : kerr(rc));
		return;
	}
	mfile *h = calloc(1, sizeof(*h));
	if (!h) {
		snapfs_file_close(f);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	h->f = f;
	pthread_mutex_lock(&m->lock);
	LIST_INSERT_HEAD(&m->open_files, h, link);
	pthread_mutex_unlock(&m->lock);
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->keep_cache = 1; /* contents never change: the page cache stays valid */
	if (fuse_reply_open(req, fi) == -ENOENT)
		file_release(m, h);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)ino;
	mctx *m = fuse_req_userdata(req);
	snapfs_file *f = file_of(fi);
	snapfs_session *s = session(m);
	if (size > (8 << 20))
		size = 8 << 20;
	char *out = s ? malloc(size ? size : 1) : NULL;
	size_t n = 0;
	int rc = !out ? -ENOMEM : off < 0 ? -EINVAL
				: snapfs_file_read(s, f, (uint64_t)off, out, size, &n);
	if (rc < 0) {
		log_damage(rc);
		fuse_reply_err(req, rc == -EINVAL ? EINVAL : kerr(rc));
	} else {
		fuse_reply_buf(req, out, n);
	}
	free(out);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	(void)ino;
	const snapfs_file *f = file_of(fi);
	uint64_t at;
	if ((whence != SEEK_DATA && whence != SEEK_HOLE) || off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	int rc = snapfs_file_seek(f, (uint64_t)off, whence == SEEK_DATA, &at);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_lseek(req, (off_t)at);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	file_release(fuse_req_userdata(req), (mfile *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	struct statvfs sv;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = sv.f_frsize = 4096;
	sv.f_namemax = TREE_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

/*
 * getxattr (name set) or listxattr (name NULL): the recorded xattrs of
 * the entry; size 0 asks for the size only.
 */
static void xattr_reply(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	mctx *m = fuse_req_userdata(req);
	minode *i = ino_of(m, ino);
	if (i->kind != K_NODE) {
		if (name)
			fuse_reply_err(req, ENODATA);
		else if (size)
			fuse_reply_buf(req, NULL, 0);
		else
			fuse_reply_xattr(req, 0);
		return;
	}
	const snapfs_tree *t;
	const tree_node *n;
	if (req_node(req, m, i, &t, &n) < 0)
		return;
	buf _cleanup_(buf_releasep) out = BUF_INIT;
	tree_xattr_iter it;
	const uint8_t *k, *v;
	size_t kl, vl;
	int found = 0, rc = 0;
	tree_xattr_iter_init(&it, n);
	while (rc == 0 && (rc = tree_xattr_next(&it, &k, &kl, &v, &vl)) > 0) {
		rc = 0;
		if (memchr(k, 0, kl))
			continue;
		if (!name) { /* the list: names, each NUL-terminated */
			rc = buf_append(&out, k, kl);
			rc = rc ?: buf_put_u8(&out, 0);
		} else if (strlen(name) == kl && memcmp(name, k, kl) == 0) {
			rc = buf_append(&out, v, vl);
			found = 1;
			break;
		}
	}
	snapfs_tree_put(m->fs, t);
	if (rc < 0)
		fuse_reply_err(req, rc == -ENOMEM ? ENOMEM : EIO);
	else if (name && !found)
		fuse_reply_err(req, ENODATA);
	else if (size == 0)
		fuse_reply_xattr(req, out.len);
	else if (out.len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, (const char *)out.data, out.len);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	xattr_reply(req, ino, name, size);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	xattr_reply(req, ino, NULL, size);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.open = op_open,
	.read = op_read,
	.release = op_release,
	.lseek = op_lseek,
	.statfs = op_statfs,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
};

/* ---------- the virtual directories ---------- */

/* The name of each snapshot: its time, made unique with its short id where two share one. */
static int snapshot_names(mctx *m, char ***out)
{
	char **names = calloc(m->nsnaps ? m->nsnaps : 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	int rc = 0;
	for (size_t k = 0; rc == 0 && k < m->nsnaps; k++) {
		char when[40], prev[40] = "", next[40] = "", hex[65];
		snapshot_format_time(when, m->snaps[k]);
		/* oldest first: snapshots of one second are neighbours */
		if (k > 0)
			snapshot_format_time(prev, m->snaps[k - 1]);
		if (k + 1 < m->nsnaps)
			snapshot_format_time(next, m->snaps[k + 1]);
		hex_encode(hex, m->snaps[k]->id, 32);
		size_t n = strlen(when) + 10;
		if (!(names[k] = malloc(n)))
			rc = -ENOMEM;
		else if (strcmp(when, prev) == 0 || strcmp(when, next) == 0)
			snprintf(names[k], n, "%s-%.8s", when, hex);
		else
			snprintf(names[k], n, "%s", when);
	}
	if (rc < 0) {
		for (size_t k = 0; k < m->nsnaps; k++)
			free(names[k]);
		free(names);
		return rc;
	}
	*out = names;
	return 0;
}

/* A snapshot's root directory in one more place. */
static int add_snapshot(mctx *m, minode *dir, const char *name, uint32_t snap)
{
	minode *i = permanent(m, K_SNAPROOT);
	if (!i)
		return -ENOMEM;
	i->snap = snap;
	return add_child(dir, name, i);
}

/* A group directory (hosts/<h>, tags/<t>): the snapshots of the group and latest. */
static int add_group(mctx *m, minode *parent, const char *group, int by_tag, char **names)
{
	minode *g = permanent(m, K_VDIR);
	int rc = g ? add_child(parent, group, g) : -ENOMEM;
	const char *latest = NULL;
	for (size_t k = 0; rc == 0 && k < m->nsnaps; k++) {
		const snapshot *s = m->snaps[k];
		int in = 0;
		if (by_tag)
			for (size_t t = 0; t < s->ntags && !in; t++)
				in = strcmp(s->tags[t], group) == 0;
		else
			in = s->host && strcmp(s->host, group) == 0;
		if (!in)
			continue;
		rc = add_snapshot(m, g, names[k], (uint32_t)k);
		latest = names[k]; /* oldest first: the last one is the newest */
	}
	if (rc == 0 && latest) {
		minode *l = permanent(m, K_LINK);
		rc = !l ? -ENOMEM : !(l->target = strdup(latest)) ? -ENOMEM : add_child(g, "latest", l);
	}
	return rc;
}

static int has_child(const minode *dir, const char *name)
{
	for (size_t k = 0; k < dir->nkids; k++)
		if (strcmp(dir->kids[k].name, name) == 0)
			return 1;
	return 0;
}

/* A host name or tag that can be a directory name. */
static int usable_name(const char *s)
{
	return s && tree_name_safe((const uint8_t *)s, strlen(s)) && strcmp(s, "latest") != 0 &&
	       strlen(s) <= TREE_NAME_MAX;
}

static int cmp_child(const void *a, const void *b)
{
	return strcmp(((const vchild *)a)->name, ((const vchild *)b)->name);
}

static int build(mctx *m)
{
	char **names;
	int rc = snapshot_names(m, &names);
	if (rc < 0)
		return rc;
	minode *snaps = NULL, *hosts = NULL, *tags = NULL;
	m->root = permanent(m, K_VDIR); /* number 1: FUSE_ROOT_ID */
	if (m->root) {
		snaps = permanent(m, K_VDIR);
		hosts = permanent(m, K_VDIR);
		tags = permanent(m, K_VDIR);
	}
	rc = !m->root || !snaps || !hosts || !tags ? -ENOMEM : 0;
	rc = rc ?: add_child(m->root, "hosts", hosts);
	rc = rc ?: add_child(m->root, "snapshots", snaps);
	rc = rc ?: add_child(m->root, "tags", tags);
	for (size_t k = 0; rc == 0 && k < m->nsnaps; k++) {
		const snapshot *s = m->snaps[k];
		rc = add_snapshot(m, snaps, names[k], (uint32_t)k);
		if (rc == 0 && usable_name(s->host) && !has_child(hosts, s->host))
			rc = add_group(m, hosts, s->host, 0, names);
		for (size_t t = 0; rc == 0 && t < s->ntags; t++)
			if (usable_name(s->tags[t]) && !has_child(tags, s->tags[t]))
				rc = add_group(m, tags, s->tags[t], 1, names);
	}
	for (minode *i = m->permanent; rc == 0 && i; i = i->all_next)
		if (i->kind == K_VDIR && i->nkids)
			qsort(i->kids, i->nkids, sizeof(*i->kids), cmp_child);
	for (size_t k = 0; k < m->nsnaps; k++)
		free(names[k]);
	free(names);
	return rc;
}

static void free_permanent(mctx *m)
{
	for (minode *i = m->permanent, *next; i; i = next) {
		next = i->all_next;
		for (size_t k = 0; k < i->nkids; k++)
			free(i->kids[k].name);
		free(i->kids);
		free(i->target);
		free(i);
	}
	m->permanent = NULL;
}

/* ---------- mounting ---------- */

/*
 * FUSE at all, before libfuse says it in its own words.  A user other
 * than root mounts through the setuid fusermount3, but libfuse opens
 * /dev/fuse itself first, so the device must be open to the user too.
 */
static int check_fuse(void)
{
	struct stat st;
	if (stat("/dev/fuse", &st) < 0)
		return err_set(-ENODEV, "FUSE is not available: there is no /dev/fuse (load the fuse kernel module, or run where FUSE is allowed)");
	if (geteuid() == 0)
		return 0;
	if (access("/dev/fuse", R_OK | W_OK) < 0)
		return err_set(-EPERM, "not allowed to use FUSE: /dev/fuse (mode %04o) is not open to this user; run as root, or where users may use FUSE",
			       (unsigned)(st.st_mode & 07777));
	if (access("/bin/fusermount3", X_OK) < 0 && access("/usr/bin/fusermount3", X_OK) < 0)
		return err_set(-EPERM, "not allowed to use FUSE: there is no fusermount3 (install fuse3, or run as root)");
	return 0;
}

int mount_run(repo *r, const mount_opts *o, snapfs_stats *out)
{
	mctx m;
	memset(&m, 0, sizeof(m));
	LIST_INIT(&m.live);
	LIST_INIT(&m.open_files);
	m.r = r;
	m.mount_time = (int64_t)time(NULL);
	memset(out, 0, sizeof(*out));
	struct stat st;
	if (stat(o->mountpoint, &st) < 0)
		return err_sys(-errno, "cannot mount at '%s'", o->mountpoint);
	if (!S_ISDIR(st.st_mode))
		return err_set(-ENOTDIR, "cannot mount at '%s': not a directory", o->mountpoint);
	int rc = check_fuse();
	if (rc < 0)
		return rc;
	snapfs_params sp = SNAPFS_PARAMS_INIT;
	if (o->blob_cache)
		sp.blob_cache = o->blob_cache;
	if (o->tree_cache)
		sp.tree_cache = o->tree_cache;
	size_t damaged;
	rc = snapsel_list(r, NULL, &m.snaps, &m.nsnaps, &damaged);
	if (rc == 0 && damaged)
		log_warn("%s; %zu damaged snapshot files left out", err_msg(-DV_ECORRUPT), damaged);
	rc = rc ?: snapfs_new(&m.fs, r, &sp);
	rc = rc ?: build(&m);
	if (rc < 0) {
		free_permanent(&m);
		snapfs_free(m.fs);
		repo_free_snapshots(m.snaps, m.nsnaps);
		return rc;
	}
	pthread_key_create(&m.key, session_free);
	pthread_mutex_init(&m.lock, NULL);

	char opts[512];
	snprintf(opts, sizeof(opts), "ro,default_permissions,fsname=dvalin,subtype=dvalin%s",
		 o->allow_other ? ",allow_other" : "");
	char *argv[] = { "dvalin", "-o", opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), &m);
	fuse_opt_free_args(&args); /* libfuse may have copied and grown them */
	if (!se) {
		rc = err_set(-EINVAL, "cannot start FUSE (libfuse refused the options above)");
	} else if (fuse_set_signal_handlers(se) != 0) {
		rc = err_set(-EINVAL, "cannot install the signal handlers");
	} else if (fuse_session_mount(se, o->mountpoint) != 0) {
		rc = err_set(-EIO, "cannot mount at '%s' (the reason is above)", o->mountpoint);
	} else {
		if (o->mounted)
			o->mounted(o->ud);
		struct fuse_loop_config *cfg = fuse_loop_cfg_create();
		if (cfg)
			fuse_loop_cfg_set_max_threads(cfg, 16);
		rc = cfg ? fuse_session_loop_mt(se, cfg) : fuse_session_loop(se);
		fuse_loop_cfg_destroy(cfg);
		/* a signal ends the loop with the signal's number: that is how one stops it */
		rc = rc < 0 ? err_set(rc, "the FUSE session failed: %s", strerror(-rc)) : 0;
		fuse_session_unmount(se);
	}
	if (se) {
		fuse_remove_signal_handlers(se);
		fuse_session_destroy(se);
	}
	/* the workers have ended, their sessions with them; this thread's too */
	snapfs_session_free(pthread_getspecific(m.key));
	pthread_key_delete(m.key);
	snapfs_get_stats(m.fs, out);
	/* inodes the kernel never forgot (it does not, on unmount) */
	while (!LIST_EMPTY(&m.live)) {
		minode *i = LIST_FIRST(&m.live);
		LIST_REMOVE(i, live_link);
		free(i);
	}
	/* files whose release the kernel had not sent yet */
	while (!LIST_EMPTY(&m.open_files))
		file_release(&m, LIST_FIRST(&m.open_files));
	free(m.hl);
	free_permanent(&m);
	snapfs_free(m.fs);
	repo_free_snapshots(m.snaps, m.nsnaps);
	pthread_mutex_destroy(&m.lock);
	return rc;
}
