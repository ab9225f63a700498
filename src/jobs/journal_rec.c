/* SPDX-License-Identifier: BSD-2-Clause */
#include "journal_rec.h"
#include "journal.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/fsio.h"
#include "../base/interrupt.h"
#include "../base/log.h"
#include "../base/mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define REC_MASK                                                                                   \
	(FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_MODIFY | FAN_ATTRIB |       \
	 FAN_CLOSE_WRITE | FAN_ONDIR)
/* Changed directories are written at least this often (ms). */
#define FLUSH_MS 1000
/* A journal beyond this size is started anew (a new epoch). */
#define ROTATE_BYTES ((off_t)64 << 20)
#define SET_DEFAULT 65536

/* A marked file system: events carry its fsid; handles open through fd. */
typedef struct {
	dev_t dev;
	fsid_t fsid;
	int fd;
	char *where;
} marked_fs;

typedef struct {
	const journal_rec_params *p;
	int fan, fifo, fd;
	marked_fs *fs;
	size_t nfs, fscap;
	/* the set of changed directories since the last write (open addressing) */
	char **slot;
	size_t nslot, nset, set_max;
	char gap[256]; /* a gap since the last write, or "" */
	int64_t first_pending_ns;
	buf line;
} recorder;

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int below_paths(const recorder *r, const char *path)
{
	size_t len = strlen(path);
	for (size_t i = 0; i < r->p->npaths; i++) {
		const char *root = r->p->paths[i];
		size_t rl = strlen(root);
		if ((rl == 1 && root[0] == '/') ||
		    (len >= rl && memcmp(path, root, rl) == 0 && (len == rl || path[rl] == '/')))
			return 1;
	}
	return 0;
}

static void set_gap(recorder *r, const char *why)
{
	if (!r->gap[0])
		snprintf(r->gap, sizeof(r->gap), "%s", why);
	if (!r->first_pending_ns)
		r->first_pending_ns = journal_now();
}

static int flush(recorder *r, int64_t t, int sync);

/* Adds path (taken) to the set; writes the set out first when it is full. */
static int set_add(recorder *r, char *path)
{
	if (!below_paths(r, path)) {
		free(path);
		return 0;
	}
	size_t i = (size_t)(hash_str(path) % r->nslot);
	for (; r->slot[i]; i = (i + 1) % r->nslot) {
		if (strcmp(r->slot[i], path) == 0) {
			free(path);
			return 0;
		}
	}
	if (r->nset >= r->set_max) {
		int rc = flush(r, journal_now(), 0);
		if (rc < 0) {
			free(path);
			return rc;
		}
		return set_add(r, path);
	}
	r->slot[i] = path;
	r->nset++;
	if (!r->first_pending_ns)
		r->first_pending_ns = journal_now();
	return 0;
}

static void put_time(buf *b, int64_t t)
{
	buf_appendf(b, "%lld.%09lld", (long long)(t / 1000000000), (long long)(t % 1000000000));
}

/* The header of a new epoch, into a new file that replaces the journal. */
static int start_file(recorder *r)
{
	buf b _cleanup_(buf_releasep) = BUF_INIT;
	_cleanup_free_ char *tmp = NULL;
	if (asprintf(&tmp, "%s.new", r->p->file) < 0)
		return -ENOMEM;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_sys(-errno, "cannot create '%s'", tmp);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int rc = err_sys(-errno, "cannot lock '%s'", tmp);
		close(fd);
		return rc;
	}
	/* the marks are in place: every later change is an event */
	buf_appendf(&b, "%s\nepoch ", JOURNAL_MAGIC);
	put_time(&b, journal_now());
	buf_appendf(&b, "\n");
	for (size_t i = 0; i < r->nfs; i++) {
		buf_appendf(&b, "fs %u:%u ", major(r->fs[i].dev), minor(r->fs[i].dev));
		journal_escape(&b, r->fs[i].where);
		buf_appendf(&b, "\n");
	}
	int rc = buf_appendf(&b, "end\n");
	rc = rc ?: fsio_write_all(fd, b.data, b.len);
	if (rc == 0 && rename(tmp, r->p->file) < 0)
		rc = err_sys(-errno, "cannot rename '%s' to '%s'", tmp, r->p->file);
	if (rc < 0) {
		close(fd);
		unlink(tmp);
		return rc;
	}
	if (r->fd >= 0)
		close(r->fd);
	r->fd = fd;
	return 0;
}

/*
 * Writes the changed directories and a pending gap, stamped t (taken
 * after their events were read), and with sync a sync line at t.
 */
static int flush(recorder *r, int64_t t, int sync)
{
	buf *b = &r->line;
	b->len = 0;
	int rc = 0;
	for (size_t i = 0; i < r->nslot && rc == 0; i++) {
		if (!r->slot[i])
			continue;
		buf_appendf(b, "d ");
		put_time(b, t);
		buf_appendf(b, " ");
		rc = journal_escape(b, r->slot[i]);
		rc = rc ?: buf_appendf(b, "\n");
		free(r->slot[i]);
		r->slot[i] = NULL;
	}
	r->nset = 0;
	if (rc == 0 && r->gap[0]) {
		buf_appendf(b, "gap ");
		put_time(b, t);
		rc = buf_appendf(b, " %s\n", r->gap);
		r->gap[0] = 0;
	}
	if (rc == 0 && sync) {
		buf_appendf(b, "sync ");
		put_time(b, t);
		rc = buf_appendf(b, "\n");
	}
	r->first_pending_ns = 0;
	if (rc == 0 && b->len && (rc = fsio_write_all(r->fd, b->data, b->len)) < 0)
		err_sys(rc, "cannot write '%s'", r->p->file);
	struct stat st;
	/* a new epoch: backups whose parent is older walk everything once */
	if (rc == 0 && fstat(r->fd, &st) == 0 && st.st_size > ROTATE_BYTES)
		rc = start_file(r);
	return rc;
}

static const marked_fs *fs_of(const recorder *r, const fsid_t *id)
{
	for (size_t i = 0; i < r->nfs; i++)
		if (memcmp(&r->fs[i].fsid, id, sizeof(*id)) == 0)
			return &r->fs[i];
	return NULL;
}

enum { RES_PATH, RES_GONE, RES_FAIL };

/*
 * Opens the object of a handle (O_PATH) and its path: RES_PATH (*fd and
 * *out set), RES_GONE when it no longer exists, RES_FAIL (why set).
 */
static int resolve(recorder *r, const struct fanotify_event_info_fid *fid, int *fd_out,
		   char **out, struct stat *st, char *why, size_t wl)
{
	const marked_fs *m = fs_of(r, (const fsid_t *)&fid->fsid);
	if (!m) {
		snprintf(why, wl, "an event of a file system that is not marked");
		return RES_FAIL;
	}
	struct file_handle *h = (struct file_handle *)(uintptr_t)fid->handle;
	int fd = open_by_handle_at(m->fd, h, O_PATH | O_CLOEXEC);
	if (fd < 0 && (errno == ESTALE || errno == ENOENT))
		return RES_GONE;
	if (fd < 0) {
		snprintf(why, wl, "cannot open a changed object by its handle: %s", strerror(errno));
		return RES_FAIL;
	}
	if (fstat(fd, st) < 0 || st->st_nlink == 0) {
		close(fd);
		return RES_GONE; /* removed: its directory has the event of that */
	}
	char link[64], target[PATH_MAX + 1];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0 || n >= (ssize_t)sizeof(target) - 1 || target[0] != '/') {
		close(fd);
		snprintf(why, wl, "cannot find the path of a changed directory");
		return RES_FAIL;
	}
	target[n] = 0;
	if (!(*out = strdup(target))) {
		close(fd);
		snprintf(why, wl, "out of memory");
		return RES_FAIL;
	}
	*fd_out = fd;
	return RES_PATH;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
}

static char *join(const char *dir, const char *name)
{
	char *s = NULL;
	if (asprintf(&s, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name) < 0)
		return NULL;
	return s;
}

/* One event: the directories it changes into the set, or a gap. */
static int on_event(recorder *r, const struct fanotify_event_metadata *ev)
{
	if (ev->mask & FAN_Q_OVERFLOW) {
		set_gap(r, "the kernel's event queue overflowed");
		return 0;
	}
	/* its own writes (the journal, the FIFO): each would be a change to write, for ever;
	 * the backup walks the journal's directory always (journal.c) */
	if (ev->pid == getpid())
		return 0;
	const struct fanotify_event_info_fid *dfid = NULL, *ofid = NULL;
	const char *name = NULL;
	const char *p = (const char *)(ev + 1), *end = (const char *)ev + ev->event_len;
	while (p + sizeof(struct fanotify_event_info_header) <= end) {
		const struct fanotify_event_info_header *h = (const void *)p;
		if (h->len < sizeof(*h) || p + h->len > end)
			break;
		const struct fanotify_event_info_fid *f = (const void *)p;
		if (h->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME || h->info_type == FAN_EVENT_INFO_TYPE_DFID) {
			dfid = f;
			if (h->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME) {
				const struct file_handle *fh = (const void *)f->handle;
				name = (const char *)fh->f_handle + fh->handle_bytes;
			}
		} else if (h->info_type == FAN_EVENT_INFO_TYPE_FID) {
			ofid = f;
		}
		p += h->len;
	}
	char why[256];
	struct stat st;
	int fd = -1, rc = 0;
	char *path = NULL;
	int ondir = (ev->mask & FAN_ONDIR) != 0;
	if (!dfid) {
		/* only the object: a link count changed (link, unlink), or a
		 * directory's own event without its parent */
		if (!ofid)
			return 0;
		int res = resolve(r, ofid, &fd, &path, &st, why, sizeof(why));
		if (res == RES_GONE)
			return 0;
		if (res == RES_FAIL) {
			set_gap(r, why);
			return 0;
		}
		close(fd);
		if (!S_ISDIR(st.st_mode)) {
			if (below_paths(r, path)) {
				snprintf(why, sizeof(why), "the links of a hard-linked file changed");
				set_gap(r, why);
			}
			free(path);
			return 0;
		}
		char *up = dir_of(path);
		rc = up ? set_add(r, up) : -ENOMEM;
		return rc ?: set_add(r, path);
	}
	int res = resolve(r, dfid, &fd, &path, &st, why, sizeof(why));
	if (res == RES_GONE)
		return 0;
	if (res == RES_FAIL) {
		set_gap(r, why);
		return 0;
	}
	int self = !name || !name[0] || strcmp(name, ".") == 0;
	if (!self && !ondir && (ev->mask & (FAN_MODIFY | FAN_ATTRIB | FAN_CLOSE_WRITE | FAN_CREATE | FAN_MOVED_TO))) {
		/* a hard-linked file: its other names, wherever they are, show it too */
		struct stat fst;
		if (fstatat(fd, name, &fst, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(fst.st_mode) &&
		    fst.st_nlink > 1 && below_paths(r, path))
			set_gap(r, "a hard-linked file changed");
	}
	close(fd);
	if (self) {
		char *up = dir_of(path);
		rc = up ? set_add(r, up) : -ENOMEM;
	} else if (ondir) {
		char *sub = join(path, name);
		rc = sub ? set_add(r, sub) : -ENOMEM;
	}
	return rc ?: set_add(r, path);
}

/* Reads every queued event. */
static int drain(recorder *r)
{
	static _Alignas(struct fanotify_event_metadata) char evbuf[65536];
	for (;;) {
		ssize_t n = read(r->fan, evbuf, sizeof(evbuf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return err_sys(-errno, "cannot read file system events");
		/* events follow each other unpadded: each is copied to be aligned */
		size_t off = 0;
		while ((size_t)n - off >= sizeof(struct fanotify_event_metadata)) {
			static _Alignas(struct fanotify_event_metadata) char one[8192];
			struct fanotify_event_metadata m;
			memcpy(&m, evbuf + off, sizeof(m));
			if (m.event_len < sizeof(m) || m.event_len > (size_t)n - off)
				break;
			if (m.vers != FANOTIFY_METADATA_VERSION || m.event_len > sizeof(one)) {
				set_gap(r, "an event of an unknown format");
			} else {
				memcpy(one, evbuf + off, m.event_len);
				if (m.fd >= 0)
					close(m.fd);
				int rc = on_event(r, (const struct fanotify_event_metadata *)(const void *)one);
				if (rc < 0)
					return rc;
			}
			off += m.event_len;
		}
	}
}

/* Marks the file system holding where (once per device). */
static int mark(recorder *r, const char *where)
{
	struct stat st;
	if (stat(where, &st) < 0)
		return err_sys(-errno, "cannot stat '%s'", where);
	for (size_t i = 0; i < r->nfs; i++)
		if (r->fs[i].dev == st.st_dev)
			return 0;
	int rc = array_reserve(&r->fs, &r->fscap, r->nfs + 1, sizeof(*r->fs));
	if (rc < 0)
		return rc;
	marked_fs *m = &r->fs[r->nfs];
	struct statfs sf;
	m->fd = open(where, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->fd < 0)
		return err_sys(-errno, "cannot open '%s'", where);
	if (fstatfs(m->fd, &sf) < 0) {
		rc = err_sys(-errno, "cannot stat the file system of '%s'", where);
		close(m->fd);
		return rc;
	}
	if (fanotify_mark(r->fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, REC_MASK, m->fd, NULL) < 0) {
		rc = err_sys(-errno, "cannot watch the file system of '%s' (fanotify)", where);
		close(m->fd);
		return rc;
	}
	if (!(m->where = strdup(where))) {
		close(m->fd);
		return -ENOMEM;
	}
	m->dev = st.st_dev;
	m->fsid = sf.f_fsid;
	r->nfs++;
	return 0;
}

static int mark_all(recorder *r)
{
	mount_table mt = MOUNT_TABLE_INIT;
	int rc = mount_table_load(&mt);
	if (rc < 0)
		return err_set(rc, "cannot read the mount table");
	for (size_t i = 0; i < r->p->npaths && rc == 0; i++)
		rc = mark(r, r->p->paths[i]);
	for (size_t m = 0; m < mt.n && rc == 0; m++)
		if (below_paths(r, mt.v[m].target))
			rc = mark(r, mt.v[m].target);
	mount_table_release(&mt);
	return rc;
}

static int open_fifo(recorder *r, const char *fifo)
{
	if (unlink(fifo) < 0 && errno != ENOENT)
		return err_sys(-errno, "cannot remove '%s'", fifo);
	if (mkfifo(fifo, 0600) < 0)
		return err_sys(-errno, "cannot create '%s'", fifo);
	/* read and write: there is always a writer, so no end of file */
	r->fifo = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	return r->fifo < 0 ? err_sys(-errno, "cannot open '%s'", fifo) : 0;
}

static int run(recorder *r, const char *fifo)
{
	r->fan = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME | FAN_REPORT_FID,
			       O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (r->fan < 0)
		return err_sys(-errno, "cannot start fanotify (it needs root and Linux 5.9)");
	/* one recorder per journal: another one's lock is on the file */
	int old = open(r->p->file, O_RDONLY | O_CLOEXEC);
	if (old >= 0) {
		int busy = flock(old, LOCK_EX | LOCK_NB) < 0;
		close(old);
		if (busy)
			return err_set(-EBUSY, "another recorder writes '%s'", r->p->file);
	}
	int rc = mark_all(r);
	rc = rc ?: start_file(r);
	rc = rc ?: open_fifo(r, fifo);
	if (rc < 0)
		return rc;
	log_info("recording changes below %zu path%s into '%s' (%zu file system%s)", r->p->npaths,
		 r->p->npaths == 1 ? "" : "s", r->p->file, r->nfs, r->nfs == 1 ? "" : "s");
	if (r->p->ready)
		r->p->ready(r->p->ud);
	while (!interrupt_pending()) {
		struct pollfd pf[2] = { { r->fan, POLLIN, 0 }, { r->fifo, POLLIN, 0 } };
		int timeout = FLUSH_MS;
		if (r->first_pending_ns) {
			int64_t left = FLUSH_MS - (journal_now() - r->first_pending_ns) / 1000000;
			timeout = left < 0 ? 0 : (int)left;
		}
		int n = poll(pf, 2, timeout);
		if (n < 0 && errno != EINTR)
			return err_sys(-errno, "cannot wait for events");
		int sync = 0;
		if (n > 0 && (pf[1].revents & POLLIN)) {
			char tmp[256];
			while (read(r->fifo, tmp, sizeof(tmp)) > 0)
				;
			sync = 1;
		}
		/* every change finished before t is queued by now */
		int64_t t = journal_now();
		if ((rc = drain(r)) < 0)
			return rc;
		if (sync || (r->first_pending_ns && (journal_now() - r->first_pending_ns) / 1000000 >= FLUSH_MS))
			if ((rc = flush(r, t, sync)) < 0)
				return rc;
	}
	return flush(r, journal_now(), 0);
}

int journal_rec_run(const journal_rec_params *p)
{
	recorder r = { .p = p, .fan = -1, .fifo = -1, .fd = -1 };
	r.set_max = p->set_max ? p->set_max : SET_DEFAULT;
	r.nslot = r.set_max * 2 + 1;
	r.slot = calloc(r.nslot, sizeof(*r.slot));
	_cleanup_free_ char *fifo = NULL;
	if (!r.slot || asprintf(&fifo, "%s%s", p->file, JOURNAL_SYNC_SUFFIX) < 0) {
		free(r.slot);
		return -ENOMEM;
	}
	int rc = run(&r, fifo);
	if (r.fifo >= 0) {
		close(r.fifo);
		unlink(fifo);
	}
	for (size_t i = 0; i < r.nslot; i++)
		free(r.slot[i]);
	free(r.slot);
	for (size_t i = 0; i < r.nfs; i++) {
		close(r.fs[i].fd);
		free(r.fs[i].where);
	}
	free(r.fs);
	buf_release(&r.line);
	if (r.fd >= 0)
		close(r.fd);
	if (r.fan >= 0)
		close(r.fan);
	return rc;
}
