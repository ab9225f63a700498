/* SPDX-License-Identifier: BSD-2-Clause */
#include "journal.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/mountinfo.h"
#include "../base/strlist.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* A journal larger than this is not read: a full walk is cheaper then. */
#define JOURNAL_READ_MAX ((size_t)256 << 20)
/* Raw path lines collected before duplicates are removed. */
#define JOURNAL_RAW_MAX (4 * (size_t)JOURNAL_DIRTY_MAX)

int journal_escape(buf *out, const char *path)
{
	static const char hex[] = "0123456789abcdef";
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		int r;
		if (*p < 0x21 || *p > 0x7e || *p == '\\') {
			char e[4] = { '\\', 'x', hex[*p >> 4], hex[*p & 15] };
			r = buf_append(out, e, 4);
		} else {
			r = buf_put_u8(out, *p);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The unescaped path of p[0..n) (malloc'd), or NULL when malformed. */
static char *unescape(const char *p, size_t n)
{
	char *s = malloc(n + 1), *o = s;
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x21 || c > 0x7e) {
			free(s); /* the recorder escapes these */
			return NULL;
		}
		if (c != '\\') {
			*o++ = (char)c;
			continue;
		}
		/* "\\xHH" with two hex digits, never a NUL */
		int a = i + 3 < n ? hexval(p[i + 2]) : -1;
		int b = a >= 0 ? hexval(p[i + 3]) : -1;
		if (a < 0 || b < 0 || p[i + 1] != 'x' || (a == 0 && b == 0)) {
			free(s);
			return NULL;
		}
		*o++ = (char)(a * 16 + b);
		i += 3;
	}
	*o = 0;
	return s;
}

int64_t journal_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void say(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

/* The one reason for a journal that names too many directories: not usable (0). */
static int too_many(char *why, size_t len)
{
	say(why, len, "more than %d directories changed", JOURNAL_DIRTY_MAX);
	return 0;
}

/* "SEC.NSEC" at *p (advanced past it) into ns; 0, or -1 if malformed. */
static int parse_time(const char **p, const char *end, int64_t *out)
{
	int64_t sec = 0, ns = 0;
	int digits = 0, nd = 0;
	const char *s = *p;
	for (; s < end && *s >= '0' && *s <= '9'; s++, digits++) {
		if (sec > 9000000000LL) /* year 2255: beyond that, malformed */
			return -1;
		sec = sec * 10 + (*s - '0');
	}
	if (!digits || s >= end || *s != '.')
		return -1;
	for (s++; s < end && *s >= '0' && *s <= '9'; s++, nd++)
		ns = ns * 10 + (*s - '0');
	if (nd != 9)
		return -1;
	*out = sec * 1000000000 + ns;
	*p = s;
	return 0;
}

/* What the file holds beyond what b has read, appended to b. */
static int read_more(int fd, buf *b)
{
	for (;;) {
		if (b->len >= JOURNAL_READ_MAX)
			return -EFBIG;
		int r = buf_reserve(b, 1 << 16);
		if (r < 0)
			return r;
		ssize_t n = read(fd, b->data + b->len, MIN(b->cap - b->len, JOURNAL_READ_MAX - b->len + 1));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		b->len += (size_t)n;
	}
}

static int below(const char *path, size_t len, const char *root)
{
	size_t rl = strlen(root);
	if (rl == 1 && root[0] == '/')
		return 1;
	return len >= rl && memcmp(path, root, rl) == 0 && (len == rl || path[rl] == '/');
}

typedef struct {
	const journal_query *q;
	char **raw;
	size_t nraw, cap;
	int gap;
	int64_t sync;     /* the latest sync line, or -1 */
	char reason[200];
} body_state;

static int add_raw(body_state *b, char *path)
{
	if (b->nraw >= JOURNAL_RAW_MAX) {
		free(path);
		return 1;
	}
	int rc = array_reserve(&b->raw, &b->cap, b->nraw + 1, sizeof(*b->raw));
	if (rc < 0) {
		free(path);
		return rc;
	}
	b->raw[b->nraw++] = path;
	return 0;
}

/*
 * A changed directory (absolute, taken): when it is below a backed-up path,
 * it and each ancestor (the walk goes down through them).  0, 1 to stop
 * (too many), <0.
 */
static int add_dir(body_state *b, char *path)
{
	size_t len = strlen(path);
	int in = 0;
	for (size_t i = 0; i < b->q->npaths && !in; i++)
		in = below(path, len, b->q->paths[i]);
	if (!in) {
		free(path);
		return 0;
	}
	for (;;) {
		char *dup = strdup(path);
		int rc = dup ? add_raw(b, dup) : -ENOMEM;
		if (rc) {
			free(path);
			return rc;
		}
		char *slash = strrchr(path, '/');
		if (slash == path) {
			if (!path[1])
				break;
			path[1] = 0;
		} else {
			*slash = 0;
		}
	}
	free(path);
	return 0;
}

/* One body line [p, end): 0, 1 to stop (too many), <0 (memory), -EINVAL malformed. */
static int body_line(body_state *b, const char *p, const char *end)
{
	int64_t t;
	const int64_t since = b->q->parent_start - JOURNAL_SLACK_NS;
	if (end - p > 5 && memcmp(p, "sync ", 5) == 0) {
		p += 5;
		if (parse_time(&p, end, &t) < 0 || p != end)
			return -EINVAL;
		if (t > b->sync)
			b->sync = t;
		return 0;
	}
	if (end - p > 4 && memcmp(p, "gap ", 4) == 0) {
		p += 4;
		if (parse_time(&p, end, &t) < 0)
			return -EINVAL;
		if (t >= since && !b->gap) {
			b->gap = 1;
			snprintf(b->reason, sizeof(b->reason), "%.*s", (int)(end - p - (p < end)),
				 p + (p < end));
		}
		return 0;
	}
	if (end - p > 2 && memcmp(p, "d ", 2) == 0) {
		p += 2;
		if (parse_time(&p, end, &t) < 0 || p >= end || *p != ' ')
			return -EINVAL;
		p++;
		if (t < since)
			return 0;
		char *path = unescape(p, (size_t)(end - p));
		if (!path || path[0] != '/')
			return free(path), -EINVAL;
		return add_dir(b, path);
	}
	return -EINVAL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The header: 1 complete and acceptable, 0 (why set); *body is where lines start. */
static int check_header(const journal_query *q, const buf *b, size_t *body, char *why, size_t wl)
{
	const char *p = (const char *)b->data, *end = p + b->len;
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl || (size_t)(nl - p) != strlen(JOURNAL_MAGIC) || memcmp(p, JOURNAL_MAGIC, (size_t)(nl - p))) {
		say(why, wl, "'%s' is not a version 1 change journal", q->file);
		return 0;
	}
	p = nl + 1;
	int64_t epoch = -1;
	dev_t *devs = NULL;
	size_t ndev = 0, cap = 0;
	int ok = 0;
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		if (nl - p == 3 && memcmp(p, "end", 3) == 0) {
			p = nl + 1;
			ok = 1;
			break;
		}
		const char *s = p;
		unsigned ma, mi;
		int used = 0;
		if (nl - s > 6 && memcmp(s, "epoch ", 6) == 0) {
			s += 6;
			if (parse_time(&s, nl, &epoch) < 0 || s != nl)
				break;
		} else if (nl - s > 3 && memcmp(s, "fs ", 3) == 0 &&
			   sscanf(s + 3, "%u:%u %n", &ma, &mi, &used) == 2 && used > 0) {
			if (array_reserve(&devs, &cap, ndev + 1, sizeof(*devs)) < 0)
				break;
			devs[ndev++] = makedev(ma, mi);
		} else {
			break;
		}
		p = nl + 1;
	}
	if (!ok || epoch < 0) {
		free(devs);
		say(why, wl, "the header of '%s' is incomplete or damaged", q->file);
		return 0;
	}
	if (epoch > q->parent_start) {
		free(devs);
		say(why, wl, "the journal started after the parent snapshot's walk");
		return 0;
	}
	/* every file system the walk may enter must be marked */
	int res = 1;
	for (size_t i = 0; i < q->npaths && res; i++) {
		struct stat st;
		size_t k = 0;
		if (stat(q->paths[i], &st) == 0)
			for (; k < ndev && devs[k] != st.st_dev; k++)
				;
		if (k == ndev) {
			say(why, wl, "the file system of '%s' is not watched", q->paths[i]);
			res = 0;
		}
	}
	mount_table mt = MOUNT_TABLE_INIT;
	if (res && !q->one_file_system) {
		if (mount_table_load(&mt) < 0) {
			say(why, wl, "cannot read the mount table");
			res = 0;
		}
		for (size_t m = 0; res && m < mt.n; m++) {
			const mount_entry *e = &mt.v[m];
			int in = 0;
			for (size_t i = 0; i < q->npaths && !in; i++)
				in = below(e->target, strlen(e->target), q->paths[i]);
			size_t k = 0;
			for (; in && k < ndev && devs[k] != makedev(e->major, e->minor); k++)
				;
			if (in && k == ndev) {
				say(why, wl, "the file system mounted at '%s' is not watched", e->target);
				res = 0;
			}
		}
	}
	mount_table_release(&mt);
	free(devs);
	*body = (size_t)(p - (const char *)b->data);
	return res;
}

/* Asks the recorder for a sync point: 0, or -1 when none listens. */
static int ask_sync(const char *file)
{
	_cleanup_free_ char *fifo = NULL;
	if (asprintf(&fifo, "%s%s", file, JOURNAL_SYNC_SUFFIX) < 0)
		return -1;
	int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1; /* ENXIO: no reader */
	struct stat st;
	int ok = fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
	/* a full pipe (EAGAIN) holds requests already: as good as this one */
	ssize_t n = ok ? write(fd, "s", 1) : -1;
	int e = errno;
	close(fd);
	return n == 1 || (ok && n < 0 && e == EAGAIN) ? 0 : -1;
}

int journal_dirty(const journal_query *q, journal_set *out, char *why, size_t wl)
{
	memset(out, 0, sizeof(*out));
	_cleanup_close_ int fd = open(q->file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		say(why, wl, "cannot open '%s': %s", q->file, strerror(errno));
		return 0;
	}
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		say(why, wl, "no recorder is running on '%s'", q->file);
		return 0;
	}
	/* the sync request first: the header is complete before the FIFO exists */
	if (ask_sync(q->file) < 0) {
		say(why, wl, "the recorder of '%s' does not answer", q->file);
		return 0;
	}
	buf b _cleanup_(buf_releasep) = BUF_INIT;
	size_t at = 0;
	body_state bs = { .q = q, .sync = -1 };
	int rc = 0, hdr = 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		rc = read_more(fd, &b);
		if (rc < 0) {
			say(why, wl, rc == -EFBIG ? "the journal '%s' is too large" : "cannot read '%s'", q->file);
			rc = 0;
			goto out;
		}
		if (!hdr) {
			if (!check_header(q, &b, &at, why, wl))
				goto out;
			hdr = 1;
		}
		const char *p = (const char *)b.data + at, *end = (const char *)b.data + b.len, *nl;
		while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
			rc = body_line(&bs, p, nl);
			if (rc == -EINVAL) {
				say(why, wl, "'%s' has a malformed line", q->file);
				rc = 0;
				goto out;
			}
			if (rc == 1) {
				rc = too_many(why, wl);
				goto out;
			}
			if (rc < 0)
				goto out;
			p = nl + 1;
		}
		at = (size_t)(p - (const char *)b.data);
		if (bs.sync >= q->start)
			break;
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9 > q->wait_seconds) {
			say(why, wl, "the recorder of '%s' did not sync within %.0f s", q->file, q->wait_seconds);
			goto out;
		}
		/* the recorder answers within milliseconds: poll the file */
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	}
	if (bs.gap) {
		say(why, wl, "a gap in the journal since the parent snapshot: %s", bs.reason);
		goto out;
	}
	/*
	 * The recorder does not record its own writes (each would be a change
	 * to write, for ever): the directory of the journal, when it is backed
	 * up (the daemon's state directory below a path), is always walked.
	 */
	char *own = realpath(q->file, NULL);
	char *slash = own ? strrchr(own, '/') : NULL;
	if (slash == own && own)
		own[1] = 0;
	else if (slash)
		*slash = 0;
	rc = own ? add_dir(&bs, own) : 0;
	if (rc == 1) {
		rc = too_many(why, wl);
		goto out;
	}
	if (rc < 0)
		goto out;
	if (bs.nraw)
		qsort(bs.raw, bs.nraw, sizeof(*bs.raw), cmp_str);
	size_t k = 0;
	for (size_t i = 0; i < bs.nraw; i++) {
		if (k && strcmp(bs.raw[k - 1], bs.raw[i]) == 0)
			free(bs.raw[i]);
		else
			bs.raw[k++] = bs.raw[i];
	}
	bs.nraw = k;
	if (k > JOURNAL_DIRTY_MAX) {
		rc = too_many(why, wl);
		goto out;
	}
	out->v = bs.raw;
	out->n = bs.nraw;
	bs.raw = NULL;
	bs.nraw = 0;
	rc = 1;
out:
	strlist_free(bs.raw, bs.nraw);
	return rc;
}

int journal_set_has(const journal_set *s, const char *path, size_t len)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *m = s->v[mid];
		int c = strncmp(m, path, len);
		if (c == 0)
			c = m[len] ? 1 : 0;
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

void journal_set_release(journal_set *s)
{
	strlist_free(s->v, s->n);
	s->v = NULL;
	s->n = 0;
}
