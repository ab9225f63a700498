/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * backup_scan: the totals for the ETA of a first backup (no parent to take
 * them from).  A thread walks the paths beside the backup adding up the
 * sizes of regular files into prog->est_files / est_bytes.  Excludes are
 * ignored (it is an estimate); it descends no deeper than the backup
 * does (TREE_MAX_DEPTH) and stops early when the backup ends first.
 */
#ifndef DV_JOBS_BACKUP_SCAN_H
#define DV_JOBS_BACKUP_SCAN_H

#include <stddef.h>

#include "progress.h"

typedef struct backup_scan backup_scan;

/* Starts the scan of paths (absolute, kept by the caller until the stop). */
int backup_scan_start(backup_scan **out, job_progress *prog, char **paths, size_t n, int one_fs);
/* Stops the scan, waits for its thread and frees it.  NULL-safe. */
void backup_scan_stop(backup_scan *sc);

#endif
