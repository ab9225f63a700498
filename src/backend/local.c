/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * local: files in a directory of the local file system, one file per
 * name, '/' in a name a subdirectory.  It knows nothing of what the
 * files are: directories are made when a put needs them, and a listing
 * walks every subdirectory.
 *
 * Files are written through fsio_write_atomic (temporary name starting
 * with '.', fsync, rename, fsync of the directory), packs (BACKEND_DATA)
 * past the page cache where the file system allows (fsio_write_bulk: a
 * pack is written once and read much later); a new directory is
 * fsync'd into its parent, so a crash cannot lose a directory of packs
 * an index already names.  Staged puts (a batch of packs) are the same
 * steps, each taken for the whole batch at once.  get() maps the file read-only, so index
 * files are read through mmap as the format intends and cost no heap.
 * Every operation is a few system calls on descriptors: any number of
 * threads may call them at once.
 */
#include "local.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/fsio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
	backend base;
	int dirfd;
} local_backend;

static local_backend *L(backend *b)
{
	return (local_backend *)b;
}

/* Opens the directory of name (creating it if create): *out_fd and the last component. */
static int open_parent(local_backend *lb, const char *name, int create, int *out_fd,
		       const char **out_base)
{
	const char *slash = strrchr(name, '/');
	if (!slash) {
		*out_fd = dup(lb->dirfd);
		*out_base = name;
		return *out_fd < 0 ? -errno : 0;
	}
	char dir[BACKEND_NAME_MAX + 1];
	size_t n = (size_t)(slash - name);
	memcpy(dir, name, n);
	dir[n] = 0;
	int fd = openat(lb->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		int r = fsio_mkdirs(lb->dirfd, dir, 1);
		if (r < 0)
			return r;
		fd = openat(lb->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	*out_fd = fd;
	*out_base = slash + 1;
	return 0;
}

static int local_put(backend *b, const char *name, backend_hint hint, const void *p, size_t n)
{
	_cleanup_close_ int dfd = -1;
	const char *base;
	int r = open_parent(L(b), name, 1, &dfd, &base);
	/* packs are written once and read much later: past the page cache */
	if (r == 0)
		r = fsio_write_replace(dfd, base, p, n, FSIO_DURABLE | (hint == BACKEND_DATA ? FSIO_BULK : 0));
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

static int local_get(backend *b, const char *name, backend_hint hint, bytes *out)
{
	(void)hint;
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

/* A handle is the descriptor, boxed. */
static int local_open_read(backend *b, const char *name, backend_hint hint, void **out,
			   uint64_t *out_size)
{
	(void)hint;
	int *f = malloc(sizeof(*f));
	if (!f)
		return -ENOMEM;
	*f = openat(L(b)->dirfd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int rc = *f < 0 || (out_size && fstat(*f, &st) < 0) ? -errno : 0;
	if (rc < 0) {
		if (*f >= 0)
			close(*f);
		free(f);
		return err_sys(rc, "cannot open '%s/%s'", b->location, name);
	}
	if (out_size)
		*out_size = (uint64_t)st.st_size;
	*out = f;
	return 0;
}

static int local_file_read(void *f, uint64_t off, void *p, size_t n)
{
	int fd = *(int *)f;
	/* an offset no file can reach is past the end, not an invalid argument */
	if (n > (uint64_t)INT64_MAX || off > (uint64_t)INT64_MAX - n)
		return -ENODATA;
	if (n == 0) { /* reads nothing, but must still be within the file */
		struct stat st;
		return fstat(fd, &st) < 0 ? -errno : off > (uint64_t)st.st_size ? -ENODATA : 0;
	}
	return fsio_pread_exact(fd, p, n, (off_t)off);
}

static void local_file_close(void *f)
{
	close(*(int *)f);
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

struct walk {
	local_backend *lb;
	backend_list_fn fn;
	void *ud;
	int stopped; /* fn returned non-zero: its code and message stand */
	int leftovers; /* 0: list files; 1: temporaries that are leftovers; 2: and remove them */
	int64_t now_s;
	char name[BACKEND_NAME_MAX + 1 + FSIO_TMP_MAX]; /* the directory being read, then the entry */
};

/*
 * When a temporary of ours is a leftover.  Its process is not running on
 * this host, and it was not written for a day.  The first alone would do
 * on one host, but the directory may be shared (NFS) by hosts whose
 * processes the name's pid cannot tell apart, so the age is what makes it
 * safe there: every put writes its temporary in one go and renames it at
 * once (a staged put at its batch's commit), so a live writer's temporary
 * is seconds or minutes old, and one stalled for
 * a day (suspended with a put half-done) would find its rename failing
 * and fail the put, losing nothing (its lease expired long before, so it
 * could not have committed a snapshot anyway, docs/concurrency.md).  A
 * day dwarfs any clock skew the lease rule tolerates between hosts.
 */
#define LEFTOVER_AGE_S (24 * 3600)

/* One entry starting with '.' in the leftovers walk: reported (and removed) if one. */
static int leftover(struct walk *w, int dfd, const char *base, size_t off)
{
	struct stat st;
	size_t bl = strlen(base);
	if (off + bl >= sizeof(w->name) ||
	    fsio_tmp_leftover(dfd, base, LEFTOVER_AGE_S, w->now_s, &st) != 1)
		return 0;
	memcpy(w->name + off, base, bl + 1);
	backend_entry ent = { w->name, (uint64_t)st.st_size,
			      (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec };
	int r = w->fn(w->ud, &ent);
	w->stopped = r != 0;
	if (r == 0 && w->leftovers == 2 && unlinkat(dfd, base, 0) < 0 && errno != ENOENT) {
		r = err_sys(-errno, "cannot remove '%s/%s'", w->lb->base.location, w->name);
		w->stopped = 1; /* the message stands */
	}
	return r;
}

/*
 * Reports every regular file below the open directory fd (consumed),
 * whose name is w->name[0, len).  Names starting with '.' (ours in
 * progress, or anyone's) and names no backend user could have written
 * are passed over; symbolic links are followed, as a user may have moved
 * a directory elsewhere, and the name length limit bounds the depth.
 */
static int walk_dir(struct walk *w, int fd, size_t len)
{
	DIR *d _cleanup_(closedirp) = fdopendir(fd);
	if (!d) {
		int r = -errno;
		close(fd);
		return r;
	}
	struct dirent *e;
	int r = 0;
	/* the location's top (len 0) has no '/' before its entries' names */
	size_t off = len ? len + 1 : 0;
	while (r == 0 && (errno = 0, e = readdir(d))) {
		size_t nl = strlen(e->d_name);
		if (w->leftovers && e->d_name[0] == '.') {
			if (len)
				w->name[len] = '/';
			r = leftover(w, dirfd(d), e->d_name, off);
			w->name[len] = 0;
			continue;
		}
		if (!backend_name_is_valid(e->d_name) || off + nl > BACKEND_NAME_MAX)
			continue;
		if (len)
			w->name[len] = '/';
		memcpy(w->name + off, e->d_name, nl + 1);
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, 0) < 0) {
			r = errno == ENOENT ? 0 : -errno; /* removed since readdir */
		} else if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (sub < 0)
				r = errno == ENOENT ? 0 : -errno;
			else
				r = walk_dir(w, sub, off + nl);
		} else if (S_ISREG(st.st_mode) && !w->leftovers) {
			backend_entry ent = { w->name, (uint64_t)st.st_size,
					      (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec };
			r = w->fn(w->ud, &ent);
			w->stopped = r != 0;
		}
		w->name[len] = 0;
	}
	if (r == 0 && errno)
		r = -errno;
	return r;
}

static int local_list(backend *b, const char *dir, backend_list_fn fn, void *ud)
{
	struct walk w = { L(b), fn, ud, 0, 0, 0, "" };
	size_t len = strlen(dir);
	memcpy(w.name, dir, len + 1);
	int fd = openat(L(b)->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR
			       ? 0
			       : err_sys(-errno, "cannot open '%s/%s'", b->location, dir);
	int r = walk_dir(&w, fd, len);
	if (r < 0 && !w.stopped)
		return err_sys(r, "cannot list '%s/%s'", b->location, dir);
	return r;
}

/* The same walk from the top, for the temporaries LEFTOVER_AGE_S describes. */
static int local_leftovers(backend *b, int remove, backend_list_fn fn, void *ud)
{
	struct walk w = { L(b), fn, ud, 0, remove ? 2 : 1, (int64_t)time(NULL), "" };
	int fd = openat(L(b)->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(-errno, "cannot open '%s'", b->location);
	int r = walk_dir(&w, fd, 0);
	if (r < 0 && !w.stopped)
		return err_sys(r, "cannot look for temporary files in '%s'", b->location);
	return r;
}

static int local_remove(backend *b, const char *name)
{
	if (unlinkat(L(b)->dirfd, name, 0) < 0)
		return err_sys(-errno, "cannot remove '%s/%s'", b->location, name);
	return 0;
}

static int local_mkdir(backend *b, const char *dir)
{
	int r = fsio_mkdirs(L(b)->dirfd, dir, 1);
	return r < 0 ? err_sys(r, "cannot create '%s/%s'", b->location, dir) : 0;
}

static void local_free(backend *b)
{
	if (L(b)->dirfd >= 0)
		close(L(b)->dirfd);
	free(b->location);
	free(b);
}

/* The file's pages leave the page cache (clean after the put's fsync). */
static int local_evict(backend *b, const char *name)
{
	_cleanup_close_ int fd = openat(L(b)->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(-errno, "cannot open '%s/%s'", b->location, name);
	int r = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	return r ? err_sys(-r, "cannot drop cached pages of '%s/%s'", b->location, name) : 0;
}

/*
 * Staged files: the temporary fsio_tmp_open names (so the cleanup of
 * leftover temporaries recognises it, and listings pass over it), kept
 * open until the commit; its write-back starts at once, so that by the
 * commit the storage has had the whole batch to work on.
 */
struct backend_staged {
	int fd;
	/* its directory is missing: the temporary is in the one above, and
	 * the commit makes the directory (durable before anything is named
	 * in it, as put's fsio_mkdirs) */
	int make_dir;
	char tmp[FSIO_TMP_MAX];
	char name[BACKEND_NAME_MAX + 1];
};

static void staged_free(local_backend *lb, backend_staged *f, int remove)
{
	if (f->fd >= 0)
		close(f->fd);
	if (remove)
		unlinkat(lb->dirfd, f->tmp, 0);
	free(f);
}

/* The length of the directory part of the first n bytes of name (0: the location). */
static size_t dir_len(const char *name, size_t n)
{
	while (n > 0 && name[n - 1] != '/')
		n--;
	return n ? n - 1 : 0;
}

static int local_put_staged(backend *b, const char *name, backend_hint hint, const void *p,
			    size_t n, backend_staged **out)
{
	backend_staged *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	snprintf(f->name, sizeof(f->name), "%s", name);
	size_t len = strlen(name), dl = dir_len(name, len), up = dir_len(name, dl);
	char dir[BACKEND_NAME_MAX + 1];
	snprintf(dir, sizeof(dir), "%.*s", (int)dl, name);
	struct stat st;
	int r = 0;
	if (dl && fstatat(L(b)->dirfd, dir, &st, 0) < 0 && errno == ENOENT) {
		/* staged as "<above>/.tmp-…-<base>" (a name of the same form) */
		char above[BACKEND_NAME_MAX + 1];
		snprintf(above, sizeof(above), "%.*s%s%s", (int)up, name, up ? "/" : "",
			 name + dl + 1);
		f->make_dir = 1;
		r = fsio_tmp_open(L(b)->dirfd, above, f->tmp);
		if (r == -ENOENT) /* deeper than one missing level: made now, as put does */
			f->make_dir = 0;
	}
	if (!f->make_dir) {
		r = dl ? fsio_mkdirs(L(b)->dirfd, dir, 1) : 0;
		r = r ?: fsio_tmp_open(L(b)->dirfd, name, f->tmp);
	}
	if (r < 0) {
		free(f);
		return err_sys(r, "cannot write '%s/%s'", b->location, name);
	}
	f->fd = r;
	r = hint == BACKEND_DATA ? fsio_write_bulk(f->fd, p, n) : fsio_write_all(f->fd, p, n);
	if (r < 0) {
		staged_free(L(b), f, 1);
		return err_sys(r, "cannot write '%s/%s'", b->location, name);
	}
	/* a start, not a wait: the commit's flush finds most of it written;
	 * a failure here only loses the head start (the flush reports errors) */
	(void)sync_file_range(f->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	*out = f;
	return 0;
}

/* fsyncs the first n bytes of name as a directory (the location itself for 0). */
static int sync_dir(local_backend *lb, const char *name, size_t n)
{
	if (n == 0)
		return fsync(lb->dirfd) < 0 ? -errno : 0;
	char dir[BACKEND_NAME_MAX + 1];
	memcpy(dir, name, n);
	dir[n] = 0;
	_cleanup_close_ int fd = openat(lb->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 || fsync(fd) < 0 ? -errno : 0;
}

/* The directory of v[i] (up: the one above it), unless an earlier entry of v[0, i) had it. */
static int first_of_dir(backend_staged **v, size_t i, int up)
{
	const char *name = v[i]->name;
	size_t dl = dir_len(name, strlen(name));
	if (up)
		dl = dir_len(name, dl);
	for (size_t j = 0; j < i; j++) {
		if (!v[j] || (up && !v[j]->make_dir))
			continue;
		size_t l = dir_len(v[j]->name, strlen(v[j]->name));
		if (up)
			l = dir_len(v[j]->name, l);
		if (l == dl && memcmp(v[j]->name, name, dl) == 0)
			return 0;
	}
	return 1;
}

/*
 * The order that makes a batch as safe as one put per file: every file's
 * data durable (one pass: the write-back of all was started when they
 * were staged), the directories the batch needs made and flushed into
 * theirs, then the renames, then each directory a file went into flushed
 * once.  A crash before the renames leaves temporaries only; one between
 * a rename and its directory's flush the old state or the whole new
 * file, never a named file with part of its bytes.  The dirfd-relative
 * directory of a name is opened again for each flush: a few per batch.
 */
static int local_commit_staged(backend *b, backend_staged **v, size_t n)
{
	local_backend *lb = L(b);
	int rc = 0;
	size_t failed = 0, renamed = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (v[i] && fdatasync(v[i]->fd) < 0) {
			rc = -errno;
			failed = i;
		}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!v[i] || !v[i]->make_dir)
			continue;
		char dir[BACKEND_NAME_MAX + 1];
		size_t dl = dir_len(v[i]->name, strlen(v[i]->name));
		snprintf(dir, sizeof(dir), "%.*s", (int)dl, v[i]->name);
		rc = fsio_mkdir(lb->dirfd, dir, 0700);
		failed = i;
	}
	for (size_t i = 0; rc == 0 && i < n; i++) /* their entries, each parent once */
		if (v[i] && v[i]->make_dir && first_of_dir(v, i, 1)) {
			const char *name = v[i]->name;
			rc = sync_dir(lb, name, dir_len(name, dir_len(name, strlen(name))));
			failed = i;
		}
	for (size_t i = 0; i < n; i++) {
		if (!v[i])
			continue;
		close(v[i]->fd);
		v[i]->fd = -1;
		if (rc == 0 && renameat(lb->dirfd, v[i]->tmp, lb->dirfd, v[i]->name) < 0) {
			rc = -errno;
			failed = i;
		}
		if (rc < 0) { /* this one and every later one stay unnamed */
			unlinkat(lb->dirfd, v[i]->tmp, 0);
			continue;
		}
		renamed = i + 1;
	}
	for (size_t i = 0; i < renamed; i++) {
		if (!v[i] || !first_of_dir(v, i, 0))
			continue;
		int r = sync_dir(lb, v[i]->name, dir_len(v[i]->name, strlen(v[i]->name)));
		if (r < 0 && rc == 0) {
			rc = r;
			failed = i;
		}
	}
	if (rc < 0)
		rc = err_sys(rc, "cannot write '%s/%s'", b->location, v[failed]->name);
	for (size_t i = 0; i < n; i++) {
		if (v[i])
			staged_free(lb, v[i], 0);
		v[i] = NULL;
	}
	return rc;
}

static void local_discard_staged(backend *b, backend_staged *f)
{
	staged_free(L(b), f, 1);
}

static const struct backend_ops local_ops = {
	.version = BACKEND_OPS_VERSION,
	.put = local_put,
	.get = local_get,
	.get_range = NULL, /* a handle for one read costs the same open */
	.open_read = local_open_read,
	.file_read = local_file_read,
	.file_close = local_file_close,
	.stat = local_stat,
	.list = local_list,
	.remove = local_remove,
	.mkdir = local_mkdir,
	.free = local_free,
	.evict = local_evict,
	.put_staged = local_put_staged,
	.commit_staged = local_commit_staged,
	.discard_staged = local_discard_staged,
	.leftovers = local_leftovers,
};

/* mkdir -p: the missing parents of path (0755, as mkdir -p makes them), then path (0700). */
static int make_location(const char *path)
{
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	int rc = 0;
	for (char *s = p + 1; rc == 0 && *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			rc = -errno;
		*s = '/';
	}
	if (rc == 0 && mkdir(p, 0700) < 0 && errno != EEXIST)
		rc = -errno;
	free(p);
	return rc;
}

int local_backend_dirfd(const backend *b)
{
	return b && b->ops == &local_ops ? ((const local_backend *)b)->dirfd : -1;
}

int local_backend_open(backend **out, const char *path, unsigned flags)
{
	int mk = flags & BACKEND_OPEN_CREATE ? make_location(path) : 0;
	if (mk < 0)
		return err_sys(mk, "cannot create repository directory '%s'", path);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(-errno, "cannot open repository '%s'", path);
	local_backend *lb = calloc(1, sizeof(*lb));
	int r = lb ? backend_init(&lb->base, &local_ops, BACKEND_ATOMIC_REPLACE | BACKEND_RETURNS_MAPPINGS, path)
		   : -ENOMEM;
	if (r < 0) {
		free(lb);
		close(fd);
		return r;
	}
	lb->dirfd = fd;
	*out = &lb->base;
	return 0;
}
