/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * backup_file: the file jobs of a backup.  The walk hands every regular
 * file whose contents it must read to a job, which opens it relative to
 * its directory (O_NOFOLLOW; O_NOATIME where allowed), checks that it is
 * still the inode the walk saw, reads it through the ingest pipeline, and
 * notices a change during the read (fstat before and after).  A block
 * device (--read-devices) is read by content to its full size, its
 * zero blocks as holes (ingest_device()).
 *
 * Jobs run on a pool of threads, each with its own repository session and
 * read buffer, or inline in the walking thread (one thread, or on
 * request).  The walk owns every job: it starts it, waits for it and
 * frees it; a job's directory descriptor must stay open until it is done.
 * A file that cannot be read is a warning (counted, the job is `skipped`);
 * a repository failure is the job's `rc` (fatal).
 *
 * A check job (backup_file_new_check) reads no file: it confirms that
 * every chunk of the reused chunk lists of a directory's unchanged files
 * is still in the index, so those lookups (a pread each in a large
 * repository) run beside the walk instead of inside it.
 */
#ifndef DV_JOBS_BACKUP_FILE_H
#define DV_JOBS_BACKUP_FILE_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../archive/ingest.h"
#include "../archive/seglist.h"
#include "../repo/repo.h"
#include "../repo/session.h"
#include "progress.h"

typedef struct backup_file_pool backup_file_pool;

typedef struct {
	backup_file_pool *pool; /* set by backup_file_start() */
	int dirfd;
	const char *name;  /* in dirfd; kept by the caller */
	char *qpath;       /* quoted path for messages (owned) */
	struct stat st;    /* in: from the walk; out: fstat of the opened file */
	seglist segs;      /* the contents, once done */
	int device;        /* a block device, read by content (--read-devices) */
	int follow;        /* name may be a symlink to follow (a path given to back up) */
	int rc;            /* a fatal error (the repository failed) */
	int skipped;       /* could not be read: warned, to be left out */
	atomic_int done;   /* set (under the pool's lock) when finished */
	/* a check job: lists to confirm, and for each 1 if all is stored */
	const seglist **check;
	uint8_t *check_ok;
	size_t ncheck;
} backup_file;

typedef struct {
	repo *r;
	ingest *ingest;
	int threads;                     /* <= 1: every job runs inline */
	job_progress *prog;              /* prog->errors counts the warnings */
	atomic_uint_fast64_t *errors;    /* so does this */
} backup_file_params;

int backup_file_pool_new(backup_file_pool **out, const backup_file_params *p);
/* Waits for every job and frees the pool.  NULL-safe. */
void backup_file_pool_free(backup_file_pool *p);
/* Files that changed while they were read (warned, stored as read). */
uint64_t backup_file_pool_changed(backup_file_pool *p);

/* A job for dirfd/name, which the walk saw as st; qpath is copied. */
int backup_file_new(backup_file **out, int dirfd, const char *name, const char *qpath,
		    const struct stat *st);
/* A check job for n chunk lists (borrowed until it is done; ok is the
 * caller's array of n results). */
int backup_file_new_check(backup_file **out, const seglist **lists, uint8_t *ok, size_t n);
/* NULL-safe; the job must be done (or never started). */
void backup_file_free(backup_file *j);
/*
 * Runs j on the pool, or now in this thread when run_inline is set or the
 * pool has no threads (then it is done on return).
 */
int backup_file_start(backup_file_pool *p, backup_file *j, int run_inline);
/* 1 when j is done. */
int backup_file_is_done(backup_file *j);
void backup_file_wait(backup_file_pool *p, backup_file *j);

#endif
