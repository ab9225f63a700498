/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * journal: the change journal's file (docs/journal.md, version 1) and
 * what a backup takes from it: the set of directories to walk.
 *
 * The recorder (journal_rec.h) writes the file; a backup with --journal
 * asks it for a sync point and reads it here.  Either the journal proves
 * that it saw every change since the parent snapshot's walk started, and
 * the result is the "dirty" set (the changed directories below the paths
 * and all their ancestors), or the answer is a full walk with one line
 * saying why.
 */
#ifndef DV_JOBS_JOURNAL_H
#define DV_JOBS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "../base/buf.h"

#define JOURNAL_MAGIC "dvalin-journal 1"
/* The FIFO a backup asks for a sync point through: FILE + this. */
#define JOURNAL_SYNC_SUFFIX ".sync"
/* Distinct paths in a dirty set; more: a full walk. */
#define JOURNAL_DIRTY_MAX 1000000
/* Slack for the real-time clock's resolution, in ns. */
#define JOURNAL_SLACK_NS 1000000000LL

/* A sorted set of absolute paths. */
typedef struct {
	char **v;
	size_t n;
} journal_set;

/* Appends path escaped as in the file (bytes outside 0x21..0x7e and '\' as \xHH). */
int journal_escape(buf *out, const char *path);
/* The real-time clock in ns since the epoch. */
int64_t journal_now(void);

typedef struct {
	const char *file;
	char **paths;          /* absolute, normalized, sorted */
	size_t npaths;
	int one_file_system;
	int64_t parent_start;  /* ns: the parent snapshot's walk start */
	int64_t start;         /* ns: this backup's start */
	double wait_seconds;   /* for the sync line */
} journal_query;

/*
 * 1 with *out the dirty set when the journal covers q without a gap,
 * 0 when it does not (why[] says why, one line), <0 on a failure to
 * allocate.  Never fails for a bad or missing journal: that is a 0.
 */
int journal_dirty(const journal_query *q, journal_set *out, char *why, size_t whylen);
/* 1 when path (absolute, normalized) is in s. */
int journal_set_has(const journal_set *s, const char *path, size_t len);
void journal_set_release(journal_set *s);

#endif
