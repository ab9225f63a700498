/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * restore: writes a snapshot's files under a target directory.
 *
 * Safety: every file system call is relative to a directory descriptor
 * opened with O_NOFOLLOW, and every name is checked (no "", ".", "..",
 * '/', NUL) before use, so nothing is ever written outside the target,
 * whatever the tree says and whatever symlinks exist in the target.
 * Metadata of a directory is applied after its children.  Holes of
 * sparse files are left unwritten.  Hard links are restored as links.
 */
#ifndef DV_JOBS_RESTORE_H
#define DV_JOBS_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "../repo/repo.h"
#include "progress.h"

typedef struct {
	const char *target;
	char **includes;
	size_t nincludes;
	int verify;  /* re-hash every blob read */
	int threads; /* file writers; <= 1: all in the calling thread */
} restore_opts;

typedef struct {
	uint64_t files, dirs, others, bytes;
	uint64_t errors;        /* entries not restored or restored wrongly */
	uint64_t not_permitted; /* metadata a non-root user may not set */
	int as_root;
} restore_stats;

int restore_run(repo *r, const snapshot *s, const restore_opts *o, job_progress *prog,
		restore_stats *out);

#endif
