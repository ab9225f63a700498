/* SPDX-License-Identifier: BSD-2-Clause */
#include "dump.h"
#include "quote.h"
#include "snapwalk.h"
#include "../archive/meta.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/interrupt.h"
#include "../base/log.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Bytes read from the snapshot per write. */
#define DUMP_BLOCK ((size_t)1 << 20)

int dump_file(snapfs_session *s, const snapfs_path *p, dump_write_fn fn, void *ud)
{
	snapfs_file *f = NULL;
	int rc = p->node ? snapfs_file_open(&f, &p->parent->t, p->node) : -EISDIR;
	if (rc < 0)
		return rc == -EISDIR ? err_set(rc, "not a regular file") : rc;
	_cleanup_free_ uint8_t *block = malloc(DUMP_BLOCK);
	if (!block) {
		snapfs_file_close(f);
		return -ENOMEM;
	}
	uint64_t off = 0, size = snapfs_file_size(f);
	while (rc == 0 && off < size && (rc = interrupt_check()) == 0) {
		size_t n;
		rc = snapfs_file_read(s, f, off, block, DUMP_BLOCK, &n);
		rc = rc ?: fn(ud, block, n);
		off += n;
	}
	snapfs_file_close(f);
	return rc;
}

/* ---------- tar ---------- */

typedef struct {
	snapfs_session *s;
	struct archive *a;
	struct archive_entry_linkresolver *links;
	dump_write_fn fn;
	void *ud;
	int write_rc; /* the callback's error, which libarchive only sees as -1 */
	dump_stats st;
	uint8_t *block;
	buf name, qbuf;
} tarctx;

static la_ssize_t tar_write(struct archive *a, void *ud, const void *p, size_t n)
{
	tarctx *c = ud;
	int rc = c->fn(c->ud, p, n);
	if (rc < 0) {
		c->write_rc = rc;
		archive_set_error(a, -rc, "%s", err_msg(rc));
		return -1;
	}
	return (la_ssize_t)n;
}

/* The error of the archive, as one of ours. */
static int tar_fail(tarctx *c)
{
	if (c->write_rc < 0)
		return c->write_rc;
	int e = archive_errno(c->a);
	return err_set(e > 0 ? -e : -EIO, "cannot write the tar stream: %s",
		       archive_error_string(c->a) ? archive_error_string(c->a) : "unknown error");
}

static void entry_error(tarctx *c, const buf *path, const char *what, int code)
{
	log_error("%s '%s': %s", what, quote_path(&c->qbuf, path->data, path->len), err_msg(code));
	err_clear();
	c->st.errors++;
}

/* POSIX ACL xattr (linux/posix_acl_xattr.h): le32 version 2, then le16 tag, le16 perm, le32 id. */
#define ACL_XATTR_VERSION 2

static int acl_tag(uint16_t tag)
{
	switch (tag) {
	case 0x01: return ARCHIVE_ENTRY_ACL_USER_OBJ;
	case 0x02: return ARCHIVE_ENTRY_ACL_USER;
	case 0x04: return ARCHIVE_ENTRY_ACL_GROUP_OBJ;
	case 0x08: return ARCHIVE_ENTRY_ACL_GROUP;
	case 0x10: return ARCHIVE_ENTRY_ACL_MASK;
	case 0x20: return ARCHIVE_ENTRY_ACL_OTHER;
	default: return 0;
	}
}

/*
 * Adds the ACL xattr value as libarchive ACL entries of type; 0 if it
 * is not a well-formed ACL (the caller then keeps it as an xattr).
 */
static int add_acl(struct archive_entry *e, int type, const uint8_t *v, size_t n)
{
	if (n < 4 || (n - 4) % 8 != 0 || le32_get(v) != ACL_XATTR_VERSION)
		return 0;
	for (size_t i = 4; i < n; i += 8)
		if (!acl_tag((uint16_t)(v[i] | v[i + 1] << 8)))
			return 0;
	for (size_t i = 4; i < n; i += 8) {
		int tag = acl_tag((uint16_t)(v[i] | v[i + 1] << 8));
		int perm = (v[i + 2] | v[i + 3] << 8) & 7; /* r 4, w 2, x 1: libarchive's values too */
		int id = (tag == ARCHIVE_ENTRY_ACL_USER || tag == ARCHIVE_ENTRY_ACL_GROUP)
				 ? (int)le32_get(v + i + 4) : -1;
		if (archive_entry_acl_add_entry(e, type, perm, tag, id, NULL) != ARCHIVE_OK)
			return 0;
	}
	return 1;
}

static int add_xattrs(tarctx *c, struct archive_entry *e, const tree_node *n)
{
	tree_xattr_iter it;
	const uint8_t *k, *v;
	size_t kl, vl;
	int rc;
	tree_xattr_iter_init(&it, n);
	while ((rc = tree_xattr_next(&it, &k, &kl, &v, &vl)) > 0) {
		c->name.len = 0;
		if ((rc = buf_append(&c->name, k, kl)) < 0 || (rc = buf_put_u8(&c->name, 0)) < 0)
			return rc;
		const char *name = (const char *)c->name.data;
		if (strlen(name) != kl)
			continue; /* a NUL in a name: no system could have set it */
		if (strcmp(name, "system.posix_acl_access") == 0 &&
		    add_acl(e, ARCHIVE_ENTRY_ACL_TYPE_ACCESS, v, vl))
			continue;
		if (strcmp(name, "system.posix_acl_default") == 0 &&
		    add_acl(e, ARCHIVE_ENTRY_ACL_TYPE_DEFAULT, v, vl))
			continue;
		archive_entry_xattr_add_entry(e, name, v, vl);
	}
	return rc < 0 ? -DV_ECORRUPT : 0;
}

/* GNU sparse map of a file with holes: its data extents, merged. */
static void add_sparse(struct archive_entry *e, const snapfs_file *f)
{
	size_t n = snapfs_file_extents(f);
	uint64_t off, len, run_off = 0, run_len = 0;
	int hole, holes = 0;
	for (size_t i = 0; i < n; i++) {
		snapfs_file_extent(f, i, &off, &len, &hole);
		holes |= hole;
	}
	if (!holes)
		return;
	for (size_t i = 0; i < n; i++) {
		snapfs_file_extent(f, i, &off, &len, &hole);
		if (hole)
			continue;
		if (run_len && run_off + run_len == off) {
			run_len += len;
			continue;
		}
		if (run_len)
			archive_entry_sparse_add_entry(e, (la_int64_t)run_off, (la_int64_t)run_len);
		run_off = off;
		run_len = len;
	}
	/* a file of holes only still needs a map: an empty extent at its end */
	if (!run_len)
		run_off = snapfs_file_size(f);
	archive_entry_sparse_add_entry(e, (la_int64_t)run_off, (la_int64_t)run_len);
}

/* The contents of f after its header; a read error pads the rest with zeros. */
static int write_data(tarctx *c, const buf *path, snapfs_file *f)
{
	uint64_t off = 0, size = snapfs_file_size(f);
	while (off < size) {
		size_t n;
		int rc = interrupt_check();
		rc = rc ?: snapfs_file_read(c->s, f, off, c->block, DUMP_BLOCK, &n);
		if (rc == -ENOMEM || rc == -EINTR)
			return rc;
		if (rc < 0) {
			entry_error(c, path, "cannot read the contents of", rc);
			return 0; /* archive_write_finish_entry pads with zeros */
		}
		if (archive_write_data(c->a, c->block, n) < 0)
			return tar_fail(c);
		off += n;
	}
	c->st.bytes += size;
	return 0;
}

/*
 * libarchive writes a negative time with a fraction as "-S.F" from the
 * floor second S and the fraction above it (-1.25 s as "-2.75"), but a
 * pax decimal means -(S.F), which is how GNU tar reads it.  Giving it
 * S + 1 and the fraction below makes it write the right number.  Times
 * in (-1 s, 0) cannot be written that way ("-0.F" would need a sign on 0)
 * and keep the whole second.
 */
static void pax_time(int64_t *sec, long *ns)
{
	if (*sec < -1 && *ns > 0) {
		*sec += 1;
		*ns = 1000000000L - *ns;
	} else if (*sec == -1) {
		*ns = 0;
	}
}

static void set_times(struct archive_entry *e, const tree_node *n)
{
	int64_t s = n->mtime;
	long ns = (long)n->mtime_ns;
	pax_time(&s, &ns);
	archive_entry_set_mtime(e, (time_t)s, ns);
	s = n->ctime;
	ns = (long)n->ctime_ns;
	pax_time(&s, &ns);
	archive_entry_set_ctime(e, (time_t)s, ns);
	archive_entry_unset_atime(e); /* not recorded */
}

/* One entry: rel is its name in the stream (no leading '/'), path its snapshot path. */
static int put_entry(tarctx *c, const char *rel, const buf *path, const snapfs_tree *t,
		     const tree_node *n)
{
	if (n->type == NODE_SOCK) {
		log_warn("leaving out socket '%s': a tar stream cannot hold sockets",
			 quote_path(&c->qbuf, path->data, path->len));
		c->st.skipped++;
		return 0;
	}
	struct archive_entry *e = archive_entry_new2(c->a);
	if (!e)
		return -ENOMEM;
	struct stat st;
	meta_to_stat(&st, n);
	st.st_dev = (dev_t)n->dev;
	st.st_ino = (ino_t)n->ino;
	archive_entry_copy_stat(e, &st);
	set_times(e, n);
	archive_entry_copy_pathname(e, rel);
	int rc = 0;
	buf _cleanup_(buf_releasep) s = BUF_INIT;
	if (n->user_len && (rc = buf_append(&s, n->user, n->user_len)) == 0 &&
	    (rc = buf_put_u8(&s, 0)) == 0 && strlen((const char *)s.data) == n->user_len)
		archive_entry_copy_uname(e, (const char *)s.data);
	s.len = 0;
	if (rc == 0 && n->group_len && (rc = buf_append(&s, n->group, n->group_len)) == 0 &&
	    (rc = buf_put_u8(&s, 0)) == 0 && strlen((const char *)s.data) == n->group_len)
		archive_entry_copy_gname(e, (const char *)s.data);
	s.len = 0;
	if (rc == 0 && n->type == NODE_SYMLINK) {
		rc = buf_append(&s, n->target, n->target_len);
		rc = rc ?: buf_put_u8(&s, 0);
		if (rc == 0 && strlen((const char *)s.data) != n->target_len) {
			archive_entry_free(e);
			entry_error(c, path, "leaving out symlink", err_set(-DV_ECORRUPT, "a NUL byte in its target"));
			return 0;
		}
		if (rc == 0)
			archive_entry_copy_symlink(e, (const char *)s.data);
	}
	rc = rc ?: add_xattrs(c, e, n);
	snapfs_file *f = NULL;
	if (rc == 0 && n->type == NODE_FILE && (rc = snapfs_file_open(&f, &t->t, n)) == 0)
		add_sparse(e, f);
	if (rc < 0) {
		archive_entry_free(e);
		snapfs_file_close(f);
		if (rc == -ENOMEM)
			return rc;
		entry_error(c, path, "leaving out", rc);
		return 0;
	}
	struct archive_entry *spare = NULL, *w = e;
	if (n->type == NODE_FILE && n->nlink > 1)
		archive_entry_linkify(c->links, &w, &spare); /* later names: links, size 0 */
	int ar = archive_write_header(c->a, w);
	if (ar == ARCHIVE_FAILED) { /* this entry only: the stream goes on */
		entry_error(c, path, "leaving out", err_set(-EINVAL, "%s", archive_error_string(c->a)));
		w = NULL;
	} else if (ar < ARCHIVE_WARN) {
		rc = tar_fail(c);
	}
	if (rc == 0 && w && f && archive_entry_size(w) > 0 && !archive_entry_hardlink(w))
		rc = write_data(c, path, f);
	if (rc == 0 && w && archive_write_finish_entry(c->a) < ARCHIVE_WARN)
		rc = tar_fail(c);
	snapfs_file_close(f);
	/* the tar strategy hands back the entry given, never a deferred one */
	archive_entry_free(e);
	if (rc == 0 && w) {
		c->st.entries++;
		c->st.files += n->type == NODE_FILE;
	}
	return rc;
}

/* An entry at snapshot path, named by it without the leading '/'. */
static int put_at(tarctx *c, const buf *path, const snapfs_tree *t, const tree_node *n)
{
	buf _cleanup_(buf_releasep) rel = BUF_INIT;
	int rc = buf_append(&rel, path->data + 1, path->len - 1);
	rc = rc ?: buf_put_u8(&rel, 0);
	return rc ?: put_entry(c, (const char *)rel.data, path, t, n);
}

static int walk_pre(void *ud, const buf *path, const snapfs_tree *t, const tree_node *n,
		    size_t depth)
{
	(void)depth;
	tarctx *c = ud;
	if (!tree_name_safe(n->name, n->name_len)) {
		entry_error(c, path, "leaving out (and all below it) the entry with an unsafe name at",
			    -DV_ECORRUPT);
		return SNAPWALK_SKIP;
	}
	return put_at(c, path, t, n);
}

static int walk_error(void *ud, const buf *path, int code)
{
	entry_error(ud, path, "cannot read directory", code);
	return 0;
}

static int tar_run(tarctx *c, const snapfs_path *p)
{
	buf _cleanup_(buf_releasep) path = BUF_INIT;
	int rc = buf_put_u8(&path, '/');
	/* the directories on the way, then the entry itself */
	for (size_t i = 0; rc == 0 && i < p->depth; i++) {
		const tree_node *n = p->nodes[i];
		if (!tree_name_safe(n->name, n->name_len))
			return err_set(-DV_ECORRUPT, "the path has an entry with an unsafe name");
		if (i > 0)
			rc = buf_put_u8(&path, '/');
		rc = rc ?: buf_append(&path, n->name, n->name_len);
		rc = rc ?: put_at(c, &path, p->chain[i], n);
	}
	if (rc == 0 && p->dir) {
		snapwalk_ops ops = { walk_pre, NULL, walk_error, c };
		rc = snapwalk_run(c->s, p->dir, path.data, path.len, p->depth, &ops);
	}
	return rc;
}

int dump_tar(snapfs_session *s, const snapfs_path *p, dump_write_fn fn, void *ud,
	     dump_stats *out)
{
	tarctx c;
	memset(&c, 0, sizeof(c));
	c.s = s;
	c.fn = fn;
	c.ud = ud;
	c.a = archive_write_new();
	c.links = archive_entry_linkresolver_new();
	c.block = malloc(DUMP_BLOCK);
	int rc = 0;
	if (!c.a || !c.links || !c.block)
		rc = -ENOMEM;
	/* pax interchange: extended headers wherever they help (times with
	 * nanoseconds on every entry), not only where ustar cannot say it */
	/* xattrs as SCHILY.xattr only, the form GNU tar reads (libarchive's own
	 * LIBARCHIVE.xattr copy would make GNU tar warn about each) */
	if (rc == 0 && (archive_write_set_format_pax(c.a) != ARCHIVE_OK ||
			archive_write_set_format_option(c.a, "pax", "xattrheader", "SCHILY") != ARCHIVE_OK ||
			archive_write_open2(c.a, &c, NULL, tar_write, NULL, NULL) != ARCHIVE_OK))
		rc = tar_fail(&c);
	if (rc == 0) {
		archive_entry_linkresolver_set_strategy(c.links, archive_format(c.a));
		rc = tar_run(&c, p);
	}
	if (rc == 0 && archive_write_close(c.a) != ARCHIVE_OK)
		rc = tar_fail(&c);
	if (c.a)
		archive_write_free(c.a);
	archive_entry_linkresolver_free(c.links);
	free(c.block);
	buf_release(&c.name);
	buf_release(&c.qbuf);
	*out = c.st;
	return rc;
}
