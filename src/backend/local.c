/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * local: a repository in a directory of the local file system.
 *
 * Files are written through fsio_write_atomic (temp name, fsync, rename,
 * fsync of the directory).  get() maps the file read-only, so index files
 * are read through mmap as the format intends and cost no heap.
 */
#include "backend.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/fsio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
	backend base;
	int dirfd;
} local_backend;

static local_backend *L(backend *b)
{
	return (local_backend *)b;
}

static const char *const subdirs[] = { "data", "index", "snapshots", "keys", "locks", "gc",
					"protected" };

static int is_subdir(const char *dir)
{
	for (size_t i = 0; i < ARRAY_SIZE(subdirs); i++)
		if (strcmp(dir, subdirs[i]) == 0)
			return 1;
	return 0;
}

/* Splits "dir/sub/name" into an opened parent dirfd and the last component. */
static int open_parent(local_backend *lb, const char *name, int *out_fd, const char **out_base)
{
	const char *slash = strrchr(name, '/');
	if (!slash) {
		*out_fd = dup(lb->dirfd);
		*out_base = name;
		return *out_fd < 0 ? -errno : 0;
	}
	char dir[256];
	size_t n = (size_t)(slash - name);
	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, name, n);
	dir[n] = 0;
	int fd = openat(lb->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && (strncmp(dir, "data/", 5) == 0 || is_subdir(dir))) {
		/* Pack fan-out directories (and directories newer than the
		 * repository) are created on demand. */
		if (mkdirat(lb->dirfd, dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		fd = openat(lb->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	*out_fd = fd;
	*out_base = slash + 1;
	return 0;
}

static int local_put(backend *b, const char *name, const void *p, size_t n)
{
	_cleanup_close_ int dfd = -1;
	const char *base;
	int r = open_parent(L(b), name, &dfd, &base);
	if (r == 0)
		r = fsio_write_atomic(dfd, base, p, n);
	if (r < 0)
		return err_sys(r, "cannot write '%s/%s'", b->location, name);
	return 0;
}

static void unmap(void *priv, const uint8_t *data, size_t len)
{
	(void)priv;
	if (len)
		munmap((void *)data, len);
}

static int local_get(backend *b, const char *name, bytes *out)
{
	_cleanup_close_ int fd = openat(L(b)->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(-errno, "cannot open '%s/%s'", b->location, name);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return err_sys(-errno, "cannot stat '%s/%s'", b->location, name);
	out->len = (size_t)st.st_size;
	out->release = unmap;
	out->priv = NULL;
	if (st.st_size == 0) {
		out->data = (const uint8_t *)"";
		return 0;
	}
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return err_sys(-errno, "cannot map '%s/%s'", b->location, name);
	out->data = m;
	out->file_mapped = 1;
	return 0;
}

static int local_get_range(backend *b, const char *name, uint64_t off, void *p, size_t n)
{
	_cleanup_close_ int fd = openat(L(b)->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(-errno, "cannot open '%s/%s'", b->location, name);
	int r = fsio_pread_exact(fd, p, n, (off_t)off);
	if (r == -ENODATA)
		return err_set(r, "cannot read '%s/%s': file is truncated", b->location, name);
	if (r < 0)
		return err_sys(r, "cannot read '%s/%s'", b->location, name);
	return 0;
}

struct backend_file {
	int fd;
	char name[96];
	const char *location;
};

static int local_open_read(backend *b, const char *name, backend_file **out)
{
	backend_file *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->fd = openat(L(b)->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		int rc = -errno;
		free(f);
		return err_sys(rc, "cannot open '%s/%s'", b->location, name);
	}
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->location = b->location;
	*out = f;
	return 0;
}

static int local_file_read(backend_file *f, uint64_t off, void *p, size_t n)
{
	int r = fsio_pread_exact(f->fd, p, n, (off_t)off);
	if (r == -ENODATA)
		return err_set(r, "cannot read '%s/%s': file is truncated", f->location, f->name);
	if (r < 0)
		return err_sys(r, "cannot read '%s/%s'", f->location, f->name);
	return 0;
}

static void local_file_close(backend_file *f)
{
	close(f->fd);
	free(f);
}

static int local_stat(backend *b, const char *name, backend_stat_t *out)
{
	struct stat st;
	if (fstatat(L(b)->dirfd, name, &st, 0) < 0)
		return err_sys(-errno, "cannot stat '%s/%s'", b->location, name);
	out->size = (uint64_t)st.st_size;
	out->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	return 0;
}

static int list_dir(local_backend *lb, const char *dir, backend_list_fn fn, void *ud)
{
	int fd = openat(lb->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return err_sys(-errno, "cannot open '%s/%s'", lb->base.location, dir);
	}
	DIR *d _cleanup_(closedirp) = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *e;
	char name[512];
	while ((errno = 0, e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(name, sizeof(name), "%s/%s", dir, e->d_name) >= sizeof(name))
			continue;
		int r = fn(ud, name);
		if (r)
			return r;
	}
	return errno ? -errno : 0;
}

static int list_data_sub(void *ud, const char *name)
{
	void **a = ud;
	return list_dir(a[0], name, (backend_list_fn)a[1], a[2]);
}

static int local_list(backend *b, const char *dir, backend_list_fn fn, void *ud)
{
	if (strcmp(dir, "data") == 0) {
		void *a[3] = { L(b), (void *)fn, ud };
		return list_dir(L(b), "data", list_data_sub, a);
	}
	return list_dir(L(b), dir, fn, ud);
}

static int local_remove(backend *b, const char *name)
{
	if (unlinkat(L(b)->dirfd, name, 0) < 0)
		return err_sys(-errno, "cannot remove '%s/%s'", b->location, name);
	return 0;
}

static void local_free(backend *b)
{
	if (L(b)->dirfd >= 0)
		close(L(b)->dirfd);
	free(b->location);
	free(b);
}

static const struct backend_ops local_ops = {
	local_put, local_get, local_get_range, local_stat, local_list, local_remove,
	local_open_read, local_file_read, local_file_close, local_free,
};

int local_backend_open(backend **out, const char *path, int create)
{
	if (create && mkdir(path, 0700) < 0 && errno != EEXIST)
		return err_sys(-errno, "cannot create repository directory '%s'", path);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(-errno, "cannot open repository '%s'", path);
	for (size_t i = 0; create && i < ARRAY_SIZE(subdirs); i++) {
		int r = fsio_mkdir(fd, subdirs[i], 0700);
		if (r < 0) {
			close(fd);
			return err_sys(r, "cannot create '%s/%s'", path, subdirs[i]);
		}
	}
	local_backend *lb = calloc(1, sizeof(*lb));
	char *loc = strdup(path);
	if (!lb || !loc) {
		free(lb);
		free(loc);
		close(fd);
		return -ENOMEM;
	}
	lb->base.ops = &local_ops;
	lb->base.location = loc;
	lb->dirfd = fd;
	*out = &lb->base;
	return 0;
}
