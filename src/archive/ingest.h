/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ingest: contents into data blobs.  The bytes of a source are cut into
 * content-defined chunks (the repository's chunker), each chunk gets its
 * keyed id, and chunks not yet stored are compressed, sealed and saved.
 * The result is a seglist: the chunk ids and hole runs a tree node
 * records for a file.
 *
 * Sources:
 *   - ingest_file(): a regular file, read by its data extents with pread
 *     (SEEK_DATA/SEEK_HOLE): holes are recorded as such, never read.
 *   - ingest_fd(): any descriptor read sequentially with read() until its
 *     end: a pipe, stdin, a socket, a block device, a command's output.
 *   - ingest_stream(): any source given as a read callback.
 *   - ingest_device(): a block device (or any descriptor read with pread
 *     to a known size), whose aligned all-zero blocks of INGEST_ZERO_BLOCK
 *     bytes become holes, so that an empty part of a disk is neither
 *     stored nor written back on restore.
 *
 * Chunk boundaries depend only on the bytes.  The buffer is refilled until
 * at least the chunker's maximum chunk size is ahead of the next cut (or
 * the source has ended), whatever sizes the reads return, so the same
 * bytes give the same chunks whether they come from a file, through a pipe
 * in odd-sized pieces or from a callback.  (A file with holes restarts
 * the chunker after each hole, as its data extents are separate runs.)
 *
 * Memory is bounded whatever the length of the source: one buffer of the
 * maximum chunk size + 1 MiB per calling thread (the caller's rbuf), and on
 * the seal pool at most one chunk per seal thread plus one queued.  Only
 * the seglist grows with the source (41 bytes per chunk, which the tree
 * node records in any case).
 *
 * Errors: the source's own failures (open is the caller's; read, pread,
 * poll) end the call with 0 and ingest_status.source_err set, so that the
 * caller reports them as the source's (a warning for a file of a walk);
 * a negative return is the repository's failure (fatal for a backup).  The
 * first such failure of any thread, with its message, is kept: messages
 * are thread-local, ingest_error() reports it in the calling thread.
 *
 * Threads: one ingest is shared by every thread of a job; each call needs
 * the calling thread's own repo_session and buffer.  Input of
 * INGEST_LARGE bytes or more (and every stream) spreads its chunks over a
 * seal pool, so that one large file or stream uses every core.
 */
#ifndef DV_ARCHIVE_INGEST_H
#define DV_ARCHIVE_INGEST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../base/buf.h"
#include "../repo/repo.h"
#include "../repo/session.h"
#include "seglist.h"

/* Files at least this large use the seal pool. */
#define INGEST_LARGE ((uint64_t)4 << 20)
/*
 * ingest_device: the unit of zero detection.  Blocks at multiples of it
 * from offset 0 that hold only zeros are holes; boundaries so depend on
 * the bytes alone, and an unchanged region chunks the same way each time.
 * Small enough to find the free space of a file system (whose block
 * groups and allocations are far larger), large enough that the holes
 * between small data runs do not split them into tiny chunks.
 */
#define INGEST_ZERO_BLOCK ((size_t)64 << 10)

typedef struct ingest ingest;

typedef struct {
	repo *r;
	int seal_threads;                /* > 1: a seal pool of that many threads */
	atomic_uint_fast64_t *progress;  /* NULL, or a counter of bytes read */
} ingest_params;

int ingest_new(ingest **out, const ingest_params *p);
/*
 * Waits until every chunk handed to the seal pool is saved.  Returns 0 or
 * the code of the first failure of any thread (messages untouched).
 */
int ingest_wait(ingest *g);
/*
 * The first failure of any thread with its message set in this thread, or
 * 0.  Call it when no other thread is inside an ingest call any more.
 */
int ingest_error(ingest *g);
/* NULL-safe; waits for the seal pool. */
void ingest_free(ingest *g);
/* Data bytes read by every call so far (holes of files are not read). */
uint64_t ingest_bytes_read(ingest *g);
/*
 * Bytes of the chunks that were not yet in the repository when they were
 * cut (before compression): what deduplication did not save.
 */
uint64_t ingest_bytes_new(ingest *g);

/* What became of the source of one call. */
typedef struct {
	int source_err;    /* 0, or the negative errno the source failed with */
	int ended_early;   /* ingest_file: fewer bytes than the size (it shrank) */
	uint64_t bytes;    /* data bytes read */
} ingest_status;

/*
 * A sequential source.  read() stores up to cap bytes at p and their count
 * in *out_n (0 only at the end of the source) and returns 0, or returns a
 * negative errno.  Short reads are fine; retrying EINTR is the source's.
 */
typedef struct {
	int (*read)(void *ud, size_t *out_n, uint8_t *p, size_t cap);
	void *ud;
} ingest_source;

/*
 * Chunks, identifies and stores everything src gives until its end,
 * appending to out.  Returns 0 (see st: on a source failure, out holds the
 * segments of what was read before it) or a negative repository error.
 * rbuf is the calling thread's buffer, kept for the next call.
 */
int ingest_stream(ingest *g, repo_session *rd, buf *rbuf, const ingest_source *src,
		  seglist *out, ingest_status *st);
/* ingest_stream() over read(fd) (EINTR retried, EAGAIN waited for). */
int ingest_fd(ingest *g, repo_session *rd, buf *rbuf, int fd, seglist *out, ingest_status *st);
/*
 * A regular file fd of fst->st_size bytes (fst from fstat), extent by
 * extent; holes become hole segments.  A file that ends early is
 * st->ended_early, the segments describe what was read.
 */
int ingest_file(ingest *g, repo_session *rd, buf *rbuf, int fd, const struct stat *fst,
		seglist *out, ingest_status *st);
/*
 * The size bytes of fd (a block device), read in order with pread; data
 * runs are chunked, aligned zero blocks become holes (read, not stored).
 * Ending early is st->ended_early, as for ingest_file().
 */
int ingest_device(ingest *g, repo_session *rd, buf *rbuf, int fd, uint64_t size, seglist *out,
		  ingest_status *st);

#endif
