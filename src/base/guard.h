/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * guard: cleanup that happens even when this process does not live to do
 * it.  guard_new() forks a small process, the guard, connected to this
 * one by a socket.  A job registers each cleanup as a command (removing a
 * file system snapshot, a backup's after hook) before it creates what
 * needs cleaning up, and dismisses it once it has done the cleanup
 * itself.  When the socket ends without a farewell, this process died
 * (Ctrl-C, SIGTERM, kill -9, a crash, the OOM killer), and the guard runs
 * every command still registered, newest first, each with its timeout,
 * writing what it does to stderr; then it exits.
 *
 * Only what this process no longer does: a normal end (guard_free) runs
 * nothing.  The guard is in a process group of its own and ignores
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT, so that the Ctrl-C or the
 * `systemctl stop` that ends the job does not end its cleanup too; a
 * SIGKILL of both (or a power cut) is left to the job's next run, which
 * must find what a dead process left (jobs/fssnap.h does).
 *
 * The guard is forked, not executed: it runs in a copy of this process
 * with one thread, and uses only what is safe there (system calls,
 * malloc, posix_spawn), never stdio or a lock another thread held.  It
 * keeps no descriptor of this process but stderr and its socket (a pipe
 * reading this process's stdout sees its end when this process ends).
 */
#ifndef DV_BASE_GUARD_H
#define DV_BASE_GUARD_H

#include <stddef.h>

typedef struct guard guard;

/* At most this many commands registered at once, each argv within 16 KiB. */
#define GUARD_MAX_ACTIONS 64
#define GUARD_MAX_MSG 16384

int guard_new(guard **out);
/*
 * Registers argv (copied) as cleanup, named what in messages ("removing
 * snapshot '/srv/.dvalin-snap-1-2'"), with a timeout in seconds (<= 0:
 * none) and, for a cleanup that can meet a busy resource, retries (the
 * guard tries again after 1, 2, 4... seconds).  *out_id is for
 * guard_dismiss().
 */
int guard_add(guard *g, const char *what, const char *const *argv, double timeout, int retries,
	      unsigned *out_id);
/* The cleanup id was done (or is no longer needed): the guard forgets it. */
int guard_dismiss(guard *g, unsigned id);
/* Tells the guard to exit without running anything and waits for it.  NULL-safe. */
void guard_free(guard *g);

#endif
