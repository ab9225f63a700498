/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The ingest pipeline over a repository in a temporary directory: the same
 * bytes give the same segments as a file, through a pipe and from a
 * callback in odd-sized reads; the segments reassemble the exact bytes;
 * holes stay holes; a failing source is reported as the source's.
 */
#include "harness.h"
#include "archive/ingest.h"
#include "base/cleanup.h"
#include "base/err.h"
#include "core/blob.h"
#include "core/chunker.h"
#include "repo/repo.h"
#include "repo/session.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

/* Small chunks, so a few MiB make a few hundred of them. */
static const chunker_params small = { 16u << 10, 64u << 10, 256u << 10 };

/* more than two windows of the wide pipeline (8 MiB each) */
#define DATA_LEN ((size_t)(19u << 20) + 12345)

static char dir[64];

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

/* A fresh repository; the caller frees it and removes dir. */
static repo *new_repo(void)
{
	char path[128];
	snprintf(dir, sizeof(dir), "/tmp/dvalin-unit-XXXXXX");
	if (!mkdtemp(dir))
		return NULL;
	snprintf(path, sizeof(path), "%s/repo", dir);
	repo_init_params ip = REPO_INIT_PARAMS_INIT;
	ip.chunker = small;
	ip.kdf.log_n = 10;
	repo *r = NULL;
	backend *be = NULL;
	int rc = backend_open(path, BACKEND_OPEN_CREATE, &be);
	rc = rc ?: repo_create(be, "pw", &ip);
	backend_free(be);
	be = NULL;
	rc = rc ?: backend_open(path, 0, &be);
	rc = rc ?: repo_open(&r, be, "pw", 3); /* takes be over */
	return rc < 0 ? NULL : r;
}

/* A repository, a pipeline over it, and one thread's session and buffer. */
typedef struct {
	repo *r;
	ingest *g;
	repo_session *rd;
	buf rbuf;
} fixture;

static int fixture_open(fixture *f, int seal_threads, atomic_uint_fast64_t *progress)
{
	memset(f, 0, sizeof(*f));
	if (!(f->r = new_repo()))
		return -1;
	ingest_params ip = { f->r, seal_threads, progress };
	if (ingest_new(&f->g, &ip) < 0 || repo_session_new(&f->rd, f->r) < 0)
		return -1;
	return 0;
}

static void fixture_close(fixture *f)
{
	buf_release(&f->rbuf);
	repo_session_free(f->rd);
	ingest_free(f->g);
	repo_free(f->r);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Data with repeats, so some chunks deduplicate within the stream. */
static uint8_t *make_data(void)
{
	uint8_t *d = malloc(DATA_LEN);
	if (!d)
		return NULL;
	test_fill(d, DATA_LEN, 42);
	memcpy(d + (3u << 20), d + 100000, 1u << 20);
	return d;
}

/* A callback source giving the bytes in odd-sized pieces. */
typedef struct {
	const uint8_t *p;
	size_t len, off, calls;
	size_t fail_at; /* fail with -EIO once this much was given (0: never) */
} odd_source;

static int odd_read(void *ud, size_t *out_n, uint8_t *p, size_t cap)
{
	static const size_t sizes[] = { 1, 7, 4093, 65537, 3, 131071, 999, 300007 };
	odd_source *s = ud;
	if (s->fail_at && s->off >= s->fail_at)
		return -EIO;
	size_t n = sizes[s->calls++ % ARRAY_SIZE(sizes)];
	n = MIN(n, cap);
	n = MIN(n, s->len - s->off);
	memcpy(p, s->p + s->off, n);
	s->off += n;
	*out_n = n;
	return 0;
}

/* Writes the bytes into a pipe in odd-sized writes. */
typedef struct {
	int fd;
	const uint8_t *p;
	size_t len;
} pipe_writer;

static void *write_pipe(void *arg)
{
	static const size_t sizes[] = { 5, 70001, 3, 8191, 65536, 1, 200003 };
	pipe_writer *w = arg;
	size_t off = 0;
	for (size_t i = 0; off < w->len; i++) {
		size_t n = MIN(sizes[i % ARRAY_SIZE(sizes)], w->len - off);
		ssize_t got = write(w->fd, w->p + off, n);
		if (got <= 0)
			break;
		off += (size_t)got;
	}
	close(w->fd);
	return NULL;
}

static int same_segs(const seglist *a, const seglist *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].len != b->v[i].len || a->v[i].hole != b->v[i].hole ||
		    (!a->v[i].hole && memcmp(a->v[i].id, b->v[i].id, 32) != 0))
			return 0;
	return 1;
}

/* The segments' bytes (holes as zeros) equal want[0..len). */
static int reassembles(repo *r, const seglist *s, const uint8_t *want, size_t len)
{
	buf b = BUF_INIT;
	size_t off = 0;
	int ok = 1;
	for (size_t i = 0; ok && i < s->n; i++) {
		const seglist_seg *g = &s->v[i];
		if (g->len > len - off) {
			ok = 0;
			break;
		}
		if (g->hole) {
			for (size_t k = 0; ok && k < g->len; k++)
				ok = want[off + k] == 0;
		} else {
			ok = repo_load_blob(r, BLOB_DATA, g->id, &b) == 0 && b.len == g->len &&
			     memcmp(b.data, want + off, g->len) == 0;
		}
		off += g->len;
	}
	buf_release(&b);
	return ok && off == len;
}

TEST(stream_segments_equal_file_segments_and_reassemble)
{
	signal(SIGPIPE, SIG_IGN);
	fixture f;
	atomic_uint_fast64_t progress = 0;
	REQUIRE(fixture_open(&f, 3, &progress) == 0);
	repo *r = f.r;
	ingest *g = f.g;
	uint8_t *data = make_data();
	REQUIRE(data);
	seglist as_file = SEGLIST_INIT, as_pipe = SEGLIST_INIT, as_calls = SEGLIST_INIT;
	ingest_status st;

	/* a file, by its extents */
	char path[128];
	snprintf(path, sizeof(path), "%s/data", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, data, DATA_LEN) == (ssize_t)DATA_LEN);
	struct stat fst;
	REQUIRE(fstat(fd, &fst) == 0);
	CHECK(ingest_file(g, f.rd, &f.rbuf, fd, &fst, &as_file, &st) == 0);
	CHECK(st.source_err == 0 && !st.ended_early && st.bytes == DATA_LEN);
	close(fd);

	/* a pipe, written in odd sizes by another thread */
	int p[2];
	REQUIRE(pipe(p) == 0);
	pipe_writer pw = { p[1], data, DATA_LEN };
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, write_pipe, &pw) == 0);
	CHECK(ingest_fd(g, f.rd, &f.rbuf, p[0], &as_pipe, &st) == 0);
	CHECK(st.source_err == 0 && st.bytes == DATA_LEN);
	pthread_join(t, NULL);
	close(p[0]);

	/* a callback, in odd-sized reads */
	odd_source os = { data, DATA_LEN, 0, 0, 0 };
	ingest_source src = { odd_read, &os };
	CHECK(ingest_stream(g, f.rd, &f.rbuf, &src, &as_calls, &st) == 0);
	CHECK(st.source_err == 0 && st.bytes == DATA_LEN);
	CHECK(os.calls > 100);

	REQUIRE(ingest_wait(g) == 0);
	REQUIRE(ingest_error(g) == 0);
	REQUIRE(repo_flush(r) == 0);
	CHECK(ingest_bytes_read(g) == 3 * DATA_LEN);
	CHECK(atomic_load(&progress) == 3 * DATA_LEN);

	/* the boundaries are the chunker's over the whole buffer */
	const chunker *ch = repo_chunker(r);
	size_t off = 0, i = 0;
	int cuts_ok = 1;
	for (; off < DATA_LEN && i < as_file.n; i++) {
		size_t cut = chunker_cut(ch, data + off, DATA_LEN - off);
		uint8_t id[32];
		repo_blob_id(r, id, data + off, cut);
		cuts_ok &= !as_file.v[i].hole && as_file.v[i].len == cut &&
			   memcmp(as_file.v[i].id, id, 32) == 0;
		off += cut;
	}
	CHECK(cuts_ok && off == DATA_LEN && i == as_file.n);
	CHECK(as_file.n > 50);
	CHECK(same_segs(&as_file, &as_pipe));
	CHECK(same_segs(&as_file, &as_calls));
	CHECK(seglist_size(&as_pipe) == DATA_LEN);
	CHECK(reassembles(r, &as_pipe, data, DATA_LEN));
	CHECK(reassembles(r, &as_calls, data, DATA_LEN));

	seglist_release(&as_file);
	seglist_release(&as_pipe);
	seglist_release(&as_calls);
	free(data);
	fixture_close(&f);
}

TEST(file_holes_stay_holes)
{
	fixture f;
	REQUIRE(fixture_open(&f, 1, NULL) == 0);
	repo *r = f.r;
	ingest *g = f.g;
	uint8_t *data = calloc(1, 8u << 20);
	REQUIRE(data);
	/* data | 3 MiB hole | data | hole to the end */
	test_fill(data, 1u << 20, 7);
	test_fill(data + (4u << 20), (1u << 20) + 333, 8);
	char path[128];
	snprintf(path, sizeof(path), "%s/sparse", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(pwrite(fd, data, 1u << 20, 0) == 1 << 20);
	REQUIRE(pwrite(fd, data + (4u << 20), (1u << 20) + 333, 4 << 20) == (1 << 20) + 333);
	REQUIRE(ftruncate(fd, 8 << 20) == 0);
	struct stat fst;
	REQUIRE(fstat(fd, &fst) == 0);
	seglist s = SEGLIST_INIT;
	ingest_status st;
	CHECK(ingest_file(g, f.rd, &f.rbuf, fd, &fst, &s, &st) == 0);
	CHECK(st.source_err == 0 && !st.ended_early);
	close(fd);
	REQUIRE(ingest_error(g) == 0);
	REQUIRE(repo_flush(r) == 0);
	CHECK(seglist_size(&s) == 8u << 20);
	CHECK(reassembles(r, &s, data, 8u << 20));
	uint64_t holes = 0;
	for (size_t i = 0; i < s.n; i++)
		holes += s.v[i].hole ? s.v[i].len : 0;
	/* where the file system keeps holes, none of them was read */
	if ((uint64_t)fst.st_blocks * 512 < (3u << 20)) {
		CHECK(holes >= (5u << 20) && st.bytes <= (3u << 20));
		CHECK(holes + st.bytes == 8u << 20);
	}
	seglist_release(&s);
	free(data);
	fixture_close(&f);
}

TEST(source_failure_is_the_sources)
{
	fixture f;
	REQUIRE(fixture_open(&f, 2, NULL) == 0);
	repo *r = f.r;
	ingest *g = f.g;
	uint8_t *data = make_data();
	REQUIRE(data);
	seglist s = SEGLIST_INIT;
	ingest_status st;
	odd_source os = { data, DATA_LEN, 0, 0, 3u << 20 };
	ingest_source src = { odd_read, &os };
	CHECK(ingest_stream(g, f.rd, &f.rbuf, &src, &s, &st) == 0);
	CHECK(st.source_err == -EIO);
	CHECK(st.bytes >= (3u << 20) && st.bytes < DATA_LEN);
	/* the repository is fine: no failure of its own was recorded */
	CHECK(ingest_error(g) == 0);
	REQUIRE(repo_flush(r) == 0);
	/* what was cut before the failure is stored and is a prefix */
	CHECK(seglist_size(&s) <= st.bytes);
	CHECK(reassembles(r, &s, data, (size_t)seglist_size(&s)));
	seglist_release(&s);
	free(data);
	fixture_close(&f);
}

/*
 * The segments a device of these bytes must give: aligned zero blocks
 * (whole, or the last one) as holes, each run between them chunked on
 * its own, as a file's extents are.
 */
static int device_segs_expected(repo *r, const uint8_t *d, size_t len, seglist *out)
{
	const chunker *ch = repo_chunker(r);
	size_t off = 0;
	while (off < len) {
		size_t start = off;
		int zero = 1;
		for (size_t k = 0; zero && k < MIN(INGEST_ZERO_BLOCK, len - off); k++)
			zero = d[off + k] == 0;
		/* a run of blocks of the same kind */
		while (off < len) {
			size_t n = MIN(INGEST_ZERO_BLOCK, len - off);
			int z = 1;
			for (size_t k = 0; z && k < n; k++)
				z = d[off + k] == 0;
			if (z != zero)
				break;
			off += n;
		}
		if (zero) {
			if (seglist_push(out, off - start, NULL) < 0)
				return -1;
			continue;
		}
		for (size_t p = start; p < off;) {
			size_t cut = chunker_cut(ch, d + p, off - p);
			uint8_t id[32];
			repo_blob_id(r, id, d + p, cut);
			if (seglist_push(out, cut, id) < 0)
				return -1;
			p += cut;
		}
	}
	return 0;
}

TEST(device_zero_blocks_become_holes)
{
	fixture f;
	REQUIRE(fixture_open(&f, 3, NULL) == 0);
	const size_t len = (4u << 20) + 1000, zb = INGEST_ZERO_BLOCK;
	uint8_t *data = calloc(1, len);
	REQUIRE(data);
	test_fill(data, 200u << 10, 11);                 /* data ending inside a block */
	data[(2u << 20) + 50] = 1;                       /* one byte: its block is data */
	test_fill(data + (2u << 20) + zb + 100, 3000, 12);
	/* a block's worth of zeros, not aligned: no hole */
	test_fill(data + (2u << 20) + 2 * zb + 200, zb + 5000, 13);
	test_fill(data + (3u << 20), 10, 14);            /* then zeros to a partial last block */
	char path[128];
	snprintf(path, sizeof(path), "%s/device", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, data, len) == (ssize_t)len);
	seglist a = SEGLIST_INIT, b = SEGLIST_INIT, want = SEGLIST_INIT;
	ingest_status st;
	CHECK(ingest_device(f.g, f.rd, &f.rbuf, fd, len, &a, &st) == 0);
	CHECK(st.source_err == 0 && !st.ended_early && st.bytes == len);
	/* the same bytes again: the same segments (and nothing new stored);
	 * the first pass's blobs are sealed in the background, so wait for
	 * them before counting, or a slow machine counts them twice */
	REQUIRE(ingest_wait(f.g) == 0);
	uint64_t new_before = ingest_bytes_new(f.g);
	CHECK(ingest_device(f.g, f.rd, &f.rbuf, fd, len, &b, &st) == 0);
	REQUIRE(ingest_wait(f.g) == 0);
	CHECK(ingest_bytes_new(f.g) == new_before);
	/* a device that ends before its size: what was there, and flagged */
	seglist c = SEGLIST_INIT;
	CHECK(ingest_device(f.g, f.rd, &f.rbuf, fd, len + zb, &c, &st) == 0);
	CHECK(st.ended_early && seglist_size(&c) == len);
	close(fd);
	REQUIRE(ingest_error(f.g) == 0);
	REQUIRE(repo_flush(f.r) == 0);
	REQUIRE(device_segs_expected(f.r, data, len, &want) == 0);
	CHECK(same_segs(&a, &want));
	CHECK(same_segs(&a, &b));
	CHECK(reassembles(f.r, &a, data, len));
	uint64_t holes = 0;
	size_t nholes = 0;
	for (size_t i = 0; i < a.n; i++) {
		holes += a.v[i].hole ? a.v[i].len : 0;
		nholes += a.v[i].hole;
	}
	/* [256 KiB, 2 MiB), [2 MiB + 256 KiB, 3 MiB), [3 MiB + 64 KiB, the end) */
	CHECK(nholes == 3);
	CHECK(holes > (3u << 20) && holes < len);
	seglist_release(&a);
	seglist_release(&b);
	seglist_release(&c);
	seglist_release(&want);
	free(data);
	fixture_close(&f);
}
