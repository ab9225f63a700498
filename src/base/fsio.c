/* SPDX-License-Identifier: BSD-2-Clause */
#include "fsio.h"
#include "cleanup.h"

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
