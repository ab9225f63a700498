/* SPDX-License-Identifier: BSD-2-Clause */
#include "store.h"
#include "../backend/backend.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/fsio.h"
#include "../repo/layout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct store {
	int dirfd;
	int scratch;
};

#define OWNER_PREFIX ".owner."
#define OWNER_MAX 128

/*
 * path (relative, components without '.' and '..' checked by the caller)
 * opened beneath dirfd, never through a symbolic link.  openat2 says so
 * to the kernel; where it is missing (an old kernel, a seccomp filter)
 * each component is opened with O_NOFOLLOW instead, which for such
 * names gives the same guarantee.
 */
static int open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how;
	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	if (fd >= 0)
		return (int)fd;
	if (errno != ENOSYS && errno != EPERM)
		return errno == ELOOP ? -ENOENT : -errno; /* a symlink is not a file of ours */
	char comp[BACKEND_NAME_MAX + 1];
	int cur = dup(dirfd);
	if (cur < 0)
		return -errno;
	for (const char *p = path;;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || n >= sizeof(comp)) {
			close(cur);
			return -EINVAL;
		}
		memcpy(comp, p, n);
		comp[n] = 0;
		int last = p[n] == 0;
		int next = openat(cur, comp, last ? flags | O_CLOEXEC | O_NOFOLLOW
						  : O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW, mode);
		int e = errno;
		close(cur);
		if (next < 0)
			return e == ELOOP ? -ENOENT : -e;
		if (last)
			return next;
		cur = next;
		p += n + 1;
	}
}

static int store_from_fd(store **out, int fd)
{
	store *s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->dirfd = fd;
	struct stat st;
	s->scratch = fstatat(fd, STORE_SCRATCH_MARK, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
	*out = s;
	return 0;
}

int store_open(store **out, const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(-errno, "cannot open repository directory '%s'", path);
	return store_from_fd(out, fd);
}

int store_open_at(store **out, int dirfd, const char *dir)
{
	int fd = open_beneath(dirfd, dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	return store_from_fd(out, fd);
}

int store_is_scratch(const store *s)
{
	return s->scratch;
}

void store_free(store *s)
{
	if (s) {
		close(s->dirfd);
		free(s);
	}
}

/*
 * Makes each missing directory of dir (a writable copy of a name) in its
 * parent opened beneath the repository, fsync'ing the parent: mkdirat
 * does not follow a symlink in the last component, so a new directory
 * lands in the repository or nowhere.
 */
static int make_dirs(store *s, char *dir)
{
	for (char *p = dir;; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;
		*p = 0;
		char *slash = strrchr(dir, '/');
		const char *base = slash ? slash + 1 : dir;
		int pfd;
		if (slash) {
			*slash = 0;
			pfd = open_beneath(s->dirfd, dir, O_RDONLY | O_DIRECTORY, 0);
			*slash = '/';
		} else {
			pfd = dup(s->dirfd);
			if (pfd < 0)
				pfd = -errno;
		}
		int r = pfd < 0 ? pfd : 0;
		if (r == 0 && mkdirat(pfd, base, 0700) == 0)
			r = fsync(pfd) < 0 ? -errno : 0;
		else if (r == 0 && errno != EEXIST)
			r = -errno;
		if (pfd >= 0)
			close(pfd);
		*p = c;
		if (r < 0)
			return r;
		if (!c)
			return 0;
	}
}

/* The directory of name (made when create), and its last component. */
static int open_parent(store *s, const char *name, int create, int *out_fd, const char **out_base)
{
	const char *slash = strrchr(name, '/');
	if (!slash) {
		*out_base = name;
		*out_fd = dup(s->dirfd);
		return *out_fd < 0 ? -errno : 0;
	}
	char dir[BACKEND_NAME_MAX + 1];
	size_t n = (size_t)(slash - name);
	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, name, n);
	dir[n] = 0;
	int fd = open_beneath(s->dirfd, dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -ENOENT && create) {
		int r = make_dirs(s, dir);
		fd = r < 0 ? r : open_beneath(s->dirfd, dir, O_RDONLY | O_DIRECTORY, 0);
	}
	if (fd < 0)
		return fd;
	*out_fd = fd;
	*out_base = slash + 1;
	return 0;
}

int store_open_file(store *s, const char *name, int *out_fd, struct stat *out_st)
{
	int fd = open_beneath(s->dirfd, name, O_RDONLY, 0);
	if (fd < 0)
		return fd;
	if (fstat(fd, out_st) < 0 || !S_ISREG(out_st->st_mode)) {
		int r = S_ISREG(out_st->st_mode) ? -errno : -ENOENT;
		close(fd);
		return r;
	}
	*out_fd = fd;
	return 0;
}

int store_stat(store *s, const char *name, struct stat *out)
{
	int fd;
	int r = store_open_file(s, name, &fd, out);
	if (r == 0)
		close(fd);
	return r;
}

int store_has(store *s, const char *name)
{
	struct stat st;
	int r = store_stat(s, name, &st);
	return r == 0 ? 1 : r == -ENOENT || r == -ENOTDIR ? 0 : r;
}

static int is_lease(const char *name)
{
	layout_kind k;
	return layout_kind_of(name, &k) == 0 && k == LAYOUT_LEASE;
}

int store_remove(store *s, const char *name)
{
	_cleanup_close_ int dfd = -1;
	const char *base;
	int r = open_parent(s, name, 0, &dfd, &base);
	if (r == -ENOTDIR)
		r = -ENOENT;
	if (r < 0)
		return r;
	if (unlinkat(dfd, base, 0) < 0)
		return -errno;
	if (is_lease(name)) {
		char owner[BACKEND_NAME_MAX + 16];
		snprintf(owner, sizeof(owner), OWNER_PREFIX "%s", base);
		unlinkat(dfd, owner, 0);
	}
	/* not fsync'd, as the local backend does not: a removal a crash undoes
	 * leaves a file that nothing needs, which the next prune removes */
	return 0;
}

void store_etag(char out[80], const struct stat *st)
{
	snprintf(out, 80, "\"%llx-%llx-%llx-%llx\"", (unsigned long long)st->st_dev,
		 (unsigned long long)st->st_ino, (unsigned long long)st->st_size,
		 (unsigned long long)st->st_mtim.tv_sec * 1000000000ULL +
			 (unsigned long long)st->st_mtim.tv_nsec);
}

/* ---------- lease owners ---------- */

int store_lease_is_own(store *s, const char *name, const char *owner)
{
	_cleanup_close_ int dfd = -1;
	const char *base;
	int r = open_parent(s, name, 0, &dfd, &base);
	if (r == -ENOENT || r == -ENOTDIR)
		return 1; /* no locks/ yet: no lease, nobody's */
	if (r < 0)
		return r;
	struct stat st;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 1 : -errno;
	char oname[BACKEND_NAME_MAX + 16];
	snprintf(oname, sizeof(oname), OWNER_PREFIX "%s", base);
	buf _cleanup_(buf_releasep) b = BUF_INIT;
	r = fsio_read_file(dfd, oname, &b, OWNER_MAX);
	if (r == -ENOENT || r == -EFBIG)
		return 0; /* made by someone the server did not record */
	if (r < 0)
		return r;
	return b.len == strlen(owner) && memcmp(b.data, owner, b.len) == 0;
}

/* ---------- uploads ---------- */

struct store_upload {
	int dfd, fd, scratch;
	uint64_t size;
	char name[BACKEND_NAME_MAX + 1];
	const char *base; /* in name */
	char tmp[FSIO_TMP_MAX];
};

int store_upload_begin(store_upload **out, store *s, const char *name)
{
	store_upload *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->fd = -1;
	u->scratch = s->scratch;
	snprintf(u->name, sizeof(u->name), "%s", name);
	const char *base;
	int r = open_parent(s, u->name, 1, &u->dfd, &base);
	if (r < 0) {
		free(u);
		return r;
	}
	u->base = base;
	if ((u->fd = fsio_tmp_open(u->dfd, u->base, u->tmp)) < 0) {
		r = u->fd;
		close(u->dfd);
		free(u);
		return r;
	}
	*out = u;
	return 0;
}

int store_upload_write(store_upload *u, const void *p, size_t n)
{
	int r = fsio_write_all(u->fd, p, n);
	if (r == 0)
		u->size += n;
	return r;
}

uint64_t store_upload_size(const store_upload *u)
{
	return u->size;
}

int store_upload_commit(store_upload *u, unsigned flags, const char *owner)
{
	if (u->fd < 0)
		return -EBADF;
	if (u->size > SIZE_MAX / 2)
		return -EFBIG;
	int r = 0;
	void *m = NULL;
	if (u->size) {
		m = mmap(NULL, (size_t)u->size, PROT_READ, MAP_PRIVATE, u->fd, 0);
		if (m == MAP_FAILED)
			return -errno;
	}
	r = u->scratch ? 0 : layout_check(u->name, m ? m : "", (size_t)u->size);
	if (m)
		munmap(m, (size_t)u->size);
	if (r == 0 && owner) {
		char oname[BACKEND_NAME_MAX + 16];
		snprintf(oname, sizeof(oname), OWNER_PREFIX "%s", u->base);
		r = fsio_write_replace(u->dfd, oname, owner, strlen(owner), FSIO_DURABLE);
	}
	if (r < 0)
		return r;
	unsigned f = FSIO_DURABLE | ((flags & STORE_REPLACE) ? 0 : FSIO_NOREPLACE);
	r = fsio_tmp_commit(u->dfd, u->fd, u->tmp, u->base, f);
	u->fd = -1; /* closed (and on failure removed) by fsio_tmp_commit */
	return r;
}

void store_upload_free(store_upload *u)
{
	if (!u)
		return;
	if (u->fd >= 0) {
		close(u->fd);
		unlinkat(u->dfd, u->tmp, 0);
	}
	close(u->dfd);
	free(u);
}

/* ---------- listing ---------- */

/* a name of 255 bytes has at most 128 components: any depth a name can have */
#define WALK_DEPTH (BACKEND_NAME_MAX / 2 + 1)

struct store_walk {
	DIR *d[WALK_DEPTH];
	size_t len[WALK_DEPTH]; /* name length at each level */
	int depth;
	int locks;              /* listing locks/: owner records of gone leases are swept */
	char name[BACKEND_NAME_MAX + 1];
};

int store_walk_begin(store_walk **out, store *s, const char *dir)
{
	store_walk *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	size_t n = strlen(dir);
	memcpy(w->name, dir, n + 1);
	w->locks = strcmp(dir, "locks") == 0;
	int fd = open_beneath(s->dirfd, dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd == -ENOENT || fd == -ENOTDIR) {
		*out = w; /* lists nothing */
		return 0;
	}
	if (fd < 0 || !(w->d[0] = fdopendir(fd))) {
		int r = fd < 0 ? fd : -errno;
		if (fd >= 0)
			close(fd);
		free(w);
		return r;
	}
	w->len[0] = n;
	w->depth = 1;
	*out = w;
	return 0;
}

/* A lease's owner record whose lease is gone (removed by a local prune) */
static void sweep_owner(DIR *d, const char *entry)
{
	struct stat st;
	if (strncmp(entry, OWNER_PREFIX, strlen(OWNER_PREFIX)) == 0 &&
	    fstatat(dirfd(d), entry + strlen(OWNER_PREFIX), &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT)
		unlinkat(dirfd(d), entry, 0);
}

/*
 * The temporary file of an upload whose server process is gone (killed in
 * the middle of it: a finished or aborted upload removes its own).  Only
 * this machine's processes write into the data directory, so a process id
 * that is not running means the upload can never finish, whatever the
 * file's age (fsio_tmp_leftover without one; a local repository, which
 * other hosts may share, waits a day: backend/local.c).  A live one (or
 * one of another user: EPERM) keeps its file.
 */
static void sweep_upload(DIR *d, const char *entry)
{
	struct stat st;
	if (fsio_tmp_leftover(dirfd(d), entry, 0, 0, &st) == 1)
		unlinkat(dirfd(d), entry, 0);
}

int store_walk_next(store_walk *w, const char **name, uint64_t *size)
{
	while (w->depth > 0) {
		DIR *d = w->d[w->depth - 1];
		size_t len = w->len[w->depth - 1];
		errno = 0;
		struct dirent *e = readdir(d);
		if (!e) {
			int r = errno ? -errno : 0;
			closedir(d);
			w->d[--w->depth] = NULL;
			if (r < 0)
				return r;
			continue;
		}
		size_t nl = strlen(e->d_name);
		if (e->d_name[0] == '.') {
			if (w->locks && w->depth == 1)
				sweep_owner(d, e->d_name);
			sweep_upload(d, e->d_name);
			continue;
		}
		if (!backend_name_is_valid(e->d_name) || len + 1 + nl > BACKEND_NAME_MAX)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue; /* removed since readdir */
			return -errno;
		}
		w->name[len] = '/';
		memcpy(w->name + len + 1, e->d_name, nl + 1);
		if (S_ISREG(st.st_mode)) {
			*name = w->name;
			*size = (uint64_t)st.st_size;
			return 1;
		}
		if (S_ISDIR(st.st_mode) && w->depth < WALK_DEPTH) {
			int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			DIR *sub = fd < 0 ? NULL : fdopendir(fd);
			if (!sub) {
				if (fd >= 0)
					close(fd);
				if (errno == ENOENT)
					continue;
				return -errno;
			}
			w->d[w->depth] = sub;
			w->len[w->depth++] = len + 1 + nl;
		}
		/* symbolic links and other things are not files of ours */
	}
	return 0;
}

void store_walk_free(store_walk *w)
{
	if (!w)
		return;
	for (int i = 0; i < w->depth; i++)
		closedir(w->d[i]);
	free(w);
}
