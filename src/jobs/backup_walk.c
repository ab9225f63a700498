/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The walk keeps two structures:
 *
 *  - the stack: one frame per directory from the root down to the one
 *    being listed, each with its sorted entries, the index of the next
 *    one to prepare, and the same directory's tree in the parent
 *    snapshot.  Preparing an entry records its metadata and either decides
 *    its contents (reused, a file job, a hard link) or, for a directory,
 *    pushes a frame.  A frame whose entries are all prepared is popped and
 *    queued.
 *  - the queue: walked directories waiting for their file jobs, in the
 *    order they were popped (post-order: children before parents), so
 *    when one is assembled into its tree the ids of its subdirectories'
 *    trees are known.  It is bounded (QUEUE_WINDOW): the walk waits for
 *    the oldest only when that many are pending.
 *
 * The directories on the way from "/" to the backed-up paths are
 * "virtual" frames: their entries are only the components leading to the
 * paths, with the real directories' metadata.
 */
#include "backup_walk.h"
#include "backup_filter.h"
#include "dirlist.h"
#include "fssnap.h"
#include "quote.h"
#include "treeio.h"
#include "../archive/change.h"
#include "../archive/hardlinks.h"
#include "../archive/meta.h"
#include "../archive/seglist.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/interrupt.h"
#include "../base/log.h"
#include "../base/strlist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Descriptors.  A queued directory holds its own (its file jobs open files
 * relative to it), and the stack keeps those of its deepest frames and of
 * the first STACK_ROOT_FDS; the others are closed (once their file jobs are
 * done) and reopened on the way back up, so depth costs no descriptors.
 * With a low limit (RLIMIT_NOFILE) both windows shrink, to a minimum.
 */
#define QUEUE_WINDOW 64
#define STACK_OPEN_FDS 32
#define STACK_ROOT_FDS 2
#define WINDOW_MIN 4
/* entries listed ahead at most (about 200 bytes each with their names) */
#define AHEAD_ENTRIES 8192
#define AHEAD_FDS 16

enum { PE_SKIP, PE_NODE, PE_REUSE, PE_JOB, PE_LINK };

/* An entry of a directory being walked or assembled. */
typedef struct {
	char *name;
	int kind;
	struct stat st;
	buf xattrs, target;
	uint8_t sub[32];     /* directory: its tree id */
	const tree_node *pn; /* same name in the parent snapshot (while prepared) */
	int is_new;          /* no file of that name in the parent */
	backup_file *job;
	seglist segs;        /* PE_REUSE: the parent's chunk list */
	char *src_name;      /* a path read from an alias: its name in src_fd (owned) */
	int src_fd;          /* (owned; valid while src_name is set) */
	int follow;          /* read through a symlink (a path given with --read-devices) */
	int unconfirmed;     /* PE_REUSE: its chunks are still to be found in the index */
	int has_st, st_rc;   /* st (or the stat's error) came with the listing */
	dirlist_req *ahead;  /* a directory: its listing, read ahead (until taken) */
	int took_parent;     /* directory: its tree in the parent was reused or walked alongside */
} pentry;

/* What an entry of a virtual directory leads to. */
typedef struct {
	char **paths; /* the backed-up paths below it */
	size_t n;
	int is_root;  /* it is one of them */
} ventry;

typedef struct {
	int fd;          /* -1 while closed to save descriptors */
	dev_t dev;       /* identity, recorded when fd is closed */
	ino_t ino;
	pentry *pe;
	size_t n, i;     /* entries; the next one to prepare */
	ventry *ve;      /* a virtual directory: what each entry leads to */
	size_t vdir_len; /* its path's length (a prefix of every path in ve) */
	tree ptree;      /* this directory in the parent snapshot (owned) */
	const tree *pt;  /* or, for the root, the caller's; NULL if none */
	uint8_t *out;    /* where its tree id goes (in its parent's entry) */
	size_t path_len; /* length of its path in w->path */
	unsigned depth;  /* "/" is 0 */
	int rc;          /* the first fatal error below it */
} frame;

/* A walked directory waiting for its file jobs. */
typedef struct qdir {
	struct qdir *next;
	pentry *pe;
	size_t n;
	int fd;        /* the jobs open files relative to it */
	char *path;    /* for messages while assembling */
	uint8_t *out;
	int rc;
	/* the check job confirming the reused chunk lists of pe[idx[k]] */
	backup_file *check;
	const seglist **lists;
	uint8_t *ok;
	size_t *idx;
} qdir;

typedef struct {
	const backup_walk_params *p;
	meta_names *names;
	snapshot_stats st;
	dev_t root_dev;
	buf path; /* absolute path of the entry being walked */
	buf qbuf;
	hardlinks links;
	frame *stack;
	size_t depth, cap;
	size_t stack_fds; /* at most STACK_OPEN_FDS */
	qdir *q_head, *q_tail;
	size_t q_len, q_window; /* at most QUEUE_WINDOW */
	unsigned ahead_fds;     /* the read-ahead's, at most AHEAD_FDS */
	backup_filter filter; /* what is left out */
	dirlist_ahead *ahead; /* lists the next subdirectories beside the walk, or NULL */
	snapshot_stats old;   /* with a journal: what the walked directories held in the parent */
} walker;

static const char *qpath(walker *w)
{
	return quote_path(&w->qbuf, w->path.data, w->path.len);
}

static void count_error(walker *w)
{
	atomic_fetch_add(w->p->errors, 1);
	atomic_fetch_add(&w->p->prog->errors, 1);
}

static void warn_entry(walker *w, const char *what, int code)
{
	log_warn("%s '%s': %s", what, qpath(w), err_str(code));
	count_error(w);
}

static size_t path_push(buf *path, const char *name)
{
	size_t old = path->len;
	if (!(old == 1 && path->data[0] == '/'))
		buf_put_u8(path, '/');
	buf_append(path, name, strlen(name));
	return old;
}

static int is_dot_or_dotdot(const char *n)
{
	return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

/* A stream over the directory fd, which stays the caller's. */
static int open_dir(DIR **out, int fd)
{
	int dfd = dup(fd);
	if (dfd < 0)
		return -errno;
	*out = fdopendir(dfd);
	if (!*out) {
		int rc = -errno;
		close(dfd);
		return rc;
	}
	return 0;
}

/* 1 when the directory fd has an entry besides . and .., 0, or <0. */
static int has_entries(int fd)
{
	DIR *d _cleanup_(closedirp) = NULL;
	int rc = open_dir(&d, fd);
	if (rc < 0)
		return rc;
	struct dirent *e;
	while ((errno = 0, e = readdir(d)))
		if (!is_dot_or_dotdot(e->d_name))
			return 1;
	return errno ? -errno : 0;
}

/* The directory of f in the parent snapshot, or NULL. */
static const tree *frame_parent(const frame *f)
{
	return f->pt ? f->pt : f->ptree.plain.data ? &f->ptree : NULL;
}

/* An empty tree, for directories that cannot be read or are not descended into. */
static int empty_tree(walker *w, uint8_t out_id[32])
{
	tree_writer _cleanup_(tree_writer_release) tw = TREE_WRITER_INIT;
	return treeio_store(w->p->r, &tw, out_id);
}

/* ---- the queue of walked directories ---- */

/* Where the entry is read: its directory and name there. */
static int entry_fd(const frame *f, const pentry *pe)
{
	return pe->src_name ? pe->src_fd : f->fd;
}

static const char *entry_name(const pentry *pe)
{
	return pe->src_name ? pe->src_name : pe->name;
}

static void pentries_free(pentry *pe, size_t n)
{
	for (size_t i = 0; pe && i < n; i++) {
		free(pe[i].name);
		if (pe[i].src_name) {
			free(pe[i].src_name);
			close(pe[i].src_fd);
		}
		buf_release(&pe[i].xattrs);
		buf_release(&pe[i].target);
		backup_file_free(pe[i].job);
		seglist_release(&pe[i].segs);
		dirlist_ahead_drop(pe[i].ahead);
	}
	free(pe);
}

/* Every started file job of pe[0..n) must end before they are freed. */
static void wait_jobs(walker *w, pentry *pe, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (pe[i].job)
			backup_file_wait(w->p->files, pe[i].job);
}

/* Reads the file of pe in this thread, as a job of its own (pe->job). */
static int read_now(walker *w, const qdir *d, pentry *pe)
{
	buf _cleanup_(buf_releasep) path = BUF_INIT;
	buf _cleanup_(buf_releasep) q = BUF_INIT;
	int rc = buf_append(&path, d->path, strlen(d->path));
	path_push(&path, pe->name);
	rc = rc ?: backup_file_new(&pe->job, pe->src_name ? pe->src_fd : d->fd, entry_name(pe),
				   quote_path(&q, path.data, path.len), &pe->st);
	return rc ?: backup_file_start(w->p->files, pe->job, 1);
}

/* The contents of a later name of a hard-linked inode: 0, 1 if unreadable. */
static int link_segs(walker *w, const qdir *d, pentry *pe, const seglist **out)
{
	hardlink *h = hardlinks_find(&w->links, pe->st.st_dev, pe->st.st_ino);
	if (h && h->ready) {
		*out = &h->segs;
		return 0;
	}
	if (h && h->pending) {
		backup_file *first = h->pending;
		backup_file_wait(w->p->files, first);
		if (!first->skipped && !first->rc) {
			*out = &first->segs;
			return 0;
		}
	}
	/* the first name could not be read: try this one, now */
	int rc = read_now(w, d, pe);
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
static int finish_entry(walker *w, tree_writer *tw, const qdir *d, pentry *pe)
{
	if (pe->kind == PE_SKIP)
		return 0;
	tree_node n;
	const seglist *segs = NULL;
	int rc = 0, is_new = pe->is_new;
	struct stat *st = &pe->st;
	if (pe->kind == PE_JOB) {
		/* the job is freed with this directory: other names of the inode
		 * must not keep pointing at it, whatever became of it */
		hardlink *h = pe->st.st_nlink > 1 ? hardlinks_find(&w->links, pe->st.st_dev, pe->st.st_ino)
						  : NULL;
		if (h && h->pending == pe->job) {
			h->pending = NULL;
			if (!pe->job->rc && !pe->job->skipped) {
				h->ready = 1;
				if ((rc = seglist_copy(&h->segs, &pe->job->segs)) < 0)
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
			w->st.files_new++;
		else
			w->st.files_changed++;
	} else if (pe->kind == PE_REUSE) {
		segs = &pe->segs;
		w->st.files_unchanged++;
	} else if (pe->kind == PE_LINK) {
		rc = link_segs(w, d, pe, &segs);
		if (rc)
			return rc < 0 ? rc : 0;
		if (is_new)
			w->st.files_new++;
		else
			w->st.files_unchanged++;
	}
	memset(&n, 0, sizeof(n));
	meta_from_stat(&n, st, w->names);
	if (pe->kind == PE_JOB && pe->job->device) {
		/* a device's contents: a file to every reader, marked as such */
		n.type = NODE_FILE;
		n.device = 1;
		n.rdev = st->st_rdev;
	}
	n.name = (const uint8_t *)pe->name;
	n.name_len = strlen(pe->name);
	n.xattrs = pe->xattrs.data;
	n.xattrs_len = pe->xattrs.len;
	_cleanup_free_ tree_seg *ts = NULL;
	if (segs) {
		if ((rc = seglist_to_node(segs, tw, &ts)) < 0)
			return rc;
		n.segs = ts;
		n.nsegs = segs->n;
		n.size = seglist_size(segs); /* what was read, should the file have shrunk */
		w->st.total_files++;
		w->st.total_bytes += n.size;
		atomic_fetch_add(&w->p->prog->files, 1);
	}
	if (n.type == NODE_DIR && (rc = tree_writer_ref(tw, pe->sub, &n.subtree)) < 0)
		return rc;
	if (n.type == NODE_SYMLINK) {
		n.target = pe->target.data;
		n.target_len = pe->target.len;
	}
	return tree_writer_add(tw, &n);
}

static void qdir_free_check(qdir *d)
{
	backup_file_free(d->check);
	free(d->lists);
	free(d->ok);
	free(d->idx);
}

/*
 * Waits for the check job of d; an unchanged file with a chunk no longer
 * in the index (a damaged or repaired repository) is read now instead.
 */
static int confirm_reused(walker *w, qdir *d)
{
	if (!d->check)
		return 0;
	backup_file_wait(w->p->files, d->check);
	for (size_t k = 0; k < d->check->ncheck; k++) {
		pentry *pe = &d->pe[d->idx[k]];
		pe->unconfirmed = 0;
		if (d->ok[k])
			continue;
		seglist_release(&pe->segs);
		pe->kind = PE_JOB;
		int rc = read_now(w, d, pe);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Waits for a directory's file jobs and writes its tree. */
static int assemble(walker *w, qdir *d)
{
	int rc = d->rc;
	/* every job must end before its entry is freed, even after an error */
	if (d->check)
		backup_file_wait(w->p->files, d->check);
	rc = rc ?: confirm_reused(w, d);
	wait_jobs(w, d->pe, d->n);
	tree_writer _cleanup_(tree_writer_release) tw = TREE_WRITER_INIT;
	for (size_t i = 0; rc == 0 && i < d->n; i++)
		rc = finish_entry(w, &tw, d, &d->pe[i]);
	rc = rc ?: treeio_store(w->p->r, &tw, d->out);
	qdir_free_check(d);
	pentries_free(d->pe, d->n);
	if (d->fd >= 0)
		close(d->fd);
	free(d->path);
	free(d);
	return rc;
}

static int dir_ready(const qdir *d)
{
	if (d->check && !backup_file_is_done(d->check))
		return 0;
	for (size_t i = 0; i < d->n; i++)
		if (d->pe[i].job && !backup_file_is_done(d->pe[i].job))
			return 0;
	return 1;
}

static int assemble_front(walker *w)
{
	qdir *d = w->q_head;
	w->q_head = d->next;
	if (!w->q_head)
		w->q_tail = NULL;
	w->q_len--;
	return assemble(w, d);
}

/* Starts the check job of the unconfirmed reused chunk lists of d. */
static int start_check(walker *w, qdir *d)
{
	size_t n = 0;
	for (size_t i = 0; i < d->n; i++)
		n += d->pe[i].kind == PE_REUSE && d->pe[i].unconfirmed;
	if (n == 0)
		return 0;
	d->lists = calloc(n, sizeof(*d->lists));
	d->ok = calloc(n, 1);
	d->idx = calloc(n, sizeof(*d->idx));
	if (!d->lists || !d->ok || !d->idx)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < d->n; i++) {
		if (d->pe[i].kind == PE_REUSE && d->pe[i].unconfirmed) {
			d->lists[k] = &d->pe[i].segs;
			d->idx[k++] = i;
		}
	}
	int rc = backup_file_new_check(&d->check, d->lists, d->ok, n);
	if (rc < 0)
		return rc;
	rc = backup_file_start(w->p->files, d->check, 0);
	if (rc < 0) {
		/* never started: nobody waits for it */
		backup_file_free(d->check);
		d->check = NULL;
	}
	return rc;
}

/*
 * Queues a walked directory (taking f's descriptor and entries) and
 * assembles those at the front whose jobs are done; waits only when
 * w->q_window are pending.  Returns the first error of those assembled.
 */
static int queue_dir(walker *w, frame *f)
{
	qdir *d = calloc(1, sizeof(*d));
	char *path = d ? malloc(f->path_len + 1) : NULL;
	if (path) {
		/* w->path still holds f's path (a prefix of it) */
		if (f->path_len)
			memcpy(path, w->path.data, f->path_len);
		path[f->path_len] = 0;
	} else {
		wait_jobs(w, f->pe, f->n);
		pentries_free(f->pe, f->n);
		if (f->fd >= 0)
			close(f->fd);
		free(d);
		return -ENOMEM;
	}
	*d = (qdir){ NULL, f->pe, f->n, f->fd, path, f->out, f->rc, NULL, NULL, NULL, NULL };
	int rc = start_check(w, d);
	if (rc < 0 && !d->rc)
		d->rc = rc; /* assembled as failed: nothing unconfirmed is stored */
	if (w->q_tail)
		w->q_tail->next = d;
	else
		w->q_head = d;
	w->q_tail = d;
	w->q_len++;
	int first = 0;
	while (w->q_head && (w->q_len > w->q_window || dir_ready(w->q_head))) {
		int r = assemble_front(w);
		if (r < 0 && !first)
			first = r;
	}
	return first;
}

/* Assembles every queued directory. */
static int drain_dirs(walker *w)
{
	int first = 0;
	while (w->q_head) {
		int r = assemble_front(w);
		if (r < 0 && !first)
			first = r;
	}
	return first;
}

/* ---- preparing entries (walking thread) ---- */

/*
 * The entries of the directory fd with their stat: the read-ahead's
 * listing (ahead, taken) if it has one, else read now.  A tagged directory
 * (--exclude-caches, --exclude-if-present) keeps only its tag, so a restore
 * shows where its contents were left out.
 */
static int list_dir(walker *w, int fd, unsigned depth, dirlist_req *ahead, dirlist *l)
{
	int listed = ahead && dirlist_ahead_take(ahead, l) == 1;
	int rc = listed ? 0 : dirlist_names(fd, l);
	const char *tag = rc == 0 && depth > 0 ? backup_filter_tagged(&w->filter, fd) : NULL;
	if (tag) {
		unsigned char *keep = calloc(l->n ? l->n : 1, 1);
		if (!keep) {
			dirlist_release(l);
			return -ENOMEM;
		}
		size_t k = 0;
		for (size_t i = 0; i < l->n; i++)
			k += keep[i] = strcmp(l->e[i].name, tag) == 0;
		w->filter.excluded += l->n - k;
		dirlist_keep(l, keep);
		free(keep);
	}
	if (rc == 0 && !listed)
		dirlist_stat(fd, l);
	return rc;
}

/* Asks the read-ahead for the subdirectories of f that the walk will enter. */
/*
 * With a journal, a subdirectory of w->path that it does not name is most
 * likely taken from the parent unopened (journal_unchanged): listing it
 * ahead would be wasted work.
 */
static int journal_skips(walker *w, const pentry *pe)
{
	if (!w->p->dirty || w->p->force)
		return 0;
	size_t old = path_push(&w->path, pe->name);
	int named = journal_set_has(w->p->dirty, (const char *)w->path.data, w->path.len);
	w->path.len = old;
	return !named;
}

static int read_ahead(walker *w, const frame *f)
{
	dirlist_batch *b = NULL;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < f->n; i++) {
		pentry *pe = &f->pe[i];
		if (pe->st_rc || !S_ISDIR(pe->st.st_mode) || f->depth + 2 >= TREE_MAX_DEPTH ||
		    (w->p->one_file_system && pe->st.st_dev != w->root_dev) || journal_skips(w, pe))
			continue;
		if (!b && ((rc = dirlist_ahead_begin(w->ahead, f->fd, &b)) < 0 || !b))
			break;
		rc = dirlist_ahead_add(b, pe->name, &pe->st, &pe->ahead);
	}
	dirlist_ahead_end(b);
	return rc;
}

/*
 * A frame for the directory fd (taken), whose path is w->path: 0, or 1
 * when it could not be listed (warned; its tree is stored empty).
 */
static int open_frame(walker *w, int fd, tree *ptree, unsigned depth, uint8_t out_id[32],
		      dirlist_req *ahead, frame *out)
{
	dirlist l = DIRLIST_INIT;
	int rc = list_dir(w, fd, depth, ahead, &l);
	pentry *pe = rc == 0 ? calloc(l.n ? l.n : 1, sizeof(*pe)) : NULL;
	if (rc == 0 && !pe) {
		dirlist_release(&l);
		rc = -ENOMEM;
	}
	if (rc < 0) {
		close(fd);
		tree_release(ptree);
		if (rc == -ENOMEM)
			return rc;
		warn_entry(w, "cannot list directory", rc);
		return empty_tree(w, out_id) ?: 1;
	}
	for (size_t i = 0; i < l.n; i++) {
		/* the entries own the names now */
		pe[i].name = l.e[i].name;
		pe[i].st = l.e[i].st;
		pe[i].st_rc = l.e[i].rc;
		pe[i].has_st = 1;
	}
	free(l.e);
	*out = (frame){ .fd = fd, .pe = pe, .n = l.n, .ptree = *ptree, .out = out_id, .path_len = w->path.len, .depth = depth };
	*ptree = (tree)TREE_INIT;
	rc = w->ahead ? read_ahead(w, out) : 0;
	if (rc < 0) {
		pentries_free(out->pe, out->n);
		tree_release(&out->ptree);
		close(fd);
	}
	return rc;
}

/*
 * With a journal: 1 when the directory of pe (w->path), a directory in
 * the parent too, is not among those the journal names, so the parent's
 * tree is its tree, unopened (pe->sub set).
 */
static int journal_unchanged(walker *w, const tree *pt, const tree_node *pn, pentry *pe)
{
	if (!w->p->dirty || w->p->force || !pn || pn->type != NODE_DIR ||
	    journal_set_has(w->p->dirty, (const char *)w->path.data, w->path.len))
		return 0;
	const uint8_t *id = tree_child(pt, pn->subtree);
	if (!id)
		return 0;
	memcpy(pe->sub, id, 32);
	pe->took_parent = 1;
	return 1;
}

/* Adds what the parent's tree id holds, all the way down, to *st. */
static int count_tree(walker *w, const uint8_t id[32], snapshot_stats *st)
{
	tree t = TREE_INIT;
	int rc = treeio_load(w->p->r, id, &t);
	for (size_t i = 0; rc == 0 && i < t.n; i++) {
		const tree_node *n = &t.nodes[i];
		if (n->type == NODE_FILE) {
			st->total_files++;
			st->total_bytes += n->size;
		} else if (n->type == NODE_DIR) {
			st->dirs++;
			const uint8_t *sub = tree_child(&t, n->subtree);
			rc = sub ? count_tree(w, sub, st) : -DV_ECORRUPT;
		}
	}
	tree_release(&t);
	return rc;
}

static int cmp_pentry(const void *key, const void *e)
{
	return strcmp(key, ((const pentry *)e)->name);
}

/*
 * With a journal, for a walked frame f: adds to w->old what its
 * directory held in the parent (a virtual one: only its backed-up
 * paths), with the whole subtree of each old directory that neither was
 * reused nor walked alongside; the parent's totals minus these are what
 * the reused trees hold.
 */
static int account_old(walker *w, const frame *f)
{
	const tree *pt = frame_parent(f);
	if (!w->p->dirty || !pt)
		return 0;
	for (size_t i = 0; i < pt->n; i++) {
		const tree_node *n = &pt->nodes[i];
		_cleanup_free_ char *name = strndup((const char *)n->name, n->name_len);
		if (!name)
			return -ENOMEM;
		const pentry *pe = f->n ? bsearch(name, f->pe, f->n, sizeof(*f->pe), cmp_pentry) : NULL;
		if (f->ve && (!pe || !f->ve[pe - f->pe].is_root))
			continue;
		if (n->type == NODE_FILE) {
			w->old.total_files++;
			w->old.total_bytes += n->size;
		} else if (n->type == NODE_DIR) {
			w->old.dirs++;
			const uint8_t *sub = tree_child(pt, n->subtree);
			int rc = pe && pe->took_parent ? 0 : sub ? count_tree(w, sub, &w->old) : -DV_ECORRUPT;
			if (rc < 0)
				return err_set(rc, "cannot read the parent snapshot's tree of '%s' for the journal's counts",
					       quote_path(&w->qbuf, w->path.data, f->path_len));
		}
	}
	return 0;
}

/* A directory entry: descended into (*has_child) or stored empty. */
static int prepare_dir(walker *w, frame *f, pentry *pe, const tree *pt, frame *child, int *has_child)
{
	const tree_node *pn = pe->pn;
	struct stat fst;
	w->st.dirs++;
	/* in a btrfs snapshot, a nested subvolume is an empty directory with
	 * inode 2 on a device of its own: its files are not in the snapshot */
	if (w->p->naliases && pe->st.st_ino == 2 && !pe->src_name && fstat(f->fd, &fst) == 0 &&
	    fst.st_dev != pe->st.st_dev) {
		log_warn("'%s' is a nested btrfs subvolume, which a snapshot of its parent does not "
			 "contain: stored empty (back it up on its own)", qpath(w));
		count_error(w);
		return empty_tree(w, pe->sub);
	}
	if (w->p->one_file_system && pe->st.st_dev != w->root_dev)
		return empty_tree(w, pe->sub);
	if (journal_unchanged(w, pt, pn, pe))
		return 0;
	int sfd = openat(entry_fd(f, pe), entry_name(pe), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0) {
		warn_entry(w, "cannot open directory", -errno);
		return empty_tree(w, pe->sub);
	}
	if (f->depth + 1 >= TREE_MAX_DEPTH) {
		/* its entries would be deeper than any reader accepts */
		int full = has_entries(sfd);
		close(sfd);
		if (full < 0) {
			warn_entry(w, "cannot list directory", full);
		} else if (full) {
			log_warn("cannot descend into '%s': entries deeper than %d levels are not backed up",
				 qpath(w), TREE_MAX_DEPTH);
			count_error(w);
		}
		return empty_tree(w, pe->sub);
	}
	tree ptree = TREE_INIT;
	const uint8_t *pid = pn && pn->type == NODE_DIR && !w->p->force ? tree_child(pt, pn->subtree) : NULL;
	if (pid && treeio_load(w->p->r, pid, &ptree) < 0)
		tree_release(&ptree);
	dirlist_req *ahead = pe->ahead;
	pe->ahead = NULL; /* taken by the listing */
	int took = ptree.plain.data != NULL;
	int rc = open_frame(w, sfd, &ptree, f->depth + 1, pe->sub, ahead, child);
	*has_child = rc == 0;
	pe->took_parent = took && rc == 0;
	return rc < 0 ? rc : 0;
}

static int submit_file(walker *w, int dirfd, pentry *pe, int device)
{
	int rc = backup_file_new(&pe->job, dirfd, entry_name(pe), qpath(w), &pe->st);
	if (rc < 0)
		return rc;
	pe->job->device = device;
	pe->job->follow = pe->follow;
	pe->kind = PE_JOB;
	return backup_file_start(w->p->files, pe->job, 0);
}

static int prepare_file(walker *w, int dirfd, pentry *pe, const tree *pt)
{
	hardlink *h;
	int rc;
	if (!w->p->force && change_file_unchanged(pe->pn, &pe->st) && pe->st.st_nlink == 1) {
		/* the index lookups of its chunks run on the pool (start_check) */
		if ((rc = change_copy_segs(pt, pe->pn, &pe->segs)) < 0)
			return rc;
		pe->kind = PE_REUSE;
		pe->unconfirmed = 1;
		atomic_fetch_add(&w->p->prog->bytes, (uint64_t)pe->st.st_size);
		return 0;
	}
	if (!w->p->force && change_file_unchanged(pe->pn, &pe->st)) {
		/* a hard link: later names take this list, so it is confirmed now */
		rc = change_parent_segs(w->p->r, pt, pe->pn, &pe->segs);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			pe->kind = PE_REUSE;
			atomic_fetch_add(&w->p->prog->bytes, (uint64_t)pe->st.st_size);
			if (pe->st.st_nlink > 1) {
				if ((rc = hardlinks_add(&w->links, pe->st.st_dev, pe->st.st_ino, &h)) < 0)
					return rc;
				if (!h->ready && !h->pending) {
					h->ready = 1;
					return seglist_copy(&h->segs, &pe->segs);
				}
			}
			return 0;
		}
	}
	if (pe->st.st_nlink > 1) {
		if ((rc = hardlinks_add(&w->links, pe->st.st_dev, pe->st.st_ino, &h)) < 0)
			return rc;
		if (h->ready || h->pending) {
			pe->kind = PE_LINK;
			return 0;
		}
		rc = submit_file(w, dirfd, pe, 0);
		h->pending = pe->job;
		return rc;
	}
	return submit_file(w, dirfd, pe, 0);
}

/*
 * Prepares one entry of f: metadata now, contents later (a file job) or,
 * for a directory, by pushing a frame (*has_child; w->path then stays its
 * path).  Per-entry problems are warnings.
 */
static int prepare_entry(walker *w, frame *f, pentry *pe, int top, frame *child, int *has_child)
{
	const tree *pt = frame_parent(f);
	size_t old = path_push(&w->path, pe->name);
	int rc = 0, dfd = entry_fd(f, pe);
	const char *sname = entry_name(pe);
	struct stat lst;
	pe->kind = PE_SKIP;
	pe->pn = NULL;
	if (!pe->has_st && fstatat(dfd, sname, &pe->st, AT_SYMLINK_NOFOLLOW) < 0)
		pe->st_rc = -errno;
	if (pe->st_rc) {
		warn_entry(w, pe->st_rc == -ENOENT ? "file vanished" : "cannot stat", pe->st_rc);
		goto out;
	}
	/* after the stat: a pattern ending in '/' matches directories only */
	if (backup_filter_entry(&w->filter, &w->path, &pe->st))
		goto out;
	/* a path given to back up may name a device by a link (/dev/vg0/lv) */
	if (top && w->p->read_devices && S_ISLNK(pe->st.st_mode) && fstatat(dfd, sname, &lst, 0) == 0 &&
	    S_ISBLK(lst.st_mode)) {
		pe->st = lst;
		pe->follow = 1;
	}
	long pi = pt ? tree_find(pt, pe->name, strlen(pe->name)) : -1;
	pe->pn = pi >= 0 ? &pt->nodes[pi] : NULL;
	pe->is_new = !pe->pn || pe->pn->type != NODE_FILE;
	if (pe->follow) {
		rc = 0; /* (the link's own, not the device's, would be read) */
	} else if (change_same_inode_ctime(pe->pn, &pe->st) && !w->p->force) {
		/* changing an xattr changes ctime: the parent's list is current */
		rc = buf_append(&pe->xattrs, pe->pn->xattrs, pe->pn->xattrs_len);
	} else {
		rc = meta_read_xattrs(&pe->xattrs, dfd, sname);
		if (rc < 0 && rc != -ENOMEM && rc != -ENOENT)
			warn_entry(w, "cannot read extended attributes of", rc);
		if (rc < 0 && rc != -ENOMEM) {
			pe->xattrs.len = 0;
			rc = 0;
		}
	}
	if (rc < 0)
		goto out;
	pe->kind = PE_NODE;
	/* a btrfs snapshot made by a dvalin backup (a subvolume, or in a
	 * snapshot the empty placeholder of one): never backup content */
	if (S_ISDIR(pe->st.st_mode) && (pe->st.st_ino == 256 || pe->st.st_ino == 2) &&
	    strncmp(pe->name, "." FSSNAP_PREFIX, strlen("." FSSNAP_PREFIX)) == 0) {
		pe->kind = PE_SKIP;
		goto out;
	}
	switch (pe->st.st_mode & S_IFMT) {
	case S_IFREG:
		rc = prepare_file(w, dfd, pe, pt);
		break;
	case S_IFBLK:
		/* by content, always read: a device node's times do not change with it */
		if (w->p->read_devices)
			rc = submit_file(w, dfd, pe, 1);
		break;
	case S_IFDIR:
		rc = prepare_dir(w, f, pe, pt, child, has_child);
		break;
	case S_IFLNK:
		rc = meta_read_link(&pe->target, dfd, sname);
		if (rc < 0 && rc != -ENOMEM) {
			warn_entry(w, "cannot read symlink", rc);
			pe->kind = PE_SKIP;
			rc = 0;
		} else if (rc == 0 && pe->target.len == 0) {
			pe->kind = PE_SKIP;
		}
		break;
	}
out:
	pe->pn = NULL; /* it points into f's parent tree, released with f */
	dirlist_ahead_drop(pe->ahead); /* a directory not entered */
	pe->ahead = NULL;
	if (!*has_child)
		w->path.len = old;
	return rc;
}

/* ---- aliases: paths read from a file system snapshot ---- */

/*
 * The alias of path (or of its nearest ancestor that has one), or NULL;
 * *rest is the part of path below the alias's live path.
 */
static const backup_walk_alias *find_alias(const walker *w, const char *path, const char **rest)
{
	const backup_walk_alias *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; i < w->p->naliases; i++) {
		const backup_walk_alias *a = &w->p->aliases[i];
		size_t l = strcmp(a->live, "/") == 0 ? 0 : strlen(a->live);
		if (strncmp(path, a->live, l) == 0 && (path[l] == 0 || path[l] == '/') &&
		    (!best || l > best_len)) {
			best = a;
			best_len = l;
		}
	}
	*rest = path + best_len;
	return best;
}

/* Where path is read from (freed by the caller). */
static int read_path(const walker *w, const char *path, char **out)
{
	const char *rest;
	const backup_walk_alias *a = find_alias(w, path, &rest);
	if (!a)
		*out = strdup(path);
	else if (asprintf(out, "%s%s", a->read, strcmp(rest, "/") ? rest : "") < 0)
		*out = NULL;
	return *out ? 0 : -ENOMEM;
}

/* The alias whose live path is exactly path, or NULL. */
static const backup_walk_alias *exact_alias(const walker *w, const char *path)
{
	const char *rest;
	const backup_walk_alias *a = find_alias(w, path, &rest);
	return a && (!*rest || strcmp(path, "/") == 0) ? a : NULL;
}

/*
 * A path that is an alias: read from the alias's root, through a
 * descriptor of the directory that holds it.
 */
static int set_source(pentry *pe, const backup_walk_alias *a)
{
	const char *slash = strrchr(a->read, '/');
	_cleanup_free_ char *dir = slash ? strndup(a->read, slash == a->read ? 1 : (size_t)(slash - a->read))
					 : NULL;
	if (!slash || !slash[1])
		return err_set(-EINVAL, "cannot read '%s'", a->read);
	if (!dir || !(pe->src_name = strdup(slash + 1)))
		return -ENOMEM;
	pe->src_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pe->src_fd < 0) {
		int rc = -errno;
		free(pe->src_name);
		pe->src_name = NULL;
		return err_sys(rc, "cannot open '%s'", dir);
	}
	return 0;
}

/*
 * A frame for the virtual directory dir (w->path), on the way to the
 * paths below it (all of which start with dir + "/").  Components that
 * are backed-up paths themselves are real entries; the others are
 * virtual directories again.
 */
static int virtual_frame(walker *w, const char *dir, char **paths, size_t n, tree *ptree,
			 unsigned depth, uint8_t out_id[32], frame *out)
{
	size_t dl = strlen(dir);
	_cleanup_free_ char *rp = NULL;
	int rc = read_path(w, dl ? dir : "/", &rp);
	int fd = rc < 0 ? -1 : open(rp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		tree_release(ptree);
		return rc < 0 ? rc : err_sys(-errno, "cannot open '%s'", rp);
	}
	frame f = { .fd = fd, .vdir_len = dl, .ptree = *ptree, .out = out_id, .path_len = w->path.len, .depth = depth };
	*ptree = (tree)TREE_INIT;
	f.pe = calloc(n, sizeof(*f.pe));
	f.ve = calloc(n, sizeof(*f.ve));
	rc = f.pe && f.ve ? 0 : -ENOMEM;
	for (size_t i = 0; i < n && rc == 0;) {
		const char *comp = paths[i] + dl + 1;
		size_t cl = strcspn(comp, "/"), j = i;
		int is_root = 0;
		while (j < n && strncmp(paths[j] + dl + 1, comp, cl) == 0 &&
		       (paths[j][dl + 1 + cl] == '/' || paths[j][dl + 1 + cl] == 0)) {
			is_root |= paths[j][dl + 1 + cl] == 0;
			j++;
		}
		if (!(f.pe[f.n].name = strndup(comp, cl)))
			rc = -ENOMEM;
		f.ve[f.n++] = (ventry){ paths + i, j - i, is_root };
		i = j;
	}
	if (rc < 0) {
		pentries_free(f.pe, f.n);
		free(f.ve);
		tree_release(&f.ptree);
		close(fd);
		return rc;
	}
	*out = f;
	return 0;
}

/* Prepares the next entry of a virtual frame; a failure here is fatal. */
static int prepare_virtual(walker *w, frame *f, pentry *pe, const ventry *ve, frame *child,
			   int *has_child)
{
	if (ve->is_root) {
		const backup_walk_alias *a = exact_alias(w, ve->paths[0]);
		int rc = a ? set_source(pe, a) : 0;
		return rc < 0 ? rc : prepare_entry(w, f, pe, 1, child, has_child);
	}
	size_t cl = strlen(pe->name);
	_cleanup_free_ char *sub = strndup(ve->paths[0], f->vdir_len + 1 + cl);
	if (!sub)
		return -ENOMEM;
	const backup_walk_alias *a = exact_alias(w, sub);
	if (a ? fstatat(AT_FDCWD, a->read, &pe->st, AT_SYMLINK_NOFOLLOW) < 0
	      : fstatat(f->fd, pe->name, &pe->st, AT_SYMLINK_NOFOLLOW) < 0)
		return err_sys(-errno, "cannot stat '%s'", a ? a->read : sub);
	const tree *pt = frame_parent(f);
	long pi = pt ? tree_find(pt, pe->name, cl) : -1;
	tree ptree = TREE_INIT;
	const uint8_t *pid = pi >= 0 && pt->nodes[pi].type == NODE_DIR ? tree_child(pt, pt->nodes[pi].subtree)
								    : NULL;
	if (pid && treeio_load(w->p->r, pid, &ptree) < 0)
		tree_release(&ptree);
	pe->kind = PE_NODE;
	size_t old = path_push(&w->path, pe->name);
	int rc = virtual_frame(w, sub, ve->paths, ve->n, &ptree, f->depth + 1, pe->sub, child);
	if (rc < 0)
		w->path.len = old;
	*has_child = rc == 0;
	return rc;
}

/* ---- the stack ---- */

static void frame_release(frame *f)
{
	tree_release(&f->ptree);
	free(f->ve);
	f->ve = NULL;
}

/*
 * Closes the descriptor of a frame that the stack has grown past, once
 * the file jobs started in it are done; it is reopened on the way back.
 */
static void close_frame_fd(walker *w, frame *f)
{
	struct stat st;
	if (f->fd < 0 || fstat(f->fd, &st) < 0)
		return; /* kept open: it could not be recognised again */
	wait_jobs(w, f->pe, f->i);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	close(f->fd);
	f->fd = -1;
}

static int push(walker *w, const frame *f)
{
	int rc = array_reserve(&w->stack, &w->cap, w->depth + 1, sizeof(*w->stack));
	if (rc < 0)
		return rc;
	w->stack[w->depth++] = *f;
	if (w->depth > w->stack_fds + STACK_ROOT_FDS)
		close_frame_fd(w, &w->stack[w->depth - 1 - w->stack_fds]);
	return 0;
}

/*
 * Reopens the closed frame t by names from its nearest open ancestor
 * (there is one: the first STACK_ROOT_FDS stay open), checking every
 * directory on the way against the identity it had.
 */
static int reopen_by_names(walker *w, size_t t)
{
	size_t a = t;
	while (a > 0 && w->stack[a - 1].fd < 0)
		a--;
	if (a == 0)
		return -EBADF;
	int fd = w->stack[a - 1].fd;
	for (size_t k = a; k <= t; k++) {
		const frame *up = &w->stack[k - 1];
		int nfd = openat(fd, up->pe[up->i].name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = nfd < 0 ? -errno : 0;
		struct stat st;
		if (nfd >= 0 && fstat(nfd, &st) < 0)
			e = -errno;
		else if (nfd >= 0 && (st.st_dev != w->stack[k].dev || st.st_ino != w->stack[k].ino))
			e = -ESTALE;
		if (k > a)
			close(fd);
		if (e < 0) {
			if (nfd >= 0)
				close(nfd);
			return e;
		}
		fd = nfd;
	}
	w->stack[t].fd = fd;
	return 0;
}

/*
 * Reopens the directory of frame t, whose descriptor was closed: through
 * ".." of its child (one call), else by names from an open ancestor.
 */
static void reopen_frame_fd(walker *w, size_t t, int child_fd)
{
	frame *f = &w->stack[t];
	struct stat st;
	int fd = child_fd < 0 ? -1 : openat(child_fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == f->dev && st.st_ino == f->ino) {
		f->fd = fd;
		return;
	}
	if (fd >= 0)
		close(fd);
	int rc = reopen_by_names(w, t);
	if (rc == 0)
		return;
	const char *q = quote_path(&w->qbuf, w->path.data, f->path_len);
	if (rc == -ESTALE)
		log_warn("cannot return to directory '%s': it was moved during the backup; "
			 "its remaining entries are left out", q);
	else
		log_warn("cannot return to directory '%s': %s; its remaining entries are left out", q,
			 err_str(rc));
	count_error(w);
	f->i = f->n; /* nothing more is prepared in it */
}

/* Sizes the descriptor windows to the limit (threads: file jobs' own). */
static void size_windows(walker *w, int threads)
{
	struct rlimit rl;
	size_t limit = SIZE_MAX, spare;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		limit = (size_t)rl.rlim_cur;
	/* the repository, the standard streams and a file per job */
	size_t reserve = 32 + 2 * (size_t)(threads > 0 ? threads : 1);
	spare = limit > reserve ? limit - reserve : 0;
	w->stack_fds = MAX((size_t)WINDOW_MIN, MIN((size_t)STACK_OPEN_FDS, spare / 3));
	w->q_window = MAX((size_t)WINDOW_MIN, MIN((size_t)QUEUE_WINDOW, spare / 2));
	w->ahead_fds = (unsigned)MIN((size_t)AHEAD_FDS, spare / 8);
}

/* Walks from the frame root (pushed) until the stack is empty. */
static int walk(walker *w, const frame *root)
{
	int rc = push(w, root), root_rc = 0;
	if (rc < 0) {
		frame f = *root;
		f.rc = rc;
		frame_release(&f);
		return queue_dir(w, &f) ?: rc;
	}
	while (w->depth) {
		frame *f = &w->stack[w->depth - 1];
		/* Ctrl-C: every open frame ends with -EINTR on the way up, so
		 * each queued directory's jobs still end before the walk returns */
		if (f->rc == 0 && f->i < f->n && (rc = interrupt_check()) < 0)
			f->rc = rc;
		if (f->rc == 0 && f->i < f->n) {
			pentry *pe = &f->pe[f->i];
			frame child;
			int has_child = 0;
			rc = f->ve ? prepare_virtual(w, f, pe, &f->ve[f->i], &child, &has_child)
				   : prepare_entry(w, f, pe, 0, &child, &has_child);
			if (rc < 0)
				f->rc = rc;
			if (!has_child) {
				f->i++;
				continue;
			}
			if ((rc = push(w, &child)) < 0) {
				/* the child cannot be walked: queue it as failed */
				f->rc = rc;
				child.rc = rc;
				frame_release(&child);
				queue_dir(w, &child); /* its error is rc */
				w->path.len = f->path_len;
				f->i++;
			}
			continue;
		}
		/* every entry of f is prepared: queue it, go back to its parent */
		frame done = *f;
		if ((rc = account_old(w, &done)) < 0 && !done.rc)
			done.rc = rc;
		w->depth--;
		frame *parent = w->depth ? &w->stack[w->depth - 1] : NULL;
		if (parent && parent->fd < 0)
			reopen_frame_fd(w, w->depth - 1, done.fd);
		frame_release(&done);
		rc = queue_dir(w, &done);
		rc = done.rc ?: rc;
		if (!parent) {
			root_rc = rc;
			break;
		}
		w->path.len = parent->path_len;
		if (parent->i < parent->n)
			parent->i++;
		if (rc < 0 && !parent->rc)
			parent->rc = rc;
	}
	return root_rc;
}

static void walker_release(walker *w)
{
	/* only after a failure to push can frames remain: none do */
	free(w->stack);
	hardlinks_release(&w->links);
	meta_names_free(w->names);
	buf_release(&w->path);
	buf_release(&w->qbuf);
	backup_filter_release(&w->filter);
	dirlist_ahead_free(w->ahead);
}

int backup_walk(const backup_walk_params *p, uint8_t out_root[32], snapshot_stats *st)
{
	walker w;
	memset(&w, 0, sizeof(w));
	w.p = p;
	size_windows(&w, p->threads);
	/* with one thread asked for, none beside the walk; without the
	 * read-ahead (it could not start, or too few descriptors for it) the
	 * walk lists everything itself */
	if (p->threads > 1 && dirlist_ahead_new(&w.ahead, AHEAD_ENTRIES, w.ahead_fds) < 0)
		w.ahead = NULL;
	int rc = meta_names_new(&w.names);
	rc = rc ?: backup_filter_init(&w.filter, p->filter);
	if (rc < 0) {
		walker_release(&w);
		return rc;
	}
	struct stat rst;
	_cleanup_free_ char *first = NULL;
	if ((rc = read_path(&w, p->paths[0], &first)) < 0) {
		walker_release(&w);
		return rc;
	}
	if (stat(first, &rst) == 0)
		w.root_dev = rst.st_dev;
	tree none = TREE_INIT;
	frame root;
	if (strcmp(p->paths[0], "/") == 0) {
		int fd = open(first, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		buf_put_u8(&w.path, '/');
		rc = fd < 0 ? err_sys(-errno, "cannot open '%s'", first) : open_frame(&w, fd, &none, 0, out_root, NULL, &root);
	} else {
		rc = virtual_frame(&w, "", p->paths, p->npaths, &none, 0, out_root, &root);
	}
	if (rc == 0) {
		root.pt = p->parent;
		rc = walk(&w, &root);
	}
	rc = rc == 1 ? 0 : rc; /* "/" could not be listed: warned, stored empty */
	/* the queued directories, also after an error (their jobs must end) */
	int rc2 = drain_dirs(&w);
	rc = rc ?: rc2;
	st->dirs += w.st.dirs;
	st->files_new += w.st.files_new;
	st->files_changed += w.st.files_changed;
	st->files_unchanged += w.st.files_unchanged;
	st->total_files += w.st.total_files;
	st->total_bytes += w.st.total_bytes;
	if (p->dirty && rc == 0) {
		/* the reused trees: the parent's totals less what was walked */
		const snapshot_stats *ps = p->parent_stats;
		if (w.old.total_files > ps->total_files || w.old.total_bytes > ps->total_bytes ||
		    w.old.dirs > ps->dirs) {
			rc = err_set(-DV_ECORRUPT, "the parent snapshot's statistics disagree with its trees");
		} else {
			st->total_files += ps->total_files - w.old.total_files;
			st->total_bytes += ps->total_bytes - w.old.total_bytes;
			st->files_unchanged += ps->total_files - w.old.total_files;
			st->dirs += ps->dirs - w.old.dirs;
		}
	}
	walker_release(&w);
	return rc;
}
