/* SPDX-License-Identifier: BSD-2-Clause */
/* proc: run a program (no shell) and capture its standard output. */
#ifndef DV_BASE_PROC_H
#define DV_BASE_PROC_H

#include "buf.h"

/*
 * Runs argv[0] (searched in PATH) with argv, stdin from /dev/null, stderr
 * discarded; its stdout (at most max bytes) goes to out.  0 and *status
 * (the exit status, or 128 + signal) when it ran; -ENOENT if the program
 * does not exist.
 */
int proc_capture(const char *const argv[], buf *out, size_t max, int *status);

#endif
