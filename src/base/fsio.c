/* SPDX-License-Identifier: BSD-2-Clause */
#include "fsio.h"
#include "cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

int fsio_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *q = p;
	while (n) {
		ssize_t w = write(fd, q, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

int fsio_pwrite_all(int fd, const void *p, size_t n, off_t off)
{
	const uint8_t *q = p;
	while (n) {
		ssize_t w = pwrite(fd, q, n, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		q += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

int fsio_pread_exact(int fd, void *p, size_t n, off_t off)
{
	uint8_t *q = p;
	while (n) {
		ssize_t r = pread(fd, q, n, off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ENODATA;
		q += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

int fsio_read_file(int dirfd, const char *name, buf *out, size_t max)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size < 0 || (uint64_t)st.st_size > max)
		return -EFBIG;
	out->len = 0;
	int r = buf_reserve(out, (size_t)st.st_size);
	if (r < 0)
		return r;
	r = fsio_pread_exact(fd, out->data, (size_t)st.st_size, 0);
	if (r < 0)
		return r;
	out->len = (size_t)st.st_size;
	return 0;
}

int fsio_write_atomic(int dirfd, const char *name, const void *p, size_t n)
{
	char tmp[512];
	/* one counter for the process: two threads writing the same name at
	 * once must not pick the same temporary name */
	static _Atomic unsigned counter;
	if ((size_t)snprintf(tmp, sizeof(tmp), ".tmp-%d-%u-%s", (int)getpid(), counter++, name) >= sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	if (fd < 0)
		return -errno;
	int r = fsio_write_all(fd, p, n);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	if (fsync(dirfd) < 0)
		return -errno;
	return 0;
}

int fsio_mkdir(int dirfd, const char *name, mode_t mode)
{
	if (mkdirat(dirfd, name, mode) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

int fsio_blockdev_size(int fd, uint64_t *out)
{
	uint64_t size = 0;
	if (ioctl(fd, BLKGETSIZE64, &size) < 0)
		return -errno;
	*out = size;
	return 0;
}

int fsio_mkdir_p(const char *path, mode_t parent_mode, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, parent_mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int fsio_open_parent(int dirfd, const void *rel, size_t len, int nofollow, int *out_fd,
		     char name[256])
{
	const char *p = rel, *end = p + len;
	int fd = -1; /* dirfd itself until a component is opened */
	name[0] = 0;
	while (p < end) {
		while (p < end && *p == '/')
			p++;
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t l = (size_t)((slash ? slash : end) - p);
		const char *next = p + l;
		while (next < end && *next == '/')
			next++;
		if (l == 0)
			break;
		if (l > 255 || memchr(p, 0, l) || (l == 1 && p[0] == '.') ||
		    (l == 2 && p[0] == '.' && p[1] == '.')) {
			if (fd >= 0)
				close(fd);
			return -EINVAL;
		}
		memcpy(name, p, l);
		name[l] = 0;
		if (next == end)
			break; /* the last component: its directory is fd */
		int nfd = openat(fd >= 0 ? fd : dirfd, name,
				 O_RDONLY | O_DIRECTORY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
		int e = errno;
		if (fd >= 0)
			close(fd);
		if (nfd < 0)
			return e == ELOOP ? -ENOTDIR : -e;
		fd = nfd;
		p = next;
	}
	if (!name[0]) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	if (fd < 0 && (fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) < 0)
		return -errno;
	*out_fd = fd;
	return 0;
}

/* Empties the directory fd (taken over); recursion is one level per directory. */
static int remove_contents(int fd)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	int rc = 0;
	struct dirent *de;
	while (rc == 0 && (errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rc = fsio_remove_tree(dirfd(d), de->d_name);
	}
	if (rc == 0 && errno)
		rc = -errno;
	closedir(d);
	return rc;
}

int fsio_remove_tree(int dirfd, const char *name)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && fchmodat(dirfd, name, 0700, 0) == 0)
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if ((st.st_mode & 0700) != 0700)
		fchmod(fd, 0700); /* a read-only directory restored as it was */
	int rc = remove_contents(fd);
	if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		rc = -errno;
	return rc;
}
