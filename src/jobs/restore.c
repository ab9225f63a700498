/* SPDX-License-Identifier: BSD-2-Clause */
#include "restore.h"
#include "treeio.h"
#include "expand.h"
#include "match.h"
#include "quote.h"
#include "worker.h"
#include "../archive/meta.h"
#include "../archive/tree.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/fsio.h"
#include "../base/interrupt.h"
#include "../base/log.h"
#include "../base/strlist.h"
#include "../base/workq.h"
#include "../core/blob.h"
#include "../repo/session.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* A directory on the way to restored entries, created on first use. */
typedef struct pdir {
	struct pdir *parent;
	char *name;   /* NUL-terminated component */
	int fd;       /* -1 until created */
	int owned_fd; /* fd is ours to close */
	const tree_node *node;
} pdir;

/* Where the first link of a hard-linked inode was restored. */
typedef struct {
	uint64_t dev, ino;
	char *rel; /* path below the target, components joined by '/' */
} link_seen;

typedef struct {
	repo *r;
	const restore_opts *o;
	const snapshot *s;
	job_progress *prog;
	match_set inc, exc; /* --include, --exclude */
	restore_stats st;   /* counters updated by workers: under lock */
	pthread_mutex_t lock;
	workq *wq;          /* NULL: contents written inline */
	repo_session *inline_rd;
	buf path;  /* snapshot path of the current entry */
	buf rel;   /* the same below the target */
	buf qbuf;
	buf tbuf;  /* the target path of the current entry, quoted */
	buf data;
	link_seen *links;
	size_t nlinks, links_cap;
	int root_fd;        /* -1 in a dry run whose target does not exist yet */
	const char *only;   /* restore only this name of the first tree (a file subpath) */
	size_t only_depth;  /* ... which is at this depth */
	size_t depth; /* of the directory being restored ("/" is 0) */
	expander x;
	expand_totals admitted; /* what the restore has set out to write */
	uint64_t examined;      /* entries looked at outside what is restored */
} rctx;

static double mib(uint64_t v)
{
	return (double)v / (1 << 20);
}

/*
 * e (what the subtree "what" expands to) is about to be restored: checks
 * the entry limit and that the target has room for it and for what was
 * set out before and is not written yet.  Fails the whole restore: a
 * snapshot this large or a disk this full is not a per-entry matter.
 */
static int admit(rctx *c, const expand_totals *e, const char *path)
{
	const restore_opts *o = c->o;
	buf _cleanup_(buf_releasep) w = BUF_INIT;
	const char *what = "the snapshot";
	if (path && buf_append(&w, "'", 1) == 0 && buf_append(&w, path, strlen(path)) == 0 &&
	    buf_append(&w, "'", 2) == 0)
		what = (const char *)w.data;
	expand_add(&c->admitted, e);
	atomic_store(&c->prog->est_files, c->admitted.files);
	atomic_store(&c->prog->est_bytes, c->admitted.data);
	if (o->max_entries && (c->admitted.entries > o->max_entries ||
			       c->admitted.entries + c->examined > o->max_entries))
		return err_set(-E2BIG, "%s expands to %llu entries (%llu files, %.1f MiB) from %llu distinct directories read: more than --max-entries %llu (its trees share subtrees; raise the limit if that is expected)",
			       what, (unsigned long long)c->admitted.entries,
			       (unsigned long long)c->admitted.files, mib(c->admitted.bytes),
			       (unsigned long long)c->x.trees_read, (unsigned long long)o->max_entries);
	if (o->no_space_check)
		return 0;
	struct statvfs sv;
	if (fstatvfs(c->root_fd, &sv) < 0)
		return 0; /* cannot tell: the writes will say */
	pthread_mutex_lock(&c->lock);
	uint64_t written = c->st.bytes, made = c->st.files + c->st.dirs + c->st.others;
	pthread_mutex_unlock(&c->lock);
	uint64_t frag = sv.f_frsize ? sv.f_frsize : 4096;
	uint64_t avail = (uint64_t)sv.f_bavail > UINT64_MAX / frag ? UINT64_MAX : (uint64_t)sv.f_bavail * frag;
	uint64_t size = (uint64_t)sv.f_blocks > UINT64_MAX / frag ? UINT64_MAX : (uint64_t)sv.f_blocks * frag;
	uint64_t keep = size / 100 < (64 << 20) ? size / 100 : (64 << 20); /* never to the last block */
	uint64_t need = c->admitted.alloc > written ? c->admitted.alloc - written : 0;
	if (need > avail || avail - need < keep)
		return err_set(-ENOSPC, "not enough space in '%s' to restore %s: about %.1f MiB more are needed, %.1f MiB are free (--no-space-check tries anyway)",
			       o->target, what, mib(need), mib(avail));
	uint64_t inodes = c->admitted.inodes / 65536 + 1;
	if (sv.f_files && inodes > made && inodes - made > (uint64_t)sv.f_favail)
		return err_set(-ENOSPC, "not enough inodes in '%s' to restore %s: %llu more are needed, %llu are free (--no-space-check tries anyway)",
			       o->target, what, (unsigned long long)(inodes - made),
			       (unsigned long long)sv.f_favail);
	return 0;
}

/* An entry looked at but not restored (--include), counted against the limit. */
static int examine(rctx *c)
{
	c->examined++;
	if (c->o->max_entries && c->admitted.entries + c->examined > c->o->max_entries)
		return err_set(-E2BIG, "examined %llu entries of the snapshot for --include: more than --max-entries %llu (its trees share subtrees; raise the limit if that is expected)",
			       (unsigned long long)c->examined, (unsigned long long)c->o->max_entries);
	return 0;
}

static const char *qpath(rctx *c)
{
	return quote_path(&c->qbuf, c->path.data, c->path.len);
}

/* Where the current entry goes: the target and rel, quoted. */
static const char *tpath(rctx *c)
{
	buf t = BUF_INIT;
	size_t tl = strlen(c->o->target);
	int rc = buf_append(&t, c->o->target, tl);
	if (rc == 0 && c->rel.len && !(tl && c->o->target[tl - 1] == '/'))
		rc = buf_put_u8(&t, '/');
	rc = rc ?: buf_append(&t, c->rel.data, c->rel.len);
	const char *q = rc < 0 ? "(out of memory)" : quote_path(&c->tbuf, t.data, t.len);
	buf_release(&t);
	return q;
}

static void event(rctx *c, int ev, const char *why)
{
	if (c->o->on_event)
		c->o->on_event(c->o->ud, ev, tpath(c), why);
}

static void fail_at(rctx *c, const char *path, const char *what, int code)
{
	log_error("%s '%s': %s", what, path, err_msg(code));
	err_clear();
	pthread_mutex_lock(&c->lock);
	c->st.errors++;
	pthread_mutex_unlock(&c->lock);
	atomic_fetch_add(&c->prog->errors, 1);
}

/* A failure of the target's file system: names the entry in the target. */
static void fail(rctx *c, const char *what, int code)
{
	fail_at(c, tpath(c), what, code);
}

/* A failure of the snapshot (a damaged or forged tree): names its path there. */
static void fail_snap(rctx *c, const char *what, int code)
{
	fail_at(c, qpath(c), what, code);
}

/* An error whose message names its object already. */
static void fail_msg(rctx *c, int code)
{
	log_error("%s", err_msg(code));
	err_clear();
	pthread_mutex_lock(&c->lock);
	c->st.errors++;
	pthread_mutex_unlock(&c->lock);
	atomic_fetch_add(&c->prog->errors, 1);
}

static int safe_name(const tree_node *n)
{
	return tree_name_safe(n->name, n->name_len);
}

/*
 * Opens (creating) the directory pd; NULL-safe chain up to the target.  A
 * dry run creates nothing: -ENOENT when it does not exist yet (so all
 * below is new).
 */
static int pdir_open(rctx *c, pdir *pd)
{
	if (pd->fd >= 0)
		return pd->fd;
	if (!pd->parent)
		return -ENOENT; /* the target of a dry run, not there yet */
	int pfd = pdir_open(c, pd->parent);
	if (pfd < 0)
		return pfd;
	if (!c->o->dry_run && mkdirat(pfd, pd->name, 0700) < 0 && errno != EEXIST)
		return -errno;
	int fd = openat(pfd, pd->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP || errno == ENOTDIR ? -ENOTDIR : -errno;
	pd->fd = fd;
	pd->owned_fd = 1;
	return fd;
}

enum { NP_OWNER = 1, NP_DEVICE = 2, NP_XATTR = 4 };

/*
 * What a non-root restore cannot do, counted by kind, an entry once in
 * not_permitted: the command sums it up in one line at the end, instead
 * of a warning per entry (or none at all, for owners: they are not even
 * tried without root).
 */
static void not_permitted(rctx *c, unsigned kinds)
{
	if (!kinds)
		return;
	pthread_mutex_lock(&c->lock);
	c->st.not_permitted++;
	c->st.owners_skipped += !!(kinds & NP_OWNER);
	c->st.devices_skipped += !!(kinds & NP_DEVICE);
	c->st.xattrs_skipped += !!(kinds & NP_XATTR);
	pthread_mutex_unlock(&c->lock);
}

static int apply_meta_at(rctx *c, const char *path, int fd, int dirfd, const char *name,
			 const tree_node *n)
{
	unsigned failed = 0, np = 0;
	int rc = meta_apply(fd, dirfd, name, n, c->st.as_root, &failed);
	if (rc == -ENOMEM)
		return rc;
	if (!c->st.as_root && (n->uid != geteuid() || n->gid != getegid()))
		np |= NP_OWNER;
	/* non-root users may not set trusted.* (or, without CAP_FOWNER, some
	 * security.*) attributes: counted, not an error */
	if (!c->st.as_root && (failed & META_FAIL_XATTR) && (rc == -EPERM || rc == -EACCES)) {
		np |= NP_XATTR;
		failed &= ~(unsigned)META_FAIL_XATTR;
	}
	not_permitted(c, np);
	if (failed)
		fail_at(c, path, "cannot restore metadata of", rc);
	return 0;
}

static int apply_meta(rctx *c, int fd, int dirfd, const char *name, const tree_node *n)
{
	return apply_meta_at(c, tpath(c), fd, dirfd, name, n);
}

/*
 * Files larger than this are written in parts of about this size, each by
 * whichever worker takes it: a VM image restored by one worker used one
 * core (1.9x restic's time for an 8 GiB file, docs/performance.md).
 */
#define PART_BYTES ((uint64_t)32 << 20)

struct fjob;

/* Segments [from, to) of a file, the first at offset off. */
typedef struct {
	struct fjob *j;
	size_t from, to;
	uint64_t off;
} fpart;

/*
 * The contents of one file, written by workers (or inline) a part at a
 * time: a copy of the node with its own segment ids and xattrs, and the
 * open file.  The part that ends last sets the size and the metadata and
 * reports the first failure, if any.
 */
typedef struct fjob {
	rctx *c;
	int fd;
	tree_node n;
	tree_seg *segs;
	uint8_t (*ids)[32]; /* segment ref k refers to ids[k - 1] */
	buf xattrs;
	char *qpath; /* in the snapshot */
	char *tpath; /* in the target */
	fpart *parts;
	size_t nparts;
	atomic_size_t parts_left;
	int rc; /* the first part's failure (under c->lock), its message in err */
	atomic_int failed; /* rc is set: the parts not begun yet are not written */
	err_saved err;
} fjob;

static void fjob_free(fjob *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->segs);
	free(j->ids);
	free(j->parts);
	buf_release(&j->xattrs);
	free(j->qpath);
	free(j->tpath);
	free(j);
}

static int fjob_new(fjob **out, rctx *c, int fd, const tree *t, const tree_node *n)
{
	fjob *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->c = c;
	j->fd = fd;
	j->n = *n;
	j->n.name = NULL;
	j->n.name_len = 0;
	j->segs = calloc(n->nsegs ? n->nsegs : 1, sizeof(*j->segs));
	j->ids = calloc(n->nsegs ? n->nsegs : 1, 32);
	j->qpath = strdup(qpath(c));
	j->tpath = strdup(tpath(c));
	int rc = buf_append(&j->xattrs, n->xattrs, n->xattrs_len);
	if (!j->segs || !j->ids || !j->qpath || !j->tpath || rc < 0) {
		j->fd = -1; /* the caller still owns fd */
		fjob_free(j);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n->nsegs; i++) {
		j->segs[i].len = n->segs[i].len;
		if (n->segs[i].ref) {
			memcpy(j->ids[i], tree_child(t, n->segs[i].ref), 32);
			j->segs[i].ref = (uint32_t)i + 1;
		}
	}
	j->n.segs = j->segs;
	j->n.xattrs = j->xattrs.data;
	*out = j;
	return 0;
}

/* Cuts the file into parts of about PART_BYTES (one for most files). */
static int fjob_split(fjob *j)
{
	size_t n = 1;
	uint64_t run = 0;
	for (size_t i = 0; i < j->n.nsegs; i++) {
		run += j->segs[i].len;
		if (run >= PART_BYTES && i + 1 < j->n.nsegs) {
			n++;
			run = 0;
		}
	}
	if (!(j->parts = calloc(n, sizeof(*j->parts))))
		return -ENOMEM;
	size_t k = 0;
	uint64_t off = 0;
	run = 0;
	j->parts[0] = (fpart){ j, 0, j->n.nsegs, 0 };
	for (size_t i = 0; i < j->n.nsegs; i++) {
		off += j->segs[i].len;
		run += j->segs[i].len;
		if (run >= PART_BYTES && i + 1 < j->n.nsegs) {
			j->parts[k].to = i + 1;
			j->parts[++k] = (fpart){ j, i + 1, j->n.nsegs, off };
			run = 0;
		}
	}
	j->nparts = n;
	atomic_init(&j->parts_left, n);
	atomic_init(&j->failed, 0);
	return 0;
}

static int write_part(const fpart *p, repo_session *rd, buf *data)
{
	fjob *j = p->j;
	rctx *c = j->c;
	uint64_t off = p->off;
	int rc;
	for (size_t i = p->from; i < p->to; i++) {
		const tree_seg *sg = &j->segs[i];
		if (sg->ref) {
			rc = repo_session_load(rd, BLOB_DATA, j->ids[sg->ref - 1], data, c->o->verify);
			if (rc < 0)
				return rc;
			if (data->len != sg->len)
				return err_set(-DV_ECORRUPT, "a chunk has the wrong length");
			if ((rc = fsio_pwrite_all(j->fd, data->data, data->len, (off_t)off)) < 0)
				return err_sys(rc, "write failed");
			pthread_mutex_lock(&c->lock);
			c->st.bytes += sg->len;
			pthread_mutex_unlock(&c->lock);
			atomic_fetch_add(&c->prog->bytes, sg->len);
		}
		off += sg->len;
	}
	return 0;
}

/* After the last part: the size, the metadata, or the first failure. */
static void fjob_finish(fjob *j)
{
	rctx *c = j->c;
	int rc = j->rc;
	if (rc < 0)
		err_restore(&j->err);
	else if (ftruncate(j->fd, (off_t)j->n.size) < 0)
		rc = err_sys(-errno, "cannot set size");
	if (rc < 0) {
		char what[PATH_MAX + 64];
		snprintf(what, sizeof(what), "cannot restore '%s' to", j->qpath);
		fail_at(c, j->tpath, what, rc);
	} else {
		apply_meta_at(c, j->tpath, j->fd, -1, NULL, &j->n);
	}
	fjob_free(j);
}

static void fpart_run(fpart *p, repo_session *rd, buf *data)
{
	fjob *j = p->j;
	int rc = atomic_load(&j->failed) ? 0 : write_part(p, rd, data);
	if (rc < 0) {
		pthread_mutex_lock(&j->c->lock);
		if (!j->rc) {
			j->rc = rc;
			err_save(&j->err);
			atomic_store(&j->failed, 1);
		}
		pthread_mutex_unlock(&j->c->lock);
		err_clear();
	}
	if (atomic_fetch_sub(&j->parts_left, 1) == 1)
		fjob_finish(j);
}

static void fjob_worker(void *state, void *arg)
{
	job_worker *w = state;
	fpart_run(arg, w->rd, &w->data);
}


/* Removes a non-directory entry that is in the way. */
static int clear_entry(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* What to do with the place of one entry of the snapshot in the target. */
enum {
	ACT_NEW,     /* nothing there */
	ACT_WRITE,   /* something else there: replace it */
	ACT_SAME,    /* the same there: set its metadata again, keep its contents */
	ACT_SKIP,    /* leave it (kept by --overwrite, or in the way: reported) */
};

static int64_t mtime_ns_of(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* 1 when what is at pfd/name (st) is what n records: type, size, mtime, target, device. */
static int same_entry(int pfd, const char *name, const struct stat *st, const tree_node *n)
{
	if (meta_node_type(st->st_mode) != n->type)
		return 0;
	switch (n->type) {
	case NODE_FILE:
		return (uint64_t)st->st_size == n->size &&
		       st->st_mtim.tv_sec == n->mtime && (uint32_t)st->st_mtim.tv_nsec == n->mtime_ns;
	case NODE_SYMLINK: {
		if ((uint64_t)st->st_size != n->target_len)
			return 0;
		char *t = malloc(n->target_len + 1);
		ssize_t l = t ? readlinkat(pfd, name, t, n->target_len + 1) : -1;
		int same = l >= 0 && (size_t)l == n->target_len && memcmp(t, n->target, n->target_len) == 0;
		free(t);
		return same;
	}
	case NODE_CHR:
	case NODE_BLK:
		return (uint64_t)st->st_rdev == n->rdev;
	default:
		return 1;
	}
}

/*
 * Decides for the entry n that goes to pfd/name (pfd -1: a directory a dry
 * run would create): looks at what is there and applies --overwrite.  It
 * tells the caller's on_event what happens to an existing entry and counts
 * it; a directory in the way of a non-directory is an error unless
 * --delete may replace it.  For a directory node only a non-directory in
 * the way is decided (a directory there is ACT_SAME).
 */
static int decide(rctx *c, int pfd, const char *name, const tree_node *n, struct stat *st)
{
	if (pfd < 0)
		return ACT_NEW;
	if (fstatat(pfd, name, st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return ACT_NEW;
		fail(c, "cannot look at", -errno);
		return ACT_SKIP;
	}
	int there = meta_node_type(st->st_mode);
	if (n->type == NODE_DIR && there == NODE_DIR)
		return ACT_SAME;
	if (n->type == NODE_DIR && there == NODE_SYMLINK) {
		fail_msg(c, err_set(-ENOTDIR, "refusing to restore '%s': a symlink is in the way, and restore never goes through one",
				    tpath(c)));
		return ACT_SKIP;
	}
	int same = same_entry(pfd, name, st, n);
	if (same && c->o->overwrite != RESTORE_ALWAYS)
		return ACT_SAME;
	int newer = mtime_ns_of(st) >= n->mtime * 1000000000 + n->mtime_ns;
	const char *why = there != n->type ? "another kind of entry was there" : "it differed";
	if (c->o->overwrite == RESTORE_NEVER || (c->o->overwrite == RESTORE_IF_NEWER && newer)) {
		event(c, RESTORE_EV_KEPT, c->o->overwrite == RESTORE_NEVER ? "--overwrite never"
						  : "newer than in the snapshot, --overwrite if-newer");
		pthread_mutex_lock(&c->lock);
		c->st.kept++;
		pthread_mutex_unlock(&c->lock);
		return ACT_SKIP;
	}
	if (there == NODE_DIR && !c->o->del) {
		fail_msg(c, err_set(-EISDIR, "cannot restore '%s': a directory is in the way (--delete replaces it)",
				    tpath(c)));
		return ACT_SKIP;
	}
	if (same)
		return ACT_WRITE; /* --overwrite always: rewritten, but nothing was lost */
	event(c, RESTORE_EV_REPLACED, there == NODE_DIR ? "a directory was there, --delete" : why);
	pthread_mutex_lock(&c->lock);
	c->st.replaced++;
	pthread_mutex_unlock(&c->lock);
	return ACT_WRITE;
}

/* Clears the place decide() said to write: what is there goes (a directory only with --delete). */
static int make_room(rctx *c, int pfd, const char *name, const struct stat *st, int act)
{
	if (act != ACT_WRITE || c->o->dry_run)
		return 0;
	int rc = S_ISDIR(st->st_mode) ? fsio_remove_tree(pfd, name) : clear_entry(pfd, name);
	if (rc < 0)
		fail(c, "cannot replace", rc);
	return rc;
}

/* The bytes a file's contents write (its holes are not written). */
static uint64_t data_bytes(const tree_node *n)
{
	uint64_t b = 0;
	for (size_t i = 0; i < n->nsegs; i++)
		if (n->segs[i].ref)
			b += n->segs[i].len;
	return b;
}

/* ACT_SAME: the entry stays; its metadata is set again (not in a dry run). */
static int keep_same(rctx *c, int pfd, const char *name, const tree_node *n)
{
	pthread_mutex_lock(&c->lock);
	c->st.unchanged++;
	pthread_mutex_unlock(&c->lock);
	if (c->o->dry_run || c->o->overwrite == RESTORE_NEVER)
		return 0; /* never: not even its metadata is touched */
	if (n->type != NODE_FILE)
		return apply_meta(c, -1, pfd, name, n);
	int fd = openat(pfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fail(c, "cannot open", -errno);
		return 0;
	}
	int rc = apply_meta(c, fd, -1, NULL, n);
	close(fd);
	return rc;
}

static link_seen *link_lookup(rctx *c, const tree_node *n)
{
	for (size_t i = 0; i < c->nlinks; i++)
		if (c->links[i].dev == n->dev && c->links[i].ino == n->ino)
			return &c->links[i];
	return NULL;
}

static int link_record(rctx *c, const tree_node *n)
{
	if (c->nlinks == c->links_cap) {
		size_t cap = c->links_cap ? c->links_cap * 2 : 16;
		link_seen *l = realloc(c->links, cap * sizeof(*l));
		if (!l)
			return -ENOMEM;
		c->links = l;
		c->links_cap = cap;
	}
	char *rel = strndup((const char *)c->rel.data, c->rel.len);
	if (!rel)
		return -ENOMEM;
	c->links[c->nlinks++] = (link_seen){ n->dev, n->ino, rel };
	return 0;
}

/* 1 when restored as a link to an earlier path, 0 when not possible. */
static int try_link(rctx *c, int pfd, const char *name, const tree_node *n)
{
	link_seen *l = link_lookup(c, n);
	if (!l)
		return 0;
	char base[256];
	_cleanup_close_ int ofd = -1;
	if (fsio_open_parent(c->root_fd, l->rel, strlen(l->rel), 1, &ofd, base) < 0)
		return 0; /* the directory of the first link, never through a symlink */
	if (clear_entry(pfd, name) < 0)
		return 0;
	if (linkat(ofd, base, pfd, name, 0) < 0)
		return 0;
	c->st.files++;
	return 1;
}

static int restore_file(rctx *c, int pfd, const char *name, const tree *t, const tree_node *n)
{
	struct stat st;
	int act = decide(c, pfd, name, n, &st), rc;
	if (act == ACT_SKIP)
		return 0;
	if (act == ACT_SAME) {
		rc = keep_same(c, pfd, name, n);
		return rc == 0 && n->nlink > 1 ? link_record(c, n) : rc;
	}
	if (c->o->dry_run) {
		pthread_mutex_lock(&c->lock);
		c->st.files++;
		c->st.bytes += data_bytes(n);
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	if (make_room(c, pfd, name, &st, act) < 0)
		return 0;
	if (n->nlink > 1 && try_link(c, pfd, name, n))
		return 0;
	/* O_EXCL with O_NOFOLLOW: whatever is in the way (a symlink too) is
	 * removed and the file created anew, never written through */
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(pfd, name, flags, 0600);
	if (fd < 0 && errno == EEXIST) {
		if ((rc = clear_entry(pfd, name)) < 0) {
			fail(c, "cannot replace", rc);
			return 0;
		}
		fd = openat(pfd, name, flags, 0600);
	}
	if (fd < 0) {
		fail(c, "cannot create", -errno);
		return 0;
	}
	fjob *j;
	if ((rc = fjob_new(&j, c, fd, t, n)) < 0) {
		close(fd);
		return rc;
	}
	if ((rc = fjob_split(j)) < 0) {
		fjob_free(j);
		return rc;
	}
	pthread_mutex_lock(&c->lock);
	c->st.files++;
	pthread_mutex_unlock(&c->lock);
	atomic_fetch_add(&c->prog->files, 1);
	/* nparts read first: the last part run frees j */
	for (size_t i = 0, np = j->nparts; i < np; i++) {
		if (c->wq)
			workq_submit(c->wq, &j->parts[i]);
		else
			fpart_run(&j->parts[i], c->inline_rd, &c->data);
	}
	if (n->nlink > 1)
		return link_record(c, n);
	return 0;
}

static int restore_special(rctx *c, int pfd, const char *name, const tree_node *n)
{
	struct stat st;
	int act = decide(c, pfd, name, n, &st), rc;
	if (act == ACT_SKIP)
		return 0;
	if (act == ACT_SAME)
		return keep_same(c, pfd, name, n);
	if (c->o->dry_run) {
		c->st.others++;
		return 0;
	}
	if (make_room(c, pfd, name, &st, act) < 0)
		return 0;
	if ((rc = clear_entry(pfd, name)) < 0) {
		fail(c, "cannot replace", rc);
		return 0;
	}
	switch (n->type) {
	case NODE_SYMLINK: {
		_cleanup_free_ char *target = strndup((const char *)n->target, n->target_len);
		if (!target)
			return -ENOMEM;
		if (strlen(target) != n->target_len) {
			fail_snap(c, "refusing symlink with a NUL byte in its target", -DV_ECORRUPT);
			return 0;
		}
		rc = symlinkat(target, pfd, name);
		break;
	}
	case NODE_FIFO:
		rc = mkfifoat(pfd, name, 0600);
		break;
	case NODE_SOCK:
		rc = mknodat(pfd, name, S_IFSOCK | 0600, 0);
		break;
	default:
		rc = mknodat(pfd, name, (n->type == NODE_CHR ? S_IFCHR : S_IFBLK) | 0600, (dev_t)n->rdev);
		break;
	}
	if (rc < 0) {
		if (errno == EPERM && !c->st.as_root) {
			not_permitted(c, NP_DEVICE); /* counted, summed up at the end */
			return 0;
		}
		fail(c, "cannot create", -errno);
		return 0;
	}
	c->st.others++;
	return apply_meta(c, -1, pfd, name, n);
}

static int path_push(buf *b, const uint8_t *name, size_t len, int root_slash)
{
	if (b->len > 0 || root_slash)
		if (!(b->len == 1 && b->data[0] == '/' && root_slash))
			buf_put_u8(b, '/');
	return buf_append(b, name, len);
}

/*
 * The walk is iterative: one frame per directory level on the heap, at
 * most TREE_MAX_DEPTH + 1 (treeio_check_depth), allocated at once so the
 * pdir chain can point into it.  The stack does not grow with the depth.
 */
typedef struct {
	pdir pd;          /* this directory (the target itself at the root) */
	tree t;           /* its listing */
	size_t next;      /* the next node of t */
	size_t path_len, rel_len; /* c->path and c->rel of this directory */
	int inc;          /* everything below is restored */
	int own;          /* at or below a backed-up path: --delete may act here */
} rframe;

/* 1 when the snapshot path p (len bytes) is one of the backed-up paths or below one. */
static int under_backed_up(const rctx *c, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < c->s->npaths; i++) {
		const char *b = c->s->paths[i];
		size_t l = strlen(b);
		if (l == 1 && b[0] == '/')
			return 1;
		if (len >= l && memcmp(p, b, l) == 0 && (len == l || p[l] == '/'))
			return 1;
	}
	return 0;
}

/*
 * --delete: what the target directory of f holds and the snapshot does
 * not is removed (told first), except what --exclude names: excluded
 * entries are not part of the restore, in the target neither.
 */
static int delete_extras(rctx *c, rframe *f)
{
	int fd = dup(f->pd.fd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		fail(c, "cannot list", -errno);
		return 0;
	}
	char **names = NULL;
	size_t n = 0;
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (errno = 0, e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (tree_find(&f->t, e->d_name, strlen(e->d_name)) < 0)
			rc = strlist_add(&names, &n, e->d_name);
	}
	if (rc == 0 && errno)
		fail(c, "cannot list", -errno);
	closedir(d);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct stat st;
		size_t l = strlen(names[i]);
		rc = path_push(&c->path, (const uint8_t *)names[i], l, 1);
		rc = rc ?: path_push(&c->rel, (const uint8_t *)names[i], l, 0);
		if (rc == 0 && fstatat(f->pd.fd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !match_path(&c->exc, c->path.data, c->path.len, S_ISDIR(st.st_mode))) {
			event(c, RESTORE_EV_DELETED, S_ISDIR(st.st_mode) ? "a directory not in the snapshot"
									 : "not in the snapshot");
			c->st.deleted++;
			int r = c->o->dry_run ? 0 : fsio_remove_tree(f->pd.fd, names[i]);
			if (r < 0)
				fail(c, "cannot delete", r);
		}
		c->path.len = f->path_len;
		c->rel.len = f->rel_len;
	}
	strlist_free(names, n);
	return rc;
}

/* Metadata once the children are done (unless failing); releases the frame. */
static int finish_dir(rctx *c, rframe *f, int failing)
{
	int rc = 0;
	c->path.len = f->path_len;
	c->rel.len = f->rel_len;
	if (!failing && f->inc && f->own && c->o->del && f->pd.fd >= 0)
		rc = delete_extras(c, f);
	if (rc == 0 && !failing && f->pd.node && (f->pd.fd >= 0 || (c->o->dry_run && f->inc))) {
		c->st.dirs++;
		if (!c->o->dry_run)
			rc = apply_meta(c, f->pd.fd, -1, f->pd.name, f->pd.node);
	}
	if (f->pd.owned_fd)
		close(f->pd.fd);
	free(f->pd.node ? f->pd.name : NULL);
	tree_release(&f->t);
	return rc;
}

/*
 * A directory node of the frame on top: 1 and *child set up (its tree
 * loaded, created when included) to descend, 0 to go on with the next.
 */
static int enter_dir(rctx *c, rframe *f, rframe *child, char *name, const tree_node *n, int here)
{
	const uint8_t *sid = tree_child(&f->t, n->subtree);
	int rc = sid ? treeio_load(c->r, sid, &child->t) : -DV_ECORRUPT;
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		fail_snap(c, "cannot read directory", rc);
		return 0;
	}
	if ((rc = treeio_check_depth(&child->t, c->depth + 1, c->path.data, c->path.len)) < 0) {
		tree_release(&child->t);
		fail_msg(c, rc); /* what lies below is skipped; the rest is restored */
		return 0;
	}
	if (here && !f->inc) { /* newly selected: everything below is restored */
		expand_totals e;
		rc = expand_node(&c->x, &f->t, n, c->depth + 1, &e);
		rc = rc ?: admit(c, &e, qpath(c));
		if (rc < 0) {
			tree_release(&child->t);
			return rc;
		}
	}
	child->pd = (pdir){ &f->pd, name, -1, 0, n };
	child->next = 0;
	child->path_len = c->path.len;
	child->rel_len = c->rel.len;
	child->inc = here;
	child->own = f->own || under_backed_up(c, c->path.data, c->path.len);
	if (here) {
		/* a non-directory in the way is decided like any entry; a
		 * symlink is never gone through */
		struct stat st;
		int pfd = pdir_open(c, &f->pd), act = ACT_NEW;
		if (pfd >= 0)
			act = decide(c, pfd, name, n, &st);
		if (act == ACT_WRITE)
			act = make_room(c, pfd, name, &st, act) < 0 ? ACT_SKIP : ACT_WRITE;
		int fd = act == ACT_SKIP ? 0 : pdir_open(c, &child->pd);
		if (act == ACT_SKIP || (fd < 0 && !(fd == -ENOENT && c->o->dry_run))) {
			tree_release(&child->t);
			if (act != ACT_SKIP)
				fail(c, fd == -ENOTDIR ? "refusing to restore through a symlink or non-directory at"
						       : "cannot create directory", fd);
			return 0;
		}
	}
	return 1;
}

/* One node of the frame on top; 1 when it is a directory to descend into. */
static int restore_node(rctx *c, rframe *f, rframe *child, const tree_node *n)
{
	if (!safe_name(n)) {
		fail_snap(c, "refusing to restore an entry with an unsafe name at", -DV_ECORRUPT);
		return 0;
	}
	if (c->only && c->depth == c->only_depth &&
	    (n->name_len != strlen(c->only) || memcmp(n->name, c->only, n->name_len)))
		return 0; /* SNAPSHOT:FILE: only that name of its directory */
	int is_dir = n->type == NODE_DIR;
	if (match_path(&c->exc, c->path.data, c->path.len, is_dir))
		return 0; /* excluded: neither it nor anything below */
	char *name = strndup((const char *)n->name, n->name_len);
	if (!name)
		return -ENOMEM;
	const restore_opts *o = c->o;
	int here = f->inc || match_path(&c->inc, c->path.data, c->path.len, is_dir) ||
		   (o->select && o->select(o->select_ud, &c->path));
	int rc = f->inc ? 0 : examine(c);
	if (rc == 0 && here && !f->inc && !is_dir) {
		expand_totals e;
		rc = expand_node(&c->x, &f->t, n, c->depth + 1, &e);
		rc = rc ?: admit(c, &e, qpath(c));
	}
	if (rc < 0 || (is_dir && !here && !match_below(&c->inc, c->path.data, c->path.len) &&
		       !(o->select && (!o->may_contain || o->may_contain(o->select_ud, &c->path))))) {
		free(name);
		return rc; /* nothing below can be selected: not read at all */
	}
	if (is_dir) {
		rc = enter_dir(c, f, child, name, n, here);
		if (rc <= 0)
			free(name);
		return rc; /* on 1 the child frame owns name */
	}
	if (here) {
		int pfd = pdir_open(c, &f->pd);
		if (pfd < 0 && !(pfd == -ENOENT && c->o->dry_run))
			fail(c, pfd == -ENOTDIR ? "refusing to restore through a symlink or non-directory above"
						: "cannot create the directory of", pfd);
		else
			rc = n->type == NODE_FILE ? restore_file(c, pfd, name, &f->t, n)
						  : restore_special(c, pfd, name, n);
	}
	free(name);
	return rc;
}

/* Restores the tree t (taken over) of the target directory root. */
static int restore_walk(rctx *c, int root_fd, tree *t, int inc)
{
	rframe *f = calloc(TREE_MAX_DEPTH + 2, sizeof(*f));
	if (!f) {
		tree_release(t);
		return -ENOMEM;
	}
	/* SNAPSHOT:FILE restores one name into the target: nothing else there is --delete's */
	f[0] = (rframe){ { NULL, NULL, root_fd, 0, NULL }, *t, 0, c->path.len, c->rel.len, inc,
			 !c->only && under_backed_up(c, c->path.data, c->path.len) };
	*t = (tree)TREE_INIT;
	size_t top = 0;
	int rc = 0;
	for (;;) {
		rframe *cur = &f[top];
		if (rc < 0 || cur->next == cur->t.n) {
			int m = finish_dir(c, cur, rc < 0);
			rc = rc < 0 ? rc : m;
			if (top == 0)
				break;
			top--;
			c->depth--;
			continue;
		}
		const tree_node *n = &cur->t.nodes[cur->next++];
		c->path.len = cur->path_len;
		c->rel.len = cur->rel_len;
		if ((rc = interrupt_check()) < 0)
			continue;
		rc = path_push(&c->path, n->name, n->name_len, 1);
		rc = rc ?: path_push(&c->rel, n->name, n->name_len, 0);
		rc = rc ?: restore_node(c, cur, &f[top + 1], n);
		if (rc == 1) {
			top++;
			c->depth++;
			rc = 0;
		}
	}
	free(f);
	return rc;
}

/*
 * SNAPSHOT:PATH: loads the tree whose contents go into the target (the
 * directory PATH, or for a file the directory holding it, with c->only
 * set to its name) and sets c->path to that directory; *depth is its depth.
 */
static int find_subpath(rctx *c, const char *sub, tree *t, size_t *depth)
{
	for (const char *p = sub; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t l = strcspn(p, "/");
		long i = tree_find(t, p, l);
		const tree_node *n = i >= 0 ? &t->nodes[i] : NULL;
		if (!n)
			return err_set(-DV_ENOTFOUND, "path '%s' is not in the snapshot", sub);
		const char *rest = p + l + strspn(p + l, "/");
		if (n->type != NODE_DIR) {
			if (*rest)
				return err_set(-DV_ENOTFOUND, "path '%s' is not in the snapshot", sub);
			c->only = strndup(p, l);
			return c->only ? 0 : -ENOMEM;
		}
		tree sub_t = TREE_INIT;
		const uint8_t *sid = tree_child(t, n->subtree);
		int rc = sid ? treeio_load(c->r, sid, &sub_t) : -DV_ECORRUPT;
		rc = rc ?: treeio_check_depth(&sub_t, *depth + 1, sub, (size_t)(p + l - sub));
		rc = rc ?: path_push(&c->path, (const uint8_t *)p, l, 1);
		if (rc < 0) {
			tree_release(&sub_t);
			return rc;
		}
		tree_release(t);
		*t = sub_t;
		(*depth)++;
		p = rest;
	}
	return 0;
}

int restore_run(repo *r, const snapshot *s, const restore_opts *o, job_progress *prog,
		restore_stats *out)
{
	rctx c;
	memset(&c, 0, sizeof(c));
	c.r = r;
	c.o = o;
	c.s = s;
	c.prog = prog;
	c.root_fd = -1;
	c.st.as_root = geteuid() == 0;
	pthread_mutex_init(&c.lock, NULL);
	int rc = match_add_list(&c.inc, o->includes, o->nincludes, 0);
	rc = rc ?: match_add_list(&c.exc, o->excludes, o->nexcludes, 0);
	rc = rc ?: match_add_list(&c.exc, o->iexcludes, o->niexcludes, MATCH_ICASE);
	rc = rc ?: repo_session_new(&c.inline_rd, r);
	if (rc == 0 && o->threads > 1 && !o->dry_run) {
		workq_params wp = { o->threads, (size_t)o->threads * 4, fjob_worker, job_worker_new,
				    job_worker_free, r };
		rc = workq_new(&c.wq, &wp);
	}
	int trc = 0;
	if (rc == 0 && !o->dry_run)
		trc = fsio_mkdir_p(o->target, 0755, 0700);
	if (rc == 0 && trc == 0 && (c.root_fd = open(o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		trc = -errno;
	if (trc == -ENOENT && o->dry_run)
		trc = 0; /* a dry run into a target that is not there: all of it is new */
	if (rc == 0 && trc < 0)
		rc = err_sys(trc, "cannot create or open target directory '%s'", o->target);
	if (rc < 0) {
		match_release(&c.inc);
		match_release(&c.exc);
		workq_free(c.wq);
		repo_session_free(c.inline_rd);
		pthread_mutex_destroy(&c.lock);
		*out = c.st;
		return rc;
	}
	tree t = TREE_INIT;
	struct statvfs sv;
	expander_init(&c.x, r, c.root_fd >= 0 && fstatvfs(c.root_fd, &sv) == 0 ? sv.f_bsize : 4096);
	rc = treeio_load(r, s->tree, &t);
	if (rc == -DV_ECORRUPT && !strstr(err_msg(rc), "blob"))
		rc = err_set(rc, "root tree of the snapshot is damaged");
	size_t depth = 0;
	if (rc == 0)
		rc = buf_put_u8(&c.path, '/');
	if (rc == 0 && o->subpath)
		rc = find_subpath(&c, o->subpath, &t, &depth);
	/* everything, or a directory of it: most of each data pack it touches
	 * is read (one GET a pack on S3); one file or a selection may want a
	 * few blobs of many packs (a ranged GET each) */
	if (rc == 0 && !c.only && !o->nincludes && !o->select && !o->dry_run)
		repo_read_packs_whole(r);
	c.depth = c.only_depth = depth;
	int all = match_empty(&c.inc) && !o->select;
	if (rc == 0 && all) {
		/* all of it (excludes aside: an estimate from above): checked
		 * before the first write */
		expand_totals e;
		memset(&e, 0, sizeof(e));
		if (!o->subpath)
			rc = expand_tree(&c.x, s->tree, 0, &e);
		for (size_t i = 0; o->subpath && rc == 0 && i < t.n; i++) {
			const tree_node *n = &t.nodes[i];
			expand_totals one;
			if (c.only && (n->name_len != strlen(c.only) || memcmp(n->name, c.only, n->name_len)))
				continue;
			rc = expand_node(&c.x, &t, n, depth + 1, &one);
			expand_add(&e, &one);
		}
		rc = rc ?: admit(&c, &e, NULL);
	}
	if (rc == 0)
		rc = restore_walk(&c, c.root_fd, &t, all);
	/* an --include that matched nothing: the restore did not do what was
	 * asked (restic says nothing, and restores nothing) */
	const char *unused = rc == 0 ? match_unused(&c.inc) : NULL;
	if (unused)
		rc = err_set(-DV_ENOTFOUND, "--include '%s' matches nothing in the snapshot", unused);
	tree_release(&t);
	expander_release(&c.x);
	workq_free(c.wq); /* waits for the last contents */
	repo_session_free(c.inline_rd);
	pthread_mutex_destroy(&c.lock);
	if (c.root_fd >= 0)
		close(c.root_fd);
	for (size_t i = 0; i < c.nlinks; i++)
		free(c.links[i].rel);
	free(c.links);
	free((char *)c.only);
	match_release(&c.inc);
	match_release(&c.exc);
	buf_release(&c.path);
	buf_release(&c.rel);
	buf_release(&c.qbuf);
	buf_release(&c.tbuf);
	buf_release(&c.data);
	*out = c.st;
	return rc;
}
