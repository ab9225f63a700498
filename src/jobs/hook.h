/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hook: a user's command run around a job: backup's --before/--after
 * options and the daemon's before/after keys.
 *
 * A hook is a shell command line, run as `/bin/sh -c COMMAND` (pipes,
 * quoting, `&&` and variables work as in a shell), with stdin from
 * /dev/null and stdout and stderr captured line by line into the job's
 * log.  It runs in a process group of its own: a timeout ends it and
 * everything it started (SIGTERM, SIGKILL 2 s later), and a Ctrl-C meant
 * for dvalin does not reach it half-way: dvalin stops it the same way
 * (-EINTR), so a hung hook does not keep an interrupted job alive.  Exit
 * status 0 is success.
 *
 * What a failure means is the job's: backup (jobs/backup.h) aborts when
 * its before hook fails and still runs its after hook.
 */
#ifndef DV_JOBS_HOOK_H
#define DV_JOBS_HOOK_H

typedef struct {
	const char *name;    /* "before", "after": in messages and log lines */
	const char *command; /* for /bin/sh -c */
	double timeout;      /* seconds; <= 0: none */
} hook;

/* The timeout of --before/--after unless --hook-timeout says otherwise. */
#define HOOK_DEFAULT_TIMEOUT 600.0

/* One line of a hook's output (without its newline). */
typedef void (*hook_log_fn)(void *ud, const hook *h, const char *line);

/*
 * Runs h to its end.  Output lines go to log(ud, ...), or with log NULL
 * to log_info as "dvalin: NAME: LINE".  Returns 0 when the command exited
 * with status 0, else a negative code whose message names the hook and
 * what happened ("exit status 3", "timed out after 5 s", "killed by
 * signal 9", or why it could not be started).
 */
int hook_run(const hook *h, hook_log_fn log, void *ud);

#endif
