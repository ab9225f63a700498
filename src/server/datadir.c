/* SPDX-License-Identifier: BSD-2-Clause */
#include "datadir.h"
#include "token.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/fsio.h"
#include "../base/strlist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct datadir {
	char *path;
	int fd, repos_fd;
	sql_db *db;
	pthread_mutex_t lock;
};

void datadir_close(datadir *d)
{
	if (!d)
		return;
	sql_close(d->db);
	if (d->fd >= 0)
		close(d->fd);
	if (d->repos_fd >= 0)
		close(d->repos_fd);
	pthread_mutex_destroy(&d->lock);
	free(d->path);
	free(d);
}

int datadir_open(datadir **out, const char *path, int create)
{
	datadir *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->fd = d->repos_fd = -1;
	pthread_mutex_init(&d->lock, NULL);
	if (!(d->path = strdup(path))) {
		datadir_close(d);
		return -ENOMEM;
	}
	int rc = 0;
	if (create && (rc = fsio_mkdirs(AT_FDCWD, path, 1)) < 0)
		rc = err_sys(rc, "cannot create the server's data directory '%s'", path);
	if (rc == 0 && (d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		rc = err_sys(-errno, "cannot open the server's data directory '%s'", path);
	if (rc == 0 && create) {
		fchmod(d->fd, 0700);
		rc = fsio_mkdir(d->fd, "repos", 0700);
		rc = rc ?: fsio_mkdir(d->fd, "tls", 0700);
		if (rc < 0)
			rc = err_sys(rc, "cannot create the parts of '%s'", path);
	}
	struct stat st;
	if (rc == 0 && !create && fstatat(d->fd, "server.db", &st, 0) < 0)
		rc = err_set(-ENOENT, "'%s' is not a dvalin server's data directory (no server.db): run 'dvalin server init --data %s' first",
			     path, path);
	if (rc == 0 && (d->repos_fd = openat(d->fd, "repos", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		rc = err_sys(-errno, "cannot open '%s/repos'", path);
	char db[PATH_MAX];
	if (rc == 0 && (size_t)snprintf(db, sizeof(db), "%s/server.db", path) >= sizeof(db))
		rc = -ENAMETOOLONG;
	rc = rc ?: sql_open(&d->db, db, "server state");
	rc = rc ?: sql_exec(d->db, "PRAGMA journal_mode=WAL;", "cannot use write-ahead logging");
	rc = rc ?: token_schema(d->db);
	if (rc == 0 && create)
		chmod(db, 0600);
	if (rc < 0) {
		datadir_close(d);
		return rc;
	}
	*out = d;
	return 0;
}

const char *datadir_path(const datadir *d)
{
	return d->path;
}

int datadir_fd(const datadir *d)
{
	return d->fd;
}

int datadir_tls_paths(const datadir *d, char *cert, char *key, size_t cap)
{
	if ((size_t)snprintf(cert, cap, "%s/tls/cert.pem", d->path) >= cap ||
	    (size_t)snprintf(key, cap, "%s/tls/key.pem", d->path) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

int datadir_repo_add(datadir *d, const char *name, int scratch)
{
	if (!token_name_is_valid(name))
		return err_set(-EINVAL, "invalid repository name '%s' (1 to %d of A-Z a-z 0-9 _ . -, not starting with . or -)",
			       name, TOKEN_NAME_MAX);
	if (mkdirat(d->repos_fd, name, 0700) < 0)
		return errno == EEXIST ? err_set(-EEXIST, "repository '%s' exists already", name)
				       : err_sys(-errno, "cannot create repository '%s' in '%s/repos'", name, d->path);
	if (scratch) {
		int fd = openat(d->repos_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int rc = fd < 0 ? -errno : fsio_write_atomic(fd, STORE_SCRATCH_MARK, "", 0);
		if (fd >= 0)
			close(fd);
		if (rc < 0)
			return err_sys(rc, "cannot mark repository '%s' as scratch", name);
	}
	return fsync(d->repos_fd) < 0 ? err_sys(-errno, "cannot sync '%s/repos'", d->path) : 0;
}

int datadir_repo_open(datadir *d, const char *name, store **out)
{
	if (!token_name_is_valid(name))
		return -ENOENT;
	int rc = store_open_at(out, d->repos_fd, name);
	return rc == -ENOTDIR ? -ENOENT : rc;
}

int datadir_repo_path(const datadir *d, const char *name, char *out, size_t cap)
{
	return (size_t)snprintf(out, cap, "%s/repos/%s", d->path, name) >= cap ? -ENAMETOOLONG : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int datadir_repo_list(datadir *d, datadir_repo_fn fn, void *ud)
{
	int fd = dup(d->repos_fd);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return err_sys(-errno, "cannot list '%s/repos'", d->path);
	}
	rewinddir(dir);
	char **names = NULL;
	size_t n = 0;
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(dir))) {
		struct stat st;
		if (token_name_is_valid(e->d_name) &&
		    fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
			rc = strlist_add(&names, &n, e->d_name);
	}
	closedir(dir);
	if (rc == 0 && n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = fn(ud, names[i]);
	strlist_free(names, n);
	return rc;
}

sql_db *datadir_db(datadir *d)
{
	return d->db;
}

void datadir_lock(datadir *d)
{
	pthread_mutex_lock(&d->lock);
}

void datadir_unlock(datadir *d)
{
	pthread_mutex_unlock(&d->lock);
}
