/* SPDX-License-Identifier: BSD-2-Clause */
#include "meta.h"
#include "../base/cleanup.h"
#include "../base/err.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#define NAME_CACHE 64

typedef struct {
	uint32_t id;
	int used;
	char name[64];
} name_slot;

struct meta_names {
	name_slot users[NAME_CACHE], groups[NAME_CACHE];
};

int meta_names_new(meta_names **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void meta_names_free(meta_names *m)
{
	free(m);
}

static const char *lookup(name_slot *cache, uint32_t id, int is_user)
{
	name_slot *s = &cache[id % NAME_CACHE];
	if (s->used && s->id == id)
		return s->name;
	char tmp[4096];
	s->used = 1;
	s->id = id;
	s->name[0] = 0;
	if (is_user) {
		struct passwd pw, *res = NULL;
		if (getpwuid_r(id, &pw, tmp, sizeof(tmp), &res) == 0 && res)
			snprintf(s->name, sizeof(s->name), "%s", res->pw_name);
	} else {
		struct group gr, *res = NULL;
		if (getgrgid_r(id, &gr, tmp, sizeof(tmp), &res) == 0 && res)
			snprintf(s->name, sizeof(s->name), "%s", res->gr_name);
	}
	return s->name;
}

uint8_t meta_node_type(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFDIR: return NODE_DIR;
	case S_IFLNK: return NODE_SYMLINK;
	case S_IFIFO: return NODE_FIFO;
	case S_IFCHR: return NODE_CHR;
	case S_IFBLK: return NODE_BLK;
	case S_IFSOCK: return NODE_SOCK;
	default: return NODE_FILE;
	}
}

void meta_from_stat(tree_node *n, const struct stat *st, meta_names *names)
{
	n->type = meta_node_type(st->st_mode);
	n->mode = st->st_mode & 07777;
	n->uid = st->st_uid;
	n->gid = st->st_gid;
	n->user = (const uint8_t *)lookup(names->users, st->st_uid, 1);
	n->user_len = strlen((const char *)n->user);
	n->group = (const uint8_t *)lookup(names->groups, st->st_gid, 0);
	n->group_len = strlen((const char *)n->group);
	n->mtime = st->st_mtim.tv_sec;
	n->mtime_ns = (uint32_t)st->st_mtim.tv_nsec;
	n->ctime = st->st_ctim.tv_sec;
	n->ctime_ns = (uint32_t)st->st_ctim.tv_nsec;
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->nlink = st->st_nlink;
	n->size = n->type == NODE_FILE ? (uint64_t)st->st_size : 0;
	n->rdev = (n->type == NODE_CHR || n->type == NODE_BLK) ? st->st_rdev : 0;
}

static mode_t ifmt_of(uint8_t type)
{
	switch (type) {
	case NODE_DIR: return S_IFDIR;
	case NODE_SYMLINK: return S_IFLNK;
	case NODE_FIFO: return S_IFIFO;
	case NODE_CHR: return S_IFCHR;
	case NODE_BLK: return S_IFBLK;
	case NODE_SOCK: return S_IFSOCK;
	default: return S_IFREG;
	}
}

void meta_to_stat(struct stat *st, const tree_node *n)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = ifmt_of(n->type) | (mode_t)(n->mode & 07777);
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_nlink = n->type == NODE_DIR ? 2 : n->nlink ? (nlink_t)n->nlink : 1;
	if (n->type == NODE_FILE) {
		uint64_t data = 0;
		for (size_t i = 0; i < n->nsegs; i++)
			if (n->segs[i].ref)
				data += n->segs[i].len; /* the codec checked the sum against size */
		st->st_size = n->size > INT64_MAX ? INT64_MAX : (off_t)n->size;
		st->st_blocks = (blkcnt_t)((data + 511) / 512);
	} else if (n->type == NODE_SYMLINK) {
		st->st_size = (off_t)n->target_len;
	}
	if (n->type == NODE_CHR || n->type == NODE_BLK)
		st->st_rdev = (dev_t)n->rdev;
	st->st_blksize = 4096;
	st->st_mtim.tv_sec = (time_t)n->mtime;
	st->st_mtim.tv_nsec = n->mtime_ns;
	st->st_atim = st->st_mtim; /* access times are not recorded */
	st->st_ctim.tv_sec = (time_t)n->ctime;
	st->st_ctim.tv_nsec = n->ctime_ns;
}

static int proc_path(char *out, size_t len, int dirfd, const char *name)
{
	if ((size_t)snprintf(out, len, "/proc/self/fd/%d/%s", dirfd, name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int meta_read_xattrs(buf *out, int dirfd, const char *name)
{
	char path[512];
	int rc = proc_path(path, sizeof(path), dirfd, name);
	out->len = 0;
	if (rc < 0)
		return rc;
	ssize_t n = llistxattr(path, NULL, 0);
	if (n < 0)
		return errno == ENOTSUP || errno == ENOSYS ? 0 : -errno;
	if (n == 0)
		return 0;
	_cleanup_free_ char *list = malloc((size_t)n);
	_cleanup_free_ char *val = malloc(65536);
	if (!list || !val)
		return -ENOMEM;
	n = llistxattr(path, list, (size_t)n);
	if (n < 0)
		return errno == ERANGE ? -EAGAIN : -errno;
	for (char *k = list; k < list + n; k += strlen(k) + 1) {
		ssize_t v = lgetxattr(path, k, val, 65536);
		if (v < 0) {
			if (errno == ENODATA)
				continue; /* removed meanwhile */
			return -errno;
		}
		if ((rc = tree_xattrs_add(out, k, strlen(k), val, (size_t)v)) < 0)
			return rc;
	}
	return 0;
}

int meta_read_link(buf *out, int dirfd, const char *name)
{
	size_t cap = 256;
	for (;;) {
		out->len = 0;
		int rc = buf_reserve(out, cap);
		if (rc < 0)
			return rc;
		ssize_t n = readlinkat(dirfd, name, (char *)out->data, cap);
		if (n < 0)
			return -errno;
		if ((size_t)n < cap) {
			out->len = (size_t)n;
			return 0;
		}
		if (cap >= TREE_TARGET_MAX)
			return -ENAMETOOLONG;
		cap *= 4;
	}
}

static int apply_xattrs(int fd, const char *path, const tree_node *n)
{
	tree_xattr_iter it;
	const uint8_t *k, *v;
	size_t kl, vl;
	char key[256];
	int rc, first = 0;
	tree_xattr_iter_init(&it, n);
	while ((rc = tree_xattr_next(&it, &k, &kl, &v, &vl)) > 0) {
		if (kl == 0 || kl >= sizeof(key) || memchr(k, 0, kl))
			return -DV_ECORRUPT;
		memcpy(key, k, kl);
		key[kl] = 0;
		int r = fd >= 0 ? fsetxattr(fd, key, v, vl, 0) : lsetxattr(path, key, v, vl, 0);
		if (r < 0 && !first)
			first = -errno;
	}
	return rc < 0 ? rc : first;
}

int meta_apply(int fd, int dirfd, const char *name, const tree_node *n, int restore_owner,
	       unsigned *out_failed)
{
	char path[512];
	int first = 0, r;
	unsigned failed = 0;
	if (fd < 0 && (r = proc_path(path, sizeof(path), dirfd, name)) < 0)
		return r;
#define FAIL(bit)                      \
	do {                           \
		failed |= (bit);       \
		if (!first)            \
			first = -errno; \
	} while (0)
	if (restore_owner) {
		r = fd >= 0 ? fchown(fd, n->uid, n->gid)
			    : fchownat(dirfd, name, n->uid, n->gid, AT_SYMLINK_NOFOLLOW);
		if (r < 0)
			FAIL(META_FAIL_OWNER);
	}
	/* after chown, which clears setuid/setgid; symlinks have no mode */
	if (n->type != NODE_SYMLINK) {
		r = fd >= 0 ? fchmod(fd, n->mode) : fchmodat(dirfd, name, n->mode, 0);
		if (r < 0)
			FAIL(META_FAIL_MODE);
	}
	r = apply_xattrs(fd, fd >= 0 ? NULL : path, n);
	if (r < 0) {
		failed |= META_FAIL_XATTR;
		if (!first)
			first = r;
	}
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { n->mtime, n->mtime_ns } };
	r = fd >= 0 ? futimens(fd, ts) : utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW);
	if (r < 0)
		FAIL(META_FAIL_TIME);
#undef FAIL
	*out_failed = failed;
	return first;
}
