/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cachedir: the tag that marks, locks and dates a cache directory, and
 * listing and removing caches (cachedir.h says the rules).  Everything
 * below the root is reached through directory descriptors opened with
 * O_NOFOLLOW, so no symlink in the root or in a cache leads elsewhere.
 */
#include "cachedir.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/fsio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Cache Directory Tagging Specification 1.0: the first line of every tag. */
static const char signature[] = "Signature: 8a477f597d28d172789f06886806bc55\n";
static const char version_key[] = "# dvalin-cache: ";
static const char location_key[] = "# location: ";

#define TAG_MAX 4096      /* a tag is a few lines; a longer file is not dvalin's */
#define LOCATION_MAX 2048 /* a recorded location is cut there */
#define SIZE_DEPTH_MAX 16 /* a cache is index/, snapshots/, data/xx/: deeper is not dvalin's */
#define OPEN_ATTEMPTS 8   /* a cache removed this often while being opened is given up */

/* The tag for location, into out (TAG_MAX): its length.  Control bytes become '?'. */
static size_t tag_text(char *out, const char *location)
{
	int n = snprintf(out, TAG_MAX,
			 "%s# This directory is a cache of dvalin, the backup tool; it may be removed\n"
			 "# (`dvalin cache --remove ID`) and is made again when needed.\n%s%d\n%s",
			 signature, version_key, CACHEDIR_VERSION, location_key);
	size_t at = (size_t)n;
	for (const char *p = location; *p && at < (size_t)n + LOCATION_MAX; p++)
		out[at++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
	out[at++] = '\n';
	out[at] = 0;
	return at;
}

/*
 * Reads the tag open as fd: 1 when it is dvalin's (its location, if any,
 * in *location, malloc'd), 0 when it is not.
 */
static int tag_read(int fd, char **location)
{
	char t[TAG_MAX + 1];
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > TAG_MAX)
		return 0;
	ssize_t n = pread(fd, t, TAG_MAX, 0);
	if (n < (ssize_t)sizeof(signature) - 1 || memcmp(t, signature, sizeof(signature) - 1) != 0)
		return 0;
	t[n] = 0;
	int ours = 0;
	for (char *line = t, *next; *line; line = next) {
		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = 0;
		if (strncmp(line, version_key, sizeof(version_key) - 1) == 0)
			ours = strtol(line + sizeof(version_key) - 1, NULL, 10) >= 1;
		else if (location && !*location && strncmp(line, location_key, sizeof(location_key) - 1) == 0 &&
			 line[sizeof(location_key) - 1])
			*location = strdup(line + sizeof(location_key) - 1);
	}
	return ours;
}

/* Writes the tag for location into fd unless it holds exactly that (writes may fail: read-only). */
static void tag_write(int fd, const char *location)
{
	char want[TAG_MAX + LOCATION_MAX + 2], have[sizeof(want)];
	size_t n = tag_text(want, location);
	ssize_t got = pread(fd, have, sizeof(have), 0);
	if (got == (ssize_t)n && memcmp(have, want, n) == 0)
		return;
	/* in place, not renamed: the lock is on this inode */
	if (ftruncate(fd, 0) == 0)
		fsio_pwrite_all(fd, want, n, 0);
}

/* flock that retries on a signal: 0 or -errno. */
static int lock(int fd, int how)
{
	while (flock(fd, how) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/*
 * Opens, writes when it may and share-locks the tag of the cache open as
 * dfd: the tag's descriptor, or -1 (no usable tag: the cache is used
 * unlocked).  Only a process holding the lock exclusively writes the
 * tag, so no reader ever sees it half written.
 */
static int tag_claim(int dfd, const char *location)
{
	int fd = openat(dfd, CACHEDIR_TAG, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		fd = openat(dfd, CACHEDIR_TAG, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		return -1;
	}
	if (fd < 0)
		return -1;
	if (lock(fd, LOCK_EX | LOCK_NB) == 0) {
		tag_write(fd, location);
		lock(fd, LOCK_SH); /* not atomic: a removal may come between; the caller checks */
	} else if (errno == EWOULDBLOCK) {
		lock(fd, LOCK_SH); /* others use it, or it is being removed: wait that out */
	}
	futimens(fd, NULL);
	return fd;
}

/* 1 when the tag locked as lk is still the tag of dir, open as dfd (no removal came between). */
static int still_there(const char *dir, int dfd, int lk)
{
	struct stat a, b, t;
	return fstat(lk, &t) == 0 && t.st_nlink > 0 && fstat(dfd, &a) == 0 && stat(dir, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int cachedir_open(const char *dir, const char *location, int *dirfd, int *lockfd)
{
	for (int attempt = 0; attempt < OPEN_ATTEMPTS; attempt++) {
		int r = fsio_mkdirs(AT_FDCWD, dir, 0);
		int dfd = r < 0 ? r : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return err_sys(dfd == -1 ? -errno : dfd, "cannot open the cache directory '%s'", dir);
		int lk = tag_claim(dfd, location);
		if (lk < 0 || still_there(dir, dfd, lk)) {
			*dirfd = dfd;
			*lockfd = lk;
			return 0;
		}
		close(lk);
		close(dfd);
	}
	return err_set(-EAGAIN, "cannot open the cache directory '%s': it keeps being removed", dir);
}

void cachedir_close(int dirfd, int lockfd)
{
	if (lockfd >= 0) {
		futimens(lockfd, NULL);
		close(lockfd);
	}
	if (dirfd >= 0)
		close(dirfd);
}

/* ---------- listing ---------- */

/* Bytes of the regular files below the directory fd (consumed), at most depth levels down. */
static uint64_t tree_size(int fd, int depth)
{
	DIR *d _cleanup_(closedirp) = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	uint64_t sum = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		uint64_t add = 0;
		if (S_ISREG(st.st_mode)) {
			add = (uint64_t)st.st_size;
		} else if (S_ISDIR(st.st_mode) && depth > 0) {
			int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				add = tree_size(sub, depth - 1);
		}
		sum = add > UINT64_MAX - sum ? UINT64_MAX : sum + add;
	}
	return sum;
}

static const char no_tag[] = "it has no CACHEDIR.TAG written by dvalin";

/* 1 when name is 64 lowercase hex digits: a repository id. */
static int is_id(const char *name)
{
	size_t n = strspn(name, "0123456789abcdef");
	return n == 64 && !name[n];
}

/*
 * The cache directory name below rootfd: 1 and *dfd, *tag (open, the
 * tag dvalin's; location read into e->location) when it is one, 0 when
 * it is not (why in *why), < 0 on an error of the root.
 */
static int open_cache(int rootfd, const char *name, int *dfd, int *tag, char **location,
		      const char **why)
{
	struct stat st;
	if (fstatat(rootfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	*why = S_ISLNK(st.st_mode) ? "it is a symbolic link (not followed)" : "it is not a directory";
	if (!S_ISDIR(st.st_mode))
		return 0;
	*why = no_tag;
	*dfd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*dfd < 0)
		return errno == ENOENT ? -ENOENT : 0;
	*tag = openat(*dfd, CACHEDIR_TAG, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (*tag >= 0 && tag_read(*tag, location))
		return 1;
	if (*tag >= 0)
		close(*tag);
	close(*dfd);
	return 0;
}

/* 1 when some process holds the tag's lock, else 0 (the lock is taken and dropped at once). */
static int held(int tag)
{
	if (lock(tag, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK;
	flock(tag, LOCK_UN);
	return 0;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const cachedir_entry *)a)->id, ((const cachedir_entry *)b)->id);
}

/* Reads the cache name of rootfd into a new entry of l; 0 when it is not one (counted), or < 0. */
static int list_one(cachedir_list *l, size_t *cap, int rootfd, const char *name, int with_size)
{
	int dfd, tag;
	char *loc = NULL;
	const char *why;
	int r = open_cache(rootfd, name, &dfd, &tag, &loc, &why);
	if (r == 0 && why == no_tag && is_id(name))
		l->untagged++;
	else if (r == 0)
		l->others++;
	if (r <= 0) {
		return r == -ENOENT ? 0 : r; /* gone while listed: nothing to show */
	}
	struct stat st;
	cachedir_entry e = { .location = loc, .id = strdup(name) };
	if (!e.id) {
		free(loc);
		close(tag);
		close(dfd);
		return -ENOMEM;
	}
	if (fstat(tag, &st) == 0)
		e.last_used = st.st_mtim.tv_sec;
	e.in_use = held(tag);
	close(tag);
	if (with_size) {
		e.sized = 1;
		e.size = tree_size(dfd, SIZE_DEPTH_MAX);
	} else {
		close(dfd);
	}
	if (l->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		cachedir_entry *nv = realloc(l->v, nc * sizeof(*nv));
		if (!nv) {
			free(e.id);
			free(e.location);
			return -ENOMEM;
		}
		l->v = nv;
		*cap = nc;
	}
	l->v[l->n++] = e;
	return 0;
}

int cachedir_list_read(cachedir_list *out, const char *root, int with_size)
{
	*out = (cachedir_list){ 0 };
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0 && errno == ENOENT)
		return 0;
	DIR *d _cleanup_(closedirp) = rootfd < 0 ? NULL : fdopendir(rootfd);
	if (!d) {
		int r = err_sys(-errno, "cannot read the cache directory '%s'", root);
		if (rootfd >= 0)
			close(rootfd);
		return r;
	}
	size_t cap = 0;
	struct dirent *e;
	int r = 0;
	while (r == 0 && (e = readdir(d)))
		if (e->d_name[0] != '.') /* temporaries, and what a user hid */
			r = list_one(out, &cap, dirfd(d), e->d_name, with_size);
	if (r < 0) {
		cachedir_list_release(out);
		return err_sys(r, "cannot read the cache directory '%s'", root);
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), by_id);
	return 0;
}

void cachedir_list_release(cachedir_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].id);
		free(l->v[i].location);
	}
	free(l->v);
	*l = (cachedir_list){ 0 };
}

/* ---------- removing ---------- */

/* Removes everything in the directory dfd but its tag: 0 or -errno. */
static int remove_contents(int dfd)
{
	int fd = dup(dfd);
	DIR *d _cleanup_(closedirp) = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	struct dirent *e;
	int r = 0;
	while (r == 0 && (e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    strcmp(e->d_name, CACHEDIR_TAG) != 0)
			r = fsio_remove_tree(dfd, e->d_name);
	return r;
}

/*
 * Removes the cache open as dfd (named id in rootfd) whose tag is held
 * exclusively as tag: its contents, then the tag (so a removal cut short
 * leaves a cache that is still tagged, and removed next time), then the
 * directory.
 */
static int remove_locked(int rootfd, const char *root, const char *id, int dfd, int tag)
{
	struct stat a, b, t;
	if (fstat(tag, &t) < 0 || t.st_nlink == 0 || fstat(dfd, &a) < 0 ||
	    fstatat(rootfd, id, &b, AT_SYMLINK_NOFOLLOW) < 0 || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino)
		return 0; /* another removal was first */
	int r = remove_contents(dfd);
	if (r == 0 && unlinkat(dfd, CACHEDIR_TAG, 0) < 0 && errno != ENOENT)
		r = -errno;
	if (r == 0 && unlinkat(rootfd, id, AT_REMOVEDIR) < 0) {
		if (errno == ENOTEMPTY || errno == EEXIST)
			return err_set(-EBUSY, "cache '%s' in '%s' was taken into use while it was removed",
				       id, root);
		r = -errno;
	}
	return r < 0 ? err_sys(r, "cannot remove the cache '%s/%s'", root, id) : 0;
}

int cachedir_remove(const char *root, const char *id)
{
	if (!id[0] || id[0] == '.' || strchr(id, '/'))
		return err_set(-DV_EUSAGE, "'%s' cannot name a cache: it is a name in '%s'", id, root);
	int rootfd _cleanup_close_ = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0 && errno == ENOENT)
		return err_set(-DV_ENOTFOUND, "no cache '%s': the cache directory '%s' does not exist", id,
			       root);
	if (rootfd < 0)
		return err_sys(-errno, "cannot open the cache directory '%s'", root);
	int dfd, tag;
	const char *why;
	int r = open_cache(rootfd, id, &dfd, &tag, NULL, &why);
	if (r == -ENOENT)
		return err_set(-DV_ENOTFOUND, "no dvalin cache '%s' (nor one whose id starts so) in '%s'",
			       id, root);
	if (r < 0)
		return err_sys(r, "cannot read '%s/%s'", root, id);
	if (r == 0)
		return err_set(-DV_EFORMAT, "'%s/%s' is not a dvalin cache: %s; not removed", root, id, why);
	if (lock(tag, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK
			    ? err_set(-EBUSY, "cache '%s' is in use by another dvalin process", id)
			    : err_sys(-errno, "cannot lock the cache '%s/%s': not removed", root, id);
	} else {
		r = remove_locked(rootfd, root, id, dfd, tag);
	}
	close(tag);
	close(dfd);
	return r;
}

int cachedir_is_old(int64_t last_used, int64_t now, uint32_t max_age_days)
{
	if (max_age_days > CACHEDIR_MAX_AGE_DAYS)
		max_age_days = CACHEDIR_MAX_AGE_DAYS;
	/* a tag dated in the future (clock skew, a copied cache) is not old */
	return last_used < now - (int64_t)max_age_days * 86400;
}
