/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * journal_rec: the change journal's recorder (docs/journal.md).
 *
 * Marks every file system of the paths (and of the mounts below them)
 * with fanotify (FAN_MARK_FILESYSTEM, FAN_REPORT_DFID_NAME), maps each
 * event to the directories whose tree it may change, and appends their
 * paths to the journal file (journal.h); whatever it cannot map exactly
 * (a queue overflow, a hard-linked file, a directory it cannot resolve)
 * is a gap line.  Backups ask it for a sync point through a FIFO.
 */
#ifndef DV_JOBS_JOURNAL_REC_H
#define DV_JOBS_JOURNAL_REC_H

#include <stddef.h>

typedef struct {
	const char *file;  /* the journal */
	char **paths;      /* absolute, normalized */
	size_t npaths;
	size_t set_max;    /* distinct directories held before a write; 0: 65536 */
	/* called once the marks are in place and the file is written */
	void (*ready)(void *ud);
	void *ud;
} journal_rec_params;

/*
 * Records until SIGINT or SIGTERM (interrupt_install() must be in place):
 * returns 0 then, or a negative code (with its message) when it cannot
 * start or cannot write the journal.
 */
int journal_rec_run(const journal_rec_params *p);

#endif
