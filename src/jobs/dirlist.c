/* SPDX-License-Identifier: BSD-2-Clause */
#include "dirlist.h"
#include "../base/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* getdents64's buffer: readdir's is 32 KiB; a larger one halves the calls */
#define DENTS_BUF (128u << 10)

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const dirlist_entry *)a)->name, ((const dirlist_entry *)b)->name);
}

static int is_dot_or_dotdot(const char *n)
{
	return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

void dirlist_release(dirlist *l)
{
	for (size_t i = 0; l->e && i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
	l->e = NULL;
	l->n = 0;
}

int dirlist_names(int fd, dirlist *out)
{
	_cleanup_free_ char *b = malloc(DENTS_BUF);
	dirlist l = DIRLIST_INIT;
	size_t cap = 0;
	int rc = b ? 0 : -ENOMEM;
	/* the offset is the descriptor's: start at the beginning */
	if (rc == 0 && lseek(fd, 0, SEEK_SET) < 0)
		rc = -errno;
	while (rc == 0) {
		ssize_t got = getdents64(fd, b, DENTS_BUF);
		if (got < 0) {
			rc = -errno;
			break;
		}
		if (got == 0)
			break;
		for (size_t off = 0; off < (size_t)got;) {
			const struct dirent64 *d = (const struct dirent64 *)(void *)(b + off);
			off += d->d_reclen;
			if (is_dot_or_dotdot(d->d_name))
				continue;
			if (l.n == cap) {
				cap = cap ? cap * 2 : 32;
				dirlist_entry *ne = realloc(l.e, cap * sizeof(*ne));
				if (!ne) {
					rc = -ENOMEM;
					break;
				}
				l.e = ne;
			}
			memset(&l.e[l.n], 0, sizeof(l.e[l.n]));
			if (!(l.e[l.n].name = strdup(d->d_name))) {
				rc = -ENOMEM;
				break;
			}
			l.n++;
		}
	}
	if (rc < 0) {
		dirlist_release(&l);
		return rc;
	}
	if (l.n)
		qsort(l.e, l.n, sizeof(*l.e), cmp_entry);
	*out = l;
	return 0;
}

/* What a node records (meta_from_stat) and the walk compares: no atime, no blocks. */
#define STATX_NEEDED (STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_UID | STATX_GID | STATX_MTIME | \
		      STATX_CTIME | STATX_INO | STATX_SIZE)

/* 0, -ENOSYS where statx cannot give these fields (then fstatat is used) */
static atomic_int statx_missing;

static int stat_one(int fd, const char *name, struct stat *st)
{
	struct statx sx;
	if (!atomic_load_explicit(&statx_missing, memory_order_relaxed)) {
		if (statx(fd, name, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_NEEDED, &sx) == 0) {
			if ((sx.stx_mask & STATX_NEEDED) == STATX_NEEDED) {
				/* the fields fstatat fills, as it fills them */
				memset(st, 0, sizeof(*st));
				st->st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
				st->st_ino = sx.stx_ino;
				st->st_mode = sx.stx_mode;
				st->st_nlink = sx.stx_nlink;
				st->st_uid = sx.stx_uid;
				st->st_gid = sx.stx_gid;
				st->st_rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
				st->st_size = (off_t)sx.stx_size;
				st->st_blksize = (blksize_t)sx.stx_blksize;
				st->st_blocks = (blkcnt_t)sx.stx_blocks;
				st->st_atim.tv_sec = sx.stx_atime.tv_sec;
				st->st_atim.tv_nsec = sx.stx_atime.tv_nsec;
				st->st_mtim.tv_sec = sx.stx_mtime.tv_sec;
				st->st_mtim.tv_nsec = sx.stx_mtime.tv_nsec;
				st->st_ctim.tv_sec = sx.stx_ctime.tv_sec;
				st->st_ctim.tv_nsec = sx.stx_ctime.tv_nsec;
				return 0;
			}
			/* a file system that leaves some out: fstatat says what it can */
		} else if (errno == ENOSYS || errno == EPERM) {
			/* an old kernel, or a seccomp filter that refuses it */
			atomic_store(&statx_missing, 1);
		} else {
			return -errno;
		}
	}
	return fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

void dirlist_stat(int fd, dirlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		l->e[i].rc = stat_one(fd, l->e[i].name, &l->e[i].st);
}

void dirlist_keep(dirlist *l, const unsigned char *keep)
{
	size_t k = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (keep[i])
			l->e[k++] = l->e[i];
		else
			free(l->e[i].name);
	}
	l->n = k;
}

/* ---- the read-ahead ---- */

enum { REQ_QUEUED, REQ_RUNNING, REQ_DONE };

struct dirlist_batch {
	dirlist_ahead *a;
	int fd;          /* a duplicate of the directory's */
	unsigned refs;   /* the walk's, until end, and one per queued or running request */
	dirlist_req *last; /* where the next request of the batch goes */
};

struct dirlist_req {
	dirlist_ahead *a;
	dirlist_req *prev, *next; /* in the queue while REQ_QUEUED */
	dirlist_batch *b;         /* while queued or running */
	char *name;
	dev_t dev;
	ino_t ino;
	int state, dropped, ok;
	dirlist list;
};

struct dirlist_ahead {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	pthread_t thread;
	dirlist_req *head, *tail;
	size_t held, budget; /* entries listed and not yet taken */
	unsigned fds, max_fds; /* batches' descriptors open, and at most (one is the thread's) */
	int stop;
};

static void batch_unref(dirlist_batch *b)
{
	if (--b->refs)
		return;
	close(b->fd);
	b->a->fds--;
	free(b);
}

static void unlink_req(dirlist_ahead *a, dirlist_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		a->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		a->tail = r->prev;
	if (r->b->last == r)
		r->b->last = r->prev && r->prev->b == r->b ? r->prev : NULL;
	r->prev = r->next = NULL;
}

static void req_free(dirlist_req *r)
{
	dirlist_release(&r->list);
	free(r->name);
	free(r);
}

/* Lists the directory of r (unlocked): 1 if it is the one expected. */
static int list_req(int dirfd, dirlist_req *r)
{
	int fd _cleanup_(closep) = openat(dirfd, r->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_dev != r->dev || st.st_ino != r->ino)
		return 0;
	if (dirlist_names(fd, &r->list) < 0)
		return 0;
	dirlist_stat(fd, &r->list);
	return 1;
}

static void *ahead_run(void *arg)
{
	dirlist_ahead *a = arg;
	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (!a->stop && (!a->head || a->held >= a->budget))
			pthread_cond_wait(&a->work, &a->mu);
		if (a->stop)
			break;
		dirlist_req *r = a->head;
		unlink_req(a, r);
		r->state = REQ_RUNNING;
		int dirfd = r->b->fd;
		pthread_mutex_unlock(&a->mu);
		int ok = list_req(dirfd, r);
		pthread_mutex_lock(&a->mu);
		batch_unref(r->b);
		r->b = NULL;
		if (r->dropped) {
			req_free(r);
			continue;
		}
		r->ok = ok;
		r->state = REQ_DONE;
		a->held += r->list.n;
		pthread_cond_broadcast(&a->done);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

int dirlist_ahead_new(dirlist_ahead **out, size_t budget, unsigned fds)
{
	if (fds < 2)
		return -EMFILE;
	dirlist_ahead *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->budget = budget;
	a->max_fds = fds - 1;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->work, NULL);
	pthread_cond_init(&a->done, NULL);
	int rc = pthread_create(&a->thread, NULL, ahead_run, a);
	if (rc) {
		pthread_cond_destroy(&a->done);
		pthread_cond_destroy(&a->work);
		pthread_mutex_destroy(&a->mu);
		free(a);
		return -rc;
	}
	*out = a;
	return 0;
}

void dirlist_ahead_free(dirlist_ahead *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = 1;
	pthread_cond_broadcast(&a->work);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	pthread_cond_destroy(&a->done);
	pthread_cond_destroy(&a->work);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

int dirlist_ahead_begin(dirlist_ahead *a, int dirfd, dirlist_batch **out)
{
	*out = NULL;
	pthread_mutex_lock(&a->mu);
	int full = a->fds >= a->max_fds || a->held >= a->budget;
	if (!full)
		a->fds++;
	pthread_mutex_unlock(&a->mu);
	if (full)
		return 0; /* the walk lists these itself */
	dirlist_batch *b = calloc(1, sizeof(*b));
	int fd = b ? fcntl(dirfd, F_DUPFD_CLOEXEC, 0) : -1;
	if (fd < 0) {
		int rc = b ? -errno : -ENOMEM;
		free(b);
		pthread_mutex_lock(&a->mu);
		a->fds--;
		pthread_mutex_unlock(&a->mu);
		return rc == -EMFILE || rc == -ENFILE ? 0 : rc;
	}
	*b = (dirlist_batch){ a, fd, 1, NULL };
	*out = b;
	return 0;
}

int dirlist_ahead_add(dirlist_batch *b, const char *name, const struct stat *st, dirlist_req **out)
{
	*out = NULL;
	if (!b)
		return 0;
	dirlist_req *r = calloc(1, sizeof(*r));
	if (!r || !(r->name = strdup(name))) {
		free(r);
		return -ENOMEM;
	}
	r->a = b->a;
	r->dev = st->st_dev;
	r->ino = st->st_ino;
	dirlist_ahead *a = b->a;
	pthread_mutex_lock(&a->mu);
	/* after this batch's earlier requests, before everything older */
	dirlist_req *after = b->last;
	r->prev = after;
	r->next = after ? after->next : a->head;
	if (r->prev)
		r->prev->next = r;
	else
		a->head = r;
	if (r->next)
		r->next->prev = r;
	else
		a->tail = r;
	r->b = b;
	b->last = r;
	b->refs++;
	pthread_cond_signal(&a->work);
	pthread_mutex_unlock(&a->mu);
	*out = r;
	return 0;
}

void dirlist_ahead_end(dirlist_batch *b)
{
	if (!b)
		return;
	dirlist_ahead *a = b->a;
	pthread_mutex_lock(&a->mu);
	batch_unref(b);
	pthread_mutex_unlock(&a->mu);
}

/* Under the lock: takes r out of the thread's hands; 1 if it holds a listing. */
static int settle(dirlist_ahead *a, dirlist_req *r)
{
	if (r->state == REQ_QUEUED) {
		unlink_req(a, r);
		batch_unref(r->b);
		r->b = NULL;
		return 0;
	}
	while (r->state == REQ_RUNNING)
		pthread_cond_wait(&a->done, &a->mu);
	a->held -= r->list.n;
	pthread_cond_signal(&a->work); /* room again within the budget */
	return r->ok;
}

int dirlist_ahead_take(dirlist_req *r, dirlist *out)
{
	dirlist_ahead *a = r->a;
	pthread_mutex_lock(&a->mu);
	int ok = settle(a, r);
	pthread_mutex_unlock(&a->mu);
	if (ok) {
		*out = r->list;
		r->list = (dirlist)DIRLIST_INIT;
	}
	req_free(r);
	return ok;
}

void dirlist_ahead_drop(dirlist_req *r)
{
	if (!r)
		return;
	dirlist_ahead *a = r->a;
	pthread_mutex_lock(&a->mu);
	if (r->state == REQ_RUNNING) {
		r->dropped = 1; /* the thread frees it */
		pthread_mutex_unlock(&a->mu);
		return;
	}
	settle(a, r);
	pthread_mutex_unlock(&a->mu);
	req_free(r);
}
