/* SPDX-License-Identifier: BSD-2-Clause */
#include "backup_file.h"
#include "worker.h"
#include "../archive/change.h"
#include "../base/cleanup.h"
#include "../base/err.h"
#include "../base/fsio.h"
#include "../base/log.h"
#include "../base/workq.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct backup_file_pool {
	repo *r;
	ingest *g;
	job_progress *prog;
	atomic_uint_fast64_t *errors;
	atomic_uint_fast64_t changed;
	workq *wq;            /* NULL: every job runs inline */
	repo_session *inline_rd;
	buf inline_rbuf;
	pthread_mutex_t lock;
	pthread_cond_t job_done;
};

static void job_warn(backup_file_pool *p, backup_file *j, const char *what, int code)
{
	log_warn("%s '%s': %s", what, j->qpath, err_str(code));
	atomic_fetch_add(p->errors, 1);
	atomic_fetch_add(&p->prog->errors, 1);
	j->skipped = 1;
}

/* Still what the walk saw: the same inode, of the same kind. */
static int same_entry(const backup_file *j, const struct stat *st)
{
	if (st->st_ino != j->st.st_ino)
		return 0;
	return j->device ? S_ISBLK(st->st_mode) && st->st_rdev == j->st.st_rdev : S_ISREG(st->st_mode);
}

static void job_read(backup_file_pool *p, backup_file *j, repo_session *rd, buf *rbuf)
{
	int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (j->follow ? 0 : O_NOFOLLOW);
	_cleanup_close_ int fd = openat(j->dirfd, j->name, flags | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(j->dirfd, j->name, flags);
	if (fd < 0) {
		job_warn(p, j, errno == ENOENT ? "file vanished" : "cannot read", -errno);
		return;
	}
	struct stat before;
	if (fstat(fd, &before) < 0 || !same_entry(j, &before)) {
		job_warn(p, j, "file replaced during backup", -ESTALE);
		return;
	}
	j->st = before;
	ingest_status st;
	uint64_t size = 0;
	int rc = 0;
	if (j->device && (rc = fsio_blockdev_size(fd, &size)) < 0) {
		job_warn(p, j, "cannot read the size of device", rc);
		return;
	}
	rc = j->device ? ingest_device(p->g, rd, rbuf, fd, size, &j->segs, &st)
		       : ingest_file(p->g, rd, rbuf, fd, &before, &j->segs, &st);
	if (rc < 0) {
		j->rc = rc;
		return;
	}
	if (st.source_err) {
		job_warn(p, j, "cannot read", st.source_err);
		return;
	}
	/* a device node's times say nothing about its contents */
	struct stat after;
	if (st.ended_early ||
	    (!j->device && (fstat(fd, &after) < 0 || !change_same_version(&before, &after)))) {
		log_warn("file changed while being read '%s': the stored copy may be inconsistent", j->qpath);
		atomic_fetch_add(&p->changed, 1);
	}
}

static void job_check(backup_file_pool *p, backup_file *j)
{
	for (size_t i = 0; i < j->ncheck; i++)
		j->check_ok[i] = (uint8_t)change_segs_are_stored(p->r, j->check[i]);
}

static void job_run(backup_file_pool *p, backup_file *j, repo_session *rd, buf *rbuf)
{
	if (j->check)
		job_check(p, j);
	else
		job_read(p, j, rd, rbuf);
}

static void job_finish(backup_file_pool *p, backup_file *j)
{
	pthread_mutex_lock(&p->lock);
	atomic_store(&j->done, 1);
	pthread_cond_broadcast(&p->job_done);
	pthread_mutex_unlock(&p->lock);
}

static void pool_job_run(void *state, void *arg)
{
	job_worker *w = state;
	backup_file *j = arg;
	job_run(j->pool, j, w->rd, &w->data);
	job_finish(j->pool, j);
}

int backup_file_pool_new(backup_file_pool **out, const backup_file_params *bp)
{
	backup_file_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->r = bp->r;
	p->g = bp->ingest;
	p->prog = bp->prog;
	p->errors = bp->errors;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->job_done, NULL);
	int rc = repo_session_new(&p->inline_rd, p->r);
	if (rc == 0 && bp->threads > 1) {
		/* four queued per thread: the walk rarely waits for room */
		workq_params wp = { bp->threads, (size_t)bp->threads * 4, pool_job_run,
				    job_worker_new, job_worker_free, p->r };
		rc = workq_new(&p->wq, &wp);
	}
	if (rc < 0) {
		backup_file_pool_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void backup_file_pool_free(backup_file_pool *p)
{
	if (!p)
		return;
	workq_free(p->wq);
	repo_session_free(p->inline_rd);
	buf_release(&p->inline_rbuf);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->job_done);
	free(p);
}

uint64_t backup_file_pool_changed(backup_file_pool *p)
{
	return atomic_load(&p->changed);
}

int backup_file_new(backup_file **out, int dirfd, const char *name, const char *qpath,
		    const struct stat *st)
{
	backup_file *j = calloc(1, sizeof(*j));
	if (!j || !(j->qpath = strdup(qpath))) {
		free(j);
		return -ENOMEM;
	}
	j->dirfd = dirfd;
	j->name = name;
	j->st = *st;
	*out = j;
	return 0;
}

int backup_file_new_check(backup_file **out, const seglist **lists, uint8_t *ok, size_t n)
{
	backup_file *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->dirfd = -1;
	j->check = lists;
	j->check_ok = ok;
	j->ncheck = n;
	*out = j;
	return 0;
}

void backup_file_free(backup_file *j)
{
	if (!j)
		return;
	free(j->qpath);
	seglist_release(&j->segs);
	free(j);
}

int backup_file_start(backup_file_pool *p, backup_file *j, int run_inline)
{
	j->pool = p;
	if (run_inline || !p->wq) {
		job_run(p, j, p->inline_rd, &p->inline_rbuf);
		atomic_store(&j->done, 1);
		return 0;
	}
	int rc = workq_submit(p->wq, j);
	if (rc < 0) {
		j->rc = rc;
		atomic_store(&j->done, 1); /* nobody may wait for it forever */
	}
	return rc;
}

int backup_file_is_done(backup_file *j)
{
	/* the store that sets it follows every write of the job */
	return atomic_load(&j->done);
}

void backup_file_wait(backup_file_pool *p, backup_file *j)
{
	pthread_mutex_lock(&p->lock);
	while (!atomic_load(&j->done))
		pthread_cond_wait(&p->job_done, &p->lock);
	pthread_mutex_unlock(&p->lock);
}
