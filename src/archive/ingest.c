/* SPDX-License-Identifier: BSD-2-Clause */
#include "ingest.h"
#include "../base/interrupt.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/workq.h"
#include "../core/blob.h"
#include "../core/chunker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct ingest {
	repo *r;
	workq *seal;    /* NULL: chunks are sealed by the thread that cut them */
	atomic_uint_fast64_t bytes_read;
	atomic_uint_fast64_t bytes_new;
	atomic_uint_fast64_t *progress;
	atomic_int failed; /* first failure of any thread */
	char failed_msg[256];
};

/*
 * The wide pipeline (sources of INGEST_LARGE bytes or more, and streams):
 * the calling thread reads windows of WIDE_WINDOW bytes into one of two
 * buffers and finds the cuts; the seal pool scans each window for chunk
 * boundary candidates (in parts, chunker_scan) and then identifies,
 * compresses, seals and stores each chunk straight from the window (no
 * copy per chunk).  While the pool works on one window the caller reads
 * the next into the other buffer; a buffer is reused only once every job
 * on it is done.  Boundaries are chunker_cut()'s (chunker.h).
 */
#define WIDE_WINDOW ((size_t)8 << 20)
#define WIDE_SCAN_PART ((size_t)1 << 20)
#define WIDE_MAX_PARTS 64
#define WIDE_CAND_CAP 4096

/* Jobs of one window, waited for together. */
typedef struct {
	pthread_mutex_t lock;
	pthread_cond_t done;
	size_t pending;
} batch;

enum { JOB_SCAN, JOB_CHUNK };

typedef struct {
	int kind;
	ingest *g;
	batch *b;
	const uint8_t *p;      /* the window */
	size_t off, n;         /* JOB_CHUNK: the chunk */
	uint8_t *id;           /* JOB_CHUNK: where its id goes */
	chunker_cands *cands;  /* JOB_SCAN */
} wide_job;

static void batch_init(batch *b)
{
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->done, NULL);
	b->pending = 0;
}

static void batch_release(batch *b)
{
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->done);
}

static void batch_add(batch *b, size_t n)
{
	pthread_mutex_lock(&b->lock);
	b->pending += n;
	pthread_mutex_unlock(&b->lock);
}

static void batch_one_done(batch *b)
{
	pthread_mutex_lock(&b->lock);
	if (--b->pending == 0)
		pthread_cond_broadcast(&b->done);
	pthread_mutex_unlock(&b->lock);
}

static void batch_wait(batch *b)
{
	pthread_mutex_lock(&b->lock);
	while (b->pending)
		pthread_cond_wait(&b->done, &b->lock);
	pthread_mutex_unlock(&b->lock);
}

/* Keeps the first failure of any thread with its message. */
static int note_failure(ingest *g, int rc)
{
	int none = 0;
	if (atomic_compare_exchange_strong(&g->failed, &none, rc))
		snprintf(g->failed_msg, sizeof(g->failed_msg), "%s", err_msg(rc));
	return rc;
}

static int seal_state_new(void **out, void *r)
{
	repo_session *rd = NULL;
	int rc = repo_session_new(&rd, r);
	*out = rd;
	return rc;
}

static void seal_state_free(void *state)
{
	repo_session_free(state);
}

/*
 * Identifies and stores one chunk; counts it as new when the repository
 * did not have it (a chunk in flight twice may count twice, as cut).
 */
static int save_data(ingest *g, repo_session *rd, uint8_t id[32], const uint8_t *p, size_t n)
{
	repo_session_blob_id(rd, id, p, n);
	if (!repo_has_blob(g->r, id))
		atomic_fetch_add(&g->bytes_new, (uint64_t)n);
	return repo_session_save(rd, BLOB_DATA, id, p, n);
}

static void seal_job_run(void *state, void *arg)
{
	wide_job *j = arg;
	if (j->kind == JOB_SCAN) {
		chunker_scan(repo_chunker(j->g->r), j->p, j->cands);
	} else if (!atomic_load(&j->g->failed)) {
		int rc = save_data(j->g, state, j->id, j->p + j->off, j->n);
		if (rc < 0)
			note_failure(j->g, rc);
	}
	batch_one_done(j->b);
}

int ingest_new(ingest **out, const ingest_params *p)
{
	ingest *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->r = p->r;
	g->progress = p->progress;
	if (p->seal_threads > 1) {
		/* jobs only point into the callers' windows: queueing costs no memory */
		workq_params wp = { p->seal_threads, 256, seal_job_run, seal_state_new,
				    seal_state_free, p->r };
		int rc = workq_new(&g->seal, &wp);
		if (rc < 0) {
			free(g);
			return rc;
		}
	}
	*out = g;
	return 0;
}

int ingest_wait(ingest *g)
{
	if (g->seal)
		workq_wait(g->seal);
	return atomic_load(&g->failed);
}

int ingest_error(ingest *g)
{
	/* the message is written just after the code: read it only once no
	 * thread is inside an ingest call (the header's precondition) */
	int rc = ingest_wait(g);
	return rc ? err_set(rc, "%s", g->failed_msg) : 0;
}

void ingest_free(ingest *g)
{
	if (!g)
		return;
	workq_free(g->seal);
	free(g);
}

uint64_t ingest_bytes_read(ingest *g)
{
	return atomic_load(&g->bytes_read);
}

uint64_t ingest_bytes_new(ingest *g)
{
	return atomic_load(&g->bytes_new);
}

/* Counts bytes read (also those not handed to the chunker: zero blocks). */
static void count_read(ingest *g, ingest_status *st, uint64_t n)
{
	st->bytes += n;
	atomic_fetch_add(&g->bytes_read, n);
	if (g->progress)
		atomic_fetch_add(g->progress, n);
}

/*
 * Reads from src into b[*fill, cap) until it is full or the source ends
 * (*eof).  Returns 0, or 1 after a source failure (in st).
 */
static int fill_from(ingest *g, const ingest_source *src, uint8_t *b, size_t *fill, size_t cap,
		     int *eof, ingest_status *st)
{
	while (!*eof && *fill < cap) {
		size_t got = 0;
		int rc = src->read(src->ud, &got, b + *fill, cap - *fill);
		if (rc < 0) {
			st->source_err = rc;
			return 1;
		}
		if (got == 0) {
			*eof = 1;
			break;
		}
		*fill += got;
		count_read(g, st, got);
	}
	return 0;
}

/*
 * The pipeline in the calling thread: fills the buffer from src, cuts
 * every chunk that has the maximum chunk size ahead of it (or the
 * source's end), identifies and saves it.  Returns 0 (source failures in
 * st) or a repository error.
 */
static int feed(ingest *g, repo_session *rd, buf *rbuf, const ingest_source *src,
		seglist *out, ingest_status *st)
{
	const chunker *ch = repo_chunker(g->r);
	size_t cap = (size_t)ch->p.max + (1u << 20), start = 0, fill = 0;
	int rc, eof = 0;
	if ((rc = buf_reserve(rbuf, cap)) < 0)
		return rc;
	uint8_t *b = rbuf->data;
	while (!eof || fill > start) {
		/* Ctrl-C: the whole backup stops (not just this file), so a
		 * large file does not keep it going */
		if (interrupt_pending())
			return err_set(-EINTR, "interrupted");
		if (fill_from(g, src, b, &fill, cap, &eof, st))
			return 0;
		while (fill - start >= ch->p.max || (eof && fill > start)) {
			size_t cut = chunker_cut(ch, b + start, fill - start);
			uint8_t id[32];
			rc = save_data(g, rd, id, b + start, cut);
			rc = rc ?: seglist_push(out, cut, id);
			if (rc < 0)
				return rc;
			start += cut;
		}
		if (start) {
			memmove(b, b + start, fill - start);
			fill -= start;
			start = 0;
		}
	}
	return 0;
}

/* One of the two windows of the wide pipeline, with its chunk jobs. */
typedef struct {
	uint8_t *b;
	batch jobs;
	wide_job *j;
	uint8_t (*ids)[32];
	size_t nj, capj;
} window;

/* Waits for a window's jobs and appends its chunks, in order, to out. */
static int window_finish(window *w, seglist *out)
{
	batch_wait(&w->jobs);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < w->nj; i++)
		rc = seglist_push(out, w->j[i].n, w->ids[i]);
	w->nj = 0;
	return rc;
}

static int window_add(window *w, ingest *g, size_t off, size_t n)
{
	if (w->nj == w->capj) {
		size_t cap = w->capj ? 2 * w->capj : 32;
		wide_job *j = realloc(w->j, cap * sizeof(*j));
		if (!j)
			return -ENOMEM;
		w->j = j;
		uint8_t(*ids)[32] = realloc(w->ids, cap * 32);
		if (!ids)
			return -ENOMEM;
		w->ids = ids;
		w->capj = cap;
	}
	w->j[w->nj] = (wide_job){ JOB_CHUNK, g, &w->jobs, w->b, off, n, NULL, NULL };
	w->nj++;
	return 0;
}

/* Keeps the candidates at or after shift, moved down by it (the window's
 * undecided tail moves to the front of the other buffer). */
static size_t rebase_parts(chunker_cands *parts, size_t np, size_t shift)
{
	size_t k = 0;
	for (size_t i = 0; i < np; i++) {
		chunker_cands *p = &parts[i];
		if (p->to <= shift)
			continue;
		size_t m = 0;
		for (size_t j = 0; !p->dense && j < p->n; j++)
			if ((p->pos[j] & ~CHUNKER_CAND_STRICT) >= shift)
				p->pos[m++] = p->pos[j] - (uint32_t)shift;
		p->n = m;
		p->from = p->from > shift ? p->from - shift : 0;
		p->to -= shift;
		/* keep the arrays: swap into place */
		chunker_cands t = parts[k];
		parts[k++] = *p;
		*p = t;
	}
	return k;
}

/* Scans buf[from, to) in parts on the seal pool; returns the part count. */
static int scan_parts(ingest *g, const uint8_t *data, chunker_cands *parts, size_t *np, size_t from,
		      size_t to)
{
	wide_job jobs[WIDE_MAX_PARTS];
	batch b;
	size_t k = 0;
	batch_init(&b);
	for (size_t at = from; at < to && *np + k < WIDE_MAX_PARTS; k++) {
		size_t end = to - at <= WIDE_SCAN_PART * 3 / 2 ? to : at + WIDE_SCAN_PART;
		if (*np + k == WIDE_MAX_PARTS - 1)
			end = to; /* the last part takes the rest */
		chunker_cands *p = &parts[*np + k];
		if (!p->pos && !(p->pos = malloc(WIDE_CAND_CAP * sizeof(*p->pos)))) {
			batch_release(&b);
			return -ENOMEM;
		}
		p->cap = WIDE_CAND_CAP;
		p->from = at;
		p->to = end;
		jobs[k] = (wide_job){ JOB_SCAN, g, &b, data, 0, 0, NULL, p };
		at = end;
	}
	batch_add(&b, k);
	int rc = 0;
	for (size_t i = 0; i < k; i++)
		if ((rc = workq_submit(g->seal, &jobs[i])) < 0)
			batch_add(&b, (size_t)0 - (k - i)); /* never submitted: nobody ends them */
	batch_wait(&b);
	batch_release(&b);
	*np += k;
	return rc;
}

static int submit_chunks(ingest *g, window *w)
{
	batch_add(&w->jobs, w->nj);
	for (size_t i = 0; i < w->nj; i++) {
		w->j[i].id = w->ids[i];
		int rc = workq_submit(g->seal, &w->j[i]);
		if (rc < 0) {
			batch_add(&w->jobs, (size_t)0 - (w->nj - i));
			return rc;
		}
	}
	return 0;
}

/*
 * The wide pipeline (see the top of this file).  Returns 0 (source
 * failures in st) or a repository error; every job has ended on return.
 */
static int feed_wide(ingest *g, const ingest_source *src, seglist *out, ingest_status *st)
{
	const chunker *ch = repo_chunker(g->r);
	size_t cap = WIDE_WINDOW + ch->p.max, start = 0, fill = 0, np = 0;
	chunker_cands parts[WIDE_MAX_PARTS];
	window w[2];
	int rc = 0, eof = 0, cur = 0;
	memset(parts, 0, sizeof(parts));
	memset(w, 0, sizeof(w));
	batch_init(&w[0].jobs);
	batch_init(&w[1].jobs);
	w[0].b = malloc(cap);
	w[1].b = malloc(cap);
	if (!w[0].b || !w[1].b)
		rc = -ENOMEM;
	while (rc == 0) {
		window *c = &w[cur], *o = &w[1 - cur];
		size_t scanned = fill;
		/* Ctrl-C stops the whole backup, as in feed() */
		if (interrupt_pending()) {
			rc = err_set(-EINTR, "interrupted");
			break;
		}
		if (fill_from(g, src, c->b, &fill, cap, &eof, st))
			break; /* the source failed: keep what was cut before */
		/* candidates for the new bytes, then every cut they decide */
		if ((rc = scan_parts(g, c->b, parts, &np, scanned, fill)) < 0)
			break;
		while (rc == 0 && (fill - start >= ch->p.max || (eof && fill > start))) {
			size_t cut = chunker_cut_cands(ch, c->b, start, fill - start, parts, np);
			rc = window_add(c, g, start, cut);
			start += cut;
		}
		rc = rc ?: submit_chunks(g, c);
		if (rc < 0 || (eof && start == fill) || atomic_load(&g->failed))
			break;
		/* the older window's jobs must end before its buffer is reused */
		if ((rc = window_finish(o, out)) < 0)
			break;
		memcpy(o->b, c->b + start, fill - start);
		np = rebase_parts(parts, np, start);
		fill -= start;
		start = 0;
		cur = 1 - cur;
	}
	/* the older window first: chunks go to out in order */
	int r1 = window_finish(&w[1 - cur], out);
	int r2 = window_finish(&w[cur], out);
	rc = rc ?: r1 ?: r2;
	for (int i = 0; i < 2; i++) {
		batch_release(&w[i].jobs);
		free(w[i].b);
		free(w[i].j);
		free(w[i].ids);
	}
	for (size_t i = 0; i < WIDE_MAX_PARTS; i++)
		free(parts[i].pos);
	return rc ?: atomic_load(&g->failed);
}

static int run(ingest *g, repo_session *rd, buf *rbuf, const ingest_source *src, int async,
	       seglist *out, ingest_status *st)
{
	int rc = async ? feed_wide(g, src, out, st) : feed(g, rd, rbuf, src, out, st);
	return rc < 0 ? note_failure(g, rc) : 0;
}

int ingest_stream(ingest *g, repo_session *rd, buf *rbuf, const ingest_source *src,
		  seglist *out, ingest_status *st)
{
	memset(st, 0, sizeof(*st));
	/* the length is unknown: a stream is as likely to be large as not */
	return run(g, rd, rbuf, src, g->seal != NULL, out, st);
}

static int fd_read(void *ud, size_t *out_n, uint8_t *p, size_t cap)
{
	int fd = *(int *)ud;
	for (;;) {
		ssize_t got = read(fd, p, cap);
		if (got >= 0) {
			*out_n = (size_t)got;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		/* a non-blocking descriptor (an inherited stdin, say): wait */
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return -errno;
	}
}

int ingest_fd(ingest *g, repo_session *rd, buf *rbuf, int fd, seglist *out, ingest_status *st)
{
	ingest_source src = { fd_read, &fd };
	return ingest_stream(g, rd, rbuf, &src, out, st);
}

/* One data extent [off, end) of a file, read with pread. */
typedef struct {
	int fd;
	uint64_t off, end;
	int ended_early;
} extent_source;

static int extent_read(void *ud, size_t *out_n, uint8_t *p, size_t cap)
{
	extent_source *x = ud;
	size_t want = cap;
	if (want > x->end - x->off)
		want = (size_t)(x->end - x->off);
	*out_n = 0;
	if (want == 0)
		return 0;
	for (;;) {
		ssize_t got = pread(x->fd, p, want, (off_t)x->off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			x->ended_early = 1;
		x->off += (uint64_t)got;
		*out_n = (size_t)got;
		return 0;
	}
}

int ingest_file(ingest *g, repo_session *rd, buf *rbuf, int fd, const struct stat *fst,
		seglist *out, ingest_status *st)
{
	memset(st, 0, sizeof(*st));
	uint64_t size = fst->st_size > 0 ? (uint64_t)fst->st_size : 0, off = 0;
	/* a file with as many blocks as bytes has no holes: skip the lseeks */
	int dense = (uint64_t)fst->st_blocks * 512 >= size;
	int async = g->seal && size >= INGEST_LARGE;
	int rc;
	while (off < size) {
		uint64_t data = off, hole = size;
		if (!dense) {
			off_t d = lseek(fd, (off_t)off, SEEK_DATA);
			if (d < 0 && errno == ENXIO)
				d = (off_t)size;
			else if (d < 0)
				d = (off_t)off; /* SEEK_DATA unsupported: all data */
			data = MIN((uint64_t)d, size);
			if (data > off && (rc = seglist_push(out, data - off, NULL)) < 0)
				return note_failure(g, rc);
			if (data >= size)
				break;
			off_t h = lseek(fd, (off_t)data, SEEK_HOLE);
			hole = (h < 0 || (uint64_t)h > size || (uint64_t)h <= data) ? size : (uint64_t)h;
		}
		extent_source x = { fd, data, hole, 0 };
		ingest_source src = { extent_read, &x };
		rc = run(g, rd, rbuf, &src, async, out, st);
		if (rc < 0 || st->source_err)
			return rc;
		if (x.ended_early) {
			st->ended_early = 1;
			return 0;
		}
		off = hole;
	}
	return 0;
}

/* ---- block devices ---- */

static int all_zero(const uint8_t *p, size_t n)
{
	/* each byte equals the next and the first is zero */
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Reads up to n bytes at off into p, fewer only at the end: *got. */
static int pread_full(int fd, uint8_t *p, size_t n, uint64_t off, size_t *got)
{
	*got = 0;
	while (*got < n) {
		ssize_t r = pread(fd, p + *got, n - *got, (off_t)(off + *got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

/*
 * A data run of a device: from off (a multiple of INGEST_ZERO_BLOCK) up
 * to the next all-zero block or the end.  The first block, already read,
 * waits in stage; a caller with less room than a block is served from
 * stage too, other reads go straight into the caller's buffer.
 */
typedef struct {
	int fd;
	uint64_t off, end; /* the next byte to read; the device size */
	uint8_t *stage;
	size_t stage_len, stage_pos;
	int zero;          /* the block at off is all zeros: the run ends there */
	int ended_early;
} device_source;

/* The length of the block at off, and whether it may be a hole. */
static size_t block_len(const device_source *x)
{
	return (size_t)MIN((uint64_t)INGEST_ZERO_BLOCK, x->end - x->off);
}

static int device_read(void *ud, size_t *out_n, uint8_t *p, size_t cap)
{
	device_source *x = ud;
	size_t got;
	int rc;
	*out_n = 0;
	if (x->stage_pos == x->stage_len && !x->zero && !x->ended_early && x->off < x->end) {
		size_t blk = block_len(x);
		if (cap >= blk) {
			/* whole blocks into the caller's buffer, up to 1 MiB */
			size_t want = cap >= INGEST_ZERO_BLOCK ? MIN(cap - cap % INGEST_ZERO_BLOCK, (size_t)1 << 20)
							       : blk;
			want = (size_t)MIN((uint64_t)want, x->end - x->off);
			if ((rc = pread_full(x->fd, p, want, x->off, &got)) < 0)
				return rc;
			x->ended_early = got < want;
			for (size_t k = 0; k < got; k += INGEST_ZERO_BLOCK) {
				size_t n = MIN(INGEST_ZERO_BLOCK, got - k);
				/* a hole is a whole block (or the device's last one) */
				if ((n == INGEST_ZERO_BLOCK || x->off + k + n == x->end) && all_zero(p + k, n)) {
					x->off += k;
					x->zero = 1;
					x->ended_early = 0; /* the run ends at the zero block */
					*out_n = k;
					return 0;
				}
			}
			x->off += got;
			*out_n = got;
			return 0;
		}
		if ((rc = pread_full(x->fd, x->stage, blk, x->off, &got)) < 0)
			return rc;
		x->ended_early = got < blk;
		if (got == blk && all_zero(x->stage, blk)) {
			x->zero = 1;
			return 0;
		}
		x->off += got;
		x->stage_len = got;
		x->stage_pos = 0;
	}
	size_t k = MIN(cap, x->stage_len - x->stage_pos);
	memcpy(p, x->stage + x->stage_pos, k);
	x->stage_pos += k;
	*out_n = k;
	return 0;
}

int ingest_device(ingest *g, repo_session *rd, buf *rbuf, int fd, uint64_t size, seglist *out,
		  ingest_status *st)
{
	memset(st, 0, sizeof(*st));
	_cleanup_free_ uint8_t *stage = malloc(INGEST_ZERO_BLOCK);
	if (!stage)
		return note_failure(g, -ENOMEM);
	int async = g->seal && size >= INGEST_LARGE, known_zero = 0, rc;
	uint64_t off = 0;
	while (off < size) {
		/* the zero run from off, up to the first block with data */
		uint64_t z = off;
		size_t staged = 0, got = 0;
		while (off < size) {
			size_t blk = (size_t)MIN((uint64_t)INGEST_ZERO_BLOCK, size - off);
			if (!known_zero) {
				if ((rc = pread_full(fd, stage, blk, off, &got)) < 0) {
					st->source_err = rc;
					return 0;
				}
				if (got < blk)
					st->ended_early = 1;
				if (!all_zero(stage, got)) {
					staged = got;
					break;
				}
				blk = got;
			}
			known_zero = 0;
			count_read(g, st, blk);
			off += blk;
			if (st->ended_early)
				break;
		}
		if (off > z && (rc = seglist_push(out, off - z, NULL)) < 0)
			return note_failure(g, rc);
		if (!staged)
			return 0; /* the end (or the device ended early) */
		/* the data run that starts with the staged block */
		device_source x = { fd, off + staged, size, stage, staged, 0, 0, st->ended_early };
		ingest_status part;
		memset(&part, 0, sizeof(part));
		ingest_source src = { device_read, &x };
		rc = run(g, rd, rbuf, &src, async, out, &part);
		st->bytes += part.bytes;
		if (rc < 0 || part.source_err) {
			st->source_err = part.source_err;
			return rc;
		}
		if (x.ended_early) {
			st->ended_early = 1;
			return 0;
		}
		off = x.off;
		known_zero = x.zero;
	}
	return 0;
}
