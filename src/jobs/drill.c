/* SPDX-License-Identifier: BSD-2-Clause */
#include "drill.h"
#include "expand.h"
#include "quote.h"
#include "restore.h"
#include "snapfs.h"
#include "snapwalk.h"
#include "../archive/meta.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/fsio.h"
#include "../base/interrupt.h"
#include "../base/strlist.h"
#include "../core/blob.h"
#include "../repo/session.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

/* The largest file always drawn is the largest of at most this many data bytes. */
#define DRILL_LARGEST_MAX ((uint64_t)1 << 30)
/* Bytes compared per read when checking holes and live files. */
#define DRILL_BLOCK ((size_t)1 << 20)

const char *drill_kind_name(int kind)
{
	switch (kind) {
	case DRILL_FAIL_CONTENT: return "content";
	case DRILL_FAIL_META: return "metadata";
	case DRILL_FAIL_LIVE: return "live";
	case DRILL_CHANGED: return "changed";
	case DRILL_GONE: return "gone";
	default: return "unknown";
	}
}

int drill_kind_fails(int kind)
{
	return kind == DRILL_FAIL_CONTENT || kind == DRILL_FAIL_META || kind == DRILL_FAIL_LIVE;
}

void drill_result_release(drill_result *res)
{
	for (size_t i = 0; i < res->nfindings; i++) {
		free(res->findings[i].path);
		free(res->findings[i].reason);
	}
	free(res->findings);
	strlist_free(res->sampled, res->nsampled);
	free(res->scratch);
	memset(res, 0, sizeof(*res));
}

static int add_finding(drill_result *res, const void *path, size_t len, int kind, const char *fmt,
		       ...) __attribute__((format(printf, 5, 6)));

static int add_finding(drill_result *res, const void *path, size_t len, int kind, const char *fmt,
		       ...)
{
	if (drill_kind_fails(kind)) {
		res->ok = 0;
	} else {
		size_t notes = 0;
		for (size_t i = 0; i < res->nfindings; i++)
			notes += !drill_kind_fails(res->findings[i].kind);
		if (notes >= DRILL_MAX_NOTES) {
			res->notes_dropped++;
			return 0;
		}
	}
	int rc = array_reserve(&res->findings, &res->cap_findings, res->nfindings + 1,
			       sizeof(*res->findings));
	if (rc < 0)
		return rc;
	drill_finding *f = &res->findings[res->nfindings];
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	f->path = malloc(len + 1);
	f->reason = strdup(line);
	if (!f->path || !f->reason) {
		free(f->path);
		free(f->reason);
		return -ENOMEM;
	}
	memcpy(f->path, path, len);
	f->path[len] = 0;
	f->path_len = len;
	f->kind = kind;
	res->nfindings++;
	return 0;
}

/* ---------- sampling ---------- */

typedef struct {
	double key;    /* log(u) / weight: the largest keys are drawn */
	uint64_t data; /* bytes that are not holes */
	uint8_t *path;
	size_t len;
} cand;

typedef struct {
	const drill_opts *o;
	int64_t now;       /* the snapshot's time: ages are measured from it */
	cand *heap;        /* a min-heap on key */
	size_t n, cap;
	uint64_t heap_data, want_data; /* share mode */
	cand largest, oldest_m, oldest_c; /* always drawn */
	uint64_t largest_size;
	int64_t oldest_mtime, oldest_ctime;
} sampler;

static void cand_free(cand *c)
{
	free(c->path);
	c->path = NULL;
}

static void heap_swap(cand *a, cand *b)
{
	cand t = *a;
	*a = *b;
	*b = t;
}

static void heap_up(cand *h, size_t i)
{
	while (i > 0 && h[(i - 1) / 2].key > h[i].key) {
		heap_swap(&h[(i - 1) / 2], &h[i]);
		i = (i - 1) / 2;
	}
}

static void heap_down(cand *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < n && h[l].key < h[m].key)
			m = l;
		if (l + 1 < n && h[l + 1].key < h[m].key)
			m = l + 1;
		if (m == i)
			return;
		heap_swap(&h[i], &h[m]);
		i = m;
	}
}

static void heap_pop(sampler *sm)
{
	sm->heap_data -= sm->heap[0].data;
	cand_free(&sm->heap[0]);
	sm->heap[0] = sm->heap[--sm->n];
	heap_down(sm->heap, sm->n, 0);
}

static int cand_set(cand *c, double key, uint64_t data, const buf *path)
{
	uint8_t *p = malloc(path->len);
	if (!p)
		return -ENOMEM;
	memcpy(p, path->data, path->len);
	free(c->path);
	*c = (cand){ key, data, p, path->len };
	return 0;
}

/* 1 + log2(1 + x): grows steadily, so large and old count more, never overwhelmingly. */
static double grow(double x)
{
	return 1 + log2(1 + (x > 0 ? x : 0));
}

static double weight(const sampler *sm, const tree_node *n)
{
	double size = grow((double)n->size / 65536);
	double old = grow((double)(sm->now - n->mtime) / 86400);
	double unchanged = grow((double)(sm->now - n->ctime) / 86400);
	return size * old * unchanged;
}

/* u in (0, 1) from the seed and the path: the same sample in any walk order. */
static double uniform(uint64_t seed, const buf *path)
{
	uint64_t h = XXH3_64bits_withSeed(path->data, path->len, seed);
	return ((double)(h >> 11) + 0.5) / 9007199254740992.0;
}

static int offer(sampler *sm, const buf *path, const tree_node *n, uint64_t data)
{
	double key = log(uniform(sm->o->seed, path)) / weight(sm, n);
	int rc = 0;
	/* the extremes, first seen wins ties (the walk is in name order) */
	if (data <= DRILL_LARGEST_MAX && (!sm->largest.path || n->size > sm->largest_size)) {
		sm->largest_size = n->size;
		rc = cand_set(&sm->largest, key, data, path);
	}
	if (rc == 0 && (!sm->oldest_m.path || n->mtime < sm->oldest_mtime)) {
		sm->oldest_mtime = n->mtime;
		rc = cand_set(&sm->oldest_m, key, data, path);
	}
	if (rc == 0 && (!sm->oldest_c.path || n->ctime < sm->oldest_ctime)) {
		sm->oldest_ctime = n->ctime;
		rc = cand_set(&sm->oldest_c, key, data, path);
	}
	if (rc < 0)
		return rc;
	int count_mode = sm->o->share <= 0;
	if (count_mode && sm->o->sample == 0)
		return 0;
	if (count_mode && sm->n == sm->o->sample) {
		if (key <= sm->heap[0].key)
			return 0;
		heap_pop(sm);
	}
	if ((rc = array_reserve(&sm->heap, &sm->cap, sm->n + 1, sizeof(*sm->heap))) < 0)
		return rc;
	sm->heap[sm->n] = (cand){ 0, 0, NULL, 0 };
	if ((rc = cand_set(&sm->heap[sm->n], key, data, path)) < 0)
		return rc;
	sm->heap_data += data;
	heap_up(sm->heap, sm->n++);
	/* share mode: the fewest top keys whose bytes reach the share */
	while (!count_mode && sm->n > 1 && sm->heap_data - sm->heap[0].data >= sm->want_data)
		heap_pop(sm);
	return 0;
}

static int sample_pre(void *ud, const buf *path, const snapfs_tree *t, const tree_node *n,
		      size_t depth)
{
	(void)t, (void)depth;
	if (n->type != NODE_FILE)
		return 0;
	uint64_t data = 0;
	for (size_t i = 0; i < n->nsegs; i++)
		data += n->segs[i].ref ? n->segs[i].len : 0;
	return offer(ud, path, n, data);
}

/* What a sample is: paths sorted bytewise, for the restore's selection. */
typedef struct {
	cand *v;
	size_t n;
} selection;

static int cand_cmp(const void *x, const void *y)
{
	const cand *a = x, *b = y;
	return tree_name_cmp(a->path, a->len, b->path, b->len);
}

/* The first path not below (bytewise) p. */
static size_t lower_bound(const selection *sel, const uint8_t *p, size_t len)
{
	size_t lo = 0, hi = sel->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (tree_name_cmp(sel->v[mid].path, sel->v[mid].len, p, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int sel_select(void *ud, const buf *path)
{
	const selection *sel = ud;
	size_t i = lower_bound(sel, path->data, path->len);
	return i < sel->n && tree_name_cmp(sel->v[i].path, sel->v[i].len, path->data, path->len) == 0;
}

static int sel_may_contain(void *ud, const buf *dir)
{
	const selection *sel = ud;
	/* paths below dir are those starting with dir + '/', contiguous in bytewise order */
	size_t i = lower_bound(sel, dir->data, dir->len);
	for (; i < sel->n && sel->v[i].len > dir->len &&
	       memcmp(sel->v[i].path, dir->data, dir->len) == 0; i++)
		if (sel->v[i].path[dir->len] == '/')
			return 1;
	return 0;
}

/* Moves an extreme into the heap unless it is there already. */
static int take_extreme(sampler *sm, cand *x)
{
	if (!x->path)
		return 0;
	for (size_t i = 0; i < sm->n; i++) {
		if (tree_name_cmp(sm->heap[i].path, sm->heap[i].len, x->path, x->len) == 0) {
			sm->heap[i].key = INFINITY; /* drawn already: now it stays */
			heap_down(sm->heap, sm->n, i);
			cand_free(x);
			return 0;
		}
	}
	int rc = array_reserve(&sm->heap, &sm->cap, sm->n + 1, sizeof(*sm->heap));
	if (rc < 0)
		return rc;
	x->key = INFINITY; /* never dropped for the count */
	sm->heap_data += x->data;
	sm->heap[sm->n] = *x;
	*x = (cand){ 0, 0, NULL, 0 };
	heap_up(sm->heap, sm->n++);
	return 0;
}

static int draw(snapfs_session *ss, const snapshot *s, const drill_opts *o,
		const expand_totals *tot, selection *out)
{
	sampler sm;
	memset(&sm, 0, sizeof(sm));
	sm.o = o;
	sm.now = s->time;
	if (o->share > 0) {
		double want = ceil(o->share * (double)tot->data);
		sm.want_data = want >= 1.8e19 ? UINT64_MAX : (uint64_t)want;
	}
	const snapfs_tree *root;
	int rc = snapfs_tree_get(ss, s->tree, &root);
	if (rc == 0) {
		snapwalk_ops ops = { sample_pre, NULL, NULL, &sm };
		rc = snapwalk_run(ss, root, "/", 1, 0, &ops);
		snapfs_tree_put(snapfs_session_fs(ss), root);
	}
	/* the extremes replace the lowest keys in count mode */
	cand *ext[] = { &sm.largest, &sm.oldest_m, &sm.oldest_c };
	for (size_t i = 0; rc == 0 && i < ARRAY_SIZE(ext); i++)
		rc = take_extreme(&sm, ext[i]);
	while (rc == 0 && o->share <= 0 && sm.n > o->sample)
		heap_pop(&sm);
	cand_free(&sm.largest);
	cand_free(&sm.oldest_m);
	cand_free(&sm.oldest_c);
	if (rc < 0) {
		while (sm.n)
			heap_pop(&sm);
		free(sm.heap);
		return rc;
	}
	if (sm.n)
		qsort(sm.heap, sm.n, sizeof(*sm.heap), cand_cmp);
	out->v = sm.heap;
	out->n = sm.n;
	return 0;
}

static void selection_release(selection *sel)
{
	for (size_t i = 0; i < sel->n; i++)
		cand_free(&sel->v[i]);
	free(sel->v);
	sel->v = NULL;
	sel->n = 0;
}

/* ---------- verification ---------- */

typedef struct {
	repo *r;
	snapfs_session *ss;
	drill_result *res;
	int scratch_fd, live_fd; /* live_fd -1: no live comparison */
	int as_root;
	uint8_t *a, *b;          /* DRILL_BLOCK each */
	buf chunk, qbuf;
	buf xa, xb;
} verifier;

/* xattrs a restore could set: all as root, else not trusted.* and security.*. */
static int xattr_counts(const verifier *v, const uint8_t *name, size_t len)
{
	if (v->as_root)
		return 1;
	return !(len >= 8 && memcmp(name, "trusted.", 8) == 0) &&
	       !(len >= 9 && memcmp(name, "security.", 9) == 0);
}

/* Whether every counted xattr of list a is in list b with the same value (encoded lists). */
static int xattrs_within(const verifier *v, const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	tree_node na = { 0 }, nb = { 0 };
	na.xattrs = a;
	na.xattrs_len = al;
	nb.xattrs = b;
	nb.xattrs_len = bl;
	tree_xattr_iter ia, ib;
	const uint8_t *k, *val, *k2, *val2;
	size_t kl, vl, kl2, vl2;
	int rc;
	tree_xattr_iter_init(&ia, &na);
	while ((rc = tree_xattr_next(&ia, &k, &kl, &val, &vl)) > 0) {
		if (!xattr_counts(v, k, kl))
			continue;
		int found = 0;
		tree_xattr_iter_init(&ib, &nb);
		while (!found && tree_xattr_next(&ib, &k2, &kl2, &val2, &vl2) > 0)
			found = kl == kl2 && memcmp(k, k2, kl) == 0 && vl == vl2 && memcmp(val, val2, vl) == 0;
		if (!found)
			return 0;
	}
	return rc == 0;
}

static int xattrs_equal(const verifier *v, const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	return xattrs_within(v, a, al, b, bl) && xattrs_within(v, b, bl, a, al);
}

/* Reads exactly n bytes at off; -ENODATA when the file ends first. */
static int read_at(int fd, void *p, size_t n, uint64_t off)
{
	return fsio_pread_exact(fd, p, n, (off_t)off);
}

/* The restored contents against the snapshot: every extent's id, every hole zero. */
static int check_contents(verifier *v, const buf *path, int fd, const tree *t, const tree_node *n)
{
	uint64_t off = 0;
	for (size_t i = 0; i < n->nsegs; i++) {
		const tree_seg *sg = &n->segs[i];
		int rc;
		if (sg->ref) {
			if (sg->len > BLOB_MAX_RAW)
				return add_finding(v->res, path->data, path->len, DRILL_FAIL_CONTENT,
						   "a chunk of %llu bytes is longer than any chunk can be",
						   (unsigned long long)sg->len);
			v->chunk.len = 0;
			if ((rc = buf_reserve(&v->chunk, (size_t)sg->len)) < 0)
				return rc;
			if ((rc = read_at(fd, v->chunk.data, (size_t)sg->len, off)) < 0)
				return add_finding(v->res, path->data, path->len, DRILL_FAIL_CONTENT,
						   "cannot read the restored bytes at offset %llu: %s",
						   (unsigned long long)off, err_str(rc));
			uint8_t id[32];
			repo_blob_id(v->r, id, v->chunk.data, (size_t)sg->len);
			if (memcmp(id, tree_child(t, sg->ref), 32) != 0)
				return add_finding(v->res, path->data, path->len, DRILL_FAIL_CONTENT,
						   "restored bytes %llu..%llu do not match the snapshot's chunk (segment %zu)",
						   (unsigned long long)off, (unsigned long long)(off + sg->len), i + 1);
		} else {
			/* a hole on disk reads as zeros: only data within the hole is read */
			off_t data = lseek(fd, (off_t)off, SEEK_DATA);
			uint64_t skip = data < 0 ? sg->len : (uint64_t)data > off ? (uint64_t)data - off : 0;
			for (uint64_t done = MIN(skip, sg->len); done < sg->len;) {
				size_t k = (size_t)MIN((uint64_t)DRILL_BLOCK, sg->len - done);
				if ((rc = read_at(fd, v->a, k, off + done)) < 0)
					return add_finding(v->res, path->data, path->len, DRILL_FAIL_CONTENT,
							   "cannot read the restored hole at offset %llu: %s",
							   (unsigned long long)(off + done), err_str(rc));
				for (size_t j = 0; j < k; j++)
					if (v->a[j])
						return add_finding(v->res, path->data, path->len, DRILL_FAIL_CONTENT,
								   "byte %llu is not zero in a hole",
								   (unsigned long long)(off + done + j));
				done += k;
			}
		}
		off += sg->len;
	}
	return 0;
}

/* Appends to a one-line list of differences ("a, b, c"), never beyond cap. */
static void note(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void note(char *out, size_t cap, const char *fmt, ...)
{
	size_t w = strlen(out);
	if (w && w + 2 < cap) {
		memcpy(out + w, ", ", 3);
		w += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	if (w < cap)
		vsnprintf(out + w, cap - w, fmt, ap);
	va_end(ap);
}

/* Metadata as recorded; returns 1 when it matched. */
static int check_meta(verifier *v, const buf *path, int dfd, const char *name,
		      const struct stat *st, const tree_node *n)
{
	char what[256] = "";
	if ((st->st_mode & 07777) != n->mode && n->type != NODE_SYMLINK)
		note(what, sizeof(what), "mode %04o, recorded %04o", (unsigned)(st->st_mode & 07777),
		     n->mode);
	if (v->as_root && (st->st_uid != n->uid || st->st_gid != n->gid))
		note(what, sizeof(what), "owner %u:%u, recorded %u:%u", (unsigned)st->st_uid,
		     (unsigned)st->st_gid, n->uid, n->gid);
	if ((int64_t)st->st_mtim.tv_sec != n->mtime || (uint32_t)st->st_mtim.tv_nsec != n->mtime_ns)
		note(what, sizeof(what), "mtime");
	if (n->type != NODE_SYMLINK) { /* Linux keeps no user xattrs on symlinks */
		int rc = meta_read_xattrs(&v->xa, dfd, name);
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0 || !xattrs_equal(v, v->xa.data, v->xa.len, n->xattrs, n->xattrs_len))
			note(what, sizeof(what), "extended attributes");
	}
	if (!what[0])
		return 1;
	int rc = add_finding(v->res, path->data, path->len, DRILL_FAIL_META,
			     "restored metadata differs: %s", what);
	return rc < 0 ? rc : 0;
}

/* The next offset at or after off where fd may hold data (size when none does). */
static uint64_t next_data(int fd, uint64_t off, uint64_t size)
{
	off_t d = lseek(fd, (off_t)off, SEEK_DATA);
	if (d < 0)
		return errno == ENXIO ? size : off; /* ENXIO: holes to the end; else read it all */
	return (uint64_t)d;
}

/* Compares two open files byte for byte; 1 when equal.  Where both hold holes, nothing is read. */
static int same_bytes(verifier *v, int fa, int fb, uint64_t size)
{
	for (uint64_t off = 0; off < size;) {
		uint64_t skip = MIN(next_data(fa, off, size), next_data(fb, off, size));
		if (skip > off) {
			off = skip;
			continue;
		}
		size_t k = (size_t)MIN((uint64_t)DRILL_BLOCK, size - off);
		if (read_at(fa, v->a, k, off) < 0 || read_at(fb, v->b, k, off) < 0)
			return 0;
		if (memcmp(v->a, v->b, k) != 0)
			return 0;
		off += k;
	}
	return 1;
}

/* The live file at path against the restored one (open as rfd, stat rst). */
static int check_live(verifier *v, const buf *path, const tree_node *n, int rfd,
		      const struct stat *rst, int rdfd, const char *rname)
{
	drill_result *res = v->res;
	char name[256];
	_cleanup_close_ int dfd = -1;
	struct stat st;
	int rc = fsio_open_parent(v->live_fd, path->data, path->len, 0, &dfd, name);
	if (rc == 0 && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	if (rc == -ENOENT || rc == -ENOTDIR) {
		res->live_gone++;
		return add_finding(res, path->data, path->len, DRILL_GONE, "gone from the live system");
	}
	if (rc < 0) {
		res->live_gone++;
		return add_finding(res, path->data, path->len, DRILL_GONE, "the live file cannot be read: %s",
				   err_str(rc));
	}
	char what[200] = "";
	if (!S_ISREG(st.st_mode))
		note(what, sizeof(what), "no longer a regular file");
	if ((uint64_t)st.st_size != n->size)
		note(what, sizeof(what), "size %llu -> %llu", (unsigned long long)n->size,
		     (unsigned long long)st.st_size);
	if ((int64_t)st.st_mtim.tv_sec != n->mtime || (uint32_t)st.st_mtim.tv_nsec != n->mtime_ns)
		note(what, sizeof(what), "mtime");
	if ((int64_t)st.st_ctim.tv_sec != n->ctime || (uint32_t)st.st_ctim.tv_nsec != n->ctime_ns)
		note(what, sizeof(what), "ctime");
	if ((uint64_t)st.st_ino != n->ino)
		note(what, sizeof(what), "inode");
	if (what[0]) {
		res->live_changed++;
		return add_finding(res, path->data, path->len, DRILL_CHANGED,
				   "changed since the snapshot (%s)", what);
	}
	/* unchanged since the snapshot: must be identical */
	res->live_compared++;
	_cleanup_close_ int lfd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (lfd < 0 && errno == EPERM)
		lfd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (lfd < 0) {
		res->live_compared--;
		res->live_gone++;
		return add_finding(res, path->data, path->len, DRILL_GONE, "the live file cannot be read: %s",
				   strerror(errno));
	}
	const char *diff = NULL;
	if (rst->st_size != st.st_size || !same_bytes(v, rfd, lfd, (uint64_t)st.st_size))
		diff = "contents";
	else if ((rst->st_mode & 07777) != (st.st_mode & 07777))
		diff = "mode";
	else if (v->as_root && (rst->st_uid != st.st_uid || rst->st_gid != st.st_gid))
		diff = "owner";
	else if ((rc = meta_read_xattrs(&v->xa, dfd, name)) < 0 ||
		 (rc = meta_read_xattrs(&v->xb, rdfd, rname)) < 0 ||
		 !xattrs_equal(v, v->xa.data, v->xa.len, v->xb.data, v->xb.len))
		diff = rc == -ENOMEM ? NULL : "extended attributes";
	if (rc == -ENOMEM)
		return rc;
	if (!diff) {
		res->live_identical++;
		return 0;
	}
	res->live_failed++;
	return add_finding(res, path->data, path->len, DRILL_FAIL_LIVE,
			   "restored %s differ from the live file, which is unchanged since the snapshot",
			   diff);
}

/* One entry of the snapshot (node n of t at path) against the scratch directory. */
static int verify_entry(verifier *v, const buf *path, const tree *t, const tree_node *n)
{
	drill_result *res = v->res;
	char name[256];
	_cleanup_close_ int dfd = -1, fd = -1;
	struct stat st;
	int rc = interrupt_check();
	if (rc < 0)
		return rc;
	if (!v->as_root && (n->type == NODE_CHR || n->type == NODE_BLK))
		return 0; /* only root can restore device nodes */
	res->entries_verified++;
	uint64_t before = res->nfindings;
	rc = fsio_open_parent(v->scratch_fd, path->data, path->len, 1, &dfd, name);
	if (rc == 0 && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	if (rc < 0) {
		res->entries_failed++;
		return add_finding(res, path->data, path->len, DRILL_FAIL_CONTENT, "not restored (%s)",
				   err_str(rc));
	}
	if (meta_node_type(st.st_mode) != n->type) {
		res->entries_failed++;
		return add_finding(res, path->data, path->len, DRILL_FAIL_CONTENT,
				   "restored as another type of file");
	}
	if (n->type == NODE_FILE) {
		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			rc = add_finding(res, path->data, path->len, DRILL_FAIL_CONTENT,
					 "cannot open the restored file: %s", strerror(errno));
		else if ((uint64_t)st.st_size != n->size)
			rc = add_finding(res, path->data, path->len, DRILL_FAIL_CONTENT,
					 "restored %llu bytes, the snapshot has %llu (the restore's error is above)",
					 (unsigned long long)st.st_size, (unsigned long long)n->size);
		else
			rc = check_contents(v, path, fd, t, n);
	} else if (n->type == NODE_SYMLINK) {
		buf _cleanup_(buf_releasep) target = BUF_INIT;
		rc = meta_read_link(&target, dfd, name);
		if (rc == 0 && (target.len != n->target_len || memcmp(target.data, n->target, target.len)))
			rc = add_finding(res, path->data, path->len, DRILL_FAIL_CONTENT,
					 "restored symlink points elsewhere");
	} else if ((n->type == NODE_CHR || n->type == NODE_BLK) && (uint64_t)st.st_rdev != n->rdev) {
		rc = add_finding(res, path->data, path->len, DRILL_FAIL_CONTENT,
				 "restored device has another number");
	}
	if (rc == 0 && res->nfindings == before)
		rc = check_meta(v, path, dfd, name, &st, n) < 0 ? -ENOMEM : 0;
	if (rc == 0 && res->nfindings == before && n->type == NODE_FILE && v->live_fd >= 0)
		rc = check_live(v, path, n, fd, &st, dfd, name);
	for (size_t i = before; i < res->nfindings; i++) {
		if (drill_kind_fails(res->findings[i].kind) && res->findings[i].kind != DRILL_FAIL_LIVE) {
			res->entries_failed++;
			break;
		}
	}
	return rc;
}

static int verify_pre(void *ud, const buf *path, const snapfs_tree *t, const tree_node *n,
		      size_t depth)
{
	(void)depth;
	return verify_entry(ud, path, &t->t, n);
}

static int verify_walk_error(void *ud, const buf *path, int code)
{
	verifier *v = ud;
	v->res->entries_failed++;
	int rc = add_finding(v->res, path->data, path->len, DRILL_FAIL_CONTENT,
			     "directory cannot be read from the snapshot: %s", err_msg(code));
	err_clear();
	return rc;
}

/* Verifies the sample, or everything (sel NULL). */
static int verify(verifier *v, const snapshot *s, const selection *sel)
{
	int rc = 0;
	if (!sel) {
		const snapfs_tree *root;
		rc = snapfs_tree_get(v->ss, s->tree, &root);
		if (rc == 0) {
			snapwalk_ops ops = { verify_pre, NULL, verify_walk_error, v };
			rc = snapwalk_run(v->ss, root, "/", 1, 0, &ops);
			snapfs_tree_put(snapfs_session_fs(v->ss), root);
		}
		return rc;
	}
	buf _cleanup_(buf_releasep) path = BUF_INIT;
	for (size_t i = 0; rc == 0 && i < sel->n; i++) {
		snapfs_path p;
		rc = snapfs_lookup(v->ss, s->tree, sel->v[i].path, sel->v[i].len, &p);
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0) { /* it was there when drawn: the snapshot is unreadable now */
			rc = add_finding(v->res, sel->v[i].path, sel->v[i].len, DRILL_FAIL_CONTENT,
					 "cannot be found in the snapshot again: %s", err_msg(rc));
			continue;
		}
		path.len = 0;
		rc = buf_append(&path, sel->v[i].path, sel->v[i].len);
		rc = rc ?: verify_entry(v, &path, &p.parent->t, p.node);
		snapfs_path_release(snapfs_session_fs(v->ss), &p);
	}
	return rc;
}

/* ---------- the drill ---------- */

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int same_host(const snapshot *s)
{
	char host[256];
	if (gethostname(host, sizeof(host)) < 0)
		return 0;
	host[sizeof(host) - 1] = 0;
	return s->host && strcmp(s->host, host) == 0;
}

/* Creates the scratch directory below o->target; *out_fd is the target's. */
static int make_scratch(const drill_opts *o, drill_result *res, int *out_fd)
{
	if (mkdir(o->target, 0700) < 0 && errno != EEXIST)
		return err_sys(-errno, "cannot create the drill target '%s'", o->target);
	size_t n = strlen(o->target) + 32;
	res->scratch = malloc(n);
	if (!res->scratch)
		return -ENOMEM;
	snprintf(res->scratch, n, "%s%sdvalin-drill-XXXXXX", o->target,
		 o->target[0] && o->target[strlen(o->target) - 1] == '/' ? "" : "/");
	if (!mkdtemp(res->scratch))
		return err_sys(-errno, "cannot create a scratch directory in '%s'", o->target);
	int fd = open(o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(-errno, "cannot open '%s'", o->target);
	*out_fd = fd;
	return 0;
}

/* One restore of the sample, or of part of it (sel), timed. */
typedef struct {
	restore_stats st;
	double seconds;
} timed_restore;

static int restore_part(repo *r, const snapshot *s, const drill_opts *o, const char *scratch,
			selection *sel, job_progress *prog, timed_restore *out)
{
	restore_opts ro;
	memset(&ro, 0, sizeof(ro));
	ro.target = scratch;
	ro.threads = o->threads;
	ro.max_entries = RESTORE_MAX_ENTRIES;
	/* as `restore` runs by default, so the time is a restore's; the bytes
	 * are re-hashed against their ids when read back */
	ro.verify = 0;
	if (sel) {
		ro.select = sel_select;
		ro.may_contain = sel_may_contain;
		ro.select_ud = sel;
	}
	double t0 = now_seconds();
	int rc = restore_run(r, s, &ro, prog, &out->st);
	out->seconds = now_seconds() - t0;
	return rc;
}

static int by_data(const void *x, const void *y)
{
	const cand *a = x, *b = y;
	return a->data < b->data ? -1 : a->data > b->data;
}

/*
 * The sample restored in two parts, its smaller and its larger files
 * (halves by data bytes), so that the time of a restore can be split into
 * a cost per file and a cost per byte: n1 cf + b1 cb = T1, n2 cf + b2 cb =
 * T2.  Each part is a selection of its own (borrowing the paths).
 */
static int restore_sample(repo *r, const snapshot *s, const drill_opts *o, const char *scratch,
			  const selection *sel, job_progress *prog, timed_restore part[2])
{
	memset(part, 0, 2 * sizeof(*part));
	cand *v = sel->n ? malloc(sel->n * sizeof(*v)) : NULL;
	if (sel->n && !v)
		return -ENOMEM;
	if (sel->n)
		memcpy(v, sel->v, sel->n * sizeof(*v));
	if (sel->n)
		qsort(v, sel->n, sizeof(*v), by_data);
	size_t half = sel->n / 2;
	selection a = { v, half }, b = { v + half, sel->n - half };
	qsort(a.v, a.n, sizeof(*v), cand_cmp);
	qsort(b.v, b.n, sizeof(*v), cand_cmp);
	int rc = restore_part(r, s, o, scratch, &a, prog, &part[0]);
	rc = rc ?: restore_part(r, s, o, scratch, &b, prog, &part[1]);
	free(v);
	return rc;
}

/* What a restore created: files, directories and other entries. */
static double entries_of(const restore_stats *st)
{
	return (double)st->files + (double)st->dirs + (double)st->others;
}

/*
 * The estimate of a full restore.  With the time as a cost per entry
 * created (file, directory, other) plus a cost per byte written, the
 * sample's time T for e entries and b bytes bounds the full time between
 * T * min(E/e, B/b) and T * max(E/e, B/b).  Within the bounds, the two
 * parts (small files, large files) give the two costs; where they cannot
 * (a part with nothing in it, a negative cost from timing noise) the
 * estimate is the upper bound.  A sample's files are scattered, each with
 * directories of its own to create and trees to read, which a full restore
 * shares among many files: the estimate leans high.
 */
static void estimate(drill_result *res, const timed_restore *part, size_t nparts)
{
	double t = 0, e = 0, b = 0;
	for (size_t i = 0; i < nparts; i++) {
		t += part[i].seconds;
		e += entries_of(&part[i].st);
		b += (double)part[i].st.bytes;
	}
	res->restore_seconds = t;
	res->bytes_per_second = t > 0 ? b / t : 0;
	if (res->full) {
		res->estimate_seconds = res->estimate_seconds_min = t;
		return;
	}
	if (e == 0)
		return; /* nothing was restored: no basis for an estimate */
	double E = (double)res->entries_total, B = (double)res->bytes_total;
	double by_entries = E / e, by_bytes = b > 0 ? B / b : by_entries;
	double hi = t * MAX(by_entries, by_bytes), lo = t * MIN(by_entries, by_bytes);
	res->estimate_seconds = hi;
	res->estimate_seconds_min = lo;
	if (nparts != 2)
		return;
	double e1 = entries_of(&part[0].st), b1 = (double)part[0].st.bytes, t1 = part[0].seconds;
	double e2 = entries_of(&part[1].st), b2 = (double)part[1].st.bytes, t2 = part[1].seconds;
	double det = e1 * b2 - e2 * b1;
	if (!(det > 0))
		return;
	double ce = (t1 * b2 - t2 * b1) / det, cb = (e1 * t2 - e2 * t1) / det;
	if (!(ce >= 0 && cb >= 0))
		return;
	double est = E * ce + B * cb;
	res->estimate_seconds = est < lo ? lo : est > hi ? hi : est;
}

int drill_run(repo *r, const snapshot *s, const drill_opts *o, job_progress *prog,
	      drill_result *out)
{
	drill_result *res = out;
	memset(res, 0, sizeof(*res));
	res->full = o->full;
	res->seed = o->seed;
	res->ok = 1;
	snapfs *fs = NULL;
	snapfs_session *ss = NULL;
	selection sel = { NULL, 0 };
	verifier v;
	memset(&v, 0, sizeof(v));
	v.scratch_fd = v.live_fd = -1;
	_cleanup_close_ int target_fd = -1;
	snapfs_params sp = SNAPFS_PARAMS_INIT;
	sp.verify = 1;

	/* what the snapshot holds, cheaply: once per distinct tree */
	expander x;
	expand_totals tot;
	expander_init(&x, r, 4096);
	int rc = expand_tree(&x, s->tree, 0, &tot);
	expander_release(&x);
	res->files_total = tot.files;
	res->bytes_total = tot.data;
	res->entries_total = tot.entries;

	rc = rc ?: snapfs_new(&fs, r, &sp);
	rc = rc ?: snapfs_session_new(&ss, fs);
	if (rc == 0 && !o->full) {
		rc = draw(ss, s, o, &tot, &sel);
		for (size_t i = 0; rc == 0 && i < sel.n; i++) {
			res->bytes_sampled += sel.v[i].data;
			char *p = strndup((const char *)sel.v[i].path, sel.v[i].len);
			rc = p ? strlist_add(&res->sampled, &res->nsampled, p) : -ENOMEM;
			free(p);
		}
		res->files_sampled = sel.n;
	} else if (rc == 0) {
		res->files_sampled = tot.files;
		res->bytes_sampled = tot.data;
	}
	rc = rc ?: make_scratch(o, res, &target_fd);
	timed_restore part[2];
	memset(part, 0, sizeof(part));
	size_t nparts = o->full ? 1 : 2;
	if (rc == 0) {
		rc = o->full ? restore_part(r, s, o, res->scratch, NULL, prog, &part[0])
			     : restore_sample(r, s, o, res->scratch, &sel, prog, part);
		res->restore_errors = part[0].st.errors + part[1].st.errors;
		if (rc == 0)
			estimate(res, part, nparts);
	}
	if (rc == 0) {
		v.r = r;
		v.ss = ss;
		v.res = res;
		v.as_root = geteuid() == 0;
		v.a = malloc(DRILL_BLOCK);
		v.b = malloc(DRILL_BLOCK);
		v.scratch_fd = open(res->scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (!v.a || !v.b)
			rc = -ENOMEM;
		else if (v.scratch_fd < 0)
			rc = err_sys(-errno, "cannot open '%s'", res->scratch);
		if (!o->live)
			res->live_skipped = "not asked for";
		else if (!same_host(s))
			res->live_skipped = "the snapshot is of another host";
		else if ((v.live_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			res->live_skipped = "the root directory cannot be opened";
	}
	if (rc == 0) {
		double t0 = now_seconds();
		rc = verify(&v, s, o->full ? NULL : &sel);
		res->verify_seconds = now_seconds() - t0;
	}
	if (v.scratch_fd >= 0)
		close(v.scratch_fd);
	if (v.live_fd >= 0)
		close(v.live_fd);
	free(v.a);
	free(v.b);
	buf_release(&v.chunk);
	buf_release(&v.qbuf);
	buf_release(&v.xa);
	buf_release(&v.xb);
	/* the scratch directory goes, whatever happened (unless kept) */
	if (target_fd >= 0 && !o->keep) {
		const char *base = strrchr(res->scratch, '/') + 1;
		int drc = fsio_remove_tree(target_fd, base);
		if (drc < 0 && rc == 0)
			rc = err_sys(drc, "cannot remove the scratch directory '%s'", res->scratch);
	}
	selection_release(&sel);
	snapfs_session_free(ss);
	snapfs_free(fs);
	if (rc == 0 && res->restore_errors)
		res->ok = 0;
	return rc;
}
