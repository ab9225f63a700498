/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The backup walk.  One thread (the caller) walks directories, stats
 * entries, reads xattrs and links, decides for each file whether the
 * parent snapshot's chunk list can be reused, and assembles the tree of
 * each directory.  Files that must be read become file jobs, run by a
 * pool of workers (or inline with one thread): open, read extent by
 * extent, chunk, hash, compress, seal, save.  A directory's tree is
 * written once all of its file jobs are done, so trees, and thus
 * snapshots, are the same whatever the number of threads.
 */
#include "backup.h"
#include "treeio.h"
#include "match.h"
#include "quote.h"
#include "worker.h"
#include "../archive/meta.h"
#include "../archive/tree.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/hex.h"
#include "../base/log.h"
#include "../base/strlist.h"
#include "../base/workq.h"
#include "../core/blob.h"
#include "../core/chunker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A segment of a file being built: a chunk (by id) or a hole. */
typedef struct {
	uint64_t len;
	uint8_t id[32];
	uint8_t hole;
} bseg;

typedef struct {
	bseg *v;
	size_t n, cap;
} bsegs;

typedef struct bctx bctx;

/* A file to read; filled by a worker, consumed by the walking thread. */
typedef struct {
	bctx *c;
	int dirfd;
	const char *name;
	char *qpath;     /* for messages from the worker */
	struct stat st;  /* in: from the walk; out: fstat of the opened file */
	bsegs segs;
	int rc;          /* a fatal error (the repository failed) */
	int skipped;     /* could not be read: warned, entry left out */
	int done;        /* guarded by c->lock */
} file_job;

/* A hard-linked inode: the chunk list of its first name. */
typedef struct {
	uint64_t dev, ino;
	int used, ready, failed;
	file_job *pending; /* the first name's job, until its segments are copied */
	bsegs segs;
} hardlink;

enum { PE_SKIP, PE_NODE, PE_REUSE, PE_JOB, PE_LINK };

/* An entry of the directory being assembled. */
typedef struct {
	char *name;
	int kind;
	struct stat st;
	buf xattrs, target;
	uint8_t sub[32];
	const tree_node *pn; /* same name in the parent snapshot (during the walk only) */
	int is_new;          /* no file of that name in the parent */
	file_job *job;
	bsegs segs;
} pentry;

/*
 * A walked directory waiting for its file jobs.  Directories are queued
 * children first (post-order), so when one is assembled its
 * subdirectories' tree ids are known.
 */
typedef struct pdir {
	struct pdir *next;
	pentry *pe;
	size_t n;
	int fd;       /* the jobs open files relative to it */
	uint8_t *out; /* where the tree id goes */
	int rc;
} pdir;

#define PDIR_WINDOW 64

struct bctx {
	repo *r;
	const backup_opts *o;
	job_progress *prog;
	meta_names *names;
	snapshot_stats st;
	atomic_uint_fast64_t bytes_read, errors, changed_while_read;
	buf path; /* absolute path of the entry being walked */
	buf qbuf;
	workq *wq; /* NULL: file jobs run inline */
	workq *seal_wq; /* chunks of large files are compressed and sealed here */
	atomic_int seal_rc; /* first failure of the seal pool */
	char seal_err[256];
	repo_session *inline_rd;
	buf inline_rbuf;
	pthread_mutex_t lock;
	pthread_cond_t job_done;
	hardlink *links;
	size_t links_cap, links_n;
	dev_t root_dev;
	pdir *q_head, *q_tail;
	size_t q_len;
};

static const char *qpath(bctx *c)
{
	return quote_path(&c->qbuf, c->path.data, c->path.len);
}

static void count_error(bctx *c)
{
	atomic_fetch_add(&c->errors, 1);
	atomic_fetch_add(&c->prog->errors, 1);
}

static void warn_entry(bctx *c, const char *what, int code)
{
	log_warn("%s '%s': %s", what, qpath(c), err_str(code));
	count_error(c);
}

static size_t path_push(bctx *c, const char *name)
{
	size_t old = c->path.len;
	if (!(old == 1 && c->path.data[0] == '/'))
		buf_put_u8(&c->path, '/');
	buf_append(&c->path, name, strlen(name));
	return old;
}

static int segs_push(bsegs *s, uint64_t len, const uint8_t *id)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		bseg *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	bseg *g = &s->v[s->n++];
	g->len = len;
	g->hole = !id;
	if (id)
		memcpy(g->id, id, 32);
	return 0;
}

static int segs_copy(bsegs *dst, const bsegs *src)
{
	dst->n = 0;
	for (size_t i = 0; i < src->n; i++) {
		int rc = segs_push(dst, src->v[i].len, src->v[i].hole ? NULL : src->v[i].id);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- sealing chunks of large files (seal pool) ---- */

/* Files this large spread their chunks over the seal pool. */
#define LARGE_FILE ((uint64_t)4 << 20)

typedef struct {
	bctx *c;
	uint8_t id[32];
	size_t n;
	uint8_t data[];
} seal_job;

/* Keeps the first fatal error of any thread with its message (messages
 * are thread-local), for the walker to report. */
static int note_fatal(bctx *c, int rc)
{
	int none = 0;
	if (atomic_compare_exchange_strong(&c->seal_rc, &none, rc))
		snprintf(c->seal_err, sizeof(c->seal_err), "%s", err_msg(rc));
	return rc;
}

static void seal_job_run(void *state, void *arg)
{
	job_worker *w = state;
	seal_job *j = arg;
	bctx *c = j->c;
	int rc = repo_session_save(w->rd, BLOB_DATA, j->id, j->data, j->n);
	if (rc < 0)
		note_fatal(c, rc);
	free(j);
}

/* Saves a chunk now, or hands it to the seal pool for large files. */
static int save_chunk(bctx *c, repo_session *rd, int async, const uint8_t id[32],
		      const uint8_t *p, size_t n)
{
	if (!async)
		return repo_session_save(rd, BLOB_DATA, id, p, n);
	if (atomic_load(&c->seal_rc))
		return atomic_load(&c->seal_rc);
	if (repo_has_blob(c->r, id) == 0)
		return 0; /* deduplicated: no copy, no job */
	seal_job *j = malloc(sizeof(*j) + n);
	if (!j)
		return -ENOMEM;
	j->c = c;
	memcpy(j->id, id, 32);
	j->n = n;
	memcpy(j->data, p, n);
	return workq_submit(c->seal_wq, j);
}

/* ---- file jobs (any thread) ---- */

/*
 * Reads [off, end) of fd, cutting content-defined chunks.  Returns 0,
 * 1 when the file ended early (it shrank), 2 when reading the source
 * failed (*read_errno), or a negative code of the repository.
 */
static int chunk_range(bctx *c, repo_session *rd, buf *rbuf, file_job *j, int fd, uint64_t off,
		       uint64_t end, int *read_errno)
{
	const chunker *ch = repo_chunker(c->r);
	size_t cap = (size_t)ch->p.max + (1u << 20), start = 0, fill = 0;
	int rc, eof = 0;
	if ((rc = buf_reserve(rbuf, cap)) < 0)
		return rc;
	uint8_t *b = rbuf->data;
	int async = c->seal_wq && (uint64_t)j->st.st_size >= LARGE_FILE;
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
				*read_errno = -errno;
				return 2;
			}
			if (got == 0) {
				eof = 2;
				break;
			}
			fill += (size_t)got;
			off += (uint64_t)got;
			atomic_fetch_add(&c->bytes_read, (uint64_t)got);
			atomic_fetch_add(&c->prog->bytes, (uint64_t)got);
		}
		while (fill - start >= ch->p.max || (eof && fill > start)) {
			size_t cut = chunker_cut(ch, b + start, fill - start);
			uint8_t id[32];
			repo_blob_id(c->r, id, b + start, cut);
			rc = save_chunk(c, rd, async, id, b + start, cut);
			rc = rc ?: segs_push(&j->segs, cut, id);
			if (rc < 0)
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

/* Whole file, extent by extent: holes are recorded, never read. */
static int read_extents(bctx *c, repo_session *rd, buf *rbuf, file_job *j, int fd, int *read_errno)
{
	uint64_t size = (uint64_t)j->st.st_size, off = 0;
	/* a file with as many blocks as bytes has no holes: skip the lseeks */
	int dense = (uint64_t)j->st.st_blocks * 512 >= size;
	int rc;
	while (off < size) {
		uint64_t data = off, hole = size;
		if (!dense) {
			off_t d = lseek(fd, (off_t)off, SEEK_DATA);
			if (d < 0 && errno == ENXIO)
				d = (off_t)size;
			else if (d < 0)
				d = (off_t)off; /* SEEK_DATA unsupported: all data */
			data = MIN((uint64_t)d, size);
			if (data > off && (rc = segs_push(&j->segs, data - off, NULL)) < 0)
				return rc;
			if (data >= size)
				break;
			off_t h = lseek(fd, (off_t)data, SEEK_HOLE);
			hole = (h < 0 || (uint64_t)h > size || (uint64_t)h <= data) ? size : (uint64_t)h;
		}
		rc = chunk_range(c, rd, rbuf, j, fd, data, hole, read_errno);
		if (rc != 0)
			return rc;
		off = hole;
	}
	return 0;
}

static int same_version(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void job_warn(file_job *j, const char *what, int code)
{
	log_warn("%s '%s': %s", what, j->qpath, err_str(code));
	count_error(j->c);
	j->skipped = 1;
}

static void file_job_read(file_job *j, repo_session *rd, buf *rbuf)
{
	bctx *c = j->c;
	int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	_cleanup_close_ int fd = openat(j->dirfd, j->name, flags | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(j->dirfd, j->name, flags);
	if (fd < 0) {
		job_warn(j, errno == ENOENT ? "file vanished" : "cannot read", -errno);
		return;
	}
	struct stat before;
	if (fstat(fd, &before) < 0 || !S_ISREG(before.st_mode) || before.st_ino != j->st.st_ino) {
		job_warn(j, "file replaced during backup", -ESTALE);
		return;
	}
	j->st = before;
	int read_errno = 0;
	int rc = read_extents(c, rd, rbuf, j, fd, &read_errno);
	if (rc == 2) {
		job_warn(j, "cannot read", read_errno);
		return;
	}
	if (rc < 0) {
		j->rc = note_fatal(c, rc);
		return;
	}
	struct stat after;
	if (rc == 1 || fstat(fd, &after) < 0 || !same_version(&before, &after)) {
		log_warn("file changed while being read '%s': the stored copy may be inconsistent", j->qpath);
		atomic_fetch_add(&c->changed_while_read, 1);
	}
}

static void file_job_finish(bctx *c, file_job *j)
{
	pthread_mutex_lock(&c->lock);
	j->done = 1;
	pthread_cond_broadcast(&c->job_done);
	pthread_mutex_unlock(&c->lock);
}

static void file_job_run(void *state, void *arg)
{
	job_worker *w = state;
	file_job *j = arg;
	file_job_read(j, w->rd, &w->data);
	file_job_finish(j->c, j);
}

static void file_job_wait(bctx *c, file_job *j)
{
	pthread_mutex_lock(&c->lock);
	while (!j->done)
		pthread_cond_wait(&c->job_done, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

static int submit_file(bctx *c, int dirfd, pentry *pe)
{
	file_job *j = calloc(1, sizeof(*j));
	if (!j || !(j->qpath = strdup(qpath(c)))) {
		free(j);
		return -ENOMEM;
	}
	j->c = c;
	j->dirfd = dirfd;
	j->name = pe->name;
	j->st = pe->st;
	pe->job = j;
	pe->kind = PE_JOB;
	if (!c->wq) {
		file_job_read(j, c->inline_rd, &c->inline_rbuf);
		j->done = 1;
		return 0;
	}
	return workq_submit(c->wq, j);
}

static void file_job_free(file_job *j)
{
	if (!j)
		return;
	free(j->qpath);
	free(j->segs.v);
	free(j);
}

/* ---- hard links (walking thread) ---- */

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

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
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
				strlist_free(v, n);
				return -ENOMEM;
			}
			v = nv;
		}
		if (!(v[n] = strdup(e->d_name))) {
			strlist_free(v, n);
			return -ENOMEM;
		}
		n++;
	}
	if (errno) {
		int rc = -errno;
		strlist_free(v, n);
		return rc;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_name);
	*out = v;
	*out_n = n;
	return 0;
}


/* ---- the walk (walking thread) ---- */

static int load_tree(bctx *c, const uint8_t id[32], tree *out)
{
	return treeio_load(c->r, id, out);
}

static int save_tree(bctx *c, tree_writer *tw, uint8_t out_id[32])
{
	return treeio_store(c->r, tw, out_id);
}

/* An empty tree, for directories that cannot be read or are not crossed. */
static int empty_tree(bctx *c, uint8_t out_id[32])
{
	tree_writer _cleanup_(tree_writer_release) tw = TREE_WRITER_INIT;
	return save_tree(c, &tw, out_id);
}

static int unchanged(const tree_node *pn, const struct stat *st)
{
	return pn && pn->type == NODE_FILE && pn->size == (uint64_t)st->st_size &&
	       pn->mtime == st->st_mtim.tv_sec && pn->mtime_ns == (uint32_t)st->st_mtim.tv_nsec &&
	       pn->ctime == st->st_ctim.tv_sec && pn->ctime_ns == (uint32_t)st->st_ctim.tv_nsec &&
	       pn->ino == st->st_ino && pn->mode == (st->st_mode & 07777u);
}

static int same_inode_and_ctime(const tree_node *pn, const struct stat *st)
{
	return pn && pn->ino == st->st_ino && pn->ctime == st->st_ctim.tv_sec &&
	       pn->ctime_ns == (uint32_t)st->st_ctim.tv_nsec;
}

/* The parent's chunk list, if every blob of it is still stored: 0, 1 if not. */
static int parent_segs(bctx *c, const tree *pt, const tree_node *pn, bsegs *out)
{
	out->n = 0;
	for (size_t i = 0; i < pn->nsegs; i++) {
		const uint8_t *id = pn->segs[i].ref ? tree_child(pt, pn->segs[i].ref) : NULL;
		if (id && repo_has_blob(c->r, id) < 0)
			return 1;
		int rc = segs_push(out, pn->segs[i].len, id);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int walk_dir(bctx *c, int fd, const tree *parent, uint8_t out_id[32]);

static int prepare_dir(bctx *c, int dirfd, pentry *pe, const tree *pt)
{
	const tree_node *pn = pe->pn;
	int rc;
	c->st.dirs++;
	if (c->o->one_file_system && pe->st.st_dev != c->root_dev)
		return empty_tree(c, pe->sub);
	int sfd = openat(dirfd, pe->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0) {
		warn_entry(c, "cannot open directory", -errno);
		return empty_tree(c, pe->sub);
	}
	tree ptree = TREE_INIT;
	int have = 0;
	if (pn && pn->type == NODE_DIR && !c->o->force)
		have = load_tree(c, tree_child(pt, pn->subtree), &ptree) == 0;
	rc = walk_dir(c, sfd, have ? &ptree : NULL, pe->sub);
	tree_release(&ptree);
	return rc;
}

static int prepare_file(bctx *c, int dirfd, pentry *pe, const tree *pt)
{
	int rc;
	if (!c->o->force && unchanged(pe->pn, &pe->st)) {
		rc = parent_segs(c, pt, pe->pn, &pe->segs);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			pe->kind = PE_REUSE;
			atomic_fetch_add(&c->prog->bytes, (uint64_t)pe->st.st_size);
			if (pe->st.st_nlink > 1) {
				hardlink *h = link_find(c, pe->st.st_dev, pe->st.st_ino, 1);
				if (!h)
					return -ENOMEM;
				if (!h->ready && !h->pending) {
					h->ready = 1;
					return segs_copy(&h->segs, &pe->segs);
				}
			}
			return 0;
		}
	}
	if (pe->st.st_nlink > 1) {
		hardlink *h = link_find(c, pe->st.st_dev, pe->st.st_ino, 1);
		if (!h)
			return -ENOMEM;
		if (h->ready || h->pending) {
			pe->kind = PE_LINK;
			return 0;
		}
		rc = submit_file(c, dirfd, pe);
		h->pending = pe->job;
		return rc;
	}
	return submit_file(c, dirfd, pe);
}

/*
 * Walks one entry: metadata now, contents later (a file job) or now (a
 * directory, recursively).  Per-entry problems are warnings.
 */
static int prepare_entry(bctx *c, int dirfd, pentry *pe, const tree *pt)
{
	size_t old = path_push(c, pe->name);
	int rc = 0;
	pe->kind = PE_SKIP;
	pe->pn = NULL;
	if (match_any(c->o->excludes, c->o->nexcludes, &c->path, pe->name))
		goto out;
	if (fstatat(dirfd, pe->name, &pe->st, AT_SYMLINK_NOFOLLOW) < 0) {
		warn_entry(c, errno == ENOENT ? "file vanished" : "cannot stat", -errno);
		goto out;
	}
	long pi = pt ? tree_find(pt, pe->name, strlen(pe->name)) : -1;
	pe->pn = pi >= 0 ? &pt->nodes[pi] : NULL;
	pe->is_new = !pe->pn || pe->pn->type != NODE_FILE;
	if (same_inode_and_ctime(pe->pn, &pe->st) && !c->o->force) {
		/* changing an xattr changes ctime: the parent's list is current */
		rc = buf_append(&pe->xattrs, pe->pn->xattrs, pe->pn->xattrs_len);
	} else {
		rc = meta_read_xattrs(&pe->xattrs, dirfd, pe->name);
		if (rc < 0 && rc != -ENOMEM && rc != -ENOENT)
			warn_entry(c, "cannot read extended attributes of", rc);
		if (rc < 0 && rc != -ENOMEM) {
			pe->xattrs.len = 0;
			rc = 0;
		}
	}
	if (rc < 0)
		goto out;
	pe->kind = PE_NODE;
	switch (pe->st.st_mode & S_IFMT) {
	case S_IFREG:
		rc = prepare_file(c, dirfd, pe, pt);
		break;
	case S_IFDIR:
		rc = prepare_dir(c, dirfd, pe, pt);
		break;
	case S_IFLNK:
		rc = meta_read_link(&pe->target, dirfd, pe->name);
		if (rc < 0 && rc != -ENOMEM) {
			warn_entry(c, "cannot read symlink", rc);
			pe->kind = PE_SKIP;
			rc = 0;
		} else if (rc == 0 && pe->target.len == 0) {
			pe->kind = PE_SKIP;
		}
		break;
	}
out:
	pe->pn = NULL; /* the parent tree is released after the walk of this directory */
	c->path.len = old;
	return rc;
}

/* The segments of a second name of a hard-linked inode. */
static int link_segs(bctx *c, int dirfd, pentry *pe, const bsegs **out)
{
	hardlink *h = link_find(c, pe->st.st_dev, pe->st.st_ino, 0);
	if (h && h->ready) {
		*out = &h->segs;
		return 0;
	}
	if (h && h->pending) {
		file_job_wait(c, h->pending);
		if (!h->pending->skipped && !h->pending->rc) {
			*out = &h->pending->segs;
			return 0;
		}
	}
	/* the first name could not be read: try this one */
	size_t old = path_push(c, pe->name);
	workq *wq = c->wq;
	c->wq = NULL;
	int rc = submit_file(c, dirfd, pe);
	c->wq = wq;
	c->path.len = old;
	if (rc < 0)
		return rc;
	if (pe->job->rc)
		return pe->job->rc;
	if (pe->job->skipped)
		return 1;
	*out = &pe->job->segs;
	return 0;
}

/* Adds a prepared entry to the tree; its file job, if any, is done. */
static int finish_entry(bctx *c, tree_writer *tw, int dirfd, pentry *pe)
{
	if (pe->kind == PE_SKIP)
		return 0;
	tree_node n;
	const bsegs *segs = NULL;
	int rc = 0, is_new = pe->is_new;
	struct stat *st = &pe->st;
	if (pe->kind == PE_JOB) {
		/* the job is freed with this directory: other names of the inode
		 * must not keep pointing at it, whatever became of it */
		hardlink *h = pe->st.st_nlink > 1 ? link_find(c, pe->st.st_dev, pe->st.st_ino, 0) : NULL;
		if (h && h->pending == pe->job) {
			h->pending = NULL;
			if (!pe->job->rc && !pe->job->skipped) {
				h->ready = 1;
				if ((rc = segs_copy(&h->segs, &pe->job->segs)) < 0)
					return rc;
			}
		}
		if (pe->job->rc)
			return pe->job->rc;
		if (pe->job->skipped)
			return 0;
		segs = &pe->job->segs;
		st = &pe->job->st;
		if (is_new)
			c->st.files_new++;
		else
			c->st.files_changed++;
	} else if (pe->kind == PE_REUSE) {
		segs = &pe->segs;
		c->st.files_unchanged++;
	} else if (pe->kind == PE_LINK) {
		rc = link_segs(c, dirfd, pe, &segs);
		if (rc)
			return rc < 0 ? rc : 0;
		if (is_new)
			c->st.files_new++;
		else
			c->st.files_unchanged++;
	}
	memset(&n, 0, sizeof(n));
	meta_from_stat(&n, st, c->names);
	n.name = (const uint8_t *)pe->name;
	n.name_len = strlen(pe->name);
	n.xattrs = pe->xattrs.data;
	n.xattrs_len = pe->xattrs.len;
	_cleanup_free_ tree_seg *ts = NULL;
	if (segs) {
		ts = calloc(segs->n ? segs->n : 1, sizeof(*ts));
		if (!ts)
			return -ENOMEM;
		n.size = 0;
		for (size_t i = 0; i < segs->n; i++) {
			ts[i].len = segs->v[i].len;
			n.size += segs->v[i].len; /* what was read, should the file have shrunk */
			if (!segs->v[i].hole && (rc = tree_writer_ref(tw, segs->v[i].id, &ts[i].ref)) < 0)
				return rc;
		}
		n.segs = ts;
		n.nsegs = segs->n;
		c->st.total_files++;
		c->st.total_bytes += n.size;
		atomic_fetch_add(&c->prog->files, 1);
	}
	if (n.type == NODE_DIR && (rc = tree_writer_ref(tw, pe->sub, &n.subtree)) < 0)
		return rc;
	if (n.type == NODE_SYMLINK) {
		n.target = pe->target.data;
		n.target_len = pe->target.len;
	}
	return tree_writer_add(tw, &n);
}

static void pentries_free(pentry *pe, size_t n)
{
	for (size_t i = 0; pe && i < n; i++) {
		free(pe[i].name);
		buf_release(&pe[i].xattrs);
		buf_release(&pe[i].target);
		file_job_free(pe[i].job);
		free(pe[i].segs.v);
	}
	free(pe);
}

/* Waits for a directory's file jobs and writes its tree. */
static int assemble(bctx *c, pdir *d)
{
	int rc = d->rc;
	/* every job must end before its entry is freed, even after an error */
	for (size_t i = 0; i < d->n; i++)
		if (d->pe[i].job)
			file_job_wait(c, d->pe[i].job);
	tree_writer _cleanup_(tree_writer_release) tw = TREE_WRITER_INIT;
	for (size_t i = 0; rc == 0 && i < d->n; i++)
		rc = finish_entry(c, &tw, d->fd, &d->pe[i]);
	rc = rc ?: save_tree(c, &tw, d->out);
	pentries_free(d->pe, d->n);
	if (d->fd >= 0)
		close(d->fd);
	free(d);
	return rc;
}

static int dir_ready(bctx *c, const pdir *d)
{
	int ready = 1;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; ready && i < d->n; i++)
		ready = !d->pe[i].job || d->pe[i].job->done;
	pthread_mutex_unlock(&c->lock);
	return ready;
}

static int assemble_front(bctx *c)
{
	pdir *d = c->q_head;
	c->q_head = d->next;
	if (!c->q_head)
		c->q_tail = NULL;
	c->q_len--;
	return assemble(c, d);
}

/*
 * Queues a walked directory (taking fd and pe) and assembles those at the
 * front whose jobs are done; waits only when PDIR_WINDOW are pending.
 */
static int queue_dir(bctx *c, int fd, pentry *pe, size_t n, int rc, uint8_t out_id[32])
{
	pdir *d = calloc(1, sizeof(*d));
	if (!d) {
		for (size_t i = 0; i < n; i++)
			if (pe[i].job)
				file_job_wait(c, pe[i].job);
		pentries_free(pe, n);
		close(fd);
		return -ENOMEM;
	}
	*d = (pdir){ NULL, pe, n, fd, out_id, rc };
	if (c->q_tail)
		c->q_tail->next = d;
	else
		c->q_head = d;
	c->q_tail = d;
	c->q_len++;
	int first = 0;
	while (c->q_head && (c->q_len > PDIR_WINDOW || dir_ready(c, c->q_head))) {
		int r = assemble_front(c);
		if (r < 0 && !first)
			first = r;
	}
	return first;
}

/* Assembles every queued directory. */
static int drain_dirs(bctx *c)
{
	int first = 0;
	while (c->q_head) {
		int r = assemble_front(c);
		if (r < 0 && !first)
			first = r;
	}
	return first;
}

/* Walks the directory fd (owned); its tree id will be written to out_id. */
static int walk_dir(bctx *c, int fd, const tree *parent, uint8_t out_id[32])
{
	char **names = NULL;
	size_t n = 0;
	int rc = read_names(fd, &names, &n);
	if (rc < 0) {
		close(fd);
		if (rc == -ENOMEM)
			return rc;
		warn_entry(c, "cannot list directory", rc);
		return empty_tree(c, out_id);
	}
	pentry *pe = calloc(n ? n : 1, sizeof(*pe));
	if (!pe) {
		strlist_free(names, n);
		close(fd);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		pe[i].name = names[i]; /* pentries own the names now */
	free(names);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = prepare_entry(c, fd, &pe[i], parent);
	return queue_dir(c, fd, pe, n, rc, out_id);
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
	int fd = open(dl ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(-errno, "cannot open '%s'", dl ? dir : "/");
	pentry *pe = calloc(n, sizeof(*pe));
	size_t npe = 0;
	int rc = pe ? 0 : -ENOMEM;
	for (size_t i = 0; i < n && rc == 0;) {
		const char *comp = paths[i] + dl + 1;
		size_t cl = strcspn(comp, "/"), j = i;
		int is_root = 0;
		while (j < n && strncmp(paths[j] + dl + 1, comp, cl) == 0 &&
		       (paths[j][dl + 1 + cl] == '/' || paths[j][dl + 1 + cl] == 0)) {
			is_root |= paths[j][dl + 1 + cl] == 0;
			j++;
		}
		pentry *e = &pe[npe++];
		if (!(e->name = strndup(comp, cl))) {
			rc = -ENOMEM;
			break;
		}
		if (is_root) {
			rc = prepare_entry(c, fd, e, parent);
		} else {
			_cleanup_free_ char *sub = strndup(paths[i], dl + 1 + cl);
			tree ptree = TREE_INIT;
			if (!sub) {
				rc = -ENOMEM;
				break;
			}
			if (fstatat(fd, e->name, &e->st, AT_SYMLINK_NOFOLLOW) < 0) {
				rc = err_sys(-errno, "cannot stat '%s'", sub);
				break;
			}
			long pi = parent ? tree_find(parent, e->name, cl) : -1;
			int have = pi >= 0 && parent->nodes[pi].type == NODE_DIR &&
				   load_tree(c, tree_child(parent, parent->nodes[pi].subtree), &ptree) == 0;
			size_t old = path_push(c, e->name);
			rc = virtual_dir(c, sub, paths + i, j - i, have ? &ptree : NULL, e->sub);
			c->path.len = old;
			tree_release(&ptree);
			e->kind = PE_NODE;
		}
		i = j;
	}
	if (!pe) {
		close(fd);
		return rc;
	}
	return queue_dir(c, fd, pe, npe, rc, out_id);
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


/*
 * The totals for the ETA of a first backup: a concurrent walk adding up
 * file sizes (excludes are ignored: it is an estimate).  It stops early
 * when the backup ends first.
 */
typedef struct {
	pthread_t thread;
	int started;
	atomic_int stop;
	job_progress *prog;
	char **paths;
	size_t npaths;
	int one_fs;
} scanner;

static _Thread_local scanner *scan_self;

static int scan_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (atomic_load(&scan_self->stop))
		return 1;
	if (flag == FTW_F && S_ISREG(st->st_mode)) {
		atomic_fetch_add(&scan_self->prog->est_bytes, (uint64_t)st->st_size);
		atomic_fetch_add(&scan_self->prog->est_files, 1);
	}
	return 0;
}

static void *scan_run(void *arg)
{
	scan_self = arg;
	for (size_t i = 0; i < scan_self->npaths && !atomic_load(&scan_self->stop); i++)
		nftw(scan_self->paths[i], scan_visit, 64, FTW_PHYS | (scan_self->one_fs ? FTW_MOUNT : 0));
	return NULL;
}

static void scanner_start(scanner *sc, job_progress *prog, char **paths, size_t n, int one_fs)
{
	memset(sc, 0, sizeof(*sc));
	sc->prog = prog;
	sc->paths = paths;
	sc->npaths = n;
	sc->one_fs = one_fs;
	sc->started = pthread_create(&sc->thread, NULL, scan_run, sc) == 0;
}

static void scanner_stop(scanner *sc)
{
	if (!sc->started)
		return;
	atomic_store(&sc->stop, 1);
	pthread_join(sc->thread, NULL);
	sc->started = 0;
}

static void bctx_release(bctx *c)
{
	workq_free(c->wq);
	workq_free(c->seal_wq);
	repo_session_free(c->inline_rd);
	buf_release(&c->inline_rbuf);
	meta_names_free(c->names);
	buf_release(&c->path);
	buf_release(&c->qbuf);
	for (size_t i = 0; i < c->links_cap; i++)
		free(c->links[i].segs.v);
	free(c->links);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->job_done);
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
		if (strlist_add(&s->tags, &s->ntags, o->tags[i]) < 0)
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
			strlist_free(v, n);
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
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.job_done, NULL);
	char **paths = NULL;
	size_t npaths = 0;
	snapshot *parent = NULL, *s = snapshot_new();
	tree ptree = TREE_INIT;
	uint64_t added_before = repo_bytes_added(r);
	int rc = s ? meta_names_new(&c.names) : -ENOMEM;
	rc = rc ?: repo_session_new(&c.inline_rd, r);
	if (rc == 0 && o->threads > 1) {
		workq_params wp = { o->threads, (size_t)o->threads * 4, file_job_run, job_worker_new,
				    job_worker_free, r };
		workq_params sp = { o->threads, 1, seal_job_run, job_worker_new,
				    job_worker_free, r };
		rc = workq_new(&c.wq, &wp);
		rc = rc ?: workq_new(&c.seal_wq, &sp);
	}
	rc = rc ?: fill_identity(s, o);
	rc = rc ?: prepare_paths(o, &paths, &npaths);
	rc = rc ?: find_parent(r, o, s->host, paths, npaths, &parent);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < npaths; i++)
		if ((rc = strlist_add(&s->paths, &s->npaths, paths[i])) < 0)
			goto out;
	if (parent) {
		s->has_parent = 1;
		memcpy(s->parent, parent->id, 32);
		atomic_store(&prog->est_bytes, parent->stats.total_bytes);
		atomic_store(&prog->est_files, parent->stats.total_files);
		if (load_tree(&c, parent->tree, &ptree) < 0)
			log_warn("cannot read the parent snapshot's tree: every file will be read");
	}
	scanner sc = { .started = 0 };
	if (!parent && prog->want_estimate)
		scanner_start(&sc, prog, paths, npaths, o->one_file_system);
	struct stat rst;
	if (stat(paths[0], &rst) == 0)
		c.root_dev = rst.st_dev;
	if (strcmp(paths[0], "/") == 0) {
		int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		buf_put_u8(&c.path, '/');
		rc = fd < 0 ? -errno : walk_dir(&c, fd, ptree.plain.data ? &ptree : NULL, s->tree);
	} else {
		rc = virtual_dir(&c, "", paths, npaths, ptree.plain.data ? &ptree : NULL, s->tree);
	}
	/* the queued directories, also after an error (their jobs must end) */
	int rc2 = drain_dirs(&c);
	rc = rc ?: rc2;
	if (c.wq)
		workq_wait(c.wq);
	if (c.seal_wq)
		workq_wait(c.seal_wq);
	if ((rc == 0 || rc == atomic_load(&c.seal_rc)) && atomic_load(&c.seal_rc))
		rc = err_set(atomic_load(&c.seal_rc), "%s", c.seal_err);
	scanner_stop(&sc);
	rc = rc ?: repo_flush(r);
	if (rc < 0)
		goto out;
	c.st.bytes_read = atomic_load(&c.bytes_read);
	c.st.errors = atomic_load(&c.errors);
	c.st.bytes_added = repo_bytes_added(r) - added_before;
	s->stats = c.st;
	rc = repo_save_snapshot(r, s);
	if (rc < 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	out->snap = s;
	s = NULL;
	out->files_changed_while_read = atomic_load(&c.changed_while_read);
	out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
out:
	tree_release(&ptree);
	snapshot_free(parent);
	snapshot_free(s);
	strlist_free(paths, npaths);
	bctx_release(&c);
	return rc;
}

void backup_result_release(backup_result *res)
{
	snapshot_free(res->snap);
	res->snap = NULL;
}
