/* SPDX-License-Identifier: BSD-2-Clause */
#include "backup_scan.h"
#include "../archive/tree.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct backup_scan {
	pthread_t thread;
	atomic_int stop;
	job_progress *prog;
	char **paths;
	size_t npaths;
	int one_fs;
	int base_depth; /* depth of the path being scanned, from "/" */
};

/* nftw() passes no user pointer: the scanning thread's own scan */
static _Thread_local backup_scan *scan_self;

static int depth_of(const char *path)
{
	int d = 0;
	for (const char *p = path; *p; p++)
		d += p[0] == '/' && p[1] && p[1] != '/';
	return d;
}

static int scan_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	backup_scan *sc = scan_self;
	if (atomic_load(&sc->stop))
		return FTW_STOP;
	if (flag == FTW_F && S_ISREG(st->st_mode)) {
		atomic_fetch_add(&sc->prog->est_bytes, (uint64_t)st->st_size);
		atomic_fetch_add(&sc->prog->est_files, 1);
	}
	/* nftw recurses: the limit also keeps its stack bounded */
	if (flag == FTW_D && sc->base_depth + ftw->level >= TREE_MAX_DEPTH)
		return FTW_SKIP_SUBTREE;
	return FTW_CONTINUE;
}

static void *scan_run(void *arg)
{
	backup_scan *sc = arg;
	scan_self = sc;
	int flags = FTW_PHYS | FTW_ACTIONRETVAL | (sc->one_fs ? FTW_MOUNT : 0);
	for (size_t i = 0; i < sc->npaths && !atomic_load(&sc->stop); i++) {
		sc->base_depth = depth_of(sc->paths[i]);
		nftw(sc->paths[i], scan_visit, 64, flags);
	}
	return NULL;
}

int backup_scan_start(backup_scan **out, job_progress *prog, char **paths, size_t n, int one_fs)
{
	backup_scan *sc = calloc(1, sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	sc->prog = prog;
	sc->paths = paths;
	sc->npaths = n;
	sc->one_fs = one_fs;
	int rc = pthread_create(&sc->thread, NULL, scan_run, sc);
	if (rc) {
		free(sc);
		return -rc;
	}
	*out = sc;
	return 0;
}

void backup_scan_stop(backup_scan *sc)
{
	if (!sc)
		return;
	atomic_store(&sc->stop, 1);
	pthread_join(sc->thread, NULL);
	free(sc);
}
