/* SPDX-License-Identifier: BSD-2-Clause */
#include "backup.h"
#include "match.h"
#include "quote.h"
#include "../archive/meta.h"
#include "../archive/tree.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/log.h"
#include "../core/blob.h"
#include "../core/chunker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A file seen with nlink > 1: its chunk list, so other links reuse it. */
typedef struct {
	uint64_t dev, ino;
	uint8_t (*ids)[32]; /* NULL entry id = hole: kept as a zero id + flag */
	uint8_t *is_hole;
	uint64_t *lens;
	size_t n;
	int used;
} hardlink;

typedef struct {
	repo *r;
	const backup_opts *o;
	job_progress *prog;
	meta_names *names;
	snapshot_stats st;
	uint64_t changed_while_read;
	buf path;    /* absolute path of the entry being processed */
	buf qbuf;    /* quoted path for messages */
	buf rbuf;    /* read buffer for chunking */
	buf scratch; /* link targets, tree plaintexts */
	tree_seg *segs;
	size_t nsegs, segs_cap;
	hardlink *links;
	size_t links_cap, links_n;
	dev_t root_dev;
	int read_errno; /* set when the source file failed, not the repository */
} bctx;

static const char *qpath(bctx *c)
{
	return quote_path(&c->qbuf, c->path.data, c->path.len);
}

static void warn_entry(bctx *c, const char *what, int code)
{
	log_warn("%s '%s': %s", what, qpath(c), err_str(code));
	c->st.errors++;
	atomic_fetch_add(&c->prog->errors, 1);
}

/* Pushes "/name" onto the current path; returns the old length. */
static size_t path_push(bctx *c, const char *name)
{
	size_t old = c->path.len;
	if (!(old == 1 && c->path.data[0] == '/'))
		buf_put_u8(&c->path, '/');
	buf_append(&c->path, name, strlen(name));
	return old;
}

static int seg_push(bctx *c, uint64_t len, uint32_t ref)
{
	if (c->nsegs == c->segs_cap) {
		size_t cap = c->segs_cap ? c->segs_cap * 2 : 64;
		tree_seg *s = realloc(c->segs, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		c->segs = s;
		c->segs_cap = cap;
	}
	c->segs[c->nsegs].len = len;
	c->segs[c->nsegs].ref = ref;
	c->nsegs++;
	return 0;
}

static int save_chunk(bctx *c, tree_writer *tw, const uint8_t *p, size_t n)
{
	uint8_t id[32];
	uint64_t added;
	uint32_t ref;
	repo_blob_id(c->r, id, p, n);
	int rc = repo_save_blob(c->r, BLOB_DATA, id, p, n, &added);
	rc = rc ?: tree_writer_ref(tw, id, &ref);
	rc = rc ?: seg_push(c, n, ref);
	c->st.bytes_added += added;
	return rc;
}

/*
 * Reads [off, end) of fd, cutting content-defined chunks.  Returns 0,
 * 1 when the file ended early (it shrank), 2 when reading the source
 * failed (c->read_errno), or a negative code of the repository.
 */
static int chunk_range(bctx *c, tree_writer *tw, int fd, uint64_t off, uint64_t end)
{
	const chunker *ch = repo_chunker(c->r);
	size_t cap = (size_t)ch->p.max * 2, start = 0, fill = 0;
	int rc, eof = 0;
	if ((rc = buf_reserve(&c->rbuf, cap)) < 0)
		return rc;
	uint8_t *b = c->rbuf.data;
	while (!eof || fill > start) {
		while (!eof && fill < cap) {
			size_t want = cap - fill;
			if (want > end - off)
				want = (size_t)(end - off);
			if (want == 0) {
				eof = 1;
				break;
			}
			ssize_t got = pread(fd, b + fill, want, (off_t)off);
			if (got < 0) {
				if (errno == EINTR)
					continue;
				c->read_errno = -errno;
				return 2;
			}
			if (got == 0) {
				eof = 2;
				break;
			}
			fill += (size_t)got;
			off += (uint64_t)got;
			c->st.bytes_read += (uint64_t)got;
			atomic_fetch_add(&c->prog->bytes, (uint64_t)got);
		}
		while (fill - start >= ch->p.max || (eof && fill > start)) {
			size_t cut = chunker_cut(ch, b + start, fill - start);
			if ((rc = save_chunk(c, tw, b + start, cut)) < 0)
				return rc;
			start += cut;
		}
		if (start) {
			memmove(b, b + start, fill - start);
			fill -= start;
			start = 0;
		}
	}
	return eof == 2 ? 1 : 0;
}

/* Reads a regular file into segments, skipping holes; returns as chunk_range. */
static int read_file(bctx *c, tree_writer *tw, int fd, uint64_t size)
{
	uint64_t off = 0;
	int rc, shrank = 0;
	while (off < size) {
		off_t data = lseek(fd, (off_t)off, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			data = (off_t)size; /* only a hole remains */
		else if (data < 0)
			data = (off_t)off; /* SEEK_DATA unsupported: all data */
		if ((uint64_t)data > size)
			data = (off_t)size;
		if ((uint64_t)data > off) {
			if ((rc = seg_push(c, (uint64_t)data - off, 0)) < 0)
				return rc;
			off = (uint64_t)data;
		}
		if (off >= size)
			break;
		off_t hole = lseek(fd, (off_t)off, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size || (uint64_t)hole <= off)
			hole = (off_t)size;
		rc = chunk_range(c, tw, fd, off, (uint64_t)hole);
		if (rc < 0 || rc == 2)
			return rc;
		if (rc == 1) {
			shrank = 1;
			break;
		}
		off = (uint64_t)hole;
	}
	return shrank;
}

static hardlink *link_find(bctx *c, uint64_t dev, uint64_t ino, int insert)
{
	if (insert && (c->links_n + 1) * 2 > c->links_cap) {
		size_t cap = c->links_cap ? c->links_cap * 2 : 64;
		hardlink *n = calloc(cap, sizeof(*n));
		if (!n)
			return NULL;
		for (size_t i = 0; i < c->links_cap; i++) {
			if (!c->links[i].used)
				continue;
			size_t k = (c->links[i].ino * 31 + c->links[i].dev) & (cap - 1);
			while (n[k].used)
				k = (k + 1) & (cap - 1);
			n[k] = c->links[i];
		}
		free(c->links);
		c->links = n;
		c->links_cap = cap;
	}
	if (!c->links_cap)
		return NULL;
	size_t k = (ino * 31 + dev) & (c->links_cap - 1);
	while (c->links[k].used) {
		if (c->links[k].dev == dev && c->links[k].ino == ino)
			return &c->links[k];
		k = (k + 1) & (c->links_cap - 1);
	}
	if (!insert)
		return NULL;
	c->links[k].used = 1;
	c->links[k].dev = dev;
	c->links[k].ino = ino;
	c->links_n++;
	return &c->links[k];
}

static int link_remember(bctx *c, const tree_node *n, tree_writer *tw)
{
	hardlink *h = link_find(c, n->dev, n->ino, 1);
	if (!h)
		return -ENOMEM;
	h->ids = malloc((c->nsegs ? c->nsegs : 1) * 32);
	h->is_hole = malloc(c->nsegs ? c->nsegs : 1);
	h->lens = malloc((c->nsegs ? c->nsegs : 1) * sizeof(uint64_t));
	if (!h->ids || !h->is_hole || !h->lens)
		return -ENOMEM;
	const uint8_t *ids = tw->children.data + 4;
	for (size_t i = 0; i < c->nsegs; i++) {
		h->is_hole[i] = c->segs[i].ref == 0;
		h->lens[i] = c->segs[i].len;
		if (c->segs[i].ref)
			memcpy(h->ids[i], ids + 32 * (size_t)(c->segs[i].ref - 1), 32);
	}
	h->n = c->nsegs;
	return 0;
}

static int link_reuse(bctx *c, const hardlink *h, tree_writer *tw)
{
	int rc;
	for (size_t i = 0; i < h->n; i++) {
		uint32_t ref = 0;
		if (!h->is_hole[i] && (rc = tree_writer_ref(tw, h->ids[i], &ref)) < 0)
			return rc;
		if ((rc = seg_push(c, h->lens[i], ref)) < 0)
			return rc;
	}
	return 0;
}

/* Reuses the parent's chunk list when every blob is still in the index. */
static int reuse_parent(bctx *c, tree_writer *tw, const tree *pt, const tree_node *pn)
{
	int rc;
	for (size_t i = 0; i < pn->nsegs; i++) {
		const uint8_t *id = tree_child(pt, pn->segs[i].ref);
		if (pn->segs[i].ref && repo_has_blob(c->r, id) < 0)
			return 1;
	}
	for (size_t i = 0; i < pn->nsegs; i++) {
		uint32_t ref = 0;
		if (pn->segs[i].ref &&
		    (rc = tree_writer_ref(tw, tree_child(pt, pn->segs[i].ref), &ref)) < 0)
			return rc;
		if ((rc = seg_push(c, pn->segs[i].len, ref)) < 0)
			return rc;
	}
	return 0;
}

static int unchanged(const tree_node *pn, const struct stat *st)
{
	return pn && pn->type == NODE_FILE && pn->size == (uint64_t)st->st_size &&
	       pn->mtime == st->st_mtim.tv_sec && pn->mtime_ns == (uint32_t)st->st_mtim.tv_nsec &&
	       pn->ctime == st->st_ctim.tv_sec && pn->ctime_ns == (uint32_t)st->st_ctim.tv_nsec &&
	       pn->ino == st->st_ino && pn->mode == (st->st_mode & 07777u);
}

static int same_version(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * Fills n's segments for a regular file.  Returns 0, 1 when the file
 * could not be read (warned; the entry is skipped), or a fatal code.
 */
static int do_file(bctx *c, tree_writer *tw, int dirfd, const char *name, struct stat *st,
		   tree_node *n, const tree *pt, const tree_node *pn)
{
	int rc;
	c->nsegs = 0;
	if (!c->o->force && unchanged(pn, st)) {
		rc = reuse_parent(c, tw, pt, pn);
		if (rc <= 0) {
			c->st.files_unchanged++;
			atomic_fetch_add(&c->prog->bytes, (uint64_t)st->st_size);
			if (rc == 0 && st->st_nlink > 1 && !link_find(c, st->st_dev, st->st_ino, 0))
				rc = link_remember(c, n, tw);
			return rc;
		}
		c->nsegs = 0;
	}
	if (st->st_nlink > 1) {
		hardlink *h = link_find(c, st->st_dev, st->st_ino, 0);
		if (h) {
			/* another name of an inode read (or reused) a moment ago */
			if (pn && pn->type == NODE_FILE)
				c->st.files_unchanged++;
			else
				c->st.files_new++;
			return link_reuse(c, h, tw);
		}
	}
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		warn_entry(c, errno == ENOENT ? "file vanished" : "cannot read", -errno);
		return 1;
	}
	struct stat before;
	if (fstat(fd, &before) < 0 || !S_ISREG(before.st_mode) || before.st_ino != st->st_ino) {
		warn_entry(c, "file replaced during backup", -ESTALE);
		return 1;
	}
	*st = before;
	n->size = (uint64_t)st->st_size;
	rc = read_file(c, tw, fd, (uint64_t)st->st_size);
	if (rc == 2) {
		warn_entry(c, "cannot read", c->read_errno);
		return 1;
	}
	if (rc < 0)
		return rc;
	struct stat after;
	if (rc == 1 || fstat(fd, &after) < 0 || !same_version(&before, &after)) {
		log_warn("file changed while being read '%s': the stored copy may be inconsistent", qpath(c));
		c->changed_while_read++;
		if (rc == 1) {
			/* it shrank: record what was read */
			uint64_t total = 0;
			for (size_t i = 0; i < c->nsegs; i++)
				total += c->segs[i].len;
			n->size = total;
		}
	}
	if (pn && pn->type == NODE_FILE)
		c->st.files_changed++;
	else
		c->st.files_new++;
	if (st->st_nlink > 1 && (rc = link_remember(c, n, tw)) < 0)
		return rc;
	return 0;
}

static int load_tree(bctx *c, const uint8_t id[32], tree *out)
{
	buf _cleanup_(buf_releasep) plain = BUF_INIT;
	int rc = repo_load_blob(c->r, BLOB_TREE, id, &plain);
	rc = rc ?: tree_decode(out, &plain);
	return rc;
}

static int save_tree(bctx *c, tree_writer *tw, uint8_t out_id[32])
{
	int rc = tree_writer_finish(tw, &c->scratch);
	if (rc < 0)
		return rc;
	uint64_t added;
	repo_blob_id(c->r, out_id, c->scratch.data, c->scratch.len);
	rc = repo_save_blob(c->r, BLOB_TREE, out_id, c->scratch.data, c->scratch.len, &added);
	c->st.bytes_added += added;
	return rc;
}

static int walk_dir(bctx *c, int fd, const tree *parent, uint8_t out_id[32]);

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The sorted entry names of a directory (without . and ..). */
static int read_names(int fd, char ***out, size_t *out_n)
{
	int dfd = dup(fd);
	if (dfd < 0)
		return -errno;
	DIR *d _cleanup_(closedirp) = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((errno = 0, e = readdir(d))) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			char **nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free_names(v, n);
				return -ENOMEM;
			}
			v = nv;
		}
		if (!(v[n] = strdup(e->d_name))) {
			free_names(v, n);
			return -ENOMEM;
		}
		n++;
	}
	if (errno) {
		int rc = -errno;
		free_names(v, n);
		return rc;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_name);
	*out = v;
	*out_n = n;
	return 0;
}

/* An empty tree, for directories that cannot be read or are skipped. */
static int empty_tree(bctx *c, uint8_t out_id[32])
{
	tree_writer _cleanup_(tree_writer_release) tw = TREE_WRITER_INIT;
	return save_tree(c, &tw, out_id);
}

/*
 * Adds the entry dirfd/name to tw.  pt is the parent snapshot's tree of
 * the same directory (or NULL).  Per-entry problems are warnings.
 */
static int do_entry(bctx *c, tree_writer *tw, int dirfd, const char *name, const tree *pt)
{
	size_t old = path_push(c, name);
	int rc = 0;
	struct stat st;
	tree_node n;
	buf _cleanup_(buf_releasep) xattrs = BUF_INIT;
	buf _cleanup_(buf_releasep) target = BUF_INIT;
	uint8_t sub[32];
	if (match_any(c->o->excludes, c->o->nexcludes, &c->path, name))
		goto out;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		warn_entry(c, errno == ENOENT ? "file vanished" : "cannot stat", -errno);
		goto out;
	}
	memset(&n, 0, sizeof(n));
	meta_from_stat(&n, &st, c->names);
	n.name = (const uint8_t *)name;
	n.name_len = strlen(name);
	rc = meta_read_xattrs(&xattrs, dirfd, name);
	if (rc == -ENOMEM)
		goto out;
	if (rc < 0 && rc != -ENOENT) {
		warn_entry(c, "cannot read extended attributes of", rc);
		xattrs.len = 0;
	}
	rc = 0;
	n.xattrs = xattrs.data;
	n.xattrs_len = xattrs.len;
	long pi = pt ? tree_find(pt, name, n.name_len) : -1;
	const tree_node *pn = pi >= 0 ? &pt->nodes[pi] : NULL;
	switch (n.type) {
	case NODE_FILE:
		rc = do_file(c, tw, dirfd, name, &st, &n, pt, pn);
		if (rc == 1) {
			rc = 0;
			goto out;
		}
		n.segs = c->segs;
		n.nsegs = c->nsegs;
		c->st.total_files++;
		c->st.total_bytes += n.size;
		atomic_fetch_add(&c->prog->files, 1);
		break;
	case NODE_SYMLINK:
		if ((rc = meta_read_link(&target, dirfd, name)) < 0) {
			if (rc == -ENOMEM)
				goto out;
			warn_entry(c, "cannot read symlink", rc);
			rc = 0;
			goto out;
		}
		if (target.len == 0)
			goto out;
		n.target = target.data;
		n.target_len = target.len;
		break;
	case NODE_DIR: {
		c->st.dirs++;
		if (c->o->one_file_system && st.st_dev != c->root_dev) {
			rc = empty_tree(c, sub);
		} else {
			_cleanup_close_ int sfd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sfd < 0) {
				warn_entry(c, "cannot open directory", -errno);
				rc = empty_tree(c, sub);
			} else {
				tree ptree = TREE_INIT;
				int have = 0;
				if (pn && pn->type == NODE_DIR && !c->o->force)
					have = load_tree(c, tree_child(pt, pn->subtree), &ptree) == 0;
				rc = walk_dir(c, sfd, have ? &ptree : NULL, sub);
				tree_release(&ptree);
			}
		}
		if (rc < 0)
			goto out;
		if ((rc = tree_writer_ref(tw, sub, &n.subtree)) < 0)
			goto out;
		break;
	}
	default:
		break;
	}
	rc = tree_writer_add(tw, &n);
out:
	c->path.len = old;
	return rc;
}

static int walk_dir(bctx *c, int fd, const tree *parent, uint8_t out_id[32])
{
	char **names = NULL;
	size_t n = 0;
	int rc = read_names(fd, &names, &n);
	if (rc < 0) {
		if (rc == -ENOMEM)
			return rc;
		warn_entry(c, "cannot list directory", rc);
		return empty_tree(c, out_id);
	}
	tree_writer _cleanup_(tree_writer_release) tw = TREE_WRITER_INIT;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = do_entry(c, &tw, fd, names[i], parent);
	free_names(names, n);
	return rc ?: save_tree(c, &tw, out_id);
}

/*
 * The snapshot's root is "/"; dir is a directory on the way to the backed
 * up paths (all of which start with dir + "/").  Components that are
 * backed-up paths themselves are real entries; the others are
 * directories holding only what leads to the paths below them.
 */
static int virtual_dir(bctx *c, const char *dir, char **paths, size_t n, const tree *parent,
		       uint8_t out_id[32])
{
	size_t dl = strlen(dir);
	_cleanup_close_ int fd = open(dl ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(-errno, "cannot open '%s'", dl ? dir : "/");
	tree_writer _cleanup_(tree_writer_release) tw = TREE_WRITER_INIT;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0;) {
		const char *comp = paths[i] + dl + 1;
		size_t cl = strcspn(comp, "/");
		size_t j = i;
		int is_root = 0;
		while (j < n && strncmp(paths[j] + dl + 1, comp, cl) == 0 &&
		       (paths[j][dl + 1 + cl] == '/' || paths[j][dl + 1 + cl] == 0)) {
			is_root |= paths[j][dl + 1 + cl] == 0;
			j++;
		}
		_cleanup_free_ char *name = strndup(comp, cl);
		if (!name)
			return -ENOMEM;
		if (is_root) {
			rc = do_entry(c, &tw, fd, name, parent);
		} else {
			_cleanup_free_ char *sub = strndup(paths[i], dl + 1 + cl);
			struct stat st;
			tree_node node;
			tree ptree = TREE_INIT;
			uint8_t sid[32];
			if (!sub)
				return -ENOMEM;
			if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				return err_sys(-errno, "cannot stat '%s'", sub);
			long pi = parent ? tree_find(parent, name, cl) : -1;
			int have = pi >= 0 && parent->nodes[pi].type == NODE_DIR &&
				   load_tree(c, tree_child(parent, parent->nodes[pi].subtree), &ptree) == 0;
			size_t old = path_push(c, name);
			rc = virtual_dir(c, sub, paths + i, j - i, have ? &ptree : NULL, sid);
			c->path.len = old;
			tree_release(&ptree);
			memset(&node, 0, sizeof(node));
			meta_from_stat(&node, &st, c->names);
			node.name = (const uint8_t *)name;
			node.name_len = cl;
			rc = rc ?: tree_writer_ref(&tw, sid, &node.subtree);
			rc = rc ?: tree_writer_add(&tw, &node);
		}
		i = j;
	}
	return rc ?: save_tree(c, &tw, out_id);
}

/* Absolute, with "." and ".." and duplicate slashes resolved; the parent
 * directory is resolved through symlinks, the last component is not. */
static int normalize(const char *in, char **out)
{
	_cleanup_free_ char *abs = NULL;
	if (in[0] == '/') {
		abs = strdup(in);
	} else {
		_cleanup_free_ char *cwd = getcwd(NULL, 0);
		if (!cwd)
			return -errno;
		if (asprintf(&abs, "%s/%s", cwd, in) < 0)
			abs = NULL;
	}
	if (!abs)
		return -ENOMEM;
	/* lexical clean-up of the components */
	char *res = malloc(strlen(abs) + 2);
	if (!res)
		return -ENOMEM;
	size_t rl = 0;
	for (char *save = NULL, *t = strtok_r(abs, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (strcmp(t, ".") == 0)
			continue;
		if (strcmp(t, "..") == 0) {
			while (rl > 0 && res[--rl] != '/')
				;
			continue;
		}
		res[rl++] = '/';
		memcpy(res + rl, t, strlen(t));
		rl += strlen(t);
	}
	res[rl] = 0;
	if (rl == 0) {
		memcpy(res, "/", 2);
		*out = res;
		return 0;
	}
	/* resolve the directory part */
	char *slash = strrchr(res, '/');
	*slash = 0;
	char *dir = realpath(res[0] ? res : "/", NULL);
	if (!dir) {
		int e = -errno;
		*slash = '/';
		free(res);
		return e;
	}
	char *full;
	if (asprintf(&full, "%s/%s", strcmp(dir, "/") ? dir : "", slash + 1) < 0) {
		free(dir);
		free(res);
		return -ENOMEM;
	}
	free(dir);
	free(res);
	*out = full;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int same_paths(const snapshot *s, char **paths, size_t n)
{
	if (s->npaths != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->paths[i], paths[i]) != 0)
			return 0;
	return 1;
}

static int find_parent(repo *r, const backup_opts *o, const char *host, char **paths, size_t n,
		       snapshot **out)
{
	*out = NULL;
	if (o->force)
		return 0;
	if (o->parent)
		return repo_find_snapshot(r, o->parent, out);
	snapshot **v;
	size_t cnt;
	int rc = repo_load_snapshots(r, &v, &cnt, NULL);
	if (rc < 0)
		return rc;
	for (size_t i = cnt; i-- > 0;) {
		if (strcmp(v[i]->host, host) == 0 && same_paths(v[i], paths, n)) {
			*out = v[i];
			v[i] = NULL;
			break;
		}
	}
	repo_free_snapshots(v, cnt);
	return 0;
}

static void bctx_release(bctx *c)
{
	meta_names_free(c->names);
	buf_release(&c->path);
	buf_release(&c->qbuf);
	buf_release(&c->rbuf);
	buf_release(&c->scratch);
	free(c->segs);
	for (size_t i = 0; i < c->links_cap; i++) {
		free(c->links[i].ids);
		free(c->links[i].is_hole);
		free(c->links[i].lens);
	}
	free(c->links);
}

static int fill_identity(snapshot *s, const backup_opts *o)
{
	char host[256] = "";
	if (o->host)
		snprintf(host, sizeof(host), "%s", o->host);
	else if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "unknown");
	struct passwd *pw = getpwuid(getuid());
	s->host = strdup(host);
	s->user = strdup(pw ? pw->pw_name : "");
	if (!s->host || !s->user)
		return -ENOMEM;
	if (o->has_time) {
		s->time = o->time;
		s->tz_offset = o->tz_offset;
	} else {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		s->time = ts.tv_sec;
		s->time_nsec = (uint32_t)ts.tv_nsec;
		s->tz_offset = (int32_t)tm.tm_gmtoff;
	}
	for (size_t i = 0; i < o->ntags; i++)
		if (snapshot_add_str(&s->tags, &s->ntags, o->tags[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* Normalized, sorted, de-duplicated paths; nested ones are dropped. */
static int prepare_paths(const backup_opts *o, char ***out, size_t *out_n)
{
	char **v = calloc(o->npaths ? o->npaths : 1, sizeof(*v));
	size_t n = 0;
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < o->npaths; i++) {
		char *p = NULL;
		int rc = normalize(o->paths[i], &p);
		struct stat st;
		if (rc == 0 && lstat(p, &st) < 0)
			rc = -errno;
		if (rc < 0) {
			free(p);
			free_names(v, n);
			return err_sys(rc, "cannot back up '%s'", o->paths[i]);
		}
		v[n++] = p;
	}
	qsort(v, n, sizeof(*v), cmp_str);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k > 0) {
			size_t l = strlen(v[k - 1]);
			if (strcmp(v[k - 1], "/") == 0 ||
			    (strncmp(v[i], v[k - 1], l) == 0 && (v[i][l] == 0 || v[i][l] == '/'))) {
				free(v[i]);
				continue;
			}
		}
		v[k++] = v[i];
	}
	*out = v;
	*out_n = k;
	return 0;
}

int backup_run(repo *r, const backup_opts *o, job_progress *prog, backup_result *out)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(out, 0, sizeof(*out));
	bctx c;
	memset(&c, 0, sizeof(c));
	c.r = r;
	c.o = o;
	c.prog = prog;
	char **paths = NULL;
	size_t npaths = 0;
	snapshot *parent = NULL, *s = snapshot_new();
	tree ptree = TREE_INIT;
	int rc = s ? meta_names_new(&c.names) : -ENOMEM;
	rc = rc ?: fill_identity(s, o);
	rc = rc ?: prepare_paths(o, &paths, &npaths);
	rc = rc ?: find_parent(r, o, s->host, paths, npaths, &parent);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < npaths; i++)
		if ((rc = snapshot_add_str(&s->paths, &s->npaths, paths[i])) < 0)
			goto out;
	if (parent) {
		s->has_parent = 1;
		memcpy(s->parent, parent->id, 32);
		atomic_store(&prog->est_bytes, parent->stats.total_bytes);
		atomic_store(&prog->est_files, parent->stats.total_files);
		if (load_tree(&c, parent->tree, &ptree) < 0)
			log_warn("cannot read the parent snapshot's tree: every file will be read");
	}
	struct stat rst;
	if (stat(paths[0], &rst) == 0)
		c.root_dev = rst.st_dev;
	if (strcmp(paths[0], "/") == 0) {
		_cleanup_close_ int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		buf_put_u8(&c.path, '/');
		rc = fd < 0 ? -errno : walk_dir(&c, fd, ptree.plain.data ? &ptree : NULL, s->tree);
	} else {
		rc = virtual_dir(&c, "", paths, npaths, ptree.plain.data ? &ptree : NULL, s->tree);
	}
	rc = rc ?: repo_flush(r);
	if (rc < 0)
		goto out;
	s->stats = c.st;
	rc = repo_save_snapshot(r, s);
	if (rc < 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	out->snap = s;
	s = NULL;
	out->files_changed_while_read = c.changed_while_read;
	out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
out:
	tree_release(&ptree);
	snapshot_free(parent);
	snapshot_free(s);
	free_names(paths, npaths);
	bctx_release(&c);
	return rc;
}

void backup_result_release(backup_result *res)
{
	snapshot_free(res->snap);
	res->snap = NULL;
}
