/* SPDX-License-Identifier: BSD-2-Clause */
#include "fsio.h"
#include "cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdlib.h>
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

int fsio_tmp_open(int dirfd, const char *name, char tmp[FSIO_TMP_MAX])
{
	/* one counter for the process: two threads writing the same name at
	 * once must not pick the same temporary name */
	static _Atomic unsigned counter;
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	size_t dl = (size_t)(base - name);
	int n = snprintf(tmp, FSIO_TMP_MAX, "%.*s.tmp-%d-%u-%s", (int)dl, name, (int)getpid(),
			 counter++, base);
	if (n < 0 || n >= FSIO_TMP_MAX)
		return -ENAMETOOLONG;
	int fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
	return fd < 0 ? -errno : fd;
}

long fsio_tmp_pid(const char *base)
{
	if (strncmp(base, ".tmp-", 5) != 0 || base[5] < '1' || base[5] > '9')
		return -1;
	char *end;
	errno = 0;
	long pid = strtol(base + 5, &end, 10);
	if (errno || *end != '-' || pid <= 0 || pid > INT_MAX)
		return -1;
	return pid;
}

int fsio_tmp_leftover(int dirfd, const char *base, int64_t min_age_s, int64_t now_s,
		      struct stat *st)
{
	long pid = fsio_tmp_pid(base);
	if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
		return 0;
	if (fstatat(dirfd, base, st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st->st_mode))
		return 0;
	/* a file modified in the future (another host's clock) is young */
	return min_age_s <= 0 || (st->st_mtim.tv_sec <= now_s && now_s - st->st_mtim.tv_sec >= min_age_s);
}

/* fsyncs the directory that holds name (below dirfd) */
static int sync_parent(int dirfd, const char *name)
{
	const char *slash = strrchr(name, '/');
	if (!slash)
		return fsync(dirfd) < 0 ? -errno : 0;
	char dir[PATH_MAX];
	if ((size_t)(slash - name) >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, name, (size_t)(slash - name));
	dir[slash - name] = 0;
	_cleanup_close_ int fd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 || fsync(fd) < 0 ? -errno : 0;
}

int fsio_tmp_commit(int dirfd, int fd, const char *tmp, const char *name, unsigned flags)
{
	int r = 0;
	if ((flags & FSIO_DURABLE) && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && (flags & FSIO_NOREPLACE) &&
	    renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE) < 0)
		r = -errno;
	else if (r == 0 && !(flags & FSIO_NOREPLACE) && renameat(dirfd, tmp, dirfd, name) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	return flags & FSIO_DURABLE ? sync_parent(dirfd, name) : 0;
}

/*
 * O_DIRECT asks offsets, lengths and memory to be aligned to the device's
 * logical block: 4096 covers 512-byte and 4 KiB ones.  Below DIRECT_MIN a
 * file goes through the page cache as usual (a bounce copy and a device
 * round trip cost more than they save).
 */
#define DIRECT_ALIGN ((size_t)4096)
#define DIRECT_MIN ((size_t)1 << 20)
#define DIRECT_BOUNCE ((size_t)4 << 20)

/* Writes all of q[0, n) at off with O_DIRECT set, through bounce when given. */
static int write_direct(int fd, const uint8_t *q, size_t n, void *bounce, size_t *done)
{
	while (*done < n) {
		size_t len = n - *done;
		const void *src = q + *done;
		if (bounce) {
			len = len < DIRECT_BOUNCE ? len : DIRECT_BOUNCE;
			memcpy(bounce, src, len);
			src = bounce;
		}
		ssize_t w = pwrite(fd, src, len, (off_t)*done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		*done += (size_t)w;
	}
	return 0;
}

int fsio_write_bulk(int fd, const void *p, size_t n)
{
	const uint8_t *q = p;
	size_t bulk = n & ~(DIRECT_ALIGN - 1), done = 0;
	int fl = fcntl(fd, F_GETFL);
	/* a file system without O_DIRECT refuses the flag (tmpfs before
	 * Linux 6.6, some FUSE ones): the page cache then, as for any write */
	if (bulk < DIRECT_MIN || fl < 0 || fcntl(fd, F_SETFL, fl | O_DIRECT) < 0)
		return fsio_write_all(fd, p, n);
	void *bounce = NULL;
	int r = 0;
	if (((uintptr_t)q & (DIRECT_ALIGN - 1)) && posix_memalign(&bounce, DIRECT_ALIGN, DIRECT_BOUNCE) != 0)
		r = -ENOMEM;
	r = r ?: write_direct(fd, q, bulk, bounce, &done);
	free(bounce);
	if (fcntl(fd, F_SETFL, fl) < 0)
		return -errno;
	/* refused half-way (alignment the device wants larger, a short
	 * write): the rest through the page cache, like the tail */
	if (r == -EINVAL || r == -ENOMEM)
		r = 0;
	return r ?: fsio_pwrite_all(fd, q + done, n - done, (off_t)done);
}

int fsio_write_replace(int dirfd, const char *name, const void *p, size_t n, unsigned flags)
{
	char tmp[FSIO_TMP_MAX];
	int fd = fsio_tmp_open(dirfd, name, tmp);
	if (fd < 0)
		return fd;
	int r = flags & FSIO_BULK ? fsio_write_bulk(fd, p, n) : fsio_write_all(fd, p, n);
	if (r < 0) {
		close(fd);
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	return fsio_tmp_commit(dirfd, fd, tmp, name, flags);
}

int fsio_write_atomic(int dirfd, const char *name, const void *p, size_t n)
{
	return fsio_write_replace(dirfd, name, p, n, FSIO_DURABLE);
}

int fsio_mkdirs(int dirfd, const char *path, int durable)
{
	char path_buf[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(path_buf))
		return -ENAMETOOLONG;
	memcpy(path_buf, path, n + 1);
	for (char *p = path_buf;; p++) {
		if (*p != '/' && *p != 0)
			continue;
		char c = *p;
		*p = 0;
		if (p == path_buf) {
			/* a leading slash: nothing to make */
		} else if (mkdirat(dirfd, path_buf, 0700) == 0) {
			if (durable) {
				/* make the new entry durable in its parent */
				int r = sync_parent(dirfd, path_buf);
				if (r < 0)
					return r;
			}
		} else if (errno != EEXIST) {
			return -errno;
		}
		*p = c;
		if (!c)
			return 0;
	}
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
